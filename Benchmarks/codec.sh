#!/usr/bin/env bash
# Codec benchmark: Swift (Benchmarks/CodecBenchmark) against Proton C (Benchmarks/ProtonC/codec-bench.c)
# in the same run. Runs each ROUNDS times, alternating, and prints the median ns per message of each
# and the ratio Proton/Swift (above 1: Swift is faster).
# Usage: Benchmarks/codec.sh [ROUNDS] [ITERATIONS_SMALL] [ITERATIONS_LARGE]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}; small=${2:-200000}; large=${3:-200}

if [ ! -f /usr/include/proton/message.h ]; then
  echo "installing libqpid-proton11-dev for the Proton C side" >&2
  ${SUDO:-$( [ "$(id -u)" = 0 ] || echo sudo )} apt-get install -y libqpid-proton11-dev >/dev/null \
    || { ${SUDO:-$( [ "$(id -u)" = 0 ] || echo sudo )} apt-get update >/dev/null && ${SUDO:-$( [ "$(id -u)" = 0 ] || echo sudo )} apt-get install -y libqpid-proton11-dev >/dev/null; }
fi
mkdir -p .build
gcc -O2 -Wall -Wextra -o .build/codec-bench Benchmarks/ProtonC/codec-bench.c -lqpid-proton
swift build -c release --product CodecBenchmark >&2

out=$(mktemp -d)
for i in $(seq "$rounds"); do
  .build/release/CodecBenchmark "$small" "$large" >> "$out/swift"
  .build/codec-bench "$small" "$large" >> "$out/proton"
done

median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.1f\n", (a[NR/2]+a[NR/2+1])/2}'; }
printf "%-14s %14s %14s %10s\n" "case" "swift ns/msg" "proton ns/msg" "ratio"
for c in small-encode small-decode large-encode large-decode; do
  s=$(grep "^$c " "$out/swift" | awk '{print $2}' | median)
  p=$(grep "^$c " "$out/proton" | awk '{print $2}' | median)
  printf "%-14s %14s %14s %9.2fx\n" "$c" "$s" "$p" "$(echo "$p $s" | awk '{print $1/$2}')"
done
echo "(median of $rounds rounds; ratio = Proton C time / Swift time, above 1 means Swift is faster)"
rm -rf "$out"
