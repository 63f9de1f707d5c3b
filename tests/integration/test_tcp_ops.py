"""Issue 8, done when #3, #5, #6: NEWS TCP as an operator sees it, against Linux's TCP in the
test's namespace.

- #5: every fault `newsctl crash` offers, injected into tcpserver while NEWS's HTTP server
  sends to curl and NEWS's HTTP client receives from python's http.server: both NEWS
  applications hear ECONNRESET, curl hears a reset (not a timeout), tcpserver is back, the
  same http_server process accepts a new connection within 1 s of that.
- #6: `newsctl ss` against `ss -tni` in the namespace for the same connections: states,
  queues, rtt, and the listeners.
- #3: tshark on a `newsctl capture` of transfers under loss: handshake options both ways,
  SACK blocks from NEWS, NEWS's retransmissions are loss recovery and not timeouts, nothing
  malformed."""

import os
import re
import subprocess
import threading
import time
from pathlib import Path

import pytest

from newsutil import BIN, binary, wait_for

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).parent
NEWS_IP, LINUX_IP = "198.18.0.2", "198.18.0.1"


@pytest.fixture(scope="module")
def programs(tmp_path_factory):
    out = tmp_path_factory.mktemp("programs")
    built = {}
    sources = {name: ROOT / "examples" / f"{name}.c" for name in ("tcp_echo", "http_server", "http_get")}
    sources["tcp_hold"] = HERE / "tcp_hold.c"
    for name, src in sources.items():
        exe = out / name
        cc = subprocess.run(["cc", "-O2", "-Wall", "-Werror", f"-I{ROOT / 'include'}", str(src),
                             f"-L{BIN}", "-lnews", f"-Wl,-rpath,{BIN}", "-o", str(exe)], capture_output=True, text=True)
        assert cc.returncode == 0, cc.stderr
        built[name] = str(exe)
    return built


class App:
    """A NEWS application in the background whose first stdout line says it listens."""

    def __init__(self, *argv, stdin=None):
        self.proc = subprocess.Popen(list(argv), stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)
        line = self.proc.stdout.readline()
        assert line.startswith("listening"), f"{line!r} {self.proc.stderr.read() if self.proc.poll() is not None else ''}"

    def stop(self):
        self.proc.kill()
        self.proc.wait()


def write_file(path, size):
    with open(path, "wb") as f:
        for _ in range(size // (1 << 20)):
            f.write(os.urandom(1 << 20))
        f.write(os.urandom(size % (1 << 20)))


# -- #5: tcpserver crashes under two transfers ---------------------------------------------

def crash_faults():
    """Every --how `newsctl crash` offers, from its own help text ("How: segv|abort|...")."""
    p = subprocess.run([binary("newsctl"), "crash", "--help"], capture_output=True, text=True, timeout=30)
    m = re.search(r"How: ([a-z|]+)", " ".join(p.stdout.split()))
    assert m, p.stdout
    return m.group(1).split("|")


FAULTS = crash_faults()
# A hang is declared after two silent periods. Shorter periods than this mistake a server
# that the shared machine did not schedule for a while for a hung one.
CRASH_CONFIG = dict(heartbeat={"period_ms": 250},
                    restart={"intensity": 100, "window_s": 60, "backoff_initial_ms": 10, "backoff_max_ms": 100})
TRANSFER = 40 * 1000 * 1000
RATE = "8M"  # bytes/s each way: a transfer lasts ~5 s, the crash comes after ~1 MB
RATE_BYTES = 8 << 20
# python's http.server, sending files at a set rate (curl's --limit-rate for the other way):
# a queueing discipline on the link would drop packets of the other transfer too.
THROTTLED_HTTP_SERVER = r'''
import functools, http.server, sys, time
class Throttled(http.server.SimpleHTTPRequestHandler):
    def copyfile(self, source, out):
        rate, t0, sent = float(sys.argv[3]), time.monotonic(), 0
        while b := source.read(65536):
            out.write(b)
            sent += len(b)
            ahead = sent / rate - (time.monotonic() - t0)
            if ahead > 0:
                time.sleep(ahead)
    def log_message(self, *args):
        pass
handler = functools.partial(Throttled, directory=sys.argv[4])
http.server.ThreadingHTTPServer((sys.argv[1], int(sys.argv[2])), handler).serve_forever()
'''


def test_every_fault_is_offered():
    """The faults below are the ones test_restart.py knows, plus scribble (not a crash)."""
    assert set(FAULTS) >= {"segv", "abort", "kill", "hang", "exit", "syscall", "scribble", "signal", "execmem", "execprotect"}, FAULTS


def new_connection_time(ns, budget):
    """Seconds until a fresh curl to NEWS's HTTP server gets its page, trying again on a
    failure until `budget` runs out; (seconds, attempts, last error)."""
    t0 = time.monotonic()
    attempts, err = 0, ""
    while time.monotonic() - t0 < budget:
        attempts += 1
        r = ns.exec("curl", "-sS", "--max-time", "1", "-o", "/dev/null", "-w", "%{http_code}", f"http://{NEWS_IP}/small.txt", timeout=10)
        if r.returncode == 0 and r.stdout == "200":
            return time.monotonic() - t0, attempts, ""
        err = r.stderr.strip()
    return None, attempts, err


@pytest.mark.parametrize("how", FAULTS)
def test_tcpserver_fault_during_transfers(linked_news, programs, tmp_path, how):
    news, ns = linked_news(**CRASH_CONFIG)
    www, srv = tmp_path / "www", tmp_path / "srv"
    www.mkdir()
    srv.mkdir()
    write_file(www / "big.bin", TRANSFER)
    (www / "small.txt").write_bytes(b"small\n")
    write_file(srv / "big.bin", TRANSFER)
    http = App(programs["http_server"], news.app_socket, "80", str(www))
    pyserver = subprocess.Popen(["ip", "netns", "exec", ns.name, "python3", "-c", THROTTLED_HTTP_SERVER, LINUX_IP, "8000", str(RATE_BYTES),
                                 str(srv)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    curl = getter = None
    try:
        wait_for(lambda: ns.exec("curl", "-s", "-o", "/dev/null", "--max-time", "1", f"http://{LINUX_IP}:8000/").returncode == 0,
                 5, interval=0.05, what="python http.server")
        curl_out, get_out = tmp_path / "curl.bin", tmp_path / "get.bin"
        curl = subprocess.Popen(["ip", "netns", "exec", ns.name, "curl", "-sS", "--limit-rate", RATE, "--max-time", "30",
                                 "-o", str(curl_out), "-w", "%{http_code} %{size_download}", f"http://{NEWS_IP}/big.bin"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        getter = subprocess.Popen([programs["http_get"], news.app_socket, f"http://{LINUX_IP}:8000/big.bin", str(get_out)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        size = lambda p: p.stat().st_size if p.exists() else 0
        try:
            wait_for(lambda: size(curl_out) > 1 << 20 and size(get_out) > 1 << 20, 10, what="both transfers under way")
        except AssertionError:
            print(ns.exec("ss", "-tni").stdout, news.ctl("ss", json=False).stdout, news.counters("tcpserver"), news.counters("ipserver"),
                  news.counters("nicdriver"))
            raise AssertionError(f"transfers did not start: curl {size(curl_out)}, http_get {size(get_out)} bytes")
        before = news.server("tcpserver")
        news.ctl("crash", "tcpserver", "--how", how)
        crashed_at = time.monotonic()

        if how == "scribble":
            # Not a crash: ipserver notices the corrupt index and carries on, and so do both
            # transfers; nothing restarts.
            c_out, c_err = curl.communicate(timeout=40)
            g_out, g_err = getter.communicate(timeout=40)
            assert curl.returncode == 0 and c_out == f"200 {TRANSFER}", c_out + c_err
            assert getter.returncode == 0 and g_out.startswith(f"ok {TRANSFER} "), g_out + g_err
            after = news.server("tcpserver")
            assert (after["pid"], after["restarts"]) == (before["pid"], before["restarts"]), after
            noticed = {s["name"]: {c["name"]: c["value"] for c in s["counters"] if c["name"] in ("ring_corrupt", "channel_malformed")}
                       for s in news.stats()["servers"]}
            assert sum(sum(v.values()) for v in noticed.values()) >= 1, noticed
            return

        news.wait_restarted("tcpserver", before["pid"], before["restarts"] + 1, timeout=3 if how == "hang" else 1.5)
        back_at = time.monotonic()
        # A new connection to the same http_server process, which never restarted.
        took, attempts, err = new_connection_time(ns, 1.0)
        assert took is not None, f"--how {how}: no new connection within 1 s of tcpserver being back ({attempts} tries: {err})"
        print(f"--how {how}: tcpserver back {back_at - crashed_at:.3f} s after the fault; new connection after {took * 1000:.0f} ms "
              f"({attempts} tries)")

        # Both transfers end with a reset, promptly: nobody waits for a timeout.
        c_out, c_err = curl.communicate(timeout=40)
        c_done = time.monotonic() - back_at
        g_out, g_err = getter.communicate(timeout=40)
        g_done = time.monotonic() - back_at
        assert getter.returncode == 1 and "reset" in g_err.lower(), f"http_get: {getter.returncode} {g_out}{g_err}"
        assert curl.returncode == 56 and "reset" in c_err.lower(), f"curl: {curl.returncode} {c_out}{c_err}"
        assert c_done < 5 and g_done < 5, f"curl ended {c_done:.1f} s, http_get {g_done:.1f} s after tcpserver was back"
        assert http.proc.poll() is None, "http_server exited"
        r = ns.exec("curl", "-sS", "--max-time", "5", f"http://{NEWS_IP}/small.txt")
        assert r.returncode == 0 and r.stdout == "small\n", r.stderr
        c = news.counters("tcpserver")
        assert c.get("listeners_readopted", 0) >= 1 and c.get("connections_reset_by_restart", 0) >= 2, c
    finally:
        for p in (curl, getter, pyserver):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()
        http.stop()


# -- line-driven programs on both sides ------------------------------------------------------

DRIVER = str(HERE / "tcp_driver.py")


class Driven:
    """A process that answers each command line with one line (tcp_hold.c, tcp_driver.py)."""

    def __init__(self, argv, expect_first=None):
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)
        if expect_first:
            line = self.proc.stdout.readline()
            assert line.startswith(expect_first), f"{line!r} {self.proc.stderr.read() if self.proc.poll() is not None else ''}"

    def __call__(self, *words, timeout=10):
        self.proc.stdin.write(" ".join(map(str, words)) + "\n")
        self.proc.stdin.flush()
        got = {}
        reader = threading.Thread(target=lambda: got.update(line=self.proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout)
        assert "line" in got, f"no answer to {' '.join(map(str, words))!r} within {timeout} s"
        assert got["line"], f"{' '.join(map(str, words))!r}: the process ended: {self.proc.stderr.read()}"
        return got["line"].split()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


class Pair:
    """Connections from tcp_driver.py on Linux to tcp_hold on NEWS, with what each side wrote
    and read, so queues can be checked against the bytes that must be somewhere."""

    def __init__(self, linux, news, port):
        self.linux, self.news, self.port = linux, news, port
        self.conns = []

    def connect(self):
        _, k, lport = self.linux("connect", NEWS_IP, self.port)
        _, i, peer = self.news("accept")
        assert peer == lport, f"tcp_hold accepted port {peer}, the driver connected from {lport}"
        c = dict(linux=int(k), news=int(i), port=int(lport), linux_wrote=0, linux_read=0, news_wrote=0, news_read=0)
        self.conns.append(c)
        return c

    def linux_send(self, c, n):
        sent = int(self.linux("send", c["linux"], n)[1])
        c["linux_wrote"] += sent
        return sent

    def news_read(self, c, n):
        """Reads on the NEWS side until `n` bytes more came."""
        def more():
            r = self.news("read", c["news"])
            assert r[0] == "read", r
            c["news_read"] += int(r[1])
            return c["news_read"] >= want
        want = c["news_read"] + n
        wait_for(more, 5, interval=0.05, what=f"{n} bytes at NEWS")

    def linux_read(self, c, n):
        def more():
            r = self.linux("recv", c["linux"])
            assert r[0] == "recv", r
            c["linux_read"] += int(r[1])
            return c["linux_read"] >= want
        want = c["linux_read"] + n
        wait_for(more, 5, interval=0.05, what=f"{n} bytes at Linux")

    def news_send(self, c, n):
        r = self.news("write", c["news"], n)
        assert r[0] == "wrote", r
        c["news_wrote"] += int(r[1])
        return int(r[1])


def linux_sockets(ns):
    """`ss -tniH` in the namespace for the connections to NEWS, keyed by the Linux side's
    port: state, queues, addresses, the info line and its rtt (ms)."""
    out = ns.exec("ss", "-tniH", "state", "all", f"( dport >= :1 and dst {NEWS_IP} )", check=True).stdout
    rows, last = {}, None
    for line in out.splitlines():
        if not line.strip():
            continue
        if not line[0].isspace():
            f = line.split()
            local, peer = f[3], f[4]
            last = dict(state=f[0], recvq=int(f[1]), sendq=int(f[2]), local=local, peer=peer, info="")
            rows[int(local.rsplit(":", 1)[1])] = last
        elif last is not None:
            last["info"] += line.strip() + " "
    for r in rows.values():
        m = re.search(r"\brtt:([\d.]+)/([\d.]+)", r["info"])
        r["rtt"] = float(m.group(1)) if m else None
    return rows


def news_sockets(news):
    return news.ctl("ss")["sockets"]


@pytest.mark.parametrize("quiet", [0.5, 0.0], ids=["quiet", "just-sent"])
def test_idle_connections_hear_the_reset_of_a_crash(linked_news, programs, quiet):
    """Connections with nothing more to send when tcpserver crashes, their last data sent a
    while before (`quiet`) or just before, in both directions: both ends hear the reset (the
    Linux end from a RST it accepts, though the control block may be behind), nobody waits."""
    news, ns = linked_news(**CRASH_CONFIG)
    hold = Driven([programs["tcp_hold"], news.app_socket, "9000"], expect_first="listening")
    linux = Driven(["ip", "netns", "exec", ns.name, "python3", "-u", DRIVER])
    try:
        pair = Pair(linux, hold, 9000)
        wrote, got = pair.connect(), pair.connect()
        assert pair.news_send(wrote, 30000) == 30000
        assert pair.linux_send(got, 20000) == 20000
        time.sleep(quiet)
        before = news.server("tcpserver")
        news.ctl("crash", "tcpserver", "--how", "segv")
        news.wait_restarted("tcpserver", before["pid"], before["restarts"] + 1, timeout=1.5)
        for c in (wrote, got):
            assert linux("wait", c["linux"], 3, timeout=10) == ["reset"], f"Linux end of connection {c}"
            r = hold("read", c["news"])
            assert r[:3] == ["error", "recv", "104"], f"NEWS end of connection {c}: {r}"
        assert news.counters("tcpserver").get("connections_reset_by_restart", 0) == 2
    finally:
        hold.stop()
        linux.stop()


# -- #6: newsctl ss against ss -tni -----------------------------------------------------------

NEWS_RECEIVE_AREA = 1 << 20  # StreamLayout.defaultReceiveSize


def linux_unread(l):
    """Linux's Recv-Q counts a FIN not yet read (rcv_nxt - copied_seq) in CLOSE-WAIT."""
    return l["recvq"] - (1 if l["state"] == "CLOSE-WAIT" else 0)


def test_ss_agrees_with_linux(linked_news, programs):
    news, ns = linked_news()
    echo = App(programs["tcp_echo"], news.app_socket, "7")
    hold = Driven([programs["tcp_hold"], news.app_socket, "9000"], expect_first="listening")
    linux = Driven(["ip", "netns", "exec", ns.name, "python3", "-u", DRIVER])
    try:
        # An echo connection that exchanged 1000 bytes each way and went quiet.
        _, k, echo_port = linux("connect", NEWS_IP, 7)
        assert linux("send", k, 1000) == ["sent", "1000"]
        echoed = lambda: int(linux("recv", k)[1]) or None
        assert wait_for(echoed, 5, interval=0.05, what="the echo") == 1000
        pair = Pair(linux, hold, 9000)
        quiet = pair.connect()
        pair.linux_send(quiet, 4000)
        assert pair.news_send(quiet, 3000) == 3000
        pair.news_read(quiet, 4000)
        pair.linux_read(quiet, 3000)
        news_wrote = pair.connect()       # NEWS wrote, Linux has not read: Linux's Recv-Q
        assert pair.news_send(news_wrote, 30000) == 30000
        linux_wrote = pair.connect()      # Linux wrote, NEWS has not read: NEWS's Recv-Q
        assert pair.linux_send(linux_wrote, 20000) == 20000
        stalled = pair.connect()          # more than NEWS's receive area: both queues hold bytes
        def full():
            # Linux's send buffer takes what its window lets out; sent until it takes nothing more.
            return pair.linux_send(stalled, 1 << 20) == 0 and stalled["linux_wrote"] > NEWS_RECEIVE_AREA
        wait_for(full, 10, interval=0.1, what="Linux's send buffer full")
        linux_shut = pair.connect()       # Linux shut its side: Linux FIN-WAIT-2, NEWS CLOSE-WAIT
        assert linux("shut", linux_shut["linux"]) == ["shut"]
        news_shut = pair.connect()        # the other way round
        assert hold("shut", news_shut["news"]) == ["shut"]
        expected_states = {quiet["port"]: ("ESTAB", "ESTAB"), news_wrote["port"]: ("ESTAB", "ESTAB"),
                           linux_wrote["port"]: ("ESTAB", "ESTAB"), stalled["port"]: ("ESTAB", "ESTAB"),
                           linux_shut["port"]: ("FIN-WAIT-2", "CLOSE-WAIT"), news_shut["port"]: ("CLOSE-WAIT", "FIN-WAIT-2"),
                           int(echo_port): ("ESTAB", "ESTAB")}
        moved = {c["port"]: c for c in pair.conns}
        moved[int(echo_port)] = dict(linux_wrote=1000, linux_read=1000, news_wrote=1000, news_read=1000)

        def settled():
            """Both views, once every state is the expected one and nothing is in flight (the
            bytes each side wrote are all read or queued: window probes and delayed ACKs done)."""
            lx, nw = linux_sockets(ns), news_sockets(news)
            by_port = {int(s["remote"].rsplit(":", 1)[1]): s for s in nw if s["state"] != "LISTEN"}
            for port, (lstate, nstate) in expected_states.items():
                l, n = lx.get(port), by_port.get(port)
                if not l or not n or (l["state"], n["state"]) != (lstate, nstate):
                    return None
                c = moved[port]
                if c["linux_wrote"] - c["news_read"] != n["receive_queue"] + l["sendq"]:
                    return None
                if c["news_wrote"] - c["linux_read"] != linux_unread(l) + n["send_queue"]:
                    return None
            return lx, nw, by_port

        try:
            lx, nw, by_port = wait_for(settled, 5, interval=0.2, what="ss views that agree")
        except AssertionError:
            print(ns.exec("ss", "-tni").stdout, news.ctl("ss", "-i", json=False).stdout, moved, sep="\n")
            raise
        print(ns.exec("ss", "-tni").stdout, news.ctl("ss", "-i", json=False).stdout, sep="\n")

        # The queues, connection by connection.
        q = lambda c: (by_port[c["port"]]["receive_queue"], by_port[c["port"]]["send_queue"], linux_unread(lx[c["port"]]), lx[c["port"]]["sendq"])
        assert q(quiet) == (0, 0, 0, 0)
        assert q(news_wrote) == (0, 0, 30000, 0)
        assert q(linux_wrote) == (20000, 0, 0, 0)
        nrq, nsq, lrq, lsq = q(stalled)
        # Full to the last byte the window can name: with window scaling (RFC 7323 2.3) the
        # advertised edge moves in units of 2^shift bytes (32 for a 1 MB area), so up to one
        # such unit of the area may stay empty.
        assert NEWS_RECEIVE_AREA - 128 <= nrq <= NEWS_RECEIVE_AREA and lsq == stalled["linux_wrote"] - nrq and lsq > 0, q(stalled)
        assert q(linux_shut) == (0, 0, 0, 0) and q(news_shut) == (0, 0, 0, 0)
        # Round-trip times: NEWS measures its own, Linux its own, over the same link. Each
        # connection has few samples, taken while this shared machine schedules five
        # processes per round trip, so single values scatter; their medians must agree to
        # within an order of magnitude (a unit slip would be a factor of 1000).
        for port, n in by_port.items():
            assert lx[port]["rtt"] and n["rtt_millis"] > 0 and n["rto_millis"] >= 200, (port, lx[port], n)
            assert n["rtt_millis"] < 1000 and n["rto_millis"] < 1000, f"port {port}: NEWS's rtt/rto unmeasured: {n}"
        median = lambda v: sorted(v)[len(v) // 2]
        lrtt, nrtt = median([lx[p]["rtt"] for p in by_port]), median([n["rtt_millis"] for n in by_port.values()])
        assert 0.1 < lrtt / nrtt < 10, f"median rtt: Linux {lrtt} ms, NEWS {nrtt} ms"
        # Negotiated options, as both sides see them.
        for port, n in by_port.items():
            m = re.search(r"\bwscale:(\d+),(\d+)", lx[port]["info"])
            assert m and f"wscale:{m.group(2)},{m.group(1)}" in n["options"], (lx[port]["info"], n["options"])
            # (This kernel's ss prints no "ts"/"sack" although both are on the wire: the
            # tshark test checks them there.)
            assert "ts" in n["options"] and "sack" in n["options"], n["options"]
            assert n["mss"] > 0 and n["cwnd"] > 0, n
        # The listeners, with their backlogs where ss shows them.
        listeners = {s["local"]: s for s in nw if s["state"] == "LISTEN"}
        assert set(listeners) == {"*:7", "*:9000"}, listeners
        assert listeners["*:7"]["send_queue"] == 64 and listeners["*:9000"]["send_queue"] == 16, listeners
        assert all(s["remote"] == "*:*" for s in listeners.values())

        # The table: a header like ss's and one row per socket, in aligned columns.
        table = news.ctl("ss", json=False).stdout.splitlines()
        assert table[0].split() == ["State", "Recv-Q", "Send-Q", "Local", "Address:Port", "Peer", "Address:Port"], table[0]
        assert len(table) == 1 + len(nw), table
        starts = [table[0].index(h) for h in ("Recv-Q", "Send-Q", "Local", "Peer")]
        for row, s in zip(table[1:], nw):
            cells = row.split()
            assert cells == [s["state"], str(s["receive_queue"]), str(s["send_queue"]), s["local"], s["remote"]], (row, s)
            assert [row.index(c, i) for c, i in zip(cells[1:], starts)] == starts, f"columns out of line:\n{table[0]}\n{row}"
        detail = news.ctl("ss", "-i", json=False).stdout.splitlines()
        info = [l for l in detail if l.startswith("\t")]
        assert len(info) == len(by_port), detail
        assert all(re.search(r"\brtt:[\d.]+/[\d.]+ .*\bmss:\d+ .*\bcwnd:\d+", l) for l in info), info
    finally:
        echo.stop()
        hold.stop()
        linux.stop()


# -- #3: tshark on a capture under loss ---------------------------------------------------------

LOSSY = 8 * 1000 * 1000
# No reassembly of TCP streams for HTTP: Linux's retransmissions re-cut its segments at other
# boundaries, and tshark's reassembler calls such an overlap a "Malformed" error although
# every packet is well formed (and the body's digest agrees). Each packet is still dissected.
PREFS = ["-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE", "-o", "tcp.analyze_sequence_numbers:TRUE",
         "-o", "tcp.desegment_tcp_streams:FALSE"]
EXPERT_ERROR = 0x00800000  # PI_ERROR in epan/proto.h; notes and warnings (retransmissions) are not errors


def tshark(pcap, display, *fields):
    """Rows (lists of field strings) of the frames matching `display`."""
    argv = ["tshark", "-r", str(pcap), *PREFS, "-Y", display, "-T", "fields", "-E", "separator=/t", "-E", "occurrence=a", "-E", "aggregator=,"]
    for f in fields or ("frame.number",):
        argv += ["-e", f]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    return [line.split("\t") for line in p.stdout.splitlines() if line]


def test_tshark_on_a_capture_under_loss(linked_news, programs, tmp_path):
    news, ns = linked_news(nic={"in_loss": 1, "out_loss": 1})
    www, srv = tmp_path / "www", tmp_path / "srv"
    www.mkdir()
    srv.mkdir()
    write_file(www / "big.bin", LOSSY)
    write_file(srv / "big.bin", LOSSY)
    http = App(programs["http_server"], news.app_socket, "80", str(www))
    pyserver = subprocess.Popen(["ip", "netns", "exec", ns.name, "python3", "-m", "http.server", "8000", "--bind", LINUX_IP,
                                 "--directory", str(srv)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pcap = tmp_path / "lossy.pcap"
    capture = None
    try:
        wait_for(lambda: ns.exec("curl", "-s", "-o", "/dev/null", "--max-time", "1", f"http://{LINUX_IP}:8000/").returncode == 0,
                 5, interval=0.05, what="python http.server")
        capture = subprocess.Popen([binary("newsctl"), "capture", str(pcap), "--count", "200000", "--seconds", "12", "--socket", news.socket],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(0.5)
        # NEWS sends (its retransmissions) and NEWS receives (its SACKs), one after the other.
        r = ns.exec("curl", "-sS", "--max-time", "30", "-o", "/dev/null", "-w", "%{http_code} %{size_download}", f"http://{NEWS_IP}/big.bin")
        assert r.returncode == 0 and r.stdout == f"200 {LOSSY}", r.stdout + r.stderr
        g = subprocess.run([programs["http_get"], news.app_socket, f"http://{LINUX_IP}:8000/big.bin", str(tmp_path / "got.bin")],
                           capture_output=True, text=True, timeout=60)
        assert g.returncode == 0 and g.stdout.startswith(f"ok {LOSSY} "), g.stdout + g.stderr
        out, err = capture.communicate(timeout=30)
        assert capture.returncode == 0 and "frames to" in out, out + err
    finally:
        if capture is not None and capture.poll() is None:
            capture.kill()
            capture.wait()
        pyserver.kill()
        pyserver.wait()
        http.stop()
    nic = news.counters("nicdriver")
    print(out.strip(), {k: v for k, v in nic.items() if k.startswith("impair") or k.startswith("capture")})

    # The handshakes, both ways: window scale, timestamps and SACK-permitted in SYN and SYN-ACK.
    syns = tshark(pcap, "tcp.flags.syn == 1", "ip.src", "tcp.flags.ack", "tcp.options.wscale.shift", "tcp.options.timestamp.tsval",
                  "tcp.option_kind")
    seen = set()
    for src, ack, shift, tsval, kinds in syns:
        assert shift and tsval and "4" in kinds.split(","), f"{src} {'SYN-ACK' if ack == '1' else 'SYN'} lacks an option: {kinds}"
        seen.add((src, ack))
    assert seen == {(NEWS_IP, "0"), (NEWS_IP, "1"), (LINUX_IP, "0"), (LINUX_IP, "1")}, seen
    # NEWS, receiving with loss, tells what it holds beyond the hole.
    sacks = tshark(pcap, f"ip.src == {NEWS_IP} && tcp.options.sack_le")
    assert len(sacks) > 10, f"{len(sacks)} ACKs from NEWS with SACK blocks"
    # NEWS's retransmissions repair losses as they are found, not after a timeout: each comes
    # within a few RTTs (well under the 200 ms minimum RTO) of the first duplicate ACK asking
    # for it.
    news_data = tshark(pcap, f"ip.src == {NEWS_IP} && tcp.len > 0 && (tcp.analysis.retransmission || tcp.analysis.fast_retransmission)",
                       "frame.time_relative", "tcp.stream", "tcp.seq", "tcp.analysis.fast_retransmission", "tcp.analysis.rto")
    acks = tshark(pcap, f"ip.src == {LINUX_IP} && tcp.len == 0 && tcp.analysis.duplicate_ack", "frame.time_relative", "tcp.stream", "tcp.ack")
    first_ask = {}
    for t, stream, ack in acks:
        first_ask.setdefault((stream, ack), float(t))
    delays = [float(t) - first_ask[(stream, seq)] for t, stream, seq, _, _ in news_data if (stream, seq) in first_ask]
    fast = sum(1 for row in news_data if row[3])
    after_timeout = [row for row in news_data if row[4] and float(row[4]) >= 0.2]
    print(f"NEWS retransmissions: {len(news_data)}, fast {fast}, asked for by a dup ACK {len(delays)}, "
          f"after >= 200 ms {len(after_timeout)}; tcpserver counted {news.counters('tcpserver').get('segments_retransmitted')}")
    assert len(news_data) >= 10, news_data
    prompt = sum(1 for d in delays if d < 0.1)
    assert prompt >= 0.8 * len(news_data), f"only {prompt} of {len(news_data)} retransmissions within 100 ms of the dup ACK: {sorted(delays)[-10:]}"
    assert len(after_timeout) <= 0.1 * len(news_data), after_timeout[:10]
    # Nothing malformed, no bad checksums, no expert errors.
    assert tshark(pcap, "_ws.malformed || tcp.checksum.status == 2 || ip.checksum.status == 2") == []
    assert tshark(pcap, f"_ws.expert.severity == {EXPERT_ERROR}", "frame.number", "_ws.expert.message") == []
