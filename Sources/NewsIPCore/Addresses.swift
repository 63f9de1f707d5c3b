// Address types for the IP core. Kept deliberately tiny: the wire/OS layer maps these later.

/// An IPv4 address in host byte order (198.18.0.1 == 0xC612_0001).
public typealias IPv4 = UInt32

/// A 48-bit Ethernet hardware address, stored in wire order (octet 0 is sent first).
public struct MAC: Hashable, Sendable, CustomStringConvertible {
    public var octets: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8)

    public init(_ o0: UInt8, _ o1: UInt8, _ o2: UInt8, _ o3: UInt8, _ o4: UInt8, _ o5: UInt8) {
        octets = (o0, o1, o2, o3, o4, o5)
    }

    /// Returns nil unless exactly six bytes are given.
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == 6 else { return nil }
        let b = Array(bytes)
        self.init(b[0], b[1], b[2], b[3], b[4], b[5])
    }

    public static let broadcast = MAC(0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF)
    public static let zero = MAC(0, 0, 0, 0, 0, 0)

    public var bytes: [UInt8] { [octets.0, octets.1, octets.2, octets.3, octets.4, octets.5] }

    /// The I/G bit (least significant bit of the first octet) marks group addresses,
    /// which includes broadcast. A host never legitimately owns one.
    public var isMulticast: Bool { octets.0 & 1 == 1 }

    public static func == (a: MAC, b: MAC) -> Bool { a.bytes == b.bytes }
    public func hash(into hasher: inout Hasher) { hasher.combine(bytes) }

    public var description: String {
        bytes.map { b in
            let hex = Array("0123456789abcdef")
            return String([hex[Int(b >> 4)], hex[Int(b & 0xF)]])
        }.joined(separator: ":")
    }
}

/// Dotted-quad formatting for diagnostics and error messages.
public func formatIPv4(_ ip: IPv4) -> String {
    "\(ip >> 24).\((ip >> 16) & 0xFF).\((ip >> 8) & 0xFF).\(ip & 0xFF)"
}

/// Builds an address from its four dotted-quad parts, most significant first.
public func makeIPv4(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) -> IPv4 {
    IPv4(a) << 24 | IPv4(b) << 16 | IPv4(c) << 8 | IPv4(d)
}

/// The netmask for a prefix length 0...32 (0 gives 0, 32 gives all ones).
public func netmask(prefixLength: Int) -> IPv4 {
    precondition((0...32).contains(prefixLength), "prefix length out of range")
    return prefixLength == 0 ? 0 : ~IPv4(0) << IPv4(32 - prefixLength)
}
