#!/usr/bin/env bash
# UDP echo, NEWS against Linux, one run: the same client (newsbench udp, in a namespace made
# here) measures the NEWS echo app behind NEWS's TAP link (newsd in shm mode, then in kernel
# mode) and a Linux echo server (newsbench linux-echo) in a second namespace, reached over
# the same kind of link: a TAP on the client's side whose frames a user-space process
# (newsbench tap-relay) carries to a TAP in the server's namespace. Also runs newsbench
# eagain. Cases are interleaved and repeated (--rounds, default 5); the table gives the
# median, the spread (min-max) and ratios taken within each round. Everything it makes is
# removed on exit.
#
# Each round also runs newsbench stalls (a 2 kHz UDP probe stream, --stall-seconds long, NEWS
# and Linux taking turns every second): the summary gives the median over rounds of the
# longest gap between answers and of the RTT p99.9, with NEWS/Linux ratios.
#
# --placements default,roundrobin also runs NEWS with the servers dealt round-robin over the
# CPUs by `[cores]` (the placement before issue 9; runs named news-MODE-rr) beside newsd's
# default placement (the stack apart from applications).
#
# --baseline DIR adds an older build (its newsd, servers, newsecho and newsbench eagain, e.g.
# `scripts/build-baseline.sh REV` prints such a DIR) to every round, so that a change is
# measured against what it replaces on the same machine in the same run.
# Usage: scripts/bench-udp.sh [--rounds N] [--modes shm,kernel] [--baseline DIR] [--placements default,roundrobin]
#        [--stall-seconds S] [--requests N] [--in-flight 1,32]
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "bench-udp.sh: run as root (namespaces, newsd)" >&2; exit 1; }
swift build -c release 2>&1 | tail -n 1
bin="$(swift build -c release --show-bin-path)"
rounds=5; baseline=""; modes="shm kernel"; placements="default"; stall_seconds=10; pass=()
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) rounds="$2"; shift 2 ;;
        --baseline) baseline="$(cd "$2" && pwd)"; shift 2 ;;
        --modes) modes="${2//,/ }"; shift 2 ;;
        --placements) placements="${2//,/ }"; shift 2 ;;
        --stall-seconds) stall_seconds="$2"; shift 2 ;;
        *) pass+=("$1"); shift ;;
    esac
done
[[ "$rounds" =~ ^[0-9]+$ ]] && [ "$rounds" -ge 1 ] || { echo "bench-udp.sh: --rounds wants a positive number" >&2; exit 2; }
[[ "$stall_seconds" =~ ^[0-9]+$ ]] && [ "$stall_seconds" -ge 1 ] || { echo "bench-udp.sh: --stall-seconds wants a positive number" >&2; exit 2; }
for p in $placements; do
    case "$p" in default|roundrobin) ;; *) echo "bench-udp.sh: --placements: default or roundrobin, not $p" >&2; exit 2 ;; esac
done
# The round-robin placement as newsd dealt it before issue 9: over the allowed CPUs, starting
# at the second (newsd's was the first), every server named so newsd's default does not apply.
roundrobin_cores="$(python3 -c '
import os
cpus = sorted(os.sched_getaffinity(0)); n = 1 if len(cpus) > 1 else 0
for i, s in enumerate("nicdriver packetfilter ipserver udpserver tcpserver vfs".split()):
    print(f"{s} = {cpus[(n + i) % len(cpus)]}")')"
if [ -n "$baseline" ]; then
    for b in newsd newsecho newsbench udpserver; do
        [ -x "$baseline/$b" ] || { echo "bench-udp.sh: $baseline has no $b" >&2; exit 2; }
    done
fi
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

start_news() {  # $1: ipc mode, $2: the build's bin directory, $3: placement
    cat > "$dir/newsd.toml" <<TOML
ipc = "$1"
control_socket = "$dir/ctl.sock"
app_socket = "$dir/app.sock"
[nic]
backend = "tap"
tap = "$tag"
netns = "$client"
TOML
    if [ "${3:-default}" = roundrobin ]; then printf '[cores]\n%s\n' "$roundrobin_cores" >> "$dir/newsd.toml"; fi
    "$2/newsd" -c "$dir/newsd.toml" 2>"$dir/newsd-$1.log" &
    news=$!
    for _ in $(seq 100); do "$bin/newsctl" status --socket "$dir/ctl.sock" >/dev/null 2>&1 && break; sleep 0.1; done
    ip -n "$client" link set "$tag" up
    ip -n "$client" addr add 198.18.0.1/24 dev "$tag" 2>/dev/null || true
    "$2/newsecho" --app-socket "$dir/app.sock" --port 7 > "$dir/newsecho.log" 2>&1 &
    echo_pid=$!
    sleep 0.5
}
stop_news() {
    kill "$echo_pid" 2>/dev/null || true; wait "$echo_pid" 2>/dev/null || true
    "$bin/newsctl" stop --socket "$dir/ctl.sock" >/dev/null || true
    wait "$news" 2>/dev/null || true
}

builds=("news=$bin")
[ -n "$baseline" ] && builds+=("base=$baseline")
: > "$dir/rows.csv"
for round in $(seq "$rounds"); do
    for mode in $modes; do
      for placement in $placements; do
        for entry in "${builds[@]}"; do
            build="${entry%%=*}"; bdir="${entry#*=}"
            run="$build-$mode"; [ "$placement" = roundrobin ] && run="$run-rr"
            start_news "$mode" "$bdir" "$placement"
            ip netns exec "$client" "$bin/newsbench" udp --target "$run=198.18.0.2:7" --target linux=198.18.0.10:7 --csv "${pass[@]}" \
                | sed "s/^/$round,$run,/" >> "$dir/rows.csv"
            ip netns exec "$client" "$bin/newsbench" stalls --target "$run=198.18.0.2:7" --target linux=198.18.0.10:7 \
                --duration "$stall_seconds" --csv | sed "s/^/$round,$run,stalls,/" >> "$dir/rows.csv"
            if [ "$mode" = shm ]; then
                # Three samples a round: the figure is bimodal here (a server sharing the
                # core sometimes runs in the middle of a sample).
                for sample in 1 2 3; do
                    "$bdir/newsbench" eagain --app-socket "$dir/app.sock" --csv --rounds 5 \
                        | sed "s/^/$round.$sample,$build,eagain,/" >> "$dir/rows.csv"
                done
            fi
            stop_news
        done
      done
    done
done

python3 - "$dir/rows.csv" "$rounds" <<'PY'
import statistics, sys
from collections import defaultdict

rows = [line.strip().split(",") for line in open(sys.argv[1]) if line.strip()]
rounds = int(sys.argv[2])
# UDP rows: round, run, target, in_flight, req/s, p50, p99, lost (the run's own Linux row is
# its reference); eagain rows: round, build, "eagain", call, ns, cycles.
udp = defaultdict(list)        # (target, in_flight) -> [(rps, p50, p99, ratio)]
linux = defaultdict(list)
eagain = defaultdict(list)     # build -> [(news ns, linux ns, news cycles, linux cycles)]
per_round = defaultdict(dict)  # (round, target, in_flight) -> rps
stalls = defaultdict(list)     # run -> [(round, target, p999 us, answer gap us, send gap us)]
for r in rows:
    if r[2] == "stalls":
        if r[3] != "target":
            # round, run, "stalls", target, sent, answered, lost, p50, p99, p99.9, max, answer gap, send gap
            stalls[r[1]].append((r[0], r[3], float(r[9]), float(r[11]), float(r[12])))
        continue
    if r[2] == "eagain":
        if r[3] in ("linux_recvfrom_eagain", "news_recvfrom_eagain"):
            eagain[(r[0], r[1])].append((r[3], float(r[4]), float(r[5])))
        continue
    if r[2] == "target":
        continue
    rnd, run, target, window, rps, p50, p99 = r[0], r[1], r[2], r[3], float(r[4]), float(r[5]), float(r[6])
    if target == "linux":
        linux[(rnd, run, window)] = rps
        continue
    udp[(target, window)].append((rnd, run, rps, p50, p99))
    per_round[(rnd, target, window)] = rps

def spread(v):
    return f"{min(v):.0f}-{max(v):.0f}"

print(f"UDP echo, 64-byte requests, {rounds} round(s) interleaved (NEWS behind its TAP; Linux behind a TAP relayed")
print("in user space; same client). Medians; spread is min-max; ratios are taken within each round.")
print(f"{'TARGET':<14} {'IN FLIGHT':<9} {'REQ/S':>8} {'SPREAD':>13} {'P50 us':>8} {'P99 us':>8} {'NEWS/LINUX':>11} {'VS BASE':>8}")
for (target, window) in sorted(udp, key=lambda k: (k[0].split("-")[1], int(k[1]), k[0])):
    m = udp[(target, window)]
    rps = [x[2] for x in m]
    ratios = [x[2] / linux[(x[0], x[1], window)] for x in m if linux.get((x[0], x[1], window))]
    vs = ""
    if target.startswith("news-"):
        base = target.replace("news-", "base-")
        pairs = [per_round[(x[0], target, window)] / per_round[(x[0], base, window)]
                 for x in m if (x[0], base, window) in per_round]
        if pairs:
            vs = f"{statistics.median(pairs):.2f}x"
    print(f"{target:<14} {window:<9} {statistics.median(rps):>8.0f} {spread(rps):>13} {statistics.median([x[3] for x in m]):>8.1f} "
          f"{statistics.median([x[4] for x in m]):>8.1f} {statistics.median(ratios):>10.2f}x {vs:>8}")
print()
print("recvfrom on an empty non-blocking UDP socket (newsbench eagain: 3 samples a round, each the median of 5x200k calls)")
print(f"{'BUILD':<8} {'NEWS ns':>8} {'LINUX ns':>9} {'NEWS cyc':>9} {'LINUX cyc':>10} {'NEWS/LINUX':>11} {'SPREAD':>13}")
builds = sorted({b for (_, b) in eagain}, key=lambda b: b != "news")
medians = {}
for b in builds:
    per = [dict((c, (ns, cy)) for c, ns, cy in eagain[k]) for k in eagain if k[1] == b]
    nns = [p["news_recvfrom_eagain"][0] for p in per]; lns = [p["linux_recvfrom_eagain"][0] for p in per]
    ncy = [p["news_recvfrom_eagain"][1] for p in per]; lcy = [p["linux_recvfrom_eagain"][1] for p in per]
    ratio = [n / l for n, l in zip(nns, lns)]
    medians[b] = statistics.median(nns)
    print(f"{b:<8} {statistics.median(nns):>8.1f} {statistics.median(lns):>9.1f} {statistics.median(ncy):>9.0f} {statistics.median(lcy):>10.0f} "
          f"{statistics.median(ratio):>10.3f}x {min(ratio):>6.3f}-{max(ratio):.3f}")
if "news" in medians and "base" in medians:
    print(f"news / base: {medians['news'] / medians['base']:.2f}x in time per call ({len(nns)} samples each)")
print()
print("Stalls: 2 kHz UDP probes, NEWS and Linux taking turns every second (newsbench stalls); medians over rounds,")
print("ratios within each round. GAP: the longest time between consecutive answers.")
print("SEND GAP: the client's own longest gap between probes (0.5 ms when it kept its schedule), the larger of the two.")
print(f"{'RUN':<16} {'GAP ms':>7} {'LINUX GAP':>10} {'GAP RATIO':>10} {'P99.9 us':>9} {'LINUX P99.9':>12} {'P99.9 RATIO':>12} {'SEND GAP ms':>12}")
for run in sorted(stalls):
    by_round = defaultdict(dict)
    for rnd, target, p999, gap, send_gap in stalls[run]:
        by_round[rnd]["linux" if target == "linux" else "news"] = (p999, gap, send_gap)
    pairs = [v for v in by_round.values() if "news" in v and "linux" in v]
    if not pairs:
        continue
    med = lambda xs: statistics.median(xs)
    ng = [v["news"][1] / 1000 for v in pairs]; lg = [v["linux"][1] / 1000 for v in pairs]
    npct = [v["news"][0] for v in pairs]; lpct = [v["linux"][0] for v in pairs]
    gr = [v["news"][1] / v["linux"][1] for v in pairs if v["linux"][1] > 0]
    pr = [v["news"][0] / v["linux"][0] for v in pairs if v["linux"][0] > 0]
    sg = [max(v["news"][2], v["linux"][2]) / 1000 for v in pairs]
    print(f"{run:<16} {med(ng):>7.2f} {med(lg):>10.2f} {med(gr) if gr else 0:>9.2f}x {med(npct):>9.0f} {med(lpct):>12.0f} {med(pr) if pr else 0:>11.2f}x {med(sg):>12.2f}")
PY
