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

import json
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
CRASH_CONFIG = dict(heartbeat={"period_ms": 100},
                    restart={"intensity": 100, "window_s": 60, "backoff_initial_ms": 10, "backoff_max_ms": 100})
TRANSFER = 40 * 1000 * 1000
RATE = "8M"  # bytes/s each way: a transfer lasts ~5 s, the crash comes after ~1 MB


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
    # Linux's side of the link sends at most 64 Mbit/s, so http_get's download lasts.
    ns.exec("tc", "qdisc", "add", "dev", ns.tap, "root", "tbf", "rate", "64mbit", "burst", "32kbit", "latency", "100ms", check=True)
    http = App(programs["http_server"], news.app_socket, "80", str(www))
    pyserver = subprocess.Popen(["ip", "netns", "exec", ns.name, "python3", "-m", "http.server", "8000", "--bind", LINUX_IP,
                                 "--directory", str(srv)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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
