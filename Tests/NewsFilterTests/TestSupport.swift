// Packet builders and owned memory regions shared by the NewsFilter tests.
import XCTest
import NewsFilter
import struct NewsWire.IPv4Address

let second = FlowTimeouts.second

func ip(_ text: String) -> UInt32 {
    guard let a = IPv4Address(text) else { preconditionFailure("bad test address \(text)") }
    return a.value
}

func udp(_ d: Direction, _ src: String, _ sport: UInt16, _ dst: String, _ dport: UInt16,
         length: Int = 100) -> PacketSummary {
    PacketSummary(direction: d, proto: .udp, src: ip(src), dst: ip(dst),
                  srcPort: sport, dstPort: dport, length: length)
}

func tcp(_ d: Direction, _ src: String, _ sport: UInt16, _ dst: String, _ dport: UInt16,
         _ flags: TCPFlags, length: Int = 60) -> PacketSummary {
    PacketSummary(direction: d, proto: .tcp, src: ip(src), dst: ip(dst),
                  srcPort: sport, dstPort: dport, tcpFlags: flags, length: length)
}

func icmp(_ d: Direction, _ src: String, _ dst: String, type: UInt8, code: UInt8 = 0,
          id: UInt16 = 0) -> PacketSummary {
    PacketSummary(direction: d, proto: .icmp, src: ip(src), dst: ip(dst),
                  icmpType: type, icmpCode: code, icmpID: id, length: 84)
}

/// The packet a peer would send back.
func reply(_ p: PacketSummary, type: UInt8? = nil, flags: TCPFlags? = nil) -> PacketSummary {
    var r = p
    r.direction = p.direction.opposite
    r.src = p.dst
    r.dst = p.src
    r.srcPort = p.dstPort
    r.dstPort = p.srcPort
    if let type { r.icmpType = type }
    if let flags { r.tcpFlags = flags }
    return r
}

/// Zeroed memory that lives as long as the test holds it, standing in for shared memory.
final class Region {
    let bytes: UnsafeMutableRawBufferPointer
    init(_ size: Int) {
        bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 16)
        bytes.initializeMemory(as: UInt8.self, repeating: 0)
    }
    deinit { bytes.deallocate() }
}

/// A filter plus the regions behind it (kept alive alongside it).
struct Harness {
    let ruleRegion = Region(RuleStore.regionSize)
    let flowRegion: Region
    var filter: Filter

    init(_ rulesText: String, flowCapacity: Int = 64,
         policy: FlowTable.FullPolicy = .evictSoonestExpiry) throws {
        flowRegion = Region(FlowTable.regionSize(capacity: flowCapacity))
        let rules = try RuleSet.parse(rulesText)
        filter = try Filter(rules: rules, ruleStore: RuleStore(region: ruleRegion.bytes),
                            flows: FlowTable(region: flowRegion.bytes, fresh: true, fullPolicy: policy))
    }

    mutating func decide(_ p: PacketSummary, at seconds: UInt64) -> Verdict {
        filter.decide(p, now: seconds * second)
    }
}

let exampleRules = """
    default in deny
    default out allow
    allow in udp from 198.18.0.0/24 to any port 7
    deny in udp to any port 9
    allow in icmp type 8
    allow out tcp from any port 1024-65535 to 198.18.0.1 port 80
    allow any udp
    """

/// Deterministic random bytes (SplitMix64), so a failing scribble test can be replayed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
