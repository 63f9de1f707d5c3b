// The address operand of a rule ("from NET", "to NET"). The addresses themselves are
// NewsWire's (the one parser and printer NEWS has); this adds only the rules-file spellings
// of two special cases: "any" for every address, and a bare address for a single host (/32).
// Parsing is strict on purpose: a firewall rule that silently means something other than
// what was typed is worse than an error, so "1.2.3", "01.2.3.4", "1.2.3.4/33", "1.2.3.4/024"
// and " 1.2.3.4" are all rejected.

import NewsWire

/// A plain non-negative decimal number no larger than `max`: ASCII digits only, no sign, no
/// leading zeros except "0" itself. Used for ports and ICMP numbers (addresses and prefixes
/// go through NewsWire).
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

/// An IPv4 network in a rule: a NewsWire `IPv4Network` (host bits cleared, so two spellings
/// of the same network compare equal and render the same) with the rules-file spellings.
public struct IPv4Net: Sendable, Hashable, CustomStringConvertible {
    public let network: IPv4Network

    /// The network address, host order (the form packet summaries and rule records use).
    public var address: UInt32 { network.address.value }
    public var prefix: UInt8 { UInt8(network.prefix) }

    /// Every address (0.0.0.0/0), written "any".
    public static let any = IPv4Net(network: .all)

    public init(network: IPv4Network) { self.network = network }

    public init?(address: UInt32, prefix: Int) {
        guard let network = IPv4Network(address: IPv4Address(address), prefix: prefix) else { return nil }
        self.network = network
    }

    /// Parses "198.18.0.0/24" (a network), "198.18.0.2" (a single host, /32) and "any" (/0).
    public static func parse(_ text: some StringProtocol) throws(AddressError) -> IPv4Net {
        if text == "any" { return .any }
        if text.contains("/") { return IPv4Net(network: try IPv4Network.parse(text)) }
        return IPv4Net(network: IPv4Network(address: try IPv4Address.parse(text), prefix: 32)!)
    }

    /// `parse`, as an optional.
    public init?(_ text: String) {
        guard let net = try? Self.parse(text) else { return nil }
        self = net
    }

    public func contains(_ address: UInt32) -> Bool { network.contains(IPv4Address(address)) }

    /// "any", a bare address for /32, otherwise the network; `parse(description)` is equal.
    public var description: String {
        switch network.prefix {
        case 0: "any"
        case 32: network.address.description
        default: network.description
        }
    }
}
