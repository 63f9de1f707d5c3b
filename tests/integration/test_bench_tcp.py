"""Issue 9 (done when #1): scripts/bench-tcp.sh runs `newsbench tcp` against
examples/http_server.c on NEWS (both ipc modes) and against the same source built on Linux
sockets (-DNEWS_POSIX) behind the user-space TAP relay, and summarizes. Shape and
correctness only (every case and target measured, no errors), never speed. Also the pieces
the benchmark stands on: the POSIX build of http_server.c answers as the NEWS one does, and
discards PUT/POST bodies."""

import csv
import subprocess
import time
from pathlib import Path

from newsutil import Netns

ROOT = Path(__file__).resolve().parents[2]
CASES = ["bulk-down", "bulk-up", "rr-k1-20b", "rr-k10-20b", "rr-k1-11k", "rr-k10-11k"]
TARGETS = ["news-shm", "news-kernel", "linux"]


def test_tcp_bench_script_measures_every_case_against_every_target(tmp_path):
    out_csv = tmp_path / "rows.csv"
    t = time.monotonic()
    proc = subprocess.Popen([str(ROOT / "scripts" / "bench-tcp.sh"), "--rounds", "1", "--seconds", "1", "--csv", str(out_csv)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        stdout, stderr = proc.communicate(timeout=400)
    except subprocess.TimeoutExpired:
        proc.terminate()  # SIGTERM: the script's trap removes its namespaces and stops newsd
        stdout, stderr = proc.communicate(timeout=60)
        raise AssertionError(f"bench-tcp.sh ran past 400 s:\n{stdout}\n{stderr}")
    p = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
    print(f"bench-tcp.sh took {time.monotonic() - t:.0f} s\n{p.stdout}")
    assert p.returncode == 0, p.stdout + p.stderr
    lines = p.stdout.splitlines()
    # CASE TARGET RATE UNIT SPREAD P50 P99 [NEWS/LINUX RATIO-SPREAD] ERRORS
    table = {(f[0], f[1]): f for f in (l.split() for l in lines) if len(f) >= 8 and f[0] in CASES}
    assert set(table) == {(c, t) for c in CASES for t in TARGETS}, p.stdout
    for (case, target), f in table.items():
        assert float(f[2]) > 0, f
        assert f[3] == ("MB/s" if case.startswith("bulk") else "req/s"), f
        assert f[-1] == "0", f"errors in {case} against {target}: {f}"
        if target != "linux":
            assert f[7].endswith("x") and float(f[7][:-1]) > 0, f
    assert f"CSV: {out_csv}" in lines, p.stdout
    rows = [r for r in csv.reader(open(out_csv)) if r[2] != "target"]
    # round, mode, target, case, ...: each mode's run measured NEWS and Linux on every case.
    assert sorted((r[1], r[2], r[3]) for r in rows) == sorted(
        (m, t, c) for m in ("shm", "kernel") for t in (f"news-{m}", "linux") for c in CASES), rows
    assert "newsd counters after the last NEWS run" in p.stdout
    assert any(l.startswith("tcpserver") and "segments_in" in l for l in lines), p.stdout


def test_http_server_posix_build_serves_and_discards_uploads(tmp_path):
    """The Linux reference is the same program: GET as on NEWS, PUT/POST bodies discarded
    (also pipelined after a body), 411 without a length, 405 for other methods."""
    exe = tmp_path / "http_server_linux"
    cc = subprocess.run(["cc", "-O2", "-Wall", "-Werror", "-DNEWS_POSIX", str(ROOT / "examples" / "http_server.c"), "-o", str(exe)],
                        capture_output=True, text=True)
    assert cc.returncode == 0, cc.stderr
    www = tmp_path / "www"
    www.mkdir()
    (www / "20b").write_bytes(b"x" * 20)
    body = tmp_path / "body.bin"
    body.write_bytes(bytes(range(256)) * 40000)  # 10,240,000 bytes
    ns = Netns()
    server = None
    try:
        ns.exec("ip", "link", "set", "lo", "up", check=True)
        server = subprocess.Popen(["ip", "netns", "exec", ns.name, str(exe), "-", "8080", str(www)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert server.stdout.readline().startswith("listening"), server.stderr.read()
        url = "http://127.0.0.1:8080"

        def curl(*args):
            r = ns.exec("curl", "-sS", "--max-time", "20", "-w", " %{http_code}", *args, timeout=30)
            assert r.returncode == 0, r.stderr
            return r.stdout

        assert curl(f"{url}/20b") == "x" * 20 + " 200"
        assert curl(f"{url}/missing").endswith(" 404")
        assert curl("-T", str(body), f"{url}/upload") == "received 10240000\n 200"
        assert curl("--data-binary", "@" + str(body), f"{url}/upload") == "received 10240000\n 200"
        # A body, then a GET on the same connection (the second transfer made no new connection).
        assert curl("--data-binary", "abc", f"{url}/u", "--next", "-w", " %{http_code} %{num_connects}", f"{url}/20b") \
            == "received 3\n 200" + "x" * 20 + " 200 0"
        assert curl("-X", "POST", "-H", "Transfer-Encoding: chunked", "--data-binary", "abc", f"{url}/u").endswith(" 411")
        assert curl("-X", "DELETE", f"{url}/20b").endswith(" 405")
        assert curl("-X", "PUT", "-H", "Content-Length: 12x", "--data-binary", "abc", f"{url}/u").endswith(" 400")
        assert server.poll() is None
    finally:
        if server:
            server.kill()
            server.wait()
        ns.close()
