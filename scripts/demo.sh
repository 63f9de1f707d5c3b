#!/usr/bin/env bash
# The NEWS demo: newsd with its six servers on a TAP link into a network namespace made
# here (Linux side 198.18.0.1, NEWS 198.18.0.2), the newsecho app on NEWS sockets, and the
# Linux stack as the client: ping, a UDP echo stream while servers are crashed, the packet
# filter, a capture, an HTTP server on NEWS TCP sockets fetched by curl, the TCP sockets,
# the counters. Everything it makes is removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
[ "$(id -u)" = 0 ] || { echo "demo.sh: run as root" >&2; exit 1; }
swift build -c release 2>&1 | tail -n 1
bin="$(swift build -c release --show-bin-path)"
dir="$(mktemp -d)"
ns="news-demo-$$"
tap="ndemo$$"; tap="${tap:0:15}"
ctl() { "$bin/newsctl" "$@" --socket "$dir/ctl.sock"; }
inns() { ip netns exec "$ns" "$@"; }
cleanup() {
    set +e  # a child killed here exits non-zero; cleanup must still finish
    [ -n "${app:-}" ] && kill -KILL "$app" 2>/dev/null && wait "$app" 2>/dev/null
    [ -n "${web:-}" ] && kill -KILL "$web" 2>/dev/null && wait "$web" 2>/dev/null
    [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    ip netns del "$ns" 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT

ip netns add "$ns"
cat > "$dir/rules" <<RULES
# the demo's packet filter: no discard service, everything else passes
default in allow
default out allow
deny in udp to any port 9
RULES
cat > "$dir/newsd.toml" <<TOML
control_socket = "$dir/ctl.sock"
app_socket = "$dir/app.sock"
fault_injection = true
[nic]
backend = "tap"
tap = "$tap"
netns = "$ns"
[pf]
rules = "$dir/rules"
TOML
"$bin/newsd" -c "$dir/newsd.toml" 2>"$dir/newsd.log" &
pid=$!
for _ in $(seq 100); do ctl status >/dev/null 2>&1 && break; sleep 0.1; done
inns ip link set lo up
inns ip link set "$tap" up
inns ip addr add 198.18.0.1/24 dev "$tap"
"$bin/newsecho" --app-socket "$dir/app.sock" --port 7 > "$dir/newsecho.log" &
app=$!
sleep 0.5

echo "== newsd is up: six servers, each its own confined process"
ctl status
echo; echo "== Linux pings NEWS (4000 bytes: fragmented both ways)"
inns ping -c 5 -i 0.2 -s 4000 198.18.0.2 | tail -n 2
echo; echo "== Linux sends 20000 UDP datagrams to newsecho while ipserver, packetfilter and udpserver crash"
inns python3 tests/integration/udp_stream.py 198.18.0.2 7 20000 16 > "$dir/stream.out" &
stream=$!
for s in ipserver packetfilter udpserver; do sleep 0.3; ctl crash "$s" --how segv; done
wait "$stream"; cat "$dir/stream.out"
echo; echo "== the packet filter (rules survived its crash; port 9 is blocked)"
ctl pf show
echo; echo "== a capture at the NIC driver, read by tshark"
( sleep 0.3; inns ping -c 3 -i 0.1 198.18.0.2 >/dev/null ) &
ctl capture "$dir/demo.pcap" --count 12 --seconds 5
tshark -r "$dir/demo.pcap" 2>/dev/null | head -n 12 || true
echo; echo "== examples/http_server.c on NEWS TCP sockets; Linux's curl fetches 20 MB from it"
cc -O2 -Wall -Werror -Iinclude examples/http_server.c -L"$bin" -lnews -Wl,-rpath,"$bin" -o "$dir/http_server"
mkdir "$dir/www"
head -c 20000000 /dev/urandom > "$dir/www/big.bin"
echo "<html><body>NEWS</body></html>" > "$dir/www/index.html"
"$dir/http_server" "$dir/app.sock" 80 "$dir/www" > "$dir/http.log" &
web=$!
for _ in $(seq 50); do grep -q listening "$dir/http.log" && break; sleep 0.1; done
inns curl -sS -H "Connection: close" -o "$dir/got.bin" -w "curl: HTTP %{http_code}, %{size_download} bytes at %{speed_download} bytes/s\n" http://198.18.0.2/big.bin
cmp -s "$dir/www/big.bin" "$dir/got.bin" && echo "the file arrived intact"
inns curl -sS -H "Connection: close" http://198.18.0.2/
echo; echo "== NEWS's TCP sockets (newsctl ss -i: the listener, the connections in TIME-WAIT)"
ctl ss -i | head -n 12
echo; echo "== status after the crashes, and the counters"
ctl status
ctl stats | grep -E "^(SERVER|ipserver|udpserver|packetfilter) " | grep -vE " 0$" | head -n 60
echo; echo "== stop"
ctl stop
wait "$pid"; pid=
echo "newsd exited; the TAP, the regions and the namespace go with it (namespace $ns, directory $dir)."
