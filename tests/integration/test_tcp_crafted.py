"""Issue 8: crafted segments against NEWS's TCP. scapy (tcp_scapy_peer.py, in the test's
namespace) plays the peer segment by segment, as a host of its own on the link
(198.18.0.20, a MAC the Linux kernel does not own, so the kernel never answers for it), and
each test asserts exactly what NEWS sends back (flags, sequence and acknowledgment numbers,
windows), the state `newsctl ss` shows, and tcpserver's counters. NEWS's side is
examples/tcp_echo.c (it echoes; when its peer shuts down it shuts down and closes) or
tcp_calls.c (one socket call per argument: NEWS as the active opener, a connection held in
one state, an application that does not read).

A SYN to a port nobody listens on is test_tcp_closed.py's (RST,ACK <SEQ=0><ACK=SEG.SEQ+1>).

Sequence numbers: NEWS's ISS is `iss`; the peer's initial sequence number `isn`; in a
test, `f.nxt` is the peer's SND.NXT (NEWS's RCV.NXT once NEWS has seen everything) and
`f.rcv` the peer's RCV.NXT (NEWS's SND.NXT)."""

import json
import queue
import subprocess
import threading
import time
from pathlib import Path

import pytest

from newsutil import BIN, Netns, News, wait_for

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
NEWS_IP, LINUX_IP = "198.18.0.2", "198.18.0.1"
NEWS_MAC = "02:4e:57:53:00:02"              # the [nic] mac default
PEER_IP, PEER_MAC = "198.18.0.20", "02:00:00:00:00:14"
SCAPY_PYTHON = "/usr/bin/python3"           # Debian's python, which has scapy
MSS_ONLY = {"mss": 1460}                    # what the peer offers unless a test says otherwise
WINDOW = 65535                              # NEWS's receive window with no scaling agreed
ECHO_PORT = 7
# No test here is about hangs: a long heartbeat period keeps a busy shared machine's
# scheduling delays from being taken for one (and the servers from being restarted).
HEARTBEAT = {"period_ms": 2000}


def mod32(n):
    return n % (1 << 32)


class Seg:
    """A segment NEWS sent, as the peer saw it."""

    def __init__(self, d):
        self.__dict__.update(d)
        self.data = bytes.fromhex(d["data"])

    def __repr__(self):
        extra = f" data={self.data[:16]!r}{'...' if len(self.data) > 16 else ''}" if self.data else ""
        return f"<{self.flags} seq={self.seq} ack={self.ack} win={self.win} len={len(self.data)}{extra} {self.opts}>"


class Peer:
    """The scapy process in the namespace (tcp_scapy_peer.py), one JSON request a line."""

    def __init__(self, ns):
        self.proc = subprocess.Popen(["ip", "netns", "exec", ns.name, SCAPY_PYTHON, str(HERE / "tcp_scapy_peer.py"), ns.tap,
                                      PEER_IP, PEER_MAC, NEWS_IP, NEWS_MAC], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith('{"ready"'):
            self.proc.kill()
            raise AssertionError(f"scapy peer did not start: {line!r}\n{self.proc.stderr.read()}")

    def call(self, **request):
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, f"scapy peer exited: {self.proc.stderr.read() if self.proc.poll() is not None else ''}"
        reply = json.loads(line)
        assert "error" not in reply, reply["error"]
        return reply

    def recv(self, port, count=1, timeout=2.0, settle=0.0):
        return [Seg(s) for s in self.call(op="recv", port=port, count=count, timeout=timeout, settle=settle)["segs"]]

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Flow:
    """One connection as the peer plays it: its port, NEWS's port, `nxt` (the peer's next
    sequence number) and `rcv` (what it acknowledges: NEWS's next). With `tsval` set,
    every segment carries a timestamp option (TSval `tsval`, counting up; TSecr the last
    TSval NEWS sent)."""

    def __init__(self, peer, port, news_port=ECHO_PORT, isn=1_000_000, win=65535):
        self.peer, self.port, self.news_port = peer, port, news_port
        self.isn = self.nxt = isn
        self.rcv = 0
        self.win = win
        self.tsval = None
        self.tsecr = 0

    def send(self, flags="A", data=b"", seq=None, ack=None, win=None, urg=0, opts=None, tsval=None):
        if opts is None and self.tsval is not None:
            if tsval is None:
                self.tsval += 1
            opts = {"ts": [self.tsval if tsval is None else tsval, self.tsecr]}
        self.peer.call(op="send", sport=self.port, dport=self.news_port, flags=flags, seq=mod32(self.nxt if seq is None else seq),
                       ack=mod32(self.rcv if ack is None else ack), win=self.win if win is None else win, urg=urg, data=data.hex(),
                       opts=opts or {})
        if seq is None:
            self.nxt = mod32(self.nxt + len(data) + ("S" in flags) + ("F" in flags))

    def recv(self, count=1, timeout=2.0, settle=0.0):
        segs = self.peer.recv(self.port, count, timeout, settle)
        for s in segs:
            if "ts" in s.opts:
                self.tsecr = s.opts["ts"][0]
        return segs

    def one(self, timeout=2.0, settle=0.3, ignore=lambda s: False):
        """The one segment NEWS sends next (besides those `ignore` accepts), and nothing more
        within `settle` seconds."""
        segs = [s for s in self.recv(1, timeout, settle) if not ignore(s)]
        if not segs:
            segs = [s for s in self.recv(1, max(0.0, timeout - settle), settle) if not ignore(s)]
        assert len(segs) == 1, f"expected exactly one segment, got {segs}"
        return segs[0]

    def quiet(self, wait=0.3, ignore=lambda s: False):
        segs = [s for s in self.recv(1, wait) if not ignore(s)]
        assert not segs, f"expected nothing, got {segs}"

    def connect(self, opts=MSS_ONLY):
        """The peer's active open to NEWS's listener; returns NEWS's SYN-ACK."""
        self.send("S", opts=opts)
        sa = self.one(settle=0)
        assert sa.flags == "SA" and sa.ack == self.nxt, sa
        self.iss = sa.seq
        self.rcv = mod32(sa.seq + 1)
        self.send("A")
        return sa

    def collect(self, nbytes, timeout=3.0, fin=False):
        """NEWS's data in order until `nbytes` came (and its FIN, with `fin`), each segment
        acknowledged; returns (data, segments)."""
        got, segs = b"", []
        deadline = time.monotonic() + timeout
        while len(got) < nbytes or (fin and not any("F" in s.flags for s in segs)):
            left = deadline - time.monotonic()
            assert left > 0, f"{len(got)} of {nbytes} bytes{' and no FIN' if fin else ''} after {timeout} s: {segs}"
            for s in self.recv(1, left):
                segs.append(s)
                if s.seq == self.rcv and (s.data or "F" in s.flags):
                    got += s.data
                    self.rcv = mod32(self.rcv + len(s.data) + ("F" in s.flags))
                    self.send("A")
        return got, segs

    def echo(self, data, flags="PA", **kw):
        """Sends `data` and returns what NEWS's echo app sent back for it."""
        self.send(flags, data, **kw)
        got, _ = self.collect(len(data))
        return got

    def reset(self):
        self.send("R", ack=0)


class Calls:
    """tcp_calls.c running CALLS; `next()` is its next result line. `go()` lets a "wait" call
    return."""

    def __init__(self, exe, app_socket, *calls):
        self.proc = subprocess.Popen([exe, app_socket, *calls], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line.strip())
        self.lines.put(None)

    def next(self, timeout=5.0):
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"tcp_calls: no result within {timeout} s") from None
        assert line is not None, f"tcp_calls exited {self.proc.wait()}: {self.proc.stderr.read()}"
        return line

    def go(self):
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def compile_c(out, name, source):
    exe = out / name
    cc = subprocess.run(["cc", "-O2", "-Wall", "-Werror", f"-I{ROOT / 'include'}", str(source), f"-L{BIN}", "-lnews",
                         f"-Wl,-rpath,{BIN}", "-o", str(exe)], capture_output=True, text=True)
    assert cc.returncode == 0, cc.stderr
    return str(exe)


class Stack:
    """One newsd linked to a namespace, the scapy peer in it and the echo app, shared by the
    tests of this module: each test uses ports of its own (`port()`), and counters as
    differences."""

    def __init__(self, tmp):
        self.ns = Netns()
        self.news = self.peer = self.echo_app = None
        self.next_port = 20000
        self.next_news_port = 5000
        try:
            (tmp / "news").mkdir()
            self.news = News(tmp / "news", nic=self.ns.nic_config()["nic"], heartbeat=HEARTBEAT)
            self.news.start()
            self.ns.configure()
            self.calls_exe = compile_c(tmp, "tcp_calls", HERE / "tcp_calls.c")
            echo_exe = compile_c(tmp, "tcp_echo", ROOT / "examples" / "tcp_echo.c")
            self.echo_app = subprocess.Popen([echo_exe, self.news.app_socket, str(ECHO_PORT)], stdout=subprocess.PIPE,
                                             stderr=subprocess.PIPE, text=True)
            assert self.echo_app.stdout.readline().startswith("listening"), self.echo_app.stderr.read()
            self.peer = Peer(self.ns)
        except BaseException:
            self.close()
            raise

    def port(self):
        self.next_port += 1
        return self.next_port

    def news_port(self):
        self.next_news_port += 1
        return self.next_news_port

    def flow(self, news_port=ECHO_PORT, **kw):
        p = self.port()
        return Flow(self.peer, p, news_port, isn=p * 100_000, **kw)

    def calls(self, *calls):
        c = Calls(self.calls_exe, self.news.app_socket, *calls)
        self.started.append(c)
        return c

    def counters(self):
        return self.news.counters("tcpserver")

    def state(self, flow):
        """NEWS's state (newsctl ss) of the connection with `flow`'s port, or None."""
        mine = [s["state"] for s in self.news.ctl("ss")["sockets"] if s["remote"] == f"{PEER_IP}:{flow.port}"]
        assert len(mine) <= 1, mine
        return mine[0] if mine else None

    def wait_state(self, flow, state, timeout=3.0):
        wait_for(lambda: self.state(flow) == state, timeout, interval=0.05, what=f"ss to show {state} for port {flow.port}")

    def close(self):
        if self.peer:
            self.peer.close()
        if self.echo_app:
            self.echo_app.kill()
            self.echo_app.wait()
        if self.news:
            self.news.stop()
        self.ns.close()


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    s = Stack(tmp_path_factory.mktemp("crafted"))
    yield s
    s.close()


@pytest.fixture
def stack(shared, request):
    shared.started = []
    yield shared
    for c in shared.started:
        c.stop()
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        print(json.dumps(shared.news.ctl("ss")["sockets"], indent=1))
        print(shared.counters())
        print("----- newsd log (tail) -----\n" + "\n".join(shared.news.log().splitlines()[-40:]))


def delta(before, after):
    return {k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)}



def fin_of(s):
    return "F" in s.flags


def app_connection(stack, *after_accept):
    """NEWS's side from tcp_calls: listen on a port of its own, accept one connection, then
    `after_accept`; the peer connects. Returns (flow, calls)."""
    news_port = stack.news_port()
    calls = stack.calls(f"listen {news_port}", "accept", *after_accept)
    assert calls.next() == "ok 0"
    f = stack.flow(news_port)
    f.connect()
    assert calls.next() == f"ok {f.port}"
    return f, calls


def news_syn(f):
    """NEWS's SYN to the peer's port (NEWS connects): learns NEWS's port and ISS."""
    syn = f.one(settle=0)
    assert syn.flags == "S" and syn.ack == 0, syn
    f.news_port, f.iss, f.rcv = syn.sport, syn.seq, mod32(syn.seq + 1)
    return syn


# --- 1. RST (RFC 9293 3.10.7, RFC 5961 3.2) and SYN (RFC 5961 4.2) in every state ------------

def test_rst_in_syn_sent(stack):
    """SYN-SENT has no RCV.NXT yet: a RST is acceptable only with an ACK of our SYN (RFC 9293
    3.10.7.3, kept by RFC 5961 3.2), then connect fails with ECONNREFUSED. A RST without an
    ACK, or with an ACK outside ISS+1, is dropped without a reply. (A SYN-ACK with such an
    ACK gets <SEQ=SEG.ACK><CTL=RST> and changes nothing either.)"""
    f = stack.flow(news_port=None)
    calls = stack.calls(f"connect {PEER_IP} {f.port}", "error")
    news_syn(f)
    stack.wait_state(f, "SYN-SENT")
    again = lambda s: s.flags == "S" and s.seq == f.iss  # the SYN's retransmission (1 s on)
    f.send("SA", seq=f.isn, ack=f.iss + 100, opts=MSS_ONLY)
    rst = f.one(ignore=again)
    assert (rst.flags, rst.seq) == ("R", f.iss + 100), rst
    f.send("R", seq=12345, ack=0)
    f.send("RA", seq=0, ack=f.iss + 2)
    f.send("RA", seq=0, ack=f.iss)
    f.quiet(0.4, ignore=again)
    assert stack.state(f) == "SYN-SENT"
    before = stack.counters()
    f.send("RA", seq=0, ack=f.iss + 1)
    assert calls.next() == "err ECONNREFUSED"
    assert calls.next() == "ok 0", "the error was reported by connect, not left pending"
    stack.wait_state(f, None)
    f.quiet(0.2, ignore=again)
    d = delta(before, stack.counters())
    assert d.get("connections_failed_refused") == 1 and d.get("resets_received") == 1, d
    assert "resets_out" not in d, d


def test_rst_in_syn_received(stack):
    """Passive SYN-RECEIVED: an in-window RST with SEQ != RCV.NXT gets one challenge ACK
    <SEQ=ISS+1><ACK=RCV.NXT> and the handshake still completes; with SEQ = RCV.NXT the
    half-open connection goes, so the handshake's ACK then finds only the listener, which
    answers <SEQ=SEG.ACK><CTL=RST>."""
    before = stack.counters()
    f = stack.flow()
    f.send("S", opts=MSS_ONLY)
    sa = f.one(settle=0)
    assert sa.flags == "SA" and sa.ack == f.nxt, sa
    f.iss, f.rcv = sa.seq, mod32(sa.seq + 1)
    again = lambda s: s.flags == "SA" and s.seq == f.iss  # the SYN-ACK's retransmission
    f.send("R", seq=f.nxt + 1000)
    ch = f.one(ignore=again)
    assert (ch.flags, ch.seq, ch.ack) == ("A", f.iss + 1, f.nxt), ch
    f.send("A")
    assert f.echo(b"still here") == b"still here"
    stack.wait_state(f, "ESTAB")
    f.reset()

    g = stack.flow()
    g.send("S", opts=MSS_ONLY)
    sa = g.one(settle=0)
    g.iss, g.rcv = sa.seq, mod32(sa.seq + 1)
    g.send("R")
    g.quiet(0.3)
    g.send("A")
    rst = g.one()
    assert (rst.flags, rst.seq) == ("R", g.iss + 1), rst
    d = delta(before, stack.counters())
    assert d.get("challenge_acks_sent") == 1 and d.get("resets_received") == 2 and d.get("syns_accepted") == 2, d
    assert d.get("connections_accepted") == 1, d


def test_rst_in_active_syn_received(stack):
    """SYN-RECEIVED from a simultaneous open: an in-window RST with SEQ != RCV.NXT gets a
    challenge ACK <SEQ=ISS+1><ACK=RCV.NXT>; at RCV.NXT, "If this connection was initiated
    with an active OPEN ... then the connection was refused" (RFC 9293 3.10.7.4): connect
    fails with ECONNREFUSED."""
    f = stack.flow(news_port=None)
    calls = stack.calls(f"connect {PEER_IP} {f.port}")
    news_syn(f)
    f.send("S", opts=MSS_ONLY)
    sa = f.one(settle=0)
    assert (sa.flags, sa.seq, sa.ack) == ("SA", f.iss, f.nxt), sa
    stack.wait_state(f, "SYN-RECV")
    again = lambda s: s.flags in ("S", "SA") and s.seq == f.iss
    before = stack.counters()
    f.send("R", seq=f.nxt + 1000)
    ch = f.one(ignore=again)
    assert (ch.flags, ch.seq, ch.ack) == ("A", f.iss + 1, f.nxt), ch
    assert stack.state(f) == "SYN-RECV"
    f.send("R")
    assert calls.next() == "err ECONNREFUSED"
    stack.wait_state(f, None)
    f.quiet(0.2, ignore=again)
    d = delta(before, stack.counters())
    assert d.get("challenge_acks_sent") == 1 and d.get("connections_failed_refused") == 1, d


def challenge_then_reset(stack, f, state, sent_next, ignore=lambda s: False, syn=False):
    """`f`'s connection is in `state` with NEWS's SND.NXT `sent_next`: an in-window RST
    with SEQ != RCV.NXT (and, with `syn`, an in-window SYN) gets exactly one challenge ACK
    <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> and changes nothing; a RST beyond the window
    nothing at all; then the RST at RCV.NXT ends the connection, silently."""
    stack.wait_state(f, state)
    before = stack.counters()
    f.send("R", seq=f.nxt + 1000)
    ch = f.one(ignore=ignore)
    assert (ch.flags, ch.seq, ch.ack, ch.data) == ("A", sent_next, f.nxt, b""), ch
    challenges = 1
    if syn:
        f.send("S", seq=f.nxt + 500, opts=MSS_ONLY)
        ch = f.one(ignore=ignore)
        assert (ch.flags, ch.seq, ch.ack, ch.data) == ("A", sent_next, f.nxt, b""), ch
        challenges += 1
    f.send("R", seq=f.nxt + 3 * WINDOW)
    f.quiet(0.3, ignore=ignore)
    assert stack.state(f) == state
    f.send("R")
    stack.wait_state(f, None)
    f.quiet(0.2, ignore=ignore)
    d = delta(before, stack.counters())
    assert d.get("challenge_acks_sent") == challenges and d.get("resets_received") == 1, d
    assert "resets_out" not in d, d
    return d


def test_rst_in_established(stack):
    f, calls = app_connection(stack, "recv 100", "recv 100")
    f.send("PA", b"ping")
    assert calls.next() == "ok 4 70696e67"
    ack = f.one()
    assert (ack.flags, ack.seq, ack.ack) == ("A", f.rcv, f.nxt), ack
    d = challenge_then_reset(stack, f, "ESTAB", f.rcv, syn=True)
    assert calls.next() == "err ECONNRESET"
    assert d.get("connections_failed_reset") == 1, d
    # The connection is gone: a segment for it is answered as for no connection.
    f.send("PA", b"late")
    rst = f.one()
    assert (rst.flags, rst.seq) == ("R", f.rcv), rst


def test_rst_in_fin_wait_1(stack):
    f, calls = app_connection(stack, "shutdown wr", "recv 100")
    assert calls.next() == "ok 0"
    fin = f.one(settle=0)
    assert (fin.flags, fin.seq, fin.ack) == ("FA", f.rcv, f.nxt), fin
    # Not acknowledged: NEWS retransmits the FIN meanwhile, which is not a reply.
    challenge_then_reset(stack, f, "FIN-WAIT-1", f.rcv + 1, ignore=fin_of)
    assert calls.next() == "err ECONNRESET"


def test_rst_in_fin_wait_2(stack):
    f, calls = app_connection(stack, "shutdown wr", "recv 100")
    assert calls.next() == "ok 0"
    fin = f.one(settle=0)
    assert (fin.flags, fin.seq) == ("FA", f.rcv), fin
    f.rcv += 1
    f.send("A")
    challenge_then_reset(stack, f, "FIN-WAIT-2", f.rcv, syn=True)
    assert calls.next() == "err ECONNRESET"


def test_rst_in_close_wait(stack):
    f, calls = app_connection(stack, "recv 100", "wait", "send 10", "send 10")
    f.send("FA")
    ack = f.one()
    assert (ack.flags, ack.seq, ack.ack) == ("A", f.rcv, f.nxt), ack
    assert calls.next() == "ok 0"
    challenge_then_reset(stack, f, "CLOSE-WAIT", f.rcv, syn=True)
    calls.go()
    assert calls.next() == "ok 0"
    assert calls.next() == "err ECONNRESET", "the reset is reported once..."
    assert calls.next() == "err EPIPE", "... then the socket is closed for sending"


def test_rst_in_last_ack(stack):
    """The echo app closes once the peer's FIN arrived: LAST-ACK while its FIN waits."""
    f = stack.flow()
    f.connect()
    assert f.echo(b"bye") == b"bye"
    f.send("FA")
    segs = []
    deadline = time.monotonic() + 3
    while not any(fin_of(s) for s in segs):
        assert time.monotonic() < deadline, segs
        segs += f.recv(1, 1)
    fin = next(s for s in segs if fin_of(s))
    assert (fin.seq, fin.ack) == (f.rcv, f.nxt), segs
    assert all(s.ack == f.nxt and not s.data for s in segs), segs
    challenge_then_reset(stack, f, "LAST-ACK", f.rcv + 1, ignore=fin_of)


def test_rst_in_closing(stack):
    """Both FINs cross: NEWS's is not acknowledged by the peer's, so NEWS is in CLOSING."""
    f, calls = app_connection(stack, "shutdown wr", "recv 100")
    assert calls.next() == "ok 0"
    fin = f.one(settle=0)
    assert (fin.flags, fin.seq) == ("FA", f.rcv), fin
    f.send("FA")  # acknowledges only what came before NEWS's FIN
    ack = f.one(ignore=fin_of)
    assert (ack.flags, ack.seq, ack.ack) == ("A", f.rcv + 1, f.nxt), ack
    assert calls.next() == "ok 0"
    challenge_then_reset(stack, f, "CLOSING", f.rcv + 1, ignore=fin_of)


def time_wait(stack, *after_close):
    """A connection NEWS closed first and the peer then closed too: NEWS in TIME-WAIT."""
    f, calls = app_connection(stack, "close", *after_close)
    assert calls.next() == "ok 0"
    fin = f.one(settle=0)
    assert (fin.flags, fin.seq, fin.ack) == ("FA", f.rcv, f.nxt), fin
    f.rcv += 1
    f.send("FA")
    ack = f.one()
    assert (ack.flags, ack.seq, ack.ack, ack.data) == ("A", f.rcv, f.nxt, b""), ack
    stack.wait_state(f, "TIME-WAIT")
    return f, calls


def test_rst_in_time_wait(stack):
    """RFC 5961 applies in TIME-WAIT too; a RST at RCV.NXT ends it early (Linux does so as
    well unless net.ipv4.tcp_rfc1337 is set)."""
    f, calls = time_wait(stack, "wait")
    challenge_then_reset(stack, f, "TIME-WAIT", f.rcv)


# --- 2. Segments outside the window; an ACK of data never sent --------------------------------

def test_out_of_window_segments_get_a_duplicate_ack_and_change_nothing(stack):
    f = stack.flow()
    f.connect()
    assert f.echo(b"hello") == b"hello"
    before = stack.counters()
    dup = lambda s: (s.flags, s.seq, s.ack, s.data) == ("A", f.rcv, f.nxt, b"")
    # Beyond the right edge (NEWS offers 65535 at most, unscaled), just below RCV.NXT (all
    # old: a duplicate), and a bare ACK with SEQ beyond the window.
    for seq, data in ((f.nxt + WINDOW + 10, b"far ahead"), (f.nxt - 5, b"hello"), (f.nxt + 2 * WINDOW, b"")):
        f.send("PA", data, seq=seq)
        ack = f.one()
        assert dup(ack), (seq - f.nxt, ack)
    # SEG.ACK > SND.NXT: RFC 9293 3.10.7.4 "send an ACK, drop the segment" (its data too).
    f.send("PA", b"XYZ", seq=f.nxt, ack=f.rcv + 1000)
    ack = f.one()
    assert dup(ack), ack
    d = delta(before, stack.counters())
    assert d.get("out_of_window") == 3 and d.get("acks_of_unsent_data") == 1, d
    # Nothing of that reached the application: the next bytes at RCV.NXT come back alone.
    assert f.echo(b"ok") == b"ok"
    f.quiet(0.2)
    assert stack.state(f) == "ESTAB"
    f.reset()


# --- 4. Simultaneous open and simultaneous close ----------------------------------------------

def test_simultaneous_open(stack):
    """NEWS connects; the peer answers with a SYN of its own instead of a SYN-ACK (RFC 9293
    figure 8): NEWS goes to SYN-RECEIVED and sends <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>, its
    same ISS, offering only what the peer's SYN offered; the peer's SYN-ACK completes it."""
    f = stack.flow(news_port=None)
    calls = stack.calls(f"connect {PEER_IP} {f.port}", "send 5", "recv 100", "close")
    syn = news_syn(f)
    assert {"mss", "ws", "ts", "sackok"} <= set(syn.opts), syn
    f.send("S", opts=MSS_ONLY, ack=0)
    sa = f.one(settle=0)
    assert (sa.flags, sa.seq, sa.ack) == ("SA", f.iss, f.nxt), sa
    assert sa.opts == {"mss": 1460}, f"WS, TS and SACK only if the peer's SYN had them: {sa}"
    stack.wait_state(f, "SYN-RECV")
    f.send("SA", seq=f.isn)  # the peer's own SYN-ACK, for NEWS's SYN: SEQ is its ISN again
    assert calls.next() == f"ok {f.news_port}"
    assert calls.next() == "ok 5"
    got, segs = f.collect(5)
    assert got == b"abcde" and segs[-1].seq == f.iss + 1, segs
    stack.wait_state(f, "ESTAB")
    f.send("PA", b"hi")
    assert calls.next() == "ok 2 6869"
    f.reset()


def test_simultaneous_close(stack):
    """Both FINs cross: NEWS in FIN-WAIT-1 gets the peer's FIN, which does not acknowledge
    NEWS's: CLOSING, and an ACK of the peer's FIN; then the ACK of NEWS's FIN: TIME-WAIT."""
    f, calls = app_connection(stack, "wait", "shutdown wr", "recv 100", "close")
    calls.go()
    assert calls.next() == "ok 0"
    assert calls.next() == "ok 0"
    fin = f.one(settle=0)
    assert (fin.flags, fin.seq, fin.ack) == ("FA", f.rcv, f.nxt), fin
    f.send("FA")
    ack = f.one(ignore=fin_of)
    assert (ack.flags, ack.seq, ack.ack) == ("A", f.rcv + 1, f.nxt), ack
    assert calls.next() == "ok 0"
    stack.wait_state(f, "CLOSING")
    f.rcv += 1
    f.send("A")
    stack.wait_state(f, "TIME-WAIT")
    assert calls.next() == "ok 0"
    f.quiet(0.3, ignore=lambda s: fin_of(s) and s.seq == f.rcv - 1)  # a retransmission already on its way
    assert stack.state(f) == "TIME-WAIT", "the application's close leaves TIME-WAIT alone"


# --- 5. Half-close with data flowing the other way ---------------------------------------------

def test_half_close_data_flows_after_the_peers_fin(stack):
    """The peer sends 6000 bytes, its FIN on the last segment: NEWS acknowledges the FIN,
    the echo app still sends all 6000 bytes back (the last of them necessarily after the
    FIN arrived), each acknowledged, and only then its own FIN, after the last byte."""
    f = stack.flow()
    f.connect()
    data = bytes(range(256)) * 23 + b"end!" * 28  # 6000 bytes
    for k in range(0, len(data), 1460):
        f.send("PA" if k + 1460 < len(data) else "FPA", data[k:k + 1460])
    peer_fin = f.nxt
    got, segs = f.collect(len(data), timeout=5, fin=True)
    assert got == data
    fin = next(s for s in segs if fin_of(s))
    assert (fin.seq + len(fin.data), fin.ack) == (f.iss + 1 + len(data), peer_fin), fin
    last = max((s for s in segs if s.data), key=lambda s: s.seq)
    assert last.ack == peer_fin, f"the last data went before the peer's FIN was acknowledged: {last}"
    assert all(s.seq + len(s.data) <= fin.seq + len(fin.data) for s in segs if s.data)
    stack.wait_state(f, None)  # LAST-ACK ended by the peer's ACK of NEWS's FIN
    f.quiet(0.3)


# --- 6. Zero windows --------------------------------------------------------------------------

def test_peer_zero_window_is_probed_with_backoff(stack):
    """The peer's window closes while the echo app has 3000 bytes to send: NEWS sends no
    data, but Linux-style zero-window probes <SEQ=SND.UNA-1><ACK=RCV.NXT><CTL=ACK>, no data,
    each after a longer wait than the last (RFC 9293 3.8.6.1); answered with the window
    still 0 they go on; once the window opens the data follows at SND.UNA."""
    f = stack.flow()
    f.connect()
    assert f.echo(b"x") == b"x"
    before = stack.counters()
    f.win = 0
    data = b"0123456789" * 300
    f.send("PA", data[:1460])
    f.send("PA", data[1460:2920])
    f.send("PA", data[2920:])
    probes, acks, t0 = [], [], time.monotonic()
    while len(probes) < 4:
        assert time.monotonic() - t0 < 8, (probes, acks)
        for s in f.recv(1, 1.0):
            assert not s.data and "F" not in s.flags, f"NEWS sent into a zero window: {s}"
            if s.seq == f.rcv - 1:
                probes.append(s)
                f.send("A")  # "still 0"
            else:
                assert (s.flags, s.seq) == ("A", f.rcv), s
                acks.append(s)
    assert acks and acks[-1].ack == f.nxt, acks
    assert all((p.flags, p.ack) == ("A", f.nxt) for p in probes), probes
    gaps = [b.t - a.t for a, b in zip(probes, probes[1:])]
    assert all(later > 1.4 * earlier for earlier, later in zip(gaps, gaps[1:])), f"probe intervals {gaps}"
    assert stack.state(f) == "ESTAB"
    f.win = 65535
    f.send("A")
    got, segs = f.collect(len(data))
    assert got == data and segs[0].seq == probes[-1].seq + 1, segs
    d = delta(before, stack.counters())
    assert d.get("zero_window_probes") == len(probes), d
    f.reset()


def test_news_zero_window_when_the_app_does_not_read(stack):
    """NEWS's receive area is 4 KiB (SO_RCVBUF) and its application does not read: the
    window NEWS advertises shrinks by what arrives, down to 0; then the peer's probe (SEQ =
    RCV.NXT-1) and a one-byte probe at RCV.NXT both get <ACK=RCV.NXT> with window 0 (the
    byte is not taken). Once the application reads, NEWS says its window opened."""
    f = stack.flow(news_port=None)
    calls = stack.calls("rcvbuf 4096", f"connect {PEER_IP} {f.port}", "wait", "recv 8192", "wait")
    assert calls.next() == "ok 0"
    syn = news_syn(f)
    assert syn.win == 4096 and "ws" in syn.opts, syn
    f.send("SA", opts=MSS_ONLY)
    ack = f.one(settle=0)
    assert (ack.flags, ack.seq, ack.ack, ack.win) == ("A", f.rcv, f.nxt, 4096), ack
    assert calls.next() == f"ok {f.news_port}"
    sent = b""
    for size in (1000, 1000, 1000, 1000, 96):
        chunk = bytes([65 + len(sent) // 1000]) * size
        f.send("PA", chunk)
        sent += chunk
        ack = f.one()
        assert (ack.flags, ack.ack, ack.win) == ("A", f.nxt, 4096 - len(sent)), (len(sent), ack)
    assert ack.win == 0
    f.send("A", seq=f.nxt - 1)
    ack = f.one()
    assert (ack.flags, ack.seq, ack.ack, ack.win) == ("A", f.rcv, f.nxt, 0), ack
    f.send("PA", b"Z", seq=f.nxt)
    ack = f.one()
    assert (ack.flags, ack.seq, ack.ack, ack.win) == ("A", f.rcv, f.nxt, 0), ack
    calls.go()
    assert calls.next() == "ok 0"
    line = calls.next().split()
    assert line[:2] == ["ok", "4096"] and bytes.fromhex(line[2]) == sent, line[:2]
    update = f.one()
    assert (update.flags, update.ack) == ("A", f.nxt) and update.win >= 4096 - 1460, update
    f.send("PA", b"Z")
    assert f.one().ack == f.nxt
    f.reset()


# --- 7. TIME-WAIT -----------------------------------------------------------------------------

def test_time_wait_re_acks_an_old_fin_and_a_new_syn_reopens_it(stack):
    """NEWS closed first: TIME-WAIT. The peer's FIN again (its ACK was lost, it thinks)
    gets NEWS's ACK again; an old SYN (below RCV.NXT) gets an ACK and leaves TIME-WAIT alone;
    a SYN above RCV.NXT on the same 4-tuple is a new incarnation (RFC 6191, and RFC 9293
    3.6.1 without timestamps), accepted at once by the listener: a new connection."""
    f, calls = time_wait(stack, "accept", "recv 100")
    fin_seq = f.nxt - 1
    before = stack.counters()
    f.send("FA", seq=fin_seq)
    ack = f.one()
    assert (ack.flags, ack.seq, ack.ack, ack.data) == ("A", f.rcv, f.nxt, b""), ack
    f.send("S", seq=f.isn - 1000, opts=MSS_ONLY)
    ack = f.one()
    assert (ack.flags, ack.seq, ack.ack) == ("A", f.rcv, f.nxt), ack
    assert stack.state(f) == "TIME-WAIT"
    assert "time_wait_reused" not in delta(before, stack.counters())

    g = Flow(stack.peer, f.port, f.news_port, isn=f.nxt + 100_000)
    sa = g.connect()
    assert sa.seq != f.iss
    assert calls.next() == f"ok {f.port}"
    stack.wait_state(g, "ESTAB")
    g.send("PA", b"again")
    assert calls.next() == "ok 5 " + b"again".hex()
    assert delta(before, stack.counters()).get("time_wait_reused") == 1
    g.reset()


# --- 8. PAWS ----------------------------------------------------------------------------------

def test_paws_rejects_an_old_timestamp(stack):
    """With timestamps agreed, a segment whose TSval is older than TS.Recent is dropped
    (RFC 7323 5.3) and answered with an ACK that acknowledges nothing new; its data never
    reaches the application. The same bytes with a fresh TSval are taken."""
    f = stack.flow()
    f.tsval = 1_000
    sa = f.connect(opts={"mss": 1460, "ts": [1_000, 0]})
    assert "ts" in sa.opts and sa.opts["ts"][1] == 1_000, sa
    assert f.echo(b"aaaa") == b"aaaa"
    recent = f.tsval
    before = stack.counters()
    f.send("PA", b"bbbb", tsval=recent - 100)
    ack = f.one()
    assert (ack.flags, ack.seq, ack.ack, ack.data) == ("A", f.rcv, f.nxt - 4, b""), ack
    assert ack.opts["ts"][1] == recent, f"TSecr must stay TS.Recent: {ack}"
    assert delta(before, stack.counters()).get("paws_rejected") == 1
    f.nxt -= 4
    assert f.echo(b"cccc") == b"cccc"
    f.quiet(0.2)
    f.reset()


# --- 9. URG -----------------------------------------------------------------------------------

def test_urgent_data_is_delivered_inline(stack):
    """NEWS keeps urgent data inline (RFC 6093): a segment with URG and an urgent pointer,
    within its data, at 0, or far beyond it, is plain data, echoed whole."""
    f = stack.flow()
    f.connect()
    assert f.echo(b"0123456789", flags="PAU", urg=5) == b"0123456789"
    assert f.echo(b"abc", flags="PAU", urg=0) == b"abc"
    assert f.echo(b"xyz", flags="AU", urg=60_000) == b"xyz"
    assert f.echo(b"plain") == b"plain"
    assert stack.counters().get("urgent_ignored", 0) >= 3
    assert all(s["restarts"] == 0 for s in stack.news.servers().values())
    f.reset()


# --- 10. A SYN flood --------------------------------------------------------------------------

# A Linux client in the namespace: for DURATION seconds, one connection after another to the
# echo app, each sending a line and reading it back; prints [start, seconds, ok or error]
# per attempt, as JSON.
CLIENT = r'''
import json, socket, sys, time
host, port, duration = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
out = []
end = time.monotonic() + duration
while time.monotonic() < end:
    t = time.monotonic()
    try:
        s = socket.create_connection((host, port), timeout=5)
        s.settimeout(5)
        msg = b"through the flood %d" % len(out)
        s.sendall(msg)
        got = b""
        while len(got) < len(msg):
            b = s.recv(100)
            if not b:
                break
            got += b
        s.close()
        out.append([t, time.monotonic() - t, got == msg or repr(got)])
    except OSError as e:
        out.append([t, time.monotonic() - t, str(e)])
    time.sleep(0.1)
print(json.dumps(out))
'''

FLOOD = 10_000


def test_syn_flood_gets_cookies_and_a_real_client_still_connects(linked_news, tmp_path):
    """10,000 SYNs from spoofed addresses 198.18.0.100-250 (the link's own /24, nobody's:
    NEWS's SYN-ACKs to them go unanswered) and random ports, back to back, while a Linux
    client connects to the echo app again and again: once the half-open queue is full
    NEWS answers with SYN cookies (RFC 4987 3.6), the client's connections keep working,
    each within a few seconds, and no server restarts."""
    news, ns = linked_news(heartbeat=HEARTBEAT)
    echo = subprocess.Popen([compile_c(tmp_path, "tcp_echo", ROOT / "examples" / "tcp_echo.c"), news.app_socket, str(ECHO_PORT)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peer = None
    try:
        assert echo.stdout.readline().startswith("listening")
        peer = Peer(ns)
        servers = news.servers()
        client = subprocess.Popen(["ip", "netns", "exec", ns.name, "python3", "-c", CLIENT, NEWS_IP, str(ECHO_PORT), "4"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(0.5)
        flood = peer.call(op="flood", count=FLOOD, dport=ECHO_PORT, first=100, last=250)
        out, err = client.communicate(timeout=30)
        attempts = json.loads(out)
        c = news.counters("tcpserver")
        print(f"flood: {flood}; tcpserver: {c}; attempts: {attempts}")
        # Where the rest of the burst went (the TAP's queue, full rings: dropped and counted).
        for name in ("nicdriver", "ipserver"):
            print(name, {k: v for k, v in news.counters(name).items() if "drop" in k and v})
        assert flood["sent"] == FLOOD
        assert all(a[2] is True for a in attempts), attempts
        assert all(a[1] < 3.0 for a in attempts), attempts
        during = [a for a in attempts if a[0] >= flood["start"]]
        assert len(during) >= 5, attempts
        # Half-open connections up to the listener's limit (256), cookies for every SYN past
        # it that reached tcpserver: all but the client's own segments (at most 6 each:
        # SYN, ACK, data, FIN, ACKs) were answered one way or the other.
        assert c.get("syns_accepted", 0) <= 256 + len(attempts), c
        assert c.get("syn_cookies_sent", 0) >= 100, c
        assert c["syns_accepted"] + c["syn_cookies_sent"] >= c["segments_in"] - 6 * len(attempts), c
        assert c.get("syn_cookies_accepted", 0) >= 1, "the client's later connections came through cookies"
        after = news.servers()
        for name, s in servers.items():
            assert after[name]["state"] == "running" and after[name]["restarts"] == 0 and after[name]["pid"] == s["pid"], \
                f"{name} restarted during the flood: {s} -> {after[name]}"
    finally:
        if peer:
            peer.close()
        echo.kill()
        echo.wait()
