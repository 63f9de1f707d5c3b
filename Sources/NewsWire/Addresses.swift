// The one address vocabulary of NEWS: IPv4 addresses, IPv4 networks, IPv4 interface
// addresses (host/prefix) and MAC addresses, with the only parsers and printers for them.
// Configuration checking (newsd --check-config), the servers' launch parameters, the packet
// filter's rules and the tools all go through these, so a text one of them accepts, all accept.
//
// The grammar is strict on purpose; each rule closes a real ambiguity:
//   IPv4 address  exactly four decimal octets 0...255 separated by '.', no leading zeros
//                 ("0" itself is fine), no signs, no spaces, no empty parts. inet_aton reads
//                 "010" as octal and "1.2.3" as 1.2.0.3, so accepting them would make one
//                 text mean different addresses to different tools.
//   prefix        decimal 0...32, no leading zeros, no sign ("/024", "/+24", "/ 24", "/33",
//                 "/" are rejected).
//   IPv4 network  ADDRESS/PREFIX; host bits are cleared ("198.19.8.7/16" is 198.19.0.0/16,
//                 the usual reading of a network written with a host inside it).
//   interface     ADDRESS/PREFIX naming this host's address inside its network: host bits
//                 kept, and the address must be one a host may hold (see IPv4Interface).
//   MAC address   exactly six groups of two hex digits (either case) separated by ':'. The
//                 '-' form and one-digit groups are rejected: one spelling, the one `ip link`
//                 prints, so every tool prints back what it was given.

/// Why a text is not the address it should be. `description` names the text and the rule.
public struct AddressError: Error, Equatable, Hashable, Sendable, CustomStringConvertible {
    public enum Reason: Equatable, Hashable, Sendable {
        /// Not four decimal octets 0...255 without leading zeros.
        case notDottedQuad
        /// No "/PREFIX" where one is required.
        case missingPrefix
        /// The prefix is not decimal 0...32 without leading zeros or sign.
        case badPrefix
        /// Not six two-digit hex groups separated by ':'.
        case notMAC
        /// An interface address with a prefix outside 1...30.
        case unsupportedHostPrefix
        /// The host part is all zeros: the network's own address (RFC 1122 3.2.1.3).
        case networkAddress
        /// The host part is all ones: the directed broadcast address (RFC 922).
        case broadcastAddress
        /// 0.0.0.0/8, 127.0.0.0/8, multicast 224.0.0.0/4 or reserved 240.0.0.0/4.
        case notAHostAddress
        /// A group MAC address (I/G bit set) where a station's own address is needed.
        case groupMAC
        /// 00:00:00:00:00:00 where a station's own address is needed.
        case zeroMAC
        /// A gateway outside the connected network (RFC 1122 3.3.1.1).
        case gatewayNotOnNetwork(IPv4Network)
        /// A gateway equal to the interface's own address.
        case gatewayIsOwnAddress
    }

    /// The text that was rejected, exactly as given.
    public let text: String
    public let reason: Reason

    public init(_ text: some StringProtocol, _ reason: Reason) {
        self.text = String(text)
        self.reason = reason
    }

    /// What the rule is, without the text (for messages that show the text themselves).
    public var explanation: String {
        switch reason {
        case .notDottedQuad:
            "an IPv4 address is four decimal numbers 0-255 separated by dots, without leading zeros, signs or spaces"
        case .missingPrefix: "a prefix length is missing: write ADDRESS/PREFIX"
        case .badPrefix: "the prefix length must be a decimal number 0-32 without leading zeros, sign or spaces"
        case .notMAC: "a MAC address is six two-digit hex groups separated by ':', like 02:4e:57:53:00:02"
        case .unsupportedHostPrefix:
            "a host address needs a prefix length 1-30 (/31 point-to-point links, RFC 3021, and /32 are not supported)"
        case .networkAddress: "the host part is all zeros: that is the network's own address, not a host's"
        case .broadcastAddress: "the host part is all ones: that is the network's broadcast address, not a host's"
        case .notAHostAddress:
            "0.0.0.0/8, 127.0.0.0/8, 224.0.0.0/4 (multicast) and 240.0.0.0/4 (reserved) cannot be a host's address"
        case .groupMAC: "the first octet's low bit is set: that is a group (multicast) address, not a station's"
        case .zeroMAC: "00:00:00:00:00:00 is not a station's address"
        case .gatewayNotOnNetwork(let net): "the gateway is not on the connected network \(net)"
        case .gatewayIsOwnAddress: "the gateway is this host's own address"
        }
    }

    public var description: String { "\"\(text)\": \(explanation)" }
}

/// Strict decimal: 1 to `maxDigits` ASCII digits, no leading zero unless the number is 0,
/// no sign, value at most `max`. The one number reader behind octets and prefixes.
private func strictDecimal(_ digits: Substring.UTF8View, max: UInt32, maxDigits: Int) -> UInt32? {
    guard let first = digits.first, digits.count <= maxDigits else { return nil }
    if first == UInt8(ascii: "0") && digits.count > 1 { return nil }
    var value: UInt32 = 0
    for d in digits {
        guard d >= UInt8(ascii: "0") && d <= UInt8(ascii: "9") else { return nil }
        value = value * 10 + UInt32(d - UInt8(ascii: "0"))
    }
    return value <= max ? value : nil
}

/// Splits "A/B" into its two parts; nil unless there is exactly one '/'.
private func splitPrefix(_ text: Substring) -> (Substring, Substring)? {
    guard let slash = text.firstIndex(of: "/") else { return nil }
    let rest = text[text.index(after: slash)...]
    guard !rest.contains("/") else { return nil }
    return (text[..<slash], rest)
}

/// The prefix part of "ADDRESS/PREFIX".
private func parsePrefix(_ digits: Substring, of text: some StringProtocol) throws(AddressError) -> Int {
    guard let n = strictDecimal(digits.utf8, max: 32, maxDigits: 2) else { throw AddressError(text, .badPrefix) }
    return Int(n)
}

/// An IPv4 address, stored in host order (`value` = a.b.c.d as a<<24|...|d).
public struct IPv4Address: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let value: UInt32

    public init(_ value: UInt32) { self.value = value }

    public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
        value = UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d)
    }

    /// A strict dotted quad (see the grammar at the top of this file).
    public static func parse(_ text: some StringProtocol) throws(AddressError) -> IPv4Address {
        let whole = Substring(text)
        let parts = whole.split(separator: ".", maxSplits: 4, omittingEmptySubsequences: false)
        guard parts.count == 4 else { throw AddressError(text, .notDottedQuad) }
        var result: UInt32 = 0
        for part in parts {
            guard let octet = strictDecimal(part.utf8, max: 255, maxDigits: 3) else {
                throw AddressError(text, .notDottedQuad)
            }
            result = result << 8 | octet
        }
        return IPv4Address(result)
    }

    /// `parse`, as an optional.
    public init?(_ text: String) {
        guard let a = try? Self.parse(text) else { return nil }
        self = a
    }

    public static let unspecified = IPv4Address(0)
    public static let broadcast = IPv4Address(0xFFFF_FFFF)

    public var octets: (UInt8, UInt8, UInt8, UInt8) {
        (UInt8(truncatingIfNeeded: value >> 24), UInt8(truncatingIfNeeded: value >> 16),
         UInt8(truncatingIfNeeded: value >> 8), UInt8(truncatingIfNeeded: value))
    }

    /// The dotted quad; `parse(description)` gives the address back.
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

    /// Whether a host may be configured with this address at all, whatever the network:
    /// not in 0.0.0.0/8 ("this network", RFC 1122 3.2.1.3 (a)/(b): only a source while
    /// booting), 127.0.0.0/8 (loopback, (g)), 224.0.0.0/4 (multicast, RFC 1112 4) or
    /// 240.0.0.0/4 (reserved, RFC 1112 4; includes 255.255.255.255).
    public var isAssignableToHost: Bool {
        value >> 24 != 0 && !isLoopback && value >> 28 < 0xE
    }

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

/// An IPv4 network such as 198.18.0.0/24. The address is kept with its host bits cleared,
/// so two spellings of one network compare equal and print the same.
public struct IPv4Network: Hashable, Sendable, CustomStringConvertible {
    /// The network's own address (host bits zero).
    public let address: IPv4Address
    public let prefix: Int

    /// Every address, 0.0.0.0/0.
    public static let all = IPv4Network(masking: .unspecified, prefix: 0)

    /// The network of `address` under `prefix` (host bits cleared); nil unless 0...32.
    public init?(address: IPv4Address, prefix: Int) {
        guard (0...32).contains(prefix) else { return nil }
        self.init(masking: address, prefix: prefix)
    }

    private init(masking address: IPv4Address, prefix: Int) {
        self.address = IPv4Address(address.value & (Self.mask(prefix: prefix) ?? 0))
        self.prefix = prefix
    }

    /// "ADDRESS/PREFIX", strictly (see the grammar at the top of this file); host bits in
    /// the address are cleared.
    public static func parse(_ text: some StringProtocol) throws(AddressError) -> IPv4Network {
        guard let (addressText, prefixText) = splitPrefix(Substring(text)) else {
            _ = try IPv4Address.parse(text)  // a bad address is the better complaint
            throw AddressError(text, .missingPrefix)
        }
        let address: IPv4Address
        do { address = try IPv4Address.parse(addressText) } catch { throw AddressError(text, .notDottedQuad) }
        return IPv4Network(masking: address, prefix: try parsePrefix(prefixText, of: text))
    }

    /// `parse`, as an optional.
    public init?(_ text: String) {
        guard let n = try? Self.parse(text) else { return nil }
        self = n
    }

    /// The mask of a `prefix`-bit network as a host-order value; nil unless 0...32.
    public static func mask(prefix: Int) -> UInt32? {
        guard (0...32).contains(prefix) else { return nil }
        return prefix == 0 ? 0 : UInt32.max << UInt32(32 - prefix)
    }

    public var netmask: IPv4Address { IPv4Address(Self.mask(prefix: prefix) ?? 0) }
    /// The same as `address` (kept for callers that name it this way).
    public var networkAddress: IPv4Address { address }
    /// All host bits set (RFC 922). For /31 and /32 this is just the top
    /// address; RFC 3021 /31 links have no broadcast, so callers that care
    /// must check the prefix.
    public var broadcast: IPv4Address { IPv4Address(address.value | ~netmask.value) }

    public func contains(_ ip: IPv4Address) -> Bool { ip.value & netmask.value == address.value }

    /// "ADDRESS/PREFIX"; `parse(description)` gives the network back.
    public var description: String { "\(address)/\(prefix)" }
}

/// This host's address on a network, written "198.18.0.2/24": the address keeps its host
/// bits, and `network` is the connected network it implies. Only addresses a host may be
/// configured with are representable:
/// - the prefix is 1...30: /0 is no network; on /31 (RFC 3021 point-to-point) and /32 the
///   network and broadcast addresses below would be hosts, which the stack does not handle;
/// - the host part is neither all zeros (the network itself) nor all ones (its directed
///   broadcast), RFC 1122 3.2.1.3 and RFC 922;
/// - the address is `isAssignableToHost` (not 0/8, loopback, multicast or reserved).
public struct IPv4Interface: Hashable, Sendable, CustomStringConvertible {
    public let address: IPv4Address
    public let network: IPv4Network

    public var prefix: Int { network.prefix }

    /// Checks `address/prefix` against the rules above.
    public static func make(address: IPv4Address, prefix: Int) throws(AddressError) -> IPv4Interface {
        let text = "\(address)/\(prefix)"
        guard (1...30).contains(prefix), let network = IPv4Network(address: address, prefix: prefix) else {
            throw AddressError(text, .unsupportedHostPrefix)
        }
        if address == network.address { throw AddressError(text, .networkAddress) }
        if address == network.broadcast { throw AddressError(text, .broadcastAddress) }
        guard address.isAssignableToHost else { throw AddressError(text, .notAHostAddress) }
        return IPv4Interface(address: address, network: network)
    }

    /// `make`, as an optional.
    public init?(address: IPv4Address, prefix: Int) {
        guard let i = try? Self.make(address: address, prefix: prefix) else { return nil }
        self = i
    }

    private init(address: IPv4Address, network: IPv4Network) {
        self.address = address
        self.network = network
    }

    /// "ADDRESS/PREFIX", strictly (see the grammar at the top of this file), then the rules
    /// above. Errors name `text` as given.
    public static func parse(_ text: some StringProtocol) throws(AddressError) -> IPv4Interface {
        guard let (addressText, prefixText) = splitPrefix(Substring(text)) else {
            _ = try IPv4Address.parse(text)
            throw AddressError(text, .missingPrefix)
        }
        let address: IPv4Address
        do { address = try IPv4Address.parse(addressText) } catch { throw AddressError(text, .notDottedQuad) }
        let prefix = try parsePrefix(prefixText, of: text)
        do { return try make(address: address, prefix: prefix) } catch { throw AddressError(text, error.reason) }
    }

    /// `parse`, as an optional.
    public init?(_ text: String) {
        guard let i = try? Self.parse(text) else { return nil }
        self = i
    }

    /// A default gateway for this interface, from its text: a strict address on the
    /// connected network (RFC 1122 3.3.1.1: a host's gateways are on a connected network)
    /// that is a host there and is not this interface's own address.
    public func gateway(_ text: some StringProtocol) throws(AddressError) -> IPv4Address {
        let g = try IPv4Address.parse(text)
        guard network.contains(g) else { throw AddressError(text, .gatewayNotOnNetwork(network)) }
        if g == network.address { throw AddressError(text, .networkAddress) }
        if g == network.broadcast { throw AddressError(text, .broadcastAddress) }
        if g == address { throw AddressError(text, .gatewayIsOwnAddress) }
        return g
    }

    /// "ADDRESS/PREFIX" with the host bits; `parse(description)` gives the interface back.
    public var description: String { "\(address)/\(prefix)" }
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

    /// The address from its six octets in wire order; nil unless exactly six are given.
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == 6 else { return nil }
        rawValue = bytes.reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// "02:4e:57:53:00:02": six groups of exactly two hex digits, ':'-separated (see the
    /// grammar at the top of this file).
    public static func parse(_ text: some StringProtocol) throws(AddressError) -> MACAddress {
        var value: UInt64 = 0
        var groups = 0
        var digitsInGroup = 0
        for byte in text.utf8 {
            if byte == UInt8(ascii: ":") {
                guard digitsInGroup == 2, groups < 5 else { throw AddressError(text, .notMAC) }
                groups += 1
                digitsInGroup = 0
                continue
            }
            guard let nibble = Self.hexValue(byte), digitsInGroup < 2 else { throw AddressError(text, .notMAC) }
            value = value << 4 | UInt64(nibble)
            digitsInGroup += 1
        }
        guard groups == 5, digitsInGroup == 2 else { throw AddressError(text, .notMAC) }
        return MACAddress(rawValue: value)
    }

    /// `parse`, as an optional.
    public init?(_ text: String) {
        guard let m = try? Self.parse(text) else { return nil }
        self = m
    }

    /// A station's own address from its text: `parse`, and then it must be individual (I/G
    /// bit clear, IEEE 802-2014 8.2) and not all zeros. A NIC's MAC in the configuration.
    public static func parseStation(_ text: some StringProtocol) throws(AddressError) -> MACAddress {
        let mac = try parse(text)
        if mac.isMulticast { throw AddressError(text, .groupMAC) }
        if mac == .zero { throw AddressError(text, .zeroMAC) }
        return mac
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

    /// The six octets in wire order.
    public var octets: [UInt8] { (0..<6).map { self[$0] } }

    public var isBroadcast: Bool { rawValue == 0xFFFF_FFFF_FFFF }
    /// I/G bit: least significant bit of the first octet (IEEE 802-2014 8.2).
    /// Broadcast is a multicast address too.
    public var isMulticast: Bool { self[0] & 0x01 != 0 }
    public var isUnicast: Bool { !isMulticast }

    /// Lower-case "xx:xx:xx:xx:xx:xx"; `parse(description)` gives the address back.
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
