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
