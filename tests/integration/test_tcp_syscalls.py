"""Issue 9, done-when 2: under wrk, 10 requests per connection (scripts/wrk-10-per-connection.lua
closes every 10th), `strace -f -c` on the NEWS HTTP server (examples/http_server.c on
libnews) counts fewer than one system call per 100 requests: accepting and closing
connections, reading requests and writing responses are all shared-memory operations, and
the server enters the kernel only to sleep when it is idle (or to kick a sleeping tcpserver).

Measured on the placement issue 9 aims at (the stack's servers on core 0, the application
and the client on core 1): with every process dealt round-robin over two cores, the
application's look before sleeping takes time from the servers and the figure is several
calls per 100 requests (and the rate lower)."""

import re
import subprocess
import time
from pathlib import Path

from test_tcp_linux import NEWS_IP, App, examples, small_site  # noqa: F401 (examples is a fixture)

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = str(ROOT / "scripts" / "wrk-10-per-connection.lua")


def strace_total(report):
    """The `total` line's call count of an `strace -c` summary (0 if it counted none)."""
    totals = [line.split() for line in report.splitlines() if line.rstrip().endswith("total")]
    if not totals:
        return 0
    # "100.00  0.001  12  34  5  total": % time, seconds, usecs/call, calls, [errors], total
    return int(totals[-1][3])


def wrk_requests(out):
    m = re.search(r"(\d+) requests in ", out)
    assert m, out
    return int(m.group(1))


# The placement issue 9 measures for: the stack's servers on core 0, the application (and
# the client) on core 1, so that the application's short look before sleeping takes no
# server's time.
SERVERS_ON_CORE_0 = {k: 0 for k in ("nicdriver", "packetfilter", "ipserver", "udpserver", "tcpserver", "vfs")}


ROUNDS = 3


def test_http_server_system_calls_per_100_requests(linked_news, examples, tmp_path):
    """Up to ROUNDS traced runs: the machine is shared, and a run that other processes took
    the cores from sleeps and kicks more; the first run within the bound passes, and a
    failure shows every run's breakdown."""
    news, ns = linked_news(cores=SERVERS_ON_CORE_0)
    small_site(tmp_path / "www")
    app = App("taskset", "-c", "1", examples["http_server"], news.app_socket, "80", str(tmp_path / "www")).wait_listening()
    try:
        # Warm up (the first connections fill the server's pools and caches), then trace a
        # bounded run: one wrk thread, 16 connections, 5 s.
        warm = ns.exec("wrk", "-t1", "-c16", "-d1s", "-s", SCRIPT, f"http://{NEWS_IP}/index.html", timeout=60)
        assert warm.returncode == 0, warm.stdout + warm.stderr
        runs = []
        for i in range(ROUNDS):
            out = tmp_path / f"strace{i}.txt"
            tracer = subprocess.Popen(["strace", "-f", "-c", "-o", str(out), "-p", str(app.proc.pid)], stderr=subprocess.PIPE)
            time.sleep(1.0)
            r = ns.exec("taskset", "-c", "1", "wrk", "-t1", "-c16", "-d5s", "--timeout", "5s", "-s", SCRIPT,
                        f"http://{NEWS_IP}/index.html", timeout=60)
            tracer.send_signal(2)
            tracer.wait(10)
            report = out.read_text()
            print(r.stdout)
            print(report)
            assert r.returncode == 0, r.stdout + r.stderr
            assert "Socket errors" not in r.stdout, r.stdout
            assert "Non-2xx" not in r.stdout, r.stdout
            requests = wrk_requests(r.stdout)
            assert requests > 1000, r.stdout
            calls = strace_total(report)
            runs.append((calls, requests, report, r.stdout))
            print(f"run {i + 1}: {calls} system calls for {requests} requests ({100 * calls / requests:.2f} per 100)")
            if calls * 100 <= requests:
                break
        c = news.counters("tcpserver")
        total_requests = sum(run[1] for run in runs)
        # The script's closes really made new connections (about one per 10 requests).
        assert c.get("connections_accepted", 0) >= total_requests // 20, c
        assert runs[-1][0] * 100 <= runs[-1][1], "no run within one system call per 100 requests:\n" + "\n".join(
            f"{calls} system calls for {requests} requests:\n{report}\n{out}" for calls, requests, report, out in runs)
    finally:
        app.stop()
