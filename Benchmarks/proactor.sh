#!/usr/bin/env bash
# Proactor benchmark: a receiver and a sender written on the proactor API (proactor-arrow, release
# build, one thread each) in two processes over loopback, against the same pair of Proton C's
# proactor (../shared/tools/proton-c-arrow.c), in the same run, alternating: 100-byte messages
# with SendTime, credit 1000, at-least-once (the receiver accepts and settles). Prints the median
# messages per second of each and the ratio Swift/Proton (above 1: Swift is faster).
# Usage: Benchmarks/proactor.sh [ROUNDS] [MESSAGES] [BACKEND]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}; messages=${2:-200000}; backend=${3:-epoll}
shared=${AMQP_SHARED_DIR:-../shared}
[ -f "$shared/tools/proton-c-arrow.c" ] || { echo "needs $shared/tools/proton-c-arrow.c (set AMQP_SHARED_DIR)" >&2; exit 1; }

source Benchmarks/common.sh
bash Scripts/install-deps.sh
mkdir -p .build
gcc -O2 -o .build/proton-c-arrow "$shared/tools/proton-c-arrow.c" -lqpid-proton
swift build -c release --product proactor-arrow >&2
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

# run NAME RECEIVER SENDER: messages per second of one transfer of $messages, timed from the
# sender's start to both processes' end.
run() {
  local p; p=$(port)
  $2 connection-mode=server operation=receive port="$p" count="$messages" quiet=1 2>/dev/null &
  local pid=$!
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && break; sleep 0.02; done
  local start end
  start=$(date +%s.%N)
  $3 connection-mode=client operation=send port="$p" count="$messages" credit-window=1000 quiet=1 2>/dev/null
  wait "$pid"
  end=$(date +%s.%N)
  echo "$messages $start $end" | awk '{printf "%.0f\n", $1 / ($3 - $2)}' >> "$out/$1"
}

ours=".build/release/proactor-arrow backend=$backend"
theirs=".build/proton-c-arrow"
for i in $(seq "$rounds"); do
  run swift "$ours" "$ours"
  run proton "$theirs" "$theirs"
done
s=$(median < "$out/swift"); p=$(median < "$out/proton")
printf "%-28s %14s %14s %10s\n" "case" "swift" "proton-c" "ratio"
printf "%-28s %14s %14s %9.2fx\n" "one pair, msg/s ($backend)" "$s" "$p" "$(echo "$s $p" | awk '{print $1/$2}')"
echo "(median of $rounds alternating rounds of $messages messages; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'))"
