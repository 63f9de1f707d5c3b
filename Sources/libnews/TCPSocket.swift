import Glibc
import NewsIPC
import NewsSystem

/// A TCP socket over an exposed stream region (docs/TCP-SOCKETS.md). Data never goes
/// through a message: `send` copies from the caller's buffer into the send area and `receive`
/// from the receive area into the caller's buffer, with no system call while there is space
/// or data; a blocking call sleeps on the socket's wake word only after telling the stack it
/// waits and looking once more. Control requests (bind, connect, listen, options) travel on
/// the region's control channel and are answered in the socket header; creating, accepting
/// and closing sockets are one line each to newsd, except for the connections of a
/// listener: their regions come from the listener's pool, handed over by newsd in advance, so
/// accepting one is taking tcpserver's announcement and closing one is a flag in its region.
///
/// Everything read from the region is checked (`StreamAppEnd`): a stack that writes
/// impossible words makes this socket's calls fail with EIO, never read out of bounds.
/// Not thread-safe: one user per socket, like a descriptor used by one thread.
public final class TCPSocket {
    public typealias Address = (address: UInt32, port: UInt16)

    public enum ShutdownSide: Sendable { case read, write, both }

    /// recv/send flags, with Linux's values.
    public struct MessageFlags: OptionSet, Sendable {
        public let rawValue: Int32
        public init(rawValue: Int32) { self.rawValue = rawValue }
        /// Look at the data without consuming it.
        public static let peek = MessageFlags(rawValue: 0x2)
        /// This call does not block, whatever the socket's mode.
        public static let dontWait = MessageFlags(rawValue: 0x40)
        /// A blocking receive waits until the buffer is full (or the stream ends or fails).
        public static let waitAll = MessageFlags(rawValue: 0x100)
        /// Accepted and ignored: NEWS never raises SIGPIPE.
        public static let noSignal = MessageFlags(rawValue: 0x4000)
        public static let known: MessageFlags = [.peek, .dontWait, .waitAll, .noSignal]
    }

    public enum Option: Sendable {
        /// Sent with the next bind (SO_REUSEADDR).
        case reuseAddress(Bool)
        /// SO_SNDBUF / SO_RCVBUF in bytes: before connect or listen only (EINVAL after). The
        /// area becomes the next power of two at or above the value, 4 KiB ... 16 MiB.
        case sendBuffer(Int)
        case receiveBuffer(Int)
        case keepAlive(Bool)
        /// TCP_KEEPIDLE, TCP_KEEPINTVL (seconds, 1 ... 32767) and TCP_KEEPCNT (1 ... 127).
        case keepIdle(Int)
        case keepInterval(Int)
        case keepCount(Int)
        case noDelay(Bool)
        /// SO_LINGER: nil off; 0 aborts on close (RST); n > 0 makes a blocking close wait up
        /// to n seconds for the peer to acknowledge everything sent.
        case linger(Int?)
    }

    /// TCP_INFO: the connection's state (the `TCPState` ordinal) and the numbers the stack
    /// published, with what sits in the two areas.
    public struct Info: Equatable, Sendable {
        public var state: UInt32
        public var stack: StreamInfo
        /// Bytes appended and not yet acknowledged by the peer.
        public var unacknowledgedBytes: Int
        /// Bytes received and not yet read.
        public var unreadBytes: Int
    }

    private enum Phase { case fresh, listening, connecting, connected, failed }

    /// newsd's number for the socket. It changes when SO_SNDBUF/SO_RCVBUF re-create the region.
    public private(set) var id: UInt32
    let stack: NewsStack
    private var region: SharedRegion
    private var end: StreamAppEnd
    private var channel: ShmChannel
    private var kick: Int32
    private var controlNumber: UInt32 = 0
    private var closed = false
    private var phase: Phase
    /// A blocking call (the default) sleeps until it can complete; a non-blocking one fails
    /// with EAGAIN (connect: EINPROGRESS) instead.
    public var nonBlocking = false

    private var reuseAddress = false
    /// What bind asked for, replayed when the region is re-created.
    private var boundTo: Address?
    /// Options sent to tcpserver, replayed when the region is re-created.
    private var sentOptions: [(SocketOption, UInt64)] = []
    private var lingerSeconds: Int?
    private var readShutDown = false
    /// The reset's errno was reported once (ECONNRESET, ECONNREFUSED, ETIMEDOUT...); later
    /// calls see end of stream (receive) or EPIPE (send), as on Linux.
    private var errorReported = false
    /// Connections tcpserver announced on a listener and the application has not accepted.
    private var announced: [(id: UInt32, peer: Address)] = []
    /// The peer a listener's announcement named, until the stack writes the header.
    private var announcedPeer: Address?
    /// A listener's pool: the regions of its connections, mapped in advance.
    private var listenerPool: ListenerPool?
    /// The pool an accepted socket's region belongs to: closing it releases the region back
    /// (while the listener lives).
    private var fromPool: ListenerPool?

    // MARK: - Creating

    private struct Parts {
        let id: UInt32
        let region: SharedRegion
        let end: StreamAppEnd
        let channel: ShmChannel
        let kick: Int32
    }

    /// `tcp` (default areas).
    public convenience init(stack: NewsStack) throws(SocketError) {
        self.init(stack: stack, parts: try Self.request(stack, "tcp"), phase: .fresh)
    }

    private init(stack: NewsStack, parts: Parts, phase: Phase) {
        self.stack = stack
        id = parts.id
        region = parts.region
        end = parts.end
        end.kickLedger = stack.kickLedger
        channel = parts.channel
        kick = parts.kick
        self.phase = phase
    }

    deinit { close() }

    /// One request to newsd answered with `ok ID` and a region and kick; maps and checks them.
    private static func request(_ stack: NewsStack, _ line: String) throws(SocketError) -> Parts {
        let (words, fds) = try stack.request(line)
        guard fds.count == 2, let idWord = words.first, let id = UInt32(idWord) else {
            fds.forEach(FD.close)
            throw SocketError(errno: Errno.invalid, "newsd: unexpected answer to \(line)")
        }
        defer { FD.close(fds[0]) }  // the mapping keeps the region
        do {
            return try attach(id: id, regionFD: fds[0], kick: fds[1])
        } catch {
            FD.close(fds[1])
            throw error
        }
    }

    private static func attach(id: UInt32, regionFD: Int32, kick: Int32) throws(SocketError) -> Parts {
        let region = try mapRegion(id: id, regionFD: regionFD)
        do {
            return try attach(id: id, region: region, kick: kick)
        } catch {
            region.unmap()
            throw error
        }
    }

    /// A mapped region's ends (checked: the header's geometry must fit the mapping).
    private static func attach(id: UInt32, region: SharedRegion, kick: Int32) throws(SocketError) -> Parts {
        do {
            let end = try StreamAppEnd(base: region.base, mappedSize: region.size, id: id, kick: kick)
            let channel = try end.controlChannel(name: "stream-\(id)")
            return Parts(id: id, region: region, end: end, channel: channel, kick: kick)
        } catch {
            throw SocketError(errno: Errno.invalid, "stream \(id): \(error)")
        }
    }

    private static func mapRegion(id: UInt32, regionFD: Int32) throws(SocketError) -> SharedRegion {
        // The region's size says its area sizes (an accepted socket's are its listener's);
        // the geometry in the header must then agree with it, and SharedRegion refuses a
        // region whose size is not sealed.
        var st = stat()
        guard fstat(regionFD, &st) == 0 else { throw SocketError(errno: Glibc.errno, "stream \(id): fstat") }
        let size = Int(st.st_size)
        let smallest = StreamLayout.regionSize(send: StreamLayout.minAreaSize, receive: StreamLayout.minAreaSize)
        let largest = StreamLayout.regionSize(send: StreamLayout.maxAreaSize, receive: StreamLayout.maxAreaSize)
        guard size >= smallest, size <= largest else {
            throw SocketError(errno: Errno.invalid, "stream \(id): region of \(size) bytes")
        }
        do { return try SharedRegion(fd: regionFD, size: size, name: "stream \(id)") } catch {
            throw SocketError(errno: error.errno, "stream \(id): \(error)")
        }
    }

    // MARK: - Addresses

    /// The local address once bound (by bind, or by connect or listen choosing a port).
    public var localAddress: Address? {
        guard !closed else { return nil }
        let l = end.header.local
        return l.port == 0 ? nil : l
    }

    /// The peer's address once connected (nil otherwise: getpeername's ENOTCONN).
    public var peerAddress: Address? {
        guard !closed, phase == .connected || phase == .connecting || phase == .failed else { return nil }
        let r = end.header.remote
        if r.port != 0 { return r }
        return phase == .connecting ? nil : announcedPeer
    }

    // MARK: - Control requests

    public func bind(address: UInt32 = 0, port: UInt16) throws(SocketError) {
        try checkOpen()
        guard phase == .fresh, boundTo == nil else { throw SocketError(errno: Errno.invalid, "the socket is bound already") }
        try control(.socketBind, UInt64(address), UInt64(port), reuseAddress ? 1 : 0)
        boundTo = (address, port)
    }

    /// First newsd makes the socket a listener (spare sockets for its connections), then
    /// tcpserver starts listening. A backlog above 32 gets 32 spares (newsd's limit); the
    /// stack hears the backlog asked for.
    public func listen(backlog: Int = 128) throws(SocketError) {
        try checkOpen()
        guard phase == .fresh || phase == .listening else { throw SocketError(errno: Errno.invalid, "listen on a connected socket") }
        _ = try stack.request("listen \(id) \(backlog)")
        if listenerPool == nil {
            let pool = ListenerPool()
            listenerPool = pool
            // The spares newsd just made, mapped now so that their connections are accepted
            // without a request. Without them (limits) accept asks newsd for each one.
            try? refillPool(pool, more: false)
        }
        try control(.socketListen, UInt64(backlog < 0 ? 4096 : min(backlog, 65535)))
        phase = .listening
    }

    /// `pool ID [more]`: newsd hands over the listener's spares we do not hold yet (`more`:
    /// making a batch first if we hold them all); each is checked and mapped now.
    private func refillPool(_ pool: ListenerPool, more: Bool) throws(SocketError) {
        let (words, fds) = try stack.request(more ? "pool \(id) more" : "pool \(id)")
        guard let k = words.first.flatMap({ Int($0) }), k >= 0, words.count == k + 1, fds.count == 2 * k else {
            fds.forEach(FD.close)
            throw SocketError(errno: Errno.invalid, "newsd: unexpected answer to pool")
        }
        for i in 0..<k {
            let regionFD = fds[2 * i], kick = fds[2 * i + 1]
            defer { FD.close(regionFD) }  // the mapping keeps the region
            guard let spare = UInt32(words[i + 1]), pool.regions[spare] == nil,
                  let region = try? Self.mapRegion(id: spare, regionFD: regionFD) else {
                FD.close(kick)
                continue
            }
            pool.regions[spare] = ListenerPool.Region(region: region, kick: kick)
        }
    }

    /// Blocking: returns once the handshake completed, or throws what failed it
    /// (ECONNREFUSED, ETIMEDOUT, ...). Non-blocking: throws EINPROGRESS once the SYN is on its
    /// way; the socket turns writable when the connect finished, and `connectResult()` says
    /// how.
    public func connect(address: UInt32, port: UInt16) throws(SocketError) {
        try checkOpen()
        refreshPhase()
        switch phase {
        case .listening, .connected: throw SocketError(errno: EISCONN)
        case .connecting:
            if nonBlocking { throw SocketError(errno: EALREADY) }
            try waitConnected()
            return
        case .failed:
            throw SocketError(errno: Errno.invalid, "this socket's connect failed; NEWS connects a socket once (open a new one)")
        case .fresh: break
        }
        try control(.socketConnect, UInt64(address), UInt64(port))
        phase = .connecting
        if nonBlocking { throw SocketError(errno: EINPROGRESS) }
        try waitConnected()
    }

    private func waitConnected() throws(SocketError) {
        while true {
            refreshPhase()
            switch phase {
            case .connected: return
            case .failed:
                if let e = takeError() { throw SocketError(errno: e) }
                throw SocketError(errno: ECONNABORTED)
            default: break
            }
            let bell = end.bell
            bell.sleep(timeoutNanos: nil) { !end.stackFlags.isDisjoint(with: [.established, .reset]) }
        }
    }

    /// getsockopt(SO_ERROR): the pending error (and clears it), 0 if none. After a
    /// non-blocking connect, poll for writable, then this says whether it worked.
    public func connectResult() -> Int32 {
        guard !closed else { return EBADF }
        refreshPhase()
        return takeError() ?? 0
    }

    public func setOption(_ option: Option) throws(SocketError) {
        try checkOpen()
        switch option {
        case .reuseAddress(let on):
            reuseAddress = on
        case .sendBuffer(let bytes):
            try resize(send: Self.areaSize(bytes), receive: end.geometry.receiveSize)
        case .receiveBuffer(let bytes):
            try resize(send: end.geometry.sendSize, receive: Self.areaSize(bytes))
        case .keepAlive(let on):
            try sendOption(.keepAlive, on ? 1 : 0)
        case .keepIdle(let s):
            guard (1...32767).contains(s) else { throw SocketError(errno: Errno.invalid, "TCP_KEEPIDLE \(s)") }
            try sendOption(.keepIdle, UInt64(s))
        case .keepInterval(let s):
            guard (1...32767).contains(s) else { throw SocketError(errno: Errno.invalid, "TCP_KEEPINTVL \(s)") }
            try sendOption(.keepInterval, UInt64(s))
        case .keepCount(let n):
            guard (1...127).contains(n) else { throw SocketError(errno: Errno.invalid, "TCP_KEEPCNT \(n)") }
            try sendOption(.keepCount, UInt64(n))
        case .noDelay(let on):
            try sendOption(.noDelay, on ? 1 : 0)
        case .linger(let seconds):
            if let seconds, seconds < 0 { throw SocketError(errno: Errno.invalid, "SO_LINGER \(seconds)") }
            // Told to tcpserver now, so that its answer is this call's, and it knows before
            // the close line arrives.
            try sendOption(.linger, seconds.map { UInt64($0) } ?? UInt64.max)
            lingerSeconds = seconds
        }
    }

    /// The send and receive areas' sizes (what SO_SNDBUF / SO_RCVBUF report).
    public var sendBufferSize: Int { end.geometry.sendSize }
    public var receiveBufferSize: Int { end.geometry.receiveSize }

    /// A buffer size as an area size: the power of two at or above it, within the limits.
    static func areaSize(_ bytes: Int) -> Int {
        let clamped = max(StreamLayout.minAreaSize, min(bytes, StreamLayout.maxAreaSize))
        var size = StreamLayout.minAreaSize
        while size < clamped { size <<= 1 }
        return size
    }

    private func sendOption(_ option: SocketOption, _ value: UInt64) throws(SocketError) {
        // TCP_NODELAY and SO_KEEPALIVE take any value, and tcpserver answers them with 0
        // always: posted without waiting for that answer (an accepted connection's
        // setsockopt then costs no round trip, and no sleep). Requests are served in order,
        // so whatever follows sees the option set.
        try control(.socketOption, option.rawValue, value, awaitAnswer: option != .noDelay && option != .keepAlive)
        sentOptions.removeAll { $0.0 == option }
        sentOptions.append((option, value))
    }

    /// New area sizes take a new region: newsd makes one (`tcp SEND RECV`), the old socket is
    /// closed, and what was set on it (its binding, its options) is set again on the new one.
    private func resize(send: Int, receive: Int) throws(SocketError) {
        guard send != end.geometry.sendSize || receive != end.geometry.receiveSize else { return }
        guard phase == .fresh else {
            throw SocketError(errno: Errno.invalid, "SO_SNDBUF/SO_RCVBUF only before connect or listen in NEWS")
        }
        let parts = try Self.request(stack, "tcp \(send) \(receive)")
        // An ephemeral port the stack chose is asked for again by number.
        let rebind = boundTo.map { b -> Address in (b.address, b.port != 0 ? b.port : end.header.local.port) }
        let oldID = id
        region.unmap()
        FD.close(kick)
        _ = try? stack.request("close \(oldID)")
        id = parts.id
        region = parts.region
        end = parts.end
        end.kickLedger = stack.kickLedger
        channel = parts.channel
        kick = parts.kick
        controlNumber = 0
        if let rebind {
            // The old socket's close reaches tcpserver through newsd, so the port may still be
            // held for a moment.
            let deadline = Clock.nanos() + 1_000_000_000
            while true {
                do {
                    try control(.socketBind, UInt64(rebind.address), UInt64(rebind.port), reuseAddress ? 1 : 0)
                    break
                } catch {
                    guard error.errno == Errno.addressInUse, Clock.nanos() < deadline else { boundTo = nil; throw error }
                    Clock.sleep(nanos: 1_000_000)
                }
            }
        }
        for (option, value) in sentOptions { try control(.socketOption, option.rawValue, value) }
    }

    /// A request on the control channel, answered in the header (`ctl_done`, `ctl_result`).
    private func control(_ kind: MessageKind, _ a0: UInt64, _ a1: UInt64 = 0, _ a2: UInt64 = 0, awaitAnswer: Bool = true) throws(SocketError) {
        controlNumber &+= 1
        if controlNumber == 0 { controlNumber = 1 }  // 0 is "nothing answered yet"
        let number = controlNumber
        let m = Message(kind: kind, seq: UInt64(number), args: (a0, a1, a2, 0, 0, 0))
        let deadline = Clock.nanos() + 5_000_000_000
        do {
            while !(try channel.send(m, payload: UnsafeRawBufferPointer(start: nil, count: 0))) {
                guard Clock.nanos() < deadline else { throw SocketError(errno: Errno.timedOut, "tcpserver takes no requests") }
                Clock.yield()
            }
        } catch let e as SocketError {
            throw e
        } catch {
            throw SocketError(errno: EIO, "stream \(id) control channel: \(error)")
        }
        guard awaitAnswer else { return }
        let header = end.header
        while header.controlDone != number {
            guard Clock.nanos() < deadline else { throw SocketError(errno: Errno.timedOut, "tcpserver did not answer") }
            header.appBell.sleep(timeoutNanos: 100_000_000) { header.controlDone == number }
        }
        let r = header.controlResult
        guard r != 0 else { return }
        // The stack's word: only a real -errno is passed on.
        guard r < 0, r > -4096 else { throw SocketError(errno: EIO, "tcpserver answered \(r)") }
        throw SocketError(errno: -r)
    }

    // MARK: - Accepting

    /// The next connection tcpserver announced on this listener. Waits (blocking) or throws
    /// EAGAIN (non-blocking) when none is queued. No system call while one is queued but the
    /// round trip to newsd for its descriptors.
    public func accept() throws(SocketError) -> TCPSocket {
        try checkOpen()
        guard phase == .listening else { throw SocketError(errno: Errno.invalid, "accept on a socket that does not listen") }
        while true {
            takeAnnouncements()
            while !announced.isEmpty {
                let next = announced.removeFirst()
                if let pool = listenerPool {
                    if pool.regions[next.id] == nil, !pool.refillRefused(now: Clock.nanos()) {
                        // newsd made spares we do not hold yet (listen again, a refill): take them.
                        do { try refillPool(pool, more: false) } catch { pool.refused(at: Clock.nanos()) }
                    }
                    if pool.regions[next.id] != nil {
                        guard let socket = takePooled(next, from: pool) else { continue }
                        return socket
                    }
                }
                do {
                    let parts = try Self.request(stack, "accept \(id) \(next.id)")
                    let socket = TCPSocket(stack: stack, parts: parts, phase: .connected)
                    socket.announcedPeer = next.peer
                    return socket
                } catch where error.errno == Errno.invalid {
                    // newsd no longer holds that spare for us (tcpserver announced a socket that
                    // is gone, or not ours): the next one, as Linux skips an aborted connection.
                    continue
                }
            }
            if end.stackFlags.contains(.reset), let e = takeError() { throw SocketError(errno: e) }
            if readShutDown { throw SocketError(errno: Errno.invalid, "the listener was shut down") }
            if nonBlocking { throw .again }
            let bell = end.bell
            bell.sleep(timeoutNanos: nil) { channel.hasInput || end.stackFlags.contains(.reset) }
        }
    }

    /// An announced connection whose region we hold: no system call. Nil when the region
    /// is still ours (an announcement tcpserver should not have made) or its words are not
    /// a socket's: that announcement is skipped, as a stale one is.
    private func takePooled(_ next: (id: UInt32, peer: Address), from pool: ListenerPool) -> TCPSocket? {
        guard let r = pool.regions[next.id], !r.inUse,
              let parts = try? Self.attach(id: next.id, region: r.region, kick: r.kick) else { return nil }
        pool.regions[next.id]?.inUse = true
        let socket = TCPSocket(stack: stack, parts: parts, phase: .connected)
        socket.announcedPeer = next.peer
        socket.fromPool = pool
        // Few regions left that tcpserver holds free: one request for a batch more, now,
        // rather than a connection dropped for want of one later.
        if ListenerPool.wantsRefill(free: pool.freeCount, total: pool.regions.count), !pool.refillRefused(now: Clock.nanos()) {
            do { try refillPool(pool, more: true) } catch { pool.refused(at: Clock.nanos()) }
        }
        return socket
    }

    /// Moves tcpserver's announcements from the up ring into our own queue (when that is
    /// empty, so it never holds more than one ring's worth). Anything but a well-formed
    /// socketAccepted is dropped.
    private func takeAnnouncements() {
        guard announced.isEmpty, channel.hasInput else { return }
        _ = try? channel.receive(max: StreamLayout.controlCapacity) { m, _ in
            guard m.kind == MessageKind.socketAccepted.rawValue, m.arg.0 > 0, m.arg.0 <= UInt64(UInt32.max) else { return }
            announced.append((UInt32(m.arg.0), (UInt32(truncatingIfNeeded: m.arg.1), UInt16(truncatingIfNeeded: m.arg.2))))
        }
    }

    // MARK: - Sending

    /// Copies `data` into the send area. Blocking: returns when all of it is there (the
    /// stack sends it from there). Non-blocking (or `.dontWait`): as much as fits, EAGAIN if
    /// nothing does. EPIPE once the write side is shut or the connection failed, after the
    /// failure's own errno once (ECONNRESET). Never SIGPIPE.
    @discardableResult
    public func send(_ data: UnsafeRawBufferPointer, flags: MessageFlags = []) throws(SocketError) -> Int {
        try checkOpen()
        return try sendSome(data, mayBlock: !nonBlocking && !flags.contains(.dontWait), prior: 0)
    }

    @discardableResult
    public func send(_ bytes: [UInt8], flags: MessageFlags = []) throws(SocketError) -> Int {
        let r: Result<Int, SocketError> = bytes.withUnsafeBytes { b in
            do throws(SocketError) { return .success(try send(b, flags: flags)) } catch { return .failure(error) }
        }
        return try r.get()
    }

    /// Gathers `buffers` into the stream, in order, with `send`'s rules; a non-blocking call
    /// stops at the first buffer that does not fit whole.
    @discardableResult
    public func writev(_ buffers: [UnsafeRawBufferPointer], flags: MessageFlags = []) throws(SocketError) -> Int {
        try checkOpen()
        let mayBlock = !nonBlocking && !flags.contains(.dontWait)
        var total = 0
        for b in buffers {
            let n: Int
            do { n = try sendSome(b, mayBlock: mayBlock, prior: total) } catch {
                if total > 0 { return total }
                throw error
            }
            total += n
            if n < b.count { break }
        }
        return total
    }

    /// `prior`: bytes the same call already took, so that a failure after them is left for
    /// the next call, which reports it (as a short write would on Linux).
    private func sendSome(_ data: UnsafeRawBufferPointer, mayBlock: Bool, prior: Int) throws(SocketError) -> Int {
        var done = 0
        while true {
            refreshPhase()
            switch phase {
            case .fresh, .listening:
                // Linux: a send on a socket that is not connected fails with EPIPE.
                throw SocketError(errno: EPIPE, "the socket is not connected")
            case .failed:
                if done + prior > 0 { return done }
                if let e = takeError() { throw SocketError(errno: e) }
                throw SocketError(errno: EPIPE)
            case .connecting:
                if !mayBlock { if done > 0 { return done }; throw .again }
                try waitConnected()
                continue
            case .connected: break
            }
            if end.writeShutDown { if done + prior > 0 { return done }; throw SocketError(errno: EPIPE, "the write side is shut down") }
            if end.stackFlags.contains(.sendClosed) { if done + prior > 0 { return done }; throw SocketError(errno: EPIPE) }
            if done < data.count {
                let rest = UnsafeRawBufferPointer(rebasing: data[done...])
                do { done += try end.append(rest) } catch { throw Self.socketError(error) }
            }
            if done == data.count { return done }
            if !mayBlock { if done > 0 { return done }; throw .again }
            // Wait for the peer to acknowledge: say so, look again, then sleep.
            end.beginWaiting(.writerWaits)
            let bell = end.bell
            bell.sleep(timeoutNanos: nil) {
                ((try? end.sendSpace()) ?? 1) > 0 || !end.stackFlags.isDisjoint(with: [.reset, .sendClosed])
            }
            end.endWaiting(.writerWaits)
        }
    }

    // MARK: - Receiving

    /// Copies readable bytes into `buffer` and consumes them (`.peek`: does not). Returns 0
    /// at end of stream (the peer's FIN, and everything before it read), after the read side
    /// was shut, and after a failure was reported; the failure itself (ECONNRESET...) once,
    /// after the data that came before it. Blocking: waits for at least one byte
    /// (`.waitAll`: for the whole buffer). Non-blocking (or `.dontWait`): EAGAIN when empty.
    public func receive(into buffer: UnsafeMutableRawBufferPointer, flags: MessageFlags = []) throws(SocketError) -> Int {
        try checkOpen()
        return try receiveSome(into: buffer, flags: flags, prior: 0)
    }

    /// Scatters readable bytes over `buffers` in order, with `receive`'s rules; only the
    /// first buffer waits (all of them with `.waitAll`).
    public func readv(_ buffers: [UnsafeMutableRawBufferPointer], flags: MessageFlags = []) throws(SocketError) -> Int {
        try checkOpen()
        if flags.contains(.peek) {
            // Peeking starts at the head each time: peek the whole length once, then scatter.
            let total = buffers.reduce(0) { $0 + $1.count }
            let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: max(total, 1), alignment: 8)
            defer { scratch.deallocate() }
            let n = try receiveSome(into: UnsafeMutableRawBufferPointer(rebasing: scratch[0..<total]), flags: flags, prior: 0)
            var at = 0
            for b in buffers where at < n {
                let k = min(b.count, n - at)
                if k > 0 { b.baseAddress!.copyMemory(from: scratch.baseAddress! + at, byteCount: k) }
                at += k
            }
            return n
        }
        var total = 0
        for b in buffers {
            let f = total == 0 || flags.contains(.waitAll) ? flags : flags.union(.dontWait)
            let n: Int
            do { n = try receiveSome(into: b, flags: f, prior: total) } catch {
                if total > 0 { return total }
                throw error
            }
            total += n
            if n < b.count { break }
        }
        return total
    }

    private func receiveSome(into buffer: UnsafeMutableRawBufferPointer, flags: MessageFlags, prior: Int) throws(SocketError) -> Int {
        guard buffer.count > 0 else { return 0 }
        let mayBlock = !nonBlocking && !flags.contains(.dontWait)
        let peek = flags.contains(.peek)
        let waitAll = flags.contains(.waitAll) && mayBlock
        var done = 0
        while true {
            refreshPhase()
            switch phase {
            case .fresh, .listening: throw SocketError(errno: Errno.notConnected)
            case .connecting:
                if !mayBlock { throw .again }
                try waitConnected()
                continue
            case .connected, .failed: break
            }
            let readable: Int
            do { readable = try end.readable() } catch { throw Self.socketError(error) }
            if readable > 0 {
                let want = buffer.count - done
                if peek {
                    // A peek returns what is there, unless waitAll asks for the whole buffer and
                    // more may come.
                    if !waitAll || readable >= min(want, end.geometry.receiveSize / 2) || !end.stackFlags.isDisjoint(with: [.peerFinished, .reset]) || readShutDown {
                        do { return try end.peek(into: buffer) } catch { throw Self.socketError(error) }
                    }
                } else {
                    do { done += try end.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[done...])) } catch {
                        throw Self.socketError(error)
                    }
                    if done == buffer.count || !waitAll { return done }
                    continue
                }
            } else {
                // Nothing (more) readable: the stream ended, failed, or we wait.
                if phase == .failed || end.stackFlags.contains(.reset) {
                    if done + prior > 0 { return done }
                    if let e = takeError() { throw SocketError(errno: e) }
                    return 0
                }
                if end.stackFlags.contains(.peerFinished) || readShutDown { return done }
                if !mayBlock { if done > 0 { return done }; throw .again }
            }
            // Wait for one byte, or (waitAll) for the rest of the buffer, but never for more
            // than half the area: a stack cannot always fill the area to its last byte (whole
            // segments, silly-window avoidance), and what is read frees room for more.
            let missing = peek ? buffer.count : buffer.count - done
            let lowWater = waitAll ? max(1, min(missing, end.geometry.receiveSize / 2)) : 1
            if lowWater != 1 { end.setReceiveLowWater(lowWater) }
            end.beginWaiting(.readerWaits)
            let bell = end.bell
            bell.sleep(timeoutNanos: nil) {
                ((try? end.readable()) ?? lowWater) >= lowWater || !end.stackFlags.isDisjoint(with: [.peerFinished, .reset])
            }
            end.endWaiting(.readerWaits)
            if lowWater != 1 { end.setReceiveLowWater(1) }
        }
    }

    /// FIONREAD: bytes readable now (0 for a socket that is not connected).
    public var availableBytes: Int {
        guard !closed, phase == .connected || phase == .failed else { return 0 }
        return (try? end.readable()) ?? 0
    }

    // MARK: - Shutting down and closing

    /// `.write`: a FIN follows what was sent, and later sends fail with EPIPE. `.read`:
    /// receives return what is already there, then 0 (nothing is told to the stack: data that
    /// still arrives is kept, as Linux does). ENOTCONN on a socket that is not connected.
    public func shutdown(_ side: ShutdownSide) throws(SocketError) {
        try checkOpen()
        refreshPhase()
        switch phase {
        case .fresh, .failed: throw SocketError(errno: Errno.notConnected)
        case .listening:
            if side != .write { readShutDown = true }
            return
        case .connecting, .connected: break
        }
        if side != .read { end.shutdownWrite() }
        if side != .write { readShutDown = true }
    }

    /// Closes the socket: what was sent is still delivered (a FIN follows it) unless
    /// SO_LINGER 0 asked for an abort; with SO_LINGER n > 0 a blocking close first waits up to
    /// n seconds for the peer to acknowledge everything. Then newsd closes it, and tcpserver
    /// with it. Idempotent.
    public func close() {
        guard !closed else { return }
        refreshPhase()
        if phase == .connected || phase == .connecting, lingerSeconds != 0 {
            end.shutdownWrite()
            if let seconds = lingerSeconds, seconds > 0, !nonBlocking { waitAcknowledged(nanos: UInt64(seconds) * 1_000_000_000) }
        }
        closed = true
        announced.removeAll()
        if let pool = fromPool, pool.open {
            // Back to the listener's pool: a flag, no word to newsd. tcpserver finishes the
            // connection and lays the region out afresh for the next one; we hold the mapping.
            end.release()
            pool.regions[id]?.inUse = false
            return
        }
        _ = try? stack.request("close \(id)")
        region.unmap()
        FD.close(kick)
        if let pool = listenerPool {
            // newsd made the regions we hold sockets of ours when the listener closed: the
            // accepted ones go on (and are closed as any socket), the rest are closed now.
            pool.open = false
            for (spare, r) in pool.regions where !r.inUse {
                _ = try? stack.request("close \(spare)")
                r.region.unmap()
                FD.close(r.kick)
            }
            pool.regions = [:]
        }
    }

    private func waitAcknowledged(nanos: UInt64) {
        let deadline = Clock.nanos() + nanos
        while Clock.nanos() < deadline {
            guard let space = try? end.sendSpace(), space < end.geometry.sendSize,
                  end.stackFlags.isDisjoint(with: [.reset]) else { return }
            end.beginWaiting(.writerWaits)
            let bell = end.bell
            bell.sleep(timeoutNanos: deadline - min(deadline, Clock.nanos())) {
                ((try? end.sendSpace()) ?? end.geometry.sendSize) == end.geometry.sendSize || end.stackFlags.contains(.reset)
            }
            end.endWaiting(.writerWaits)
        }
    }

    // MARK: - State

    /// TCP_INFO (all zero once closed).
    public var info: Info {
        guard !closed else { return Info(state: 0, stack: StreamInfo(), unacknowledgedBytes: 0, unreadBytes: 0) }
        let unacknowledged = (try? end.sendSpace()).map { end.geometry.sendSize - $0 } ?? 0
        return Info(state: end.tcpState, stack: end.info, unacknowledgedBytes: unacknowledged,
                    unreadBytes: (try? end.readable()) ?? 0)
    }

    private func checkOpen() throws(SocketError) {
        if closed { throw SocketError(errno: Errno.badDescriptor) }
    }

    /// A connecting socket becomes connected or failed as the stack's flags say.
    private func refreshPhase() {
        guard !closed else { return }
        let f = end.stackFlags
        switch phase {
        case .connecting:
            if f.contains(.reset) { phase = .failed } else if f.contains(.established) { phase = .connected }
        case .connected:
            if f.contains(.reset) { phase = .failed }
        default: break
        }
    }

    /// The failure's errno, once: ECONNRESET unless the stack's error word says what else.
    private func takeError() -> Int32? {
        guard !errorReported, end.stackFlags.contains(.reset) else { return nil }
        errorReported = true
        let e = end.header.error
        return e < 0 && e > -4096 ? -e : ECONNRESET
    }

    private static func socketError(_ e: StreamAppError) -> SocketError {
        switch e {
        case .writeShutDown: SocketError(errno: EPIPE, "the write side is shut down")
        case .corrupt: SocketError(errno: EIO, "\(e)")
        }
    }

    // MARK: - Readiness (NewsPoll)

    /// Whether a receive (accept, for a listener) would complete now: data, end of stream, a
    /// failure, or a queued connection. No system call.
    public var readable: Bool {
        guard !closed else { return true }
        refreshPhase()
        switch phase {
        case .fresh: return false
        case .listening:
            // Garbage on the up ring is dropped here, so it cannot keep a poll awake.
            takeAnnouncements()
            return !announced.isEmpty || end.stackFlags.contains(.reset) || readShutDown
        case .connecting: return false
        case .connected, .failed:
            guard let n = try? end.readable() else { return true }  // the call reports the corruption
            return n > 0 || readShutDown || !end.stackFlags.isDisjoint(with: [.peerFinished, .reset])
        }
    }

    /// Whether a send would take bytes (or fail) now; for a connecting socket, whether the
    /// connect finished either way.
    public var writable: Bool {
        guard !closed else { return true }
        refreshPhase()
        switch phase {
        case .fresh, .listening, .connecting: return false
        case .failed: return true
        case .connected:
            if end.writeShutDown || !end.stackFlags.isDisjoint(with: [.reset, .sendClosed]) { return true }
            return ((try? end.sendSpace()) ?? 1) > 0
        }
    }

    var bell: Doorbell { end.bell }
    /// Closed: the region is unmapped, so nothing of it may be touched.
    var isClosed: Bool { closed }

    /// Before NewsPoll sleeps: the stack rings for data (readers), acknowledgements
    /// (writers); connection changes and announcements ring anyway.
    func beginPollWait(read: Bool, write: Bool) {
        guard !closed else { return }
        var what: StreamAppFlags = []
        if read { what.insert(.readerWaits) }
        if write { what.insert(.writerWaits) }
        if !what.isEmpty { end.beginWaiting(what) }
    }

    func endPollWait() {
        guard !closed else { return }
        end.endWaiting([.readerWaits, .writerWaits])
    }
}

/// A listener's pool (docs/TCP-SOCKETS.md): the regions newsd made for the listener's
/// connections and handed over in advance, mapped, each with its kick. A region is in use
/// while an accepted socket holds it; then it is released to tcpserver, which re-initializes
/// it and announces it again for a later connection of the same listener.
final class ListenerPool {
    struct Region {
        let region: SharedRegion
        let kick: Int32
        var inUse = false
    }

    var regions: [UInt32: Region] = [:]
    /// False once the listener closed: its sockets are then closed one by one through newsd.
    var open = true
    /// When newsd last refused a refill (limits): asked again only after `refillBackoff`.
    private var refusedAt: UInt64?
    static let refillBackoff: UInt64 = 1_000_000_000

    /// Regions tcpserver holds ready for the next connections: not ours, and laid out afresh
    /// (a released region shows its last connection's state until tcpserver has recycled
    /// it). A look at each header, no system call.
    var freeCount: Int {
        regions.values.reduce(0) { n, r in
            n + (!r.inUse && SocketHeader(r.region.base).state == .open ? 1 : 0)
        }
    }

    /// Whether to ask newsd for another batch: when fewer than a quarter of the pool (and
    /// fewer than 8) are free, so that a burst of new connections still finds regions while
    /// the batch is on its way.
    static func wantsRefill(free: Int, total: Int) -> Bool {
        free < min(8, max(1, total / 4))
    }

    func refused(at now: UInt64) { refusedAt = now }
    func refillRefused(now: UInt64) -> Bool {
        guard let t = refusedAt else { return false }
        if now &- t >= Self.refillBackoff { refusedAt = nil; return false }
        return true
    }
}
