"""Issue 4, done when #6 (partly: the echo traffic here is ping until the UDP socket API
exists): ipserver, packetfilter and nicdriver are each crashed in the middle of a stream;
each comes back, the ARP entry and routes are intact (no new ARP request is needed), and
the stream continues, with what was in flight lost and counted."""

import re
import subprocess
import threading
import time

import pytest


@pytest.mark.parametrize("server", ["ipserver", "packetfilter", "nicdriver"])
def test_crash_mid_stream(linked_news, ipc, server):
    news, ns = linked_news(ipc=ipc)
    assert " 5 received" in ns.exec("ping", "-c", "5", "-i", "0.01", "198.18.0.2").stdout  # ARP learned
    ip_before = news.counters("ipserver")
    old = news.server(server)
    result = {}

    def stream():
        result["p"] = ns.exec("ping", "-c", "400", "-i", "0.005", "-W", "1", "198.18.0.2", timeout=60)

    t = threading.Thread(target=stream)
    t.start()
    time.sleep(0.6)
    news.ctl("crash", server, "--how", "segv")
    news.wait_restarted(server, old["pid"], old["restarts"] + 1, timeout=2)
    t.join()
    m = re.search(r"(\d+) packets transmitted, (\d+) received", result["p"].stdout)
    sent, got = int(m.group(1)), int(m.group(2))
    assert sent == 400 and got >= 300, result["p"].stdout  # a crash costs milliseconds, not the stream
    ip = news.counters("ipserver")
    if server == "ipserver":
        assert ip.get("arp_entries_adopted", 0) >= 1 and ip.get("routes_adopted", 0) >= 1, ip
    # NEWS learned Linux's MAC from Linux's own ARP request and kept it: it never had to ask.
    assert ip.get("arp_requests_sent", 0) == ip_before.get("arp_requests_sent", 0), ip
    assert " 20 received" in ns.exec("ping", "-c", "20", "-i", "0.01", "198.18.0.2").stdout
