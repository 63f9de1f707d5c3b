"""A Linux UDP echo client for the tests (run inside the test namespace): sends COUNT
datagrams of random sizes in [MIN, MAX], WINDOW in flight, and checks that every reply is
byte for byte the datagram it answers, in order. Prints 'ok N' or the first problem."""

import os
import random
import socket
import sys
import time
from collections import deque

host, port, count, lo, hi, window = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
s.settimeout(3.0)
s.connect((host, port))
rng = random.Random(int(sys.argv[7]) if len(sys.argv) > 7 else 1)
pending = deque()
sent = received = 0
start = time.monotonic()
try:
    while received < count:
        while sent < count and len(pending) < window:
            data = os.urandom(rng.randint(lo, hi))
            s.send(data)
            pending.append(data)
            sent += 1
        reply = s.recv(65536)
        expected = pending.popleft()
        if reply != expected:
            print(f"mismatch at reply {received}: got {len(reply)} bytes, expected {len(expected)}")
            sys.exit(1)
        received += 1
except socket.timeout:
    print(f"timeout after {received} of {count} replies")
    sys.exit(1)
except ConnectionRefusedError:
    print(f"refused after {received} replies")
    sys.exit(1)
print(f"ok {received} in {time.monotonic() - start:.2f} s")
