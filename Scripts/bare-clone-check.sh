#!/usr/bin/env bash
# Proves that a user's clone stands alone: clones this repository's committed HEAD into a fresh
# temporary folder with nothing beside it (so no ../shared), and runs the README's two quick-start
# commands there, ./Scripts/run.sh then ./Scripts/test.sh, as a user would. Fails if either fails;
# removes the clone either way. .ci/run runs it as CI's main run: the README's test command is the
# whole suite, and this is where it runs.
#
# AMQP_SHARED_DIR and AMQP_REQUIRE_SHARED are unset, so the few tests that need ../shared's data
# (spec XML, interop vectors, fuzz corpora) skip as they would for a user; .ci/run then runs those
# beside ../shared (Scripts/shared-data-tests.sh). AMQP_REQUIRE_PROTON and AMQP_REQUIRE_URING pass
# through as given. Everything builds from scratch in the clone, which takes most of the time.
# BARE_CLONE_QUICK=1 fuzzes 10 s per target and leaves out the NIO package's second pass under
# the thread sanitizer (for a quick local check; CI runs it whole). KEEP_BARE_CLONE=1 keeps the
# clone for a look.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
head=$(git -C "$repo" rev-parse HEAD)
parent=$(mktemp -d "${TMPDIR:-/tmp}/bare-clone.XXXXXX")
clone=$parent/swift-amqp
cleanup() {
  if [ "${KEEP_BARE_CLONE:-0}" = 1 ]; then echo "bare-clone-check: kept $clone" >&2; else rm -rf "$parent"; fi
}
trap cleanup EXIT

# HEAD may be on no branch (a detached CI checkout), so the clone fetches that commit by name.
git clone -q --no-checkout "$repo" "$clone"
git -C "$clone" fetch -q "$repo" "$head"
git -C "$clone" checkout -q -b bare-clone-check "$head"
[ ! -e "$parent/shared" ] || { echo "bare-clone-check: $parent/shared exists" >&2; exit 1; }
if [ -n "$(git -C "$repo" status --porcelain --untracked-files=no)" ]; then
  echo "bare-clone-check: uncommitted changes in $repo are not in the clone (it tests $head)" >&2
fi

unset AMQP_SHARED_DIR AMQP_REQUIRE_SHARED
if [ "${BARE_CLONE_QUICK:-0}" = 1 ]; then
  export FUZZ_SECONDS=10 AMQP_NIO_SKIP_TSAN=1
fi
cd "$clone"
echo "== bare clone of ${head:0:12} in $clone: ./Scripts/run.sh"
start=$SECONDS
./Scripts/run.sh
echo "== bare clone: ./Scripts/test.sh (FUZZ_SECONDS=${FUZZ_SECONDS:-60}, AMQP_NIO_SKIP_TSAN=${AMQP_NIO_SKIP_TSAN:-0})"
./Scripts/test.sh
echo "== bare clone: both README commands passed in $(( (SECONDS - start) / 60 )) min $(( (SECONDS - start) % 60 )) s"
