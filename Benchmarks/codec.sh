#!/usr/bin/env bash
# Codec benchmark: Swift (Benchmarks/CodecBenchmark) against Proton C (Benchmarks/ProtonC/codec-bench.c)
# in the same run. Runs each ROUNDS times, alternating, and prints the median ns per message of each
# and the ratio Proton/Swift (above 1: Swift is faster).
# Usage: Benchmarks/codec.sh [ROUNDS] [ITERATIONS_SMALL] [ITERATIONS_LARGE]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}; small=${2:-200000}; large=${3:-200}

source Benchmarks/common.sh
build_pair codec-bench CodecBenchmark

for i in $(seq "$rounds"); do
  .build/release/CodecBenchmark "$small" "$large" >> "$out/swift"
  .build/codec-bench "$small" "$large" >> "$out/proton"
done

printf "%-14s %14s %14s %10s\n" "case" "swift ns/msg" "proton ns/msg" "ratio"
for c in small-encode small-decode large-encode large-decode; do
  s=$(grep "^$c " "$out/swift" | awk '{print $2}' | median)
  p=$(grep "^$c " "$out/proton" | awk '{print $2}' | median)
  printf "%-14s %14s %14s %9.2fx\n" "$c" "$s" "$p" "$(echo "$p $s" | awk '{print $1/$2}')"
done
echo "(median of $rounds rounds; ratio = Proton C time / Swift time, above 1 means Swift is faster)"
