"""Issue 8: "everything the application can write is validated as in the UDP path". A hostile
program (hostile_app.py's tcp-* modes, run as an unprivileged uid) attacks tcpserver and newsd
through its TCP sockets' regions and requests, while a well-behaved application (the C echo
example on NEWS) echoes a steady stream of megabytes for a Linux client in the test's
namespace, and a second well-behaved listener holds spares the hostile one tries to take.
After each attack: no server failed or restarted, `newsctl status` answered within a second
throughout, every echoed byte came back intact, tcpserver counted what it refused, and newsd
still makes new TCP sockets that carry a fresh connection."""

import contextlib
import json
import os
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

from newsutil import BIN, SERVERS
from test_hostile import HOSTILE, HOSTILE_UID, as_user, finished

ROOT = Path(__file__).resolve().parents[2]
PEER = str(Path(__file__).with_name("tcp_peer.py"))
NEWS_IP = "198.18.0.2"
ECHO_PORT, OTHER_PORT, LATE_PORT = 7, 8, 9
LINUX_PORT, HOSTILE_LISTEN_PORT = 9000, 9001
ROUND = 2 << 20  # bytes per echo round of the well-behaved stream

# The Linux side of the hostile app's connections, in the namespace: a listener that takes
# every connection, reads all it is sent and sends back as much as it can, and a dialler that
# connects to the hostile app's listener every 50 ms. Connections older than two seconds are
# dropped, so those NEWS reset unseen do not pile up. Prints one JSON line of totals.
LINUX_SIDE = r'''
import json, selectors, socket, sys, time
news, listen_port, dial_port, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
R, W = selectors.EVENT_READ, selectors.EVENT_WRITE
sel = selectors.DefaultSelector()
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("198.18.0.1", listen_port))
ls.listen(128)
ls.setblocking(False)
sel.register(ls, R, None)
chunk = bytes(range(256)) * 64
stats = {"accepted": 0, "dialled": 0, "bytes_in": 0, "bytes_out": 0, "errors": 0}
born = {}
def drop(s):
    sel.unregister(s)
    born.pop(s, None)
    s.close()
print("listening", flush=True)
deadline = time.monotonic() + seconds
next_dial = 0.0
while time.monotonic() < deadline:
    now = time.monotonic()
    if dial_port and now >= next_dial and len(born) < 64:
        next_dial = now + 0.05
        d = socket.socket()
        d.setblocking(False)
        d.connect_ex((news, dial_port))
        sel.register(d, R | W, None)
        born[d] = now
        stats["dialled"] += 1
    for key, ev in sel.select(0.005):
        s = key.fileobj
        if s is ls:
            try:
                a, _ = ls.accept()
            except OSError:
                continue
            a.setblocking(False)
            sel.register(a, R | W, None)
            born[a] = now
            stats["accepted"] += 1
            continue
        try:
            if ev & R:
                b = s.recv(1 << 16)
                if not b:
                    drop(s)
                    continue
                stats["bytes_in"] += len(b)
            if ev & W:
                stats["bytes_out"] += s.send(chunk)
        except BlockingIOError:
            pass
        except OSError:
            stats["errors"] += 1
            drop(s)
    for s, t in list(born.items()):
        if now - t > 2:
            drop(s)
    time.sleep(0.001)
print(json.dumps(stats), flush=True)
'''


@pytest.fixture(scope="module")
def tcp_echo(tmp_path_factory):
    exe = tmp_path_factory.mktemp("examples") / "tcp_echo"
    cc = subprocess.run(["cc", "-O2", "-Wall", "-Werror", f"-I{ROOT / 'include'}", str(ROOT / "examples" / "tcp_echo.c"),
                         f"-L{BIN}", "-lnews", f"-Wl,-rpath,{BIN}", "-o", str(exe)], capture_output=True, text=True)
    assert cc.returncode == 0, cc.stderr
    return str(exe)


def cpu_seconds(pid):
    """utime + stime of a process, from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class TCPArena:
    """One newsd on a TAP link; the echo example on port 7 with a Linux client echoing
    ROUND bytes again and again; a second echo example on port 8 (the other app's listener);
    a status watcher."""

    def __init__(self, news, ns, tcp_echo):
        self.news, self.ns, self.tcp_echo = news, ns, tcp_echo
        self.apps = []
        self.start_echo(ECHO_PORT)
        self.start_echo(OTHER_PORT)
        self.restarts = {s: news.server(s)["restarts"] for s in SERVERS}
        self.status_worst = 0.0
        self.status_failures = []
        self.rounds = []
        self._paused, self._idle = threading.Event(), threading.Event()
        self._stop = threading.Event()
        self._watcher = threading.Thread(target=self._watch_status, daemon=True)
        self._watcher.start()
        self._stream = threading.Thread(target=self._echo_rounds, daemon=True)
        self._stream.start()

    def start_echo(self, port):
        app = subprocess.Popen([self.tcp_echo, self.news.app_socket, str(port)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
        self.apps.append(app)
        line = app.stdout.readline()
        assert line.startswith("listening"), line + (app.stderr.read() if app.poll() is not None else "")
        return app

    def listener_id(self, port):
        """The socket id of the listener on `port`, from tcpserver's control blocks (`newsctl ss`)."""
        def find():
            for s in self.news.ctl("ss").get("sockets", []):
                if s["state"] == "LISTEN" and s["local"].endswith(f":{port}"):
                    return s["socket"]
            return None
        return self.news.wait_for(find, 5, what=f"a listener on port {port}")

    def _watch_status(self):
        while not self._stop.is_set():
            t = time.monotonic()
            try:
                r = self.news.ctl("status", check=False, timeout=5)
                if not (isinstance(r, dict) and r.get("ok")):
                    self.status_failures.append(repr(r))
            except subprocess.TimeoutExpired:
                self.status_failures.append("timeout")
            self.status_worst = max(self.status_worst, time.monotonic() - t)
            time.sleep(0.1)

    def echo(self, port, size, timeout=90):
        r = self.ns.exec("python3", PEER, "echo", NEWS_IP, str(port), str(size), timeout=timeout)
        return (r.stdout + r.stderr).strip()

    def _echo_rounds(self):
        # The well-behaved stream: fresh connections, ROUND bytes each, compared byte for byte.
        while not self._stop.is_set():
            if self._paused.is_set():
                self._idle.set()
                time.sleep(0.01)
                continue
            self._idle.clear()
            self.rounds.append(self.echo(ECHO_PORT, ROUND))

    @contextlib.contextmanager
    def stream_paused(self):
        """No echo round runs inside (the current one finishes first)."""
        self._paused.set()
        assert self._idle.wait(60), "the echo round in progress never finished"
        try:
            yield
        finally:
            self._paused.clear()

    def hostile_gone(self):
        """The hostile app's connection ended and took every socket and spare it held with
        it: only the three well-behaved applications' remain."""
        def settled():
            c = self.news.counters("newsd")
            return c if c["apps_connected"] == 3 and c["tcp_handoffs_waiting"] == 0 else None
        self.news.wait_for(settled, 5, what="the hostile app's sockets closed")

    def linux_side(self, seconds, dial_port=0):
        p = subprocess.Popen(["ip", "netns", "exec", self.ns.name, "python3", "-c", LINUX_SIDE, NEWS_IP, str(LINUX_PORT),
                              str(dial_port), str(seconds)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert p.stdout.readline().startswith("listening"), p.stderr.read()
        return p

    def hostile(self, *args):
        return subprocess.Popen([*as_user(HOSTILE_UID), "/usr/bin/python3", HOSTILE, self.news.app_socket, *args],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def finish(self):
        """The checks after every attack."""
        self._stop.set()
        self._stream.join(120)
        self._watcher.join(10)
        servers = self.news.servers()
        assert {s: servers[s]["restarts"] for s in SERVERS} == self.restarts, "a server restarted"
        assert all(servers[s]["state"] == "running" for s in SERVERS), servers
        assert not self.status_failures, self.status_failures
        assert self.status_worst < 1.0, f"newsctl status took {self.status_worst:.2f} s"
        # Every round of the well-behaved stream came back intact.
        bad = [r for r in self.rounds if not r.startswith(f"ok {ROUND} ")]
        assert not bad, f"{len(bad)} of {len(self.rounds)} echo rounds failed: {bad[:3]}; tcpserver: {self.news.counters('tcpserver')}"
        assert len(self.rounds) >= 2, self.rounds
        print(f"{len(self.rounds)} echo rounds of {ROUND} bytes intact")
        for app in self.apps:
            assert app.poll() is None, "a well-behaved application is still running"
        # Fresh connections to both well-behaved listeners, and a new application's new
        # TCP socket, all carry their bytes.
        for port in (ECHO_PORT, OTHER_PORT):
            assert self.echo(port, 256 << 10).startswith(f"ok {256 << 10} "), port
        self.start_echo(LATE_PORT)
        assert self.echo(LATE_PORT, 256 << 10).startswith(f"ok {256 << 10} ")

    def close(self):
        self._stop.set()
        for app in self.apps:
            app.kill()
            app.wait()


@pytest.fixture
def arena(linked_news, tcp_echo):
    made = []

    def make():
        # The sockets must be reachable by the hostile (unprivileged) uid. Its limit leaves
        # room for two listeners with all their 32 spares (the well-behaved ones share a uid).
        # A 1 s heartbeat (a server is restarted after 2 s without one, not 0.5 s): on two
        # shared cores, every process here busy and other tests' stacks pinned to the same
        # cores, idle servers were once starved for half a second, which is no fault of the
        # stack's. A server the hostile app hangs still misses it; one it makes spin is
        # caught by the CPU check of the scribble test.
        sock_dir = tempfile.mkdtemp(prefix="news-tcphostile-")
        os.chmod(sock_dir, 0o755)
        news, ns = linked_news(socket_dir=sock_dir, heartbeat={"period_ms": 1000},
                               limits={"apps_per_uid": 4, "sockets_per_uid": 128})
        a = TCPArena(news, ns, tcp_echo)
        made.append(a)
        return a

    yield make
    for a in made:
        a.close()


def test_truncating_growing_and_sealing_a_tcp_region_changes_nothing(arena):
    a = arena()
    r = finished(a.hostile("tcp-descriptors"))
    # newsd sealed the region against resizing and further seals; the mapping still shows
    # newsd's geometry (256 KiB areas, a 16-slot control channel of 256-byte slots).
    assert r["seals"] & 0b111 == 0b111, r
    assert r["size_after"] == r["size"]
    assert r["geometry"] == [1 << 20, 1 << 20, 16, 256], r  # StreamLayout.defaultSendSize, defaultReceiveSize
    for op in ("truncate", "shrink", "grow", "seal_write", "seal_future_write", "seal_grow"):
        assert r["region"][op] == "EPERM", (op, r)
        assert r["kick"][op] == "EINVAL", (op, r)
    assert r["wrote_own_region"] and r["close"] == "ok", r
    time.sleep(2)  # the stream runs a while longer beside the socket it scribbled on
    a.finish()


def test_scribbling_over_every_word_of_its_tcp_regions_hurts_only_itself(arena):
    a = arena()
    before = a.news.counters("tcpserver")
    peer = a.linux_side(14, dial_port=HOSTILE_LISTEN_PORT)
    h = a.hostile("tcp-scribble", "8", str(LINUX_PORT), str(HOSTILE_LISTEN_PORT), "3")
    r = json.loads(h.stdout.readline() or "null") or pytest.fail(h.stderr.read())
    # The hostile app now holds a socket whose send_tail moved with no connection to take
    # it for and one whose control ring is corrupt: tcpserver must still go to sleep.
    with a.stream_paused():
        pid = a.news.server("tcpserver")["pid"]
        time.sleep(0.3)
        cpu, slept = cpu_seconds(pid), a.news.counters("tcpserver")["sleeps"]
        time.sleep(1.5)
        spent, passes = cpu_seconds(pid) - cpu, a.news.counters("tcpserver")["sleeps"] - slept
    h.wait(30)
    assert h.returncode == 0, h.stderr.read()
    peer_out, peer_err = peer.communicate(timeout=30)
    linux = json.loads(peer_out.splitlines()[-1]) if peer_out.strip() else pytest.fail(peer_err)
    assert r["writes"] > 10_000, r
    assert r["established"] >= 5 and r["listeners"] >= 3, r
    assert linux["accepted"] >= 5 and linux["dialled"] > 20, linux
    a.finish()
    tcp = a.news.counters("tcpserver")
    grew = {k: tcp.get(k, 0) - before.get(k, 0) for k in ("stream_violations", "socket_ring_corrupt", "socket_bad_request",
                                                           "connections_accepted", "sleeps")}
    print(f"hostile {r}; linux {linux}; tcpserver {grew}; during the hold {spent:.2f} s CPU, {passes} sleeps")
    # It broke its own connections and rings, and tcpserver saw it (and reset only those).
    assert grew["stream_violations"] >= 1 and grew["socket_ring_corrupt"] >= 1 and grew["socket_bad_request"] >= 1, grew
    assert grew["connections_accepted"] >= 1, grew
    # Once per socket: a broken ring is not read (nor reported) again on every pass.
    held = r["connects"] + r["listeners"] + r["accepted"] + 2
    assert grew["socket_ring_corrupt"] <= held, f"{grew['socket_ring_corrupt']} corrupt rings reported for {held} sockets"
    # With the stream paused, the broken sockets (and the Linux side's dials) were all it
    # had: it slept, rather than spin on them.
    assert spent < 0.5 and passes < 5000, \
        f"tcpserver used {spent:.2f} s of CPU and slept {passes} times in 1.5 s beside sockets it refused; {grew}"
    a.hostile_gone()


def test_churning_tcp_sockets_and_bad_requests_are_refused_to_that_app_only(arena):
    a = arena()
    other = a.listener_id(OTHER_PORT)
    peer = a.linux_side(10)
    before = a.news.counters("newsd")
    r = finished(a.hostile("tcp-churn", "6", str(LINUX_PORT), str(other)), timeout=60)
    peer.communicate(timeout=30)
    print(f"hostile {r}")
    assert r["opened"] > 100 and r["connects"] > 30 and r["listens"] > 10, r
    # Not one socket of the other application was handed to it.
    assert r["stolen"] == [], r
    assert r["foreign"] == {"22": 2 * 33 + 6}, r
    # Bad sizes are EINVAL; 2048 too (below the 4 KiB minimum). Malformed lines are EINVAL,
    # a close of no socket EBADF.
    assert set(r["bad_sizes"].values()) == {"22"}, r
    assert r["bad_lines"] == {**dict.fromkeys(r["bad_lines"], "22"), "close x": "9"}, r
    # A backlog that is not a number (or not an Int) is EINVAL; any number is taken (newsd
    # makes at most 32 spares, which the hostile uid's limit holds); a listen on what it does
    # not own is EBADF, on a UDP socket EOPNOTSUPP; the ring's own listen request answers 0.
    b = r["backlogs"]
    not_numbers, numbers = ("99999999999999999999", str(1 << 63), "x", "1e9"), (str(-(1 << 63)), str(1 << 31), "-1", "0")
    assert [b[k] for k in not_numbers] == ["22"] * 4 and [b[k] for k in numbers] == ["ok"] * 4, b
    assert b["ring"] == 0 and b["not its own"] == "9" and b["no such id"] == "9" and b["udp"] == "95", b
    a.finish()
    newsd = a.news.counters("newsd")
    # Every refusal above was counted: the accepts, sizes, lines and backlogs.
    assert newsd["app_bad_requests"] - before["app_bad_requests"] >= 2 * 33 + 6 + 10 + 8 + 7, newsd
    a.hostile_gone()
