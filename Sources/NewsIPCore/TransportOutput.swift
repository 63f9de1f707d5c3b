import NewsWire

/// Why ipserver refuses a datagram that a transport server handed it to send. Each
/// channel carries its own protocol only, and ipserver judges that from the packet's
/// bytes, never from the message's arguments: a transport that was compromised or is
/// broken cannot make ipserver send another protocol's packets or spoof a source.
public enum TransportOutputDrop: Error, Equatable, Sendable, CaseIterable {
    /// Not a plain IPv4 header: unparsable, bad checksum, options, fragment fields set, or
    /// a Total Length other than what arrived. Transports send whole, optionless packets;
    /// ipserver alone fragments.
    case badIPHeader
    /// The IP protocol is not the channel's (a TCP segment on udp-ip, say).
    case wrongProtocol
    /// The source is not ipserver's own address.
    case wrongSource
    /// 0.0.0.0, loopback, or ipserver's own address: nowhere a datagram can be sent to.
    case badDestination
    /// The transport header is not one of the channel's protocol: a UDP Length other than
    /// the payload's, a TCP Data Offset outside the segment, or destination port 0.
    case badSegment

    /// The ipserver counter for this drop (`newsctl stats`).
    public var counterName: String {
        switch self {
        case .badIPHeader: "transport_bad_ip_header"
        case .wrongProtocol: "transport_wrong_protocol"
        case .wrongSource: "transport_wrong_source"
        case .badDestination: "transport_bad_destination"
        case .badSegment: "transport_bad_segment"
        }
    }
}

/// A datagram a transport server asked ipserver to send, checked: where it goes and the
/// transport segment that becomes the IP payload. ipserver then writes its own header
/// (identification, TTL, fragments), so nothing else of the transport's header is used.
public struct TransportOutput {
    public let destination: IPv4Address
    public let segment: UnsafeRawBufferPointer

    /// `packet` as it arrived on the channel of `channelProtocol` (UDP for udp-ip, TCP for
    /// tcp-ip), from a transport of the host whose address is `ourAddress`.
    public init(packet bytes: UnsafeRawBufferPointer, channelProtocol: IPProtocol, ourAddress: IPv4Address) throws(TransportOutputDrop) {
        let packet: IPv4Packet
        do { packet = try IPv4Packet(bytes) } catch { throw .badIPHeader }
        guard packet.headerLength == IPv4Packet.minHeaderLength, packet.totalLength == bytes.count, !packet.isFragment else {
            throw .badIPHeader
        }
        guard packet.protocol == channelProtocol else { throw .wrongProtocol }
        guard packet.source == ourAddress else { throw .wrongSource }
        let dst = packet.destination
        guard !dst.isUnspecified, !dst.isLoopback, dst != ourAddress else { throw .badDestination }
        let segment = packet.payload
        switch channelProtocol {
        case .udp:
            // RFC 768: Length counts header and data, so it is exactly the IP payload.
            guard let udp = try? UDPDatagram(segment), udp.length == segment.count, udp.destinationPort != 0 else {
                throw .badSegment
            }
        case .tcp:
            guard let tcp = try? TCPHeaderView(segment), tcp.destinationPort != 0, tcp.sourcePort != 0 else { throw .badSegment }
        default:
            throw .wrongProtocol
        }
        destination = dst
        self.segment = segment
    }
}
