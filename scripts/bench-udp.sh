#!/usr/bin/env bash
# UDP echo, NEWS against Linux, one run: the same client (newsbench udp, in a namespace made
# here) measures the NEWS echo app behind NEWS's TAP link (newsd in shm mode, then in kernel
# mode) and a Linux echo server (newsbench linux-echo) in a second namespace behind a veth
# pair. Also runs newsbench eagain. Everything it makes is removed on exit.
# Usage: scripts/bench-udp.sh [--requests N] [--in-flight 1,32]
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "bench-udp.sh: run as root (namespaces, newsd)" >&2; exit 1; }
swift build -c release 2>&1 | tail -n 1
bin="$(swift build -c release --show-bin-path)"
tag="nb$$"; client="$tag-c"; server="$tag-s"; dir="$(mktemp -d)"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
    ip netns del "$client" 2>/dev/null || true
    ip netns del "$server" 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT

ip netns add "$client"
ip netns add "$server"
ip -n "$client" link set lo up
# Linux reference: veth, client 198.18.0.9 <-> server 198.18.0.10.
ip link add "$tag-vc" netns "$client" type veth peer name "$tag-vs" netns "$server"
ip -n "$client" addr add 198.18.0.9/32 dev "$tag-vc"
ip -n "$client" link set "$tag-vc" up
ip -n "$client" route add 198.18.0.10/32 dev "$tag-vc" src 198.18.0.9
ip -n "$server" addr add 198.18.0.10/32 dev "$tag-vs"
ip -n "$server" link set "$tag-vs" up
ip -n "$server" route add 198.18.0.9/32 dev "$tag-vs" src 198.18.0.10
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
    results+=("$out")
    if [ "$mode" = shm ]; then eagain="$("$bin/newsbench" eagain --app-socket "$dir/app.sock")"; fi
    stop_news
done

echo "UDP echo, 64-byte requests (NEWS behind its TAP; Linux behind veth; same client, same run)"
printf '%s\n' "${results[@]}" | awk -F, '
    /^target/ { next }
    { key = $2; if ($1 == "linux") { lin[key] = $3; lp50[key] = $4; lp99[key] = $5 } else { name[NR] = $1; fl[NR] = key; rps[NR] = $3; p50[NR] = $4; p99[NR] = $5 } }
    END {
        printf "%-14s %-10s %-10s %-9s %-9s %-12s\n", "TARGET", "IN FLIGHT", "REQ/S", "P50 us", "P99 us", "NEWS/LINUX"
        for (i in name) printf "%-14s %-10s %-10d %-9.1f %-9.1f %.2fx\n", name[i], fl[i], rps[i], p50[i], p99[i], rps[i] / lin[fl[i]]
        for (k in lin) printf "%-14s %-10s %-10d %-9.1f %-9.1f %s\n", "linux", k, lin[k], lp50[k], lp99[k], "1.00x"
    }' | sort -k2,2n -k1,1
echo
echo "$eagain"
