import Glibc
import NewsConfig
import NewsSystem

// The C API declared in include/news.h: thin @_cdecl wrappers over NewsStack and UDPSocket.
// NEWS descriptors index a table of sockets; errno is set as POSIX calls set it.

private final class CState: @unchecked Sendable {
    var stack: NewsStack?
    var sockets: [UDPSocket?] = []
    var lock = pthread_mutex_t()
    init() { pthread_mutex_init(&lock, nil) }
}

private let state = CState()

private func withState<T>(_ body: (CState) -> T) -> T {
    pthread_mutex_lock(&state.lock)
    defer { pthread_mutex_unlock(&state.lock) }
    return body(state)
}

private func fail(_ e: Int32) -> Int32 { errno = e; return -1 }

private func socket(_ fd: Int32) -> UDPSocket? {
    withState { s in fd >= 0 && Int(fd) < s.sockets.count ? s.sockets[Int(fd)] : nil }
}

@_cdecl("news_init")
public func news_init(_ path: UnsafePointer<CChar>?) -> Int32 {
    let p = path.map { String(cString: $0) } ?? NewsStack.defaultSocket
    do {
        let stack = try NewsStack(socketPath: p)
        withState { $0.stack = stack }
        return 0
    } catch { return fail(error.errno) }
}

@_cdecl("news_udp_socket")
public func news_udp_socket() -> Int32 {
    guard let stack = withState({ $0.stack }) else { return fail(ENOTCONN) }
    do {
        let s = try UDPSocket(stack: stack)
        return withState { st in
            if let free = st.sockets.firstIndex(where: { $0 == nil }) { st.sockets[free] = s; return Int32(free) }
            st.sockets.append(s)
            return Int32(st.sockets.count - 1)
        }
    } catch { return fail(error.errno) }
}

@_cdecl("news_bind")
public func news_bind(_ fd: Int32, _ addr: UInt32, _ port: UInt16) -> Int32 {
    guard let s = socket(fd) else { return fail(EBADF) }
    do { try s.bind(address: addr, port: port); return 0 } catch { return fail(error.errno) }
}

@_cdecl("news_connect")
public func news_connect(_ fd: Int32, _ addr: UInt32, _ port: UInt16) -> Int32 {
    guard let s = socket(fd) else { return fail(EBADF) }
    do { try s.connect(address: addr, port: port); return 0 } catch { return fail(error.errno) }
}

@_cdecl("news_sendto")
public func news_sendto(_ fd: Int32, _ buf: UnsafeRawPointer?, _ len: Int, _ addr: UInt32, _ port: UInt16) -> Int {
    guard let s = socket(fd) else { return Int(fail(EBADF)) }
    guard len == 0 || buf != nil else { return Int(fail(EFAULT)) }
    do {
        return try s.send(UnsafeRawBufferPointer(start: buf, count: len), to: addr == 0 && port == 0 ? nil : (addr, port))
    } catch { return Int(fail(error.errno)) }
}

@_cdecl("news_udp_max_payload")
public func news_udp_max_payload() -> Int { UDPLimits.maxPayload }

@_cdecl("news_recvfrom")
public func news_recvfrom(_ fd: Int32, _ buf: UnsafeMutableRawPointer?, _ len: Int,
                          _ addr: UnsafeMutablePointer<UInt32>?, _ port: UnsafeMutablePointer<UInt16>?) -> Int {
    guard let s = socket(fd) else { return Int(fail(EBADF)) }
    guard len == 0 || buf != nil else { return Int(fail(EFAULT)) }
    do {
        let (n, from) = try s.receive(into: UnsafeMutableRawBufferPointer(start: buf, count: len))
        addr?.pointee = from.address
        port?.pointee = from.port
        return n
    } catch { return Int(fail(error.errno)) }
}

@_cdecl("news_set_nonblocking")
public func news_set_nonblocking(_ fd: Int32, _ on: Int32) -> Int32 {
    guard let s = socket(fd) else { return fail(EBADF) }
    s.nonBlocking = on != 0
    return 0
}

@_cdecl("news_poll")
public func news_poll(_ fds: UnsafePointer<Int32>?, _ n: Int32, _ ready: UnsafeMutablePointer<Int32>?, _ timeoutMillis: Int32) -> Int32 {
    guard n > 0, n <= 64, let fds, let ready else { return fail(EINVAL) }
    var sockets: [UDPSocket] = []
    for i in 0..<Int(n) {
        guard let s = socket(fds[i]) else { return fail(EBADF) }
        sockets.append(s)
    }
    let timeout: UInt64? = timeoutMillis < 0 ? nil : UInt64(timeoutMillis) * 1_000_000
    let readable = NewsPoll.wait(sockets, timeoutNanos: timeout)
    for i in 0..<Int(n) { ready[i] = readable.contains(i) ? 1 : 0 }
    return Int32(readable.count)
}

@_cdecl("news_close")
public func news_close(_ fd: Int32) -> Int32 {
    guard let s = socket(fd) else { return fail(EBADF) }
    s.close()
    withState { $0.sockets[Int(fd)] = nil }
    return 0
}
