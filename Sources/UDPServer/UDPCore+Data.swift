import NewsConfig
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
            guard localPort(of: s) != nil else { s.header.answer(number, result: -Errno.addressInUse); return }
            connect(s, to: (dst, port))
            s.header.answer(number, result: 0)
        case .socketSend?:
            send(m, payload, from: s, ports: ports)
        default:
            counters.bump("socket_bad_request")
        }
    }

    /// One datagram an application queued. libnews refuses a bad one on the call that made
    /// it, as Linux does; these checks are for applications that write their rings without
    /// libnews. Such a datagram is dropped and counted: the error word is only for the
    /// asynchronous errors Linux reports later too (an ICMP error to a connected socket).
    func send(_ m: Message, _ payload: UnsafeRawBufferPointer, from s: UDPSocketState, ports: Ports) {
        var dst = UInt32(truncatingIfNeeded: m.arg.0)
        var dport = UInt16(truncatingIfNeeded: m.arg.1)
        guard m.arg.0 <= UInt64(UInt32.max), m.arg.1 <= 65535 else { counters.bump("send_bad_destination"); return }
        if dst == 0 && dport == 0 {
            guard let r = s.remote else { counters.bump("send_no_destination"); return }
            (dst, dport) = r
        }
        switch UDPLimits.check(destination: (dst, dport), payloadLength: payload.count) {
        case .badDestination?: counters.bump("send_bad_destination"); return
        case .tooLong?: counters.bump("send_too_big"); return
        case nil: break
        }
        guard let sourcePort = localPort(of: s) else { counters.bump("send_no_ephemeral_port"); return }
        // The IP server takes a whole IP packet from us and judges it by its bytes.
        let udp = UDPHeader(sourcePort: sourcePort, destinationPort: dport, payloadLength: payload.count)
        let ipHeader = IPv4Header(source: address, destination: IPv4Address(dst), protocol: .udp, payloadLength: udp.bufferLength)
        let h = ipHeader.emit(into: segment)
        let n = udp.emit(into: UnsafeMutableRawBufferPointer(rebasing: segment[h...]), payload: payload, src: address, dst: IPv4Address(dst))
        guard h > 0, n > 0 else { counters.bump("send_too_big"); return }
        let msg = Message(kind: .datagram, seq: 0)
        if ports.send(ip, msg, payload: UnsafeRawBufferPointer(rebasing: segment[0..<(h + n)])) {
            counters.bump("datagrams_out")
        } else {
            counters.bump("send_ip_full")
        }
    }

    // MARK: - From the IP server

    func handle(_ message: Message, payload: UnsafeRawBufferPointer, from port: Int, ports: Ports) {
        guard port == ip else { counters.bump("dropped_unexpected_message"); return }
        switch MessageKind(rawValue: message.kind) {
        case .datagram?: input(datagram: payload, checksumVouched: message.offload.checksumValid, ports: ports)
        case .unreachable?: input(unreachable: message, quote: payload)
        default: counters.bump("dropped_unexpected_message")
        }
    }

    /// A datagram from ipserver. `checksumVouched`: the TAP's kernel said the checksum needs
    /// no check (a datagram from this host; with checksum offload the field may be partial).
    func input(datagram payload: UnsafeRawBufferPointer, checksumVouched: Bool = false, ports: Ports) {
        // The packet is the IP server's word: parse it again rather than trust the arguments.
        guard let packet = try? IPv4Packet(payload, verifyChecksum: false), packet.protocol == .udp else {
            counters.bump("dropped_bad_packet"); return
        }
        let udp: UDPDatagram
        do { udp = try UDPDatagram(packet.payload) } catch { counters.bump(error.counterName); return }
        guard checksumVouched || udp.verifyChecksum(src: packet.source, dst: packet.destination) else { counters.drop(.udpBadChecksum); return }
        // RFC 768: the sender computed no checksum; lawful over IPv4, delivered like Linux does.
        if !udp.hasChecksum { counters.bump("udp_no_checksum") }
        counters.bump("datagrams_in")
        if portTable[udp.destinationPort] == nil, awaitingHandOver(port: udp.destinationPort) {
            // Just restarted, and newsd's hand-over of the socket that held this port may be
            // waiting on our control socket: take it first rather than refuse the datagram.
            _ = descriptorReady(control, ports: ports)
        }
        guard let id = portTable[udp.destinationPort], let s = sockets[id] else {
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

    /// ICMP destination unreachable about a datagram we sent (the IP server passes up the
    /// quote). As on Linux (udp_err) without IP_RECVERR, only a connected socket whose
    /// peer is the quoted destination hears of it, and only of a hard error (port or
    /// protocol unreachable, …): its next call fails with that error, ECONNREFUSED for a
    /// closed port. Unconnected sockets ignore ICMP errors.
    func input(unreachable message: Message, quote: UnsafeRawBufferPointer) {
        let quoted: ICMPQuotedDatagram
        do { quoted = try ICMPQuotedDatagram(quote) } catch { counters.bump(error.counterName); return }
        guard quoted.protocol == .udp, quoted.source == address, let code = UInt8(exactly: message.arg.0) else {
            counters.bump("icmp_error_bad_quote"); return
        }
        counters.bump("icmp_errors_in")
        guard let id = portTable[quoted.sourcePort], let s = sockets[id], let r = s.remote,
              r.address == quoted.destination.value, r.port == quoted.destinationPort else {
            counters.bump("icmp_error_not_connected"); return
        }
        guard let error = ICMPUnreachableCode.socketError(code), error.hard else { counters.bump("icmp_error_soft"); return }
        s.header.set(error: -error.errno)
        s.header.appBell.ring()  // a receive asleep on this socket returns with the error
        counters.bump("icmp_error_reported")
    }
}

/// The UDP server's view of one socket: its region (mapped here), its channel (we are the
/// lower end), our end of its kick, its owner and its peer (its port is the PortTable's).
/// The header is the application's to write, so the truth is kept here and in the binding
/// store; the header only reports it.
final class UDPSocketState {
    let id: UInt32
    let uid: UInt32
    let region: SharedRegion
    let header: SocketHeader
    let channel: ShmChannel
    let kick: Int32
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
