/// An IPv4 address, stored in host order (`value` = a.b.c.d as a<<24|...|d).
public struct IPv4Address: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let value: UInt32

    public init(_ value: UInt32) { self.value = value }

    public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
        value = UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d)
    }

    /// Strict dotted quad: exactly four decimal parts 0-255, nothing else.
    /// Leading zeros ("01") are rejected: inet_aton reads them as octal, so
    /// accepting them would make "010.0.0.1" mean different things to
    /// different tools.
    public init?(_ text: String) {
        var result: UInt32 = 0
        var parts = 0
        var part: UInt32 = 0
        var digits = 0
        var leadingZero = false
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                if leadingZero { return nil }
                if digits == 0 && byte == UInt8(ascii: "0") { leadingZero = true }
                part = part * 10 + UInt32(byte - UInt8(ascii: "0"))
                digits += 1
                if digits > 3 || part > 255 { return nil }
            case UInt8(ascii: "."):
                guard digits > 0, parts < 3 else { return nil }
                result = result << 8 | part
                parts += 1
                part = 0; digits = 0; leadingZero = false
            default:
                return nil
            }
        }
        guard digits > 0, parts == 3 else { return nil }
        value = result << 8 | part
    }

    public static let unspecified = IPv4Address(0)
    public static let broadcast = IPv4Address(0xFFFF_FFFF)

    public var octets: (UInt8, UInt8, UInt8, UInt8) {
        (UInt8(truncatingIfNeeded: value >> 24), UInt8(truncatingIfNeeded: value >> 16),
         UInt8(truncatingIfNeeded: value >> 8), UInt8(truncatingIfNeeded: value))
    }

    public var description: String {
        let o = octets
        return "\(o.0).\(o.1).\(o.2).\(o.3)"
    }

    /// Limited broadcast 255.255.255.255 (RFC 919). Directed broadcasts
    /// depend on the subnet: see `IPv4Network.broadcast`.
    public var isBroadcast: Bool { value == 0xFFFF_FFFF }
    /// Class D, 224.0.0.0/4 (RFC 1112 4).
    public var isMulticast: Bool { value >> 28 == 0xE }
    /// 127.0.0.0/8 (RFC 1122 3.2.1.3 (g)).
    public var isLoopback: Bool { value >> 24 == 127 }
    /// 0.0.0.0, "this host" (RFC 1122 3.2.1.3 (a)).
    public var isUnspecified: Bool { value == 0 }

    /// Same network as `net` under a `prefix`-bit mask. Prefix outside
    /// 0...32 matches nothing.
    public func isInSubnet(_ net: IPv4Address, prefix: Int) -> Bool {
        guard let mask = IPv4Network.mask(prefix: prefix) else { return false }
        return value & mask == net.value & mask
    }

    public static func < (lhs: IPv4Address, rhs: IPv4Address) -> Bool { lhs.value < rhs.value }

    init(reading bytes: UnsafeRawBufferPointer, at offset: Int) {
        value = bytes.readU32(offset)
    }

    func write(to buffer: UnsafeMutableRawBufferPointer, at offset: Int) {
        buffer.writeU32(value, at: offset)
    }
}

/// An IPv4 prefix such as 198.18.0.0/24. The address is kept as written;
/// `networkAddress` gives it with host bits cleared.
public struct IPv4Network: Hashable, Sendable, CustomStringConvertible {
    public let address: IPv4Address
    public let prefix: Int

    public init?(address: IPv4Address, prefix: Int) {
        guard (0...32).contains(prefix) else { return nil }
        self.address = address
        self.prefix = prefix
    }

    /// "a.b.c.d/n", n in 0...32, with no leading zeros or spaces.
    public init?(_ text: String) {
        let pieces = text.split(separator: "/", omittingEmptySubsequences: false)
        guard pieces.count == 2, let addr = IPv4Address(String(pieces[0])) else { return nil }
        let digits = pieces[1].utf8
        guard (1...2).contains(digits.count),
              digits.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
              digits.count == 1 || digits.first != UInt8(ascii: "0"),
              let n = Int(pieces[1]) else { return nil }
        self.init(address: addr, prefix: n)
    }

    static func mask(prefix: Int) -> UInt32? {
        guard (0...32).contains(prefix) else { return nil }
        return prefix == 0 ? 0 : UInt32.max << UInt32(32 - prefix)
    }

    public var netmask: IPv4Address { IPv4Address(Self.mask(prefix: prefix) ?? 0) }
    public var networkAddress: IPv4Address { IPv4Address(address.value & netmask.value) }
    /// All host bits set (RFC 922). For /31 and /32 this is just the top
    /// address; RFC 3021 /31 links have no broadcast, so callers that care
    /// must check the prefix.
    public var broadcast: IPv4Address { IPv4Address(address.value | ~netmask.value) }

    public func contains(_ ip: IPv4Address) -> Bool { ip.isInSubnet(address, prefix: prefix) }

    public var description: String { "\(networkAddress)/\(prefix)" }
}

/// A 48-bit IEEE 802 MAC address, kept in the low 48 bits of `rawValue`
/// (first wire byte most significant).
public struct MACAddress: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt64

    public init(rawValue: UInt64) { self.rawValue = rawValue & 0xFFFF_FFFF_FFFF }

    public init(_ b0: UInt8, _ b1: UInt8, _ b2: UInt8, _ b3: UInt8, _ b4: UInt8, _ b5: UInt8) {
        rawValue = UInt64(b0) << 40 | UInt64(b1) << 32 | UInt64(b2) << 24
            | UInt64(b3) << 16 | UInt64(b4) << 8 | UInt64(b5)
    }

    /// "02:00:00:00:00:01": six groups of exactly two hex digits, ':'-separated.
    public init?(_ text: String) {
        var value: UInt64 = 0
        var groups = 0
        var digitsInGroup = 0
        for byte in text.utf8 {
            if byte == UInt8(ascii: ":") {
                guard digitsInGroup == 2, groups < 5 else { return nil }
                groups += 1
                digitsInGroup = 0
                continue
            }
            guard let nibble = Self.hexValue(byte), digitsInGroup < 2 else { return nil }
            value = value << 4 | UInt64(nibble)
            digitsInGroup += 1
        }
        guard groups == 5, digitsInGroup == 2 else { return nil }
        rawValue = value
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    public static let broadcast = MACAddress(rawValue: 0xFFFF_FFFF_FFFF)
    public static let zero = MACAddress(rawValue: 0)

    /// Byte `index` (0...5) in wire order.
    public subscript(index: Int) -> UInt8 {
        UInt8(truncatingIfNeeded: rawValue >> UInt64(8 * (5 - index)))
    }

    public var octets: [UInt8] { (0..<6).map { self[$0] } }

    public var isBroadcast: Bool { rawValue == 0xFFFF_FFFF_FFFF }
    /// I/G bit: least significant bit of the first octet (IEEE 802-2014 8.2).
    /// Broadcast is a multicast address too.
    public var isMulticast: Bool { self[0] & 0x01 != 0 }
    public var isUnicast: Bool { !isMulticast }

    public var description: String {
        let hex: [Character] = Array("0123456789abcdef")
        var out = ""
        for i in 0..<6 {
            if i > 0 { out.append(":") }
            out.append(hex[Int(self[i] >> 4)])
            out.append(hex[Int(self[i] & 0xF)])
        }
        return out
    }

    init(reading bytes: UnsafeRawBufferPointer, at offset: Int) {
        var v: UInt64 = 0
        for i in 0..<6 { v = v << 8 | UInt64(bytes[offset + i]) }
        rawValue = v
    }

    func write(to buffer: UnsafeMutableRawBufferPointer, at offset: Int) {
        for i in 0..<6 { buffer[offset + i] = self[i] }
    }
}
