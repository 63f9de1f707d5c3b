import Logging
import NewsConfig
import NewsIPC
import NewsIPCore
import NewsServer
import NewsSystem
import NewsWire

/// The IP server's core. Frames arrive from the packet filter (ip-pf); datagrams for UDP
/// and TCP go up their channels; everything NEWS sends leaves as frames down ip-pf.
final class IPCore: ServerCore {
    let address: IPv4Address
    let network: IPv4Network
    let mac: MACAddress
    let mtu: Int
    let down: Int
    let udp: Int?
    let tcp: Int?
    /// Up to 64 packets wait per unresolved neighbour (Linux keeps about 100): a burst to a
    /// new peer is not cut to its last few while ARP resolves.
    static let arpConfiguration = ARPConfiguration(maxQueuedPerAddress: 64)
    var arp = ARPCache<[UInt8]>(configuration: IPCore.arpConfiguration)
    var routes = RouteTable()
    var reassembler = Reassembler()
    var nextID: UInt16
    /// What went up each transport lately: an ICMP error a transport asks for must quote
    /// one of these (see `RecentDeliveries`).
    var deliveredUDP = RecentDeliveries()
    var deliveredTCP = RecentDeliveries()
    /// Every ICMP error NEWS sends is rate-limited (RFC 1812 4.3.2.8), with Linux's defaults.
    var icmpErrorLimit = TokenBucket(perSecond: TokenBucket.icmpErrors.perSecond, burst: TokenBucket.icmpErrors.burst)
    var lastMaintenance: UInt64 = 0
    let counters: NamedCounters
    let persistence: IPPersistence?
    let log: Logger
    /// Whether the link below takes partial checksums and TSO segments (newsd's `nic.offloads`).
    let offloads: Bool

    init(_ context: ServerContext) throws {
        let p = context.args.params
        func invalid(_ what: String) -> LaunchArguments.Invalid { LaunchArguments.Invalid(description: "ipserver: \(what)") }
        let settings = try IPSettings(parameters: p)
        guard let down = context.ports.index(of: "ip-pf") else { throw invalid("no ip-pf channel") }
        address = settings.interface.address
        network = settings.interface.network
        mac = settings.mac
        mtu = settings.mtu
        offloads = p["nic.offloads"] == "1"
        self.down = down
        udp = context.ports.index(of: "udp-ip")
        tcp = context.ports.index(of: "tcp-ip")
        counters = NamedCounters(context)
        log = context.log
        nextID = UInt16(truncatingIfNeeded: Clock.nanos() >> 10)
        persistence = context.state.map { IPPersistence(region: $0) }

        // Routes and ARP entries survive a restart: adopt what the last incarnation saved,
        // then make sure the configured routes are there.
        if context.isRestart, let saved = persistence?.load() {
            arp = saved.arp
            routes = saved.routes
            counters.bump("state_invalid_records", UInt64(saved.invalid))
            counters.bump("arp_entries_adopted", UInt64(arp.count))
            counters.bump("routes_adopted", UInt64(routes.routes.count))
            log.info("adopted \(arp.count) ARP entries and \(routes.routes.count) routes")
        }
        if routes.routes.isEmpty {
            try routes.add(Route(network: network.address, prefixLength: network.prefix, interface: 0))
            if let gateway = settings.gateway { try routes.add(.defaultRoute(via: gateway, interface: 0)) }
        }
        save()
    }

    func save() { persistence?.save(arp: arp, routes: routes) }

    // MARK: - Input

    func handle(_ message: Message, payload: UnsafeRawBufferPointer, from port: Int, ports: Ports) {
        switch MessageKind(rawValue: message.kind) {
        case .frame? where port == down: input(frame: payload, checksumValid: message.offload.checksumValid, ports: ports)
        case .datagram? where port == udp: output(datagram: payload, channelProtocol: .udp, offload: message.offload, ports: ports)
        case .datagram? where port == tcp: output(datagram: payload, channelProtocol: .tcp, offload: message.offload, ports: ports)
        case .unreachable? where port == udp || port == tcp:
            requestedUnreachable(message, payload: payload, from: port, ports: ports)
        default: counters.bump("dropped_unexpected_message")
        }
    }

    /// A frame from the link. `checksumValid`: the NIC said the transport checksum needs no
    /// check (a frame from this host's kernel through the TAP, whose checksum may be partial).
    func input(frame bytes: UnsafeRawBufferPointer, checksumValid: Bool = false, ports: Ports) {
        let eth: EthernetFrame
        do { eth = try EthernetFrame(bytes) } catch { counters.drop(error); return }
        guard eth.destination == mac || eth.destination.isBroadcast else { counters.bump("dropped_not_our_mac"); return }
        switch eth.etherType {
        case .arp: input(arp: eth.payload, ports: ports)
        case .ipv4: input(ipv4: eth.payload, checksumValid: checksumValid, ports: ports)
        default: counters.bump("dropped_ethertype")
        }
    }

    func input(ipv4 bytes: UnsafeRawBufferPointer, checksumValid: Bool = false, ports: Ports) {
        let ip: IPv4Packet
        do {
            ip = try IPv4Packet(bytes)
            try ip.checkSource()
        } catch { counters.drop(error); return }
        // A TTL of 0 can only come from a broken or hostile sender: no router forwards one
        // (RFC 1812 5.3.1). Hosts may accept TTL 1 (RFC 1122 3.2.1.7), so only 0 is dropped.
        guard ip.ttl > 0 else { counters.drop(.ipv4TTLZero); return }
        // RFC 1122 3.2.1.3: a host silently discards datagrams not addressed to it.
        let dst = ip.destination
        guard dst == address || dst.isBroadcast || dst == network.broadcast else { counters.bump("dropped_not_our_ip"); return }
        guard ip.source != address, network.broadcast != ip.source else { counters.drop(.ipv4MartianSource); return }
        counters.bump("ip_in")
        let header = IPv4Header.parse(ip)
        if ip.isFragment {
            let key = FragmentKey(source: ip.source, destination: dst, protocolNumber: ip.protocol.rawValue,
                                  identification: ip.identification)
            switch reassembler.add(key: key, offset: ip.fragmentOffset, moreFragments: ip.moreFragments, payload: ip.payload, now: Clock.nanos()) {
            case .complete(let whole):
                counters.bump("reassembled")
                whole.withUnsafeBytes { deliver(header, payload: $0, original: ip, ports: ports) }
            case .pending: break
            case .dropped(let why): counters.bump(why.counterName)
            }
            return
        }
        deliver(header, payload: ip.payload, original: ip, checksumValid: checksumValid, ports: ports)
    }

    /// A whole datagram for us: ICMP is answered here, UDP and TCP go up.
    func deliver(_ header: IPv4Header, payload: UnsafeRawBufferPointer, original: IPv4Packet, checksumValid: Bool = false, ports: Ports) {
        switch header.protocol {
        case .icmp: input(icmp: payload, from: header, ports: ports)
        case .udp, .tcp:
            guard let port = header.protocol == .udp ? udp : tcp else { counters.bump("dropped_no_transport"); return }
            let headerLength = original.isFragment ? header.headerLength : original.headerLength
            var m = Message(kind: .datagram, seq: 0, args: (UInt64(header.source.value), UInt64(header.destination.value),
                                                             UInt64(header.protocol.rawValue), UInt64(headerLength), 0, 0))
            // Only a whole packet as the kernel gave it keeps the NIC's word on its checksum.
            if checksumValid && !original.isFragment {
                var o = PacketOffload()
                o.checksumValid = true
                m.offload = o
            }
            let slot = header.protocol == .tcp ? Topology.frameSlot : Topology.datagramSlot
            // Unfragmented, the packet as it arrived goes up (no copy here); a reassembled
            // datagram gets a header describing the whole. Either is remembered as an ICMP
            // error would quote it, so the transport may ask for one about it.
            if !original.isFragment {
                guard original.bytes.count <= slot else { counters.bump("dropped_datagram_too_big"); return }
                guard ports.send(port, m, payload: original.bytes) else { counters.bump("dropped_transport_full"); return }
                recordDelivery(to: port, packet: original.bytes, headerLength: original.headerLength)
            } else {
                let packet = Self.packet(header, payload: payload)
                guard packet.count <= slot else { counters.bump("dropped_datagram_too_big"); return }
                let sent = packet.withUnsafeBytes { bytes in
                    guard ports.send(port, m, payload: bytes) else { return false }
                    recordDelivery(to: port, packet: bytes, headerLength: header.headerLength)
                    return true
                }
                if !sent { counters.bump("dropped_transport_full") }
            }
        default:
            // RFC 1122 3.2.2.1: a host SHOULD send protocol unreachable.
            counters.bump("dropped_unknown_protocol")
            if header.destination == address { sendUnreachable(ICMPUnreachableCode.protocol, about: original, ports: ports) }
        }
    }

    /// The packet as delivered upward: a plain header (a reassembled datagram gets one
    /// describing the whole) and the payload.
    static func packet(_ header: IPv4Header, payload: UnsafeRawBufferPointer) -> [UInt8] {
        var h = header
        h.moreFragments = false
        h.fragmentOffset = 0
        h.payloadLength = payload.count
        var bytes = [UInt8](repeating: 0, count: h.totalLength)
        bytes.withUnsafeMutableBytes { out in
            _ = h.emit(into: out)
            UnsafeMutableRawBufferPointer(rebasing: out[h.headerLength...]).copyMemory(from: payload)
        }
        return bytes
    }

    // MARK: - Timers

    func tick(now: UInt64, ports: Ports) -> Bool {
        guard now &- lastMaintenance > 100_000_000 else { return false }
        lastMaintenance = now
        reassembler.expire(now: now)
        let due = arp.expire(now: now)
        for ip in due.retry { sendARPRequest(for: ip, ports: ports) }
        if !due.failed.isEmpty { counters.bump("arp_resolution_failed", UInt64(due.failed.count)); save() }
        counters.set("fragments_in", reassembler.counters.fragmentsReceived)
        counters.set("arp_requests_total", arp.counters.requestsSent)
        counters.set("arp_queue_dropped", arp.counters.queuedPacketsDropped)
        return false
    }
}
