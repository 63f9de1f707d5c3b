"""Stats: after a probe, every channel's counters balance (sent == received both ways) and
carry at least the probe's share, every server counts forwarded probes, and no counter
record is invalid."""

import time

from newsutil import SERVERS

N = 1000


def test_stats_balance_after_probe(start_news, ipc):
    started = time.monotonic_ns()
    news = start_news(ipc=ipc)
    news.assert_probe_ok(N)

    def balanced():
        stats = news.stats()
        chans = stats["channels"]
        ok = all(c["down_sent"] == c["down_received"] and c["up_sent"] == c["up_received"] for c in chans)
        return stats if ok else None
    stats = news.wait_for(balanced, 1, what="channel counters to balance")

    chans = {c["name"]: c for c in stats["channels"]}
    probe_path = {"newsd-vfs", "vfs-udp", "vfs-tcp", "udp-ip", "tcp-ip", "ip-pf", "pf-nic"}
    assert set(chans) == probe_path | {"nic-capture"}, sorted(chans)
    assert all(chans["nic-capture"][k] == 0 for k in ("down_sent", "up_sent")), "nothing captured without a capture"
    for name, c in ((n, chans[n]) for n in probe_path):
        need = N if name in ("newsd-vfs", "ip-pf", "pf-nic") else N // 2
        for key in ("down_sent", "down_received", "up_sent", "up_received"):
            assert c[key] >= need, f"{name} {key} = {c[key]} < {need}"

    servers = {s["name"]: s for s in stats["servers"]}
    assert stats["servers"][0]["name"] == "newsd"
    assert sorted(servers) == sorted(SERVERS + ["newsd"])
    for name in SERVERS:
        counters = {c["name"]: c["value"] for c in servers[name]["counters"]}
        assert counters.get("probes_forwarded", 0) > 0, f"{name}: {counters}"
        # Where the time goes: every server did work, slept between probes (heartbeat
        # timeouts at the least) and was woken by its peers for the probes.
        for key in ("work_passes", "sleeps", "wakeups", "asleep_ns"):
            assert counters.get(key, 0) > 0, f"{name} {key}: {counters}"
        assert "linger_ns" in counters, f"{name}: {counters}"
        assert counters["wakeups"] <= counters["sleeps"], f"{name}: {counters}"
        # Time asleep and lingering is part of the server's life, no more.
        assert counters["asleep_ns"] + counters["linger_ns"] <= time.monotonic_ns() - started, f"{name}: {counters}"
    assert all(s["invalid_counters"] == 0 for s in stats["servers"]), stats["servers"]
