#!/usr/bin/env bash
# Driver benchmark: two Swift ConnectionDrivers (Benchmarks/DriverBenchmark) against two Proton C
# pn_connection_driver_t (Benchmarks/ProtonC/driver-bench.c) doing the same work in the same run:
# 100-byte messages at-least-once with credit 1000, pre-encoded (bytes) and as a quiver arrow sends
# them (message: a Message with the application property SendTime encoded per send, decoded and
# checked by the receiver); the heap of an idle open connection with one session and one link; and
# heap allocations per message on each side. Alternates the two ROUNDS times and prints medians
# and ratios.
# Usage: Benchmarks/driver.sh [ROUNDS] [MESSAGES] [IDLE_CONNECTIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}; messages=${2:-1000000}; idle=${3:-1000}

source Benchmarks/common.sh
build_pair driver-bench DriverBenchmark

for i in $(seq "$rounds"); do
  .build/release/DriverBenchmark "$messages" 1 "$idle" >> "$out/swift"
  .build/driver-bench "$messages" 1 "$idle" >> "$out/proton"
done

sm=$(grep '^idle-connection-bytes ' "$out/swift" | awk '{print $2}' | median)
pm=$(grep '^idle-connection-bytes ' "$out/proton" | awk '{print $2}' | median)
printf "%-24s %14s %14s %10s\n" "case" "swift" "proton-c" "ratio"
for c in "throughput bytes" "message-throughput message"; do
  set -- $c
  s=$(grep "^$1 " "$out/swift" | awk '{print $2}' | median)
  p=$(grep "^$1 " "$out/proton" | awk '{print $2}' | median)
  printf "%-24s %14s %14s %9.2fx\n" "msg/s $2" "$s" "$p" "$(echo "$s $p" | awk '{print $1/$2}')"
done
printf "%-24s %14s %14s %9.2fx\n" "idle connection bytes" "$sm" "$pm" "$(echo "$pm $sm" | awk '{print $1/$2}')"
for c in "bytes sender" "bytes receiver" "message sender" "message receiver"; do
  s=$(grep "^allocations-per-message $c " "$out/swift" | awk '{print $4}' | median)
  p=$(grep "^allocations-per-message $c " "$out/proton" | awk '{print $4}' | median)
  printf "%-24s %14s %14s\n" "allocs/msg ${c}" "$s" "$p"
done
echo "(median of $rounds rounds of $messages messages and $idle idle connection pairs;"
echo " ratios above 1 mean Swift is ahead: throughput Swift/Proton, memory Proton/Swift)"
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
