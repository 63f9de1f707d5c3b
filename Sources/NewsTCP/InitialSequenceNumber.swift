/// Initial sequence numbers per RFC 6528 section 3:
///
///     ISN = M + F(localip, localport, remoteip, remoteport, secretkey)
///
/// "where M is the 4 microsecond timer", and F a keyed pseudorandom function, here
/// SipHash-2-4. Each connection id gets its own sequence space offset, which an off-path
/// attacker cannot guess without the key, while successive incarnations of one id still
/// advance with the clock (so old duplicates fall behind, RFC 9293 3.4.1). The TCP server
/// keeps the key in its state region, so a restarted server continues the same spaces.
public struct InitialSequenceNumbers: Sendable {
    public let function: SipHash24

    public init(secret: (UInt64, UInt64)) { function = SipHash24(key: secret) }

    /// `now`: nanoseconds on the monotonic clock the server passes in.
    public func isn(localAddress: UInt32, localPort: UInt16, remoteAddress: UInt32, remotePort: UInt16, now: UInt64) -> SequenceNumber {
        var id: (UInt32, UInt32, UInt16, UInt16) = (localAddress, remoteAddress, localPort, remotePort)
        let f = withUnsafeBytes(of: &id) { function.hash($0) }
        let m = UInt32(truncatingIfNeeded: now / 4_000)
        return SequenceNumber(m &+ UInt32(truncatingIfNeeded: f))
    }
}
