"""Malformed frames: from the Linux side of the TAP, raw Ethernet frames that are broken in
one particular way each are sent to NEWS (scapy, run under Debian's /usr/bin/python3 inside
the namespace). Each must be dropped and counted under its own named counter on ipserver,
no other drop counter may move for it, no server may restart, and ping must still work
afterwards (4000-byte payloads, fragmented both ways). (This test found two bugs, since
fixed: drop counters lost once a status page held 48 names, and a loopback source accepted.)"""

import json
import re
import subprocess
from pathlib import Path

import pytest

from newsutil import binary, wait_for

UDP_CLIENT = str(Path(__file__).with_name("udp_client.py"))


NEWS_MAC = "02:4e:57:53:00:02"
SCAPY_PYTHON = "/usr/bin/python3"  # Debian's python, which has scapy; pytest's has not
COPIES = 3                          # frames (or frame groups) sent per case

# The sender runs inside the namespace. argv: table.json, TAP name, Linux side's MAC. It
# builds every case's frames up front, prints "ready", then for each case name read from
# stdin sends that case's frames followed by one well-formed echo request (the barrier: NEWS
# handles frames in order, so once that echo is answered every frame before it has been
# dealt with) and answers "sent NAME" or "refused NAME ERRNO TEXT".
SENDER = r'''
import json, logging, socket, sys
logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
from scapy.all import ARP, ICMP, IP, Dot1Q, Ether, ICMPv6EchoRequest, IPv6, Raw, checksum

table, IFACE, ME = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
NEWS_MAC, NEWS, LINUX, BCAST, ALL_ONES = table["news_mac"], "198.18.0.2", "198.18.0.1", "198.18.0.255", "255.255.255.255"
ETH_BCAST = "ff:ff:ff:ff:ff:ff"

def eth(dst=NEWS_MAC, **kw):
    return Ether(dst=dst, src=ME, **kw)

def ip(dst=NEWS, src=LINUX, mac=NEWS_MAC, **kw):
    return eth(dst=mac) / IP(src=src, dst=dst, **kw)

def echo(k, **kw):
    return ip(**kw) / ICMP(type=8, id=0x4E57, seq=k) / Raw(b"malformed-test!!")

def arp(**kw):
    return eth(dst=ETH_BCAST) / ARP(**{"op": 1, "hwsrc": ME, "psrc": LINUX, "hwdst": "00:00:00:00:00:00", "pdst": NEWS, **kw})

def quoted(src, proto):
    """What an ICMP error quotes: an IP header (src -> the other side) and 8 bytes."""
    return bytes(IP(src=src, dst=LINUX if src == NEWS else NEWS, proto=proto, id=0x77))[:20] + bytes([0x13, 0x88, 0, 9, 0, 16, 0, 0])

def icmp_error(quote, **kw):
    """Destination unreachable, port (RFC 792), about `quote`."""
    return ip(**kw) / ICMP(type=3, code=3) / Raw(quote)

def frag(k, offset, more, length, proto=1):
    return ip(id=k, flags="MF" if more else 0, frag=offset // 8, proto=proto) / Raw(bytes(length))

def patch(pkt, offset, data):
    b = bytearray(bytes(pkt))
    b[offset:offset + len(data)] = data
    return bytes(b)

def flip(pkt, offset):
    """Inverts one byte: turns a correct checksum byte into a wrong one."""
    b = bytearray(bytes(pkt))
    b[offset] ^= 0xFF
    return bytes(b)

def with_options(pkt, options):
    """`pkt` (Ether / IP / ...) with raw `options` bytes put into its IP header: IHL, Total
    Length and the header checksum are fixed up to match, so only the options are wrong."""
    b = bytes(pkt)
    header = bytearray(b[14:34] + options)
    header[0] = 0x40 | len(header) // 4
    header[2:4] = (len(header) + len(b) - 34).to_bytes(2, "big")
    header[10:12] = checksum(bytes(header[:10]) + b"\0\0" + bytes(header[12:])).to_bytes(2, "big")
    return b[:14] + bytes(header) + b[34:]

def frames(expr, k):
    r = eval("lambda k: " + expr)(k)
    return [bytes(f) for f in (r if isinstance(r, list) else [r])]

built = {}
for n, (name, case) in enumerate(sorted(table["cases"].items())):
    built[name] = [frames(case["frames"], 0x1000 + 16 * n + copy) for copy in range(table["copies"])]
# A plain packet socket rather than scapy's L2socket/sendp: when the kernel refuses a frame
# (EINVAL for one shorter than the Ethernet header), scapy silently pads it to 60 bytes and
# resends, which would turn a runt into a different case.
sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
sock.bind((IFACE, 0))
barrier = bytes(echo(0))
print("ready", flush=True)
for line in sys.stdin:
    name = line.strip()
    try:
        for group in built[name]:
            for f in group:
                assert sock.send(f) == len(f), "short send"
        sock.send(barrier)
        print("sent", name, flush=True)
    except OSError as e:
        print("refused", name, e.errno, e.strerror, flush=True)
'''


class Case:
    """`frames`: a Python expression (scapy; a frame, bytes, or a list of them) of `k`, a
    number unique to each copy (used as IP id); `counter`: the ipserver counter that must
    rise by (at least) one per copy; `also`: other drop or acceptance counters this case may
    move; `replies`: echo replies NEWS sends per copy (for the barrier)."""

    def __init__(self, frames, counter, also=(), replies=0):
        self.frames, self.counter, self.also, self.replies = frames, counter, set(also), replies


# Well-formed counterparts of the frames below, sent through the same helpers first: they
# prove the helpers build frames NEWS accepts, so each malformed case fails for its one flaw.
CONTROLS = {
    "control_echo": Case("echo(k)", "icmp_echo_replies", also={"icmp_in"}, replies=1),
    "control_echo_with_nop_options": Case("with_options(echo(k), b'\\x01\\x01\\x01\\x00')", "icmp_echo_replies",
                                          also={"icmp_in"}, replies=1),
    "control_fragmented_echo": Case("[ip(id=k, flags='MF', proto=1) / bytes(echo(k)[ICMP])[:16], "
                                    "ip(id=k, frag=2, proto=1) / bytes(echo(k)[ICMP])[16:]]", "reassembled",
                                    also={"icmp_in", "icmp_echo_replies"}, replies=1),
    "control_arp_request": Case("arp()", "arp_replies_sent"),
    # An ICMP port unreachable about a UDP datagram NEWS sent goes up to udpserver.
    "control_icmp_error_about_news_udp": Case("icmp_error(quoted(NEWS, 17))", "icmp_errors_to_transport",
                                              also={"icmp_in"}),
}

CASES = {
    # --- Ethernet -------------------------------------------------------------------------
    "eth_unknown_ethertype": Case("eth(type=0x88B5) / Raw(bytes(46))", "dropped_ethertype"),
    "eth_vlan_tagged": Case("eth() / Dot1Q(vlan=7) / IP(src=LINUX, dst=NEWS) / ICMP()", "dropped_ethertype"),
    "eth_ipv6": Case("eth() / IPv6(dst='fe80::4e:57ff:fe53:2') / ICMPv6EchoRequest()", "dropped_ethertype"),
    "eth_not_our_mac": Case("echo(k, mac='02:00:00:00:00:99')", "dropped_not_our_mac"),
    # --- ARP (offsets: the ARP header starts at byte 14) ------------------------------------
    "arp_truncated_fixed_part": Case("eth(dst=ETH_BCAST, type=0x0806) / Raw(bytes(ARP())[:6])", "arp_truncated"),
    "arp_truncated_addresses": Case("bytes(arp())[:14 + 20]", "arp_truncated"),
    "arp_hardware_type_6": Case("patch(arp(), 14, b'\\x00\\x06')", "arp_unsupported"),
    "arp_protocol_type_ipv6": Case("patch(arp(), 16, b'\\x86\\xdd')", "arp_unsupported"),
    "arp_hardware_length_8": Case("patch(arp(), 18, b'\\x08')", "arp_unsupported"),
    "arp_protocol_length_16": Case("patch(arp(), 19, b'\\x10')", "arp_unsupported"),
    "arp_sender_off_network": Case("arp(psrc='198.19.0.7')", "arp_bad_sender"),
    "arp_sender_is_news": Case("arp(psrc=NEWS)", "arp_bad_sender"),
    "arp_sender_subnet_broadcast": Case("arp(psrc=BCAST)", "arp_bad_sender"),
    "arp_sender_mac_broadcast": Case("arp(hwsrc=ETH_BCAST)", "arp_bad_sender"),
    # --- IPv4 header (offsets: the IP header starts at byte 14) -----------------------------
    "ipv4_truncated_header": Case("bytes(echo(k))[:14 + 19]", "ipv4_truncated"),
    "ipv4_version_6": Case("echo(k, version=6)", "ipv4_bad_version"),
    "ipv4_ttl_zero": Case("echo(k, ttl=0)", "ipv4_ttl_zero"),
    "ipv4_ihl_4": Case("echo(k, ihl=4)", "ipv4_bad_ihl"),
    "ipv4_ihl_beyond_packet": Case("ip(ihl=15, len=30, proto=1) / Raw(bytes(10))", "ipv4_header_beyond_packet"),
    "ipv4_total_length_below_header": Case("echo(k, len=12)", "ipv4_total_length_too_short"),
    "ipv4_total_length_beyond_frame": Case("echo(k, len=1000)", "ipv4_total_length_beyond_frame"),
    "ipv4_bad_header_checksum": Case("flip(echo(k), 14 + 10)", "ipv4_bad_checksum"),
    "ipv4_option_length_1": Case("with_options(echo(k), b'\\x07\\x01\\x00\\x00')", "ipv4_bad_options_length"),
    "ipv4_option_past_header": Case("with_options(echo(k), b'\\x07\\x27\\x04\\x00')", "ipv4_bad_options_length"),
    "ipv4_option_without_length": Case("with_options(echo(k), b'\\x01\\x01\\x01\\x44')", "ipv4_bad_options_length"),
    "ipv4_source_limited_broadcast": Case("echo(k, src=ALL_ONES)", "ipv4_martian_source"),
    "ipv4_source_multicast": Case("echo(k, src='224.0.0.5')", "ipv4_martian_source"),
    "ipv4_source_subnet_broadcast": Case("echo(k, src=BCAST)", "ipv4_martian_source"),
    "ipv4_source_is_news": Case("echo(k, src=NEWS)", "ipv4_martian_source"),
    "ipv4_destination_not_news": Case("echo(k, dst='198.18.0.77')", "dropped_not_our_ip"),
    "ipv4_destination_multicast": Case("echo(k, dst='224.0.0.1')", "dropped_not_our_ip"),
    # RFC 1122 3.2.2.1: also answered with ICMP protocol unreachable (checked on Linux's side).
    "ipv4_unknown_protocol": Case("ip(proto=253, id=k) / Raw(bytes(16))", "dropped_unknown_protocol",
                                  also={"icmp_unreachable_sent"}),
    # --- ICMP (offsets: the ICMP header starts at byte 34) --------------------------------
    "icmp_truncated": Case("ip(proto=1, id=k) / Raw(b'\\x08\\x00\\xf7\\xff')", "icmp_truncated"),
    "icmp_bad_checksum": Case("flip(echo(k), 34 + 2)", "icmp_bad_checksum"),
    "icmp_echo_subnet_broadcast": Case("echo(k, dst=BCAST, mac=ETH_BCAST)", "icmp_echo_broadcast_ignored",
                                       also={"icmp_in"}),
    "icmp_echo_limited_broadcast": Case("echo(k, dst=ALL_ONES, mac=ETH_BCAST)", "icmp_echo_broadcast_ignored",
                                        also={"icmp_in"}),
    # ICMP errors from the wire: only one about a UDP or TCP datagram NEWS sent goes up.
    "icmp_error_quote_truncated": Case("icmp_error(quoted(NEWS, 17)[:24])", "icmp_bad_quote", also={"icmp_in"}),
    "icmp_error_not_about_news": Case("icmp_error(quoted(LINUX, 17))", "icmp_error_not_ours", also={"icmp_in"}),
    "icmp_error_about_icmp": Case("icmp_error(quoted(NEWS, 1))", "icmp_error_other_protocol", also={"icmp_in"}),
    "icmp_error_to_broadcast": Case("icmp_error(quoted(NEWS, 17), dst=BCAST, mac=ETH_BCAST)", "icmp_error_not_for_us",
                                    also={"icmp_in"}),
    # --- Fragments (k is the IP identification, so each copy is its own datagram) ---------
    "frag_overlapping": Case("[frag(k, 0, True, 16), frag(k, 8, True, 16)]", "frag_overlap"),
    "frag_after_overlap": Case("[frag(k, 0, True, 16), frag(k, 8, True, 16), frag(k, 24, False, 8)]",
                               "frag_poisoned", also={"frag_overlap"}),
    "frag_non_last_not_multiple_of_8": Case("frag(k, 0, True, 12)", "frag_bad_length"),
    "frag_empty_middle": Case("frag(k, 8, True, 0)", "frag_bad_length"),
    "frag_tiny_first": Case("frag(k, 0, True, 4)", "frag_tiny"),
    "frag_empty_first": Case("frag(k, 0, True, 0)", "frag_tiny"),
    "frag_beyond_64k": Case("frag(k, 65512, False, 8)", "frag_too_big"),
    "frag_conflicting_last": Case("[frag(k, 16, False, 8), frag(k, 32, False, 8)]", "frag_conflicting_end"),
}

# Accepted by NEWS although they should be dropped: test_loopback_source_is_dropped.
# RFC 1122 3.2.1.3 (g): { 127, <any> } "MUST NOT appear outside a host", and "a host MUST
# silently discard an incoming datagram containing an IP source address that is invalid by
# the rules of this section" (Linux drops it as a martian too).
LOOPBACK = {"ipv4_source_loopback": Case("echo(k, src='127.0.0.1')", "ipv4_martian_source")}

# The Ethernet runt gets its own test: the kernel may refuse to send it.
RUNT = {"eth_runt_13_bytes": Case("bytes(eth(type=0x0800))[:13]", "ethernet_truncated")}

# Drop counters of ipserver (WireError.counterName, ReassemblyDrop.counterName, IPCore), and
# the counters that show a frame was taken as valid: a case may move only its own and `also`.
DROP_COUNTERS = {
    "ethernet_truncated", "arp_truncated", "arp_unsupported", "ipv4_truncated", "ipv4_bad_version",
    "ipv4_bad_ihl", "ipv4_header_beyond_packet", "ipv4_total_length_too_short",
    "ipv4_total_length_beyond_frame", "ipv4_bad_checksum", "ipv4_ttl_zero", "ipv4_martian_source",
    "ipv4_bad_options_length", "icmp_truncated", "icmp_bad_checksum", "udp_truncated", "udp_bad_length",
    "udp_bad_checksum", "tcp_truncated", "tcp_bad_data_offset",
    "frag_overlap", "frag_poisoned", "frag_tiny", "frag_too_big", "frag_timeout", "frag_limit_datagrams",
    "frag_limit_bytes", "frag_bad_length", "frag_too_many", "frag_conflicting_end",
    "dropped_not_our_mac", "dropped_ethertype", "dropped_not_our_ip", "arp_bad_sender",
    "dropped_unknown_protocol", "icmp_echo_broadcast_ignored", "dropped_unexpected_message",
    "dropped_no_transport", "dropped_datagram_too_big", "dropped_transport_full",
    "icmp_bad_quote", "icmp_error_not_for_us", "icmp_error_not_ours", "icmp_error_other_protocol",
    "icmp_request_not_delivered", "icmp_rate_limited", "transport_bad_ip_header", "transport_wrong_protocol",
    "transport_wrong_source", "transport_bad_destination", "transport_bad_segment",
}
ACCEPT_COUNTERS = {"icmp_in", "icmp_echo_replies", "reassembled", "arp_replies_sent", "icmp_unreachable_sent",
                   "icmp_errors_to_transport"}
BARRIER = {"icmp_in": 1, "icmp_echo_replies": 1}  # what the barrier echo adds
# Linux's own IPv6 traffic on the link (router solicitations, MLD) goes to 33:33:... MACs.
NOISY = {"dropped_not_our_mac"}


def linux_mac(ns):
    out = subprocess.run(["ip", "-n", ns.name, "link", "show", ns.tap], capture_output=True, text=True, check=True).stdout
    return re.search(r"link/ether ([0-9a-f:]{17})", out).group(1)


class Sender:
    """The scapy process in the namespace; `send(name)` returns its answer, split."""

    def __init__(self, ns, tmp_path, cases):
        script, table = tmp_path / "sender.py", tmp_path / "table.json"
        script.write_text(SENDER)
        table.write_text(json.dumps({"copies": COPIES, "news_mac": NEWS_MAC, "cases": {n: {"frames": c.frames} for n, c in cases.items()}}))
        self.proc = subprocess.Popen(["ip", "netns", "exec", ns.name, SCAPY_PYTHON, str(script), str(table), ns.tap,
                                      linux_mac(ns)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if line.strip() != "ready":
            self.proc.kill()
            raise AssertionError(f"scapy sender did not start: {line!r}\n{self.proc.stderr.read()}")

    def send(self, name):
        self.proc.stdin.write(name + "\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().split()

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def run_cases(news, ns, tmp_path, cases):
    """Sends each case in turn (COPIES copies, then the barrier) and judges the counters that
    moved meanwhile. Returns {case: (verdict, detail)}, verdict one of "ok"; "refused" (the
    kernel would not send it); "miscounted"."""
    sender = Sender(ns, tmp_path, cases)
    results = {}
    try:
        before = news.counters("ipserver")
        for name, case in cases.items():
            answer = sender.send(name)
            if answer[:1] != ["sent"]:
                results[name] = ("refused", " ".join(answer[2:]))
                continue
            echoes = before.get("icmp_echo_replies", 0) + 1 + case.replies * COPIES
            try:
                after = wait_for(lambda: (c := news.counters("ipserver")).get("icmp_echo_replies", 0) >= echoes and c,
                                 timeout=3, what=f"the barrier echo after {name}")
            except AssertionError:
                after = news.counters("ipserver")
            delta = {k: v - before.get(k, 0) - BARRIER.get(k, 0) for k, v in after.items()}
            moved = {k: v for k, v in delta.items() if v}
            stray = {k: v for k, v in moved.items() if k in DROP_COUNTERS | ACCEPT_COUNTERS
                     and k != case.counter and k not in case.also | NOISY}
            detail = (f"expected {case.counter} += {COPIES}; counters that moved: "
                      + json.dumps({k: moved[k] for k in sorted(moved)}))
            if delta.get(case.counter, 0) >= COPIES and not stray:
                results[name] = ("ok", "")
            else:
                results[name] = ("miscounted", detail)
            before = after
    finally:
        sender.close()
    return results


def report(results, allowed=("ok",)):
    bad = {n: r for n, r in results.items() if r[0] not in allowed}
    return "\n".join(f"  {n}: {verdict}: {detail}" for n, (verdict, detail) in bad.items())


def icmp_in_dest_unreachs(ns):
    lines = [line.split() for line in ns.exec("cat", "/proc/net/snmp", check=True).stdout.splitlines()
             if line.startswith("Icmp:")]
    return int(dict(zip(lines[0][1:], lines[1][1:]))["InDestUnreachs"])


def ping(ns, size, count):
    p = ns.exec("ping", "-c", str(count), "-i", "0.01", "-W", "2", "-s", str(size), "198.18.0.2", timeout=60)
    m = re.search(r"(\d+) packets transmitted, (\d+) received", p.stdout)
    assert m, p.stdout + p.stderr
    return int(m.group(1)), int(m.group(2))


def flood(linked_news, ipc, tmp_path):
    """A linked NEWS that has answered ping, then every control and case sent to it."""
    news, ns = linked_news(ipc=ipc)
    assert ping(ns, 56, 3) == (3, 3)  # the link works and NEWS knows Linux's MAC
    servers = news.servers()
    unreachs = icmp_in_dest_unreachs(ns)
    results = run_cases(news, ns, tmp_path, {**CONTROLS, **CASES})
    return news, ns, servers, unreachs, results


def test_malformed_frames_are_dropped_and_counted(linked_news, ipc, tmp_path):
    assert len(CASES) >= 20 and len({c.counter for c in CASES.values()}) >= 20
    news, ns, servers, unreachs, results = flood(linked_news, ipc, tmp_path)
    assert all(results[n][0] == "ok" for n in CONTROLS), "well-formed frames not accepted:\n" + report(
        {n: results[n] for n in CONTROLS})
    assert not report(results), "malformed frames not dropped and counted under their own name:\n" + report(results)

    # The unknown protocol was answered with ICMP protocol unreachable, which Linux received.
    assert news.counters("ipserver").get("icmp_unreachable_sent", 0) >= COPIES
    wait_for(lambda: icmp_in_dest_unreachs(ns) - unreachs >= COPIES, timeout=2,
             what="Linux receiving NEWS's ICMP protocol unreachables")

    after = news.servers()
    for name, s in servers.items():
        assert after[name]["state"] == "running" and after[name]["restarts"] == 0 \
            and after[name]["pid"] == s["pid"], f"{name} restarted during the flood: {s} -> {after[name]}"
    assert ping(ns, 4000, 20) == (20, 20)
    # ... and so does the UDP echo test.
    app = subprocess.Popen([binary("newsecho"), "--app-socket", news.app_socket, "--port", "7"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert "listening" in app.stdout.readline()
        p = ns.exec("python3", UDP_CLIENT, "198.18.0.2", "7", "5000", "1", "1472", "32", timeout=120)
        assert p.returncode == 0 and p.stdout.startswith("ok"), p.stdout + p.stderr
    finally:
        app.kill()
        app.wait()


def test_loopback_source_is_dropped(linked_news, ipc, tmp_path):
    news, ns = linked_news(ipc=ipc)
    assert ping(ns, 56, 1) == (1, 1)
    results = run_cases(news, ns, tmp_path, LOOPBACK)
    assert not report(results), "loopback source not dropped:\n" + report(results)


def test_ethernet_runt_is_counted(linked_news, ipc, tmp_path):
    news, ns = linked_news(ipc=ipc)
    results = run_cases(news, ns, tmp_path, RUNT)
    verdict, detail = results["eth_runt_13_bytes"]
    if verdict == "refused":
        pytest.skip("the kernel will not send a frame shorter than the 14-byte Ethernet header over a TAP "
                    f"(packet socket send: {detail})")
    assert verdict == "ok", detail


UDP_CASES = """
import sys
from scapy.all import Ether, IP, UDP, Raw, sendp, conf
conf.verb = 0
iface, me = sys.argv[1], sys.argv[2]
def ip(): return Ether(dst=%r, src=me) / IP(src="198.18.0.1", dst="198.18.0.2", proto=17)
good = bytes(UDP(sport=4000, dport=9999) / Raw(b"x" * 20))
frames = {
    "udp_truncated": ip() / Raw(good[:5]),
    "udp_bad_length": ip() / Raw(good[:4] + (200).to_bytes(2, "big") + good[6:]),
    "udp_bad_checksum": ip() / Raw(good[:6] + bytes([good[6] ^ 0xFF, good[7]]) + good[8:]),
}
for name, frame in frames.items():
    for _ in range(%d):
        sendp(frame, iface=iface)
""" % (NEWS_MAC, COPIES)


def test_malformed_udp_is_counted_by_udpserver(linked_news):
    """The UDP server checks what the IP server hands it: truncated datagrams, impossible
    length fields and bad checksums are each dropped under their own name."""
    news, ns = linked_news()
    assert ping(ns, 56, 2) == (2, 2)
    before = news.counters("udpserver")
    p = ns.exec(SCAPY_PYTHON, "-c", UDP_CASES, ns.tap, linux_mac(ns), timeout=60)
    assert p.returncode == 0, p.stderr
    names = ("udp_truncated", "udp_bad_length", "udp_bad_checksum")
    def counted():
        c = news.counters("udpserver")
        return c if all(c.get(n, 0) - before.get(n, 0) >= COPIES for n in names) else None
    after = wait_for(counted, timeout=5, what="udpserver's drop counters")
    assert after.get("delivered", 0) == before.get("delivered", 0), "nothing malformed was delivered"
    assert all(s["restarts"] == 0 for s in news.servers().values())
