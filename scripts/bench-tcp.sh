#!/usr/bin/env bash
# TCP (HTTP/1.1), NEWS against Linux, one run: the same client (newsbench tcp, in a
# namespace made here) measures examples/http_server.c running as a NEWS app behind NEWS's
# TAP link (newsd in shm mode, then in kernel mode) and the same source built on Linux
# sockets (-DNEWS_POSIX, examples/news_posix.h) in a second namespace, reached over the same
# kind of link: a TAP on the client's side whose frames a user-space process (newsbench
# tap-relay, with the virtio-net header and TSO/checksum offloads as NEWS's driver uses
# them) carries to a TAP in the server's namespace. Cases: bulk download (GET of 100 MB),
# bulk upload (PUT of 100 MB, discarded), and GET request/response with 1 and 10 requests per
# connection of a 20-byte and an 11 kB file. Cases are interleaved and repeated (--rounds,
# default 5); the summary gives per case and target the median, the spread (min-max), the
# p50/p99 medians and the NEWS/Linux ratio taken within each run, then newsd's counters
# (tcpserver, ipserver, nicdriver) after the last NEWS run. Everything it makes is removed on
# exit; every run is bounded in time.
#
# Usage: scripts/bench-tcp.sh [--rounds N] [--modes shm,kernel] [--seconds S] [--conns C]
#                             [--cores default|SERVER=CPU,...] [--placements default,roundrobin] [--relay-no-offloads] [--csv FILE (default: a file in $TMPDIR, named at the end)] [newsbench tcp options, e.g. --cases rr]
# --placements default,roundrobin also runs NEWS with the servers dealt round-robin over both
# CPUs and applications anywhere (targets news-MODE-rr), in the same rounds, to compare maps;
# servers0: the servers on cpu 0 as by default, applications on either CPU (news-MODE-s0).
# --cores default keeps newsd's own core map; SERVER=CPU,... writes those into [cores]
# (servers not named are dealt round-robin by newsd), to measure a placement.
# --relay-no-offloads runs the Linux reference's relay without the virtio-net header and
# offloads (plain MTU-sized frames), to see what the offloads give Linux on this link.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "bench-tcp.sh: run as root (namespaces, newsd)" >&2; exit 1; }
swift build -c release 2>&1 | tail -n 1
bin="$(swift build -c release --show-bin-path)"
rounds=5; modes="shm kernel"; seconds=5; conns=16; cores=default; csv_out=""; relay_flags=(); pass=()
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) rounds="$2"; shift 2 ;;
        --modes) modes="${2//,/ }"; shift 2 ;;
        --seconds) seconds="$2"; shift 2 ;;
        --conns) conns="$2"; shift 2 ;;
        --cores) cores="$2"; shift 2 ;;
        --cores-default) cores=default; shift ;;
        --csv) csv_out="$2"; shift 2 ;;
        --relay-no-offloads) relay_flags=(--no-offloads); shift ;;
        --placements) placements="${2//,/ }"; shift 2 ;;
        *) pass+=("$1"); shift ;;
    esac
done
[[ "$rounds" =~ ^[0-9]+$ ]] && [ "$rounds" -ge 1 ] || { echo "bench-tcp.sh: --rounds wants a positive number" >&2; exit 2; }
[[ "$seconds" =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "bench-tcp.sh: --seconds wants a number" >&2; exit 2; }
[[ "$conns" =~ ^[0-9]+$ ]] || { echo "bench-tcp.sh: --conns wants a number" >&2; exit 2; }
for m in $modes; do
    [ "$m" = shm ] || [ "$m" = kernel ] || { echo "bench-tcp.sh: --modes takes shm and/or kernel" >&2; exit 2; }
done
for p in ${placements:=default}; do
    case "$p" in default|roundrobin|servers0) ;; *) echo "bench-tcp.sh: --placements: default, roundrobin or servers0, not $p" >&2; exit 2 ;; esac
done
# The map newsd dealt before issue 9 (servers round-robin over both CPUs from cpu 1, apps
# anywhere), to compare against the default in the same run.
roundrobin_toml=$'[cores]\nnicdriver = 1\npacketfilter = 0\nipserver = 1\nudpserver = 0\ntcpserver = 1\nvfs = 0\napps = "0,1"\n'
# All servers on cpu 0 as in the default, but applications free to run on either CPU.
servers0_toml=$'[cores]\napps = "0,1"\n'
cores_toml=""
if [ "$cores" != default ]; then
    cores_toml="[cores]"$'\n'
    IFS=, read -ra pairs <<< "$cores"
    for p in "${pairs[@]}"; do
        [[ "$p" =~ ^[a-z]+=[0-9]+$ ]] || { echo "bench-tcp.sh: --cores wants default or SERVER=CPU,..., got $p" >&2; exit 2; }
        cores_toml+="${p%%=*} = ${p#*=}"$'\n'
    done
fi

tag="nt$$"; client="$tag-c"; server="$tag-s"; dir="$(mktemp -d)"
pids=(); news=""; app=""
cleanup() {
    set +e  # a child killed here exits non-zero; cleanup must still finish
    [ -n "$app" ] && { kill "$app" 2>/dev/null; wait "$app" 2>/dev/null; }
    [ -n "$news" ] && { "$bin/newsctl" stop --socket "$dir/ctl.sock" >/dev/null 2>&1; kill "$news" 2>/dev/null; wait "$news" 2>/dev/null; }
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
    ip netns del "$client" 2>/dev/null || true
    ip netns del "$server" 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM  # a signal still runs cleanup (through EXIT)

# The same server source twice: on libnews, and on Linux sockets.
cc -O2 -Wall -Werror -Iinclude examples/http_server.c -L"$bin" -lnews -Wl,-rpath,"$bin" -o "$dir/http_server_news"
cc -O2 -Wall -Werror -DNEWS_POSIX examples/http_server.c -o "$dir/http_server_linux"
mkdir "$dir/www"
head -c 20 /dev/zero | tr '\0' 'a' > "$dir/www/20b"
head -c 11000 /dev/zero | tr '\0' 'b' > "$dir/www/11k"
head -c 100000000 /dev/zero > "$dir/www/100m"
chmod -R a+rX "$dir"

# One case against one target takes --seconds plus a warm-up (bulk: at least one 100 MB
# transfer); a newsbench run has 6 cases x 2 targets. Bounds, generous, so nothing hangs.
run_bound=$(( (${seconds%.*} + 30) * 12 + 60 ))
mode_count=$(( $(wc -w <<< "$modes") * $(wc -w <<< "${placements:-default}") ))
relay_bound=$(( rounds * mode_count * (run_bound + 30) + 120 ))

ip netns add "$client"
ip netns add "$server"
ip -n "$client" link set lo up
ip -n "$server" link set lo up
# Linux reference: client 198.18.0.9 (TAP $tag-rc) <-> relay <-> server 198.18.0.10 (TAP $tag-rs).
"$bin/newsbench" tap-relay --a "$client:$tag-rc" --b "$server:$tag-rs" --seconds "$relay_bound" "${relay_flags[@]}" > "$dir/relay.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do grep -q ready "$dir/relay.log" 2>/dev/null && break; sleep 0.1; done
grep -q ready "$dir/relay.log" || { echo "bench-tcp.sh: tap-relay did not start:" >&2; cat "$dir/relay.log" >&2; exit 1; }
ip -n "$client" addr add 198.18.0.9/32 dev "$tag-rc"
ip -n "$client" link set "$tag-rc" up
ip -n "$client" route add 198.18.0.10/32 dev "$tag-rc" src 198.18.0.9
ip -n "$server" addr add 198.18.0.10/32 dev "$tag-rs"
ip -n "$server" link set "$tag-rs" up
ip -n "$server" route add 198.18.0.9/32 dev "$tag-rs" src 198.18.0.10
ip netns exec "$server" "$dir/http_server_linux" - 80 "$dir/www" > "$dir/linux-http.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do grep -q listening "$dir/linux-http.log" 2>/dev/null && break; sleep 0.1; done
grep -q listening "$dir/linux-http.log" || { echo "bench-tcp.sh: the Linux http_server did not start:" >&2; cat "$dir/linux-http.log" >&2; exit 1; }

start_news() {  # $1: ipc mode, $2: placement
    local placement_toml="$cores_toml"
    [ "${2:-default}" = roundrobin ] && placement_toml="$roundrobin_toml"
    [ "${2:-default}" = servers0 ] && placement_toml="$servers0_toml"
    cat > "$dir/newsd.toml" <<TOML
ipc = "$1"
control_socket = "$dir/ctl.sock"
app_socket = "$dir/app.sock"
[nic]
backend = "tap"
tap = "$tag"
netns = "$client"
$placement_toml
TOML
    "$bin/newsd" -c "$dir/newsd.toml" 2>"$dir/newsd-$1.log" &
    news=$!
    for _ in $(seq 100); do "$bin/newsctl" status --socket "$dir/ctl.sock" >/dev/null 2>&1 && break; sleep 0.1; done
    ip -n "$client" link set "$tag" up
    ip -n "$client" addr add 198.18.0.1/24 dev "$tag" 2>/dev/null || true
    "$dir/http_server_news" "$dir/app.sock" 80 "$dir/www" > "$dir/news-http.log" 2>&1 &
    app=$!
    for _ in $(seq 100); do grep -q listening "$dir/news-http.log" 2>/dev/null && break; sleep 0.1; done
    grep -q listening "$dir/news-http.log" || { echo "bench-tcp.sh: http_server on NEWS did not start:" >&2; cat "$dir/news-http.log" "$dir/newsd-$1.log" >&2; exit 1; }
}
stop_news() {
    kill "$app" 2>/dev/null || true; wait "$app" 2>/dev/null || true; app=""
    "$bin/newsctl" stop --socket "$dir/ctl.sock" >/dev/null || true
    wait "$news" 2>/dev/null || true; news=""
}

rows="$dir/rows.csv"
: > "$rows"
last_mode="${modes##* }"
for round in $(seq "$rounds"); do
    for mode in $modes; do
      for placement in $placements; do
        suffix=""; [ "$placement" = roundrobin ] && suffix="-rr"; [ "$placement" = servers0 ] && suffix="-s0"
        start_news "$mode" "$placement"
        timeout "$run_bound" ip netns exec "$client" "$bin/newsbench" tcp --target "news-$mode$suffix=198.18.0.2:80" --target linux=198.18.0.10:80 \
            --seconds "$seconds" --conns "$conns" --csv "${pass[@]}" > "$dir/run.csv" \
            || { echo "bench-tcp.sh: newsbench tcp failed (round $round, $mode $placement)" >&2; cat "$dir/run.csv" >&2; exit 1; }
        sed "s/^/$round,$mode$suffix,/" "$dir/run.csv" >> "$rows"
        if [ "$round" = "$rounds" ] && [ "$mode" = "$last_mode" ] && [ "$placement" = "${placements%% *}" ]; then
            "$bin/newsctl" stats --socket "$dir/ctl.sock" > "$dir/stats.txt" 2>&1 || true
        fi
        stop_news
      done
    done
done

if [ -n "$csv_out" ]; then cp "$rows" "$csv_out"; csv_path="$csv_out"; else csv_path="${TMPDIR:-/tmp}/bench-tcp-$(date -u +%Y%m%dT%H%M%SZ).csv"; cp "$rows" "$csv_path"; fi

python3 - "$rows" "$rounds" "$seconds" "$conns" <<'PY'
import statistics, sys
from collections import defaultdict

# Rows: round, mode, then newsbench tcp's CSV (target, case, connections, seconds, completed,
# requests_per_s, mb_per_s, p50_us, p99_us, errors, ...); each run's own header line too.
path, rounds, seconds, conns = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
rows = [line.strip().split(",") for line in open(path) if line.strip()]
header = next(r for r in rows if r[2] == "target")[2:]
data = [dict(zip(["round", "mode"] + header, r)) for r in rows if r[2] != "target"]
cases = list(dict.fromkeys(d["case"] for d in data))
def rate(d):
    return float(d["mb_per_s"] if d["case"].startswith("bulk") else d["requests_per_s"])

by = defaultdict(list)          # (case, target) -> rows
linux_of = {}                   # (round, mode, case) -> the run's own Linux row
for d in data:
    by[(d["case"], d["target"])].append(d)
    if d["target"] == "linux":
        linux_of[(d["round"], d["mode"], d["case"])] = d
targets = sorted({d["target"] for d in data}, key=lambda t: (t == "linux", t != "news-shm", t))

print(f"HTTP over TCP, {rounds} round(s) interleaved, {seconds} s a case, {conns} connections for rr; NEWS behind its TAP,")
print("Linux (the same http_server.c on Linux sockets) behind a TAP relayed in user space with the same offloads; same client.")
print("Medians; spread is min-max; NEWS/LINUX is the median of the ratios taken within each run. Bulk: MB/s, p50/p99 of a")
print("whole 100 MB transfer in ms; rr: requests/s, p50/p99 of a request in µs.")
print(f"{'CASE':<12} {'TARGET':<12} {'RATE':>9} {'UNIT':<5} {'SPREAD':>17} {'P50':>9} {'P99':>9} {'NEWS/LINUX':>11} {'RATIO SPREAD':>13} {'ERRORS':>6}")
bad = 0
for case in cases:
    bulk = case.startswith("bulk")
    for target in targets:
        m = by.get((case, target))
        if not m:
            continue
        rates = [rate(d) for d in m]
        scale = 1000.0 if bulk else 1.0   # bulk latencies in ms
        p50 = statistics.median(float(d["p50_us"]) for d in m) / scale
        p99 = statistics.median(float(d["p99_us"]) for d in m) / scale
        errors = sum(int(d["errors"]) for d in m)
        bad += errors
        ratio = ratio_spread = ""
        if target != "linux":
            rs = [rate(d) / rate(l) for d in m if (l := linux_of.get((d["round"], d["mode"], case))) and rate(l) > 0]
            if rs:
                ratio = f"{statistics.median(rs):.2f}x"
                ratio_spread = f"{min(rs):.2f}-{max(rs):.2f}"
        fmt = (lambda v: f"{v:.1f}") if bulk else (lambda v: f"{v:.0f}")
        print(f"{case:<12} {target:<12} {fmt(statistics.median(rates)):>9} {'MB/s' if bulk else 'req/s':<5} "
              f"{fmt(min(rates)) + '-' + fmt(max(rates)):>17} {p50:>9.1f} {p99:>9.1f} {ratio:>11} {ratio_spread:>13} "
              f"{errors:>6}{'  ERRORS' if errors else ''}")
if bad:
    print(f"{bad} error(s) in this run: rows marked ERRORS (kinds in the CSV: connect_errors, resets, bad_status, short_bodies, malformed, timeouts)")
PY
echo "CSV: $csv_path"
if [ -s "$dir/stats.txt" ]; then
    echo
    echo "newsd counters after the last NEWS run (tcpserver, ipserver, nicdriver; where the time goes):"
    awk 'NR == 1 || $1 == "tcpserver" || $1 == "ipserver" || $1 == "nicdriver"' "$dir/stats.txt"
    echo
    sed -n '/^CHANNEL/,$p' "$dir/stats.txt"
fi
