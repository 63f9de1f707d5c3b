import Glibc  // errno values only (ICMPUnreachableCode.socketError)

/// ICMP message types used here (RFC 792).
public struct ICMPType: RawRepresentable, Hashable, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let echoReply = ICMPType(rawValue: 0)
    public static let destinationUnreachable = ICMPType(rawValue: 3)
    public static let echoRequest = ICMPType(rawValue: 8)
    public static let timeExceeded = ICMPType(rawValue: 11)
}

/// Destination Unreachable codes (RFC 792, RFC 1122 3.2.2.1).
public enum ICMPUnreachableCode {
    public static let network: UInt8 = 0
    public static let host: UInt8 = 1
    public static let `protocol`: UInt8 = 2
    public static let port: UInt8 = 3
    public static let fragmentationNeeded: UInt8 = 4
}

extension ICMPUnreachableCode {
    /// What a destination unreachable of `code` means to the socket that sent the quoted
    /// datagram, as Linux maps it (net/ipv4/icmp.c, icmp_err_convert): the errno, and
    /// whether the error is hard. RFC 1122 3.2.2.1 makes net, host and source-route
    /// failures transient (soft); Linux also treats fragmentation needed as soft for a
    /// socket that does not insist on path MTU discovery. A UDP socket without
    /// IP_RECVERR reports only hard errors, and only when it is connected. nil for codes
    /// RFC 792/1812 do not define.
    public static func socketError(_ code: UInt8) -> (errno: Int32, hard: Bool)? {
        switch code {
        case 0: (ENETUNREACH, false)
        case 1: (EHOSTUNREACH, false)
        case 2: (ENOPROTOOPT, true)
        case 3: (ECONNREFUSED, true)
        case 4: (EMSGSIZE, false)
        case 5: (EOPNOTSUPP, false)
        case 6: (ENETUNREACH, true)     // destination network unknown
        case 7: (EHOSTDOWN, true)       // destination host unknown
        case 8: (ENONET, true)          // source host isolated
        case 9: (ENETUNREACH, true)     // network administratively prohibited
        case 10: (EHOSTUNREACH, true)   // host administratively prohibited
        case 11: (ENETUNREACH, false)   // network unreachable for TOS
        case 12: (EHOSTUNREACH, false)  // host unreachable for TOS
        case 13, 14, 15: (EHOSTUNREACH, true)  // filtered, precedence violation, cut-off (RFC 1812)
        default: nil
        }
    }
}

/// Time Exceeded codes (RFC 792).
public enum ICMPTimeExceededCode {
    public static let ttlInTransit: UInt8 = 0
    public static let reassembly: UInt8 = 1
}

/// A view over an ICMP message: type, code, checksum, 4 bytes of
/// rest-of-header, then payload.
public struct ICMPPacket {
    public static let headerLength = 8

    public let bytes: UnsafeRawBufferPointer

    public init(_ bytes: UnsafeRawBufferPointer, verifyChecksum: Bool = true) throws(WireError) {
        guard bytes.count >= Self.headerLength else { throw .icmpTruncated }
        // RFC 792: the checksum covers "the ICMP message starting with the
        // ICMP Type"; RFC 1122 3.2.2 says discard on mismatch.
        if verifyChecksum && !InternetChecksum.verify(bytes) { throw .icmpBadChecksum }
        self.bytes = bytes
    }

    public var type: ICMPType { ICMPType(rawValue: bytes[0]) }
    public var code: UInt8 { bytes[1] }
    public var checksum: UInt16 { bytes.readU16(2) }
    public var restOfHeader: UInt32 { bytes.readU32(4) }
    /// Echo identifier (meaningful for echo request/reply only).
    public var echoIdentifier: UInt16 { bytes.readU16(4) }
    /// Echo sequence number (meaningful for echo request/reply only).
    public var echoSequence: UInt16 { bytes.readU16(6) }
    /// Echo data, or the quoted datagram for error messages.
    public var payload: UnsafeRawBufferPointer { bytes.slice(from: Self.headerLength) }
}

/// The datagram an ICMP error quotes (RFC 792: "the internet header plus the first 64 bits
/// of the original datagram's data"), enough to find the socket that sent it. The quote's
/// Total Length and checksum describe the original, not the quote, so they are not
/// checked; only the fields read here must be present.
public struct ICMPQuotedDatagram {
    public let bytes: UnsafeRawBufferPointer

    public init(_ bytes: UnsafeRawBufferPointer) throws(WireError) {
        guard bytes.count >= IPv4Packet.minHeaderLength + 8, bytes[0] >> 4 == 4 else { throw .icmpBadQuote }
        let headerLength = Int(bytes[0] & 0x0F) * 4
        guard headerLength >= IPv4Packet.minHeaderLength, headerLength + 8 <= bytes.count else { throw .icmpBadQuote }
        self.bytes = bytes
    }

    public var headerLength: Int { Int(bytes[0] & 0x0F) * 4 }
    public var `protocol`: IPProtocol { IPProtocol(rawValue: bytes[9]) }
    public var source: IPv4Address { IPv4Address(reading: bytes, at: 12) }
    public var destination: IPv4Address { IPv4Address(reading: bytes, at: 16) }
    /// Non-zero: the quote is of a later fragment, whose first bytes are not a transport header.
    public var fragmentOffset: Int { Int(bytes.readU16(6) & 0x1FFF) * 8 }
    /// The first two 16-bit fields after the IP header: the ports, for UDP and TCP alike.
    public var sourcePort: UInt16 { bytes.readU16(headerLength) }
    public var destinationPort: UInt16 { bytes.readU16(headerLength + 2) }
}

/// An ICMP message as a plain value.
public enum ICMPRepr: Hashable, Sendable {
    case echoRequest(identifier: UInt16, sequence: UInt16, data: [UInt8])
    case echoReply(identifier: UInt16, sequence: UInt16, data: [UInt8])
    /// `quoted` is the offending datagram's IP header + first 8 data bytes;
    /// build it with `quote(_:)`.
    case destinationUnreachable(code: UInt8, quoted: [UInt8])
    case timeExceeded(code: UInt8, quoted: [UInt8])
    /// Any other type, kept verbatim so it still round-trips.
    case other(type: UInt8, code: UInt8, restOfHeader: UInt32, data: [UInt8])

    public static func parse(_ packet: ICMPPacket) -> ICMPRepr {
        let data = Array(packet.payload)
        switch (packet.type, packet.code) {
        case (.echoRequest, 0):
            return .echoRequest(identifier: packet.echoIdentifier, sequence: packet.echoSequence, data: data)
        case (.echoReply, 0):
            return .echoReply(identifier: packet.echoIdentifier, sequence: packet.echoSequence, data: data)
        // The unused field must be zero to map onto these cases; otherwise
        // (e.g. RFC 1191 next-hop MTU) keep it in `.other` so nothing is lost.
        case (.destinationUnreachable, let code) where packet.restOfHeader == 0:
            return .destinationUnreachable(code: code, quoted: data)
        case (.timeExceeded, let code) where packet.restOfHeader == 0:
            return .timeExceeded(code: code, quoted: data)
        default:
            return .other(type: packet.type.rawValue, code: packet.code,
                          restOfHeader: packet.restOfHeader, data: data)
        }
    }

    /// RFC 792: error messages carry "the internet header plus the first 64
    /// bits of the original datagram's data" so the sender can match it to
    /// a connection (RFC 1122 3.2.2 permits more; we send exactly this).
    public static func quote(_ original: IPv4Packet) -> [UInt8] {
        let payload = original.payload
        return Array(original.header) + Array(payload.slice(0..<min(8, payload.count)))
    }

    private var fields: (type: UInt8, code: UInt8, rest: UInt32, data: [UInt8]) {
        switch self {
        case let .echoRequest(id, seq, data):
            (ICMPType.echoRequest.rawValue, 0, UInt32(id) << 16 | UInt32(seq), data)
        case let .echoReply(id, seq, data):
            (ICMPType.echoReply.rawValue, 0, UInt32(id) << 16 | UInt32(seq), data)
        case let .destinationUnreachable(code, quoted):
            (ICMPType.destinationUnreachable.rawValue, code, 0, quoted)
        case let .timeExceeded(code, quoted):
            (ICMPType.timeExceeded.rawValue, code, 0, quoted)
        case let .other(type, code, rest, data):
            (type, code, rest, data)
        }
    }

    public var bufferLength: Int { ICMPPacket.headerLength + fields.data.count }

    /// Writes the whole message with its checksum; returns bytes written,
    /// 0 if `buffer` is too small.
    @discardableResult
    public func emit(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        let f = fields
        let length = ICMPPacket.headerLength + f.data.count
        guard buffer.count >= length else { return 0 }
        buffer[0] = f.type
        buffer[1] = f.code
        buffer.writeU16(0, at: 2)
        buffer.writeU32(f.rest, at: 4)
        buffer.copyBytes(f.data, at: ICMPPacket.headerLength)
        buffer.writeU16(InternetChecksum.compute(buffer.readOnly(0..<length)), at: 2)
        return length
    }
}
