import Logging
import NewsFilter
import NewsIPC
import NewsServer
import NewsSystem
import NewsWire

/// The packet filter's core: every frame between the NIC driver (pf-nic) and the IP server
/// (ip-pf) is summarized and judged by `NewsFilter.Filter`. Rules, rule counters and flows
/// live in the state region newsd keeps, so they are in force again the moment a restarted
/// filter starts. New rules arrive through the mailbox in the same region.
final class FilterCore: ServerCore {
    let wire: Int
    let host: Int
    var filter: Filter
    let mailbox: RulesMailbox
    var fragments = AllowedFragments()
    var lastMaintenance: UInt64 = 0
    let counters: NamedCounters
    let log: Logger

    init(_ context: ServerContext) throws {
        guard let wire = context.ports.index(of: "pf-nic"), let host = context.ports.index(of: "ip-pf") else {
            throw LaunchArguments.Invalid(description: "packetfilter needs pf-nic and ip-pf")
        }
        guard let region = context.state, region.count > FilterRegion.flowsOffset + 4096 else {
            throw LaunchArguments.Invalid(description: "packetfilter needs a state region")
        }
        self.wire = wire
        self.host = host
        log = context.log
        counters = NamedCounters(context)
        mailbox = FilterRegion.mailbox(region)
        let store = try RuleStore(region: FilterRegion.rules(region))
        let flows = try FlowTable(region: FilterRegion.flows(region), fresh: !context.isRestart)
        if context.isRestart, let restored = try? Filter(restoringFrom: store, flows: flows) {
            filter = restored
            log.info("rules and \(flows.count) flows adopted: \(restored.rules.rules.count) rules")
        } else {
            // Until newsd posts rules: everything passes (the filter is there, with no policy).
            filter = try Filter(rules: RuleSet(rules: [], defaultIn: .allow, defaultOut: .allow), ruleStore: store, flows: flows)
            if context.isRestart { log.warning("stored rules did not validate; allowing all until newsd posts rules") }
        }
        applyPendingRules()
    }

    func handle(_ message: Message, payload: UnsafeRawBufferPointer, from port: Int, ports: Ports) {
        guard message.kind == MessageKind.frame.rawValue, port == wire || port == host else { return }
        let inbound = port == wire
        if judge(payload, direction: inbound ? .in : .out) {
            ports.send(inbound ? host : wire, message, payload: payload)
        }
    }

    /// Whether the frame may pass. Frames that are not IPv4, or too broken to summarize, go
    /// on to the IP server, which validates everything and counts each kind of damage.
    func judge(_ frame: UnsafeRawBufferPointer, direction: Direction) -> Bool {
        guard let eth = try? EthernetFrame(frame), eth.etherType == .ipv4,
              let ip = try? IPv4Packet(eth.payload, verifyChecksum: false) else {
            counters.bump(direction == .in ? "unparsed_in" : "unparsed_out")
            return true
        }
        let key = AllowedFragments.Key(src: ip.source.value, dst: ip.destination.value, proto: ip.protocol.rawValue, id: ip.identification)
        // RFC 1858: later fragments carry no ports. One whose first fragment passed follows
        // it; any other is judged by the rules as a packet without ports (so no port rule can
        // let it through) and never creates state. Without its first fragment it cannot be
        // reassembled anyway; the IP server counts it when it expires or is malformed.
        if ip.fragmentOffset != 0 {
            let ok = fragments.contains(key) || statelessVerdict(Self.summary(of: ip, direction: direction, ports: false))
            counters.bump(ok ? "fragments_passed" : "fragments_denied")
            return ok
        }
        let verdict = filter.decide(Self.summary(of: ip, direction: direction), now: Clock.nanos())
        let allowed = verdict.isAllowed
        counters.bump((allowed ? "passed_" : "denied_") + (direction == .in ? "in" : "out"))
        if case .allowedByState = verdict { counters.bump("passed_by_state") }
        if allowed && ip.moreFragments { fragments.insert(key) }
        return allowed
    }

    func statelessVerdict(_ p: PacketSummary) -> Bool {
        let action = filter.rules.firstMatch(p).map { filter.rules.rules[$0].action } ?? filter.rules.defaultAction(for: p.direction)
        return action == .allow
    }

    static func summary(of ip: IPv4Packet, direction: Direction, ports: Bool = true) -> PacketSummary {
        let l4 = ip.payload
        func u16(_ at: Int) -> UInt16 { l4.count >= at + 2 ? UInt16(l4[at]) << 8 | UInt16(l4[at + 1]) : 0 }
        let proto = NewsFilter.IPProtocol(number: ip.protocol.rawValue)
        var p = PacketSummary(direction: direction, proto: proto, src: ip.source.value, dst: ip.destination.value, length: ip.totalLength)
        switch proto {
        case .tcp, .udp:
            guard ports else { break }
            p.srcPort = u16(0)
            p.dstPort = u16(2)
            if proto == .tcp, l4.count >= 14 { p.tcpFlags = NewsFilter.TCPFlags(headerByte: l4[13]) }
        case .icmp where l4.count >= 8:
            p.icmpType = l4[0]
            p.icmpCode = l4[1]
            p.icmpID = u16(4)
        default: break
        }
        return p
    }

    func tick(now: UInt64, ports: Ports) -> Bool {
        guard now &- lastMaintenance > 100_000_000 else { return false }
        lastMaintenance = now
        _ = filter.expireFlows(now: now)
        applyPendingRules()
        let c = filter.counters
        counters.set("flows_created", c.flowsCreated)
        counters.set("flows_expired", c.flowsExpired)
        counters.set("flow_table_full", c.flowTableFull)
        counters.set("state_invalid_records", c.invalidRecords)
        return false
    }

    /// Rules newsd posted: parsed here (nothing in the mailbox is trusted), then applied.
    func applyPendingRules() {
        guard let (number, text) = mailbox.pending() else { return }
        do throws(RuleError) {
            let rules = try RuleSet.parse(text)
            do throws(StoreError) {
                try filter.replaceRules(rules)
                mailbox.answer(number, ok: true, message: "\(rules.rules.count) rules loaded")
                counters.bump("rules_loaded")
                log.notice("loaded \(rules.rules.count) rules (default in \(rules.defaultIn), out \(rules.defaultOut))")
            } catch {
                mailbox.answer(number, ok: false, message: "cannot store rules: \(error)")
            }
        } catch {
            mailbox.answer(number, ok: false, message: error.description)
            counters.bump("rules_refused")
        }
    }
}

/// Fragmented datagrams whose first fragment passed (bounded, oldest forgotten first).
struct AllowedFragments {
    struct Key: Hashable { let src: UInt32, dst: UInt32, proto: UInt8, id: UInt16 }
    static let capacity = 256
    private var order: [Key] = []
    private var set: Set<Key> = []

    func contains(_ k: Key) -> Bool { set.contains(k) }

    mutating func insert(_ k: Key) {
        guard set.insert(k).inserted else { return }
        order.append(k)
        if order.count > Self.capacity { set.remove(order.removeFirst()) }
    }
}
