"""Issue 8: NEWS TCP against the Linux kernel's TCP in the test's namespace, both ways,
through the C examples (examples/tcp_echo.c, http_server.c, http_get.c) linked with
libnews.so."""

import hashlib
import subprocess
import time
from pathlib import Path

import pytest

from newsutil import BIN

ROOT = Path(__file__).resolve().parents[2]
PEER = str(Path(__file__).with_name("tcp_peer.py"))
NEWS_IP, LINUX_IP = "198.18.0.2", "198.18.0.1"


@pytest.fixture(scope="module")
def examples(tmp_path_factory):
    out = tmp_path_factory.mktemp("examples")
    built = {}
    for name in ("tcp_echo", "http_server", "http_get"):
        exe = out / name
        cc = subprocess.run(["cc", "-O2", "-Wall", "-Werror", f"-I{ROOT / 'include'}", str(ROOT / "examples" / f"{name}.c"),
                             f"-L{BIN}", "-lnews", f"-Wl,-rpath,{BIN}", "-o", str(exe)], capture_output=True, text=True)
        assert cc.returncode == 0, cc.stderr
        built[name] = str(exe)
    return built


class App:
    """A NEWS application started in the background; the first stdout line must say it listens."""

    def __init__(self, *argv):
        self.proc = subprocess.Popen(list(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def wait_listening(self):
        line = self.proc.stdout.readline()
        assert line.startswith("listening"), f"{line!r} {self.proc.stderr.read() if self.proc.poll() is not None else ''}"
        return self

    def stop(self):
        self.proc.kill()
        self.proc.wait()


def test_echo_with_a_linux_client(linked_news, examples, ipc):
    """1 MB echoed, over both channel kinds (shared memory, and the Linux-kernel path)."""
    news, ns = linked_news(ipc=ipc)
    app = App(examples["tcp_echo"], news.app_socket, "7").wait_listening()
    try:
        r = ns.exec("python3", PEER, "echo", NEWS_IP, "7", str(1 << 20), timeout=120)
        assert r.stdout.startswith("ok"), r.stdout + r.stderr
        c = news.counters("tcpserver")
        assert c.get("connections_accepted", 0) >= 1, c
    finally:
        app.stop()


BIG = 100 * 1000 * 1000


def make_file(path, size, seed):
    h = hashlib.sha256()
    with open(path, "wb") as f:
        left = size
        block = hashlib.sha256(str(seed).encode()).digest() * 2048  # 64 KiB of bytes that depend on the seed
        i = 0
        while left > 0:
            b = (block[i % 97:] + block[:i % 97])[:min(left, len(block))]
            f.write(b)
            h.update(b)
            left -= len(b)
            i += 1
    return h.hexdigest()


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while b := f.read(1 << 20):
            h.update(b)
    return h.hexdigest()


IMPAIRED = {"in_loss": 1, "in_duplicate": 1, "in_reorder": 1, "out_loss": 1, "out_duplicate": 1, "out_reorder": 1}


@pytest.mark.parametrize("impaired", [False, True], ids=["clean", "loss-reorder-dup"])
def test_100MB_from_news_to_linux_curl(linked_news, examples, tmp_path, impaired):
    """NEWS's HTTP server sends 100 MB to curl on the Linux side; equal SHA-256."""
    news, ns = linked_news(nic=IMPAIRED if impaired else {})
    root = tmp_path / "www"
    root.mkdir()
    digest = make_file(root / "big.bin", BIG, 1)
    app = App(examples["http_server"], news.app_socket, "80", str(root)).wait_listening()
    try:
        out = tmp_path / "got.bin"
        t = time.monotonic()
        r = ns.exec("curl", "-sS", "--max-time", "240", "-o", str(out), "-w", "%{http_code} %{size_download}",
                    f"http://{NEWS_IP}/big.bin", timeout=300)
        elapsed = time.monotonic() - t
        assert r.returncode == 0 and r.stdout == f"200 {BIG}", r.stdout + r.stderr
        assert sha256_of(out) == digest
        print(f"NEWS->Linux {BIG / elapsed / 1e6:.1f} MB/s ({'impaired' if impaired else 'clean'})")
        if impaired:
            nic = news.counters("nicdriver")
            assert all(nic.get(k, 0) > 100 for k in ("impair_lost", "impair_duplicated", "impair_reordered")), nic
            assert news.counters("tcpserver").get("segments_retransmitted", 0) > 0
    finally:
        app.stop()


@pytest.mark.parametrize("impaired", [False, True], ids=["clean", "loss-reorder-dup"])
def test_100MB_from_linux_http_server_to_news(linked_news, examples, tmp_path, impaired):
    """The NEWS client downloads 100 MB from Linux's python3 -m http.server; equal SHA-256."""
    news, ns = linked_news(nic=IMPAIRED if impaired else {})
    root = tmp_path / "srv"
    root.mkdir()
    digest = make_file(root / "big.bin", BIG, 2)
    server = subprocess.Popen(["ip", "netns", "exec", ns.name, "python3", "-m", "http.server", "8000", "--bind", LINUX_IP,
                               "--directory", str(root)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        out = tmp_path / "got.bin"
        r = subprocess.run([examples["http_get"], news.app_socket, f"http://{LINUX_IP}:8000/big.bin", str(out)],
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0 and r.stdout.startswith(f"ok {BIG} "), r.stdout + r.stderr
        assert sha256_of(out) == digest
        if impaired:
            nic = news.counters("nicdriver")
            assert all(nic.get(k, 0) > 100 for k in ("impair_lost", "impair_duplicated", "impair_reordered")), nic
        print(f"Linux->NEWS {BIG / float(r.stdout.split()[2]) / 1e6:.1f} MB/s ({'impaired' if impaired else 'clean'})")
    finally:
        server.kill()
        server.wait()


def small_site(root):
    root.mkdir()
    pages = {}
    for i in range(20):
        body = (f"page {i}\n" * (1 + i * 37)).encode()
        (root / f"p{i}.txt").write_bytes(body)
        pages[f"p{i}.txt"] = body
    (root / "index.html").write_bytes(b"<html><body>NEWS</body></html>\n")
    pages["index.html"] = (root / "index.html").read_bytes()
    return pages


CURL_LOOP = r'''
import subprocess, sys, hashlib
host, n, concurrent = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
names = sys.argv[4:]
bad = 0
if concurrent == 1:
    # One curl process, n URLs one after another, each on a fresh connection ("Connection:
    # close": the server closes after answering, so curl cannot reuse it).
    one = ["-sS", "--max-time", "10", "-H", "Connection: close", "-o", "/dev/null", "-w", "%{http_code} %{size_download}\n"]
    args = []
    for i in range(n):
        args += (["--next"] if i else []) + one + [f"http://{host}/{names[i % len(names)]}"]
    r = subprocess.run(["curl", *args], capture_output=True, text=True)
    print(r.stdout, end="")
    print("stderr", r.stderr.strip().replace("\n", " | "))
else:
    procs = [subprocess.Popen(["curl", "-sS", "--max-time", "20", "-o", "/dev/null", "-w", "%{http_code} %{size_download}\n",
                               f"http://{host}/{names[i % len(names)]}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(concurrent)]
    for p in procs:
        out, err = p.communicate()
        print(out, end="")
        if err.strip():
            print("stderr", err.strip())
'''


def check_curl_output(out, pages, names, n):
    lines = [l for l in out.splitlines() if l and not l.startswith("stderr")]
    errs = [l for l in out.splitlines() if l.startswith("stderr") and l.strip() != "stderr"]
    assert not errs, errs[:5]
    assert len(lines) == n, f"{len(lines)} answers for {n} requests"
    want = sorted(f"200 {len(pages[names[i % len(names)]])}" for i in range(n))
    assert sorted(lines) == want


def test_curl_sequential_and_concurrent(linked_news, examples, tmp_path):
    news, ns = linked_news()
    pages = small_site(tmp_path / "www")
    names = sorted(pages)
    app = App(examples["http_server"], news.app_socket, "80", str(tmp_path / "www")).wait_listening()
    try:
        r = ns.exec("python3", "-c", CURL_LOOP, NEWS_IP, "1000", "1", *names, timeout=300)
        check_curl_output(r.stdout, pages, names, 1000)
        assert news.counters("tcpserver").get("connections_accepted", 0) >= 1000
        for _ in range(3):
            r = ns.exec("python3", "-c", CURL_LOOP, NEWS_IP, "50", "50", *names, timeout=120)
            try:
                check_curl_output(r.stdout, pages, names, 50)
            except AssertionError:
                print(news.counters("tcpserver"))
                print(news.stats())
                print(news.ctl("ss", json=False))
                raise
        # Content, not only sizes: every page once with keep-alive on one connection.
        r = ns.exec("curl", "-sS", "--max-time", "20", *[f"http://{NEWS_IP}/{n}" for n in names], timeout=60)
        assert r.stdout.encode() == b"".join(pages[n] for n in names)
        assert app.proc.poll() is None
    finally:
        app.stop()


def test_wrk(linked_news, examples, tmp_path):
    news, ns = linked_news()
    small_site(tmp_path / "www")
    app = App(examples["http_server"], news.app_socket, "80", str(tmp_path / "www")).wait_listening()
    try:
        r = ns.exec("wrk", "-t2", "-c32", "-d10s", "--timeout", "5s", f"http://{NEWS_IP}/index.html", timeout=60)
        print(r.stdout)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "Socket errors" not in r.stdout, r.stdout
        assert "Non-2xx" not in r.stdout, r.stdout
        requests = int(r.stdout.split(" requests in ")[0].split()[-1])
        assert requests > 1000, r.stdout
    finally:
        app.stop()


def test_echo_app_system_calls_per_megabyte(linked_news, examples, tmp_path):
    """The exposed buffers spare the system calls for TCP too: while a Linux client streams
    20 MB through the echo app, `strace -f -c` on the app counts its calls (reads, writes and
    polls are memory operations; the app enters the kernel only to sleep, or to kick a
    sleeping tcpserver)."""
    news, ns = linked_news()
    app = App(examples["tcp_echo"], news.app_socket, "7").wait_listening()
    try:
        out = tmp_path / "strace.txt"
        tracer = subprocess.Popen(["strace", "-f", "-c", "-o", str(out), "-p", str(app.proc.pid)], stderr=subprocess.PIPE)
        time.sleep(1.0)
        r = ns.exec("python3", PEER, "echo", NEWS_IP, "7", str(20 << 20), timeout=120)
        assert r.stdout.startswith("ok"), r.stdout + r.stderr
        tracer.send_signal(2)
        tracer.wait(10)
        report = out.read_text()
        totals = [line.split() for line in report.splitlines() if line.rstrip().endswith("total")]
        assert totals, report
        total = int(totals[-1][3])
        print(report)
        # 20 MB is 14,000+ segments each way; Linux's recv/send would be at least one call per read and write.
        assert total < 2000, f"{total} system calls for 20 MB echoed:\n{report}"
    finally:
        app.stop()
