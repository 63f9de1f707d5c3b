"""The Linux side of tests that hold TCP connections in chosen states, run in the test's
namespace and driven line by line from stdin (one answer line each):

  connect HOST PORT   -> "connected K LOCALPORT"   (K counts from 0)
  send K N            -> "sent X"      (up to N bytes without blocking: X were taken)
  recv K              -> "recv X"      (everything readable now, discarded; "eof X" at end of stream)
  shut K              -> "shut"        (shutdown SHUT_WR)
  wait K SECONDS      -> "reset" | "eof" | "timeout" | "error NAME"   (reads and discards until one of them)
"""

import socket
import sys
import time

conns = []
block = b"l" * 65536


def answer(*words):
    print(*words, flush=True)


def main():
    for line in sys.stdin:
        w = line.split()
        if not w:
            continue
        cmd = w[0]
        try:
            if cmd == "connect":
                s = socket.create_connection((w[1], int(w[2])), timeout=10)
                s.setblocking(False)
                conns.append(s)
                answer("connected", len(conns) - 1, s.getsockname()[1])
                continue
            s = conns[int(w[1])]
            if cmd == "send":
                n, sent = int(w[2]), 0
                while sent < n:
                    try:
                        sent += s.send(block[:min(len(block), n - sent)])
                    except BlockingIOError:
                        break
                answer("sent", sent)
            elif cmd == "recv":
                got = 0
                while True:
                    try:
                        b = s.recv(1 << 16)
                    except BlockingIOError:
                        answer("recv", got)
                        break
                    if not b:
                        answer("eof", got)
                        break
                    got += len(b)
            elif cmd == "shut":
                s.shutdown(socket.SHUT_WR)
                answer("shut")
            elif cmd == "wait":
                deadline = time.monotonic() + float(w[2])
                s.settimeout(0.05)
                result = "timeout"
                while time.monotonic() < deadline:
                    try:
                        if not s.recv(1 << 16):
                            result = "eof"
                            break
                    except socket.timeout:
                        continue
                    except ConnectionResetError:
                        result = "reset"
                        break
                s.setblocking(False)
                answer(result)
            else:
                answer("error", "unknown", cmd)
        except OSError as e:
            answer("error", type(e).__name__, e.errno)


main()
