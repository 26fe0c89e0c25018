#!/usr/bin/env bash
# What only ../shared can give, required: the spec XML (CompositeTests), Proton's interop vectors,
# the fuzz corpora replayed as tests, and the libFuzzer runs seeded with them. On a user's bare
# clone these skip with one line each; .ci/run runs this after the README's commands have passed
# in a bare clone (Scripts/bare-clone-check.sh), so that CI covers both without running the whole
# suite twice.
set -euo pipefail
cd "$(dirname "$0")/.."
export AMQP_REQUIRE_SHARED=1
bash Scripts/install-deps.sh
echo "== swift test: the tests that read ../shared"
swift build --build-tests
log=$(mktemp)
swift test --skip-build --filter 'CompositeTests|InteropVectorTests|FuzzCorpusTests' 2>&1 | tee "$log"
# A renamed class would leave the filter matching nothing, which swift test passes.
grep -qE 'Executed [1-9][0-9]* tests' "$log" || { echo "the ../shared filter matched no test" >&2; exit 1; }
rm -f "$log"
bash Scripts/fuzz.sh
echo "== the tests that read ../shared passed"
