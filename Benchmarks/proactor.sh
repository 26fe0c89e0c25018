#!/usr/bin/env bash
# Proactor benchmark: a receiver and a sender written on the proactor API (proactor-arrow, release
# build, one thread each) in two processes over loopback, against the same pair of Proton C's
# proactor (../shared/tools/proton-c-arrow.c), in the same run, alternating: 100-byte messages
# with SendTime, credit 1000, at-least-once (the receiver accepts and settles). Prints the median
# messages per second of each and the ratio Swift/Proton (above 1: Swift is faster).
# Then the heap one idle connection costs in each proactor (Benchmarks/ProactorIdle and
# Benchmarks/ProtonC/proactor-idle.c: K connections to themselves, each with a session and a link
# holding 1000 credit), alternating too.
# Usage: Benchmarks/proactor.sh [ROUNDS] [MESSAGES] [BACKEND] [IDLE_CONNECTIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}; messages=${2:-200000}; backend=${3:-epoll}; idle=${4:-1000}
shared=${AMQP_SHARED_DIR:-../shared}
[ -f "$shared/tools/proton-c-arrow.c" ] || { echo "needs $shared/tools/proton-c-arrow.c (set AMQP_SHARED_DIR)" >&2; exit 1; }

source Benchmarks/common.sh
bash Scripts/install-deps.sh
mkdir -p .build
gcc -O2 -o .build/proton-c-arrow "$shared/tools/proton-c-arrow.c" -lqpid-proton
gcc -O2 -o .build/proactor-idle Benchmarks/ProtonC/proactor-idle.c -lqpid-proton
swift build -c release --product proactor-arrow >&2
swift build -c release --product ProactorIdle >&2
# Two descriptors per idle connection (both ends are in one process).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
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
for i in $(seq "$rounds"); do
  .build/release/ProactorIdle "$idle" | awk '/^idle-connection-bytes/ {print $2}' >> "$out/swift-idle"
  .build/proactor-idle "$idle" | awk '/^idle-connection-bytes/ {print $2}' >> "$out/proton-idle"
done
s=$(median < "$out/swift"); p=$(median < "$out/proton")
si=$(median < "$out/swift-idle"); pi=$(median < "$out/proton-idle")
printf "%-28s %14s %14s %10s\n" "case" "swift" "proton-c" "ratio"
printf "%-28s %14s %14s %9.2fx\n" "one pair, msg/s ($backend)" "$s" "$p" "$(echo "$s $p" | awk '{print $1/$2}')"
printf "%-28s %14s %14s %9.2fx\n" "idle connection, bytes" "$si" "$pi" "$(echo "$pi $si" | awk '{print $1/$2}')"
echo "(median of $rounds alternating rounds of $messages messages, and of $idle idle connections;"
echo " throughput Swift/Proton, memory Proton/Swift: above 1 means Swift is ahead; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'))"
