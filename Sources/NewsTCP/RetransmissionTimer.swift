/// How the retransmission timeout is computed (RFC 6298). All durations in nanoseconds.
public struct RetransmissionConfiguration: Sendable, Equatable {
    /// RFC 6298 2.1: "Until a round-trip time (RTT) measurement has been made for a segment
    /// sent between the sender and receiver, the sender SHOULD set RTO <- 1 second".
    public var initialTimeout: UInt64
    /// RFC 6298 2.4: "Whenever RTO is computed, if it is less than 1 second, then the RTO
    /// SHOULD be rounded up to 1 second." The RFC's value is `rfcMinimumTimeout`; the default
    /// here is Linux's 200 ms (TCP_RTO_MIN), which every modern stack on a LAN expects.
    public var minimumTimeout: UInt64
    /// RFC 6298 2.5: "A maximum value MAY be placed on RTO provided it is at least 60 seconds."
    /// It also bounds the doubling of 5.5.
    public var maximumTimeout: UInt64
    /// G, the clock granularity of RFC 6298 2: RTO = SRTT + max (G, K*RTTVAR). Time here is
    /// nanoseconds, but the server's timer wheel ticks coarser; G is that tick.
    public var clockGranularity: UInt64

    public static let rfcMinimumTimeout: UInt64 = 1_000_000_000

    public init(initialTimeout: UInt64 = 1_000_000_000, minimumTimeout: UInt64 = 200_000_000,
                maximumTimeout: UInt64 = 60_000_000_000, clockGranularity: UInt64 = 1_000_000) {
        self.initialTimeout = initialTimeout
        self.minimumTimeout = minimumTimeout
        self.maximumTimeout = max(maximumTimeout, minimumTimeout)
        self.clockGranularity = clockGranularity
    }
}

/// Where a round-trip time measurement comes from, so Karn's algorithm can be applied
/// (RFC 6298 3): "RTT samples MUST NOT be made using segments that were retransmitted (and
/// thus for which it is ambiguous whether the reply was for the first instance of the
/// packet or a later instance). The only case when TCP can safely take RTT samples from
/// retransmitted segments is when the TCP timestamp option [RFC 7323] is employed".
public enum RoundTripSample: Sendable, Equatable {
    /// The ACK newly covers a segment sent at this time. `retransmitted` says whether any
    /// part of it was sent more than once; such a sample is refused.
    case segment(sentAt: UInt64, retransmitted: Bool)
    /// RFC 7323 4.1: the ACK echoes (TSecr) a timestamp we sent; this is the local time the
    /// echoed TSval stood for. Unambiguous even for retransmissions.
    case timestampEcho(sentAt: UInt64)
}

/// The RFC 6298 estimator: SRTT, RTTVAR and the current RTO with its backoff. Integer
/// nanoseconds throughout; alpha = 1/8, beta = 1/4 and K = 4 are exact shifts.
public struct RetransmissionTimeout: Sendable, Equatable {
    public let configuration: RetransmissionConfiguration
    /// SRTT, nil until the first measurement.
    public private(set) var smoothedRoundTrip: UInt64?
    /// RTTVAR (0 until the first measurement).
    public private(set) var roundTripVariation: UInt64 = 0
    /// The RTO the timer is armed with now, after any backoff.
    public private(set) var timeout: UInt64
    /// How many times the timer has expired in a row with no new sample (5.5's doublings);
    /// the connection compares it with its R1/R2 thresholds (RFC 9293 3.8.3).
    public private(set) var consecutiveBackoffs: Int = 0

    public init(configuration: RetransmissionConfiguration = RetransmissionConfiguration()) {
        self.configuration = configuration
        self.timeout = Self.clamp(configuration.initialTimeout, configuration)
    }

    /// Take an RTT sample from an ACK received at `now`. Returns the round-trip time used,
    /// or nil if the sample was refused (a retransmitted segment, or a send time after `now`).
    @discardableResult
    public mutating func acknowledged(_ sample: RoundTripSample, at now: UInt64) -> UInt64? {
        let sentAt: UInt64
        switch sample {
        case .segment(_, retransmitted: true): return nil  // Karn: "MUST NOT be used"
        case .segment(let t, retransmitted: false), .timestampEcho(let t): sentAt = t
        }
        guard sentAt <= now else { return nil }
        let rtt = now - sentAt
        update(roundTrip: rtt)
        return rtt
    }

    /// RFC 6298 2.2 and 2.3 with one measurement R.
    public mutating func update(roundTrip r: UInt64) {
        if let srtt = smoothedRoundTrip {
            // 2.3: RTTVAR <- (1 - beta) * RTTVAR + beta * |SRTT - R'|
            //      SRTT <- (1 - alpha) * SRTT + alpha * R'
            // "The value of SRTT used in the update to RTTVAR is its value before updating
            // SRTT itself using the second assignment."
            let deviation = srtt > r ? srtt - r : r - srtt
            roundTripVariation = roundTripVariation - roundTripVariation / 4 + deviation / 4
            smoothedRoundTrip = srtt - srtt / 8 + r / 8
        } else {
            // 2.2: SRTT <- R, RTTVAR <- R/2
            smoothedRoundTrip = r
            roundTripVariation = r / 2
        }
        // RTO <- SRTT + max (G, K*RTTVAR). A new value replaces any backed-off one: the
        // backoff of 5.5 holds only "until an acknowledgment for a non-retransmitted segment".
        let k = roundTripVariation > UInt64.max / 4 ? UInt64.max : roundTripVariation * 4
        let srtt = smoothedRoundTrip!
        let spread = max(configuration.clockGranularity, k)
        timeout = Self.clamp(srtt > UInt64.max - spread ? UInt64.max : srtt + spread, configuration)
        consecutiveBackoffs = 0
    }

    /// RFC 6298 5.5: on expiry "The host MUST set RTO <- RTO * 2 ("back off the timer"). The
    /// maximum value discussed in (2.5) above may be used to provide an upper bound".
    public mutating func backOff() {
        timeout = timeout > configuration.maximumTimeout / 2 ? configuration.maximumTimeout : timeout * 2
        consecutiveBackoffs += 1
    }

    /// RFC 6298 5.7: "If the timer expires awaiting the ACK of a SYN segment and the TCP
    /// implementation is using an RTO less than 3 seconds, the RTO MUST be re-initialized to
    /// 3 seconds when data transmission begins (i.e., after the three-way handshake
    /// completes)." Call it when the handshake completes after a SYN was retransmitted and
    /// no sample has been taken since.
    public mutating func synTimedOutBeforeData() {
        let three: UInt64 = 3_000_000_000
        if timeout < three { timeout = min(three, configuration.maximumTimeout) }
    }

    static func clamp(_ value: UInt64, _ c: RetransmissionConfiguration) -> UInt64 {
        min(max(value, c.minimumTimeout), c.maximumTimeout)
    }
}

/// When to stop retransmitting (RFC 9293 3.8.3), counted in consecutive expiries of the
/// retransmission timer (`RetransmissionTimeout.consecutiveBackoffs`).
public struct RetransmissionLimits: Sendable, Equatable {
    /// R1: "R1 SHOULD correspond to at least 3 retransmissions, at the current RTO". Past it
    /// the IP layer is advised to check the route (negative advice).
    public var adviseAfter: Int
    /// R2 for data: "R2 SHOULD correspond to at least 100 seconds". 15 is Linux's
    /// tcp_retries2 (about 15 minutes with a 200 ms RTO doubling to the 60 s bound).
    public var abortDataAfter: Int
    /// R2 for a SYN: "MUST be set large enough to provide retransmission of the segment for
    /// at least 3 minutes". With the 1 s initial RTO doubling up to 60 s, the 7th
    /// retransmission goes out at 123 s and the connection is given up at 183 s (Linux's
    /// tcp_syn_retries default of 6 gives up at 127 s, short of the RFC's 3 minutes).
    public var abortSynAfter: Int

    public init(adviseAfter: Int = 3, abortDataAfter: Int = 15, abortSynAfter: Int = 7) {
        self.adviseAfter = adviseAfter; self.abortDataAfter = abortDataAfter; self.abortSynAfter = abortSynAfter
    }

    public enum Verdict: Sendable, Equatable {
        case retransmit
        /// R1 reached: retransmit and tell the network layer the path may be bad.
        case retransmitAndAdvise
        /// R2 exceeded: "close the connection".
        case abort
    }

    /// The decision after the timer has expired `expiries` times in a row (the segment has
    /// been retransmitted `expiries - 1` times so far).
    public func verdict(expiries: Int, synchronizing: Bool) -> Verdict {
        if expiries > (synchronizing ? abortSynAfter : abortDataAfter) { return .abort }
        return expiries >= adviseAfter ? .retransmitAndAdvise : .retransmit
    }
}

/// A one-shot timer as a value: a deadline, or stopped. The caller asks it, with the time
/// now, whether it has fired; nothing here reads a clock.
public struct DeadlineTimer: Sendable, Equatable {
    public private(set) var deadline: UInt64?

    public init() {}

    public var isRunning: Bool { deadline != nil }

    /// Start (or restart) so it expires `duration` after `now`.
    public mutating func start(at now: UInt64, duration: UInt64) {
        deadline = now > UInt64.max - duration ? UInt64.max : now + duration
    }

    /// RFC 6298 5.1: "Every time a packet containing data is sent (including a
    /// retransmission), if the timer is not running, start it running so that it will expire
    /// after RTO seconds". A running timer keeps its deadline.
    public mutating func startIfStopped(at now: UInt64, duration: UInt64) {
        if deadline == nil { start(at: now, duration: duration) }
    }

    /// RFC 6298 5.2: "When all outstanding data has been acknowledged, turn off the
    /// retransmission timer."
    public mutating func stop() { deadline = nil }

    /// Whether the deadline has been reached at `now` (a stopped timer never has).
    public func hasExpired(at now: UInt64) -> Bool {
        guard let d = deadline else { return false }
        return now >= d
    }

    /// If expired at `now`, stop the timer and return true: each arming fires once.
    public mutating func fire(at now: UInt64) -> Bool {
        guard hasExpired(at: now) else { return false }
        deadline = nil
        return true
    }

    /// Time left until the deadline (0 once reached), nil when stopped.
    public func remaining(at now: UInt64) -> UInt64? {
        guard let d = deadline else { return nil }
        return d > now ? d - now : 0
    }
}
