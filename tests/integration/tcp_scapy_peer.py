"""The crafted-segment peer of test_tcp_crafted.py, run inside the test's namespace under
Debian's /usr/bin/python3 (which has scapy):

  tcp_scapy_peer.py IFACE MY_IP MY_MAC NEWS_IP NEWS_MAC

It is a host of its own on the link, MY_IP at MY_MAC, neither of them the Linux kernel's: it
answers ARP for MY_IP itself, and the frames NEWS sends it are addressed to a MAC the
kernel's interface does not have, so the kernel drops them before IP and never answers a
segment to one of our ports with a RST of its own (no iptables or nft needed). Segments go
out and come in over one packet socket on IFACE.

Requests come one JSON object a line on stdin, each answered by one JSON line on stdout:
  {"op": "send", "sport", "dport", "flags", "seq", "ack", "win", "urg", "data": HEX,
   "opts": {"mss", "ws", "sackok", "ts": [VAL, ECR]}}       -> {"t": when it went}
  {"op": "recv", "port", "count", "timeout", "settle"}      -> {"segs": [...]}
      waits until `count` segments from NEWS to our `port` are queued (or `timeout`), then
      `settle` seconds more, and hands over (and forgets) all queued; each segment is
      {"sport", "dport", "flags" (scapy's letters: F S R P A U E C), "seq", "ack", "win",
       "urg", "data": HEX, "opts": {...as above, and "sack": [[LEFT, RIGHT], ...]}, "t"}
  {"op": "flood", "count", "dport", "first", "last", "seed"} -> {"sent", "start", "seconds"}
      `count` SYNs to NEWS_IP:dport from addresses MY_NET.first..MY_NET.last (the link's
      own /24, never anything else), random source ports and sequence numbers, prebuilt
      and then sent back to back.
Times are time.monotonic() of this process."""

import json
import logging
import random
import socket
import struct
import sys
import threading
import time

logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
from scapy.all import ARP, IP, TCP, Ether, Raw  # noqa: E402

IFACE, MY_IP, MY_MAC, NEWS_IP, NEWS_MAC = sys.argv[1:6]
ETH_P_ALL, ETH_P_IP, ETH_P_ARP = 0x0003, 0x0800, 0x0806
LETTERS = "FSRPAUEC"

sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
sock.bind((IFACE, 0))
me, news = socket.inet_aton(MY_IP), socket.inet_aton(NEWS_IP)
my_mac = bytes.fromhex(MY_MAC.replace(":", ""))

queues = {}
cond = threading.Condition()
arp_answered = threading.Event()


def flags_text(bits):
    return "".join(l for i, l in enumerate(LETTERS) if bits & (1 << i))


def parse_options(raw):
    opts, i = {}, 0
    while i < len(raw):
        kind = raw[i]
        if kind == 0:
            break
        if kind == 1:
            i += 1
            continue
        if i + 1 >= len(raw) or raw[i + 1] < 2:
            opts["malformed"] = True
            break
        n = raw[i + 1]
        body = raw[i + 2:i + n]
        if kind == 2 and n == 4:
            opts["mss"] = struct.unpack("!H", body)[0]
        elif kind == 3 and n == 3:
            opts["ws"] = body[0]
        elif kind == 4 and n == 2:
            opts["sackok"] = True
        elif kind == 5:
            opts["sack"] = [list(struct.unpack("!II", body[k:k + 8])) for k in range(0, len(body) - 7, 8)]
        elif kind == 8 and n == 10:
            opts["ts"] = list(struct.unpack("!II", body))
        else:
            opts[f"kind{kind}"] = body.hex()
        i += n
    return opts


def receiver():
    while True:
        frame, meta = sock.recvfrom(65535)
        if meta[2] == socket.PACKET_OUTGOING or len(frame) < 14:
            continue
        ethertype = struct.unpack("!H", frame[12:14])[0]
        if ethertype == ETH_P_ARP and len(frame) >= 42:
            op = struct.unpack("!H", frame[20:22])[0]
            sender_mac, sender_ip, target_ip = frame[22:28], frame[28:32], frame[38:42]
            if op == 1 and target_ip == me:
                asker = ":".join(f"{b:02x}" for b in sender_mac)
                reply = Ether(dst=asker, src=MY_MAC) / ARP(op=2, hwsrc=MY_MAC, psrc=MY_IP, hwdst=asker,
                                                           pdst=socket.inet_ntoa(sender_ip))
                sock.send(bytes(reply))
            elif op == 2 and sender_ip == news and target_ip == me:
                arp_answered.set()
            continue
        if ethertype != ETH_P_IP or len(frame) < 34:
            continue
        ip = frame[14:]
        ihl = (ip[0] & 15) * 4
        if ip[9] != 6 or ip[12:16] != news or ip[16:20] != me:
            continue
        total = struct.unpack("!H", ip[2:4])[0]
        tcp = ip[ihl:total]
        if len(tcp) < 20:
            continue
        sport, dport, seq, ack, off, bits, win, _, urg = struct.unpack("!HHIIBBHHH", tcp[:20])
        hl = (off >> 4) * 4
        seg = {"sport": sport, "dport": dport, "flags": flags_text(bits), "seq": seq, "ack": ack, "win": win, "urg": urg,
               "data": tcp[hl:].hex(), "opts": parse_options(tcp[20:hl]), "t": time.monotonic()}
        with cond:
            queues.setdefault(dport, []).append(seg)
            cond.notify_all()


def build(r):
    opts = []
    o = r.get("opts") or {}
    if "mss" in o:
        opts.append(("MSS", o["mss"]))
    if "ws" in o:
        opts.append(("WScale", o["ws"]))
    if o.get("sackok"):
        opts.append(("SAckOK", b""))
    if "ts" in o:
        opts.append(("Timestamp", tuple(o["ts"])))
    pkt = Ether(dst=NEWS_MAC, src=MY_MAC) / IP(src=MY_IP, dst=NEWS_IP) / TCP(
        sport=r["sport"], dport=r["dport"], flags=r.get("flags", "A"), seq=r.get("seq", 0) % (1 << 32),
        ack=r.get("ack", 0) % (1 << 32), window=r.get("win", 65535), urgptr=r.get("urg", 0), options=opts)
    data = bytes.fromhex(r.get("data", ""))
    return bytes(pkt / Raw(data)) if data else bytes(pkt)


def checksum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def syn_frame(src, sport, dport, seq):
    """A SYN with an MSS option, built by hand: scapy takes far longer per frame."""
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, 0, 6 << 4, 0x02, 64240, 0, 0) + struct.pack("!BBH", 2, 4, 1460)
    pseudo = src + news + struct.pack("!BBH", 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", checksum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), seq & 0xFFFF, 0, 64, 6, 0, src, news)
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    return bytes.fromhex(NEWS_MAC.replace(":", "")) + my_mac + b"\x08\x00" + ip + tcp


def flood(r):
    rng = random.Random(r.get("seed", 1))
    net = MY_IP.rsplit(".", 1)[0]
    first, last = int(r["first"]), int(r["last"])
    assert 1 <= first <= last <= 254, "flood sources stay inside the link's /24"
    sources = [socket.inet_aton(f"{net}.{h}") for h in range(first, last + 1)]
    frames = [syn_frame(rng.choice(sources), rng.randrange(1024, 65536), r["dport"], rng.randrange(1 << 32))
              for _ in range(r["count"])]
    t = time.monotonic()
    sent = 0
    for f in frames:
        try:
            sock.send(f)
            sent += 1
        except OSError:  # ENOBUFS: the TAP's queue is full; the flood goes on
            pass
    return {"sent": sent, "start": t, "seconds": time.monotonic() - t}


def serve(r):
    op = r["op"]
    if op == "send":
        f = build(r)
        sock.send(f)
        return {"t": time.monotonic()}
    if op == "recv":
        port, count = r["port"], r.get("count", 1)
        deadline = time.monotonic() + r.get("timeout", 2.0)
        with cond:
            while len(queues.get(port, [])) < count and (left := deadline - time.monotonic()) > 0:
                cond.wait(left)
        if r.get("settle"):
            time.sleep(r["settle"])
        with cond:
            segs = queues.pop(port, [])
        return {"segs": segs}
    if op == "flood":
        return flood(r)
    raise ValueError(f"unknown op {op}")


threading.Thread(target=receiver, daemon=True).start()
# RFC 826: NEWS merges the sender of a request aimed at it into its ARP cache, so once this
# is answered NEWS can send to MY_IP without asking first.
announce = bytes(Ether(dst="ff:ff:ff:ff:ff:ff", src=MY_MAC) / ARP(op=1, hwsrc=MY_MAC, psrc=MY_IP, pdst=NEWS_IP))
for _ in range(10):
    sock.send(announce)
    if arp_answered.wait(0.5):
        break
else:
    print(json.dumps({"error": "NEWS did not answer ARP"}), flush=True)
    sys.exit(1)
print(json.dumps({"ready": True}), flush=True)
for line in sys.stdin:
    try:
        answer = serve(json.loads(line))
    except Exception as e:  # the test reports it; the peer stays up for the next request
        answer = {"error": f"{type(e).__name__}: {e}"}
    print(json.dumps(answer), flush=True)
