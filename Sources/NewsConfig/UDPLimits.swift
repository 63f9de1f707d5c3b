/// What one UDP datagram may be in NEWS. libnews checks a send against this before it
/// queues anything, so the call that caused an error reports it (as Linux's sendto does);
/// udpserver checks again, because an application may write its rings without libnews.
public enum UDPLimits {
    /// The largest UDP payload NEWS carries, in either direction: a datagram crosses the
    /// udp-ip channel as one whole IP packet in one slot, so the slot less a 20-byte IPv4
    /// header (transports send none with options) and the 8-byte UDP header. Linux's
    /// limit is 65507 (65535 less the same two headers); a datagram that NEWS receives
    /// with IP options has that many bytes less room.
    public static let maxPayload = Topology.datagramSlot - 20 - 8

    /// Why a send is refused, in the order Linux's udp_sendmsg checks.
    public enum SendProblem: Equatable, Sendable {
        /// Port 0 or address 0.0.0.0 (EINVAL). Linux refuses port 0 with EINVAL too, but
        /// sends to 0.0.0.0 as to its own address (loopback); NEWS has no loopback.
        case badDestination
        /// Longer than `maxPayload` (EMSGSIZE).
        case tooLong
    }

    /// Checks a datagram of `payloadLength` bytes to `destination` (host order; nil: the
    /// connected peer, which the caller knows it has).
    public static func check(destination: (address: UInt32, port: UInt16)?, payloadLength: Int) -> SendProblem? {
        if let d = destination, d.address == 0 || d.port == 0 { return .badDestination }
        if payloadLength > maxPayload { return .tooLong }
        return nil
    }
}
