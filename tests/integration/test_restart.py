"""Done when #3 (restart): every fault (--how) injected into every server is noticed, the
server is back with a new pid within 1 s, the exit reason is reported, and a probe passes
through the whole chain afterwards. Both ipc modes, one newsd each for the full matrix."""

import time

import pytest

from newsutil import SERVERS

FAULTS = {  # --how -> check on last_exit
    "segv": lambda e: "SIGSEGV" in e,
    "abort": lambda e: "SIGABRT" in e,
    "kill": lambda e: "SIGKILL" in e,
    "exit": lambda e: "exit code 3" in e,
    "syscall": lambda e: "seccomp violation" in e,
    "signal": lambda e: e == "seccomp violation (SIGSYS)",       # tgkill to newsd
    "execmem": lambda e: e == "seccomp violation (SIGSYS)",      # mmap with PROT_EXEC
    "execprotect": lambda e: e == "seccomp violation (SIGSYS)",  # mprotect adding PROT_EXEC
    "hang": lambda e: e.startswith("hang"),
}

CONFIG = dict(heartbeat={"period_ms": 100},
              restart={"intensity": 100, "window_s": 60, "backoff_initial_ms": 10, "backoff_max_ms": 100})


def crash_and_check(news, name, how):
    before = news.server(name)
    assert before["state"] == "running", before
    news.ctl("crash", name, "--how", how)
    t0 = time.monotonic()
    after = news.wait_restarted(name, before["pid"], before["restarts"] + 1, timeout=1.0)
    elapsed = time.monotonic() - t0
    assert elapsed <= 1.0, f"{name} --how {how}: back after {elapsed:.3f} s"
    assert after["generation"] == before["generation"] + 1, after
    assert FAULTS[how](after.get("last_exit") or ""), f"{name} --how {how}: last_exit {after.get('last_exit')!r}"
    news.assert_probe_ok(200, context=f"after {name} --how {how}")


@pytest.mark.parametrize("ipc_mode", ["shm", "kernel"])
def test_every_fault_in_every_server(start_news, ipc_mode):
    news = start_news(ipc=ipc_mode, **CONFIG)
    news.assert_probe_ok(200, context="before any fault")
    for how in FAULTS:
        for name in SERVERS:
            crash_and_check(news, name, how)
    others = news.servers()
    assert all(s["state"] == "running" and s["restarts"] == len(FAULTS) for s in others.values()), others
