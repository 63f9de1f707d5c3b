/// The TCP options NEWS understands, parsed from a header's option bytes and emitted back:
/// MSS (RFC 9293 3.2), window scale and timestamps (RFC 7323), SACK-permitted and SACK
/// blocks (RFC 2018). Parse and emit are separate; both check every length.
public struct TCPOptions: Equatable, Sendable {
    /// A SACK block: the left edge and the sequence number just past the right edge.
    public struct SACKBlock: Equatable, Sendable {
        public var left: UInt32
        public var right: UInt32
        public init(left: UInt32, right: UInt32) { self.left = left; self.right = right }
    }

    public var maxSegmentSize: UInt16?
    /// RFC 7323 2.3: "If a Window Scale option is received with a shift.cnt value larger
    /// than 14, the TCP SHOULD log the error but MUST use 14 instead". Kept as received;
    /// `effectiveWindowShift` applies the clamp.
    public var windowShift: UInt8?
    public var sackPermitted = false
    public var sackBlocks: [SACKBlock] = []
    /// TSval and TSecr (RFC 7323 3.2).
    public var timestamp: (value: UInt32, echo: UInt32)?
    /// Options of kinds NEWS does not know, skipped by their length (RFC 9293 3.2: "a TCP
    /// implementation MUST be able to receive a TCP Option in any segment" and ignore the
    /// ones it does not implement).
    public var unknown = 0

    public init() {}

    public static func == (a: TCPOptions, b: TCPOptions) -> Bool {
        a.maxSegmentSize == b.maxSegmentSize && a.windowShift == b.windowShift && a.sackPermitted == b.sackPermitted
            && a.sackBlocks == b.sackBlocks && a.timestamp?.value == b.timestamp?.value
            && a.timestamp?.echo == b.timestamp?.echo && a.unknown == b.unknown
    }

    public var effectiveWindowShift: UInt8? { windowShift.map { min($0, 14) } }

    enum Kind: UInt8 {
        case end = 0, noop = 1, mss = 2, windowScale = 3, sackPermitted = 4, sack = 5, timestamp = 8
    }

    /// Parses the option bytes of a header (`TCPHeaderView.options`). A malformed option
    /// (length below 2, past the end, or wrong for its kind) makes the whole list invalid:
    /// RFC 9293 3.2 lets a receiver drop such a segment, and guessing where the next option
    /// starts would be reading attacker-chosen bytes as options.
    public init(parsing bytes: UnsafeRawBufferPointer) throws(WireError) {
        var i = 0
        while i < bytes.count {
            let kind = bytes[i]
            if kind == Kind.end.rawValue { break }
            if kind == Kind.noop.rawValue { i += 1; continue }
            guard i + 1 < bytes.count else { throw .tcpBadOption }
            let length = Int(bytes[i + 1])
            guard length >= 2, i + length <= bytes.count else { throw .tcpBadOption }
            let body = bytes.slice(i + 2..<i + length)
            switch Kind(rawValue: kind) {
            case .mss?:
                guard body.count == 2 else { throw .tcpBadOption }
                maxSegmentSize = body.readU16(0)
            case .windowScale?:
                guard body.count == 1 else { throw .tcpBadOption }
                windowShift = body[0]
            case .sackPermitted?:
                guard body.count == 0 else { throw .tcpBadOption }
                sackPermitted = true
            case .sack?:
                // RFC 2018 3: length 8n + 2; at most 4 blocks fit in 40 bytes of options.
                guard body.count % 8 == 0, (1...4).contains(body.count / 8) else { throw .tcpBadOption }
                sackBlocks = (0..<body.count / 8).map { SACKBlock(left: body.readU32($0 * 8), right: body.readU32($0 * 8 + 4)) }
            case .timestamp?:
                guard body.count == 8 else { throw .tcpBadOption }
                timestamp = (body.readU32(0), body.readU32(4))
            case .end?, .noop?, nil:
                unknown += 1
            }
            i += length
        }
    }

    /// Bytes the options take when emitted, padded to a multiple of four.
    public var emittedLength: Int {
        var n = 0
        if maxSegmentSize != nil { n += 4 }
        if windowShift != nil { n += 4 }          // NOP + 3
        if sackPermitted { n += 2 }
        if timestamp != nil { n += sackPermitted ? 10 : 12 }  // shares its NOPs with SACK-permitted
        if !sackBlocks.isEmpty { n += 2 + 2 + 8 * min(sackBlocks.count, 4) }
        return (n + 3) & ~3
    }

    /// Writes the options (the usual layout: MSS, SACK-permitted with timestamps, NOP-padded
    /// window scale, NOP-padded SACK blocks) and pads with NOPs to a four-byte boundary.
    /// Returns the bytes written, or 0 when `buffer` is too small or they exceed the 40 bytes
    /// a header holds.
    public func emit(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        let total = emittedLength
        guard total <= 40, buffer.count >= total else { return 0 }
        var i = 0
        func byte(_ b: UInt8) { buffer[i] = b; i += 1 }
        if let mss = maxSegmentSize {
            byte(Kind.mss.rawValue); byte(4); buffer.writeU16(mss, at: i); i += 2
        }
        if let ts = timestamp {
            if sackPermitted { byte(Kind.sackPermitted.rawValue); byte(2) } else { byte(Kind.noop.rawValue); byte(Kind.noop.rawValue) }
            byte(Kind.timestamp.rawValue); byte(10)
            buffer.writeU32(ts.value, at: i); buffer.writeU32(ts.echo, at: i + 4); i += 8
        } else if sackPermitted {
            byte(Kind.sackPermitted.rawValue); byte(2)
        }
        if let shift = windowShift {
            byte(Kind.noop.rawValue); byte(Kind.windowScale.rawValue); byte(3); byte(shift)
        }
        if !sackBlocks.isEmpty {
            let blocks = sackBlocks.prefix(4)
            byte(Kind.noop.rawValue); byte(Kind.noop.rawValue)
            byte(Kind.sack.rawValue); byte(UInt8(2 + 8 * blocks.count))
            for b in blocks { buffer.writeU32(b.left, at: i); buffer.writeU32(b.right, at: i + 4); i += 8 }
        }
        while i < total { byte(Kind.noop.rawValue) }
        return total
    }
}
