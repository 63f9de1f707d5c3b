// One line of the rules file in structured form, and how it matches a packet. Rules carry no
// state: counters live in the RuleStore, connection state in the FlowTable.

public enum Action: UInt8, Sendable, Hashable, CustomStringConvertible {
    case allow = 0
    case deny = 1
    public var description: String { self == .allow ? "allow" : "deny" }
}

/// The direction a rule applies to; unlike `Direction` it has `any`.
public enum RuleDirection: UInt8, Sendable, Hashable, CustomStringConvertible {
    case `in` = 0
    case out = 1
    case any = 2

    public func matches(_ d: Direction) -> Bool { self == .any || rawValue == d.rawValue }
    public var description: String {
        switch self {
        case .in: "in"
        case .out: "out"
        case .any: "any"
        }
    }
}

/// The protocol a rule applies to. Raw values are IPv4 protocol numbers, except `any`.
public enum RuleProtocol: UInt8, Sendable, Hashable, CustomStringConvertible {
    case any = 0
    case icmp = 1
    case tcp = 6
    case udp = 17

    public func matches(_ p: IPProtocol) -> Bool { self == .any || rawValue == p.number }
    public var hasPorts: Bool { self == .tcp || self == .udp }
    public var description: String {
        switch self {
        case .any: "any"
        case .icmp: "icmp"
        case .tcp: "tcp"
        case .udp: "udp"
        }
    }
}

/// An inclusive port range; a single port is a range of one.
public struct PortRange: Sendable, Hashable, CustomStringConvertible {
    public let lower: UInt16
    public let upper: UInt16

    public init?(_ lower: UInt16, _ upper: UInt16) {
        guard lower <= upper else { return nil }
        self.lower = lower
        self.upper = upper
    }

    public init(_ port: UInt16) {
        lower = port
        upper = port
    }

    /// Parses "P" or "P-Q" (0...65535, P <= Q).
    public init?(_ text: Substring) {
        let pieces = text.split(separator: "-", omittingEmptySubsequences: false)
        guard pieces.count == 1 || pieces.count == 2,
              let lo = parseDecimal(pieces[0], max: 65535),
              let hi = pieces.count == 2 ? parseDecimal(pieces[1], max: 65535) : lo,
              let range = PortRange(UInt16(lo), UInt16(hi))
        else { return nil }
        self = range
    }

    public func contains(_ port: UInt16) -> Bool { lower <= port && port <= upper }
    public var description: String { lower == upper ? "\(lower)" : "\(lower)-\(upper)" }
}

/// `type N [code M]` of an ICMP rule.
public struct ICMPMatch: Sendable, Hashable {
    public let type: UInt8
    public let code: UInt8?
    public init(type: UInt8, code: UInt8? = nil) {
        self.type = type
        self.code = code
    }
}

/// `ACTION DIR PROTO [from NET [port P|P-Q]] [to NET [port P|P-Q]] [type N [code M]]`.
public struct Rule: Sendable, Hashable, CustomStringConvertible {
    public let action: Action
    public let direction: RuleDirection
    public let proto: RuleProtocol
    public let src: IPv4Net
    public let srcPorts: PortRange?
    public let dst: IPv4Net
    public let dstPorts: PortRange?
    public let icmp: ICMPMatch?

    /// Nil when the parts contradict each other (ports without tcp/udp, type without icmp), so
    /// no Rule value can hold a combination the rules file would reject.
    public init?(
        _ action: Action, _ direction: RuleDirection, _ proto: RuleProtocol,
        src: IPv4Net = .any, srcPorts: PortRange? = nil,
        dst: IPv4Net = .any, dstPorts: PortRange? = nil, icmp: ICMPMatch? = nil
    ) {
        if (srcPorts != nil || dstPorts != nil) && !proto.hasPorts { return nil }
        if icmp != nil && proto != .icmp { return nil }
        self.action = action
        self.direction = direction
        self.proto = proto
        self.src = src
        self.srcPorts = srcPorts
        self.dst = dst
        self.dstPorts = dstPorts
        self.icmp = icmp
    }

    public func matches(_ p: PacketSummary) -> Bool {
        guard direction.matches(p.direction), proto.matches(p.proto),
              src.contains(p.src), dst.contains(p.dst)
        else { return false }
        if let r = srcPorts, !r.contains(p.srcPort) { return false }
        if let r = dstPorts, !r.contains(p.dstPort) { return false }
        if let m = icmp {
            guard p.icmpType == m.type else { return false }
            if let code = m.code, p.icmpCode != code { return false }
        }
        return true
    }

    /// The canonical rules-file line: clauses that say nothing ("from any" without a port) are
    /// left out, so parse(rendered) gives back an equal Rule.
    public var description: String {
        var line = "\(action) \(direction) \(proto)"
        if src != .any || srcPorts != nil {
            line += " from \(src)"
            if let r = srcPorts { line += " port \(r)" }
        }
        if dst != .any || dstPorts != nil {
            line += " to \(dst)"
            if let r = dstPorts { line += " port \(r)" }
        }
        if let m = icmp {
            line += " type \(m.type)"
            if let code = m.code { line += " code \(code)" }
        }
        return line
    }
}
