// One tracked connection: its normalized key, who started it, the TCP handshake progress and
// when it expires; plus its 40-byte record form (layout in FlowTable.swift).

/// Flow identity with the two endpoints in a fixed order (the lower address:port first), so a
/// packet and its reply produce the same key.
public struct FlowKey: Hashable, Sendable {
    public let proto: UInt8
    public let lowAddr: UInt32
    public let lowPort: UInt16
    public let highAddr: UInt32
    public let highPort: UInt16

    /// The key of a trackable packet and whether its source is the low endpoint. Echo request
    /// and reply use the echo identifier as the port on both sides; other ICMP and other
    /// protocols are not tracked.
    static func of(_ p: PacketSummary) -> (key: FlowKey, srcIsLow: Bool)? {
        var sport = p.srcPort, dport = p.dstPort
        switch p.proto.number {
        case 6, 17: break
        case 1:
            guard p.icmpType == ICMPEcho.request || p.icmpType == ICMPEcho.reply else { return nil }
            sport = p.icmpID
            dport = p.icmpID
        default: return nil
        }
        let srcIsLow = (p.src, sport) <= (p.dst, dport)
        let key = srcIsLow
            ? FlowKey(proto: p.proto.number, lowAddr: p.src, lowPort: sport, highAddr: p.dst, highPort: dport)
            : FlowKey(proto: p.proto.number, lowAddr: p.dst, lowPort: dport, highAddr: p.src, highPort: sport)
        return (key, srcIsLow)
    }

    var endpointsEqual: Bool { lowAddr == highAddr && lowPort == highPort }
}

enum ICMPEcho {
    static let reply: UInt8 = 0
    static let request: UInt8 = 8
}

/// Timeouts in nanoseconds of the monotonic clock the caller passes as `now`.
public struct FlowTimeouts: Sendable, Hashable {
    public var udp: UInt64 = 30 * second
    public var icmp: UInt64 = 10 * second
    /// Until SYN has been seen both ways and the originator's ACK completes the handshake.
    public var tcpHandshake: UInt64 = 30 * second
    public var tcpEstablished: UInt64 = 300 * second
    /// After a FIN or RST from either side.
    public var tcpClosing: UInt64 = 10 * second

    public static let second: UInt64 = 1_000_000_000
    public static let standard = FlowTimeouts()
    public init() {}

    /// No live entry can expire further ahead than this; one that claims to is not trusted.
    var longest: UInt64 { max(udp, icmp, tcpHandshake, tcpEstablished, tcpClosing) }
}

/// Which side of its flow a packet comes from.
public enum FlowRole: Sendable, Hashable {
    case original, reply
}

/// TCP progress of a flow; empty for udp and icmp.
public struct TCPProgress: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let originatorSYN = TCPProgress(rawValue: 1)
    public static let responderSYN = TCPProgress(rawValue: 2)
    public static let established = TCPProgress(rawValue: 4)
    public static let closing = TCPProgress(rawValue: 8)
}

public struct FlowEntry: Sendable, Hashable {
    public let key: FlowKey
    /// Whether the flow's first (allowed) packet came from the low endpoint.
    public let originatorIsLow: Bool
    public let originatorDirection: Direction
    public internal(set) var tcp: TCPProgress
    /// Monotonic nanoseconds; the entry is dead at and after this instant.
    public internal(set) var expiry: UInt64

    func role(of p: PacketSummary, srcIsLow: Bool) -> FlowRole {
        // A flow from an endpoint to itself has no address to tell the sides apart by.
        if key.endpointsEqual { return p.direction == originatorDirection ? .original : .reply }
        return srcIsLow == originatorIsLow ? .original : .reply
    }

    /// Advances the TCP state for a packet of this flow and pushes the expiry out accordingly.
    mutating func observe(_ p: PacketSummary, role: FlowRole, now: UInt64, _ t: FlowTimeouts) {
        let timeout: UInt64
        switch key.proto {
        case 6:
            let flags = p.tcpFlags
            if flags.contains(.syn) { tcp.insert(role == .original ? .originatorSYN : .responderSYN) }
            if !flags.isDisjoint(with: [.fin, .rst]) {
                tcp.insert(.closing)
            } else if role == .original, flags.contains(.ack), !flags.contains(.syn),
                      tcp.isSuperset(of: [.originatorSYN, .responderSYN]) {
                tcp.insert(.established)
            }
            timeout = tcp.contains(.closing) ? t.tcpClosing
                : tcp.contains(.established) ? t.tcpEstablished : t.tcpHandshake
        case 17: timeout = t.udp
        default: timeout = t.icmp
        }
        let (sum, overflow) = now.addingReportingOverflow(timeout)
        expiry = overflow ? UInt64.max : sum
    }
}

extension FlowEntry {
    static let recordSize = 40
    static let marker: UInt8 = 0x5A

    func encode(slot: Int) -> [UInt8] {
        var w = ByteWriter(size: FlowEntry.recordSize)
        w.put8(FlowEntry.marker, at: 0)
        w.put8(key.proto, at: 1)
        let flags = (originatorIsLow ? 1 : 0) | (originatorDirection == .out ? 2 : 0) | tcp.rawValue << 2
        w.put8(flags, at: 2)
        w.put32(UInt32(truncatingIfNeeded: slot), at: 4)
        w.put32(key.lowAddr, at: 8)
        w.put32(key.highAddr, at: 12)
        w.put16(key.lowPort, at: 16)
        w.put16(key.highPort, at: 18)
        w.put64(expiry, at: 24)
        w.put32(recordChecksum(w.bytes, 0 ..< 32, slot: UInt32(truncatingIfNeeded: slot)), at: 32)
        return w.bytes
    }

    /// The entry in `bytes`, or nil unless it is exactly what `encode(slot:)` would write for a
    /// well-formed entry (tracked protocol, ordered endpoints, TCP bits only on TCP).
    static func decode(_ bytes: [UInt8], slot: Int) -> FlowEntry? {
        let r = ByteReader(bytes)
        let flags = r.u8(2)
        let proto = r.u8(1)
        guard bytes.count == recordSize, r.u8(0) == marker, r.u32(4) == UInt32(slot),
              r.u32(32) == recordChecksum(bytes, 0 ..< 32, slot: UInt32(slot)),
              proto == 1 || proto == 6 || proto == 17, flags & 0xC0 == 0,
              proto == 6 || flags >> 2 == 0
        else { return nil }
        let key = FlowKey(proto: proto, lowAddr: r.u32(8), lowPort: r.u16(16),
                          highAddr: r.u32(12), highPort: r.u16(18))
        guard (key.lowAddr, key.lowPort) <= (key.highAddr, key.highPort),
              proto != 1 || key.lowPort == key.highPort
        else { return nil }
        let entry = FlowEntry(key: key, originatorIsLow: flags & 1 != 0,
                              originatorDirection: flags & 2 != 0 ? .out : .in,
                              tcp: TCPProgress(rawValue: flags >> 2), expiry: r.u64(24))
        return entry.encode(slot: slot) == bytes ? entry : nil
    }
}
