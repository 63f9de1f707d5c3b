#!/usr/bin/env bash
# UDP echo, NEWS against Linux, one run: the same client (newsbench udp, in a namespace made
# here) measures the NEWS echo app behind NEWS's TAP link (newsd in shm mode, then in kernel
# mode) and a Linux echo server (newsbench linux-echo) in a second namespace, reached over
# the same kind of link: a TAP on the client's side whose frames a user-space process
# (newsbench tap-relay) carries to a TAP in the server's namespace. Also runs newsbench
# eagain. Everything it makes is removed on exit.
# Usage: scripts/bench-udp.sh [--requests N] [--in-flight 1,32]
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "bench-udp.sh: run as root (namespaces, newsd)" >&2; exit 1; }
swift build -c release 2>&1 | tail -n 1
bin="$(swift build -c release --show-bin-path)"
tag="nb$$"; client="$tag-c"; server="$tag-s"; dir="$(mktemp -d)"
pids=()
cleanup() {
    set +e  # a child killed here exits non-zero; cleanup must still finish
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
    ip netns del "$client" 2>/dev/null || true
    ip netns del "$server" 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT

ip netns add "$client"
ip netns add "$server"
ip -n "$client" link set lo up
# Linux reference: client 198.18.0.9 (TAP $tag-c) <-> relay <-> server 198.18.0.10 (TAP $tag-s).
"$bin/newsbench" tap-relay --a "$client:$tag-rc" --b "$server:$tag-rs" > "$dir/relay.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do grep -q ready "$dir/relay.log" 2>/dev/null && break; sleep 0.1; done
ip -n "$server" link set lo up
ip -n "$client" addr add 198.18.0.9/32 dev "$tag-rc"
ip -n "$client" link set "$tag-rc" up
ip -n "$client" route add 198.18.0.10/32 dev "$tag-rc" src 198.18.0.9
ip -n "$server" addr add 198.18.0.10/32 dev "$tag-rs"
ip -n "$server" link set "$tag-rs" up
ip -n "$server" route add 198.18.0.9/32 dev "$tag-rs" src 198.18.0.10
ip netns exec "$server" "$bin/newsbench" linux-echo --port 7 > "$dir/linux-echo.log" 2>&1 &
pids+=($!)

start_news() {  # $1: ipc mode
    cat > "$dir/newsd.toml" <<TOML
ipc = "$1"
control_socket = "$dir/ctl.sock"
app_socket = "$dir/app.sock"
[nic]
backend = "tap"
tap = "$tag"
netns = "$client"
TOML
    "$bin/newsd" -c "$dir/newsd.toml" 2>"$dir/newsd-$1.log" &
    news=$!
    for _ in $(seq 100); do "$bin/newsctl" status --socket "$dir/ctl.sock" >/dev/null 2>&1 && break; sleep 0.1; done
    ip -n "$client" link set "$tag" up
    ip -n "$client" addr add 198.18.0.1/24 dev "$tag" 2>/dev/null || true
    "$bin/newsecho" --app-socket "$dir/app.sock" --port 7 > "$dir/newsecho.log" 2>&1 &
    echo_pid=$!
    sleep 0.5
}
stop_news() {
    kill "$echo_pid" 2>/dev/null || true; wait "$echo_pid" 2>/dev/null || true
    "$bin/newsctl" stop --socket "$dir/ctl.sock" >/dev/null || true
    wait "$news" 2>/dev/null || true
}

results=()
for mode in shm kernel; do
    start_news "$mode"
    out="$(ip netns exec "$client" "$bin/newsbench" udp --target "news-$mode=198.18.0.2:7" --target linux=198.18.0.10:7 --csv "$@")"
    results+=("$(echo "$out" | sed "s/^/$mode,/")")
    if [ "$mode" = shm ]; then eagain="$("$bin/newsbench" eagain --app-socket "$dir/app.sock")"; fi
    stop_news
done

echo "UDP echo, 64-byte requests (NEWS behind its TAP; Linux behind a TAP relayed in user space; same client, same run)"
printf '%s\n' "${results[@]}" | awk -F, '
    # rows: run,target,in_flight,req/s,p50,p99,lost; each NEWS row is compared with the Linux
    # row of its own run (same client, minutes apart at most).
    $2 == "target" { next }
    $2 == "linux" { lin[$1 "," $3] = $4 }
    { row[++n] = $0 }
    END {
        printf "%-16s %-10s %-10s %-9s %-9s %-12s\n", "TARGET", "IN FLIGHT", "REQ/S", "P50 us", "P99 us", "NEWS/LINUX"
        for (i = 1; i <= n; i++) {
            split(row[i], f, ",")
            name = f[2] == "linux" ? "linux (" f[1] " run)" : f[2]
            printf "%-16s %-10s %-10d %-9.1f %-9.1f %.2fx\n", name, f[3], f[4], f[5], f[6], f[4] / lin[f[1] "," f[3]]
        }
    }'
echo
echo "$eagain"
