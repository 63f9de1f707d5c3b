import NewsIPC
import NewsServer
import NewsSystem
import NewsWire

extension UDPCore {
    // MARK: - From applications

    /// Handles what one socket's application queued; returns whether there was anything.
    func serve(_ s: UDPSocketState, ports: Ports) -> Bool {
        let n: Int
        do throws(ChannelError) {
            n = try s.channel.receive(max: 32) { m, payload in request(m, payload, from: s, ports: ports) }
        } catch {
            // The application scribbled over its own rings: it alone loses its socket.
            counters.bump("socket_ring_corrupt")
            log.warning("socket \(s.id): \(error); closing it")
            close(s.id)
            return false
        }
        return n > 0
    }

    func request(_ m: Message, _ payload: UnsafeRawBufferPointer, from s: UDPSocketState, ports: Ports) {
        switch MessageKind(rawValue: m.kind) {
        case .socketBind?:
            let number = UInt32(truncatingIfNeeded: m.seq)
            guard m.arg.0 == 0 || m.arg.0 == UInt64(address.value), let port = UInt16(exactly: m.arg.1) else {
                s.header.answer(number, result: -Errno.addressNotAvailable); return
            }
            s.header.answer(number, result: claim(port, for: s))
        case .socketConnect?:
            let number = UInt32(truncatingIfNeeded: m.seq)
            guard let dst = UInt32(exactly: m.arg.0), dst != 0, let port = UInt16(exactly: m.arg.1), port != 0 else {
                s.header.answer(number, result: -Errno.invalid); return
            }
            if s.port == nil, claim(0, for: s) != 0 { s.header.answer(number, result: -Errno.addressInUse); return }
            connect(s, to: (dst, port))
            s.header.answer(number, result: 0)
        case .socketSend?:
            send(m, payload, from: s, ports: ports)
        default:
            counters.bump("socket_bad_request")
        }
    }

    func send(_ m: Message, _ payload: UnsafeRawBufferPointer, from s: UDPSocketState, ports: Ports) {
        var dst = UInt32(truncatingIfNeeded: m.arg.0)
        var dport = UInt16(truncatingIfNeeded: m.arg.1)
        if dst == 0 && dport == 0, let r = s.remote { (dst, dport) = r }
        guard dst != 0, dport != 0, m.arg.0 <= UInt64(UInt32.max), m.arg.1 <= 65535 else {
            s.header.set(error: -Errno.destinationRequired); counters.bump("send_no_destination"); return
        }
        if s.port == nil, claim(0, for: s) != 0 { s.header.set(error: -Errno.addressInUse); return }
        let header = UDPHeader(sourcePort: s.port!, destinationPort: dport, payloadLength: payload.count)
        let n = header.emit(into: segment, payload: payload, src: address, dst: IPv4Address(dst))
        guard n > 0 else { s.header.set(error: -Errno.messageTooLong); counters.bump("send_too_big"); return }
        let msg = Message(kind: .datagram, seq: 0, args: (UInt64(address.value), UInt64(dst), UInt64(IPProtocol.udp.rawValue), 0, 0, 0))
        if ports.send(ip, msg, payload: UnsafeRawBufferPointer(rebasing: segment[0..<n])) {
            counters.bump("datagrams_out")
        } else {
            counters.bump("send_ip_full")
        }
    }

    // MARK: - From the IP server

    func handle(_ message: Message, payload: UnsafeRawBufferPointer, from port: Int, ports: Ports) {
        guard port == ip, message.kind == MessageKind.datagram.rawValue else { counters.bump("dropped_unexpected_message"); return }
        // The packet is the IP server's word: parse it again rather than trust the arguments.
        guard let packet = try? IPv4Packet(payload, verifyChecksum: false), packet.protocol == .udp else {
            counters.bump("dropped_bad_packet"); return
        }
        let udp: UDPDatagram
        do { udp = try UDPDatagram(packet.payload) } catch { counters.bump(error.counterName); return }
        guard udp.verifyChecksum(src: packet.source, dst: packet.destination) else { counters.drop(.udpBadChecksum); return }
        counters.bump("datagrams_in")
        if self.ports[udp.destinationPort] == nil, awaitingHandOver(port: udp.destinationPort) {
            // Just restarted, and newsd's hand-over of the socket that held this port may be
            // waiting on our control socket: take it first rather than refuse the datagram.
            _ = descriptorReady(control, ports: ports)
        }
        guard let id = self.ports[udp.destinationPort], let s = sockets[id] else {
            counters.bump("dropped_no_port")
            // Not for a broadcast or multicast destination (RFC 1122 4.1.3.1).
            if !packet.destination.isBroadcast && !packet.destination.isMulticast {
                counters.bump("port_unreachable_sent")
                ports.send(ip, Message(kind: .unreachable, seq: 0, args: (UInt64(ICMPUnreachableCode.port), 0, 0, 0, 0, 0)), payload: payload)
            }
            return
        }
        // A connected socket hears only from its peer.
        if let r = s.remote, r.address != packet.source.value || r.port != udp.sourcePort {
            counters.bump("dropped_not_from_peer"); return
        }
        let m = Message(kind: .socketData, seq: 0, args: (UInt64(packet.source.value), UInt64(udp.sourcePort), 0, 0, 0, 0))
        if (try? s.channel.send(m, payload: udp.payload)) == true {
            counters.bump("delivered")
        } else {
            counters.bump("dropped_socket_full")
        }
    }
}

/// The UDP server's view of one socket: its region (mapped here), its channel (we are the
/// lower end), its kick eventfd, and the binding. The header is the application's to write,
/// so the truth about owner, port and peer is kept here; the header only reports it.
final class UDPSocketState {
    let id: UInt32
    let uid: UInt32
    let region: SharedRegion
    let header: SocketHeader
    let channel: ShmChannel
    let kick: Int32
    var port: UInt16?
    var remote: (address: UInt32, port: UInt16)?

    /// Maps the region newsd created (SharedRegion checks its size and seals first).
    init(id: UInt32, uid: UInt32, fd: Int32, kick: Int32) throws {
        region = try SharedRegion(fd: fd, size: SocketLayout.regionSize, name: "socket \(id)")
        header = SocketHeader(region.base)
        guard header.valid, header.id == id else {
            region.unmap()
            throw LaunchArguments.Invalid(description: "socket \(id): bad header")
        }
        self.id = id
        self.uid = uid
        self.kick = kick
        do {
            channel = try ShmChannel(name: "socket-\(id)", base: SocketLayout.channel(region.base), capacity: SocketLayout.capacity,
                                     side: .lower, peerBell: header.appBell, slot: SocketLayout.slot)
        } catch {
            region.unmap()
            throw error
        }
    }

    func release() {
        region.unmap()
        region.closeDescriptor()
        FD.close(kick)
    }
}
