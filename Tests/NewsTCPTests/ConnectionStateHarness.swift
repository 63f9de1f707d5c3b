@testable import NewsTCP
import NewsWire
import XCTest

/// smoltcp-style state tests: a connection is driven into a state through the public API
/// with crafted segments, then ONE segment is injected and exactly what comes out is
/// compared. Our ISS is `ourISS`, the peer's is `peerISS`; times are nanoseconds from `t0`.
let ms: UInt64 = 1_000_000
let seconds: UInt64 = 1_000_000_000
let t0: UInt64 = 1_000 * seconds
let ourISS = SequenceNumber(1_000)
let peerISS = SequenceNumber(50_000)
/// The peer's first TSval; the peer's clock ticks once a millisecond from there.
let peerTS0: UInt32 = 7_000

extension TCPConfiguration {
    /// No window scaling, timestamps or SACK: segments carry no options after the SYNs, so
    /// tests can spell them out completely.
    static var plain: TCPConfiguration {
        var c = TCPConfiguration()
        c.windowScaling = false
        c.timestamps = false
        c.selectiveAcknowledgments = false
        c.timeWait = 2 * seconds
        c.congestion.algorithm = .newReno
        return c
    }

    static var withSACK: TCPConfiguration {
        var c = plain
        c.selectiveAcknowledgments = true
        return c
    }

    static var withTimestamps: TCPConfiguration {
        var c = plain
        c.timestamps = true
        return c
    }
}

extension TCPOptions {
    /// The options of a peer's SYN (or SYN-ACK).
    static func peerSYN(mss: UInt16? = 1460, shift: UInt8? = nil, sack: Bool = false, timestamp: (UInt32, UInt32)? = nil) -> TCPOptions {
        var o = TCPOptions()
        o.maxSegmentSize = mss
        o.windowShift = shift
        o.sackPermitted = sack
        o.timestamp = timestamp
        return o
    }

    static func timestamp(_ value: UInt32, _ echo: UInt32) -> TCPOptions {
        var o = TCPOptions()
        o.timestamp = (value, echo)
        return o
    }

    static func sack(_ blocks: [(UInt32, UInt32)], timestamp: (UInt32, UInt32)? = nil) -> TCPOptions {
        var o = TCPOptions()
        o.sackBlocks = blocks.map { TCPOptions.SACKBlock(left: $0.0, right: $0.1) }
        o.timestamp = timestamp
        return o
    }
}

/// One connection and its socket's stream areas as the shell would report them.
struct Socket {
    var connection: TCPConnection
    var buffers: StreamBuffers
    var now: UInt64
    var events = TCPEvents()

    init(connecting c: TCPConfiguration, receiveCapacity: Int = 65_535, at now: UInt64 = t0) {
        connection = TCPConnection(connecting: c, iss: ourISS, receiveCapacity: receiveCapacity, at: now)
        buffers = StreamBuffers(receiveCapacity: receiveCapacity)
        self.now = now
    }

    init?(accepting syn: TCPSegment, _ c: TCPConfiguration, receiveCapacity: Int = 65_535, at now: UInt64 = t0) {
        guard let conn = TCPConnection(accepting: syn, configuration: c, iss: ourISS, receiveCapacity: receiveCapacity, at: now) else { return nil }
        connection = conn
        buffers = StreamBuffers(receiveCapacity: receiveCapacity)
        self.now = now
    }

    var state: TCPState { connection.state }

    /// Injects one segment at `now` (moved forward by `after`).
    @discardableResult
    mutating func receive(_ seg: TCPSegment, after: UInt64 = 0) -> TCPArrival {
        now += after
        let a = connection.segmentArrived(seg, buffers: buffers, at: now)
        events.formUnion(a.events)
        return a
    }

    /// Injects one segment at `time`.
    @discardableResult
    mutating func receive(_ seg: TCPSegment, at time: UInt64) -> TCPArrival {
        now = time
        return receive(seg)
    }

    /// What `transmit` sends at `now` (moved forward by `after`).
    mutating func transmit(after: UInt64 = 0, limit: Int = 64) -> [OutgoingSegment] {
        now += after
        var out: [OutgoingSegment] = []
        events.formUnion(connection.transmit(buffers: buffers, at: now, limit: limit, into: &out))
        // Whatever was due has been done: a deadline still at or before now would make the
        // shell call again at once, for nothing, forever.
        if out.count < limit, let d = connection.nextDeadline {
            XCTAssertGreaterThan(d, now, "nextDeadline not in the future after transmit (\(connection.state))")
        }
        return out
    }

    /// Moves the clock to `time` and transmits.
    mutating func transmit(at time: UInt64, limit: Int = 64) -> [OutgoingSegment] {
        now = time
        return transmit(limit: limit)
    }

    mutating func write(_ n: Int) { buffers.sendTail += UInt64(n) }
    mutating func shutdown() { buffers.sendShutdown = true }
    /// The application reads everything readable.
    mutating func readAll() { buffers.receiveHead = connection.receivedOffset }

    /// Our TSval at `time` (one tick a millisecond from the connection's offset).
    func ourTS(at time: UInt64? = nil) -> UInt32 {
        TimestampState(offset: TCPConnection.timestampOffset(ourISS), recent: 0, at: 0, lastAckSent: ourISS).value(at: time ?? now)
    }

    /// The peer's TSval at `now`.
    func peerTSval() -> UInt32 { peerTS0 &+ UInt32((now - t0) / ms) }

    // MARK: - Driving a connection into a state

    /// SYN-SENT, the SYN sent at `t0`.
    static func synSent(_ c: TCPConfiguration = .plain, receiveCapacity: Int = 65_535) -> (Socket, OutgoingSegment) {
        var s = Socket(connecting: c, receiveCapacity: receiveCapacity)
        let out = s.transmit()
        precondition(out.count == 1, "one SYN")
        return (s, out[0])
    }

    /// SYN-RECEIVED by a passive open of the peer's SYN at `t0`, our SYN-ACK sent.
    static func synReceived(_ c: TCPConfiguration = .plain, peer: TCPOptions = .peerSYN(), peerWindow: UInt16 = 65_535,
                            receiveCapacity: Int = 65_535) -> (Socket, OutgoingSegment) {
        let syn = TCPSegment(sequence: peerISS, flags: .syn, window: peerWindow, options: peer)
        var s = Socket(accepting: syn, c, receiveCapacity: receiveCapacity)!
        let out = s.transmit()
        precondition(out.count == 1, "one SYN-ACK")
        return (s, out[0])
    }

    /// ESTABLISHED by a passive open: the peer's ACK of our SYN-ACK arrives 10 ms later.
    static func accepted(_ c: TCPConfiguration = .plain, peer: TCPOptions = .peerSYN(), peerWindow: UInt16 = 65_535,
                         receiveCapacity: Int = 65_535) -> Socket {
        var (s, _) = synReceived(c, peer: peer, peerWindow: peerWindow, receiveCapacity: receiveCapacity)
        s.now += 10 * ms
        s.receive(s.peer(peerISS + 1, ack: ourISS + 1, window: peerWindow))
        precondition(s.state == .established, "handshake completes")
        return s
    }

    /// ESTABLISHED by an active open: the peer's SYN-ACK arrives 10 ms after our SYN and
    /// our ACK has been sent. SND.NXT = ISS+1, RCV.NXT = IRS+1.
    /// The peer offers MSS 1460 and, by default, the SACK and timestamps `c` offers.
    static func established(_ c: TCPConfiguration = .plain, peer: TCPOptions? = nil, peerWindow: UInt16 = 65_535,
                            receiveCapacity: Int = 65_535) -> Socket {
        var (s, _) = synSent(c, receiveCapacity: receiveCapacity)
        var peerOptions = peer ?? .peerSYN(sack: c.selectiveAcknowledgments, timestamp: c.timestamps ? (0, 0) : nil)
        if peerOptions.timestamp != nil { peerOptions.timestamp = (peerTS0, s.ourTS(at: t0)) }
        s.receive(TCPSegment(sequence: peerISS, acknowledgment: ourISS + 1, flags: [.syn, .ack], window: peerWindow, options: peerOptions),
                  after: 10 * ms)
        let ack = s.transmit()
        precondition(s.state == .established && ack.count == 1, "handshake completes")
        return s
    }

    /// FIN-WAIT-1: the application shut its side and our FIN <SEQ=ISS+1> went out.
    static func finWait1(_ c: TCPConfiguration = .plain) -> Socket {
        var s = established(c)
        s.shutdown()
        let fin = s.transmit(after: 10 * ms)
        precondition(s.state == .finWait1 && fin.count == 1 && fin[0].flags.contains(.fin), "our FIN")
        return s
    }

    /// FIN-WAIT-2: the peer acknowledged our FIN. SND.NXT = ISS+2, RCV.NXT = IRS+1.
    static func finWait2(_ c: TCPConfiguration = .plain) -> Socket {
        var s = finWait1(c)
        s.receive(s.peer(peerISS + 1, ack: ourISS + 2), after: 10 * ms)
        precondition(s.state == .finWait2 && s.transmit().isEmpty, "nothing to answer")
        return s
    }

    /// CLOSE-WAIT: the peer's FIN <SEQ=IRS+1> arrived and was acknowledged. RCV.NXT = IRS+2.
    static func closeWait(_ c: TCPConfiguration = .plain) -> Socket {
        var s = established(c)
        s.receive(s.peer(peerISS + 1, flags: [.fin, .ack]), after: 10 * ms)
        let ack = s.transmit()
        precondition(s.state == .closeWait && ack.count == 1, "the FIN acknowledged")
        return s
    }

    /// CLOSING: both FINs crossed; ours is not acknowledged yet.
    static func closing(_ c: TCPConfiguration = .plain) -> Socket {
        var s = finWait1(c)
        s.receive(s.peer(peerISS + 1, ack: ourISS + 1, flags: [.fin, .ack]), after: 5 * ms)
        let ack = s.transmit()
        precondition(s.state == .closing && ack.count == 1, "the FIN acknowledged")
        return s
    }

    /// LAST-ACK: CLOSE-WAIT, then our FIN <SEQ=ISS+1> went out.
    static func lastAck(_ c: TCPConfiguration = .plain) -> Socket {
        var s = closeWait(c)
        s.shutdown()
        let fin = s.transmit(after: 10 * ms)
        precondition(s.state == .lastAck && fin.count == 1, "our FIN")
        return s
    }

    /// TIME-WAIT: FIN-WAIT-2, then the peer's FIN arrived and was acknowledged.
    static func timeWait(_ c: TCPConfiguration = .plain) -> Socket {
        var s = finWait2(c)
        s.receive(s.peer(peerISS + 1, ack: ourISS + 2, flags: [.fin, .ack]), after: 10 * ms)
        let ack = s.transmit()
        precondition(s.state == .timeWait && ack.count == 1, "the FIN acknowledged")
        return s
    }

    /// The peer's next segment in an established connection (with the peer's TSval for
    /// `now` when timestamps are on).
    func peer(_ seq: SequenceNumber, ack: SequenceNumber? = nil, flags: TCPFlags = .ack, window: UInt16 = 65_535,
              payload: Int = 0, options: TCPOptions = TCPOptions()) -> TCPSegment {
        var o = options
        if connection.timestamps != nil && o.timestamp == nil {
            o.timestamp = (peerTSval(), ourTS())
        }
        return TCPSegment(sequence: seq, acknowledgment: ack ?? connection.sendNext, flags: flags, window: window, options: o,
                          payloadLength: payload)
    }
}

/// An expected pure ACK (or another segment without data): `<SEQ><ACK><CTL>` and window.
func segment(_ seq: SequenceNumber, ack: SequenceNumber, _ flags: TCPFlags = .ack, window: UInt16,
             options: TCPOptions = TCPOptions(), offset: UInt64 = 0, length: Int = 0, retransmission: Bool = false) -> OutgoingSegment {
    OutgoingSegment(sequence: seq, acknowledgment: ack, flags: flags, window: window, options: options, payloadOffset: offset,
                    payloadLength: length, isRetransmission: retransmission)
}

/// A RST `<SEQ=seq><CTL=RST>`.
func reset(_ seq: SequenceNumber) -> OutgoingSegment {
    OutgoingSegment(sequence: seq, acknowledgment: SequenceNumber(0), flags: .rst, window: 0)
}

func describe(_ s: OutgoingSegment) -> String {
    var flags: [String] = []
    for (f, n) in [(TCPFlags.syn, "SYN"), (.fin, "FIN"), (.rst, "RST"), (.psh, "PSH"), (.ack, "ACK"), (.urg, "URG")] where s.flags.contains(f) {
        flags.append(n)
    }
    var o: [String] = []
    if let m = s.options.maxSegmentSize { o.append("mss=\(m)") }
    if let w = s.options.windowShift { o.append("ws=\(w)") }
    if s.options.sackPermitted { o.append("sackOK") }
    if let t = s.options.timestamp { o.append("ts=\(t.value)/\(t.echo)") }
    if !s.options.sackBlocks.isEmpty { o.append("sack=" + s.options.sackBlocks.map { "\($0.left)-\($0.right)" }.joined(separator: ",")) }
    return "<SEQ=\(s.sequence.rawValue) ACK=\(s.acknowledgment.rawValue) \(flags.joined(separator: ",")) WND=\(s.window)"
        + " data=\(s.payloadOffset)+\(s.payloadLength)\(s.isRetransmission ? " rexmit" : "")\(o.isEmpty ? "" : " " + o.joined(separator: " "))>"
}

/// Exactly these segments, in this order.
func XCTAssertSegments(_ got: [OutgoingSegment], _ expected: [OutgoingSegment], _ message: String = "",
                       file: StaticString = #filePath, line: UInt = #line) {
    if got != expected {
        XCTFail("\(message)\n  got:      \(got.map(describe))\n  expected: \(expected.map(describe))", file: file, line: line)
    }
}

/// The arrival placed exactly `length` bytes from `payloadOffset` of the payload at
/// `streamOffset` of the receive stream.
func XCTAssertPlacement(_ a: TCPArrival, _ payloadOffset: Int, _ length: Int, _ streamOffset: UInt64, _ message: String = "",
                        file: StaticString = #filePath, line: UInt = #line) {
    guard let p = a.placement else { return XCTFail("nothing placed; expected \(length) bytes at \(streamOffset). \(message)", file: file, line: line) }
    if p.payloadOffset != payloadOffset || p.length != length || p.streamOffset != streamOffset {
        XCTFail("placed \(p), expected (\(payloadOffset), \(length), \(streamOffset)). \(message)", file: file, line: line)
    }
}
