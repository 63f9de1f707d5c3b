import NewsIPC
import NewsIPCore
import NewsServer
import NewsSystem
import NewsWire

extension IPCore {
    // MARK: - ARP (RFC 826)

    func input(arp bytes: UnsafeRawBufferPointer, ports: Ports) {
        let packet: ARPPacket
        do { packet = try ARPPacket(bytes) } catch { counters.drop(error); return }
        let sender = packet.senderIP
        // An ARP packet from a sender off our network, or claiming our address, is not one
        // we learn from.
        guard network.contains(sender), sender != address, sender != network.broadcast, packet.senderMAC.isUnicast else {
            counters.bump("arp_bad_sender"); return
        }
        let forUs = packet.targetIP == address
        let queued = arp.learned(sender, mac: packet.senderMAC, weAreTarget: forUs, now: Clock.nanos())
        if forUs || !queued.isEmpty { save() }
        for datagram in queued { datagram.withUnsafeBytes { sendFrame(to: packet.senderMAC, type: .ipv4, $0, ports: ports) } }
        if forUs && packet.operation == .request {
            counters.bump("arp_replies_sent")
            let reply = ARPRepr(operation: .reply, senderMAC: mac, senderIP: address, targetMAC: packet.senderMAC, targetIP: sender)
            emitFrame(to: packet.senderMAC, type: .arp, length: reply.bufferLength, ports: ports) { reply.emit(into: $0) }
        }
    }

    func sendARPRequest(for ip: IPv4Address, ports: Ports) {
        counters.bump("arp_requests_sent")
        let request = ARPRepr(operation: .request, senderMAC: mac, senderIP: address, targetMAC: .zero, targetIP: ip)
        emitFrame(to: .broadcast, type: .arp, length: request.bufferLength, ports: ports) { request.emit(into: $0) }
    }

    // MARK: - ICMP (RFC 792, RFC 1122 3.2.2)

    func input(icmp bytes: UnsafeRawBufferPointer, from header: IPv4Header, ports: Ports) {
        let packet: ICMPPacket
        do { packet = try ICMPPacket(bytes) } catch { counters.drop(error); return }
        counters.bump("icmp_in")
        if packet.type == .destinationUnreachable { input(unreachable: packet, from: header, ports: ports); return }
        guard case .echoRequest(let id, let seq, let data) = ICMPRepr.parse(packet) else { return }
        // RFC 1122 3.2.2.6: echo requests to a broadcast address MAY be dropped; we do.
        guard header.destination == address else { counters.bump("icmp_echo_broadcast_ignored"); return }
        counters.bump("icmp_echo_replies")
        send(ICMPRepr.echoReply(identifier: id, sequence: seq, data: data), to: header.source, ports: ports)
    }

    /// A destination unreachable about a datagram NEWS sent goes up to the transport that
    /// sent it, with the quote, so that it can tell the socket (Linux: udp_err). The
    /// transport parses the quote again; here it only has to be ours and to name UDP or TCP.
    func input(unreachable packet: ICMPPacket, from header: IPv4Header, ports: Ports) {
        // RFC 1122 3.2.2: an ICMP error is never sent to a broadcast address; one that
        // claims to have been is bogus.
        guard header.destination == address else { counters.bump("icmp_error_not_for_us"); return }
        let quoted: ICMPQuotedDatagram
        do { quoted = try ICMPQuotedDatagram(packet.payload) } catch { counters.drop(error); return }
        // It must be about something we sent, from its first fragment (where the ports are).
        guard quoted.source == address, quoted.fragmentOffset == 0 else { counters.bump("icmp_error_not_ours"); return }
        let transport: Int?
        switch quoted.protocol {
        case .udp: transport = udp
        case .tcp: transport = tcp
        default: counters.bump("icmp_error_other_protocol"); return
        }
        guard let transport else { counters.bump("dropped_no_transport"); return }
        let m = Message(kind: .unreachable, seq: 0, args: (UInt64(packet.code), 0, 0, 0, 0, 0))
        // The IP header and the 8 bytes after it are all a transport reads (RFC 792).
        let quote = UnsafeRawBufferPointer(rebasing: quoted.bytes[0..<(quoted.headerLength + 8)])
        if ports.send(transport, m, payload: quote) {
            counters.bump("icmp_errors_to_transport")
        } else {
            counters.bump("dropped_transport_full")
        }
    }

    /// A transport asks for ICMP port unreachable about a packet it hands back (RFC 1122
    /// 4.1.3.1; TCP resets instead, so in practice udpserver asks). It must be a packet
    /// ipserver delivered to that transport recently, else a transport could have NEWS
    /// send errors with any quoted content to any host.
    func requestedUnreachable(_ message: Message, payload: UnsafeRawBufferPointer, from port: Int, ports: Ports) {
        guard let original = try? IPv4Packet(payload), original.destination == address,
              message.arg.0 == UInt64(ICMPUnreachableCode.port) else { counters.bump("dropped_bad_unreachable"); return }
        let quote = UnsafeRawBufferPointer(rebasing: original.bytes[0..<RecentDeliveries.quoteLength(
            packetLength: original.bytes.count, headerLength: original.headerLength)])
        let now = Clock.nanos()
        let delivered = port == udp ? deliveredUDP.take(quote, now: now) : deliveredTCP.take(quote, now: now)
        guard delivered else { counters.bump("icmp_request_not_delivered"); return }
        sendUnreachable(ICMPUnreachableCode.port, about: original, ports: ports)
    }

    /// Notes a datagram that went up `port` (see `requestedUnreachable`).
    func recordDelivery(to port: Int, packet: UnsafeRawBufferPointer, headerLength: Int) {
        let quote = UnsafeRawBufferPointer(rebasing: packet[0..<RecentDeliveries.quoteLength(packetLength: packet.count, headerLength: headerLength)])
        if port == udp { deliveredUDP.record(quote, now: Clock.nanos()) } else { deliveredTCP.record(quote, now: Clock.nanos()) }
    }

    func sendUnreachable(_ code: UInt8, about original: IPv4Packet, ports: Ports) {
        // RFC 1122 3.2.2: never in answer to an ICMP error, a broadcast, or a non-first fragment.
        guard !original.destination.isBroadcast, original.fragmentOffset == 0 else { return }
        if original.protocol == .icmp, let inner = try? ICMPPacket(original.payload, verifyChecksum: false),
           ![ICMPType.echoRequest, ICMPType.echoReply].contains(inner.type) { return }
        guard icmpErrorLimit.allow(now: Clock.nanos()) else { counters.bump("icmp_rate_limited"); return }
        counters.bump("icmp_unreachable_sent")
        send(ICMPRepr.destinationUnreachable(code: code, quoted: ICMPRepr.quote(original)), to: original.source, ports: ports)
    }

    func send(_ icmp: ICMPRepr, to destination: IPv4Address, ports: Ports) {
        var bytes = [UInt8](repeating: 0, count: icmp.bufferLength)
        let n = bytes.withUnsafeMutableBytes { icmp.emit(into: $0) }
        guard n > 0 else { counters.bump("icmp_emit_failed"); return }
        bytes.withUnsafeBytes { send(protocol: .icmp, to: destination, payload: $0, ports: ports) }
    }

    // MARK: - Sending datagrams

    /// A datagram from a transport server: the payload is a whole IP packet, which must be
    /// one of the channel's protocol from our address (`TransportOutput`). arg.5 may ask for
    /// offloads (a partial TCP checksum, TSO), which are checked against the packet and the
    /// link. ipserver sends the segment under a header of its own.
    func output(datagram payload: UnsafeRawBufferPointer, channelProtocol: IPProtocol, offload: PacketOffload = .none, ports: Ports) {
        let out: TransportOutput
        do { out = try TransportOutput(packet: payload, channelProtocol: channelProtocol, ourAddress: address) } catch {
            counters.bump(error.counterName); return
        }
        var o = offload
        if o != .none {
            guard let checked = offloadAllowed(o, segment: out.segment, channelProtocol: channelProtocol) else {
                counters.bump("dropped_bad_offload"); return
            }
            o = checked
        }
        send(protocol: channelProtocol, to: out.destination, payload: out.segment, offload: o, ports: ports)
    }

    /// The transport's offload request made relative to the segment (without the IP header),
    /// or nil if it is not one the link can carry out: a partial checksum must be the TCP
    /// checksum; a TSO segment must be TCP, with a partial checksum, whose every piece
    /// (IP header, the TCP header with its options, `segmentSize` bytes) fits the MTU.
    func offloadAllowed(_ o: PacketOffload, segment: UnsafeRawBufferPointer, channelProtocol: IPProtocol) -> PacketOffload? {
        guard offloads, channelProtocol == .tcp, !o.checksumValid, o.checksumPartial,
              o.checksumStart == 20, o.checksumOffset == 16, let tcp = try? TCPHeaderView(segment) else { return nil }
        var r = o
        r.checksumStart = 0
        r.headerLength = 0
        if o.segmentSize > 0 {
            guard Int(o.headerLength) == 20 + tcp.headerLength, tcp.payload.count > Int(o.segmentSize),
                  20 + tcp.headerLength + Int(o.segmentSize) <= mtu else { return nil }
            r.headerLength = UInt8(tcp.headerLength)
        }
        return r
    }

    /// Routes, fragments (RFC 791) if the datagram does not fit the MTU, and transmits. A
    /// TSO segment (`offload.segmentSize`, offsets relative to `payload`) is never
    /// fragmented: the link cuts it into MTU-sized TCP segments.
    func send(protocol proto: IPProtocol, to destination: IPv4Address, payload: UnsafeRawBufferPointer,
              offload: PacketOffload = .none, ports: Ports) {
        guard let (hop, _) = routes.route(to: destination) else { counters.bump("dropped_no_route"); return }
        guard payload.count <= maxIPv4Payload else { counters.bump("dropped_too_big"); return }
        let id = nextID
        nextID &+= 1
        counters.bump("ip_out")
        let whole = offload.segmentSize > 0
            || IPv4Header(source: address, destination: destination, protocol: proto, payloadLength: payload.count).totalLength <= mtu
        let pieces = whole ? [(offset: 0, length: payload.count, moreFragments: false)] : Fragmenter.fragment(payloadLength: payload.count, mtu: mtu)
        if pieces.count > 1 { counters.bump("fragments_sent", UInt64(pieces.count)) }
        if offload.segmentSize > 0 { counters.bump("tso_out") }
        for piece in pieces {
            let header = IPv4Header(source: address, destination: destination, protocol: proto, ttl: 64, identification: id,
                                    moreFragments: piece.moreFragments, fragmentOffset: piece.offset, payloadLength: piece.length)
            let slice = UnsafeRawBufferPointer(rebasing: payload[piece.offset..<(piece.offset + piece.length)])
            // The common case, a neighbour whose address is known: build the frame in place,
            // without an intermediate copy of the packet.
            if let hw = knownNextHop(hop) {
                let frameOffload = offload.shifted(by: EthernetFrame.headerLength + header.headerLength) ?? .none
                emitFrame(to: hw, type: .ipv4, length: header.totalLength, offload: frameOffload, ports: ports) { out in
                    guard header.emit(into: out) == header.headerLength else { return 0 }
                    UnsafeMutableRawBufferPointer(rebasing: out[header.headerLength...]).copyMemory(from: slice)
                    return header.totalLength
                }
                continue
            }
            // Waiting for ARP: the packet is queued as a plain one. A partial checksum is
            // finished here; a TSO segment is dropped (its connection sends it again, in
            // MSS-sized retransmissions, once the neighbour answers).
            guard offload.segmentSize == 0 else { counters.bump("dropped_tso_unresolved"); return }
            var packet = [UInt8](repeating: 0, count: header.totalLength)
            packet.withUnsafeMutableBytes { out in
                _ = header.emit(into: out)
                let segment = UnsafeMutableRawBufferPointer(rebasing: out[header.headerLength...])
                segment.copyMemory(from: slice)
                if offload.checksumPartial { Self.finishChecksum(segment, at: Int(offload.checksumStart) + Int(offload.checksumOffset), from: Int(offload.checksumStart)) }
            }
            transmit(packet, nextHop: hop, ports: ports)
        }
    }

    /// Completes a partial checksum (the field holds the pseudo-header sum): the ones'
    /// complement sum of everything from `start`, the field included, complemented.
    static func finishChecksum(_ bytes: UnsafeMutableRawBufferPointer, at field: Int, from start: Int) {
        guard field + 2 <= bytes.count, start <= field else { return }
        var sum = InternetChecksum()
        sum.add(UnsafeRawBufferPointer(rebasing: bytes[start...]))
        let c = sum.finalize()
        bytes[field] = UInt8(c >> 8); bytes[field + 1] = UInt8(c & 0xFF)
    }

    /// The next hop's hardware address if it is known and fresh (no ARP traffic needed).
    func knownNextHop(_ hop: IPv4Address) -> MACAddress? {
        if hop.isBroadcast || hop == network.broadcast { return .broadcast }
        return arp.lookup(hop, now: Clock.nanos())
    }

    /// Hands an IP packet to the link once the next hop's address is known (RFC 1122
    /// 2.3.2.2: queue a few while ARP resolves, drop the rest).
    func transmit(_ packet: [UInt8], nextHop: IPv4Address, ports: Ports) {
        if nextHop.isBroadcast || nextHop == network.broadcast {
            packet.withUnsafeBytes { sendFrame(to: .broadcast, type: .ipv4, $0, ports: ports) }
            return
        }
        switch arp.resolve(nextHop, now: Clock.nanos()) {
        case .known(let hw):
            packet.withUnsafeBytes { sendFrame(to: hw, type: .ipv4, $0, ports: ports) }
        case .sendRequest:
            if !arp.enqueue(nextHop, packet: packet) { counters.bump("arp_queue_full") }
            sendARPRequest(for: nextHop, ports: ports)
        case .wait:
            if !arp.enqueue(nextHop, packet: packet) { counters.bump("arp_queue_full") }
        case .failed:
            counters.bump("dropped_arp_failed")
        }
    }

    func sendFrame(to destination: MACAddress, type: EtherType, _ payload: UnsafeRawBufferPointer, ports: Ports) {
        emitFrame(to: destination, type: type, length: payload.count, ports: ports) { out in
            out.copyMemory(from: payload)
            return payload.count
        }
    }

    /// Writes an Ethernet header and `body` straight into the slot of the frame going down
    /// (no copy of a frame built elsewhere).
    func emitFrame(to destination: MACAddress, type: EtherType, length: Int, offload: PacketOffload = .none, ports: Ports,
                   _ body: (UnsafeMutableRawBufferPointer) -> Int) {
        let total = EthernetFrame.headerLength + length
        var m = Message(kind: .frame, seq: 0)
        m.offload = offload
        var failure: String?
        let sent = ports.send(down, m) { frame in
            guard total <= frame.count else { failure = "dropped_frame_too_big"; return nil }
            _ = EthernetHeader(destination: destination, source: mac, etherType: type).emit(into: frame)
            let written = body(UnsafeMutableRawBufferPointer(rebasing: frame[EthernetFrame.headerLength..<total]))
            guard written == length else { failure = "frame_emit_failed"; return nil }
            // Ethernet's minimum frame (60 bytes before the FCS): pad short ones with zeros.
            guard total < 60 else { return total }
            UnsafeMutableRawBufferPointer(rebasing: frame[total..<60]).initializeMemory(as: UInt8.self, repeating: 0)
            return 60
        }
        if !sent { counters.bump(failure ?? "dropped_down_full") }
    }
}
