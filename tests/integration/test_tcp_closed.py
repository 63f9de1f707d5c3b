"""Issue 8: tcpserver answers for ports nobody listens on as Linux does (RFC 9293 3.10.7.1):
a SYN gets <SEQ=0><ACK=SEG.SEQ+1><CTL=RST,ACK>, so a Linux client's connect fails at once
with ECONNREFUSED; a stray ACK gets <SEQ=SEG.ACK><CTL=RST>; a RST gets nothing."""

import subprocess

from newsutil import wait_for

NEWS_IP = "198.18.0.2"

CONNECT = r'''
import errno, socket, sys, time
s = socket.socket()
s.settimeout(5)
t = time.monotonic()
try:
    s.connect((sys.argv[1], int(sys.argv[2])))
    print("connected")
except OSError as e:
    print(errno.errorcode.get(e.errno, str(e)), round(time.monotonic() - t, 3))
'''

SCAPY = r'''
import logging, sys
logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
from scapy.all import IP, TCP, sr1, send, conf
conf.verb = 0
dst = sys.argv[1]
a = sr1(IP(dst=dst)/TCP(sport=40001, dport=81, flags="S", seq=1000), timeout=3)
print("syn", a[TCP].flags, a[TCP].seq, a[TCP].ack if a else None)
b = sr1(IP(dst=dst)/TCP(sport=40002, dport=81, flags="A", seq=5, ack=777777), timeout=3)
print("ack", b[TCP].flags, b[TCP].seq)
c = sr1(IP(dst=dst)/TCP(sport=40003, dport=81, flags="R", seq=5), timeout=1)
print("rst", c)
'''


def test_connect_to_a_closed_port_is_refused_at_once(linked_news):
    news, ns = linked_news()
    out = ns.exec("python3", "-c", CONNECT, NEWS_IP, "80", check=True).stdout.split()
    assert out[0] == "ECONNREFUSED", out
    assert float(out[1]) < 1.0, f"refused after {out[1]} s: the RST came from a retransmitted SYN"
    news.wait_for(lambda: news.counters("tcpserver").get("segments_no_connection", 0) >= 1, 5, what="tcpserver saw the SYN")


def test_replies_to_segments_for_no_connection(linked_news):
    news, ns = linked_news()
    r = ns.exec("/usr/bin/python3", "-c", SCAPY, NEWS_IP, check=True)
    lines = dict(l.split(" ", 1) for l in r.stdout.strip().splitlines())
    assert lines["syn"] == "RA 0 1001", r.stdout
    assert lines["ack"] == "R 777777", r.stdout
    assert lines["rst"] == "None", r.stdout
    c = news.counters("tcpserver")
    assert c.get("resets_out", 0) == 2, c
