"""Done when #6 (seccomp): a forbidden system call kills the server, newsd reports a
seccomp violation, restarts it, and the restarted server counts one more start."""


def test_forbidden_syscall_is_killed_and_restarted(start_news, ipc):
    news = start_news(ipc=ipc)
    before = news.server("vfs")
    starts = news.counters("vfs")["starts"]
    news.ctl("crash", "vfs", "--how", "syscall")
    after = news.wait_restarted("vfs", before["pid"], before["restarts"] + 1, timeout=3)
    assert "seccomp violation" in (after.get("last_exit") or ""), after
    news.assert_probe_ok(200, context="after the seccomp kill")
    assert news.counters("vfs")["starts"] == starts + 1
