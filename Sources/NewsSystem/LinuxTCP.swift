import Glibc

/// Non-blocking Linux TCP client sockets, for load generation (`newsbench tcp` runs in the
/// client's namespace and drives many connections from one thread). Every call is one
/// system call and allocates nothing, so the client costs the same per request against NEWS
/// and against Linux. Results are Linux's: a count, or -errno.
public enum LinuxTCP {
    /// A non-blocking socket whose connect to `address`:`port` (host byte order) has
    /// started: its descriptor, or -errno when even the start failed. TCP_NODELAY is set (each
    /// request is one write, sent at once, as an HTTP client does).
    public static func connect(address: UInt32, port: UInt16) -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        if fd < 0 { return -errno }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = address.bigEndian
        let r = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if r < 0 && errno != EINPROGRESS {
            let e = errno
            Glibc.close(fd)
            return -e
        }
        return fd
    }

    /// The socket's pending error (SO_ERROR, which reading clears): 0 once a non-blocking
    /// connect succeeded, ECONNREFUSED, ETIMEDOUT... when it failed.
    public static func pendingError(_ fd: Int32) -> Int32 {
        var err: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        if getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 { return errno }
        return err
    }

    /// send(2) without SIGPIPE: bytes taken, or -errno (-EAGAIN when the send buffer is full).
    @inline(__always)
    public static func send(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Int {
        while true {
            let n = Glibc.send(fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL))
            if n >= 0 { return n }
            if errno != EINTR { return -Int(errno) }
        }
    }

    /// recv(2): bytes, 0 at end of stream, or -errno (-EAGAIN when nothing is there).
    @inline(__always)
    public static func receive(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        while true {
            let n = Glibc.recv(fd, buffer.baseAddress, buffer.count, 0)
            if n >= 0 { return n }
            if errno != EINTR { return -Int(errno) }
        }
    }

    public static func close(_ fd: Int32) { _ = Glibc.close(fd) }
}

/// poll(2) over a fixed set of slots, allocated once: the load generator's event loop sets
/// each slot's descriptor and events, waits, and reads the results without allocating.
/// A slot with descriptor -1 is ignored by poll, as poll(2) does.
public final class PollSet {
    public static let readable: Int16 = Int16(POLLIN)
    public static let writable: Int16 = Int16(POLLOUT)
    /// Error, hang-up or a bad descriptor: the next call on the socket tells which.
    public static let failed: Int16 = Int16(POLLERR | POLLHUP | POLLNVAL)

    public let capacity: Int
    private let fds: UnsafeMutablePointer<pollfd>

    public init(capacity: Int) {
        self.capacity = capacity
        fds = .allocate(capacity: capacity)
        fds.initialize(repeating: pollfd(fd: -1, events: 0, revents: 0), count: capacity)
    }

    deinit { fds.deallocate() }

    /// Slot `i` waits for `events` on `fd` (-1: the slot is unused).
    @inline(__always)
    public func set(_ i: Int, fd: Int32, events: Int16) {
        precondition(i >= 0 && i < capacity, "poll slot out of range")
        fds[i] = pollfd(fd: fd, events: events, revents: 0)
    }

    /// What slot `i` reported in the last `wait`.
    @inline(__always)
    public func revents(_ i: Int) -> Int16 {
        precondition(i >= 0 && i < capacity, "poll slot out of range")
        return fds[i].revents
    }

    /// Waits up to `timeoutMillis` for any of the first `count` slots; returns how many have
    /// events (0 on timeout or EINTR).
    @discardableResult
    public func wait(count: Int, timeoutMillis: Int32) -> Int {
        precondition(count >= 0 && count <= capacity, "poll count out of range")
        let r = poll(fds, nfds_t(count), timeoutMillis)
        if r < 0 {
            for i in 0..<count { fds[i].revents = 0 }
            return 0
        }
        return Int(r)
    }
}
