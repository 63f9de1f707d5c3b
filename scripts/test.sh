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
swift test 2>&1 | tail -n 40
echo "== integration tests"
NEWS_BIN="$(swift build -c release --show-bin-path)" python3 -m pytest -q -p no:cacheprovider --timeout 300 tests/integration
