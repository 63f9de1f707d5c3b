"""Done when #2 (confinement): every server is its own process, pinned to its configured
core, unprivileged, without capabilities, under seccomp with no_new_privs, a child of newsd,
and running its own executable. Both ipc modes."""

import os

from newsutil import SERVERS, proc_status


def configured_cores():
    cpus = sorted(os.sched_getaffinity(0))
    pick = cpus[:2] if len(cpus) >= 2 else [cpus[0]]
    return {name: pick[i % len(pick)] for i, name in enumerate(SERVERS)}


def test_servers_are_confined(start_news, ipc):
    cores = configured_cores()
    news = start_news(ipc=ipc, cores=cores)
    status = news.status()
    assert status["ipc"] == ipc
    servers = {s["name"]: s for s in status["servers"]}
    assert sorted(servers) == sorted(SERVERS)
    pids = [s["pid"] for s in servers.values()]
    assert len(set(pids)) == 6, f"servers share processes: {pids}"

    for name, s in servers.items():
        pid = s["pid"]
        st = proc_status(pid)
        where = f"{name} (pid {pid})"
        assert s["core"] == cores[name], where
        assert st["Cpus_allowed_list"] == str(cores[name]), f"{where}: {st['Cpus_allowed_list']}"
        uids = st["Uid"].split()
        assert len(uids) == 4 and all(u != "0" for u in uids), f"{where}: Uid {uids}"
        assert st["CapEff"] == "0000000000000000", f"{where}: CapEff {st['CapEff']}"
        assert st["Seccomp"] == "2", f"{where}: Seccomp {st['Seccomp']}"
        assert st["NoNewPrivs"] == "1", f"{where}: NoNewPrivs {st['NoNewPrivs']}"
        assert int(st["PPid"]) == news.proc.pid == status["pid"], f"{where}: parent {st['PPid']}"
        assert os.path.basename(os.readlink(f"/proc/{pid}/exe")) == name, where
