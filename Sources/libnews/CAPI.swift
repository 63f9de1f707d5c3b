import Glibc
import NewsConfig
import NewsIPC
import NewsSystem

// The C API declared in include/news.h: thin @_cdecl wrappers over NewsStack, UDPSocket and
// TCPSocket. NEWS descriptors index one table of sockets of both kinds; errno is set as
// POSIX calls set it.

private final class CState: @unchecked Sendable {
    var stack: NewsStack?
    var sockets: [PollSocket?] = []
    var lock = pthread_mutex_t()
    /// news_poll and news_poll_events look as long as the application's recent gaps between
    /// events (an event loop has one poll; several threads polling share one pacer).
    let pacer = PollPacer()
    init() { pthread_mutex_init(&lock, nil) }
}

private let state = CState()

private func withState<T>(_ body: (CState) -> T) -> T {
    pthread_mutex_lock(&state.lock)
    defer { pthread_mutex_unlock(&state.lock) }
    return body(state)
}

private func fail(_ e: Int32) -> Int32 { errno = e; return -1 }
private func failed(_ e: Int32) -> Int { errno = e; return -1 }

private func entry(_ fd: Int32) -> PollSocket? {
    withState { s in fd >= 0 && Int(fd) < s.sockets.count ? s.sockets[Int(fd)] : nil }
}

private func udp(_ fd: Int32) -> UDPSocket? {
    if case .udp(let u)? = entry(fd) { return u }
    return nil
}

private func install(_ socket: PollSocket) -> Int32 {
    withState { st in
        if let free = st.sockets.firstIndex(where: { $0 == nil }) { st.sockets[free] = socket; return Int32(free) }
        st.sockets.append(socket)
        return Int32(st.sockets.count - 1)
    }
}

/// Runs `body` on a TCP socket: EBADF if `fd` is none, EOPNOTSUPP if it is a UDP socket.
private func onTCP(_ fd: Int32, _ body: (TCPSocket) throws(SocketError) -> Int) -> Int {
    switch entry(fd) {
    case .tcp(let t)?:
        do { return try body(t) } catch { return failed(error.errno) }
    case .udp?: return failed(EOPNOTSUPP)
    case nil: return failed(EBADF)
    }
}

@_cdecl("news_init")
public func news_init(_ path: UnsafePointer<CChar>?) -> Int32 {
    let p = path.map { String(cString: $0) } ?? NewsStack.defaultSocket
    do {
        let stack = try NewsStack(socketPath: p)
        withState { $0.stack = stack }
        // Long looks before sleeping only on CPUs of the application's own (PollPacer).
        state.pacer.longLooks = stack.placedApart
        return 0
    } catch { return fail(error.errno) }
}

@_cdecl("news_udp_socket")
public func news_udp_socket() -> Int32 {
    guard let stack = withState({ $0.stack }) else { return fail(ENOTCONN) }
    do { return install(.udp(try UDPSocket(stack: stack))) } catch { return fail(error.errno) }
}

@_cdecl("news_tcp_socket")
public func news_tcp_socket() -> Int32 {
    guard let stack = withState({ $0.stack }) else { return fail(ENOTCONN) }
    do { return install(.tcp(try TCPSocket(stack: stack))) } catch { return fail(error.errno) }
}

@_cdecl("news_bind")
public func news_bind(_ fd: Int32, _ addr: UInt32, _ port: UInt16) -> Int32 {
    do {
        switch entry(fd) {
        case .udp(let u)?: try u.bind(address: addr, port: port)
        case .tcp(let t)?: try t.bind(address: addr, port: port)
        case nil: return fail(EBADF)
        }
        return 0
    } catch { return fail(error.errno) }
}

@_cdecl("news_connect")
public func news_connect(_ fd: Int32, _ addr: UInt32, _ port: UInt16) -> Int32 {
    do {
        switch entry(fd) {
        case .udp(let u)?: try u.connect(address: addr, port: port)
        case .tcp(let t)?: try t.connect(address: addr, port: port)
        case nil: return fail(EBADF)
        }
        return 0
    } catch { return fail(error.errno) }
}

@_cdecl("news_listen")
public func news_listen(_ fd: Int32, _ backlog: Int32) -> Int32 {
    Int32(onTCP(fd) { t throws(SocketError) in try t.listen(backlog: Int(backlog)); return 0 })
}

@_cdecl("news_accept")
public func news_accept(_ fd: Int32, _ addr: UnsafeMutablePointer<UInt32>?, _ port: UnsafeMutablePointer<UInt16>?) -> Int32 {
    Int32(onTCP(fd) { t throws(SocketError) in
        let s = try t.accept()
        let peer = s.peerAddress ?? (0, 0)
        addr?.pointee = peer.address
        port?.pointee = peer.port
        return Int(install(.tcp(s)))
    })
}

@_cdecl("news_sendto")
public func news_sendto(_ fd: Int32, _ buf: UnsafeRawPointer?, _ len: Int, _ addr: UInt32, _ port: UInt16) -> Int {
    guard len == 0 || buf != nil else { return failed(EFAULT) }
    let data = UnsafeRawBufferPointer(start: buf, count: len)
    switch entry(fd) {
    case .udp(let s)?:
        do { return try s.send(data, to: addr == 0 && port == 0 ? nil : (addr, port)) } catch { return failed(error.errno) }
    case .tcp(let t)?:
        // As on Linux, a connected stream ignores the address.
        do { return try t.send(data) } catch { return failed(error.errno) }
    case nil: return failed(EBADF)
    }
}

@_cdecl("news_udp_max_payload")
public func news_udp_max_payload() -> Int { UDPLimits.maxPayload }

@_cdecl("news_recvfrom")
public func news_recvfrom(_ fd: Int32, _ buf: UnsafeMutableRawPointer?, _ len: Int,
                          _ addr: UnsafeMutablePointer<UInt32>?, _ port: UnsafeMutablePointer<UInt16>?) -> Int {
    guard len == 0 || buf != nil else { return failed(EFAULT) }
    let buffer = UnsafeMutableRawBufferPointer(start: buf, count: len)
    switch entry(fd) {
    case .udp(let s)?:
        do {
            let (n, from) = try s.receive(into: buffer)
            addr?.pointee = from.address
            port?.pointee = from.port
            return n
        } catch { return failed(error.errno) }
    case .tcp(let t)?:
        do {
            let n = try t.receive(into: buffer)
            let peer = t.peerAddress ?? (0, 0)
            addr?.pointee = peer.address
            port?.pointee = peer.port
            return n
        } catch { return failed(error.errno) }
    case nil: return failed(EBADF)
    }
}

/// Runs a UDP call with MSG_DONTWAIT as a non-blocking call.
private func udpCall<T>(_ u: UDPSocket, dontWait: Bool, _ body: () throws(SocketError) -> T) throws(SocketError) -> T {
    let was = u.nonBlocking
    if dontWait { u.nonBlocking = true }
    defer { u.nonBlocking = was }
    return try body()
}

/// The flags a call takes: TCP's known ones; a UDP socket only MSG_DONTWAIT (and
/// MSG_NOSIGNAL, MSG_WAITALL, which mean nothing for it). MSG_OOB and others: EOPNOTSUPP.
private func messageFlags(_ raw: Int32, udp: Bool) -> TCPSocket.MessageFlags? {
    let f = TCPSocket.MessageFlags(rawValue: raw)
    guard f.isSubset(of: .known) else { return nil }
    if udp && f.contains(.peek) { return nil }
    return f
}

@_cdecl("news_send")
public func news_send(_ fd: Int32, _ buf: UnsafeRawPointer?, _ len: Int, _ flags: Int32) -> Int {
    guard len == 0 || buf != nil else { return failed(EFAULT) }
    let data = UnsafeRawBufferPointer(start: buf, count: len)
    switch entry(fd) {
    case .udp(let u)?:
        guard let f = messageFlags(flags, udp: true) else { return failed(EOPNOTSUPP) }
        do { return try udpCall(u, dontWait: f.contains(.dontWait)) { () throws(SocketError) in try u.send(data) } } catch {
            return failed(error.errno)
        }
    case .tcp(let t)?:
        guard let f = messageFlags(flags, udp: false) else { return failed(EOPNOTSUPP) }
        do { return try t.send(data, flags: f) } catch { return failed(error.errno) }
    case nil: return failed(EBADF)
    }
}

@_cdecl("news_recv")
public func news_recv(_ fd: Int32, _ buf: UnsafeMutableRawPointer?, _ len: Int, _ flags: Int32) -> Int {
    guard len == 0 || buf != nil else { return failed(EFAULT) }
    let buffer = UnsafeMutableRawBufferPointer(start: buf, count: len)
    switch entry(fd) {
    case .udp(let u)?:
        guard let f = messageFlags(flags, udp: true) else { return failed(EOPNOTSUPP) }
        do {
            let n = try udpCall(u, dontWait: f.contains(.dontWait)) { () throws(SocketError) in try u.receive(into: buffer).count }
            return min(n, len)
        } catch { return failed(error.errno) }
    case .tcp(let t)?:
        guard let f = messageFlags(flags, udp: false) else { return failed(EOPNOTSUPP) }
        do { return try t.receive(into: buffer, flags: f) } catch { return failed(error.errno) }
    case nil: return failed(EBADF)
    }
}

private func iovecs(_ iov: UnsafePointer<iovec>?, _ count: Int32) -> [UnsafeMutableRawBufferPointer]? {
    guard count >= 0, count <= 1024, count == 0 || iov != nil else { return nil }
    var out: [UnsafeMutableRawBufferPointer] = []
    for i in 0..<Int(count) {
        let v = iov![i]
        guard v.iov_len == 0 || v.iov_base != nil else { return nil }
        out.append(UnsafeMutableRawBufferPointer(start: v.iov_base, count: v.iov_len))
    }
    return out
}

@_cdecl("news_writev")
public func news_writev(_ fd: Int32, _ iov: UnsafePointer<iovec>?, _ count: Int32) -> Int {
    guard let buffers = iovecs(iov, count) else { return failed(EINVAL) }
    switch entry(fd) {
    case .udp(let u)?:
        // One datagram of the gathered bytes, as writev on a UDP socket sends.
        var bytes: [UInt8] = []
        for b in buffers { bytes += UnsafeRawBufferPointer(b) }
        do { return try u.send(bytes) } catch { return failed(error.errno) }
    case .tcp(let t)?:
        do { return try t.writev(buffers.map { UnsafeRawBufferPointer($0) }) } catch { return failed(error.errno) }
    case nil: return failed(EBADF)
    }
}

@_cdecl("news_readv")
public func news_readv(_ fd: Int32, _ iov: UnsafePointer<iovec>?, _ count: Int32) -> Int {
    guard let buffers = iovecs(iov, count) else { return failed(EINVAL) }
    switch entry(fd) {
    case .udp(let u)?:
        // One datagram, scattered (and truncated to the buffers' total, like readv).
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: UDPLimits.maxPayload, alignment: 8)
        defer { scratch.deallocate() }
        do {
            let n = min(try u.receive(into: scratch).count, scratch.count)
            var at = 0
            for b in buffers where at < n {
                let k = min(b.count, n - at)
                if k > 0 { b.baseAddress!.copyMemory(from: scratch.baseAddress! + at, byteCount: k) }
                at += k
            }
            return at
        } catch { return failed(error.errno) }
    case .tcp(let t)?:
        do { return try t.readv(buffers) } catch { return failed(error.errno) }
    case nil: return failed(EBADF)
    }
}

@_cdecl("news_shutdown")
public func news_shutdown(_ fd: Int32, _ how: Int32) -> Int32 {
    let side: TCPSocket.ShutdownSide
    switch how {
    case Int32(SHUT_RD): side = .read
    case Int32(SHUT_WR): side = .write
    case Int32(SHUT_RDWR): side = .both
    default: return fail(EINVAL)
    }
    return Int32(onTCP(fd) { t throws(SocketError) in try t.shutdown(side); return 0 })
}

/// Linux's levels and names; values are plain ints (SO_LINGER: -1 off, else seconds).
@_cdecl("news_setsockopt")
public func news_setsockopt(_ fd: Int32, _ level: Int32, _ name: Int32, _ value: Int32) -> Int32 {
    let option: TCPSocket.Option
    switch (level, name) {
    case (SOL_SOCKET, SO_REUSEADDR): option = .reuseAddress(value != 0)
    case (SOL_SOCKET, SO_SNDBUF): option = .sendBuffer(Int(value))
    case (SOL_SOCKET, SO_RCVBUF): option = .receiveBuffer(Int(value))
    case (SOL_SOCKET, SO_KEEPALIVE): option = .keepAlive(value != 0)
    case (SOL_SOCKET, SO_LINGER): option = .linger(value < 0 ? nil : Int(value))
    case (Int32(IPPROTO_TCP), TCP_NODELAY): option = .noDelay(value != 0)
    case (Int32(IPPROTO_TCP), TCP_KEEPIDLE): option = .keepIdle(Int(value))
    case (Int32(IPPROTO_TCP), TCP_KEEPINTVL): option = .keepInterval(Int(value))
    case (Int32(IPPROTO_TCP), TCP_KEEPCNT): option = .keepCount(Int(value))
    default:
        return entry(fd) == nil ? fail(EBADF) : fail(ENOPROTOOPT)
    }
    return Int32(onTCP(fd) { t throws(SocketError) in try t.setOption(option); return 0 })
}

@_cdecl("news_socket_error")
public func news_socket_error(_ fd: Int32) -> Int32 {
    switch entry(fd) {
    case .tcp(let t)?: return t.connectResult()
    case .udp?: return 0
    case nil: return fail(EBADF)
    }
}

@_cdecl("news_getsockname")
public func news_getsockname(_ fd: Int32, _ addr: UnsafeMutablePointer<UInt32>?, _ port: UnsafeMutablePointer<UInt16>?) -> Int32 {
    let local: (address: UInt32, port: UInt16)?
    switch entry(fd) {
    case .udp(let u)?: local = u.localAddress
    case .tcp(let t)?: local = t.localAddress
    case nil: return fail(EBADF)
    }
    // Unbound: 0.0.0.0 port 0, as getsockname says.
    addr?.pointee = local?.address ?? 0
    port?.pointee = local?.port ?? 0
    return 0
}

@_cdecl("news_getpeername")
public func news_getpeername(_ fd: Int32, _ addr: UnsafeMutablePointer<UInt32>?, _ port: UnsafeMutablePointer<UInt16>?) -> Int32 {
    Int32(onTCP(fd) { t throws(SocketError) in
        guard let peer = t.peerAddress else { throw SocketError(errno: ENOTCONN) }
        addr?.pointee = peer.address
        port?.pointee = peer.port
        return 0
    })
}

@_cdecl("news_fionread")
public func news_fionread(_ fd: Int32) -> Int32 {
    Int32(clamping: onTCP(fd) { t in t.availableBytes })
}

/// Fills the C news_tcp_info_t (13 u32 words, in the order news.h declares).
@_cdecl("news_tcp_info")
public func news_tcp_info(_ fd: Int32, _ out: UnsafeMutablePointer<UInt32>?) -> Int32 {
    guard let out else { return fail(EFAULT) }
    return Int32(onTCP(fd) { t in
        let i = t.info, s = i.stack
        let words: [UInt32] = [i.state, s.rttMicros, s.rttVarianceMicros, s.rtoMicros, s.sendCongestionWindow,
                               s.sendSlowStartThreshold, s.sendMSS, s.receiveMSS, s.totalRetransmissions, s.unacknowledged,
                               s.sendWindow, s.receiveWindow, UInt32(clamping: i.unreadBytes)]
        for (k, w) in words.enumerated() { out[k] = w }
        return 0
    })
}

@_cdecl("news_set_nonblocking")
public func news_set_nonblocking(_ fd: Int32, _ on: Int32) -> Int32 {
    switch entry(fd) {
    case .udp(let u)?: u.nonBlocking = on != 0
    case .tcp(let t)?: t.nonBlocking = on != 0
    case nil: return fail(EBADF)
    }
    return 0
}

@_cdecl("news_poll")
public func news_poll(_ fds: UnsafePointer<Int32>?, _ n: Int32, _ ready: UnsafeMutablePointer<Int32>?, _ timeoutMillis: Int32) -> Int32 {
    guard n > 0, n <= 64, let fds, let ready else { return fail(EINVAL) }
    var entries: [NewsPoll.Entry] = []
    for i in 0..<Int(n) {
        guard let s = entry(fds[i]) else { return fail(EBADF) }
        entries.append(NewsPoll.Entry(s, .readable))
    }
    let timeout: UInt64? = timeoutMillis < 0 ? nil : UInt64(timeoutMillis) * 1_000_000
    let got = NewsPoll.wait(entries, timeoutNanos: timeout, pacer: withState { $0.pacer })
    for i in 0..<Int(n) { ready[i] = got[i].isEmpty ? 0 : 1 }
    return Int32(got.filter { !$0.isEmpty }.count)
}

/// poll(2) over NEWS sockets: `fds` is news_pollfd_t (int sock; short events; short revents).
@_cdecl("news_poll_events")
public func news_poll_events(_ fds: UnsafeMutableRawPointer?, _ n: Int32, _ timeoutMillis: Int32) -> Int32 {
    guard n > 0, n <= 64, let fds else { return fail(EINVAL) }
    let stride = 8  // int, short, short
    var entries: [NewsPoll.Entry] = []
    for i in 0..<Int(n) {
        let p = fds + i * stride
        let sock = p.loadUnaligned(as: Int32.self)
        let events = NewsPoll.Events(rawValue: p.loadUnaligned(fromByteOffset: 4, as: Int16.self)).intersection([.readable, .writable])
        guard let s = entry(sock) else { return fail(EBADF) }
        entries.append(NewsPoll.Entry(s, events))
    }
    let timeout: UInt64? = timeoutMillis < 0 ? nil : UInt64(timeoutMillis) * 1_000_000
    let got = NewsPoll.wait(entries, timeoutNanos: timeout, pacer: withState { $0.pacer })
    for i in 0..<Int(n) { (fds + i * stride + 6).storeBytes(of: got[i].rawValue, as: Int16.self) }
    return Int32(got.filter { !$0.isEmpty }.count)
}

@_cdecl("news_close")
public func news_close(_ fd: Int32) -> Int32 {
    switch entry(fd) {
    case .udp(let u)?: u.close()
    case .tcp(let t)?: t.close()
    case nil: return fail(EBADF)
    }
    withState { $0.sockets[Int(fd)] = nil }
    return 0
}
