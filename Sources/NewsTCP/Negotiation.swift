import NewsWire

/// What the two SYNs agreed (RFC 9293 3.7.1, RFC 7323 2 and 3, RFC 2018 2). Each option is
/// in force only if both ends offered it; a SYN without MSS means 536 (RFC 9293 3.7.1:
/// "the default MSS ... is 536").
public struct NegotiatedOptions: Sendable, Equatable {
    /// The peer's MSS clamped to our path (PMTU clamping): no data segment is larger.
    public var sendMSS: Int
    /// The MSS we announced.
    public var receiveMSS: Int
    /// Applied to the window fields the peer sends, and to ours.
    public var sendShift: Int
    public var receiveShift: Int
    public var timestamps: Bool
    public var selectiveAcknowledgments: Bool

    /// "Option bytes on every non-SYN segment": 12 for timestamps (with the two NOPs).
    public var fixedOptionBytes: Int { timestamps ? 12 : 0 }
    /// SMSS for congestion control and loss recovery: a full data segment.
    public var senderMSS: Int { max(1, sendMSS - fixedOptionBytes) }
    /// A full-sized segment from the peer: what we announced less the same fixed option
    /// bytes. RFC 5681 4.2's "every second full-sized segment" counts these: with
    /// timestamps a full segment carries 1448 bytes, not 1460.
    public var receiverMSS: Int { max(1, receiveMSS - fixedOptionBytes) }
    /// The most SACK blocks an ACK can carry next to the other options (RFC 2018 3).
    public var sackBlockLimit: Int { timestamps ? 3 : 4 }

    public init(sendMSS: Int, receiveMSS: Int, sendShift: Int, receiveShift: Int, timestamps: Bool, selectiveAcknowledgments: Bool) {
        self.sendMSS = sendMSS; self.receiveMSS = receiveMSS; self.sendShift = sendShift
        self.receiveShift = receiveShift; self.timestamps = timestamps; self.selectiveAcknowledgments = selectiveAcknowledgments
    }

    /// The shift that lets a 16-bit field describe `capacity` bytes (RFC 7323 2.3: at most 14).
    public static func shift(for capacity: Int) -> Int {
        var s = 0
        while s < 14 && (capacity >> s) > 65_535 { s += 1 }
        return s
    }

    /// The options of our SYN or SYN-ACK. A SYN-ACK offers only what the SYN offered
    /// (RFC 7323 2.2: "a TCP MAY send a Window Scale option in a <SYN,ACK> segment only if
    /// it received a Window Scale option in the <SYN>"; likewise timestamps and SACK).
    public static func offer(_ c: TCPConfiguration, receiveCapacity: Int, answering syn: TCPOptions?, timestampValue: UInt32) -> TCPOptions {
        var o = TCPOptions()
        o.maxSegmentSize = UInt16(c.announcedMSS)
        if c.windowScaling && (syn == nil || syn?.windowShift != nil) { o.windowShift = UInt8(shift(for: receiveCapacity)) }
        if c.selectiveAcknowledgments && (syn == nil || syn?.sackPermitted == true) { o.sackPermitted = true }
        if c.timestamps && (syn == nil || syn?.timestamp != nil) {
            o.timestamp = (timestampValue, syn?.timestamp?.value ?? 0)
        }
        return o
    }

    /// Both SYNs seen: what holds for the connection.
    public static func agree(ours: TCPOptions, theirs: TCPOptions, configuration c: TCPConfiguration) -> NegotiatedOptions {
        let peerMSS = theirs.maxSegmentSize.map(Int.init) ?? 536
        let scaling = ours.windowShift != nil && theirs.windowShift != nil
        return NegotiatedOptions(
            sendMSS: max(64, min(peerMSS, c.announcedMSS)),
            receiveMSS: c.announcedMSS,
            sendShift: scaling ? Int(theirs.effectiveWindowShift ?? 0) : 0,
            receiveShift: scaling ? Int(ours.windowShift ?? 0) : 0,
            timestamps: ours.timestamp != nil && theirs.timestamp != nil,
            selectiveAcknowledgments: ours.sackPermitted && theirs.sackPermitted)
    }
}

/// RFC 7323 3 and 5: the timestamp clock, TS.Recent and PAWS. TSval ticks once a
/// millisecond (RFC 7323 5.4: "between 1 ms and 1 sec per tick") from a per-connection
/// offset, so values do not reveal the host's uptime.
public struct TimestampState: Sendable, Equatable {
    public let offset: UInt32
    /// TS.Recent and when it was set.
    public private(set) var recent: UInt32
    public private(set) var recentSetAt: UInt64
    /// The ACK field of the last segment sent (Last.ACK.sent).
    public var lastAckSent: SequenceNumber

    /// RFC 7323 5.5: after 24 days idle TS.Recent is too old to compare against.
    public static let recentLifetime: UInt64 = 24 * 86_400 * 1_000_000_000

    public init(offset: UInt32, recent: UInt32, at now: UInt64, lastAckSent: SequenceNumber) {
        self.offset = offset; self.recent = recent; self.recentSetAt = now; self.lastAckSent = lastAckSent
    }

    public func value(at now: UInt64) -> UInt32 { UInt32(truncatingIfNeeded: now / 1_000_000) &+ offset }

    /// RFC 7323 5.3 R1: "If there is a Timestamps option in the arriving segment, SEG.TSval
    /// < TS.Recent, TS.Recent is valid ... then treat the arriving segment as not
    /// acceptable". (A RST is exempt: 5.3 is applied to non-RST segments by Linux and by
    /// RFC 7323's own pseudo-code, Appendix D.)
    public func rejects(_ seg: TCPSegment, at now: UInt64) -> Bool {
        guard !seg.rst, let ts = seg.options.timestamp else { return false }
        guard now &- recentSetAt <= Self.recentLifetime else { return false }
        return Int32(bitPattern: ts.value &- recent) < 0
    }

    /// RFC 7323 4.3 (2): "If SEG.TSval >= TS.Recent and SEG.SEQ <= Last.ACK.sent, then
    /// SEG.TSval is copied to TS.Recent".
    public mutating func update(from seg: TCPSegment, at now: UInt64) {
        guard let ts = seg.options.timestamp else { return }
        if Int32(bitPattern: ts.value &- recent) >= 0 && seg.sequence <= lastAckSent {
            recent = ts.value
            recentSetAt = now
        }
    }

    /// The option for a segment sent at `now`.
    public func option(at now: UInt64) -> (value: UInt32, echo: UInt32) { (value(at: now), recent) }

    /// Round-trip time from an echoed TSval (RFC 7323 4.1), nanoseconds, millisecond grain.
    public func roundTrip(echo: UInt32, at now: UInt64) -> UInt64? {
        let ticks = Int32(bitPattern: value(at: now) &- echo)
        guard echo != 0, ticks >= 0 else { return nil }
        return UInt64(ticks) * 1_000_000
    }
}
