"""Issue 4 (NIC driver): loss, duplication, reordering and delay, configurable for either
direction, seen from the Linux side and counted by the driver."""

import re
from pathlib import Path

STREAM = str(Path(__file__).with_name("udp_stream.py"))


def ping(ns, count=200, interval="0.005", size=56):
    return ns.exec("ping", "-c", str(count), "-i", interval, "-W", "1", "-s", str(size), "198.18.0.2", timeout=120).stdout


def test_outbound_loss(linked_news):
    news, ns = linked_news(nic={"out_loss": 20})
    out = ping(ns)
    got = int(re.search(r"(\d+) received", out).group(1))
    assert 110 <= got <= 190, out  # about 80% of 200 replies
    assert news.counters("nicdriver")["impair_lost"] >= 10


def test_inbound_duplication(linked_news):
    news, ns = linked_news(nic={"in_duplicate": 50})
    out = ping(ns, count=100)
    assert "duplicates" in out, out  # NEWS answered the copies too
    assert news.counters("nicdriver")["impair_duplicated"] >= 20


def test_outbound_delay(linked_news):
    news, ns = linked_news(nic={"out_delay_us": 20000})
    out = ping(ns, count=10, interval="0.05")
    avg = float(re.search(r"= [\d.]+/([\d.]+)/", out).group(1))
    assert avg >= 20.0, out


def test_inbound_reordering_loses_nothing(linked_news, tmp_path):
    import subprocess
    from newsutil import binary
    news, ns = linked_news(nic={"in_reorder": 30})
    app = subprocess.Popen([binary("newsecho"), "--app-socket", news.app_socket, "--port", "7"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert "listening" in app.stdout.readline()
        out = ns.exec("python3", STREAM, "198.18.0.2", "7", "3000", "16", timeout=120).stdout
        sent, received, lost, bad = map(int, re.search(r"sent (\d+) received (\d+) lost (\d+) bad (\d+)", out).groups())
        assert received == sent == 3000 and bad == 0, out
        assert news.counters("nicdriver")["impair_reordered"] >= 100
    finally:
        app.kill()
        app.wait()
