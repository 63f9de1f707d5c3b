/// SYN cookies (RFC 4987 section 3.6): when the listen queue's half-open entries are used
/// up, a listener answers a SYN without keeping any state and encodes what it must remember
/// in its own initial sequence number. The peer's ACK of the SYN-ACK returns it as ACK - 1;
/// the listener checks it and only then creates the connection, so a flood of spoofed SYNs
/// costs no memory.
///
/// The cookie, most significant bits first:
///
///     5 bits  t mod 32, t = now / 64 s (a cookie is honoured for one to two periods)
///     3 bits  index of the MSS in `mssTable` (the largest entry not above the peer's MSS)
///    24 bits  SipHash-2-4(key; both addresses and ports, the peer's ISN, t), truncated
///
/// Hashing the peer's ISN too means the ACK's sequence number (peer ISN + 1) must match, so
/// a forger needs both sequence numbers of a handshake it cannot see. What a cookie cannot
/// carry, this one leaves out: a connection made from a cookie runs without window
/// scaling, SACK and timestamps (the SYN's options are not stored anywhere).
public struct SYNCookies: Sendable {
    /// The MSS values a cookie can say: common path MTUs less 40 bytes of headers.
    public static let mssTable: [UInt16] = [536, 1024, 1220, 1360, 1440, 1460, 4312, 8960]
    /// Nanoseconds in one period of the cookie's clock.
    public static let period: UInt64 = 64_000_000_000

    public let function: SipHash24
    public init(secret: (UInt64, UInt64)) { function = SipHash24(key: secret) }

    /// One connection attempt's identity, from the listener's side.
    public struct Handshake: Sendable, Equatable {
        public var localAddress: UInt32
        public var localPort: UInt16
        public var remoteAddress: UInt32
        public var remotePort: UInt16
        /// The peer's initial sequence number (the SYN's sequence number).
        public var remoteISN: SequenceNumber
        public init(localAddress: UInt32, localPort: UInt16, remoteAddress: UInt32, remotePort: UInt16, remoteISN: SequenceNumber) {
            self.localAddress = localAddress
            self.localPort = localPort
            self.remoteAddress = remoteAddress
            self.remotePort = remotePort
            self.remoteISN = remoteISN
        }
    }

    /// The listener's ISN for a SYN it keeps no state for. `peerMSS`: the SYN's MSS option
    /// (536 when it had none, RFC 9293 3.7.1).
    public func cookie(for h: Handshake, peerMSS: UInt16, now: UInt64) -> SequenceNumber {
        let t = UInt32(truncatingIfNeeded: now / Self.period) & 31
        let index = UInt32(Self.mssTable.lastIndex { $0 <= peerMSS } ?? 0)
        return SequenceNumber(t << 27 | index << 24 | hash(h, t))
    }

    /// The MSS a cookie returned in the ACK of our SYN-ACK vouches for, or nil when it is not
    /// one of ours, or is older than the previous period. `h.remoteISN` is the ACK's
    /// sequence number less one; `acknowledgment` its acknowledgment number.
    public func check(_ h: Handshake, acknowledgment: SequenceNumber, now: UInt64) -> UInt16? {
        let value = (acknowledgment - 1).rawValue
        let t = value >> 27
        let current = UInt32(truncatingIfNeeded: now / Self.period) & 31
        // This period or the one before: a handshake takes at most one round trip.
        guard t == current || t == (current &- 1) & 31 else { return nil }
        guard value & 0x00FF_FFFF == hash(h, t) else { return nil }
        return Self.mssTable[Int((value >> 24) & 7)]
    }

    private func hash(_ h: Handshake, _ t: UInt32) -> UInt32 {
        var input: (UInt32, UInt32, UInt32, UInt32, UInt16, UInt16) =
            (h.localAddress, h.remoteAddress, h.remoteISN.rawValue, t, h.localPort, h.remotePort)
        return withUnsafeBytes(of: &input) { UInt32(truncatingIfNeeded: function.hash($0)) } & 0x00FF_FFFF
    }
}
