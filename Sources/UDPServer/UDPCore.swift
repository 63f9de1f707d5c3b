import NewsIPC
import NewsServer
import NewsWire

/// The UDP server's core (RFC 768, RFC 1122 4.1): datagrams from the IP server are checked
/// (length, checksum) and delivered to the socket bound to their port; a datagram for a
/// port nobody holds is answered with ICMP port unreachable (RFC 1122 4.1.3.1).
final class UDPCore: ServerCore {
    let ip: Int
    /// Ports with a socket behind them. The socket API (libnews, exposed socket buffers)
    /// fills this; until an application binds, every port is closed.
    var bound: Set<UInt16> = []
    let counters: NamedCounters

    init(_ context: ServerContext) throws {
        guard let ip = context.ports.index(of: "udp-ip") else { throw LaunchArguments.Invalid(description: "udpserver needs udp-ip") }
        self.ip = ip
        counters = NamedCounters(context)
    }

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
        guard bound.contains(udp.destinationPort) else {
            counters.bump("dropped_no_port")
            // Not for a broadcast or multicast destination (RFC 1122 4.1.3.1); ipserver
            // checks that as well.
            if !packet.destination.isBroadcast && !packet.destination.isMulticast {
                counters.bump("port_unreachable_sent")
                ports.send(ip, Message(kind: .unreachable, seq: 0, args: (UInt64(ICMPUnreachableCode.port), 0, 0, 0, 0, 0)), payload: payload)
            }
            return
        }
        counters.bump("delivered")
    }
}
