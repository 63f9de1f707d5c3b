import NewsIPC
import NewsSystem

/// A socket NewsPoll can wait on: UDP or TCP.
public enum PollSocket {
    case udp(UDPSocket)
    case tcp(TCPSocket)
}

/// Waiting on several sockets at once, UDP and TCP together: a look at each socket's shared
/// memory, and only if none is ready one futex_waitv over all their wake words.
public enum NewsPoll {
    /// poll(2)'s POLLIN and POLLOUT.
    public struct Events: OptionSet, Sendable, Hashable {
        public let rawValue: Int16
        public init(rawValue: Int16) { self.rawValue = rawValue }
        /// UDP: a datagram or a pending error. TCP: data, end of stream, a reset, or (a
        /// listener) a connection to accept.
        public static let readable = Events(rawValue: 0x1)
        /// UDP: always (a send never sleeps). TCP: room in the send area, a failed or shut
        /// connection (the send reports it), or a non-blocking connect that finished.
        public static let writable = Events(rawValue: 0x4)
    }

    public struct Entry {
        public let socket: PollSocket
        public let events: Events
        public init(_ socket: PollSocket, _ events: Events) { self.socket = socket; self.events = events }
        public init(_ socket: UDPSocket, _ events: Events = .readable) { self.init(.udp(socket), events) }
        public init(_ socket: TCPSocket, _ events: Events = .readable) { self.init(.tcp(socket), events) }
    }

    /// The UDP sockets' indices that are readable, waiting up to `timeoutNanos` (nil:
    /// forever) if none is. It first looks for `spinNanos` (no system call: the next datagram
    /// of a busy stream usually arrives within that), then sleeps.
    public static func wait(_ sockets: [UDPSocket], timeoutNanos: UInt64?, spinNanos: UInt64 = 50_000) -> [Int] {
        let ready = wait(sockets.map { Entry($0) }, timeoutNanos: timeoutNanos, spinNanos: spinNanos)
        return ready.indices.filter { !ready[$0].isEmpty }
    }

    /// For each entry, which of its events hold (empty if none), waiting up to `timeoutNanos`
    /// (nil: forever) until one does. At most 64 entries (futex_waitv's limit).
    public static func wait(_ entries: [Entry], timeoutNanos: UInt64?, spinNanos: UInt64 = 50_000) -> [Events] {
        precondition(entries.count <= 64, "NewsPoll waits on at most 64 sockets")
        var ready = entries.map(state)
        if ready.contains(where: { !$0.isEmpty }) || timeoutNanos == 0 { return ready }
        let spinUntil = Clock.nanos() + min(spinNanos, timeoutNanos ?? spinNanos)
        while Clock.nanos() < spinUntil {
            for _ in 0..<64 { CPU.relax() }
            ready = entries.map(state)
            if ready.contains(where: { !$0.isEmpty }) { return ready }
        }
        // Tell each TCP stack what we wait for before the last look, so a change after it
        // rings our bell (the same order as a blocking call: flag, look, sleep).
        for e in entries {
            if case .tcp(let t) = e.socket { t.beginPollWait(read: e.events.contains(.readable), write: e.events.contains(.writable)) }
        }
        defer {
            for e in entries { if case .tcp(let t) = e.socket { t.endPollWait() } }
        }
        let bells = entries.map(bell)
        let prepared = bells.map { $0.prepareSleep() }
        defer { bells.forEach { $0.endSleep() } }
        ready = entries.map(state)
        if ready.contains(where: { !$0.isEmpty }) { return ready }
        Futex.waitAny(prepared.map(\.word), expected: prepared.map(\.value), timeoutNanos: timeoutNanos)
        return entries.map(state)
    }

    /// A closed socket is always ready (poll's POLLNVAL): its call then says EBADF, and its
    /// unmapped region is never touched, not even to sleep on.
    private static func state(_ e: Entry) -> Events {
        var r: Events = []
        if isClosed(e.socket) { return e.events.union(.readable) }
        switch e.socket {
        case .udp(let u):
            if e.events.contains(.readable) && u.readable { r.insert(.readable) }
            if e.events.contains(.writable) { r.insert(.writable) }
        case .tcp(let t):
            if e.events.contains(.readable) && t.readable { r.insert(.readable) }
            if e.events.contains(.writable) && t.writable { r.insert(.writable) }
        }
        return r
    }

    private static func isClosed(_ s: PollSocket) -> Bool {
        switch s {
        case .udp(let u): u.isClosed
        case .tcp(let t): t.isClosed
        }
    }

    private static func bell(_ e: Entry) -> Doorbell {
        switch e.socket {
        case .udp(let u): u.bell
        case .tcp(let t): t.bell
        }
    }
}
