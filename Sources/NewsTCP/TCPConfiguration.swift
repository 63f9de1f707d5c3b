/// Everything about a connection's behaviour that is policy, not protocol. Times are
/// nanoseconds. The defaults are Linux's where Linux has one.
public struct TCPConfiguration: Sendable, Equatable {
    /// The link MTU (or the path MTU when known): the MSS we announce is this less 40
    /// (RFC 9293 3.7.1: "the MSS value to be sent in an MSS Option must be less than or
    /// equal to MMS_R - 20"), and what we send is clamped to it (PMTU clamping).
    public var mtu: Int = 1500
    /// Offer window scaling (RFC 7323 2), timestamps (RFC 7323 3) and SACK (RFC 2018).
    public var windowScaling = true
    public var timestamps = true
    public var selectiveAcknowledgments = true
    /// The receive window starts here and auto-tunes up to the receive area's size.
    public var initialReceiveWindow = 65_535
    /// TIME-WAIT lasts 2 x MSL (RFC 9293 3.4.2). Linux uses 60 s in all.
    public var timeWait: UInt64 = 60_000_000_000
    /// Delayed ACKs (RFC 9293 3.8.6.3: "the delay MUST be less than 0.5 seconds"); Linux's
    /// minimum delayed-ACK timeout is 40 ms.
    public var delayedAck: UInt64 = 40_000_000
    /// ACK every segment at the start of a connection (Linux's quick-ACK mode), so slow
    /// start is not slowed by the peer's delayed ACKs.
    public var quickAcks = 16
    /// TCP_NODELAY: no Nagle (RFC 9293 3.7.4).
    public var noDelay = false
    /// Keep-alive (RFC 9293 3.8.4): off by default; after `keepAliveIdle` with nothing
    /// received, a probe every `keepAliveInterval`, and the connection fails after
    /// `keepAliveProbes` unanswered ones. Linux: 7200 s, 75 s, 9.
    public var keepAlive = false
    public var keepAliveIdle: UInt64 = 7_200_000_000_000
    public var keepAliveInterval: UInt64 = 75_000_000_000
    public var keepAliveProbes = 9
    /// Zero-window probes back off from the RTO up to this (RFC 9293 3.8.6.1).
    public var maximumProbeInterval: UInt64 = 120_000_000_000
    public var retransmission = RetransmissionConfiguration()
    public var limits = RetransmissionLimits()
    public var congestion = CongestionConfiguration()
    /// At most this many challenge ACKs (RFC 5961 7) per second per connection.
    public var challengeAcksPerSecond = 10
    /// Sender silly-window avoidance's override timeout (RFC 9293 3.8.6.2.1, 0.1 to 1 s).
    public var sendOverride: UInt64 = 200_000_000
    /// Segmentation offload (TSO): the link cuts a segment into MSS-sized ones itself, each
    /// with the same header and options, so new data may leave in segments of up to
    /// `offloadedSegmentBytes` of payload (`OutgoingSegment.segmentSize` then says how the
    /// link must cut). Retransmissions stay one MSS each, as loss recovery counts them.
    public var segmentationOffload = false
    /// The largest payload of an offloaded segment: an IPv4 packet's 65,535 bytes less the
    /// IP header and the largest TCP header (Linux's GSO limit is the same 64 KB).
    public var offloadedSegmentBytes = 65_535 - 20 - 60

    public init() {}

    /// The MSS we announce (and receive at most): MTU less the IP and TCP headers.
    public var announcedMSS: Int { max(536, min(65_495, mtu - 40)) }
}
