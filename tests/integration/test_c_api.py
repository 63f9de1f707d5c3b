"""Issue 4 (libnews for C): a C program written against include/news.h, compiled with the
system C compiler and linked with libnews.so, serves as a UDP echo server on NEWS."""

import subprocess
from pathlib import Path

from newsutil import BIN

ROOT = Path(__file__).resolve().parents[2]
CLIENT = str(Path(__file__).with_name("udp_client.py"))


def test_c_echo_server(linked_news, tmp_path):
    exe = tmp_path / "udp_echo"
    cc = subprocess.run(["cc", "-O2", "-Wall", "-Werror", f"-I{ROOT / 'include'}", str(ROOT / "examples" / "udp_echo.c"),
                         f"-L{BIN}", "-lnews", f"-Wl,-rpath,{BIN}", "-o", str(exe)], capture_output=True, text=True)
    assert cc.returncode == 0, cc.stderr
    news, ns = linked_news()
    app = subprocess.Popen([str(exe), news.app_socket, "7"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert "listening" in app.stdout.readline(), app.stderr.read()
        p = ns.exec("python3", CLIENT, "198.18.0.2", "7", "5000", "1", "1472", "32", timeout=120)
        assert p.returncode == 0 and p.stdout.startswith("ok"), p.stdout + p.stderr
        p = ns.exec("python3", CLIENT, "198.18.0.2", "7", "100", "8000", "8000", "8", timeout=120)
        assert p.returncode == 0 and p.stdout.startswith("ok"), p.stdout + p.stderr
    finally:
        app.kill()
        app.wait()
