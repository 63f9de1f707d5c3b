"""Done when #9 (errors): bad configuration files are rejected naming the file, line and
key; newsctl rejects bad arguments with exit 2 and usage, reports an unreachable or refusing
newsd with exit 1, and newsd refuses crash without fault injection and non-root clients."""

import os
import shutil
import tempfile

import pytest

from newsutil import SERVERS, run

BAD_CONFIGS = {  # name -> (text, line, text the message must contain)
    "unknown_key": ('ipc = "shm"\nbogus = 1\n', 2, "key 'bogus'"),
    "wrong_type": ('[heartbeat]\nperiod_ms = "abc"\n', 2, "key 'period_ms'"),
    "out_of_range": ('\n[restart]\nintensity = 0\n', 3, "key 'intensity'"),
    "unknown_server": ('[cores]\nipserver = 0\nnosuch = 0\n', 3, "key 'nosuch'"),
    "garbage_line": ('ipc = "shm"\nthis is garbage\n', 2, "this is garbage"),
    "removed_user": ('ipc = "shm"\nuser = "nobody"\n', 2, "key 'user'"),
    "root_server": ('[users]\nipserver = 1\nvfs = "root"\n', 3, "key 'vfs'"),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_bad_config_names_line_and_key(tmp_path, case):
    text, line, needle = BAD_CONFIGS[case]
    path = tmp_path / "cfg.toml"
    path.write_text(text)
    p = run("newsd", "--config", str(path), "--check-config")
    assert p.returncode == 1, p.stdout
    assert f"{path}:{line}:" in p.stderr and needle in p.stderr, p.stderr
    assert "Usage:" not in p.stderr, "a config error is not a command-line mistake: " + p.stderr
    if case == "unknown_server":
        assert all(s in p.stderr for s in SERVERS), p.stderr


def test_good_config_is_ok(tmp_path):
    path = tmp_path / "cfg.toml"
    path.write_text('ipc = "kernel"\n[heartbeat]\nperiod_ms = 100\n[cores]\nvfs = 0\n')
    p = run("newsd", "--config", str(path), "--check-config")
    assert p.returncode == 0 and "configuration ok" in p.stdout, p.stdout + p.stderr


@pytest.mark.parametrize("args,needle", [
    (["restart", "nosuchserver"], "nosuchserver"),
    (["crash", "ipserver", "--how", "explode"], "explode"),
    (["--bogus"], "--bogus"),
])
def test_newsctl_usage_errors_exit_2(tmp_path, args, needle):
    p = run("newsctl", *args, "--socket", str(tmp_path / "none.sock"))
    assert p.returncode == 2, p.stdout + p.stderr
    assert needle in p.stderr and "Usage" in p.stderr, p.stderr
    if args[0] == "restart":
        assert all(s in p.stderr for s in SERVERS), p.stderr


def test_newsctl_unreachable_newsd(tmp_path):
    p = run("newsctl", "status", "--socket", "/nonexistent")
    assert p.returncode == 1, p.stdout + p.stderr
    assert "cannot reach newsd at /nonexistent" in p.stderr, p.stderr


def test_newsd_unknown_flag():
    p = run("newsd", "--no-such-flag")
    assert p.returncode != 0
    assert "--no-such-flag" in p.stderr and "Usage: newsd" in p.stderr, p.stderr


def test_crash_refused_without_fault_injection(start_news):
    news = start_news(fault_injection=False)
    pid = news.server("ipserver")["pid"]
    p = news.ctl("crash", "ipserver", "--how", "kill", json=False, check=False)
    assert p.returncode == 1, p.stdout + p.stderr
    assert "fault injection is disabled" in p.stderr, p.stderr
    s = news.server("ipserver")
    assert s["pid"] == pid and s["state"] == "running" and s["restarts"] == 0, s


@pytest.fixture
def open_dir():
    d = tempfile.mkdtemp(prefix="news-")  # traversable, so only the socket's own mode protects it
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_non_root_client_is_refused(start_news, open_dir):
    news = start_news(socket_dir=open_dir)
    nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    p = run("newsctl", "status", "--socket", news.socket, prefix=nobody)
    assert p.returncode != 0, p.stdout
    assert "permission" in p.stderr.lower(), p.stderr
    assert news.status()["servers"]  # and newsd is unharmed
