import CNewsLinux

// An exposed stream socket buffer: the memory a TCP socket shares between its application
// (the upper end, `StreamAppEnd`) and tcpserver (the lower end, `StreamStackEnd`).
//
//   offset            size            what
//   0                 192             news_sock_header_t, magic NEWS_STREAM_MAGIC, version 1.
//                                     Line 1 (64) is the app's wake word, line 2 (128) the
//                                     stack's kick line, exactly as for a UDP socket.
//   256               256             news_stream_header_t:
//     256               64              area sizes, control geometry (newsd, at creation)
//     320               64              send_tail, recv_head, app_flags, recv_low_water (app)
//     384               64              send_acked, recv_tail, stack_flags, tcp_state,
//                                       stack_events (stack)
//     448               64              info: rtt, rto, windows, mss, retransmissions
//                                       (stack; TCP_INFO, for display only)
//   4096              10624           control channel (ChannelLayout, capacity 16, slot 256):
//                                     requests app → stack on the down ring; answers and
//                                     notifications (for a listener: new connections' socket
//                                     ids) on the up ring
//   16384             send size       the send area
//   16384 + send      receive size    the receive area
//
// Both areas are byte rings: stream offset x lives at area[x mod size]. Offsets are free-running
// totals of bytes since the connection began (64 bits never wrap: 400+ years at 10 Gbit/s),
// so sequence numbers map to offsets by one subtraction and nobody copies into a private queue.
//
//   send stream:    send_acked ≤ (stack's next to send) ≤ send_tail ≤ send_acked + send size
//                   [send_acked, send_tail) is unacknowledged data, read in place by the stack
//                   for first transmissions and retransmissions (the area is the retransmission
//                   queue); the app appends in [send_tail, send_acked + size).
//   receive stream: recv_head ≤ recv_tail ≤ recv_head + receive size
//                   [recv_head, recv_tail) is readable by the app in place; the stack places
//                   segments anywhere in [recv_tail, recv_head + size), out of order at their
//                   final position, and advances recv_tail over what is contiguous.
//
// Each index has one writer, which stores it with release; the other side loads it with
// acquire, once per check, and never trusts it: the stack validates every application word
// against its own copy of the truth (the app is untrusted), and the app refuses impossible
// stack words (a scribbled or buggy stack must not make it read out of bounds). Once attached,
// neither side reads its own words back from shared memory, and the area sizes are read
// once, at attach.

/// Geometry and creation of a stream socket region.
public enum StreamLayout {
    public static let headerSize = 4096
    /// Where news_stream_header_t starts in the header page (after news_sock_header_t).
    public static let streamHeaderOffset = 256
    /// Absolute offsets of the stream header's three lines.
    public static let constantsLineOffset = streamHeaderOffset
    public static let appLineOffset = streamHeaderOffset + 64
    public static let stackLineOffset = streamHeaderOffset + 128
    public static let infoLineOffset = streamHeaderOffset + 192
    public static let controlOffset = headerSize
    /// Control requests are few and small (connect, listen, options, close); a listener's
    /// new connections are one message each, and the app drains them as it accepts.
    public static let controlCapacity = 16
    public static let controlSlot = 256
    public static let controlSize = ChannelLayout.regionSize(capacity: controlCapacity, slot: controlSlot)
    /// The areas start page-aligned, so a page of either is never shared with anything else.
    public static let sendAreaOffset = (controlOffset + controlSize + 4095) & ~4095
    public static let minAreaSize = 4096
    public static let maxAreaSize = 16 << 20
    public static let defaultSendSize = 1 << 20
    public static let defaultReceiveSize = 1 << 20

    /// A power of two (so offsets map with a mask) within the limits.
    public static func isValidAreaSize(_ bytes: Int) -> Bool {
        bytes >= minAreaSize && bytes <= maxAreaSize && bytes & (bytes - 1) == 0
    }

    public static func receiveAreaOffset(send: Int) -> Int { sendAreaOffset + send }

    public static func regionSize(send: Int = defaultSendSize, receive: Int = defaultReceiveSize) -> Int {
        sendAreaOffset + send + receive
    }

    /// newsd, when it creates a TCP socket's region (`regionSize(send:receive:)` bytes, fresh
    /// and zero-filled: the areas are not cleared here, since nothing reads an area byte
    /// before an index says it was written).
    public static func initialize(_ base: UnsafeMutableRawPointer, id: UInt32,
                                  send: Int = defaultSendSize, receive: Int = defaultReceiveSize) {
        precondition(isValidAreaSize(send) && isValidAreaSize(receive), "stream area sizes \(send), \(receive)")
        base.initializeMemory(as: UInt8.self, repeating: 0, count: headerSize)
        let h = base.assumingMemoryBound(to: news_sock_header_t.self)
        h.pointee.magic = NEWS_STREAM_MAGIC
        h.pointee.version = NEWS_STREAM_VERSION
        h.pointee.id = id
        let s = (base + streamHeaderOffset).assumingMemoryBound(to: news_stream_header_t.self)
        s.pointee.send_size = UInt32(send)
        s.pointee.recv_size = UInt32(receive)
        s.pointee.ctl_capacity = UInt32(controlCapacity)
        s.pointee.ctl_slot = UInt32(controlSlot)
        s.pointee.recv_low_water = 1
        ChannelLayout.initialize(base + controlOffset, capacity: controlCapacity)
        news_store_release_u32(&h.pointee.state, SocketLayout.State.open.rawValue)
    }

    public static func controlChannel(_ base: UnsafeMutableRawPointer) -> UnsafeMutableRawPointer { base + controlOffset }
}

/// Why a region was refused when it was attached.
public enum StreamLayoutError: Error, Equatable, CustomStringConvertible, Sendable {
    case regionTooSmall(mapped: Int, needed: Int)
    case badHeader(magic: UInt32, version: UInt32, id: UInt32)
    case badGeometry(send: UInt32, receive: UInt32, controlCapacity: UInt32, controlSlot: UInt32)
    case impossibleIndices(String)

    public var description: String {
        switch self {
        case let .regionTooSmall(m, n): "stream region: \(m) bytes mapped, \(n) needed"
        case let .badHeader(m, v, i): "stream region header invalid (magic \(m), version \(v), id \(i))"
        case let .badGeometry(s, r, c, sl): "stream region geometry invalid (send \(s), receive \(r), control \(c)×\(sl))"
        case let .impossibleIndices(why): "stream region indices impossible: \(why)"
        }
    }
}

/// The area sizes of one region, checked once when a side attaches and kept in that side's
/// own memory from then on.
public struct StreamGeometry: Equatable, Sendable {
    public let sendSize: Int
    public let receiveSize: Int
    public var regionSize: Int { StreamLayout.regionSize(send: sendSize, receive: receiveSize) }

    /// Reads newsd's constants. `mappedSize` is how much the caller mapped (its own
    /// knowledge); `id` the socket number newsd named. A UDP region, another socket's region,
    /// impossible sizes or areas that would run past the mapping are refused.
    public static func read(_ base: UnsafeMutableRawPointer, mappedSize: Int, id: UInt32) throws(StreamLayoutError) -> StreamGeometry {
        guard mappedSize >= StreamLayout.headerSize else {
            throw .regionTooSmall(mapped: mappedSize, needed: StreamLayout.headerSize)
        }
        let h = base.assumingMemoryBound(to: news_sock_header_t.self).pointee
        guard h.magic == NEWS_STREAM_MAGIC, h.version == NEWS_STREAM_VERSION, h.id == id else {
            throw .badHeader(magic: h.magic, version: h.version, id: h.id)
        }
        let s = (base + StreamLayout.streamHeaderOffset).assumingMemoryBound(to: news_stream_header_t.self).pointee
        let send = Int(s.send_size), receive = Int(s.recv_size)
        guard StreamLayout.isValidAreaSize(send), StreamLayout.isValidAreaSize(receive),
              s.ctl_capacity == UInt32(StreamLayout.controlCapacity), s.ctl_slot == UInt32(StreamLayout.controlSlot)
        else { throw .badGeometry(send: s.send_size, receive: s.recv_size, controlCapacity: s.ctl_capacity, controlSlot: s.ctl_slot) }
        let g = StreamGeometry(sendSize: send, receiveSize: receive)
        guard g.regionSize <= mappedSize else { throw .regionTooSmall(mapped: mappedSize, needed: g.regionSize) }
        return g
    }
}

/// app_flags: written by the application only.
public struct StreamAppFlags: OptionSet, Equatable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// The application shut its write side: a FIN follows send_tail, which never moves again.
    public static let writeShutdown = StreamAppFlags(rawValue: NEWS_STREAM_APP_SHUT_WR)
    /// A writer sleeps until send_acked moves.
    public static let writerWaits = StreamAppFlags(rawValue: NEWS_STREAM_APP_WRITER_WAITS)
    /// A reader sleeps until recv_low_water bytes are readable (or the stream ends or fails).
    public static let readerWaits = StreamAppFlags(rawValue: NEWS_STREAM_APP_READER_WAITS)
    /// A socket from its listener's pool that the application closed (docs/TCP-SOCKETS.md):
    /// it does not touch the region again until the stack announces it for a new connection.
    public static let released = StreamAppFlags(rawValue: NEWS_STREAM_APP_RELEASED)
    public static let known: StreamAppFlags = [.writeShutdown, .writerWaits, .readerWaits, .released]
}

/// stack_flags: written by the stack only.
public struct StreamStackFlags: OptionSet, Equatable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// The peer sent FIN: the stream ends at recv_tail.
    public static let peerFinished = StreamStackFlags(rawValue: NEWS_STREAM_PEER_FIN)
    /// The connection was reset or failed; the socket header's error word holds -errno.
    public static let reset = StreamStackFlags(rawValue: NEWS_STREAM_RESET)
    /// The handshake completed: a connect is done and the socket is writable.
    public static let established = StreamStackFlags(rawValue: NEWS_STREAM_ESTABLISHED)
    /// The stack sends nothing more (its FIN went out, or the connection failed).
    public static let sendClosed = StreamStackFlags(rawValue: NEWS_STREAM_SEND_CLOSED)
    public static let known: StreamStackFlags = [.peerFinished, .reset, .established, .sendClosed]
}

/// Copies into and out of an area with wrap. `count` never exceeds the area size (callers
/// check), so at most two pieces.
enum ByteRing {
    @inline(__always)
    static func write(_ area: UnsafeMutableRawPointer, mask: UInt64, at offset: UInt64, from source: UnsafeRawPointer, count: Int) {
        let start = Int(offset & mask)
        let first = min(count, Int(mask) + 1 - start)
        (area + start).copyMemory(from: source, byteCount: first)
        if first < count { area.copyMemory(from: source + first, byteCount: count - first) }
    }

    @inline(__always)
    static func read(_ area: UnsafeMutableRawPointer, mask: UInt64, at offset: UInt64, into target: UnsafeMutableRawPointer, count: Int) {
        let start = Int(offset & mask)
        let first = min(count, Int(mask) + 1 - start)
        target.copyMemory(from: area + start, byteCount: first)
        if first < count { (target + first).copyMemory(from: area, byteCount: count - first) }
    }
}

// MARK: - The application's end

/// Stack words the application refused: the stack (or something scribbling as it) wrote an
/// index that cannot be, so the app stops using the region rather than read past its data.
public enum StreamCorruption: Equatable, Sendable, CustomStringConvertible {
    case acknowledgedBackwards(seen: UInt64, now: UInt64)
    case acknowledgedBeyondTail(acknowledged: UInt64, tail: UInt64)
    case receiveTailBackwards(seen: UInt64, now: UInt64)
    case receiveTailBeyondArea(tail: UInt64, head: UInt64, size: Int)

    public var description: String {
        switch self {
        case let .acknowledgedBackwards(s, n): "send_acked went back from \(s) to \(n)"
        case let .acknowledgedBeyondTail(a, t): "send_acked \(a) is beyond send_tail \(t)"
        case let .receiveTailBackwards(s, n): "recv_tail went back from \(s) to \(n)"
        case let .receiveTailBeyondArea(t, h, size): "recv_tail \(t) is more than \(size) bytes beyond recv_head \(h)"
        }
    }
}

public enum StreamAppError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The stack's words are impossible (latched: every later call says the same).
    case corrupt(StreamCorruption)
    /// `append` after `shutdownWrite` (EPIPE to the caller).
    case writeShutDown

    public var description: String {
        switch self {
        case .corrupt(let c): "stream region corrupt: \(c)"
        case .writeShutDown: "the write side is shut down"
        }
    }
}

/// The application's end of a stream region. It owns send_tail, recv_head, app_flags and
/// recv_low_water and keeps the truth of them in its own memory; it reads the stack's
/// indices once per call and refuses impossible ones. Not thread-safe: one per socket user.
public struct StreamAppEnd {
    public let geometry: StreamGeometry
    public let header: SocketHeader
    let base: UnsafeMutableRawPointer
    let stream: UnsafeMutablePointer<news_stream_header_t>
    let sendArea: UnsafeMutableRawPointer
    let receiveArea: UnsafeMutableRawPointer
    let sendMask: UInt64
    let receiveMask: UInt64
    /// How the app wakes the stack: the socket's kick.
    let stackBell: Doorbell

    /// Bytes this app has appended to the send stream.
    public private(set) var sendTail: UInt64
    /// Bytes this app has consumed from the receive stream.
    public private(set) var receiveHead: UInt64
    private var flags: StreamAppFlags
    /// The stack's send_acked as last validated.
    public private(set) var sendAcked: UInt64
    /// The stack's recv_tail as last validated.
    public private(set) var receiveTail: UInt64
    /// Set once the stack's words were found impossible; then every data call throws it.
    public private(set) var corruption: StreamCorruption?
    /// Shared by the application's sockets on one stack: see `ringStack`.
    public var kickLedger: KickLedger?

    /// Attaches to a region newsd handed over, `mappedSize` bytes mapped at `base`. `kick` is
    /// the socket's eventfd for waking a stack that sleeps in poll(2) (-1: none). The
    /// indices are taken over from the region (an accepted connection may already hold data)
    /// and must be consistent.
    public init(base: UnsafeMutableRawPointer, mappedSize: Int, id: UInt32, kick: Int32 = -1) throws(StreamLayoutError) {
        geometry = try StreamGeometry.read(base, mappedSize: mappedSize, id: id)
        header = SocketHeader(base)
        self.base = base
        stream = (base + StreamLayout.streamHeaderOffset).assumingMemoryBound(to: news_stream_header_t.self)
        sendArea = base + StreamLayout.sendAreaOffset
        receiveArea = base + StreamLayout.receiveAreaOffset(send: geometry.sendSize)
        sendMask = UInt64(geometry.sendSize - 1)
        receiveMask = UInt64(geometry.receiveSize - 1)
        stackBell = header.stackBell(kick: kick)
        sendTail = news_load_acquire_u64(&stream.pointee.send_tail)
        receiveHead = news_load_acquire_u64(&stream.pointee.recv_head)
        flags = StreamAppFlags(rawValue: news_load_acquire_u32(&stream.pointee.app_flags)).intersection(.writeShutdown)
        sendAcked = news_load_acquire_u64(&stream.pointee.send_acked)
        receiveTail = news_load_acquire_u64(&stream.pointee.recv_tail)
        guard sendAcked <= sendTail, sendTail - sendAcked <= UInt64(geometry.sendSize) else {
            throw .impossibleIndices("send_acked \(sendAcked), send_tail \(sendTail), size \(geometry.sendSize)")
        }
        guard receiveHead <= receiveTail, receiveTail - receiveHead <= UInt64(geometry.receiveSize) else {
            throw .impossibleIndices("recv_head \(receiveHead), recv_tail \(receiveTail), size \(geometry.receiveSize)")
        }
        // Waiting bits of a previous user of the socket are not ours.
        news_store_release_u32(&stream.pointee.app_flags, flags.rawValue)
    }

    private mutating func fail(_ c: StreamCorruption) -> StreamAppError {
        if corruption == nil { corruption = c }
        return .corrupt(corruption!)
    }

    /// Loads send_acked once: it may only move forward, and never past what we appended.
    private mutating func refreshAcked() throws(StreamAppError) {
        if let c = corruption { throw .corrupt(c) }
        let a = news_load_acquire_u64(&stream.pointee.send_acked)
        guard a >= sendAcked else { throw fail(.acknowledgedBackwards(seen: sendAcked, now: a)) }
        guard a <= sendTail else { throw fail(.acknowledgedBeyondTail(acknowledged: a, tail: sendTail)) }
        sendAcked = a
    }

    /// Loads recv_tail once: it may only move forward, and never more than an area past
    /// what we consumed (beyond that the bytes would be overwritten ones).
    private mutating func refreshReceiveTail() throws(StreamAppError) {
        if let c = corruption { throw .corrupt(c) }
        let t = news_load_acquire_u64(&stream.pointee.recv_tail)
        guard t >= receiveTail else { throw fail(.receiveTailBackwards(seen: receiveTail, now: t)) }
        guard t - receiveHead <= UInt64(geometry.receiveSize) else {
            throw fail(.receiveTailBeyondArea(tail: t, head: receiveHead, size: geometry.receiveSize))
        }
        receiveTail = t
    }

    // ---- sending -------------------------------------------------------------------------

    /// Bytes `append` could take now.
    public mutating func sendSpace() throws(StreamAppError) -> Int {
        try refreshAcked()
        return geometry.sendSize - Int(sendTail - sendAcked)
    }

    /// Copies as much of `bytes` as fits into the send area, publishes the new send_tail and
    /// kicks the stack. Returns how many bytes were taken (0 when the area is full).
    public mutating func append(_ bytes: UnsafeRawBufferPointer) throws(StreamAppError) -> Int {
        guard !flags.contains(.writeShutdown) else { throw .writeShutDown }
        let space = try sendSpace()
        let n = min(space, bytes.count)
        guard n > 0, let source = bytes.baseAddress else { return 0 }
        ByteRing.write(sendArea, mask: sendMask, at: sendTail, from: source, count: n)
        sendTail += UInt64(n)
        news_store_release_u64(&stream.pointee.send_tail, sendTail)
        ringStack()
        return n
    }

    /// Shuts the write side: the stack sends FIN after the last appended byte. Idempotent.
    public mutating func shutdownWrite() {
        guard !flags.contains(.writeShutdown) else { return }
        flags.insert(.writeShutdown)
        // After send_tail's store (in append), so the stack that sees the bit sees the tail.
        news_store_release_u32(&stream.pointee.app_flags, flags.rawValue)
        ringStack()
    }

    public var writeShutDown: Bool { flags.contains(.writeShutdown) }

    /// Wakes the stack if it sleeps, unless this application kicked it for the same sleep
    /// already (`kickLedger`, shared by the application's sockets).
    private func ringStack() {
        guard let ledger = kickLedger else { stackBell.ring(); return }
        news_fence_seq_cst()  // pairs with the stack's between arming and its last look
        guard header.stackSleepsInPoll else { stackBell.ring(); return }
        let generation = header.kickGeneration
        if ledger.kicked(generation) { return }
        stackBell.ring()
        ledger.record(generation)
    }

    /// Closes a pooled socket without a word to newsd: the stack sees the bit, finishes the
    /// connection as for a close (what was appended is still sent, unless it aborts), then
    /// re-initializes the region and takes it back into the listener's pool. After this the
    /// application touches the region no more until it is announced again.
    public mutating func release() {
        flags.subtract([.writerWaits, .readerWaits])
        flags.insert(.released)
        // After every index store, so the stack that sees the bit sees the final indices.
        news_store_release_u32(&stream.pointee.app_flags, flags.rawValue)
        ringStack()
    }

    // ---- receiving -----------------------------------------------------------------------

    /// Bytes readable now.
    public mutating func readable() throws(StreamAppError) -> Int {
        try refreshReceiveTail()
        return Int(receiveTail - receiveHead)
    }

    /// Copies up to `buffer.count` readable bytes without consuming them.
    public mutating func peek(into buffer: UnsafeMutableRawBufferPointer) throws(StreamAppError) -> Int {
        let n = min(try readable(), buffer.count)
        guard n > 0, let target = buffer.baseAddress else { return 0 }
        ByteRing.read(receiveArea, mask: receiveMask, at: receiveHead, into: target, count: n)
        return n
    }

    /// Copies up to `buffer.count` readable bytes out and consumes them.
    public mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws(StreamAppError) -> Int {
        let n = try peek(into: buffer)
        consume(n)
        return n
    }

    /// The readable bytes that sit contiguously in the area (up to its end), to read in
    /// place; `consume` them when done. Empty when nothing is readable.
    public mutating func contiguousReadable() throws(StreamAppError) -> UnsafeRawBufferPointer {
        let n = try readable()
        let start = Int(receiveHead & receiveMask)
        return UnsafeRawBufferPointer(start: receiveArea + start, count: min(n, geometry.receiveSize - start))
    }

    /// Hands `count` bytes (at most what the last look found readable) back to the stack.
    /// Kicks the stack when this frees the second half of the area: a stack that advertised
    /// a small window learns that it may open it, and small reads do not kick it each time
    /// (receiver-side silly window avoidance, RFC 1122 4.2.3.3).
    public mutating func consume(_ count: Int) {
        precondition(count >= 0 && UInt64(count) <= receiveTail - receiveHead, "consume \(count) of \(receiveTail - receiveHead) readable")
        guard count > 0 else { return }
        let half = UInt64(geometry.receiveSize / 2)
        let heldBefore = receiveTail - receiveHead
        receiveHead += UInt64(count)
        news_store_release_u64(&stream.pointee.recv_head, receiveHead)
        if heldBefore > half && receiveTail - receiveHead <= half { ringStack() }
    }

    /// True when the stream ended: the peer's FIN arrived and everything before it was read.
    public mutating func atEndOfStream() throws(StreamAppError) -> Bool {
        // Flags first: recv_tail was stored before the FIN bit, so this tail is the last.
        guard stackFlags.contains(.peerFinished) else { return false }
        return try readable() == 0
    }

    // ---- waiting -------------------------------------------------------------------------

    /// Before sleeping on `bell` for space or data: tells the stack to ring for it. The
    /// sleep's own fence orders this store before the re-check of the condition, and the
    /// stack fences between publishing an index and reading these bits, so no wake is lost.
    public mutating func beginWaiting(_ what: StreamAppFlags) {
        flags.formUnion(what.intersection([.writerWaits, .readerWaits]))
        news_store_release_u32(&stream.pointee.app_flags, flags.rawValue)
    }

    public mutating func endWaiting(_ what: StreamAppFlags) {
        flags.subtract(what.intersection([.writerWaits, .readerWaits]))
        news_store_release_u32(&stream.pointee.app_flags, flags.rawValue)
    }

    /// How many readable bytes wake a waiting reader (SO_RCVLOWAT), 1 ... receive size.
    public func setReceiveLowWater(_ bytes: Int) {
        let n = max(1, min(bytes, geometry.receiveSize))
        news_store_release_u32(&stream.pointee.recv_low_water, UInt32(n))
    }

    /// The word the application sleeps on.
    public var bell: Doorbell { header.appBell }

    // ---- the stack's reports -------------------------------------------------------------

    public var stackFlags: StreamStackFlags {
        StreamStackFlags(rawValue: news_load_acquire_u32(&stream.pointee.stack_flags)).intersection(.known)
    }
    public var tcpState: UInt32 { news_load_acquire_u32(&stream.pointee.tcp_state) }
    /// Changes whenever the stack published something the application may wait for.
    public var stackEvents: UInt32 { news_load_acquire_u32(&stream.pointee.stack_events) }

    /// The control channel's upper end (requests down, answers and new connections up).
    public func controlChannel(name: String) throws(RingError) -> ShmChannel {
        try ShmChannel(name: name, base: StreamLayout.controlChannel(base),
                       capacity: StreamLayout.controlCapacity, side: .upper, peerBell: stackBell, slot: StreamLayout.controlSlot)
    }
}

// MARK: - The stack's end

/// An application word the stack refused. The stack's state is left as it was; what to do
/// (reset the connection) is the caller's decision.
public enum StreamViolation: Equatable, Sendable, CustomStringConvertible {
    /// send_tail below one already seen: those bytes may be on the wire.
    case sendTailBackwards(seen: UInt64, now: UInt64)
    /// send_tail more than an area past send_acked: it claims bytes the area cannot hold.
    case sendTailBeyondArea(tail: UInt64, acknowledged: UInt64, size: Int)
    /// send_tail moved after the application shut its write side at `final`.
    case sendAfterShutdown(final: UInt64, now: UInt64)
    case receiveHeadBackwards(seen: UInt64, now: UInt64)
    /// recv_head beyond recv_tail: it claims to have read bytes never delivered.
    case receiveHeadBeyondTail(head: UInt64, tail: UInt64)

    public var description: String {
        switch self {
        case let .sendTailBackwards(s, n): "send_tail went back from \(s) to \(n)"
        case let .sendTailBeyondArea(t, a, size): "send_tail \(t) is more than \(size) bytes beyond send_acked \(a)"
        case let .sendAfterShutdown(f, n): "send_tail moved from \(f) to \(n) after the write side was shut"
        case let .receiveHeadBackwards(s, n): "recv_head went back from \(s) to \(n)"
        case let .receiveHeadBeyondTail(h, t): "recv_head \(h) is beyond recv_tail \(t)"
        }
    }
}

/// One application index, read once and checked.
public enum AppIndex: Equatable, Sendable {
    case ok(UInt64)
    case violation(StreamViolation)
}

/// The stack's truth about one stream region: its own indices and the application's as last
/// validated. It lives in the stack's memory (and its state region, for a restart), never
/// in the shared region, which only gets a report of it.
public struct StreamStackState: Equatable, Sendable {
    public var sendAcked: UInt64
    /// The application's send_tail as last validated.
    public var sendTail: UInt64
    /// Where the send stream ends (FIN follows), once the application shut its write side.
    public var finalSendTail: UInt64?
    /// The application's recv_head as last validated.
    public var receiveHead: UInt64
    public var receiveTail: UInt64
    public var flags: StreamStackFlags
    public var tcpState: UInt32
    public var events: UInt32

    public init(sendAcked: UInt64 = 0, sendTail: UInt64 = 0, finalSendTail: UInt64? = nil, receiveHead: UInt64 = 0,
                receiveTail: UInt64 = 0, flags: StreamStackFlags = [], tcpState: UInt32 = 0, events: UInt32 = 0) {
        self.sendAcked = sendAcked
        self.sendTail = sendTail
        self.finalSendTail = finalSendTail
        self.receiveHead = receiveHead
        self.receiveTail = receiveTail
        self.flags = flags
        self.tcpState = tcpState
        self.events = events
    }

    /// The invariants every method keeps.
    public func isConsistent(with g: StreamGeometry) -> Bool {
        sendAcked <= sendTail && sendTail - sendAcked <= UInt64(g.sendSize)
            && (finalSendTail == nil || finalSendTail == sendTail)
            && receiveHead <= receiveTail && receiveTail - receiveHead <= UInt64(g.receiveSize)
            && flags.isSubset(of: .known)
    }
}

/// tcpserver's end of a stream region. Every application word is loaded with acquire once
/// per call and validated against `state`; the stack's own words are stored with release
/// and never read back. No method can be made to touch memory outside the areas: every
/// offset and count is checked against the validated indices first.
public struct StreamStackEnd {
    public let geometry: StreamGeometry
    public let header: SocketHeader
    let base: UnsafeMutableRawPointer
    let stream: UnsafeMutablePointer<news_stream_header_t>
    let sendArea: UnsafeMutableRawPointer
    let receiveArea: UnsafeMutableRawPointer
    let sendMask: UInt64
    let receiveMask: UInt64
    public private(set) var state: StreamStackState

    /// Attaches to a region `mappedSize` bytes long at `base`. A restarted stack passes the
    /// state it kept; it is checked against the geometry, then published over whatever the
    /// region's stack words say now.
    public init(base: UnsafeMutableRawPointer, mappedSize: Int, id: UInt32,
                adopting state: StreamStackState = StreamStackState()) throws(StreamLayoutError) {
        geometry = try StreamGeometry.read(base, mappedSize: mappedSize, id: id)
        guard state.isConsistent(with: geometry) else { throw .impossibleIndices("adopted state \(state)") }
        header = SocketHeader(base)
        self.base = base
        stream = (base + StreamLayout.streamHeaderOffset).assumingMemoryBound(to: news_stream_header_t.self)
        sendArea = base + StreamLayout.sendAreaOffset
        receiveArea = base + StreamLayout.receiveAreaOffset(send: geometry.sendSize)
        sendMask = UInt64(geometry.sendSize - 1)
        receiveMask = UInt64(geometry.receiveSize - 1)
        self.state = state
        news_store_release_u64(&stream.pointee.send_acked, state.sendAcked)
        news_store_release_u64(&stream.pointee.recv_tail, state.receiveTail)
        news_store_release_u32(&stream.pointee.stack_flags, state.flags.rawValue)
        news_store_release_u32(&stream.pointee.tcp_state, state.tcpState)
        news_store_release_u32(&stream.pointee.stack_events, state.events)
    }

    /// The state a restarted stack takes over for a region its previous incarnation served,
    /// which it did not keep exactly: the stack's words as that incarnation last published
    /// them, with the application's words as they are now. The application has seen no more
    /// than those stack words, so publishing them again moves none of its indices back (the
    /// all-zero default would: recv_tail "backwards" is corruption to the application).
    /// Where the words do not fit together (the application wrote over the stack's), the
    /// application's own words win: nothing readable, nothing unacknowledged.
    public static func recoveredState(base: UnsafeMutableRawPointer, mappedSize: Int, id: UInt32) throws(StreamLayoutError) -> StreamStackState {
        let g = try StreamGeometry.read(base, mappedSize: mappedSize, id: id)
        let s = (base + StreamLayout.streamHeaderOffset).assumingMemoryBound(to: news_stream_header_t.self)
        let sendTail = news_load_acquire_u64(&s.pointee.send_tail)
        let receiveHead = news_load_acquire_u64(&s.pointee.recv_head)
        var acked = news_load_acquire_u64(&s.pointee.send_acked)
        var receiveTail = news_load_acquire_u64(&s.pointee.recv_tail)
        if !(acked <= sendTail && sendTail - acked <= UInt64(g.sendSize)) { acked = sendTail }
        if !(receiveHead <= receiveTail && receiveTail - receiveHead <= UInt64(g.receiveSize)) { receiveTail = receiveHead }
        let flags = StreamStackFlags(rawValue: news_load_acquire_u32(&s.pointee.stack_flags)).intersection(.known)
        return StreamStackState(sendAcked: acked, sendTail: sendTail, receiveHead: receiveHead, receiveTail: receiveTail, flags: flags,
                                tcpState: news_load_acquire_u32(&s.pointee.tcp_state), events: news_load_acquire_u32(&s.pointee.stack_events))
    }

    // ---- the application's words ---------------------------------------------------------

    /// Reads app_flags and send_tail once each. The tail may never go back (the stack may
    /// have sent those bytes), nor claim more than the area past send_acked, nor move after
    /// the write side was shut. The first time the shutdown bit is seen, the tail read with
    /// it becomes the stream's end (`state.finalSendTail`); later clearing the bit changes
    /// nothing.
    public mutating func takeSendTail() -> AppIndex {
        // Flags before the tail: the app stores the tail before the bit, so a tail loaded
        // after seeing the bit is the final one.
        let shut = StreamAppFlags(rawValue: news_load_acquire_u32(&stream.pointee.app_flags)).contains(.writeShutdown)
        let tail = news_load_acquire_u64(&stream.pointee.send_tail)
        if let final = state.finalSendTail {
            return tail == final ? .ok(tail) : .violation(.sendAfterShutdown(final: final, now: tail))
        }
        guard tail >= state.sendTail else { return .violation(.sendTailBackwards(seen: state.sendTail, now: tail)) }
        guard tail - state.sendAcked <= UInt64(geometry.sendSize) else {
            return .violation(.sendTailBeyondArea(tail: tail, acknowledged: state.sendAcked, size: geometry.sendSize))
        }
        state.sendTail = tail
        if shut { state.finalSendTail = tail }
        return .ok(tail)
    }

    /// Reads recv_head once: forward only, and never beyond what the stack made readable.
    public mutating func takeReceiveHead() -> AppIndex {
        let head = news_load_acquire_u64(&stream.pointee.recv_head)
        guard head >= state.receiveHead else { return .violation(.receiveHeadBackwards(seen: state.receiveHead, now: head)) }
        guard head <= state.receiveTail else { return .violation(.receiveHeadBeyondTail(head: head, tail: state.receiveTail)) }
        state.receiveHead = head
        return .ok(head)
    }

    /// The application's flags, unknown bits dropped. Only for waking: the shutdown bit
    /// counts when `takeSendTail` sees it with the tail.
    public func takeAppFlags() -> StreamAppFlags {
        StreamAppFlags(rawValue: news_load_acquire_u32(&stream.pointee.app_flags)).intersection(.known)
    }

    /// SO_RCVLOWAT as the application set it, clamped to 1 ... receive size.
    public func takeReceiveLowWater() -> Int {
        let w = Int(news_load_acquire_u32(&stream.pointee.recv_low_water))
        return max(1, min(w, geometry.receiveSize))
    }

    // ---- the send stream -----------------------------------------------------------------

    /// Unacknowledged bytes: [send_acked, validated send_tail).
    public var unacknowledged: Int { Int(state.sendTail - state.sendAcked) }

    /// Copies `count` send-stream bytes starting at `streamOffset` into `buffer`, for a
    /// first transmission or a retransmission. False, touching nothing, unless the range
    /// lies within [send_acked, validated send_tail) and fits `buffer`. The application can
    /// still rewrite these bytes while they are copied (only its own data suffers), so
    /// checksum the copy, never the area.
    public func copyOut(streamOffset: UInt64, count: Int, into buffer: UnsafeMutableRawBufferPointer) -> Bool {
        guard count >= 0, count <= buffer.count, streamOffset >= state.sendAcked, streamOffset <= state.sendTail,
              UInt64(count) <= state.sendTail - streamOffset else { return false }
        guard count > 0, let target = buffer.baseAddress else { return true }
        ByteRing.read(sendArea, mask: sendMask, at: streamOffset, into: target, count: count)
        return true
    }

    /// The peer acknowledged the send stream up to `offset`: those bytes become the
    /// application's to overwrite. Only forward, only up to the validated tail (false
    /// otherwise, nothing changed). Wakes a waiting writer.
    @discardableResult
    public mutating func release(sendUpTo offset: UInt64) -> Bool {
        guard offset >= state.sendAcked, offset <= state.sendTail else { return false }
        guard offset > state.sendAcked else { return true }
        state.sendAcked = offset
        news_store_release_u64(&stream.pointee.send_acked, offset)
        bumpEvents()
        wakeApp(ifWaiting: .writerWaits)
        return true
    }

    // ---- the receive stream --------------------------------------------------------------

    /// Bytes the stack may still place beyond recv_tail: [recv_tail, validated head + size).
    /// Call `takeReceiveHead` first for a fresh value; a stale head only makes this smaller.
    public var receiveSpace: Int { geometry.receiveSize - Int(state.receiveTail - state.receiveHead) }

    /// Writes `bytes` at their final position in the receive area, in order or not, so no
    /// reassembly copy is needed. False, touching nothing, unless they fall entirely within
    /// [recv_tail, validated head + size): the application's unread bytes are never touched.
    public func place(_ bytes: UnsafeRawBufferPointer, atStreamOffset offset: UInt64) -> Bool {
        guard offset >= state.receiveTail else { return false }
        let space = UInt64(receiveSpace)
        let gap = offset - state.receiveTail
        guard gap <= space, UInt64(bytes.count) <= space - gap else { return false }
        guard bytes.count > 0, let source = bytes.baseAddress else { return true }
        ByteRing.write(receiveArea, mask: receiveMask, at: offset, from: source, count: bytes.count)
        return true
    }

    /// Makes the receive stream readable up to `offset`: the caller has placed every byte
    /// before it. Only forward, only within validated head + size (false otherwise, nothing
    /// changed). Wakes a reader waiting for at least its low-water mark.
    @discardableResult
    public mutating func advanceReceiveTail(to offset: UInt64) -> Bool {
        guard offset >= state.receiveTail, offset - state.receiveTail <= UInt64(receiveSpace) else { return false }
        guard offset > state.receiveTail else { return true }
        state.receiveTail = offset
        news_store_release_u64(&stream.pointee.recv_tail, offset)
        bumpEvents()
        news_fence_seq_cst()
        let waits = takeAppFlags().contains(.readerWaits)
        // With a stale head this overstates what is readable: an early wake, never a lost one.
        if waits && Int(state.receiveTail - state.receiveHead) >= takeReceiveLowWater() { header.appBell.ring() }
        return true
    }

    // ---- the connection's state ----------------------------------------------------------

    /// The handshake completed. Wakes the application (a connect waits for this).
    public mutating func setEstablished() { publish(.established) }
    /// The peer's FIN arrived; call after advancing recv_tail over all data before it.
    public mutating func setPeerFinished() { publish(.peerFinished) }
    /// The stack will send nothing more.
    public mutating func setSendClosed() { publish(.sendClosed) }
    /// The connection was reset or failed with `errno` (positive, e.g. ECONNRESET); the
    /// socket header's error word says which, before the flag tells that it is there.
    public mutating func setReset(errno: Int32) {
        header.set(error: -errno)
        publish([.reset, .sendClosed])
    }

    /// The TCP state as a number for the application to show; nobody waits on it.
    public mutating func set(tcpState: UInt32) {
        state.tcpState = tcpState
        news_store_release_u32(&stream.pointee.tcp_state, tcpState)
    }

    /// The control channel's lower end; it wakes the application through its wake word.
    public func controlChannel(name: String) throws(RingError) -> ShmChannel {
        try ShmChannel(name: name, base: StreamLayout.controlChannel(base),
                       capacity: StreamLayout.controlCapacity, side: .lower, peerBell: header.appBell, slot: StreamLayout.controlSlot)
    }

    private mutating func publish(_ added: StreamStackFlags) {
        guard !state.flags.isSuperset(of: added) else { return }
        state.flags.formUnion(added)
        news_store_release_u32(&stream.pointee.stack_flags, state.flags.rawValue)
        bumpEvents()
        // Any waiter cares: the stream ended, failed or opened.
        header.appBell.ring()
    }

    private mutating func bumpEvents() {
        state.events &+= 1
        news_store_release_u32(&stream.pointee.stack_events, state.events)
    }

    /// Rings the application's bell if it said it waits for `what`. The fence pairs with the
    /// one in the application's sleep: either it sees the index just stored, or we see its bit.
    private func wakeApp(ifWaiting what: StreamAppFlags) {
        news_fence_seq_cst()
        if !takeAppFlags().isDisjoint(with: what) { header.appBell.ring() }
    }
}

// MARK: - The info line (TCP_INFO)

/// The connection's numbers as the stack last published them (the stream header's info
/// line): what TCP_INFO reports. Display only: the stack stores each word on its own, so a
/// reader may see parts of two updates, and nothing the application does depends on them
/// (any value is a possible one, so there is nothing to validate).
public struct StreamInfo: Equatable, Sendable {
    public var rttMicros: UInt32 = 0
    public var rttVarianceMicros: UInt32 = 0
    public var rtoMicros: UInt32 = 0
    /// Congestion window and slow-start threshold, in bytes.
    public var sendCongestionWindow: UInt32 = 0
    public var sendSlowStartThreshold: UInt32 = 0
    public var sendMSS: UInt32 = 0
    public var receiveMSS: UInt32 = 0
    public var totalRetransmissions: UInt32 = 0
    /// Segments sent and not yet acknowledged.
    public var unacknowledged: UInt32 = 0
    /// The peer's advertised window and ours, in bytes.
    public var sendWindow: UInt32 = 0
    public var receiveWindow: UInt32 = 0

    public init() {}
}

extension StreamStackEnd {
    /// Publishes the connection's numbers for TCP_INFO. Wakes nobody: nobody waits on them.
    public func publish(info: StreamInfo) {
        let s = stream
        news_store_release_u32(&s.pointee.info_rtt_us, info.rttMicros)
        news_store_release_u32(&s.pointee.info_rttvar_us, info.rttVarianceMicros)
        news_store_release_u32(&s.pointee.info_rto_us, info.rtoMicros)
        news_store_release_u32(&s.pointee.info_snd_cwnd, info.sendCongestionWindow)
        news_store_release_u32(&s.pointee.info_snd_ssthresh, info.sendSlowStartThreshold)
        news_store_release_u32(&s.pointee.info_snd_mss, info.sendMSS)
        news_store_release_u32(&s.pointee.info_rcv_mss, info.receiveMSS)
        news_store_release_u32(&s.pointee.info_total_retrans, info.totalRetransmissions)
        news_store_release_u32(&s.pointee.info_unacked, info.unacknowledged)
        news_store_release_u32(&s.pointee.info_snd_wnd, info.sendWindow)
        news_store_release_u32(&s.pointee.info_rcv_wnd, info.receiveWindow)
    }
}

extension StreamAppEnd {
    /// The stack's last published numbers (see `StreamInfo`).
    public var info: StreamInfo {
        let s = stream
        var i = StreamInfo()
        i.rttMicros = news_load_acquire_u32(&s.pointee.info_rtt_us)
        i.rttVarianceMicros = news_load_acquire_u32(&s.pointee.info_rttvar_us)
        i.rtoMicros = news_load_acquire_u32(&s.pointee.info_rto_us)
        i.sendCongestionWindow = news_load_acquire_u32(&s.pointee.info_snd_cwnd)
        i.sendSlowStartThreshold = news_load_acquire_u32(&s.pointee.info_snd_ssthresh)
        i.sendMSS = news_load_acquire_u32(&s.pointee.info_snd_mss)
        i.receiveMSS = news_load_acquire_u32(&s.pointee.info_rcv_mss)
        i.totalRetransmissions = news_load_acquire_u32(&s.pointee.info_total_retrans)
        i.unacknowledged = news_load_acquire_u32(&s.pointee.info_unacked)
        i.sendWindow = news_load_acquire_u32(&s.pointee.info_snd_wnd)
        i.receiveWindow = news_load_acquire_u32(&s.pointee.info_rcv_wnd)
        return i
    }
}
