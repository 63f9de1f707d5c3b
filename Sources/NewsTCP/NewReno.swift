/// RFC 5681 congestion control with RFC 6582's NewReno fast recovery and RFC 3465 byte
/// counting.
public struct NewReno: CongestionController, Equatable {
    var core: WindowCore
    /// RFC 3465 2.1's bytes_acked: congestion avoidance's byte count.
    public private(set) var bytesAcknowledgedInAvoidance = 0

    public init(maximumSegmentSize: Int, configuration: CongestionConfiguration = CongestionConfiguration(algorithm: .newReno)) {
        core = WindowCore(smss: maximumSegmentSize, configuration: configuration)
    }

    public var window: Int { core.window }
    public var slowStartThreshold: Int { core.slowStartThreshold }
    public var isInRecovery: Bool { core.inRecovery }
    public var maximumSegmentSize: Int { core.smss }

    public mutating func acknowledged(_ ack: CongestionAck) -> CongestionAckOutcome {
        if let outcome = core.recoveryStep(ack) {
            bytesAcknowledgedInAvoidance = 0
            return outcome
        }
        guard ack.bytes > 0 else { return .normal }
        if core.isSlowStart {
            core.slowStart(ack.bytes)
        } else {
            // RFC 3465 2.1: "When bytes_acked becomes greater than or equal to the value of
            // the congestion window, bytes_acked is reduced by the value of cwnd. Next, cwnd
            // is incremented by a full-sized segment (SMSS)." About one SMSS per RTT.
            bytesAcknowledgedInAvoidance += ack.bytes
            if bytesAcknowledgedInAvoidance >= core.window {
                bytesAcknowledgedInAvoidance -= core.window
                core.window += core.smss
            }
        }
        return .normal
    }

    public mutating func duplicateAcknowledged() { core.inflate() }

    /// RFC 5681 equation (4): "ssthresh = max (FlightSize / 2, 2*SMSS)".
    func halved(_ loss: CongestionLoss) -> Int { max(loss.flightSize / 2, 2 * core.smss) }

    public mutating func lossDetected(_ loss: CongestionLoss) -> Bool {
        guard core.enterRecovery(loss, slowStartThreshold: halved(loss)) else { return false }
        bytesAcknowledgedInAvoidance = 0
        return true
    }

    public mutating func retransmissionTimedOut(_ loss: CongestionLoss) {
        _ = core.timeout(loss, slowStartThreshold: halved(loss))
        bytesAcknowledgedInAvoidance = 0
    }

    public mutating func restartAfterIdle() { core.restartAfterIdle() }
}
