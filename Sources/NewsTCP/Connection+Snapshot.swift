/// A connection's control block as plain numbers: what tcpserver writes to its state
/// region (NewsTCPState's ControlBlockStore) and what `newsctl ss` shows.
public struct TCPControlBlock: Sendable, Equatable {
    public var state: TCPState
    public var iss: SequenceNumber
    public var irs: SequenceNumber
    public var sendUnacknowledged: SequenceNumber
    public var sendNext: SequenceNumber
    public var sendWindow: Int
    public var sendWL1: SequenceNumber
    public var sendWL2: SequenceNumber
    public var receiveNext: SequenceNumber
    public var receiveWindow: Int
    public var options: NegotiatedOptions?
    public var timestampOffset: UInt32
    public var timestampRecent: UInt32
    public var timestampRecentAt: UInt64
    public var smoothedRoundTrip: UInt64
    public var roundTripVariation: UInt64
    public var retransmissionTimeout: UInt64
    public var congestionWindow: Int
    public var slowStartThreshold: Int
    public var retransmissionDeadline: UInt64
    public var persistDeadline: UInt64
    public var keepAliveDeadline: UInt64
    public var delayedAckDeadline: UInt64
    public var timeWaitDeadline: UInt64
    public var retransmissions: Int
}

extension TCPConnection {
    public var controlBlock: TCPControlBlock {
        let s = sending
        var timeWaitUntil: UInt64 = 0
        if case .timeWait(_, _, let until) = phase { timeWaitUntil = until }
        let info = self.info
        return TCPControlBlock(
            state: state, iss: iss, irs: irs ?? SequenceNumber(0),
            sendUnacknowledged: s?.una ?? sendNext, sendNext: sendNext, sendWindow: info.sendWindow,
            sendWL1: s?.wl1 ?? SequenceNumber(0), sendWL2: s?.wl2 ?? SequenceNumber(0),
            receiveNext: receiveView?.next ?? SequenceNumber(0), receiveWindow: receiveView?.window ?? 0,
            options: options, timestampOffset: timestamps?.offset ?? 0, timestampRecent: timestamps?.recent ?? 0,
            timestampRecentAt: timestamps?.recentSetAt ?? 0,
            smoothedRoundTrip: info.smoothedRoundTrip ?? 0, roundTripVariation: info.roundTripVariation,
            retransmissionTimeout: info.retransmissionTimeout, congestionWindow: info.congestionWindow,
            slowStartThreshold: info.slowStartThreshold,
            retransmissionDeadline: s?.retransmitTimer.deadline ?? 0, persistDeadline: s?.persistTimer.deadline ?? 0,
            keepAliveDeadline: s.flatMap { keepAliveDeadline($0) } ?? 0, delayedAckDeadline: acks.deadline ?? 0,
            timeWaitDeadline: timeWaitUntil, retransmissions: counters.segmentsRetransmitted)
    }
}
