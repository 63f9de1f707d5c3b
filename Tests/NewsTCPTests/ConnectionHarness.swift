import NewsTCP
import NewsWire
import XCTest

/// One end of a simulated socket: the connection plus its two stream areas as arrays (the
/// send stream in full, the receive area as bytes placed at stream offsets), so tests check
/// bytes, not only counts.
struct Endpoint {
    var connection: TCPConnection
    var sendStream: [UInt8] = []
    var shutdown = false
    var receiveCapacity: Int
    var received: [UInt8?]
    var readHead: UInt64 = 0
    var readable: UInt64 = 0
    var events = TCPEvents()

    init(_ c: TCPConnection, receiveCapacity: Int = 262_144) {
        connection = c
        self.receiveCapacity = receiveCapacity
        received = []
    }

    var buffers: StreamBuffers {
        StreamBuffers(sendTail: UInt64(sendStream.count), sendShutdown: shutdown, receiveHead: readHead, receiveCapacity: receiveCapacity)
    }

    /// The application reads everything readable.
    mutating func readAll() -> [UInt8] {
        let out = (Int(readHead)..<Int(readable)).map { received[$0]! }
        readHead = readable
        return out
    }

    /// Delivers a segment (with `payload` as the bytes the peer sent).
    mutating func deliver(_ seg: TCPSegment, payload: [UInt8], at now: UInt64) -> TCPArrival {
        let a = connection.segmentArrived(seg, buffers: buffers, at: now)
        if let p = a.placement {
            precondition(p.streamOffset + UInt64(p.length) <= readHead + UInt64(receiveCapacity), "placed beyond the receive area")
            let end = Int(p.streamOffset) + p.length
            if received.count < end { received += [UInt8?](repeating: nil, count: end - received.count) }
            for i in 0..<p.length { received[Int(p.streamOffset) + i] = payload[p.payloadOffset + i] }
        }
        XCTAssertGreaterThanOrEqual(a.receivedUpTo, readable, "the readable end never moves back")
        readable = a.receivedUpTo
        events.formUnion(a.events)
        return a
    }

    mutating func transmit(at now: UInt64, limit: Int = 64) -> [OutgoingSegment] {
        var out: [OutgoingSegment] = []
        events.formUnion(connection.transmit(buffers: buffers, at: now, limit: limit, into: &out))
        return out
    }

    /// The bytes a segment carries.
    func payload(of s: OutgoingSegment) -> [UInt8] {
        Array(sendStream[Int(s.payloadOffset)..<Int(s.payloadOffset) + s.payloadLength])
    }
}

/// Two endpoints joined by a link that may drop, duplicate or reorder segments, driven by
/// a simulated clock: each step delivers what is due and lets each end transmit.
struct Link {
    var a: Endpoint
    var b: Endpoint
    var now: UInt64 = 1_000_000_000
    var delay: UInt64 = 1_000_000          // one way, 1 ms
    /// Return true to drop the segment (called for every segment sent, with its direction).
    var drop: (_ fromA: Bool, _ seg: OutgoingSegment, _ index: Int) -> Bool = { _, _, _ in false }
    /// Or, more generally: the delays of the copies that arrive (none: lost; two: duplicated;
    /// longer than `delay`: reordered). Nil uses `drop` and `delay`.
    var mangle: ((_ fromA: Bool, _ seg: OutgoingSegment, _ index: Int) -> [UInt64])?
    var sentCount = 0
    /// Wake the applications at least this often (for applications that act on time).
    var appPeriod: UInt64?
    var inFlight: [(at: UInt64, toB: Bool, seg: TCPSegment, payload: [UInt8])] = []
    var log: [(fromA: Bool, seg: OutgoingSegment)] = []

    init(a: Endpoint, b: Endpoint) { self.a = a; self.b = b }

    mutating func send(fromA: Bool) {
        let out = fromA ? a.transmit(at: now) : b.transmit(at: now)
        for s in out {
            log.append((fromA, s))
            sentCount += 1
            let delays = mangle?(fromA, s, sentCount) ?? (drop(fromA, s, sentCount) ? [] : [delay])
            for d in delays {
                inFlight.append((now + d, fromA, s.asReceived, fromA ? a.payload(of: s) : b.payload(of: s)))
            }
        }
    }

    /// Runs until nothing is in flight and neither end has anything due before `until`.
    mutating func run(until: UInt64, appA: ((inout Endpoint) -> Void)? = nil, appB: ((inout Endpoint) -> Void)? = nil) {
        var idleSpins = 0
        while now < until {
            let sentBefore = sentCount
            send(fromA: true)
            send(fromA: false)
            appA?(&a)
            appB?(&b)
            send(fromA: true)
            send(fromA: false)
            // Next event: a delivery or a deadline.
            var next = inFlight.map(\.at).min()
            if let p = appPeriod { next = min(next ?? (now + p), now + p) }
            for d in [a.connection.nextDeadline, b.connection.nextDeadline] {
                if let d { next = min(next ?? d, max(d, now + 1)) }
            }
            guard let n = next, n <= until else { now = until; break }
            // A deadline that has passed yet makes nobody send is a busy loop in the server.
            let pastDue = [a.connection.nextDeadline, b.connection.nextDeadline].contains { $0 != nil && $0! <= now }
            if pastDue && sentCount == sentBefore && inFlight.allSatisfy({ $0.at > now }) { idleSpins += 1 } else { idleSpins = 0 }
            if idleSpins > 100 {
                XCTFail("a deadline in the past with nothing to send: the shell would spin (\(a.connection.state), \(b.connection.state))")
                return
            }
            now = max(now, n)
            let due = inFlight.filter { $0.at <= now }
            inFlight.removeAll { $0.at <= now }
            for d in due {
                if d.toB { _ = b.deliver(d.seg, payload: d.payload, at: now) } else { _ = a.deliver(d.seg, payload: d.payload, at: now) }
            }
        }
    }
}

extension TCPConfiguration {
    static var test: TCPConfiguration {
        var c = TCPConfiguration()
        c.timeWait = 2_000_000_000
        return c
    }
}

/// A pair that has completed the handshake: `a` connected to `b`.
func establishedLink(_ ca: TCPConfiguration = .test, _ cb: TCPConfiguration = .test, capacity: Int = 262_144) -> Link {
    let now: UInt64 = 1_000_000_000
    let client = TCPConnection(connecting: ca, iss: SequenceNumber(1000), receiveCapacity: capacity, at: now)
    var a = Endpoint(client, receiveCapacity: capacity)
    let syn = a.transmit(at: now)
    let server = TCPConnection(accepting: syn[0].asReceived, configuration: cb, iss: SequenceNumber(5000), receiveCapacity: capacity, at: now)!
    var link = Link(a: a, b: Endpoint(server, receiveCapacity: capacity))
    link.now = now
    link.run(until: now + 10_000_000)
    return link
}
