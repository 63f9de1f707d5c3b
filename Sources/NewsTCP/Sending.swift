import NewsWire

/// The send half of a connection that can still send (ESTABLISHED, CLOSE-WAIT) or still has
/// a FIN to get acknowledged (FIN-WAIT-1, CLOSING, LAST-ACK). FIN-WAIT-2 and TIME-WAIT have
/// none: nothing of theirs can be sent or retransmitted.
///
/// The bytes are the application's send area: sequence number `una` is stream offset
/// `unaOffset`, and everything up to the application's tail stays in the area until the
/// peer acknowledges it, so a retransmission names the same offsets again.
struct Sending: Sendable {
    // RFC 9293 3.3.1's send sequence variables.
    private(set) var una: SequenceNumber           // SND.UNA
    private(set) var unaOffset: UInt64 = 0
    var next: SequenceNumber                       // SND.NXT (past our FIN once it is sent)
    var window: Int                                // SND.WND, scaled
    var wl1: SequenceNumber                        // SND.WL1
    var wl2: SequenceNumber                        // SND.WL2
    var maxWindow: Int                             // MAX.SND.WND (RFC 5961 5.2)
    /// Our FIN's sequence number, once it has been sent.
    var finSequence: SequenceNumber?

    var scoreboard: SACKScoreboard
    var rack: RACK
    var rto: RetransmissionTimeout
    var retransmitTimer = DeadlineTimer()
    var rackTimer: UInt64?
    var probeTimer: UInt64?
    var persistTimer = DeadlineTimer()
    /// Zero-window probes sent since the peer last acknowledged new data (the persist
    /// backoff)...
    var persistProbes = 0
    /// ...and since the peer last acknowledged anything (the abort limit).
    var unansweredProbes = 0
    var congestion: any CongestionController
    /// RFC 6298 / Karn: one timed segment at a time, forgotten if anything is retransmitted.
    var timed: (end: SequenceNumber, at: UInt64)?
    /// After an RTO: resend from here (go-back-N) up to `resendEnd`, SND.NXT at the timeout.
    var resendFrom: SequenceNumber?
    var resendEnd: SequenceNumber?
    /// SND.NXT at the last RTO: loss recovery lasts until SND.UNA passes it (no tail loss
    /// probes meanwhile, RFC 8985 7.2).
    var timeoutRecoveryEnd: SequenceNumber?
    /// Without SACK: RFC 5681 duplicate ACKs and RFC 6582's "retransmit the first
    /// unacknowledged segment".
    var duplicateAcks = 0
    var retransmitHead = false
    var lastSent: UInt64 = 0
    /// Sender SWS avoidance's override (RFC 9293 3.8.6.2.1): when data waits only because
    /// of it, send anyway at this time.
    var overrideAt: UInt64?

    init(una: SequenceNumber, window: Int, wl1: SequenceNumber, wl2: SequenceNumber,
         smss: Int, rto: RetransmissionTimeout, congestion: any CongestionController) {
        self.una = una
        next = una
        self.window = window
        self.wl1 = wl1
        self.wl2 = wl2
        maxWindow = window
        scoreboard = SACKScoreboard(unacknowledged: una, maximumSegmentSize: smss)
        rack = RACK(unacknowledged: una)
        self.rto = rto
        self.congestion = congestion
    }

    /// The stream offset of sequence number `s` (at or after SND.UNA, data only).
    func offset(of s: SequenceNumber) -> UInt64 { unaOffset + UInt64(max(0, s - una)) }

    /// Data bytes the application has written that were never sent.
    func unsent(_ b: StreamBuffers) -> Int {
        guard finSequence == nil else { return 0 }
        let at = offset(of: next)
        return b.sendTail > at ? Int(clamping: b.sendTail - at) : 0
    }

    /// Sequence space in flight (SND.NXT - SND.UNA).
    var outstanding: Int { next - una }
    /// What the peer's window still allows beyond SND.NXT.
    var windowRoom: Int { (una + window) - next }
    var finAcknowledged: Bool { finSequence.map { una > $0 } ?? false }

    /// The sequence number after the last byte the application has written (or the FIN).
    func dataEnd(_ b: StreamBuffers) -> SequenceNumber {
        if let f = finSequence { return f }
        return next + unsent(b)
    }

    /// Moves SND.UNA to `ack` (already judged acceptable). Returns the data bytes it
    /// acknowledged (the FIN is not a byte of the stream).
    mutating func advance(to ack: SequenceNumber) -> Int {
        var acked = ack - una
        if let f = finSequence, ack > f { acked -= 1 }
        unaOffset += UInt64(max(0, acked))
        una = ack
        return max(0, acked)
    }

    /// RFC 9293 3.10.7.4: "If SND.UNA =< SEG.ACK =< SND.NXT, the send window should be
    /// updated. If (SND.WL1 < SEG.SEQ or (SND.WL1 = SEG.SEQ and SND.WL2 =< SEG.ACK)), set
    /// SND.WND <- SEG.WND, set SND.WL1 <- SEG.SEQ, and set SND.WL2 <- SEG.ACK."
    mutating func updateWindow(_ seg: TCPSegment, shift: Int) -> Bool {
        guard wl1 < seg.sequence || (wl1 == seg.sequence && wl2 <= seg.acknowledgment) else { return false }
        let w = Int(seg.window) << shift
        let changed = w != window
        window = w
        wl1 = seg.sequence
        wl2 = seg.acknowledgment
        maxWindow = max(maxWindow, w)
        return changed
    }
}
