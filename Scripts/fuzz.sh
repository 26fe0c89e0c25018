#!/usr/bin/env bash
# A bounded libFuzzer run of each fuzz target (Docs/Fuzzing.md): message decode and connection
# driver seeded with ../shared's corpora and crash inputs (or $AMQP_SHARED_DIR's), selectors with
# the repository's own seeds. FUZZ_SECONDS per target (60; 0 skips). With AMQP_REQUIRE_SHARED=1 a
# missing ../shared fails instead of fuzzing from an empty corpus. Scripts/test.sh runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzz_seconds=${FUZZ_SECONDS:-60}
if [ "$fuzz_seconds" != 0 ]; then
  shared=${AMQP_SHARED_DIR:-../shared}
  # fuzz TARGET CORPUS: a bounded libFuzzer run seeded with ../shared's corpus and crash inputs.
  fuzz() {
    local target=$1 corpus=$2 work seeds=() dir=$shared/test-vectors/$2
    echo "== libFuzzer $target, ${fuzz_seconds}s"
    if [ ! -d "$dir" ] && [ "${AMQP_REQUIRE_SHARED:-0}" = 1 ]; then
      echo "$dir is absent (AMQP_REQUIRE_SHARED=1, so this fails instead of fuzzing from an empty corpus)" >&2
      exit 1
    fi
    swift build -c release --product "$target" --scratch-path .build-fuzz \
      -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld -Xswiftc -DFUZZING
    work=$(mktemp -d)
    if [ -d "$dir" ]; then
      cp "$dir"/corpus/* "$work/"
      seeds=("$dir/crash")
    else
      echo "$dir is absent: fuzzing from an empty corpus"
    fi
    ".build-fuzz/release/$target" -max_total_time="$fuzz_seconds" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 "$work" "${seeds[@]}" 2>&1 | tail -12
    rm -rf "$work"
  }
  fuzz FuzzMessageDecode fuzz-message-decode
  fuzz FuzzConnectionDriver fuzz-connection-driver
  # The selector's seeds live in the repository, so this one needs nothing from ../shared.
  echo "== libFuzzer FuzzSelector, ${fuzz_seconds}s"
  swift build -c release --product FuzzSelector --scratch-path .build-fuzz \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld -Xswiftc -DFUZZING
  work=$(mktemp -d)
  cp Fuzz/FuzzSelector/corpus/* "$work/"
  .build-fuzz/release/FuzzSelector -max_total_time="$fuzz_seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 "$work" 2>&1 | tail -12
  rm -rf "$work"
fi
