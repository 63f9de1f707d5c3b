// What the filter needs to know about one packet. The PacketFilter server fills this in from the
// parsed IPv4/TCP/UDP/ICMP headers; the core never sees packet bytes, which keeps it pure and lets
// tests describe packets directly.

/// Which way a packet travels relative to the host this filter protects.
public enum Direction: UInt8, Sendable, Hashable, CustomStringConvertible {
    /// From the wire toward the host.
    case `in` = 0
    /// From the host toward the wire.
    case out = 1

    public var opposite: Direction { self == .in ? .out : .in }
    public var description: String { self == .in ? "in" : "out" }
}

/// The IPv4 protocol field, with names for the protocols the filter understands.
public enum IPProtocol: Sendable, Hashable {
    case tcp, udp, icmp
    case other(UInt8)

    /// Maps the header's protocol number, so `other(6)` never appears for TCP.
    public init(number: UInt8) {
        switch number {
        case 6: self = .tcp
        case 17: self = .udp
        case 1: self = .icmp
        default: self = .other(number)
        }
    }

    /// The IPv4 protocol number. Matching goes through this, so a hand-built `other(6)` still
    /// behaves as TCP.
    public var number: UInt8 {
        switch self {
        case .tcp: 6
        case .udp: 17
        case .icmp: 1
        case .other(let n): n
        }
    }
}

/// The TCP flags connection tracking looks at. Bit values are those of the TCP header's flags
/// byte, so the server can pass `TCPFlags(headerByte:)` the raw byte.
public struct TCPFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// Keeps only FIN, SYN, RST and ACK; PSH, URG and the rest do not affect tracking.
    public init(headerByte: UInt8) { self.rawValue = headerByte & 0x17 }

    public static let fin = TCPFlags(rawValue: 0x01)
    public static let syn = TCPFlags(rawValue: 0x02)
    public static let rst = TCPFlags(rawValue: 0x04)
    public static let ack = TCPFlags(rawValue: 0x10)
}

/// One packet as the filter sees it. Addresses are IPv4 in host byte order.
public struct PacketSummary: Sendable, Hashable {
    public var direction: Direction
    public var proto: IPProtocol
    public var src: UInt32
    public var dst: UInt32
    /// 0 for protocols without ports.
    public var srcPort: UInt16
    public var dstPort: UInt16
    /// ICMP only; nil otherwise.
    public var icmpType: UInt8?
    public var icmpCode: UInt8?
    /// The echo identifier of ICMP echo request/reply (types 8 and 0); it plays the role of the
    /// port when tracking pings. 0 otherwise.
    public var icmpID: UInt16
    public var tcpFlags: TCPFlags
    /// IP total length in bytes, for the per-rule byte counters.
    public var length: Int

    public init(
        direction: Direction, proto: IPProtocol, src: UInt32, dst: UInt32,
        srcPort: UInt16 = 0, dstPort: UInt16 = 0,
        icmpType: UInt8? = nil, icmpCode: UInt8? = nil, icmpID: UInt16 = 0,
        tcpFlags: TCPFlags = [], length: Int = 0
    ) {
        self.direction = direction
        self.proto = proto
        self.src = src
        self.dst = dst
        self.srcPort = srcPort
        self.dstPort = dstPort
        self.icmpType = icmpType
        self.icmpCode = icmpCode
        self.icmpID = icmpID
        self.tcpFlags = tcpFlags
        self.length = length
    }
}
