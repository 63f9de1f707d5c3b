"""Done when #8 (bench): `newsbench channel` measures shm and kernel channels on one core
and (with two CPUs) across two, printing a table with ratio lines, or CSV. Numbers are
checked for shape only, never for speed."""

import csv
import io
import os
import re

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
