"""Issue 4, done when #2 (UDP echo): a Linux client sends 100,000 datagrams of random sizes
1-1472 bytes plus 1,000 of 8,000 bytes (fragmented both ways) to the NEWS echo app; every
reply is checked byte for byte. A NEWS app sends to a Linux UDP echo server just as well."""

import subprocess
from pathlib import Path

import pytest

from newsutil import binary

CLIENT = str(Path(__file__).with_name("udp_client.py"))

LINUX_ECHO = """
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
s.bind(("198.18.0.1", 7007))
print("ready", flush=True)
while True:
    data, peer = s.recvfrom(65536)
    s.sendto(data, peer)
"""


@pytest.fixture
def echo_app():
    """Starts newsecho (the NEWS app) for a running newsd; stops it at teardown."""
    started = []

    def start(news, port=7):
        p = subprocess.Popen([binary("newsecho"), "--app-socket", news.app_socket, "--port", str(port)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = p.stdout.readline()
        assert "listening" in line, line + p.stderr.read()
        started.append(p)
        return p

    yield start
    for p in started:
        p.kill()
        p.wait()


def linux_client(ns, count, lo, hi, window=32, seed=1):
    p = ns.exec("python3", CLIENT, "198.18.0.2", "7", str(count), str(lo), str(hi), str(window), str(seed), timeout=600)
    assert p.returncode == 0 and p.stdout.startswith("ok"), p.stdout + p.stderr
    return p.stdout


def test_linux_client_to_news_echo_app(linked_news, echo_app, ipc):
    news, ns = linked_news(ipc=ipc)
    echo_app(news)
    linux_client(ns, 100_000, 1, 1472)
    linux_client(ns, 1000, 8000, 8000, window=8, seed=2)
    udp = news.counters("udpserver")
    assert udp["delivered"] >= 101_000 and udp["datagrams_out"] >= 101_000, udp
    assert news.counters("ipserver")["reassembled"] >= 1000


def test_news_app_to_linux_echo_server(linked_news):
    news, ns = linked_news()
    server = subprocess.Popen(["ip", "netns", "exec", ns.name, "python3", "-c", LINUX_ECHO], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout.readline().strip() == "ready"
        for args in (["--count", "20000", "--min", "1", "--max", "1472"], ["--count", "200", "--min", "8000", "--max", "8000", "--window", "8"]):
            p = subprocess.run([binary("newsecho"), "--app-socket", news.app_socket, "--client", "198.18.0.1:7007", *args],
                               capture_output=True, text=True, timeout=300)
            assert p.returncode == 0, p.stdout + p.stderr
            assert "mismatched 0" in p.stdout, p.stdout
    finally:
        server.kill()
        server.wait()


def test_eagain_bench_prints_its_table(start_news):
    """Issue 4, done when #8 (second half): `newsbench eagain` times a non-blocking recvfrom
    on an empty NEWS socket and on a Linux one, side by side (the ratio is the benchmark's
    business; this checks it runs and reports)."""
    news = start_news()
    p = subprocess.run([binary("newsbench"), "eagain", "--app-socket", news.app_socket, "--calls", "20000", "--rounds", "3"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0].split() == ["CALL", "NS/CALL", "CYCLES/CALL"]
    for row in lines[1:3]:
        ns, cycles = row.split()[-2:]
        assert int(ns) > 0 and int(cycles) > 0, row
    assert lines[3].startswith("NEWS / Linux:"), p.stdout


def test_udp_bench_prints_its_table(linked_news, echo_app):
    """Issue 4, done when #7 (the harness): `newsbench udp` measures several echo targets in
    one run and prints requests/s, p50/p99 and the ratio to the first. The full NEWS-vs-Linux
    comparison in both ipc modes is scripts/bench-udp.sh."""
    news, ns = linked_news()
    echo_app(news)
    linux = subprocess.Popen(["ip", "netns", "exec", ns.name, binary("newsbench"), "linux-echo", "--port", "7007"],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert "listening" in linux.stdout.readline()
        p = ns.exec(binary("newsbench"), "udp", "--target", "news=198.18.0.2:7", "--target", "linux=198.18.0.1:7007",
                    "--requests", "2000", "--in-flight", "1,8", timeout=120)
        assert p.returncode == 0, p.stderr
        rows = [line.split() for line in p.stdout.splitlines()[1:]]
        assert [(r[0], r[1]) for r in rows] == [("news", "1"), ("linux", "1"), ("news", "8"), ("linux", "8")], p.stdout
        for r in rows:
            assert int(r[2]) > 0 and float(r[3]) > 0 and r[5] == "0", p.stdout  # req/s, p50, nothing lost
    finally:
        linux.kill()
        linux.wait()
