#!/usr/bin/env bash
# Builds an older revision of NEWS (release) beside this checkout, for benchmarks that
# compare a change with what it replaces in one run (scripts/bench-udp.sh --baseline DIR).
# Prints the bin directory. The source goes to .build-baseline/src (a detached git
# worktree), the build to .build-baseline/build; both are ignored by git.
# Usage: scripts/build-baseline.sh REV
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 1 ] || { echo "usage: scripts/build-baseline.sh REV" >&2; exit 2; }
rev="$(git rev-parse --verify "$1^{commit}")"
src=.build-baseline/src
if [ -d "$src" ]; then git -C "$src" checkout -q --detach "$rev"; else git worktree add -q --detach "$src" "$rev"; fi
(cd "$src" && swift build -c release --scratch-path ../build 2>&1 | tail -n 1) >&2
(cd "$src" && swift build -c release --scratch-path ../build --show-bin-path)
