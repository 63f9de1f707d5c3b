import CNewsLinux
import Glibc

/// Unix-domain sockets: newsd's control socket (stream, peer credentials checked) and the
/// kernel-path channels (SOCK_SEQPACKET socketpairs, one message per send/recv).
public enum UnixSocket {
    public struct Credentials: Sendable, Equatable {
        public let pid: Int32
        public let uid: UInt32
        public let gid: UInt32
    }

    public static func seqpacketPair() throws(SystemError) -> (Int32, Int32) {
        var fds: [Int32] = [-1, -1]
        try sys(socketpair(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds), "socketpair")
        return (fds[0], fds[1])
    }

    /// Lets `fd` queue `bytes` of messages (SO_SNDBUFFORCE, which root may use beyond
    /// wmem_max; else SO_SNDBUF as far as the limit allows). A kernel-path channel that
    /// carries 64 KB segments needs more than the default's three of them in flight.
    public static func setSendBuffer(_ fd: Int32, bytes: Int32) {
        var v = bytes
        if setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &v, socklen_t(MemoryLayout<Int32>.size)) != 0 {
            _ = setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, socklen_t(MemoryLayout<Int32>.size))
        }
    }

    /// A pair of connected, non-blocking SOCK_SEQPACKET sockets: a socket's kick. Each end is
    /// its own open file, so what one holder does to its end's flags (blocking, say) cannot
    /// make the other end's reads block.
    public static func kickPair() throws(SystemError) -> (Int32, Int32) {
        var fds: [Int32] = [-1, -1]
        let type = Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue)
        try sys(socketpair(AF_UNIX, type, 0, &fds), "socketpair")
        return (fds[0], fds[1])
    }

    /// Empties a kick socket without ever blocking (MSG_DONTWAIT whatever the file's flags);
    /// returns how many kicks were waiting, up to `max`.
    @discardableResult
    public static func drainKicks(_ fd: Int32, max: Int = 64) -> Int {
        var byte: UInt64 = 0
        var n = 0
        while n < max, Glibc.recv(fd, &byte, 8, Int32(MSG_DONTWAIT)) > 0 { n += 1 }
        return n
    }

    /// The supplementary groups of a unix-socket peer (SO_PEERGROUPS).
    public static func peerGroups(_ fd: Int32) -> [UInt32] {
        var gids = [UInt32](repeating: 0, count: 256)
        let n = gids.withUnsafeMutableBufferPointer { news_peer_groups(fd, $0.baseAddress, 256) }
        return n > 0 ? Array(gids[0..<Int(n)]) : []
    }

    /// Whether the peer of `fd` is root or a member of `group` (primary or supplementary).
    public static func peerIsRootOrIn(group: UInt32, _ fd: Int32) -> Credentials? {
        guard let cred = try? peerCredentials(fd) else { return nil }
        if cred.uid == 0 || cred.gid == group || peerGroups(fd).contains(group) { return cred }
        return nil
    }

    private static func address(_ path: String) throws(SystemError) -> sockaddr_un {
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else { throw SystemError("socket path too long: \(path)", errno: ENAMETOOLONG) }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
        }
        return addr
    }

    /// Listens on `path` (replacing a stale socket file) with `mode` permissions and owner
    /// group `group`, so only root and that group can connect.
    public static func listen(path: String, mode: mode_t, group: UInt32) throws(SystemError) -> Int32 {
        let fd = try sys(socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0), "socket")
        var addr = try address(path)
        unlink(path)
        let r = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        if r < 0 { let e = SystemError("bind \(path)"); close(fd); throw e }
        if chmod(path, mode) < 0 || chown(path, 0, group) < 0 { let e = SystemError("chmod/chown \(path)"); close(fd); throw e }
        try sys(Glibc.listen(fd, 64), "listen")
        return fd
    }

    public static func connect(path: String) throws(SystemError) -> Int32 {
        let fd = try sys(socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0), "socket")
        var addr = try address(path)
        let r = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        if r < 0 { let e = SystemError("connect \(path)"); close(fd); throw e }
        return fd
    }

    /// Accepts one pending connection, or nil if none is pending.
    public static func accept(_ fd: Int32) throws(SystemError) -> Int32? {
        let c = news_accept_unix(fd)
        if c < 0 {
            if -c == EAGAIN || -c == EWOULDBLOCK || -c == EINTR || -c == ECONNABORTED { return nil }
            throw SystemError("accept", errno: -c)
        }
        return c
    }

    public static func peerCredentials(_ fd: Int32) throws(SystemError) -> Credentials {
        var pid: Int32 = 0, uid: UInt32 = 0, gid: UInt32 = 0
        try shim(news_peer_credentials(fd, &pid, &uid, &gid), "getsockopt(SO_PEERCRED)")
        return Credentials(pid: pid, uid: uid, gid: gid)
    }

    public static func setReceiveTimeout(_ fd: Int32, seconds: Int) {
        var tv = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Sends `bytes` with `fds` attached (SCM_RIGHTS).
    public static func send(_ fd: Int32, _ bytes: [UInt8], fds: [Int32]) throws(SystemError) {
        let r = bytes.withUnsafeBytes { b in fds.withUnsafeBufferPointer { f in
            news_send_with_fds(fd, b.baseAddress, Int32(b.count), f.baseAddress, Int32(f.count)) } }
        try shim(r, "sendmsg with descriptors")
    }

    /// Receives one message and any descriptors with it (non-blocking). nil when nothing
    /// is waiting; [] bytes at end of stream.
    public static func receive(_ fd: Int32, max: Int = 4096, maxFDs: Int = 8) throws(SystemError) -> (bytes: [UInt8], fds: [Int32])? {
        var buf = [UInt8](repeating: 0, count: max)
        var fds = [Int32](repeating: -1, count: maxFDs)
        var nfds: Int32 = 0
        let n = buf.withUnsafeMutableBytes { b in fds.withUnsafeMutableBufferPointer { f in
            news_recv_with_fds(fd, b.baseAddress, Int32(b.count), f.baseAddress, Int32(f.count), &nfds) } }
        if n == -EAGAIN || n == -EWOULDBLOCK { return nil }
        try shim(n, "recvmsg with descriptors")
        return (Array(buf[0..<Int(n)]), Array(fds[0..<Int(nfds)]))
    }

    /// One datagram of arbitrary bytes (tests use it to play a peer that sends garbage).
    public static func sendRaw(fd: Int32, _ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    public static func unlinkPath(_ path: String) { unlink(path) }
}

/// poll(2) over a set of descriptors.
public enum Poll {
    public struct Entry { public var fd: Int32; public var readable = false; public var hangup = false
        /// Also wait for room to write (POLLOUT); `writable` tells.
        public var wantsWrite = false; public var writable = false
        public init(fd: Int32, wantsWrite: Bool = false) { self.fd = fd; self.wantsWrite = wantsWrite } }

    /// Which of `fds` are readable right now (no waiting).
    public static func readable(_ fds: [Int32]) -> [Int32] {
        var entries = fds.map { Entry(fd: $0) }
        wait(&entries, timeoutMillis: 0)
        return entries.filter(\.readable).map(\.fd)
    }

    /// Waits up to `timeoutMillis` (-1: forever) for any of `entries` to become readable.
    public static func wait(_ entries: inout [Entry], timeoutMillis: Int32) {
        var pfds = entries.map { pollfd(fd: $0.fd, events: Int16($0.wantsWrite ? POLLIN | POLLOUT : POLLIN), revents: 0) }
        let r = poll(&pfds, nfds_t(pfds.count), timeoutMillis)
        record(r, pfds, into: &entries)
    }

    /// Like `wait(_:timeoutMillis:)` with a nanosecond timeout (ppoll): for callers that keep
    /// a schedule finer than a millisecond.
    public static func wait(_ entries: inout [Entry], timeoutNanos: UInt64) {
        var pfds = entries.map { pollfd(fd: $0.fd, events: Int16($0.wantsWrite ? POLLIN | POLLOUT : POLLIN), revents: 0) }
        let r = pfds.withUnsafeMutableBufferPointer { p in
            news_ppoll(p.baseAddress, UInt(p.count), timeoutNanos)
        }
        record(r, pfds, into: &entries)
    }

    private static func record(_ r: Int32, _ pfds: [pollfd], into entries: inout [Entry]) {
        for i in entries.indices {
            entries[i].readable = r > 0 && pfds[i].revents & Int16(POLLIN) != 0
            entries[i].writable = r > 0 && pfds[i].revents & Int16(POLLOUT) != 0
            entries[i].hangup = r > 0 && pfds[i].revents & Int16(POLLHUP | POLLERR | POLLNVAL) != 0
        }
    }
}

/// A plain Linux UDP socket, for measuring NEWS against the kernel (newsbench) on the same
/// call. Bound to loopback; nothing is ever sent to it.
public final class LinuxUDPSocket {
    public let fd: Int32

    /// Non-blocking, on loopback (`port` 0: any) unless `anyAddress`; blocking for a server.
    public init(port: UInt16 = 0, anyAddress: Bool = false, blocking: Bool = false) throws(SystemError) {
        let flags = Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | (blocking ? 0 : Int32(SOCK_NONBLOCK.rawValue))
        fd = try sys(socket(AF_INET, flags, 0), "socket")
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = anyAddress ? 0 : UInt32(0x7F00_0001).bigEndian
        let r = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if r < 0 { let e = SystemError("bind"); close(fd); throw e }
    }

    deinit { close(fd) }

    /// recvfrom(2) into `buffer`: the byte count, or -errno.
    @inline(__always)
    public func receive(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        var from = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let n = withUnsafeMutablePointer(to: &from) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(fd, buffer.baseAddress, buffer.count, 0, $0, &len) }
        }
        return n >= 0 ? n : -Int(errno)
    }

    /// Echoes datagrams forever (recvfrom, sendto back): the Linux side of a comparison.
    public func echoForever() -> Never {
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            var from = sockaddr_in()
            var len = socklen_t(MemoryLayout<sockaddr_in>.size)
            let n = buf.withUnsafeMutableBytes { b in withUnsafeMutablePointer(to: &from) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(fd, b.baseAddress, b.count, 0, $0, &len) } } }
            if n < 0 { continue }
            _ = buf.withUnsafeBytes { b in withUnsafePointer(to: &from) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, b.baseAddress, n, 0, $0, len) } } }
        }
    }
}

/// A connected Linux UDP socket for load generation (newsbench udp): blocking receive with
/// a timeout, so a lost datagram is noticed rather than waited for forever.
public final class LinuxUDPClient {
    public let fd: Int32

    public init(address: UInt32, port: UInt16, receiveTimeoutMillis: Int = 1000) throws(SystemError) {
        fd = try sys(socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0), "socket")
        var big: Int32 = 4 << 20
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, socklen_t(MemoryLayout<Int32>.size))
        var tv = timeval(tv_sec: receiveTimeoutMillis / 1000, tv_usec: (receiveTimeoutMillis % 1000) * 1000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = address.bigEndian
        let r = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if r < 0 { let e = SystemError("connect"); close(fd); throw e }
    }

    deinit { close(fd) }

    @inline(__always) public func send(_ bytes: UnsafeRawBufferPointer) -> Bool {
        Glibc.send(fd, bytes.baseAddress, bytes.count, 0) == bytes.count
    }

    /// Bytes received, or nil on timeout or error.
    @inline(__always) public func receive(into buffer: UnsafeMutableRawBufferPointer) -> Int? {
        let n = recv(fd, buffer.baseAddress, buffer.count, 0)
        return n >= 0 ? n : nil
    }
}
