import Glibc
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
    /// With a `pacer`, the look before sleeping lasts as long as the pacer says (the gaps
    /// between this caller's events lately), and the wait is told to it.
    public static func wait(_ entries: [Entry], timeoutNanos: UInt64?, spinNanos: UInt64 = 50_000, pacer: PollPacer? = nil) -> [Events] {
        precondition(entries.count <= 64, "NewsPoll waits on at most 64 sockets")
        var ready = entries.map(state)
        if ready.contains(where: { !$0.isEmpty }) || timeoutNanos == 0 { return ready }
        let start = Clock.nanos()
        let spin = pacer?.spinNanos ?? spinNanos
        let spinUntil = start + min(spin, timeoutNanos ?? spin)
        while Clock.nanos() < spinUntil {
            for _ in 0..<64 { CPU.relax() }
            ready = entries.map(state)
            if ready.contains(where: { !$0.isEmpty }) {
                pacer?.record(waitedNanos: Clock.nanos() - start, ready: true)
                return ready
            }
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
        ready = entries.map(state)
        pacer?.record(waitedNanos: Clock.nanos() - start, ready: ready.contains(where: { !$0.isEmpty }))
        return ready
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

/// How long a poll looks before it sleeps. A server under load sees its next event within a
/// few milliseconds, again and again, but not evenly: gaps of a few hundred microseconds and
/// now and then of several milliseconds, when the stack's servers run one after another. While
/// the recent gaps between its events average at most half of `maxSpinNanos`, a poll looks
/// for up to `maxSpinNanos` before it sleeps: it catches nearly every event without a sleep
/// and a wake, the two system calls a busy server would otherwise make per event (the look
/// costs its core that long; NEWS keeps applications off the servers' cores). A timeout, or a
/// gap of more than twice the longest look, means the application went idle: it then looks
/// only `idleSpinNanos` and sleeps, so an idle application stays asleep. Arithmetic on the
/// times it is told, under a lock of its own (threads of one application may share one
/// pacer; uncontended, the lock is no system call).
public final class PollPacer: @unchecked Sendable {
    public let idleSpinNanos: UInt64
    public let maxSpinNanos: UInt64
    private var average: UInt64?
    private var lock = pthread_mutex_t()

    public init(idleSpinNanos: UInt64 = 50_000, maxSpinNanos: UInt64 = 8_000_000) {
        self.idleSpinNanos = idleSpinNanos
        self.maxSpinNanos = max(idleSpinNanos, maxSpinNanos)
        pthread_mutex_init(&lock, nil)
    }

    deinit { pthread_mutex_destroy(&lock) }

    private func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        return body()
    }

    /// The recent gap between a poll and its event (an exponential average, 1/8 weight);
    /// nil after a timeout, a gap of more than twice the longest look, or before any event.
    public var averageGapNanos: UInt64? { locked { average } }

    /// The look to make now.
    public var spinNanos: UInt64 {
        locked {
            guard allowLong, let g = average, g <= maxSpinNanos / 2 else { return idleSpinNanos }
            return maxSpinNanos
        }
    }

    /// Whether long looks are allowed at all: only for an application on CPUs of its own
    /// (`NewsStack.placedApart`). Elsewhere every look is the idle one.
    public var longLooks: Bool {
        get { locked { allowLong } }
        set { locked { allowLong = newValue } }
    }
    private var allowLong = true

    /// A wait that found nothing at its first look took `waitedNanos` and then found an
    /// event (`ready`), or timed out.
    public func record(waitedNanos: UInt64, ready: Bool) {
        locked {
            // A timeout, or a gap twice the longest look: the application went idle.
            guard ready, waitedNanos <= 2 * maxSpinNanos else { average = nil; return }
            if let g = average { average = g - g / 8 + waitedNanos / 8 } else { average = waitedNanos }
        }
    }
}
