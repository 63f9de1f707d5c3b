/// A token bucket: at most `burst` events at once, refilled at `perSecond`. ipserver
/// limits the ICMP errors it sends with one. RFC 1812 4.3.2.8: a router "MUST be able to
/// limit the rate at which it generates ICMP error messages" (token bucket named as one
/// way); RFC 1122 3.2.2 and RFC 4443 2.4 (f) ask the same of hosts. Time is in
/// nanoseconds; all arithmetic is integer, in nanoseconds of credit.
public struct TokenBucket: Sendable {
    /// Linux's defaults for all the ICMP errors a host sends (net.ipv4.icmp_msgs_per_sec,
    /// net.ipv4.icmp_msgs_burst).
    public static let icmpErrors = (perSecond: UInt64(1000), burst: UInt64(50))

    public let interval: UInt64
    public let capacity: UInt64
    var credit: UInt64
    var last: UInt64?
    /// Events refused so far.
    public private(set) var refused: UInt64 = 0

    /// Starts full.
    public init(perSecond: UInt64, burst: UInt64) {
        precondition(perSecond > 0 && perSecond <= 1_000_000_000 && burst > 0)
        interval = 1_000_000_000 / perSecond
        capacity = burst * interval
        credit = capacity
    }

    /// Whether one event may happen at `now`; takes its token if so. A clock that goes
    /// backwards adds no credit.
    public mutating func allow(now: UInt64) -> Bool {
        if let last, now > last { credit = min(capacity, credit &+ min(now - last, capacity)) }
        if last == nil || now > last! { last = now }
        guard credit >= interval else { refused &+= 1; return false }
        credit -= interval
        return true
    }
}
