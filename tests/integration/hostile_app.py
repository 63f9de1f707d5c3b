"""A hostile NEWS application, for the tests that show no local program can take down, stall
or spy on the stack. It speaks newsd's app protocol itself (it is not libnews: libnews would
check what this program sets out to break) and then abuses what it was given.

    hostile_app.py APP_SOCKET descriptors        truncate, grow and seal every descriptor
    hostile_app.py APP_SOCKET scribble SECONDS   random bytes over its header and rings
    hostile_app.py APP_SOCKET forge PORT SECONDS claim PORT in its header, then wait
    hostile_app.py APP_SOCKET churn SECONDS      open and close sockets in a tight loop
    hostile_app.py APP_SOCKET hold SECONDS       connections and sockets past every limit
    hostile_app.py APP_SOCKET kicks SECONDS      drain, flood, block and close its kick

TCP sockets (stream regions, docs/TCP-SOCKETS.md):

    hostile_app.py APP_SOCKET tcp-descriptors
        truncate, grow and seal a TCP socket's region, then map it
    hostile_app.py APP_SOCKET tcp-scribble SECONDS PEER_PORT LISTEN_PORT HOLD
        connect to PEER_PORT on the Linux side and listen on LISTEN_PORT through the control
        channel, then write wild values into every word of its regions for SECONDS; then
        leave a control ring corrupt and a send_tail moved on a socket without a connection,
        print its JSON line and hold all that for HOLD seconds
    hostile_app.py APP_SOCKET tcp-churn SECONDS PEER_PORT FOREIGN_LISTENER
        open, listen, connect and close in a tight loop, with bad sizes, huge backlogs and
        accepts of sockets it does not own (FOREIGN_LISTENER: another app's listener id)

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

    def request(self, text):
        """One request line; the answer line (any descriptors that came with it are closed)."""
        self.sock.sendall(text.encode() + b"\n")
        answer, fds = self.line()
        for fd in fds:
            os.close(fd)
        return answer

    def tcp(self, sizes=None):
        """`tcp` (or `tcp SEND RECV`): returns (id, region fd, kick fd) or raises Refused."""
        self.sock.sendall(b"tcp\n" if sizes is None else f"tcp {sizes[0]} {sizes[1]}\n".encode())
        answer, fds = self.line()
        if not answer.startswith("ok ") or len(fds) != 2:
            for fd in fds:
                os.close(fd)
            raise Refused(answer)
        return int(answer.split()[1]), fds[0], fds[1]

    def accept(self, listener, sid):
        """`accept LISTENER ID`: (answer, region fd, kick fd), the descriptors None if refused."""
        self.sock.sendall(f"accept {listener} {sid}\n".encode())
        answer, fds = self.line()
        if answer.startswith("ok ") and len(fds) == 2:
            return answer, fds[0], fds[1]
        for fd in fds:
            os.close(fd)
        return answer, None, None


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


# ---- TCP sockets: stream regions ----------------------------------------------------------
# news_sock_header_t (news_linux.h): the stack answers request number ctl_done with ctl_result.
OFF_CTL_DONE, OFF_CTL_RESULT = 28, 32
SOCK_HEADER = 192
# news_stream_header_t at 256: newsd's constants, the application's line, the stack's line
# and the info line (64 bytes each).
S_CONSTANTS, S_SEND_SIZE, S_RECV_SIZE = 256, 256, 260
S_SEND_TAIL, S_RECV_HEAD, S_APP_FLAGS, S_LOW_WATER = 320, 328, 336, 340
S_STACK_LINE, S_SEND_ACKED, S_RECV_TAIL, S_STACK_FLAGS = 384, 384, 392, 400
S_END = 512
RESET, ESTABLISHED = 2, 4
# The control channel (Channel.swift's layout): the down ring (application → tcpserver), the
# up ring, then their data areas. A ring is a 192-byte header (head at +0, tail at +64, its
# constants at +128) and 16 message slots of 64 bytes.
CTL, CTL_CAPACITY, CTL_SLOT, MSG, RING_HEADER = 4096, 16, 256, 64, 192
RING_STRIDE = (RING_HEADER + CTL_CAPACITY * MSG + 63) & ~63
DOWN, UP = CTL, CTL + RING_STRIDE
CTL_DATA = CTL + 2 * RING_STRIDE
CTL_END = CTL_DATA + 2 * CTL_CAPACITY * CTL_SLOT
SEND_AREA = 16384
K_BIND, K_CONNECT, K_LISTEN, K_OPTION, K_ACCEPTED = 10, 11, 14, 15, 16
MESSAGE = struct.Struct("<HHIQ6Q")
# Connections go only to the test's namespace (198.18.0.0/24); this is its Linux end.
LINUX_IP = 0xC6120001
U64 = (1 << 64) - 1


class Stream:
    """One TCP socket as this program holds it: its region mapped, its down ring written as
    libnews writes it (when a request should arrive) or any other way."""

    def __init__(self, conn, sid, region, kick):
        self.conn, self.id, self.region, self.kick = conn, sid, region, kick
        self.size = os.fstat(region).st_size
        self.m = mmap.mmap(region, self.size)
        self.send_size = self.u32(S_SEND_SIZE)
        self.recv_size = self.u32(S_RECV_SIZE)
        self.receive_area = SEND_AREA + self.send_size
        self.seq = 0
        self.open = True

    def u32(self, at):
        return struct.unpack_from("<I", self.m, at)[0]

    def u64(self, at):
        return struct.unpack_from("<Q", self.m, at)[0]

    def set32(self, at, v):
        struct.pack_into("<I", self.m, at, v & 0xFFFFFFFF)

    def set64(self, at, v):
        struct.pack_into("<Q", self.m, at, v & U64)

    def kick_stack(self):
        try:
            os.write(self.kick, struct.pack("Q", 1))
        except OSError:
            pass  # full, or the stack's end is gone: only this socket's business

    def post(self, kind, *args, length=0):
        """Queues one request on the down ring; its number, or None if the ring is full or
        its indices (perhaps scribbled) leave no room."""
        head, tail = self.u64(DOWN), self.u64(DOWN + 64)
        if head < tail or head - tail >= CTL_CAPACITY:
            return None
        self.seq += 1
        slot = DOWN + RING_HEADER + (head % CTL_CAPACITY) * MSG
        MESSAGE.pack_into(self.m, slot, kind, 0, length & 0xFFFFFFFF, self.seq, *[a & U64 for a in (list(args) + [0] * 6)[:6]])
        self.set64(DOWN, head + 1)
        self.kick_stack()
        return self.seq

    def ask(self, kind, *args, timeout=3.0):
        """A request and tcpserver's answer (ctl_result), or None if it never came."""
        n = self.post(kind, *args)
        if n is None:
            return None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.u32(OFF_CTL_DONE) == n:
                return struct.unpack_from("<i", self.m, OFF_CTL_RESULT)[0]
            time.sleep(0.001)
        return None

    def wait_flags(self, bits, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            f = self.u32(S_STACK_FLAGS)
            if f & bits:
                return f
            time.sleep(0.002)
        return self.u32(S_STACK_FLAGS)

    def accepted(self):
        """Takes what waits on the up ring, as libnews does: the ids of socketAccepted
        notices (nothing if the ring's indices, perhaps scribbled, are impossible)."""
        head, tail = self.u64(UP), self.u64(UP + 64)
        if head < tail or head - tail > CTL_CAPACITY:
            return []
        ids = []
        while tail < head:
            kind, _, _, _, a0, *_ = MESSAGE.unpack_from(self.m, UP + RING_HEADER + (tail % CTL_CAPACITY) * MSG)
            if kind == K_ACCEPTED and 0 < a0 < 1 << 32:
                ids.append(a0)
            tail += 1
        self.set64(UP + 64, tail)
        return ids

    def close(self):
        if not self.open:
            return None
        self.open = False
        answer = self.conn.close_socket(self.id)
        self.m.close()
        os.close(self.region)
        os.close(self.kick)
        return answer


def tcp_descriptors(path):
    c = Connection(path)
    sid, region, kick = c.tcp()
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
    # Mapped after all that: newsd's geometry is there, and the memory is still its own to
    # write (over the header, the control channel and both areas: only its socket suffers).
    s = Stream(c, sid, region, kick)
    out["geometry"] = [s.send_size, s.recv_size, s.u32(S_CONSTANTS + 8), s.u32(S_CONSTANTS + 12)]
    s.m[0:S_END] = os.urandom(S_END)
    s.m[CTL:CTL_END] = os.urandom(CTL_END - CTL)
    s.m[SEND_AREA:SEND_AREA + 4096] = os.urandom(4096)
    s.m[s.size - 4096:s.size] = os.urandom(4096)
    s.kick_stack()
    out["wrote_own_region"] = True
    out["close"] = s.close()
    print(json.dumps(out))


def wild(rng, now):
    """A value an index should never take, relative to `now` (its current value)."""
    return rng.choice((
        now - rng.randrange(1, 1 << 20),          # backwards
        now + rng.randrange(1 << 18, 1 << 40),     # beyond any area
        rng.getrandbits(64),                       # anything
        U64 - rng.randrange(0, 64),                # about to wrap
        0,
    ))


def play_along(s, rng):
    """One write a careless but not (yet) lying application makes: bytes appended within
    the send area's room, everything readable consumed, its flags and low-water mark, junk
    over the data it owns and over the socket header. Data flows while it does this."""
    what = rng.randrange(10)
    if what < 3:
        tail, acked = s.u64(S_SEND_TAIL), s.u64(S_SEND_ACKED)
        n = min(rng.randrange(1, 8192), acked + s.send_size - tail)
        if n > 0:
            for i in range(0, n, 4096):
                at = SEND_AREA + (tail + i) % s.send_size
                k = min(4096, n - i, SEND_AREA + s.send_size - at)
                s.m[at:at + k] = os.urandom(k)
            s.set64(S_SEND_TAIL, tail + n)
    elif what < 6:
        s.set64(S_RECV_HEAD, s.u64(S_RECV_TAIL))
    elif what < 7:
        s.set32(S_APP_FLAGS, rng.choice((0, 2, 4, 6)))
    elif what < 8:
        s.set32(S_LOW_WATER, rng.getrandbits(32))
    elif what < 9:
        at = rng.randrange(s.receive_area, s.size - 64)
        s.m[at:at + 64] = os.urandom(64)
    else:
        at = rng.randrange(0, SOCK_HEADER - 8)
        s.m[at:at + 8] = os.urandom(8)


def scribble_once(s, rng, peer_port):
    """One hostile write somewhere in `s`'s region (or one wild request on its ring)."""
    what = rng.randrange(100)
    if what < 14:
        tail, acked = s.u64(S_SEND_TAIL), s.u64(S_SEND_ACKED)
        if rng.random() < 0.3:
            # Just past what the area holds, or a legal step (so that data flows for a while).
            s.set64(S_SEND_TAIL, rng.choice((acked + s.send_size + rng.randrange(1, 4096), tail + rng.randrange(0, 2048))))
        else:
            s.set64(S_SEND_TAIL, wild(rng, tail))
    elif what < 28:
        head, rtail = s.u64(S_RECV_HEAD), s.u64(S_RECV_TAIL)
        if rng.random() < 0.3:
            s.set64(S_RECV_HEAD, rng.choice((rtail + rng.randrange(1, 1 << 16), rtail, head - 1)))
        else:
            s.set64(S_RECV_HEAD, wild(rng, head))
    elif what < 34:
        s.set32(S_APP_FLAGS, rng.getrandbits(32))
    elif what < 38:
        s.set32(S_LOW_WATER, rng.getrandbits(32))
    elif what < 46:
        # The stack's words (tcpserver writes them and never reads them back), and the
        # constants newsd wrote (read once, at attach).
        at = rng.choice((rng.randrange(S_STACK_LINE, S_END - 8), rng.randrange(S_CONSTANTS, S_CONSTANTS + 56)))
        s.m[at:at + 8] = os.urandom(8)
    elif what < 54:
        at = rng.randrange(0, SOCK_HEADER - 8)
        s.m[at:at + 8] = os.urandom(8)
    elif what < 66:
        # The rings' indices: the down ring's head (ours to write) and tail (the stack's),
        # the up ring's, the rings' constants.
        ring = rng.choice((DOWN, UP))
        at = ring + rng.choice((0, 0, 64, 64, 128, 136))
        idx = s.u64(at)
        s.set64(at, rng.choice((idx + rng.randrange(1, 4 * CTL_CAPACITY), wild(rng, idx))))
    elif what < 74:
        # Slots and their data areas.
        at = rng.randrange(DOWN + RING_HEADER, CTL_END - 16)
        n = rng.choice((1, 4, 8, 16))
        s.m[at:at + n] = os.urandom(n)
    elif what < 86:
        # A request with wild fields, published properly (so tcpserver reads it). A connect
        # only ever names the test's namespace.
        kind = rng.choice((K_BIND, K_CONNECT, K_LISTEN, K_OPTION, K_ACCEPTED, 12, 13, 0, rng.getrandbits(16)))
        args = [rng.choice((0, 1, rng.getrandbits(16), rng.getrandbits(32), rng.getrandbits(64), U64)) for _ in range(6)]
        if kind == K_CONNECT:
            args[0] = rng.choice((LINUX_IP, LINUX_IP + rng.randrange(0, 254), 0))
            args[1] = rng.choice((peer_port, rng.getrandbits(16), 0, 1 << 16))
        s.post(kind, *args, length=rng.choice((0, 0, 16, CTL_SLOT, CTL_SLOT + 1, rng.getrandbits(32))))
    else:
        area = rng.choice((SEND_AREA, s.receive_area))
        at = rng.randrange(area, min(s.size, area + (s.send_size if area == SEND_AREA else s.recv_size)) - 64)
        s.m[at:at + 64] = os.urandom(64)


def tcp_scribble(path, seconds, peer_port, listen_port, hold):
    c = Connection(path)
    rng = random.Random(8)
    out = {"connects": 0, "established": 0, "accepted": 0, "listeners": 0, "writes": 0, "refused": []}

    def fresh():
        try:
            return Stream(c, *c.tcp())
        except Refused as r:
            out["refused"].append(r.line)
            return None

    def connected():
        s = fresh()
        if s:
            out["connects"] += 1
            if s.ask(K_CONNECT, LINUX_IP, peer_port) == 0 and s.wait_flags(ESTABLISHED | RESET, 2) & ESTABLISHED:
                out["established"] += 1
        return s

    def listening():
        s = fresh()
        if s and s.ask(K_BIND, 0, listen_port, 1) == 0 and c.request(f"listen {s.id} 2") == "ok" and s.ask(K_LISTEN, 2) == 0:
            out["listeners"] += 1
        return s

    listener = listening()
    conns = [s for s in (connected(), connected()) if s]
    never = fresh()  # a socket that never connects: its words are scribbled all the same
    accepted = []
    # Rounds of 0.4 s: for the first half it plays along (data flows, the listener's new
    # connections are taken as libnews takes them), then it lies everywhere. Each round
    # starts with a new connection, and every fourth with a new listener, since the old
    # ones are broken by then.
    deadline = time.monotonic() + seconds
    rounds = 0
    while time.monotonic() < deadline:
        started = time.monotonic()
        if rounds:
            if conns:
                conns.pop(0).close()
            if (s := connected()):
                conns.append(s)
            while len(accepted) > 2:
                accepted.pop(0).close()
            if rounds % 4 == 0 and listener:
                listener.close()
                listener = listening()
        rounds += 1
        while time.monotonic() < started + 0.2:
            held = [s for s in [never, *conns, *accepted] if s]
            for _ in range(20):
                play_along(rng.choice(held), rng)
                out["writes"] += 1
            rng.choice(held).kick_stack()
            time.sleep(0.001)
        if listener:
            for sid in listener.accepted()[:2]:
                answer, region, kick = c.accept(listener.id, sid)
                if region is not None:
                    accepted.append(Stream(c, int(answer.split()[1]), region, kick))
                    out["accepted"] += 1
        while time.monotonic() < started + 0.4:
            held = [s for s in [listener, never, *conns, *accepted] if s]
            for _ in range(200):
                scribble_once(rng.choice(held), rng, peer_port)
                out["writes"] += 1
            rng.choice(held).kick_stack()
    # For the hold: a socket that never connected with its send_tail moved (there is no
    # connection to take it for), and one whose down ring's head is impossible.
    idle = fresh()
    if idle:
        idle.set64(S_SEND_TAIL, 12345)
        idle.set64(S_RECV_HEAD, 777)
        idle.kick_stack()
    broken = fresh()
    if broken:
        broken.set64(DOWN, 1 << 40)
        broken.kick_stack()
    out["holding"] = [s.id for s in (idle, broken) if s]
    print(json.dumps(out), flush=True)
    time.sleep(hold)


def tcp_churn(path, seconds, peer_port, foreign):
    c = Connection(path)
    rng = random.Random(9)
    out = {"opened": 0, "connects": 0, "listens": 0, "refused": {}, "bad_sizes": {}, "bad_lines": {}, "backlogs": {},
           "foreign": {}, "stolen": []}

    def errno_of(answer):
        w = answer.split()
        return w[1] if w and w[0] == "error" and len(w) > 1 else answer

    # Sizes newsd must refuse: not powers of two, out of range, not numbers.
    for sizes in ((0, 0), (4095, 4096), (4096, 3000), (1 << 25, 4096), (4096, 1 << 25), (-4096, 4096),
                  (1 << 64, 4096), (6000, 6000), ("x", "4096"), (2048, 2048)):
        key = f"{sizes[0]} {sizes[1]}"
        try:
            Stream(c, *c.tcp(sizes)).close()
            out["bad_sizes"][key] = "ok"
        except Refused as r:
            out["bad_sizes"][key] = errno_of(r.line)
    for line in ("tcp 4096", "tcp 4096 4096 4096", "listen", "listen 1", "accept 1", "accept x y", "close x", "tcp\0"):
        out["bad_lines"][line] = errno_of(c.request(line))
    # Backlogs: huge, negative, not numbers, a socket it does not own, a UDP socket.
    lst = Stream(c, *c.tcp())
    for n in ("99999999999999999999", str(1 << 63), str(-(1 << 63)), str(1 << 31), "-1", "0", "x", "1e9"):
        out["backlogs"][n] = errno_of(c.request(f"listen {lst.id} {n}"))
    out["backlogs"]["ring"] = lst.ask(K_LISTEN, U64)
    out["backlogs"]["not its own"] = errno_of(c.request(f"listen {foreign} 1"))
    out["backlogs"]["no such id"] = errno_of(c.request(f"listen {1 << 32} 1"))
    usid, uregion, ukick = c.udp()
    out["backlogs"]["udp"] = errno_of(c.request(f"listen {usid} 1"))
    os.close(uregion)
    os.close(ukick)
    c.close_socket(usid)
    # Accepts of what it does not own: the other application's listener and its 32 spares
    # (newsd makes a listener's spares right after it), through that listener and through
    # its own; ids nobody holds; a listener that is not one.
    for sid in range(foreign, foreign + 33):
        for via in (foreign, lst.id):
            answer, region, kick = c.accept(via, sid)
            if region is not None:
                out["stolen"].append(answer)
                os.close(region)
                os.close(kick)
            else:
                out["foreign"][errno_of(answer)] = out["foreign"].get(errno_of(answer), 0) + 1
    for via, sid in ((0, 0), (lst.id, 0), (lst.id, lst.id), (lst.id, 1 << 32), (1 << 32, 1), (lst.id, U64)):
        answer, region, kick = c.accept(via, sid)
        if region is not None:
            out["stolen"].append(answer)
            os.close(region)
            os.close(kick)
        else:
            out["foreign"][errno_of(answer)] = out["foreign"].get(errno_of(answer), 0) + 1
    lst.close()
    # The tight loop: open; connect (and close at once, or once established), listen (and
    # close at once), or close without doing anything.
    deadline = time.monotonic() + seconds
    i = 0
    while time.monotonic() < deadline:
        i += 1
        try:
            s = Stream(c, *c.tcp())
        except Refused as r:
            key = errno_of(r.line)
            out["refused"][key] = out["refused"].get(key, 0) + 1
            time.sleep(0.001)
            continue
        out["opened"] += 1
        how = i % 4
        if how in (0, 1):
            if s.post(K_CONNECT, LINUX_IP, peer_port) is not None:
                out["connects"] += 1
                if how == 1:
                    s.wait_flags(ESTABLISHED | RESET, 1)
        elif how == 2:
            if c.request(f"listen {s.id} {rng.randrange(-2, 40)}") == "ok":
                out["listens"] += 1
                s.post(K_LISTEN, rng.randrange(0, 64))
        s.close()
    print(json.dumps(out))


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
    elif what == "tcp-descriptors":
        tcp_descriptors(path)
    elif what == "tcp-scribble":
        tcp_scribble(path, float(rest[0]), int(rest[1]), int(rest[2]), float(rest[3]))
    elif what == "tcp-churn":
        tcp_churn(path, float(rest[0]), int(rest[1]), int(rest[2]))
    else:
        sys.exit(f"unknown mode {what}")


if __name__ == "__main__":
    main()
