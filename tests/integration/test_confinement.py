"""Done when #2 (confinement): every server is its own process, pinned to its configured
core, under seccomp with no_new_privs and without capabilities, a child of newsd, running
its own executable, and running as a uid and gid of its own (issue 7: least privilege), as
the config says. Both ipc modes."""

import os
import signal

from newsutil import SERVERS, pid_alive, proc_status, run, wait_for

UID_BASE = 61000  # the built-in uid_base


def configured_cores():
    cpus = sorted(os.sched_getaffinity(0))
    pick = cpus[:2] if len(cpus) >= 2 else [cpus[0]]
    return {name: pick[i % len(pick)] for i, name in enumerate(SERVERS)}


def ids_of(pid):
    """(Uid fields, Gid fields, Groups) of /proc/PID/status, as lists of ints."""
    st = proc_status(pid)
    return [int(u) for u in st["Uid"].split()], [int(g) for g in st["Gid"].split()], st["Groups"].split()


def assert_own_ids(servers, expected):
    """Every server runs with all four uids and gids its expected ones, no supplementary
    groups, and no two servers share a uid or a gid."""
    seen_uids, seen_gids = set(), set()
    for name, s in servers.items():
        uids, gids, groups = ids_of(s["pid"])
        uid, gid = expected[name]
        assert uids == [uid] * 4, f"{name} (pid {s['pid']}): Uid {uids}, expected {uid} x4"
        assert gids == [gid] * 4, f"{name} (pid {s['pid']}): Gid {gids}, expected {gid} x4"
        assert groups == [], f"{name}: supplementary groups {groups}"
        seen_uids.add(uids[0])
        seen_gids.add(gids[0])
    assert len(seen_uids) == len(seen_gids) == 6, f"servers share ids: {seen_uids} {seen_gids}"


def test_servers_are_confined(start_news, ipc):
    cores = configured_cores()
    news = start_news(ipc=ipc, cores=cores)
    status = news.status()
    assert status["ipc"] == ipc
    servers = {s["name"]: s for s in status["servers"]}
    assert sorted(servers) == sorted(SERVERS)
    pids = [s["pid"] for s in servers.values()]
    assert len(set(pids)) == 6, f"servers share processes: {pids}"
    assert_own_ids(servers, {name: (UID_BASE + i, UID_BASE + i) for i, name in enumerate(SERVERS)})

    for name, s in servers.items():
        pid = s["pid"]
        st = proc_status(pid)
        where = f"{name} (pid {pid})"
        assert s["core"] == cores[name], where
        assert st["Cpus_allowed_list"] == str(cores[name]), f"{where}: {st['Cpus_allowed_list']}"
        assert st["CapEff"] == "0000000000000000", f"{where}: CapEff {st['CapEff']}"
        assert st["CapBnd"] == "0000000000000000", f"{where}: CapBnd {st['CapBnd']}"
        assert st["Seccomp"] == "2", f"{where}: Seccomp {st['Seccomp']}"
        assert st["NoNewPrivs"] == "1", f"{where}: NoNewPrivs {st['NoNewPrivs']}"
        assert int(st["PPid"]) == news.proc.pid == status["pid"], f"{where}: parent {st['PPid']}"
        assert os.path.basename(os.readlink(f"/proc/{pid}/exe")) == name, where


def test_configured_ids_and_restarts_keep_them(start_news):
    """uid_base and [users] decide the ids; a restarted server comes back with its own."""
    base = 62000
    news = start_news(uid_base=base, users={"ipserver": 63002, "vfs": "63005"}, restart={"backoff_initial_ms": 10})
    expected = {name: (base + i, base + i) for i, name in enumerate(SERVERS)}
    expected["ipserver"] = (63002, 63002)
    expected["vfs"] = (63005, 63005)
    assert_own_ids(news.servers(), expected)
    before = news.server("udpserver")
    news.ctl("crash", "udpserver", "--how", "kill")
    news.wait_restarted("udpserver", before["pid"], before["restarts"] + 1, timeout=3)
    assert_own_ids(news.servers(), expected)


def test_servers_sharing_a_uid_are_refused(tmp_path):
    """Two servers may not share a uid, not even when the operator asks for it."""
    path = tmp_path / "cfg.toml"
    path.write_text(f"[users]\ntcpserver = 70000\n\nvfs = 70000\n")
    p = run("newsd", "--config", str(path), "--check-config")
    assert p.returncode == 1, p.stdout
    assert f"{path}:4: key 'vfs'" in p.stderr and "share uid 70000 with tcpserver" in p.stderr, p.stderr
    path.write_text(f"[users]\nvfs = {UID_BASE}\n")
    p = run("newsd", "--config", str(path))
    assert p.returncode == 1 and "share uid 61000 with nicdriver" in p.stderr, p.stdout + p.stderr


def test_servers_die_with_newsd(start_news):
    """The parent-death signal survives the uid change (it is set after it): no server
    outlives a newsd killed without a chance to clean up."""
    news = start_news()
    pids = [s["pid"] for s in news.status()["servers"]]
    news.proc.send_signal(signal.SIGKILL)
    news.proc.wait(5)
    wait_for(lambda: not any(pid_alive(p) for p in pids), 2, what="every server gone after newsd was SIGKILLed")
