"""The Linux side of the TCP tests, run in the test's namespace:

  tcp_peer.py echo HOST PORT BYTES          send BYTES random bytes, read the echo, compare
  tcp_peer.py sink PORT                     accept one connection, print "sha256 N HEX" of all it sends
  tcp_peer.py source PORT BYTES SEED        accept one connection, send BYTES pseudo-random bytes, print their sha256

Prints one result line; exits non-zero on any mismatch."""

import hashlib
import random
import socket
import sys
import time


def stream(n, seed):
    rng = random.Random(seed)
    while n > 0:
        k = min(n, 1 << 16)
        yield rng.randbytes(k)
        n -= k


def main():
    mode = sys.argv[1]
    if mode == "echo":
        host, port, n = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
        s = socket.create_connection((host, port), timeout=30)
        data = random.Random(1).randbytes(n)
        got = bytearray()
        sent = 0
        s.setblocking(False)
        t = time.monotonic()
        while len(got) < n:
            if sent < n:
                try:
                    sent += s.send(data[sent:sent + 65536])
                except BlockingIOError:
                    pass
            try:
                chunk = s.recv(1 << 16)
                if not chunk:
                    break
                got += chunk
            except BlockingIOError:
                time.sleep(0.0005)
            if time.monotonic() - t > 60:
                break
        print("ok" if bytes(got) == data else f"mismatch {len(got)} of {n}", len(got), round(time.monotonic() - t, 3))
    elif mode in ("sink", "source"):
        port = int(sys.argv[2])
        ls = socket.socket()
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("0.0.0.0", port))
        ls.listen(1)
        ls.settimeout(60)
        print("listening", flush=True)
        c, _ = ls.accept()
        c.settimeout(120)
        h = hashlib.sha256()
        total = 0
        if mode == "sink":
            while True:
                b = c.recv(1 << 18)
                if not b:
                    break
                h.update(b)
                total += len(b)
        else:
            for b in stream(int(sys.argv[3]), int(sys.argv[4])):
                c.sendall(b)
                h.update(b)
                total += len(b)
            c.shutdown(socket.SHUT_WR)
            c.recv(1)
        print("sha256", total, h.hexdigest(), flush=True)
    else:
        sys.exit(f"unknown mode {mode}")


main()
