#!/usr/bin/env bash
# The whole test suite: dependencies, a release build, the unit tests (swift test) and the
# integration tests (pytest, as root: they start newsd and its confined servers).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
[ "$(id -u)" = 0 ] || { echo "test.sh: run as root (newsd confines its servers, which needs root)" >&2; exit 1; }

echo "== build (release)"
swift build -c release 2>&1 | tail -n 3
echo "== unit tests"
log="$(mktemp)"
if ! swift test > "$log" 2>&1; then
    grep -E "error:|failed \(" "$log" || true
    tail -n 20 "$log"
    rm -f "$log"
    exit 1
fi
grep -E "^\s+Executed .* tests" "$log" | tail -n 1
tail -n 2 "$log"
rm -f "$log"
echo "== integration tests"
NEWS_BIN="$(swift build -c release --show-bin-path)" python3 -m pytest -q -p no:cacheprovider --timeout 300 tests/integration
