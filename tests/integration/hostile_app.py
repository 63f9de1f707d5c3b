"""A hostile NEWS application, for the tests that show no local program can take down, stall
or spy on the stack. It speaks newsd's app protocol itself (it is not libnews: libnews would
check what this program sets out to break) and then abuses what it was given.

    hostile_app.py APP_SOCKET descriptors        truncate, grow and seal every descriptor
    hostile_app.py APP_SOCKET scribble SECONDS   random bytes over its header and rings
    hostile_app.py APP_SOCKET forge PORT SECONDS claim PORT in its header, then wait
    hostile_app.py APP_SOCKET churn SECONDS      open and close sockets in a tight loop
    hostile_app.py APP_SOCKET hold SECONDS       connections and sockets past every limit
    hostile_app.py APP_SOCKET kicks SECONDS      drain, flood, block and close its kick

Prints one JSON object with what happened (errno names for refused operations)."""

import errno
import fcntl
import json
import mmap
import os
import random
import socket
import struct
import sys
import time

F_ADD_SEALS, F_GET_SEALS = 1033, 1034
F_SEAL_SEAL, F_SEAL_SHRINK, F_SEAL_GROW, F_SEAL_WRITE, F_SEAL_FUTURE_WRITE = 1, 2, 4, 8, 16
HEADER = 4096          # socket header page (news_sock_header_t at its start)
OFF_STATE, OFF_LOCAL_ADDR, OFF_LOCAL_PORT = 12, 16, 24


class Refused(Exception):
    def __init__(self, line):
        super().__init__(line)
        self.line = line


class Connection:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(5)
        self.sock.connect(path)
        greeting, _ = self.line()
        if not greeting.startswith("hello"):
            self.sock.close()
            raise Refused(greeting)

    def line(self):
        data, fds = b"", []
        while not data.endswith(b"\n"):
            chunk, got, _, _ = socket.recv_fds(self.sock, 256, 4)
            if not chunk and not got:
                raise ConnectionError("newsd closed the connection")
            data += chunk
            fds += got
        return data.decode().strip(), fds

    def udp(self):
        """Returns (id, region fd, kick fd) or raises Refused."""
        self.sock.sendall(b"udp\n")
        answer, fds = self.line()
        if not answer.startswith("ok "):
            for fd in fds:
                os.close(fd)
            raise Refused(answer)
        return int(answer.split()[1]), fds[0], fds[1]

    def close_socket(self, sid):
        self.sock.sendall(f"close {sid}\n".encode())
        return self.line()[0]


def attempt(f):
    try:
        f()
        return "ok"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))


def descriptors(path):
    c = Connection(path)
    sid, region, kick = c.udp()
    size = os.fstat(region).st_size
    out = {"socket": sid, "size": size, "seals": fcntl.fcntl(region, F_GET_SEALS)}
    for name, fd in (("region", region), ("kick", kick)):
        out[name] = {
            "truncate": attempt(lambda: os.ftruncate(fd, 0)),
            "shrink": attempt(lambda: os.ftruncate(fd, 4096)),
            "grow": attempt(lambda: os.ftruncate(fd, 64 << 20)),
            "seal_write": attempt(lambda: fcntl.fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE)),
            "seal_future_write": attempt(lambda: fcntl.fcntl(fd, F_ADD_SEALS, F_SEAL_FUTURE_WRITE)),
            "seal_grow": attempt(lambda: fcntl.fcntl(fd, F_ADD_SEALS, F_SEAL_GROW)),
        }
    out["size_after"] = os.fstat(region).st_size
    # Still its own memory: it may write it (that only harms its own socket).
    m = mmap.mmap(region, size)
    m[0:4] = b"\0\0\0\0"
    out["wrote_own_header"] = True
    out["close"] = c.close_socket(sid)
    print(json.dumps(out))


def scribble(path, seconds):
    c = Connection(path)
    sid, region, kick = c.udp()
    size = os.fstat(region).st_size
    m = mmap.mmap(region, size)
    # Let the UDP server take the socket over first (a header scribbled before that only
    # makes it refuse the socket), then break it under the server's feet.
    time.sleep(0.5)
    rng = random.Random(1)
    writes = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        # Every field of the header and of both rings' headers, and anywhere in the slots.
        if rng.random() < 0.7:
            at = rng.randrange(0, HEADER + 2 * 4096)
        else:
            at = rng.randrange(0, size - 16)
        n = rng.choice((1, 2, 4, 8, 16))
        m[at:at + n] = os.urandom(n)
        writes += 1
        if writes % 1000 == 0:
            # Its transmit ring's head (the first word after the header page), wild.
            m[HEADER:HEADER + 8] = os.urandom(8)
        if writes % 256 == 0:
            try:
                os.write(kick, struct.pack("Q", 1))  # and ring the stack now and then
            except BlockingIOError:
                pass
    print(json.dumps({"socket": sid, "writes": writes}))


def forge(path, port, seconds):
    c = Connection(path)
    sid, region, kick = c.udp()
    m = mmap.mmap(region, os.fstat(region).st_size)
    # "bound to PORT": what a header would say had the stack bound it.
    m[OFF_STATE:OFF_STATE + 4] = struct.pack("I", 2)
    m[OFF_LOCAL_ADDR:OFF_LOCAL_ADDR + 4] = struct.pack("I", 0xC6120002)
    m[OFF_LOCAL_PORT:OFF_LOCAL_PORT + 2] = struct.pack("H", port)
    print(json.dumps({"socket": sid, "forged_port": port}), flush=True)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        # Keep the forgery in place whatever the stack writes.
        m[OFF_STATE:OFF_STATE + 4] = struct.pack("I", 2)
        m[OFF_LOCAL_PORT:OFF_LOCAL_PORT + 2] = struct.pack("H", port)
        time.sleep(0.01)


def churn(path, seconds):
    c = Connection(path)
    opened = refused = 0
    reasons = {}
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            sid, region, kick = c.udp()
        except Refused as r:
            refused += 1
            reasons[r.line.split()[1] if len(r.line.split()) > 1 else r.line] = r.line
            continue
        os.close(region)
        os.close(kick)
        opened += 1
        c.close_socket(sid)
    print(json.dumps({"opened": opened, "refused": refused, "reasons": reasons}))


def hold(path, seconds):
    conns, refusal = [], None
    for _ in range(64):
        try:
            conns.append(Connection(path))
        except Refused as r:
            refusal = r.line
            break
    sockets, socket_refusal = [], None
    for _ in range(256):
        try:
            sockets.append(conns[len(sockets) % len(conns)].udp())
        except Refused as r:
            socket_refusal = r.line
            break
    print(json.dumps({"connections": len(conns), "refusal": refusal,
                      "sockets": len(sockets), "socket_refusal": socket_refusal}), flush=True)
    time.sleep(seconds)


def kicks(path, seconds):
    c = Connection(path)
    held = [c.udp() for _ in range(3)]
    # One kick end made blocking: that only changes this program's own end.
    fcntl.fcntl(held[0][2], fcntl.F_SETFL, fcntl.fcntl(held[0][2], fcntl.F_GETFL) & ~os.O_NONBLOCK)
    # One closed outright.
    os.close(held[1][2])
    flood = held[2][2]
    writes = reads = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.write(flood, struct.pack("Q", 1))
            writes += 1
        except BlockingIOError:
            pass
        try:
            os.read(flood, 8)  # its own end: reads what the stack never sends
            reads += 1
        except BlockingIOError:
            pass
    print(json.dumps({"kick_writes": writes, "kick_reads": reads}))


def main():
    path, what = sys.argv[1], sys.argv[2]
    rest = sys.argv[3:]
    if what == "descriptors":
        descriptors(path)
    elif what == "scribble":
        scribble(path, float(rest[0]))
    elif what == "forge":
        forge(path, int(rest[0]), float(rest[1]))
    elif what == "churn":
        churn(path, float(rest[0]))
    elif what == "hold":
        hold(path, float(rest[0]))
    elif what == "kicks":
        kicks(path, float(rest[0]))
    else:
        sys.exit(f"unknown mode {what}")


if __name__ == "__main__":
    main()
