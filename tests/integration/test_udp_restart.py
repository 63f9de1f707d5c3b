"""Issue 4, done when #6: IPServer, PacketFilter, NICDriver (and UDPServer) are each crashed
in the middle of the UDP echo test: each comes back, ARP and routes are intact, the echo
stream continues, and datagrams in flight may be lost but are counted (by the client here,
and by the servers' drop counters)."""

import re
import subprocess
import threading
import time
from pathlib import Path

import pytest

from newsutil import binary

STREAM = str(Path(__file__).with_name("udp_stream.py"))


@pytest.mark.parametrize("server", ["ipserver", "packetfilter", "nicdriver", "udpserver"])
def test_echo_stream_survives_a_crash(linked_news, ipc, server):
    news, ns = linked_news(ipc=ipc)
    app = subprocess.Popen([binary("newsecho"), "--app-socket", news.app_socket, "--port", "7"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert "listening" in app.stdout.readline()
        ip_before = news.counters("ipserver")
        old = news.server(server)
        result = {}
        t = threading.Thread(target=lambda: result.update(p=ns.exec("python3", STREAM, "198.18.0.2", "7", "30000", "16", timeout=300)))
        t.start()
        time.sleep(0.5)
        news.ctl("crash", server, "--how", "segv")
        news.wait_restarted(server, old["pid"], old["restarts"] + 1, timeout=2)
        t.join()
        out = result["p"].stdout
        m = re.search(r"sent (\d+) received (\d+) lost (\d+) bad (\d+)", out)
        assert m, out + result["p"].stderr
        sent, received, lost, bad = map(int, m.groups())
        assert sent == 30000 and bad == 0 and received + lost == sent, out
        assert received >= 0.9 * sent, f"the stream did not continue: {out}"
        ip = news.counters("ipserver")
        assert ip.get("arp_requests_sent", 0) == ip_before.get("arp_requests_sent", 0), "ARP entry lost"
        if server == "ipserver":
            assert ip.get("arp_entries_adopted", 0) >= 1 and ip.get("routes_adopted", 0) >= 1, ip
        if server == "udpserver":
            assert news.counters("udpserver").get("sockets_readopted", 0) >= 1
        assert app.poll() is None, "the application survived the crash of a server"
    finally:
        app.kill()
        app.wait()
