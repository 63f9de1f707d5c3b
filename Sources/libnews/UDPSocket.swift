import NewsConfig
import NewsIPC
import NewsSystem

/// A UDP socket over an exposed socket buffer. Sends, receives, readiness checks and
/// failing non-blocking calls read and write shared memory only: no system call, no
/// message. The process enters the kernel only to sleep when it asked to block.
public final class UDPSocket {
    public let id: UInt32
    let region: SharedRegion
    let header: SocketHeader
    let channel: ShmChannel
    let stack: NewsStack
    private var controlNumber: UInt32 = 0
    private var closed = false
    /// A blocking call (the default) sleeps until it can complete; a non-blocking one
    /// fails with EAGAIN instead.
    public var nonBlocking = false

    public typealias Address = (address: UInt32, port: UInt16)

    /// The socket's own kick: how this application wakes the UDP server when it sleeps.
    let kick: Int32

    public init(stack: NewsStack) throws(SocketError) {
        let (words, fds) = try stack.request("udp")
        guard fds.count == 2, let idWord = words.first, let id = UInt32(idWord) else {
            fds.forEach(FD.close)
            throw SocketError(errno: Errno.invalid, "newsd: unexpected answer to udp")
        }
        defer { FD.close(fds[0]) }  // the mapping keeps the region
        do {
            // SharedRegion refuses a region whose size is not sealed.
            region = try SharedRegion(fd: fds[0], size: SocketLayout.regionSize, name: "socket \(id)")
            header = SocketHeader(region.base)
            guard header.valid, header.id == id else { throw SocketError(errno: Errno.invalid, "socket region invalid") }
            channel = try ShmChannel(name: "socket-\(id)", base: SocketLayout.channel(region.base), capacity: SocketLayout.capacity,
                                     side: .upper, peerBell: header.stackBell(kick: fds[1]), slot: SocketLayout.slot)
        } catch let e as SocketError {
            FD.close(fds[1])
            throw e
        } catch {
            FD.close(fds[1])
            throw SocketError(errno: Errno.invalid, "socket \(id): \(error)")
        }
        kick = fds[1]
        self.id = id
        self.stack = stack
    }

    deinit { close() }

    /// The local address, once bound (explicitly, by connect, or by the first send).
    public var localAddress: Address? {
        let l = header.local
        return l.port == 0 ? nil : l
    }

    public func bind(address: UInt32 = 0, port: UInt16) throws(SocketError) {
        try control(Message(kind: .socketBind, seq: 0, args: (UInt64(address), UInt64(port), 0, 0, 0, 0)))
    }

    public func connect(address: UInt32, port: UInt16) throws(SocketError) {
        try control(Message(kind: .socketConnect, seq: 0, args: (UInt64(address), UInt64(port), 0, 0, 0, 0)))
    }

    /// Sends one datagram (to the connected peer if `to` is nil). Returns its length.
    /// A datagram that cannot be sent fails here, before anything is queued, as Linux's
    /// sendto does: port or address 0 (EINVAL), no peer (EDESTADDRREQ), longer than
    /// `UDPLimits.maxPayload` (EMSGSIZE). A pending asynchronous error (ECONNREFUSED
    /// after an ICMP port unreachable to a connected socket) is reported and cleared.
    @discardableResult
    public func send(_ data: UnsafeRawBufferPointer, to: Address? = nil) throws(SocketError) -> Int {
        guard !closed else { throw SocketError(errno: Errno.badDescriptor) }
        if to == nil && header.state != .connected { throw SocketError(errno: Errno.destinationRequired) }
        switch UDPLimits.check(destination: to, payloadLength: data.count) {
        case .badDestination?: throw SocketError(errno: Errno.invalid, "sendto port 0 or address 0.0.0.0")
        case .tooLong?: throw SocketError(errno: Errno.messageTooLong, "\(data.count) bytes; NEWS's maximum is \(UDPLimits.maxPayload)")
        case nil: break
        }
        try takeError()
        let m = Message(kind: .socketSend, seq: 0, args: (UInt64(to?.address ?? 0), UInt64(to?.port ?? 0), 0, 0, 0, 0))
        while true {
            let sent: Bool
            do { sent = try channel.send(m, payload: data) } catch { throw SocketError(errno: Errno.invalid, "\(error)") }
            if sent { return data.count }
            if nonBlocking { throw .again }
            // The ring drains as fast as the UDP server runs; nothing wakes us for space.
            Clock.yield()
        }
    }

    public func send(_ bytes: [UInt8], to: Address? = nil) throws(SocketError) -> Int {
        let r: Result<Int, SocketError> = bytes.withUnsafeBytes { b in
            do throws(SocketError) { return .success(try send(b, to: to)) } catch { return .failure(error) }
        }
        return try r.get()
    }

    /// Receives one datagram into `buffer` (truncating it if the buffer is short, like
    /// recvfrom). Returns its full length and where it came from.
    public func receive(into buffer: UnsafeMutableRawBufferPointer) throws(SocketError) -> (count: Int, from: Address) {
        guard !closed else { throw SocketError(errno: Errno.badDescriptor) }
        while true {
            // The common failing case costs one load of the header's error word and one of
            // the ring's head. A pending asynchronous error comes before queued data, as
            // on Linux (udp_recvmsg checks sock_error first).
            try takeError()
            if channel.hasInput, let r = try receiveNow(into: buffer) { return r }
            if nonBlocking { throw SocketError(errno: Errno.again) }
            header.appBell.sleep(timeoutNanos: nil) { channel.hasInput || header.error != 0 }
        }
    }

    /// The non-blocking core of receive: nil when nothing is there. A handful of loads.
    @inline(__always)
    func receiveNow(into buffer: UnsafeMutableRawBufferPointer) throws(SocketError) -> (count: Int, from: Address)? {
        var result: (Int, Address)? = nil
        do {
            _ = try channel.receive(max: 1) { m, payload in
                guard m.kind == MessageKind.socketData.rawValue else { return }
                let n = min(payload.count, buffer.count)
                if n > 0 { buffer.baseAddress!.copyMemory(from: payload.baseAddress!, byteCount: n) }
                result = (payload.count, (UInt32(truncatingIfNeeded: m.arg.0), UInt16(truncatingIfNeeded: m.arg.1)))
            }
        } catch {
            throw SocketError(errno: Errno.invalid, "\(error)")
        }
        return result
    }

    /// Whether a receive would complete now, with data or with a pending error (poll's
    /// POLLERR). No system call.
    public var readable: Bool { channel.hasInput || header.error != 0 }

    public func close() {
        guard !closed else { return }
        closed = true
        _ = try? stack.request("close \(id)")
        region.unmap()
        FD.close(kick)
    }

    /// A control request travels in the transmit ring like data (so it is ordered with it)
    /// and is answered in the header.
    private func control(_ request: Message) throws(SocketError) {
        guard !closed else { throw SocketError(errno: Errno.badDescriptor) }
        controlNumber &+= 1
        var m = request
        m.seq = UInt64(controlNumber)
        let number = controlNumber
        do {
            while !(try channel.send(m, payload: UnsafeRawBufferPointer(start: nil, count: 0))) { Clock.yield() }
        } catch { throw SocketError(errno: Errno.invalid, "\(error)") }
        let deadline = Clock.nanos() + 5_000_000_000
        while header.controlDone != number {
            guard Clock.nanos() < deadline else { throw SocketError(errno: Errno.timedOut, "udpserver did not answer") }
            header.appBell.sleep(timeoutNanos: 100_000_000) { header.controlDone == number }
        }
        let r = header.controlResult
        if r != 0 { throw SocketError(errno: -r) }
    }

    private func takeError() throws(SocketError) {
        let e = header.error
        if e != 0 {
            header.clearError()
            throw SocketError(errno: -e)
        }
    }

    /// The wake word this socket's application sleeps on (for `NewsPoll`).
    var bell: Doorbell { header.appBell }
    /// Closed: the region is unmapped, so nothing of it may be touched.
    var isClosed: Bool { closed }
}
