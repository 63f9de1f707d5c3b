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
    /// A channel region: the down ring, then the up ring, each cache-line aligned.
    public static func ringStride(capacity: Int) -> Int { (RingLayout.bytes(capacity: capacity) + 63) & ~63 }
    public static func regionSize(capacity: Int) -> Int { 2 * ringStride(capacity: capacity) }

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

    /// `base` maps the channel region; `peerBell` is the doorbell of the process at the other
    /// end, rung after each send.
    public init(name: String, base: UnsafeMutableRawPointer, capacity: Int, side: ChannelSide,
                peerBell: Doorbell) throws(RingError) {
        let down = base
        let up = base + ChannelLayout.ringStride(capacity: capacity)
        self.name = name
        tx = try RingProducer(at: side == .upper ? down : up, capacity: capacity)
        rx = try RingConsumer(at: side == .upper ? up : down, capacity: capacity)
        self.peerBell = peerBell
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

    public init(name: String, fd: Int32) {
        self.name = name
        self.fd = fd
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
