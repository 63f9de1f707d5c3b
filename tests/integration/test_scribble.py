"""Bad input from a peer: a server that corrupts what its neighbour reads from it (an
impossible ring index on the shm path, a wrong-sized datagram on the kernel path) is caught
and counted by the neighbour; nothing crashes or restarts, and traffic goes on."""


def test_neighbour_notices_corruption_and_carries_on(start_news, ipc):
    news = start_news(ipc=ipc)
    news.assert_probe_ok(200, context="before")
    pids = {name: s["pid"] for name, s in news.servers().items()}
    counter = "ring_corrupt" if ipc == "shm" else "channel_malformed"
    before = news.counters("udpserver")[counter]
    # vfs's first channel to another server is vfs-udp: udpserver is the one that must notice.
    news.ctl("crash", "vfs", "--how", "scribble")
    news.wait_for(lambda: news.counters("udpserver")[counter] > before, timeout=3, what=f"udpserver {counter}")
    news.assert_probe_ok(500, context="after the scribble")
    after = {name: (s["pid"], s["state"], s["restarts"]) for name, s in news.servers().items()}
    assert after == {name: (pid, "running", 0) for name, pid in pids.items()}, after
