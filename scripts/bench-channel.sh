#!/usr/bin/env bash
# Runs `newsbench channel` (release build) and checks the bar from the foundation issue: the
# shared-memory round trip across cores at least 50 times faster than the kernel path.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release 2>&1 | tail -n 1
bin="$(swift build -c release --show-bin-path)"
out="$("$bin/newsbench" channel "$@")"
echo "$out"
ratio="$(echo "$out" | sed -n 's/^two cores: kernel\/shm round trip p50 \([0-9.]*\)x.*/\1/p')"
[ -n "$ratio" ] || { echo "bench-channel: no two-core row (one CPU?)"; exit 1; }
awk -v r="$ratio" 'BEGIN { exit !(r >= 50) }' && echo "OK: shm round trip across cores is ${ratio}x faster than the kernel path (bar: 50x)" \
    || { echo "FAIL: only ${ratio}x (bar: 50x)"; exit 1; }
