"""Done when #6 (seccomp): a forbidden system call kills the server, newsd reports a
seccomp violation, restarts it, and the restarted server counts one more start. Issue 7
(least privilege): the filter's argument rules kill a server that signals another process
(newsd) or makes memory executable, and the process it aimed at is untouched."""

import pytest

CONFIG = dict(restart={"intensity": 100, "window_s": 60, "backoff_initial_ms": 10, "backoff_max_ms": 100})


def test_forbidden_syscall_is_killed_and_restarted(start_news, ipc):
    news = start_news(ipc=ipc)
    before = news.server("vfs")
    starts = news.counters("vfs")["starts"]
    news.ctl("crash", "vfs", "--how", "syscall")
    after = news.wait_restarted("vfs", before["pid"], before["restarts"] + 1, timeout=3)
    assert "seccomp violation" in (after.get("last_exit") or ""), after
    news.assert_probe_ok(200, context="after the seccomp kill")
    assert news.counters("vfs")["starts"] == starts + 1


@pytest.mark.parametrize("how", ["signal", "execmem", "execprotect"])
def test_argument_rules_kill_the_server_not_its_target(start_news, ipc, how):
    """`signal` sends SIGTERM to newsd (tgkill to another process, then kill); `execmem`
    maps a page executable; `execprotect` maps one read/write and mprotects it executable.
    Each kills the server with SIGSYS; newsd keeps its pid, gets no signal, and no other
    server restarts."""
    news = start_news(ipc=ipc, **CONFIG)
    newsd_pid = news.status()["pid"]
    for name in ["ipserver", "udpserver"]:
        others = {n: s for n, s in news.servers().items() if n != name}
        before = news.server(name)
        news.ctl("crash", name, "--how", how)
        after = news.wait_restarted(name, before["pid"], before["restarts"] + 1, timeout=3)
        exit_record = after["exits"][-1]
        assert exit_record["pid"] == before["pid"], after["exits"]
        assert exit_record["reason"] == "seccomp violation (SIGSYS)", f"{name} --how {how}: {exit_record}"
        assert after["last_exit"] == "seccomp violation (SIGSYS)", after
        news.assert_probe_ok(200, context=f"after {name} --how {how}")

        status = news.status()
        assert news.proc.poll() is None and status["pid"] == newsd_pid == news.proc.pid, "newsd was replaced or died"
        assert "received SIGTERM" not in news.log(), f"{name} --how {how} signalled newsd"
        now = {n: s for n, s in news.servers().items() if n != name}
        for n, s in others.items():
            assert (now[n]["pid"], now[n]["restarts"], now[n]["state"]) == (s["pid"], s["restarts"], "running"), \
                f"{n} changed while {name} was crashed with --how {how}: {s} -> {now[n]}"
