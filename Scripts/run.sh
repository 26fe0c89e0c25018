#!/usr/bin/env bash
# The main job: an embedded broker and a client pair on the best backend here (io_uring when it
# works, else epoll), then the same work on Qpid Proton C (its broker example and its arrows), and
# the throughput of each side by side. Every benchmark: Scripts/benchmarks.sh.
# Usage: Scripts/run.sh [MESSAGES]   (default 200000; ROUNDS=N runs N alternating rounds, default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
messages=${1:-200000}; rounds=${ROUNDS:-3}
bash Scripts/install-deps.sh
source Benchmarks/common.sh
mkdir -p .build
swift build -c release --product amqp >&2
gcc -O2 -I/usr/share/proton/examples/c -o .build/proton-broker /usr/share/proton/examples/c/broker.c -lqpid-proton -lpthread
build_proton_arrow
out=$(mktemp -d)
trap 'rm -rf "$out"; kill $(jobs -p) 2>/dev/null || true' EXIT

# one SIDE: a broker and a receiving and a sending client through it; appends msg/s to $out/SIDE.
one() {
  local p start end bpid rpid client; p=$(port)
  if [ "$1" = swift ]; then
    .build/release/amqp broker --port "$p" --threads 2 > "$out/broker-line" 2>&1 & bpid=$!
    client="env AMQP_BACKEND=auto .build/release/amqp arrow"
  else
    .build/proton-broker 127.0.0.1 "$p" >/dev/null 2>&1 & bpid=$!
    client=".build/proton-c-arrow"
  fi
  wait_port "$p"
  start=$(date +%s.%N)
  $client connection-mode=client operation=receive port="$p" path=demo count="$messages" quiet=1 >/dev/null 2>&1 & rpid=$!
  $client connection-mode=client operation=send port="$p" path=demo count="$messages" body-size=100 quiet=1 >/dev/null 2>&1
  wait "$rpid"
  end=$(date +%s.%N)
  kill "$bpid"; wait "$bpid" 2>/dev/null || true
  echo "$messages $start $end" | awk '{printf "%.0f\n", $1 / ($3 - $2)}' >> "$out/$1"
}
for _ in $(seq "$rounds"); do
  one swift
  one proton
done
s=$(median < "$out/swift")
echo "$(head -1 "$out/broker-line")"
printf "%-44s %12s msg/s\n" "amqp broker, amqp arrow clients:" "$s"
p=$(median < "$out/proton")
printf "%-44s %12s msg/s\n" "Proton C broker example, Proton C arrows:" "$p"
printf "%-44s %12s\n" "ratio" "$(echo "$s $p" | awk '{printf "%.2fx", $1/$2}')"
echo "($messages messages of 100 bytes through one queue, at-least-once, median of $rounds alternating rounds;"
echo " CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores)"
