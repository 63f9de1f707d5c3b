"""A Linux UDP client that keeps a steady stream going to an echo server (run inside the
test namespace): RATE datagrams a second for SECONDS, each carrying its number and a
keyed pattern, then 2 s for the last replies. A reply counts once if it is byte for byte a
datagram that was sent; late replies count, duplicates and mismatches are reported.
Prints one JSON object: sent, received, lost, bad, duplicates, longest_gap_ms."""

import json
import socket
import struct
import sys
import time

host, port, rate, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect((host, port))
s.setblocking(False)


def payload(n):
    return struct.pack("!Q", n) + bytes((n * 31 + i) & 0xFF for i in range(n % 200 + 16))


sent = received = bad = duplicates = 0
seen = set()
last_reply = start = time.monotonic()
longest_gap = 0.0
end = start + seconds
drain_until = end + 2.0
while True:
    now = time.monotonic()
    if now >= drain_until or (now >= end and received + bad >= sent):
        break
    while now < end and sent < (now - start) * rate:
        try:
            s.send(payload(sent))
        except (BlockingIOError, ConnectionRefusedError):
            pass  # counted as lost if no reply comes
        sent += 1
    try:
        reply = s.recv(65536)
    except BlockingIOError:
        time.sleep(0.0005)
        continue
    except ConnectionRefusedError:
        continue
    now = time.monotonic()
    longest_gap = max(longest_gap, now - last_reply)
    last_reply = now
    n = struct.unpack("!Q", reply[:8])[0] if len(reply) >= 8 else -1
    if n < 0 or n >= sent or reply != payload(n):
        bad += 1
    elif n in seen:
        duplicates += 1
    else:
        seen.add(n)
        received += 1
print(json.dumps({"sent": sent, "received": received, "lost": sent - received, "bad": bad,
                  "duplicates": duplicates, "longest_gap_ms": round(longest_gap * 1000, 1)}))
