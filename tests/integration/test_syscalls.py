"""Issue 4, done when #8 (first half): the exposed buffers really spare the system calls.
While a Linux client keeps 32 datagrams in flight to the echo app for 100,000 datagrams,
`strace -f -c` on the app counts fewer than one system call per 100 datagrams.

The NewtOS arrangement is used: the stack's servers share one core, the application has the
other to itself and looks at its ring for up to 20 ms before it sleeps (so it sleeps only
when the stream has stopped)."""

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from newsutil import SERVERS, binary

CLIENT = str(Path(__file__).with_name("udp_client.py"))


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two cores: one for the stack, one for the app")
def test_echo_app_makes_almost_no_system_calls(linked_news):
    cpus = sorted(os.sched_getaffinity(0))
    news, ns = linked_news(cores={s: cpus[0] for s in SERVERS})
    app = subprocess.Popen(["taskset", "-c", str(cpus[1]), binary("newsecho"), "--app-socket", news.app_socket,
                            "--port", "7", "--spin-us", "20000"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert "listening" in app.stdout.readline()
        out = Path(news.tmp) / "strace.txt"
        tracer = subprocess.Popen(["strace", "-f", "-c", "-o", str(out), "-p", str(app.pid)], stderr=subprocess.PIPE)
        time.sleep(1.0)  # strace attached
        p = ns.exec("taskset", "-c", str(cpus[0]), "python3", CLIENT, "198.18.0.2", "7", "100000", "1", "1472", "32", timeout=300)
        assert p.returncode == 0 and p.stdout.startswith("ok"), p.stdout + p.stderr
        tracer.send_signal(signal.SIGINT)
        tracer.wait(10)
        report = out.read_text()
        # strace -c's last line: "100.00  SECONDS  USECS/CALL  CALLS  [ERRORS]  total"
        totals = [line.split() for line in report.splitlines() if line.rstrip().endswith("total")]
        assert totals, f"no strace summary:\n{report}"
        total = int(totals[-1][3])
        assert total < 1000, f"{total} system calls for 100,000 datagrams:\n{report}"
        assert news.counters("udpserver")["delivered"] >= 100_000
    finally:
        app.kill()
        app.wait()
