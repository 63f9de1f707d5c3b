"""Done when #7 (rings): the two-process, sequence-checked ring test passes over both
channel kinds (10M messages, index start near 2^64), and deliberate corruption of ring
indices or datagrams is detected."""

import pytest

from newsutil import run


@pytest.mark.parametrize("ipc_mode", ["shm", "kernel"])
def test_ringtest_passes(ipc_mode):
    p = run("newsbench", "ringtest", "--ipc", ipc_mode, timeout=150)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "messages=10000000" in p.stdout and "errors=0" in p.stdout, p.stdout
    assert "ringtest passed" in p.stdout, p.stdout


@pytest.mark.parametrize("ipc_mode,what", [("shm", "head"), ("shm", "tail"), ("kernel", "datagrams")])
def test_corruption_is_detected(ipc_mode, what):
    p = run("newsbench", "ringtest", "--ipc", ipc_mode, "--corrupt", what, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "detected: " in p.stdout, p.stdout
    assert "ringtest corruption check passed" in p.stdout, p.stdout
