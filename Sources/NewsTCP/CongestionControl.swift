/// Congestion control as a value the connection feeds with events and reads a window from.
/// Windows and thresholds are bytes; time is nanoseconds passed in. Detecting losses
/// (duplicate ACK counting, SACK scoreboard) is the connection's business: these types only
/// decide what the window does about them.
public protocol CongestionController: Sendable {
    /// cwnd, in bytes.
    var window: Int { get }
    /// ssthresh, in bytes.
    var slowStartThreshold: Int { get }
    /// Whether fast recovery (RFC 6582) is under way.
    var isInRecovery: Bool { get }

    /// An ACK that acknowledged new data.
    mutating func acknowledged(_ ack: CongestionAck) -> CongestionAckOutcome
    /// A further duplicate ACK while in recovery: a segment has left the network.
    mutating func duplicateAcknowledged()
    /// Loss detected by duplicate ACKs (the third one) or SACK: enter fast retransmit and
    /// fast recovery. Returns false when recovery is not entered (already in it, or the ACK
    /// does not cover `recover`, RFC 6582 3.2 step 2); the caller then does not retransmit.
    mutating func lossDetected(_ loss: CongestionLoss) -> Bool
    /// The retransmission timer expired.
    mutating func retransmissionTimedOut(_ loss: CongestionLoss)
    /// Nothing was sent for longer than the RTO and sending resumes (RFC 5681 4.1).
    mutating func restartAfterIdle()
}

/// One ACK of new data.
public struct CongestionAck: Sendable, Equatable {
    /// Bytes newly acknowledged (SEG.ACK - SND.UNA before the ACK).
    public var bytes: Int
    /// SEG.ACK.
    public var acknowledgment: SequenceNumber
    /// Bytes still outstanding after this ACK (FlightSize).
    public var flightSize: Int
    /// The current SRTT if there is one (CUBIC looks one RTT ahead).
    public var smoothedRoundTrip: UInt64?
    public var now: UInt64
    public init(bytes: Int, acknowledgment: SequenceNumber, flightSize: Int, smoothedRoundTrip: UInt64? = nil, now: UInt64) {
        self.bytes = bytes; self.acknowledgment = acknowledgment; self.flightSize = flightSize
        self.smoothedRoundTrip = smoothedRoundTrip; self.now = now
    }
}

/// The state of the send side when a loss is detected.
public struct CongestionLoss: Sendable, Equatable {
    /// Bytes outstanding (FlightSize) when the loss is detected.
    public var flightSize: Int
    /// SND.UNA: the cumulative acknowledgment the duplicate ACKs carry.
    public var unacknowledged: SequenceNumber
    /// SND.NXT: RFC 6582's recover is "the highest sequence number transmitted", SND.NXT - 1.
    public var sendNext: SequenceNumber
    public var now: UInt64
    public init(flightSize: Int, unacknowledged: SequenceNumber, sendNext: SequenceNumber, now: UInt64) {
        self.flightSize = flightSize; self.unacknowledged = unacknowledged; self.sendNext = sendNext; self.now = now
    }
}

/// What the connection must do after an ACK of new data.
public enum CongestionAckOutcome: Sendable, Equatable {
    /// Not in recovery: nothing special.
    case normal
    /// RFC 6582 3.2 step 3, partial ACK: "retransmit the first unacknowledged segment";
    /// "For the first partial ACK that arrives during fast recovery, also reset the
    /// retransmit timer" (`restartTimer`).
    case partialAcknowledgment(restartTimer: Bool)
    /// A full ACK (it covers `recover`): fast recovery is over.
    case recoveryEnded
}

public enum CongestionAlgorithm: String, Sendable, Equatable, CaseIterable {
    case newReno = "newreno"
    case cubic
}

/// Congestion control settings a server reads from its configuration.
public struct CongestionConfiguration: Sendable, Equatable {
    public var algorithm: CongestionAlgorithm
    /// nil: RFC 6928's initial window, min (10*MSS, max (2*MSS, 14600)). Otherwise this many
    /// segments.
    public var initialWindowSegments: Int?
    /// L of RFC 3465 2.2 (in SMSS): a slow-start ACK grows cwnd by at most L*SMSS. "an L of
    /// 2*SMSS bytes" is what the RFC allows; RFC 5681's equation (2) is L = 1.
    public var byteCountingLimit: Int
    /// Initial ssthresh in bytes. RFC 5681 3.1: "The initial value of ssthresh SHOULD be set
    /// arbitrarily high (e.g., to the size of the largest possible advertised window)".
    public var initialSlowStartThreshold: Int
    public var cubic: CubicParameters

    public init(algorithm: CongestionAlgorithm = .cubic, initialWindowSegments: Int? = nil,
                byteCountingLimit: Int = 2, initialSlowStartThreshold: Int = 1 << 30,
                cubic: CubicParameters = CubicParameters()) {
        self.algorithm = algorithm
        self.initialWindowSegments = initialWindowSegments
        self.byteCountingLimit = max(1, byteCountingLimit)
        self.initialSlowStartThreshold = initialSlowStartThreshold
        self.cubic = cubic
    }

    /// The initial cwnd for a connection with this SMSS.
    public func initialWindow(maximumSegmentSize smss: Int) -> Int {
        if let n = initialWindowSegments { return max(1, n) * smss }
        // RFC 6928 2: "min (10*MSS, max (2*MSS, 14600))"
        return min(10 * smss, max(2 * smss, 14600))
    }

    /// The configured algorithm for a connection whose SMSS is `maximumSegmentSize`.
    public func makeController(maximumSegmentSize: Int) -> any CongestionController {
        switch algorithm {
        case .newReno: return NewReno(maximumSegmentSize: maximumSegmentSize, configuration: self)
        case .cubic: return Cubic(maximumSegmentSize: maximumSegmentSize, configuration: self)
        }
    }
}

/// RFC 9438's constants.
public struct CubicParameters: Sendable, Equatable {
    /// C, in segments per second cubed: "C SHOULD be set to 0.4".
    public var c: Double
    /// beta_cubic: "β_cubic SHOULD be set to 0.7".
    public var beta: Double
    /// RFC 9438 4.7: fast convergence "SHOULD" be used.
    public var fastConvergence: Bool
    public init(c: Double = 0.4, beta: Double = 0.7, fastConvergence: Bool = true) {
        self.c = c; self.beta = beta; self.fastConvergence = fastConvergence
    }
}

/// The window bookkeeping both algorithms share: slow start, RFC 6582 fast recovery with its
/// recovery point, and timeout collapse. The algorithms differ in how ssthresh is chosen on a
/// loss and how cwnd grows in congestion avoidance.
struct WindowCore: Sendable, Equatable {
    let smss: Int
    let byteCountingLimit: Int
    let initialWindow: Int
    var window: Int
    var slowStartThreshold: Int
    var inRecovery = false
    /// RFC 6582's recover; nil once an ACK has passed it outside recovery (so that a stale
    /// value cannot compare the wrong way after 2^31 bytes).
    var recover: SequenceNumber?
    var partialAckSeen = false
    /// Timer expiries since the last ACK of new data (RFC 5681: only the first of a series
    /// sets ssthresh).
    var timeoutsInARow = 0

    init(smss: Int, configuration c: CongestionConfiguration) {
        self.smss = max(1, smss)
        self.byteCountingLimit = c.byteCountingLimit
        self.initialWindow = c.initialWindow(maximumSegmentSize: self.smss)
        self.window = initialWindow
        self.slowStartThreshold = c.initialSlowStartThreshold
    }

    var isSlowStart: Bool { window < slowStartThreshold }

    /// The recovery part of an ACK; nil means "not in recovery, grow the window".
    mutating func recoveryStep(_ ack: CongestionAck) -> CongestionAckOutcome? {
        timeoutsInARow = 0
        guard inRecovery, let point = recover else {
            if let old = recover, ack.acknowledgment > old { recover = nil }
            return nil
        }
        if ack.acknowledgment > point {
            // RFC 6582 3.2 step 3, full ACK: "Set cwnd to either (1) min (ssthresh,
            // max(FlightSize, SMSS) + SMSS) or (2) ssthresh". (1) avoids a burst when little
            // is in flight.
            window = min(slowStartThreshold, max(ack.flightSize, smss) + smss)
            inRecovery = false
            recover = nil
            return .recoveryEnded
        }
        // Partial ACK: "deflate the congestion window by the amount of new data acknowledged
        // by the Cumulative Acknowledgment field. If the partial ACK acknowledges at least
        // one SMSS of new data, then add back SMSS bytes to the congestion window."
        window = max(smss, window - ack.bytes)
        if ack.bytes >= smss { window += smss }
        let first = !partialAckSeen
        partialAckSeen = true
        return .partialAcknowledgment(restartTimer: first)
    }

    /// RFC 5681 3.1, equation (2): "cwnd += min (N, SMSS)", with RFC 3465 2.2's limit L in
    /// place of one SMSS (N is the number of previously unacknowledged bytes the ACK covers).
    mutating func slowStart(_ bytes: Int) {
        window += min(bytes, byteCountingLimit * smss)
    }

    /// RFC 6582 3.2 step 2: "If the Cumulative Acknowledgment field didn't cover more than
    /// recover, ... do not enter fast retransmit". Then 3.2 step 2/RFC 5681 3.2 steps 2-3:
    /// retransmit and set "cwnd = ssthresh + 3*SMSS", which "artificially inflates the
    /// congestion window by the number of segments (three) that have left the network".
    mutating func enterRecovery(_ loss: CongestionLoss, slowStartThreshold newThreshold: Int) -> Bool {
        guard !inRecovery else { return false }
        if let r = recover, loss.unacknowledged <= r { return false }
        slowStartThreshold = newThreshold
        window = newThreshold + 3 * smss
        recover = loss.sendNext - 1
        inRecovery = true
        partialAckSeen = false
        return true
    }

    /// RFC 5681 3.2 step 4: "For each additional duplicate ACK received (after the third),
    /// cwnd MUST be incremented by SMSS."
    mutating func inflate() {
        if inRecovery { window += smss }
    }

    /// RFC 5681 4.1: "a TCP SHOULD set cwnd to no more than RW before beginning transmission
    /// if the TCP has not sent data in an interval exceeding the retransmission timeout",
    /// where "RW = min(IW,cwnd)".
    mutating func restartAfterIdle() {
        window = min(window, initialWindow)
    }

    /// RFC 5681 3.1: "upon a timeout ... cwnd MUST be set to no more than the loss window,
    /// LW, which equals 1 full-sized segment"; ssthresh only on the first timeout of a series
    /// ("the given segment has not yet been resent by way of the retransmission timer").
    /// RFC 6582 3.2 step 4: "After a retransmit timeout, record the highest sequence number
    /// transmitted in the variable recover, and exit the fast recovery procedure".
    /// Returns whether this was the first timeout of a series.
    mutating func timeout(_ loss: CongestionLoss, slowStartThreshold newThreshold: Int) -> Bool {
        let first = timeoutsInARow == 0
        if first { slowStartThreshold = newThreshold }
        timeoutsInARow += 1
        window = smss
        inRecovery = false
        recover = loss.sendNext - 1
        return first
    }
}
