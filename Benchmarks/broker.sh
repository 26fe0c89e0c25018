#!/usr/bin/env bash
# Brokered benchmark: a Proton C arrow sender and receiver (Benchmarks/ProtonC/proton-c-arrow.c,
# 100-byte bodies, credit 1000, at-least-once) running at once through a broker on loopback:
# `amqp broker` on io_uring and on epoll, and Proton C's multithreaded broker example
# (/usr/share/proton/examples/c/broker.c, 4 threads; ours get 4 too), in the same run, alternating.
# The clock runs from the clients' start to both exiting. Prints median messages per second and
# the ratio to Proton C's broker.
# Usage: Benchmarks/broker.sh [ROUNDS] [MESSAGES]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}; messages=${2:-200000}
source Benchmarks/common.sh
build_arrows
gcc -O2 -I/usr/share/proton/examples/c -o .build/proton-broker /usr/share/proton/examples/c/broker.c -lqpid-proton -lpthread
out=$(mktemp -d)
trap 'rm -rf "$out"; kill $(jobs -p) 2>/dev/null || true' EXIT
# through BROKER: one timed run; appends messages per second to $out/BROKER.
through() {
  local p start end bpid rpid; p=$(port)
  case $1 in
    proton) .build/proton-broker 127.0.0.1 "$p" >/dev/null 2>&1 & ;;
    *) .build/release/amqp broker --port "$p" --threads 4 --backend "$1" >/dev/null 2>&1 & ;;
  esac
  bpid=$!
  wait_port "$p"
  start=$(date +%s.%N)
  .build/proton-c-arrow connection-mode=client operation=receive port="$p" path=bench count="$messages" credit-window=1000 quiet=1 >/dev/null 2>&1 &
  rpid=$!
  .build/proton-c-arrow connection-mode=client operation=send port="$p" path=bench count="$messages" quiet=1 >/dev/null 2>&1
  wait "$rpid"
  end=$(date +%s.%N)
  kill "$bpid"; wait "$bpid" 2>/dev/null || true
  echo "$messages $start $end" | awk '{printf "%.0f\n", $1 / ($3 - $2)}' >> "$out/$1"
}
brokers=(io_uring epoll proton)
for _ in $(seq "$rounds"); do
  for b in "${brokers[@]}"; do through "$b"; done
done
base=$(median < "$out/proton")
printf "%-28s %12s %12s\n" "broker (Proton C clients)" "msg/s" "vs Proton C"
for b in "${brokers[@]}"; do
  m=$(median < "$out/$b")
  name=$([ "$b" = proton ] && echo "Proton C broker example" || echo "amqp broker ($b)")
  printf "%-28s %12s %11.2fx\n" "$name" "$m" "$(echo "$m $base" | awk '{print $1/$2}')"
done
echo "(median of $rounds alternating rounds of $messages messages through one queue, 4 broker threads;"
echo " CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, Linux $(uname -r))"
