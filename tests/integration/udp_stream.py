"""A Linux UDP echo client that survives loss (run inside the test namespace): sends COUNT
datagrams (8-RANGE bytes, each starting with its number), WINDOW in flight; a reply must be
byte for byte the datagram with its number; after 0.5 s of silence what is out counts as
lost. Prints 'sent S received R lost L bad B'."""

import os
import random
import socket
import struct
import sys

host, port, count, window = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.5)
s.connect((host, port))
rng = random.Random(7)
pending = {}
sent = received = lost = bad = 0
while received + lost < count:
    while sent < count and len(pending) < window:
        data = struct.pack("!Q", sent) + os.urandom(rng.randint(0, 1464))
        s.send(data)
        pending[sent] = data
        sent += 1
    try:
        reply = s.recv(65536)
    except socket.timeout:
        lost += len(pending)
        pending.clear()
        continue
    except ConnectionRefusedError:
        continue
    n = struct.unpack("!Q", reply[:8])[0] if len(reply) >= 8 else -1
    if pending.pop(n, None) != reply:
        bad += 1
    else:
        received += 1
print(f"sent {sent} received {received} lost {lost} bad {bad}")
