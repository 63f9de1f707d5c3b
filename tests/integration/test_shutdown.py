"""Shutdown: on SIGTERM or `newsctl stop` newsd exits 0 promptly, every server is gone, the
control socket is removed, and no process keeps a NEWS shared-memory region open."""

import glob
import os
import signal
import time

import pytest

from newsutil import SERVERS, pid_alive

NEWS_PROGRAMS = {"newsd", "newsbench", *SERVERS}


def exe_name(pid):
    try:
        return os.path.basename(os.readlink(f"/proc/{pid}/exe"))
    except OSError:
        return None


def news_memfds(pids="*"):
    """(dev, inode) -> holder pid of every open fd that is a news memfd."""
    found = {}
    for fd in glob.glob(f"/proc/{pids}/fd/*"):
        try:
            if os.readlink(fd).startswith("/memfd:news:"):
                st = os.stat(fd)
                found[(st.st_dev, st.st_ino)] = int(fd.split("/")[2])
        except OSError:
            pass  # the process or fd went away meanwhile
    return found


@pytest.mark.parametrize("how", ["sigterm", "newsctl_stop"])
def test_shutdown_leaves_nothing(start_news, how):
    news = start_news()
    server_pids = [s["pid"] for s in news.status()["servers"]]
    regions = news_memfds(news.proc.pid)
    assert len(regions) >= 6 + 7, f"newsd holds only {len(regions)} news memfds"

    t0 = time.monotonic()
    if how == "sigterm":
        news.proc.send_signal(signal.SIGTERM)
    else:
        assert news.ctl("stop")["ok"]
    rc = news.proc.wait(5)
    assert time.monotonic() - t0 < 3, "newsd took longer than 3 s to stop"
    assert rc == 0, news.log()

    assert [p for p in server_pids if pid_alive(p)] == []
    assert not os.path.exists(news.socket)
    # No process may hold a news memfd: ours (by inode, or held by one of our pids) at all,
    # and none anywhere except inside another live NEWS instance (a parallel test run).
    held = news_memfds()
    ours = {k: pid for k, pid in held.items() if k in regions or pid in server_pids + [news.proc.pid]}
    assert ours == {}, f"news regions still open: {ours}"
    strays = {k: pid for k, pid in held.items() if exe_name(pid) not in NEWS_PROGRAMS}
    assert strays == {}, f"non-NEWS processes hold memfd:news: regions: {strays}"
