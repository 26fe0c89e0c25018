#!/usr/bin/env bash
# Builds the DocC documentation of each documented module with the swift-docc-plugin, and fails on
# any warning: a broken ``symbol`` link, a curated symbol that no longer exists, an article that
# does not resolve. Each module's catalogue is Sources/<module>/<module>.docc (a landing page with
# Topics and a getting-started article); Docs/PublicAPI.md says what is API.
#
#   Scripts/docs.sh                 # every documented module
#   Scripts/docs.sh AMQPEngine      # only the modules named
#
# The archives land in .build/plugins/Swift-DocC/outputs/<module>.doccarchive; preview one with
# `swift package --disable-sandbox preview-documentation --target <module>`.
set -euo pipefail
cd "$(dirname "$0")/.."

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(AMQPCodec AMQPEngine AMQPProactor)
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
failed=()
for target in "${targets[@]}"; do
  echo "== docs: $target"
  # --warnings-as-errors is DocC's own flag: the plugin passes it through, and DocC then exits
  # non-zero on a warning. The grep catches a warning even if a plugin version drops that exit code.
  if ! swift package generate-documentation --target "$target" --warnings-as-errors >"$log" 2>&1 \
     || grep -qE '^(warning|error):' "$log"; then
    grep -E -A12 '^(warning|error):' "$log" >&2 || tail -40 "$log" >&2
    failed+=("$target")
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "docs: warnings or errors in ${failed[*]}" >&2
  exit 1
fi
echo "docs: ${#targets[@]} modules built without a warning"
