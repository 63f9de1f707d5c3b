"""Issue 4, done when #1 (ping): from the Linux side of the namespace, ping gets 100 of 100
replies from NEWS, also with 4000-byte payloads (fragmented both ways)."""

import re

import pytest


def ping(ns, size, count=100):
    p = ns.exec("ping", "-c", str(count), "-i", "0.01", "-W", "2", "-s", str(size), "198.18.0.2", timeout=60)
    m = re.search(r"(\d+) packets transmitted, (\d+) received", p.stdout)
    assert m, p.stdout + p.stderr
    return int(m.group(1)), int(m.group(2))


@pytest.mark.parametrize("size", [56, 4000])
def test_ping_gets_every_reply(linked_news, ipc, size):
    news, ns = linked_news(ipc=ipc)
    assert ping(ns, size) == (100, 100)
    ip = news.counters("ipserver")
    assert ip["icmp_echo_replies"] >= 100
    if size > 1500:
        # Both ways: Linux's requests arrive in fragments, our replies leave in fragments.
        assert ip["reassembled"] >= 100 and ip["fragments_sent"] >= 300, ip
