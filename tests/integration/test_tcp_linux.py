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


def test_echo_with_a_linux_client(linked_news, examples):
    news, ns = linked_news()
    app = App(examples["tcp_echo"], news.app_socket, "7").wait_listening()
    try:
        r = ns.exec("python3", PEER, "echo", NEWS_IP, "7", str(1 << 20), timeout=120)
        assert r.stdout.startswith("ok"), r.stdout + r.stderr
        c = news.counters("tcpserver")
        assert c.get("connections_accepted", 0) >= 1, c
    finally:
        app.stop()
