#!/usr/bin/env bash
# Peer-to-peer benchmark: quiver-style pairs (100-byte bodies with SendTime, credit 1000,
# at-least-once: the receiver accepts and settles) over loopback, in the same run, alternating:
# amqp arrow pairs on io_uring and on epoll, Proton C's arrow pair (Benchmarks/ProtonC/proton-c-arrow.c),
# and the cross pairs (our receiver with Proton's sender, and the other way). The receiver listens,
# the sender connects; the clock runs from the sender's start to the receiver's exit. Prints the
# median messages per second of each pair and its ratio to Proton C's pair.
# Usage: Benchmarks/p2p.sh [ROUNDS] [MESSAGES]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}; messages=${2:-200000}
source Benchmarks/common.sh
build_arrows
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
program() {
  case $1 in
    io_uring|epoll) echo "env AMQP_BACKEND=$1 .build/release/amqp arrow" ;;
    proton) echo ".build/proton-c-arrow" ;;
  esac
}
# pair RECEIVER SENDER: one timed transfer; appends messages per second to $out/RECEIVER-SENDER.
pair() {
  local r s p start end; r=$(program "$1"); s=$(program "$2"); p=$(port)
  $r connection-mode=server operation=receive port="$p" count="$messages" credit-window=1000 quiet=1 >/dev/null 2>&1 &
  local pid=$!
  wait_port "$p"
  start=$(date +%s.%N)
  $s connection-mode=client operation=send port="$p" count="$messages" body-size=100 quiet=1 >/dev/null 2>&1
  wait "$pid"
  end=$(date +%s.%N)
  echo "$messages $start $end" | awk '{printf "%.0f\n", $1 / ($3 - $2)}' >> "$out/$1-$2"
}
pairs=("io_uring io_uring" "epoll epoll" "proton proton" "io_uring proton" "proton io_uring")
for _ in $(seq "$rounds"); do
  for pr in "${pairs[@]}"; do pair $pr; done
done
base=$(median < "$out/proton-proton")
printf "%-34s %12s %10s\n" "pair (receiver <- sender)" "msg/s" "vs Proton C"
for pr in "${pairs[@]}"; do
  set -- $pr
  m=$(median < "$out/$1-$2")
  printf "%-34s %12s %9.2fx\n" "$1 <- $2" "$m" "$(echo "$m $base" | awk '{print $1/$2}')"
done
echo "(median of $rounds alternating rounds of $messages messages; io_uring/epoll: amqp arrow, proton: Proton C's arrow;"
echo " CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, Linux $(uname -r))"
