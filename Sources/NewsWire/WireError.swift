/// Why a frame was dropped while being parsed.
///
/// One case per reason, no payloads, so each maps onto a fixed counter.
/// `counterName` strings are part of the observable interface (metrics,
/// dashboards): never rename one, only add new cases.
public enum WireError: Error, Equatable, Hashable, Sendable, CaseIterable {
    // Ethernet
    case ethernetTruncated

    // ARP (RFC 826)
    case arpTruncated
    /// htype/ptype/hlen/plen other than Ethernet(1)/IPv4(0x0800)/6/4.
    case arpUnsupported

    // IPv4 (RFC 791)
    case ipv4Truncated
    case ipv4BadVersion
    /// IHL below 5 words: shorter than the fixed header.
    case ipv4BadIHL
    /// IHL*4 exceeds the bytes we were given.
    case ipv4HeaderBeyondPacket
    /// Total Length smaller than the header itself.
    case ipv4TotalLengthTooShort
    /// Total Length claims more bytes than the frame carries.
    case ipv4TotalLengthBeyondFrame
    case ipv4BadChecksum
    /// TTL would reach zero when forwarding (RFC 1812 5.3.1).
    case ipv4TTLZero
    /// Source is broadcast or multicast (RFC 1122 3.2.1.3, RFC 1812 5.3.7).
    case ipv4MartianSource
    /// An option's length byte is < 2 or runs past the header (RFC 791 3.1).
    case ipv4BadOptionsLength

    // ICMP (RFC 792)
    case icmpTruncated
    case icmpBadChecksum
    /// An ICMP error whose quoted datagram is not an IPv4 header plus the 8 bytes after
    /// it (RFC 792: "the internet header plus the first 64 bits of the original datagram").
    case icmpBadQuote

    // UDP (RFC 768)
    case udpTruncated
    /// Length field < 8 or larger than the IP payload.
    case udpBadLength
    case udpBadChecksum

    // TCP (RFC 9293)
    case tcpTruncated
    /// Data Offset < 5 words or beyond the segment.
    case tcpBadDataOffset
    /// An option whose length is below 2, runs past the header, or does not fit its kind.
    case tcpBadOption

    /// Stable snake_case name, used as a drop counter (`ipv4_bad_checksum`).
    public var counterName: String {
        switch self {
        case .ethernetTruncated: "ethernet_truncated"
        case .arpTruncated: "arp_truncated"
        case .arpUnsupported: "arp_unsupported"
        case .ipv4Truncated: "ipv4_truncated"
        case .ipv4BadVersion: "ipv4_bad_version"
        case .ipv4BadIHL: "ipv4_bad_ihl"
        case .ipv4HeaderBeyondPacket: "ipv4_header_beyond_packet"
        case .ipv4TotalLengthTooShort: "ipv4_total_length_too_short"
        case .ipv4TotalLengthBeyondFrame: "ipv4_total_length_beyond_frame"
        case .ipv4BadChecksum: "ipv4_bad_checksum"
        case .ipv4TTLZero: "ipv4_ttl_zero"
        case .ipv4MartianSource: "ipv4_martian_source"
        case .ipv4BadOptionsLength: "ipv4_bad_options_length"
        case .icmpTruncated: "icmp_truncated"
        case .icmpBadChecksum: "icmp_bad_checksum"
        case .icmpBadQuote: "icmp_bad_quote"
        case .udpTruncated: "udp_truncated"
        case .udpBadLength: "udp_bad_length"
        case .udpBadChecksum: "udp_bad_checksum"
        case .tcpTruncated: "tcp_truncated"
        case .tcpBadDataOffset: "tcp_bad_data_offset"
        case .tcpBadOption: "tcp_bad_option"
        }
    }
}
