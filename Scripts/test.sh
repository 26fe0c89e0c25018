#!/usr/bin/env bash
# The test suite: what CI runs (see .ci/run) and what the README's quick start calls.
#   1. system packages for the interop peers, installed when missing;
#   2. the layering check: core modules import nothing outside the standard library;
#   3. swift test (unit, interop vectors, fuzz corpora, Proton differential);
#   4. a bounded libFuzzer run of each fuzz target, seeded with ../shared's corpora.
# Set FUZZ_SECONDS=0 to skip step 4.
set -euo pipefail
cd "$(dirname "$0")/.."
bash Scripts/install-deps.sh

echo "== layering: AMQPCodec and AMQPEngine import no Foundation, Glibc or Dispatch"
if grep -rnE '^\s*import\s+(Foundation|FoundationEssentials|Glibc|Dispatch|Darwin)\b' Sources/AMQPCodec Sources/AMQPEngine 2>/dev/null; then
  echo "a core module imports a platform module (see Docs/Architecture.md)" >&2
  exit 1
fi

echo "== swift test"
export AMQP_REQUIRE_PROTON=${AMQP_REQUIRE_PROTON:-1}
swift build --build-tests
swift test --skip-build

fuzz_seconds=${FUZZ_SECONDS:-60}
if [ "$fuzz_seconds" != 0 ]; then
  echo "== libFuzzer, ${fuzz_seconds}s per target"
  swift build -c release --product FuzzMessageDecode --scratch-path .build-fuzz \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld -Xswiftc -DFUZZING
  shared=${AMQP_SHARED_DIR:-../shared}
  work=$(mktemp -d)
  seeds=()
  if [ -d "$shared/test-vectors/fuzz-message-decode" ]; then
    cp "$shared"/test-vectors/fuzz-message-decode/corpus/* "$work/"
    seeds=("$shared/test-vectors/fuzz-message-decode/crash")
  else
    echo "../shared is absent: fuzzing from an empty corpus"
  fi
  .build-fuzz/release/FuzzMessageDecode -max_total_time="$fuzz_seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 "$work" "${seeds[@]}" 2>&1 | tail -15
  rm -rf "$work"
fi
echo "== all tests passed"
