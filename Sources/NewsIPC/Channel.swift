import CNewsLinux
import Glibc
import NewsSystem

public enum ChannelError: Error, Equatable, CustomStringConvertible, Sendable {
    case ring(RingError)
    case system(SystemError)
    case peerClosed
    public var description: String {
        switch self {
        case .ring(let e): "\(e)"
        case .system(let e): "\(e)"
        case .peerClosed: "peer closed the channel"
        }
    }
}

/// One end of a bidirectional channel. Two implementations carry the same messages: shared
/// memory (no system call on the busy path) and the Linux kernel (one SOCK_SEQPACKET
/// send/recv per message), so the two can be compared on the same work.
public protocol Channel: AnyObject {
    var name: String { get }
    /// Sends as many of `messages` as fit now; returns how many (never blocks).
    func send(_ messages: UnsafeBufferPointer<Message>) throws(ChannelError) -> Int
    /// Receives up to `out.count` waiting messages; returns how many (never blocks).
    func receive(into out: UnsafeMutableBufferPointer<Message>) throws(ChannelError) -> Int
    /// Cheap readiness test where one exists (shared memory); kernel channels say true and
    /// are waited on through `pollDescriptor`.
    var hasInput: Bool { get }
    var pollDescriptor: Int32? { get }

    /// Sends one message with `payload` attached (at most `ChannelLayout.maxPayload` bytes;
    /// `message.len` is set from it). Returns false if there is no room now.
    func send(_ message: Message, payload: UnsafeRawBufferPointer) throws(ChannelError) -> Bool
    /// Receives up to `max` messages, handing each with its payload to `body`. The payload is
    /// only valid inside `body`; its length has been checked against the slot size. Messages
    /// whose length is impossible are dropped and counted in `malformed`.
    func receive(max: Int, _ body: (Message, UnsafeRawBufferPointer) -> Void) throws(ChannelError) -> Int
    /// Sends one message whose payload `build` writes straight into the slot it will travel
    /// in (no copy of a payload built elsewhere): `build` gets the slot's `maxPayload` bytes
    /// and returns how many it wrote, or nil to send nothing. Returns false (without calling
    /// `build`) if there is no room now, or if `build` gave up.
    func send(_ message: Message, building build: (UnsafeMutableRawBufferPointer) -> Int?) throws(ChannelError) -> Bool
    /// Messages dropped because their framing was impossible (a peer writing garbage).
    var malformed: UInt64 { get }
    /// The largest payload one message can carry on this channel.
    var maxPayload: Int { get }
}

extension Channel {
    public func send(_ message: Message) throws(ChannelError) -> Bool {
        var m = message
        return try withUnsafePointer(to: &m) { p throws(ChannelError) in
            try send(UnsafeBufferPointer(start: p, count: 1)) == 1
        }
    }
}

/// Which ring of a channel region an end transmits on. The upper end (nearer the
/// application) sends on the "down" ring, the lower end on the "up" ring.
public enum ChannelSide: String, Sendable { case upper, lower }

public enum ChannelLayout {
    /// Bytes of payload one message may carry by default (an Ethernet frame with room to
    /// spare); channels that carry reassembled datagrams use bigger slots.
    public static let maxPayload = 2048

    /// A channel region: the down ring, the up ring (each cache-line aligned), then the down
    /// ring's data area and the up ring's, one `maxPayload` slot per ring slot. A slot's data
    /// belongs to whoever owns the ring slot, so it needs no allocator and no free ring.
    public static func ringStride(capacity: Int) -> Int { (RingLayout.bytes(capacity: capacity) + 63) & ~63 }
    public static func dataStride(capacity: Int, slot: Int = maxPayload) -> Int { capacity * slot }
    public static func regionSize(capacity: Int, slot: Int = maxPayload) -> Int {
        2 * ringStride(capacity: capacity) + 2 * dataStride(capacity: capacity, slot: slot)
    }

    static func data(_ base: UnsafeMutableRawPointer, capacity: Int, slot: Int, down: Bool) -> UnsafeMutableRawPointer {
        base + 2 * ringStride(capacity: capacity) + (down ? 0 : dataStride(capacity: capacity, slot: slot))
    }

    public static func initialize(_ base: UnsafeMutableRawPointer, capacity: Int, start: UInt64 = 0) {
        RingLayout.initialize(base, capacity: capacity, start: start)
        RingLayout.initialize(base + ringStride(capacity: capacity), capacity: capacity, start: start)
    }
}

public final class ShmChannel: Channel {
    public let name: String
    private var tx: RingProducer
    private var rx: RingConsumer
    private let peerBell: Doorbell
    private let txData: UnsafeMutableRawPointer
    private let rxData: UnsafeMutableRawPointer
    public let maxPayload: Int
    private let peeked = UnsafeMutableBufferPointer<Message>.allocate(capacity: 64)
    public private(set) var malformed: UInt64 = 0

    /// `base` maps the channel region; `peerBell` is the doorbell of the process at the other
    /// end, rung after each send.
    public init(name: String, base: UnsafeMutableRawPointer, capacity: Int, side: ChannelSide,
                peerBell: Doorbell, slot: Int = ChannelLayout.maxPayload) throws(RingError) {
        let down = base
        let up = base + ChannelLayout.ringStride(capacity: capacity)
        self.name = name
        tx = try RingProducer(at: side == .upper ? down : up, capacity: capacity)
        rx = try RingConsumer(at: side == .upper ? up : down, capacity: capacity)
        txData = ChannelLayout.data(base, capacity: capacity, slot: slot, down: side == .upper)
        rxData = ChannelLayout.data(base, capacity: capacity, slot: slot, down: side == .lower)
        maxPayload = slot
        self.peerBell = peerBell
    }

    deinit { peeked.deallocate() }

    public func send(_ message: Message, payload: UnsafeRawBufferPointer) throws(ChannelError) -> Bool {
        guard payload.count <= maxPayload else { return false }
        let slot: Int?
        do { slot = try tx.nextSlot() } catch { throw .ring(error) }
        guard let slot else { return false }
        if payload.count > 0 { (txData + slot * maxPayload).copyMemory(from: payload.baseAddress!, byteCount: payload.count) }
        var m = message
        m.len = UInt32(payload.count)
        tx.publish(m)
        peerBell.ring()
        return true
    }

    public func send(_ message: Message, building build: (UnsafeMutableRawBufferPointer) -> Int?) throws(ChannelError) -> Bool {
        let slot: Int?
        do { slot = try tx.nextSlot() } catch { throw .ring(error) }
        guard let slot else { return false }
        // The slot is ours until the message is published: the consumer cannot look yet.
        guard let n = build(UnsafeMutableRawBufferPointer(start: txData + slot * maxPayload, count: maxPayload)),
              n >= 0, n <= maxPayload else { return false }
        var m = message
        m.len = UInt32(n)
        tx.publish(m)
        peerBell.ring()
        return true
    }

    public func receive(max: Int, _ body: (Message, UnsafeRawBufferPointer) -> Void) throws(ChannelError) -> Int {
        let want = Swift.min(max, peeked.count)
        let (n, first): (Int, Int)
        do { (n, first) = try rx.peek(into: UnsafeMutableBufferPointer(rebasing: peeked[0..<want])) } catch { throw .ring(error) }
        for i in 0..<n {
            let m = peeked[i]
            // The length is the peer's word: check it before it becomes a view.
            guard Int(m.len) <= maxPayload else { malformed &+= 1; continue }
            let slot = (first + i) & Int(rx.capacity - 1)
            body(m, UnsafeRawBufferPointer(start: rxData + slot * maxPayload, count: Int(m.len)))
        }
        rx.release(n)
        return n
    }

    @inline(__always)
    public func send(_ messages: UnsafeBufferPointer<Message>) throws(ChannelError) -> Int {
        let n: Int
        do { n = try tx.send(messages) } catch { throw .ring(error) }
        if n > 0 { peerBell.ring() }
        return n
    }

    @inline(__always)
    public func receive(into out: UnsafeMutableBufferPointer<Message>) throws(ChannelError) -> Int {
        do { return try rx.receive(into: out) } catch { throw .ring(error) }
    }

    public var hasInput: Bool { rx.hasInput }
    public var pollDescriptor: Int32? { nil }

    /// Fault injection: publishes an impossible head on our transmit ring (our own copy
    /// stays right, so the next send repairs it).
    public func scribbleOwnHead() { tx.scribbleHead() }
}

public final class KernelChannel: Channel {
    public let name: String
    public let fd: Int32
    /// Datagrams of the wrong size (a peer writing garbage); dropped, not delivered.
    public private(set) var malformed: UInt64 = 0
    public let maxPayload: Int
    /// Separate buffers for the two directions: a payload handed to a receive callback must
    /// stay valid while the callback sends on this same channel.
    private let scratch: UnsafeMutableRawBufferPointer
    private let outgoing: UnsafeMutableRawBufferPointer

    deinit { scratch.deallocate(); outgoing.deallocate() }

    /// One datagram: the message, then its payload.
    public func send(_ message: Message, payload: UnsafeRawBufferPointer) throws(ChannelError) -> Bool {
        guard payload.count <= maxPayload else { return false }
        var m = message
        m.len = UInt32(payload.count)
        outgoing.storeBytes(of: m, as: Message.self)
        if payload.count > 0 { (outgoing.baseAddress! + MemoryLayout<Message>.size).copyMemory(from: payload.baseAddress!, byteCount: payload.count) }
        while true {
            let r = Glibc.send(fd, outgoing.baseAddress, MemoryLayout<Message>.size + payload.count, Int32(MSG_DONTWAIT) | Int32(MSG_NOSIGNAL))
            if r >= 0 { return true }
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS { return false }
            if errno == EPIPE || errno == ECONNRESET { throw .peerClosed }
            throw .system(SystemError("send on \(name)"))
        }
    }

    public func send(_ message: Message, building build: (UnsafeMutableRawBufferPointer) -> Int?) throws(ChannelError) -> Bool {
        let header = MemoryLayout<Message>.size
        guard let n = build(UnsafeMutableRawBufferPointer(rebasing: outgoing[header...])), n >= 0, n <= maxPayload else { return false }
        var m = message
        m.len = UInt32(n)
        outgoing.storeBytes(of: m, as: Message.self)
        while true {
            let r = Glibc.send(fd, outgoing.baseAddress, header + n, Int32(MSG_DONTWAIT) | Int32(MSG_NOSIGNAL))
            if r >= 0 { return true }
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS { return false }
            if errno == EPIPE || errno == ECONNRESET { throw .peerClosed }
            throw .system(SystemError("send on \(name)"))
        }
    }

    public func receive(max: Int, _ body: (Message, UnsafeRawBufferPointer) -> Void) throws(ChannelError) -> Int {
        var got = 0
        while got < max {
            let r = recv(fd, scratch.baseAddress, scratch.count, Int32(MSG_DONTWAIT) | Int32(MSG_TRUNC))
            if r < 0 {
                if errno == EAGAIN || errno == EWOULDBLOCK { break }
                if errno == EINTR { continue }
                throw .system(SystemError("recv on \(name)"))
            }
            if r == 0 { if got == 0 { throw .peerClosed }; break }
            got += 1
            let header = MemoryLayout<Message>.size
            guard r >= header, r <= scratch.count else { malformed &+= 1; continue }
            let m = scratch.load(as: Message.self)
            guard Int(m.len) == r - header else { malformed &+= 1; continue }
            body(m, UnsafeRawBufferPointer(start: scratch.baseAddress! + header, count: Int(m.len)))
        }
        return got
    }

    public init(name: String, fd: Int32, slot: Int = ChannelLayout.maxPayload) {
        self.name = name
        self.fd = fd
        maxPayload = slot
        scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: MemoryLayout<Message>.size + slot, alignment: 64)
        outgoing = UnsafeMutableRawBufferPointer.allocate(byteCount: MemoryLayout<Message>.size + slot, alignment: 64)
    }

    public func send(_ messages: UnsafeBufferPointer<Message>) throws(ChannelError) -> Int {
        var sent = 0
        for i in 0..<messages.count {
            let r = withUnsafePointer(to: messages[i]) {
                Glibc.send(fd, $0, MemoryLayout<Message>.size, Int32(MSG_DONTWAIT) | Int32(MSG_NOSIGNAL))
            }
            if r < 0 {
                if errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS { break }
                if errno == EINTR { continue }
                if errno == EPIPE || errno == ECONNRESET { throw .peerClosed }
                throw .system(SystemError("send on \(name)"))
            }
            sent += 1
        }
        return sent
    }

    public func receive(into out: UnsafeMutableBufferPointer<Message>) throws(ChannelError) -> Int {
        var got = 0
        while got < out.count {
            let r = recv(fd, out.baseAddress! + got, MemoryLayout<Message>.size, Int32(MSG_DONTWAIT) | Int32(MSG_TRUNC))
            if r < 0 {
                if errno == EAGAIN || errno == EWOULDBLOCK { break }
                if errno == EINTR { continue }
                throw .system(SystemError("recv on \(name)"))
            }
            if r == 0 { if got == 0 { throw .peerClosed }; break }
            if r != MemoryLayout<Message>.size { malformed &+= 1; continue }
            got += 1
        }
        return got
    }

    public var hasInput: Bool { true }
    public var pollDescriptor: Int32? { fd }

    /// Fault injection: one datagram of the wrong size.
    public func sendGarbage() { UnixSocket.sendRaw(fd: fd, [UInt8](repeating: 0xEE, count: 13)) }

    /// Blocks in recv(2) for one message: the kernel path at its cheapest, one system call
    /// per message (used by benchmarks, where a single channel is all there is to wait on).
    public func receiveBlocking(into out: UnsafeMutablePointer<Message>) throws(ChannelError) {
        while true {
            let r = recv(fd, out, MemoryLayout<Message>.size, Int32(MSG_TRUNC))
            if r < 0 {
                if errno == EINTR { continue }
                throw .system(SystemError("recv on \(name)"))
            }
            if r == 0 { throw .peerClosed }
            if r == MemoryLayout<Message>.size { return }
            malformed &+= 1
        }
    }

    /// Blocks in send(2) for one message.
    public func sendBlocking(_ message: Message) throws(ChannelError) {
        var m = message
        while Glibc.send(fd, &m, MemoryLayout<Message>.size, Int32(MSG_NOSIGNAL)) < 0 {
            if errno == EINTR { continue }
            if errno == EPIPE || errno == ECONNRESET { throw .peerClosed }
            throw .system(SystemError("send on \(name)"))
        }
    }

    /// Waits until the socket can take another message (after `send` returned short).
    public func waitWritable(timeoutMillis: Int32) {
        var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        _ = poll(&p, 1, timeoutMillis)
    }
}
