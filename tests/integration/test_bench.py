"""Done when #8 (bench): `newsbench channel` measures shm and kernel channels on one core
and (with two CPUs) across two, printing a table with ratio lines, or CSV. Numbers are
checked for shape only, never for speed."""

import csv
import io
import os
import re
import subprocess
from pathlib import Path

from newsutil import run

ARGS = ["channel", "--samples", "2000", "--messages", "100000"]
PLACEMENTS = ["same core"] + (["two cores"] if len(os.sched_getaffinity(0)) > 1 else [])
ROWS = [(path, place) for path in ("shm", "kernel") for place in PLACEMENTS]


def test_channel_table():
    p = run("newsbench", *ARGS, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    lines = p.stdout.splitlines()
    assert lines[0].split() == ["PATH", "PLACEMENT", "RTT", "P50", "ns", "RTT", "P99", "ns", "ONE-WAY", "Mmsg/s"]
    row_re = re.compile(r"^(shm|kernel)\s+(same core|two cores)\s+(\S+)\s+(\S+)\s+(\S+)$")
    rows = [m.groups() for m in map(row_re.match, lines[1:]) if m]
    assert [(r[0], r[1]) for r in rows] == ROWS, p.stdout
    for r in rows:
        assert all(float(v) > 0 for v in r[2:]), r
    for place in PLACEMENTS:
        ratio = re.compile(rf"^{place}: kernel/shm round trip p50 [\d.]+x, p99 [\d.]+x; shm/kernel throughput [\d.]+x$")
        assert any(ratio.match(l) for l in lines), f"no ratio line for {place}:\n{p.stdout}"


def test_channel_csv():
    p = run("newsbench", *ARGS, "--csv", timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    rows = list(csv.DictReader(io.StringIO(p.stdout)))
    assert [(r["path"], r["placement"]) for r in rows] == ROWS, p.stdout
    for r in rows:
        for key in ("rtt_p50_ns", "rtt_p99_ns", "oneway_msgs_per_s"):
            assert float(r[key]) > 0, r


def test_udp_bench_script_interleaves_rounds_and_prints_medians():
    """scripts/bench-udp.sh (issue 7, done when #6 is measured with it): NEWS in both ipc
    modes and Linux, per round, then medians and within-round ratios. Shape only."""
    root = Path(__file__).resolve().parents[2]
    p = subprocess.run([str(root / "scripts" / "bench-udp.sh"), "--rounds", "2", "--requests", "500", "--in-flight", "1"],
                       capture_output=True, text=True, timeout=600, cwd=root)
    assert p.returncode == 0, p.stdout + p.stderr
    lines = p.stdout.splitlines()
    # The UDP table's rows (IN FLIGHT is a whole number); the stall summary's rows also start
    # with the target's name but give milliseconds there.
    rows = {l.split()[0]: l.split() for l in lines if l.startswith("news-") and l.split()[1].isdigit()}
    stalls = [l.split() for l in lines if l.startswith("news-") and not l.split()[1].isdigit()]
    assert {r[0] for r in stalls} >= {"news-shm", "news-kernel"}, p.stdout
    assert all(float(r[1]) > 0 and r[3].endswith("x") for r in stalls), stalls
    assert set(rows) == {"news-shm", "news-kernel"}, p.stdout
    for r in rows.values():
        # TARGET IN-FLIGHT REQ/S SPREAD P50 P99 NEWS/LINUX
        assert r[1] == "1" and float(r[2]) > 0 and re.fullmatch(r"\d+-\d+", r[3]) and r[6].endswith("x"), r
    eagain = next(l.split() for l in lines if l.startswith("news "))
    assert float(eagain[1]) > 0 and eagain[5].endswith("x"), p.stdout
