// IPv4 addresses and networks as the rules file writes them. Parsing is strict on purpose: a
// firewall rule that silently means something other than what was typed is worse than an error,
// so "1.2.3", "01.2.3.4", "1.2.3.4/33" and " 1.2.3.4" are all rejected.

/// Dotted-quad parsing and formatting for host-order IPv4 addresses.
public enum IPv4 {
    /// Parses exactly four decimal octets 0...255 separated by dots, without leading zeros
    /// (which some tools read as octal) or any other characters.
    public static func parse<S: StringProtocol>(_ text: S) -> UInt32? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var address: UInt32 = 0
        for part in parts {
            guard let octet = parseDecimal(part, max: 255) else { return nil }
            address = address << 8 | UInt32(octet)
        }
        return address
    }

    public static func format(_ address: UInt32) -> String {
        "\(address >> 24).\(address >> 16 & 0xFF).\(address >> 8 & 0xFF).\(address & 0xFF)"
    }
}

/// A plain non-negative decimal number no larger than `max`: ASCII digits only, no sign, no
/// leading zeros except "0" itself. Shared by addresses, prefixes, ports and ICMP numbers.
func parseDecimal<S: StringProtocol>(_ text: S, max: Int) -> Int? {
    let digits = text.utf8
    guard let first = digits.first, digits.count <= 10 else { return nil }
    if first == UInt8(ascii: "0") && digits.count > 1 { return nil }
    var value = 0
    for d in digits {
        guard d >= UInt8(ascii: "0") && d <= UInt8(ascii: "9") else { return nil }
        value = value * 10 + Int(d - UInt8(ascii: "0"))
        if value > max { return nil }
    }
    return value
}

/// An IPv4 network: an address and a prefix length 0...32. The address is stored with the host
/// bits cleared, so two spellings of the same network compare equal and render the same.
public struct IPv4Net: Sendable, Hashable, CustomStringConvertible {
    public let address: UInt32
    public let prefix: UInt8

    /// Every address (0.0.0.0/0), written "any".
    public static let any = IPv4Net(uncheckedAddress: 0, prefix: 0)

    public init?(address: UInt32, prefix: Int) {
        guard (0...32).contains(prefix) else { return nil }
        self.init(uncheckedAddress: address, prefix: UInt8(prefix))
    }

    private init(uncheckedAddress: UInt32, prefix: UInt8) {
        self.prefix = prefix
        self.address = uncheckedAddress & IPv4Net.mask(prefix)
    }

    /// Parses "198.18.0.0/24", "198.18.0.2" (a single host, /32) and "any" (/0).
    public init?(_ text: String) {
        if text == "any" {
            self = .any
            return
        }
        let pieces = text.split(separator: "/", omittingEmptySubsequences: false)
        guard pieces.count == 1 || pieces.count == 2, let address = IPv4.parse(pieces[0]) else {
            return nil
        }
        var prefix = 32
        if pieces.count == 2 {
            guard let p = parseDecimal(pieces[1], max: 32) else { return nil }
            prefix = p
        }
        self.init(uncheckedAddress: address, prefix: UInt8(prefix))
    }

    public var mask: UInt32 { IPv4Net.mask(prefix) }

    public func contains(_ address: UInt32) -> Bool { address & mask == self.address }

    public var description: String {
        switch prefix {
        case 0: "any"
        case 32: IPv4.format(address)
        default: "\(IPv4.format(address))/\(prefix)"
        }
    }

    private static func mask(_ prefix: UInt8) -> UInt32 {
        prefix == 0 ? 0 : UInt32.max << (32 - UInt32(prefix))
    }
}
