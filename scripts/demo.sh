#!/usr/bin/env bash
# Starts newsd with fault injection, drives probe traffic through every server, crashes a few
# servers while traffic flows, shows status and counters, and stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
[ "$(id -u)" = 0 ] || { echo "demo.sh: run as root" >&2; exit 1; }
swift build -c release 2>&1 | tail -n 1
bin="$(swift build -c release --show-bin-path)"
dir="$(mktemp -d)"
sock="$dir/newsd.sock"
ctl() { "$bin/newsctl" "$@" --socket "$sock"; }
cleanup() { [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT

"$bin/newsd" --fault-injection --control-socket "$sock" 2>"$dir/newsd.log" &
pid=$!
for _ in $(seq 100); do [ -S "$sock" ] && ctl status >/dev/null 2>&1 && break; sleep 0.1; done
sleep 0.5

echo "== newsd is up: six servers, each its own confined process"
ctl status
echo; echo "== 100000 probes through vfs -> udp/tcp -> ip -> pf -> nic and back"
ctl probe --count 100000
for s in ipserver packetfilter vfs; do
    echo; echo "== crash $s (segv) while probes flow"
    ctl probe --count 200000 > "$dir/probe.out" &
    probe=$!
    sleep 0.2
    ctl crash "$s" --how segv
    wait "$probe"; cat "$dir/probe.out"
done
echo; echo "== a forbidden system call is killed by seccomp and the server restarted"
ctl crash udpserver --how syscall
sleep 0.5
ctl status
echo; echo "== counters"
ctl stats
echo; echo "== stop"
ctl stop
wait "$pid"; pid=
echo "newsd exited; log: $(grep -c . "$dir/newsd.log") lines, last:"
tail -n 3 "$dir/newsd.log"
