/// CUBIC (RFC 9438) on top of the shared slow start and RFC 6582 fast recovery.
///
/// cwnd stays integer bytes. The cubic function itself is evaluated in Double: K needs a cube
/// root, and (t - K)^3 at nanosecond resolution does not fit 64-bit integers; W_max and W_est
/// are real-valued in the RFC (W_max * (1 + beta) / 2, alpha_cubic * segments_acked / cwnd)
/// and are kept as Double bytes so fractions of a segment accumulate rather than vanish.
/// Everything written back to cwnd or ssthresh is truncated to whole bytes.
public struct Cubic: CongestionController, Equatable {
    var core: WindowCore
    public let parameters: CubicParameters
    /// W_max in bytes: the window just before the last reduction (after fast convergence).
    public private(set) var maximumWindow: Double?
    /// cwnd_prior: cwnd when ssthresh was last set, where alpha_cubic turns to 1 (4.3).
    public private(set) var priorWindow = 0
    /// When the current congestion avoidance stage began (nil: not begun yet).
    public private(set) var epochStart: UInt64?
    /// K in seconds: the time from the epoch until W_cubic is back at W_max (equation 2).
    public private(set) var k: Double = 0
    /// W_est in bytes, the Reno-friendly estimate (4.3).
    public private(set) var renoEstimate: Double = 0
    /// RFC 9438 4.8: after a timeout, the next stage uses "K is set to 0, and W_max is set to
    /// the congestion window size at the beginning of the current congestion avoidance stage".
    var restartAfterTimeout = false

    public init(maximumSegmentSize: Int, configuration: CongestionConfiguration = CongestionConfiguration(algorithm: .cubic)) {
        core = WindowCore(smss: maximumSegmentSize, configuration: configuration)
        parameters = configuration.cubic
    }

    public var window: Int { core.window }
    public var slowStartThreshold: Int { core.slowStartThreshold }
    public var isInRecovery: Bool { core.inRecovery }
    public var maximumSegmentSize: Int { core.smss }

    /// alpha_cubic = 3 * (1 - beta) / (1 + beta) (equation 4), about 0.529 for beta 0.7.
    public var renoFriendlyAlpha: Double { 3 * (1 - parameters.beta) / (1 + parameters.beta) }

    /// Equation 1 in bytes: W_cubic(t) = C * (t - K)^3 + W_max, t seconds since the epoch
    /// (C is per segment, hence the SMSS factor). Nil before the first avoidance stage.
    public func cubicWindow(elapsed nanoseconds: UInt64) -> Double? {
        guard epochStart != nil, let wMax = maximumWindow else { return nil }
        return cubic(Double(nanoseconds) / 1e9, wMax)
    }

    func cubic(_ t: Double, _ wMax: Double) -> Double {
        let d = t - k
        return parameters.c * Double(core.smss) * d * d * d + wMax
    }

    public mutating func acknowledged(_ ack: CongestionAck) -> CongestionAckOutcome {
        if let outcome = core.recoveryStep(ack) { return outcome }
        guard ack.bytes > 0 else { return .normal }
        if core.isSlowStart {
            // RFC 9438 4.10: "CUBIC MUST employ a slow-start algorithm".
            core.slowStart(ack.bytes)
            return .normal
        }
        if epochStart == nil { beginEpoch(at: ack.now) }
        let start = epochStart!
        let wMax = maximumWindow!
        let t = Double(ack.now >= start ? ack.now - start : 0) / 1e9
        let rtt = Double(ack.smoothedRoundTrip ?? 0) / 1e9
        let cwnd = Double(core.window)

        // 4.3: "W_est = W_est + α_cubic * segments_acked / cwnd" (segments), and "once W_est
        // has grown to reach the cwnd at the time of most recently setting ssthresh ... the
        // sender SHOULD set α_cubic to 1".
        let alpha = renoEstimate >= Double(priorWindow) ? 1 : renoFriendlyAlpha
        renoEstimate += alpha * Double(ack.bytes) * Double(core.smss) / cwnd

        if cubic(t, wMax) < renoEstimate {
            // 4.3: "If so, CUBIC is in the Reno-friendly region and cwnd SHOULD be set to
            // W_est". Never shrink on an ACK, though: cwnd may be ahead from looking one RTT on.
            core.window = max(core.window, Int(renoEstimate))
        } else {
            // 4.4/4.5: target = W_cubic(t + RTT) clamped to [cwnd, 1.5 * cwnd]; "cwnd MUST be
            // incremented by (target - cwnd) / cwnd for each received new ACK" (per segment
            // acknowledged; in bytes that is (target - cwnd) * bytes / cwnd).
            let target = min(max(cubic(t + rtt, wMax), cwnd), 1.5 * cwnd)
            core.window += (Int(target) - core.window) * ack.bytes / core.window
        }
        return .normal
    }

    mutating func beginEpoch(at now: UInt64) {
        epochStart = now
        let cwnd = Double(core.window)
        renoEstimate = cwnd
        if restartAfterTimeout || maximumWindow.map({ $0 <= cwnd }) ?? true {
            // Above the old maximum (or none known): start from the plateau, K = 0.
            maximumWindow = cwnd
            k = 0
        } else {
            // Equation 2: K = cubic_root((W_max - cwnd_epoch) / C), in segments.
            k = cubeRoot((maximumWindow! - cwnd) / Double(core.smss) / parameters.c)
        }
        restartAfterTimeout = false
    }

    public mutating func duplicateAcknowledged() { core.inflate() }

    /// 4.6: "ssthresh = flight_size * β_cubic", at least 2 SMSS ("cwnd >= 2 SMSS").
    func reduced(_ loss: CongestionLoss) -> Int { max(Int(Double(loss.flightSize) * parameters.beta), 2 * core.smss) }

    public mutating func lossDetected(_ loss: CongestionLoss) -> Bool {
        let cwnd = core.window
        guard core.enterRecovery(loss, slowStartThreshold: reduced(loss)) else { return false }
        // 4.7 fast convergence: "if cwnd < W_max and fast convergence enabled, further
        // reduce W_max: W_max = cwnd * (1 + β_cubic) / 2; otherwise, remember cwnd before
        // reduction: W_max = cwnd".
        if parameters.fastConvergence, let wMax = maximumWindow, Double(cwnd) < wMax {
            maximumWindow = Double(cwnd) * (1 + parameters.beta) / 2
        } else {
            maximumWindow = Double(cwnd)
        }
        priorWindow = cwnd
        epochStart = nil
        return true
    }

    /// 4.8: "In the case of a timeout, CUBIC follows Reno to reduce cwnd [RFC5681] but sets
    /// ssthresh using β_cubic (same as in Section 4.6)".
    public mutating func retransmissionTimedOut(_ loss: CongestionLoss) {
        let cwnd = core.window
        if core.timeout(loss, slowStartThreshold: reduced(loss)) { priorWindow = cwnd }
        epochStart = nil
        restartAfterTimeout = true
    }

    /// RFC 5681 4.1's restart window; the idle time is no congestion avoidance time, so the
    /// cubic curve starts a new stage (from the kept W_max) when growth resumes.
    public mutating func restartAfterIdle() {
        core.restartAfterIdle()
        epochStart = nil
    }
}

/// The real cube root of a non-negative number by Newton's method (the standard library has
/// no cbrt without Foundation). Starts from a power of two near the root; quadratic
/// convergence to full Double precision takes a handful of steps.
func cubeRoot(_ a: Double) -> Double {
    guard a > 0, a.isFinite else { return a > 0 ? a : 0 }
    var x = Double(sign: .plus, exponent: a.exponent / 3, significand: 1)
    for _ in 0..<64 {
        let next = (2 * x + a / (x * x)) / 3
        if next == x { break }
        x = next
    }
    return x
}
