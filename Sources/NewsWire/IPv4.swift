/// IP protocol numbers (IANA "Assigned Internet Protocol Numbers").
public struct IPProtocol: RawRepresentable, Hashable, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let icmp = IPProtocol(rawValue: 1)
    public static let tcp = IPProtocol(rawValue: 6)
    public static let udp = IPProtocol(rawValue: 17)
}

/// A view over an IPv4 datagram (RFC 791 3.1).
///
/// `bytes` is trimmed to Total Length, so link-layer padding after the
/// datagram never leaks into `payload`.
public struct IPv4Packet {
    public static let minHeaderLength = 20

    public let bytes: UnsafeRawBufferPointer

    public init(_ bytes: UnsafeRawBufferPointer, verifyChecksum: Bool = true) throws(WireError) {
        guard bytes.count >= Self.minHeaderLength else { throw .ipv4Truncated }
        guard bytes[0] >> 4 == 4 else { throw .ipv4BadVersion }
        // RFC 791: "the minimum value for a correct header is 5".
        let headerLength = Int(bytes[0] & 0x0F) * 4
        guard headerLength >= Self.minHeaderLength else { throw .ipv4BadIHL }
        guard headerLength <= bytes.count else { throw .ipv4HeaderBeyondPacket }
        // RFC 1122 3.2.1.1 / 3.3.2: Total Length covers header and data.
        let total = Int(bytes.readU16(2))
        guard total >= headerLength else { throw .ipv4TotalLengthTooShort }
        guard total <= bytes.count else { throw .ipv4TotalLengthBeyondFrame }
        // RFC 1122 3.2.1.2: "A host MUST verify the IP header checksum on
        // every received datagram and silently discard every datagram that
        // has a bad checksum."
        if verifyChecksum && !InternetChecksum.verify(bytes.slice(0..<headerLength)) {
            throw .ipv4BadChecksum
        }
        try Self.validateOptions(bytes.slice(Self.minHeaderLength..<headerLength))
        self.bytes = bytes.slice(0..<total)
    }

    /// RFC 791 3.1 option format: type 0 (End of Option List) stops, type 1
    /// (No Operation) is one byte, every other option is type, length,
    /// data, where length counts the type and length bytes (so >= 2) and
    /// must fit in the header. Unknown types are fine (RFC 1122 3.2.1.8
    /// says ignore them); malformed lengths make the header unparsable.
    static func validateOptions(_ options: UnsafeRawBufferPointer) throws(WireError) {
        var i = 0
        while i < options.count {
            switch options[i] {
            case 0: return
            case 1: i += 1
            default:
                guard i + 1 < options.count else { throw .ipv4BadOptionsLength }
                let length = Int(options[i + 1])
                guard length >= 2, i + length <= options.count else { throw .ipv4BadOptionsLength }
                i += length
            }
        }
    }

    public var version: UInt8 { bytes[0] >> 4 }
    /// Header length in 32-bit words.
    public var ihl: UInt8 { bytes[0] & 0x0F }
    public var headerLength: Int { Int(ihl) * 4 }
    /// Differentiated services code point, upper 6 bits of the old TOS (RFC 2474).
    public var dscp: UInt8 { bytes[1] >> 2 }
    /// Explicit congestion notification, lower 2 bits (RFC 3168).
    public var ecn: UInt8 { bytes[1] & 0x03 }
    public var totalLength: Int { Int(bytes.readU16(2)) }
    public var identification: UInt16 { bytes.readU16(4) }
    public var dontFragment: Bool { bytes[6] & 0x40 != 0 }
    public var moreFragments: Bool { bytes[6] & 0x20 != 0 }
    /// Offset of this fragment's data in bytes (the field counts 8-byte units).
    public var fragmentOffset: Int { Int(bytes.readU16(6) & 0x1FFF) * 8 }
    /// First, middle or last fragment: MF set or non-zero offset (RFC 791 3.2).
    public var isFragment: Bool { moreFragments || fragmentOffset != 0 }
    public var ttl: UInt8 { bytes[8] }
    public var `protocol`: IPProtocol { IPProtocol(rawValue: bytes[9]) }
    public var headerChecksum: UInt16 { bytes.readU16(10) }
    public var source: IPv4Address { IPv4Address(reading: bytes, at: 12) }
    public var destination: IPv4Address { IPv4Address(reading: bytes, at: 16) }
    public var options: UnsafeRawBufferPointer { bytes.slice(Self.minHeaderLength..<headerLength) }
    public var header: UnsafeRawBufferPointer { bytes.slice(0..<headerLength) }
    /// Exactly Total Length minus the header.
    public var payload: UnsafeRawBufferPointer { bytes.slice(from: headerLength) }

    /// RFC 1122 3.2.1.3: a broadcast or multicast source "MUST be silently
    /// discarded" (also RFC 1812 5.3.7). Separate from `init` because the
    /// policy belongs to the IP layer, which also counts it.
    public func checkSource() throws(WireError) {
        // RFC 1122 3.2.1.3: a host MUST silently discard a datagram whose source is a
        // broadcast, multicast, loopback (127/8) or reserved class E (240/4) address.
        // 0.0.0.0 stays valid: hosts use it while they learn their address.
        if source.isBroadcast || source.isMulticast || source.isLoopback || source.value >> 28 == 0xF {
            throw .ipv4MartianSource
        }
    }
}

/// IPv4 header without options, as a plain value.
public struct IPv4Header: Hashable, Sendable {
    public var source: IPv4Address
    public var destination: IPv4Address
    public var `protocol`: IPProtocol
    public var ttl: UInt8
    public var identification: UInt16
    public var dontFragment: Bool
    public var moreFragments: Bool
    /// In bytes; must be a multiple of 8 and at most 8191 * 8 to be emitted.
    public var fragmentOffset: Int
    public var payloadLength: Int
    public var dscp: UInt8
    public var ecn: UInt8

    public init(source: IPv4Address, destination: IPv4Address, protocol proto: IPProtocol,
                ttl: UInt8 = 64, identification: UInt16 = 0, dontFragment: Bool = false,
                moreFragments: Bool = false, fragmentOffset: Int = 0, payloadLength: Int,
                dscp: UInt8 = 0, ecn: UInt8 = 0) {
        self.source = source
        self.destination = destination
        self.protocol = proto
        self.ttl = ttl
        self.identification = identification
        self.dontFragment = dontFragment
        self.moreFragments = moreFragments
        self.fragmentOffset = fragmentOffset
        self.payloadLength = payloadLength
        self.dscp = dscp
        self.ecn = ecn
    }

    /// Options in `packet` are not carried over (see `IPv4Packet.options`).
    public static func parse(_ packet: IPv4Packet) -> IPv4Header {
        IPv4Header(source: packet.source, destination: packet.destination, protocol: packet.protocol,
                   ttl: packet.ttl, identification: packet.identification,
                   dontFragment: packet.dontFragment, moreFragments: packet.moreFragments,
                   fragmentOffset: packet.fragmentOffset, payloadLength: packet.payload.count,
                   dscp: packet.dscp, ecn: packet.ecn)
    }

    public var headerLength: Int { IPv4Packet.minHeaderLength }
    public var totalLength: Int { headerLength + payloadLength }

    /// The header a router forwards: TTL one lower. RFC 1812 5.3.1: "if the
    /// TTL is reduced to zero (or less), the packet MUST be discarded".
    /// Only for forwarding — RFC 1122 3.2.1.7: a host "MUST NOT discard a
    /// datagram just because it was received with TTL less than 2".
    public func forwarded() throws(WireError) -> IPv4Header {
        guard ttl > 1 else { throw .ipv4TTLZero }
        var copy = self
        copy.ttl = ttl - 1
        return copy
    }

    /// Writes the 20-byte header with its checksum; returns bytes written,
    /// or 0 if `buffer` is too small or a field does not fit its wire width.
    @discardableResult
    public func emit(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        guard buffer.count >= IPv4Packet.minHeaderLength,
              payloadLength >= 0, totalLength <= Int(UInt16.max),
              fragmentOffset >= 0, fragmentOffset % 8 == 0, fragmentOffset / 8 <= 0x1FFF,
              dscp < 64, ecn < 4 else { return 0 }
        buffer[0] = 0x45
        buffer[1] = dscp << 2 | ecn
        buffer.writeU16(UInt16(totalLength), at: 2)
        buffer.writeU16(identification, at: 4)
        var flagsAndOffset = UInt16(fragmentOffset / 8)
        if dontFragment { flagsAndOffset |= 0x4000 }
        if moreFragments { flagsAndOffset |= 0x2000 }
        buffer.writeU16(flagsAndOffset, at: 6)
        buffer[8] = ttl
        buffer[9] = `protocol`.rawValue
        buffer.writeU16(0, at: 10)
        source.write(to: buffer, at: 12)
        destination.write(to: buffer, at: 16)
        // RFC 791: "For purposes of computing the checksum, the value of the
        // checksum field is zero."
        let sum = InternetChecksum.compute(buffer.readOnly(0..<IPv4Packet.minHeaderLength))
        buffer.writeU16(sum, at: 10)
        return IPv4Packet.minHeaderLength
    }
}
