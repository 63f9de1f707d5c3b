/// RACK-TLP loss detection (RFC 8985): per-segment transmit times decide loss ("a segment is
/// lost if a segment sent sufficiently later has been delivered"), and a tail loss probe
/// gets an ACK out of the receiver instead of waiting for the RTO.
///
/// The send side's bytes stay in the send area; this keeps one record per transmitted
/// range of sequence space: when it was last sent, whether it was retransmitted, SACKed,
/// or judged lost. Times are nanoseconds on the caller's monotonic clock; nothing here
/// reads a clock. Memory is bounded by `maximumSegments` records. When full, a new
/// transmission is merged into the newest record (which then carries the newest transmit
/// time, so loss of its earlier part is detected later, never sooner), and a range that
/// would need a record split (a partial retransmission or SACK) changes whole records or
/// is left out, as documented at each place; `recordsMerged` counts it.
///
/// Simplifications, all on the conservative side:
/// - RACK.min_RTT is the minimum over all RACK samples of never-retransmitted segments,
///   not the windowed filter RFC 8985 6.2 step 1 recommends ("SHOULD track a windowed
///   min-filtered estimate").
/// - Step 2's TSecr test is not made (no timestamps reach this code); only the heuristic
///   one: a retransmitted segment is ignored if "the segment was last retransmitted less
///   than RACK.min_rtt ago".
/// - TLP: an ACK exactly at TLP.end_seq without a matching D-SACK keeps the episode open
///   (a later ACK decides); the RFC's "DUPACK without any SACK option" case is not
///   distinguished. An RTO ends the episode.
public struct RACK: Sendable {
    public static let defaultMaximumSegments = 1024
    /// WCDelAckT, RFC 8985 7.2: "the worst-case delayed ACK timer ... RECOMMENDED ... 200 ms".
    public static let defaultWorstCaseDelayedAck: UInt64 = 200_000_000
    /// RFC 8985 7.2: with no RTT sample yet, "PTO = 1 sec".
    public static let initialProbeTimeout: UInt64 = 1_000_000_000
    /// RFC 8985 6.2 step 4: the multiplier resets "after 16 DSACK-free recoveries".
    public static let reorderingWindowPersistence = 16

    public let maximumSegments: Int

    private struct Segment: Sendable {
        var range: SequenceRange
        var transmitTime: UInt64
        var retransmitted = false
        var sacked = false
        var lost = false
    }
    /// Sorted, contiguous, covering [unacknowledged, next).
    private var segments: [Segment] = []

    public private(set) var unacknowledged: SequenceNumber   // SND.UNA
    public private(set) var next: SequenceNumber             // SND.NXT

    /// RACK.xmit_ts and RACK.end_seq: the most recently sent segment delivered so far.
    public private(set) var transmitTime: UInt64?
    public private(set) var endSequence: SequenceNumber?
    /// RACK.rtt: the RTT of that segment's delivery.
    public private(set) var rtt: UInt64?
    public private(set) var minimumRTT: UInt64?
    /// RACK.fack: the highest sequence delivered (end of range).
    public private(set) var forwardAcknowledged: SequenceNumber
    public private(set) var reorderingSeen = false
    /// RACK.reo_wnd as last computed.
    public private(set) var reorderingWindow: UInt64 = 0
    public private(set) var reorderingWindowMultiplier = 1
    private var reorderingWindowPersist = RACK.reorderingWindowPersistence
    private var dsackRound: SequenceNumber?

    /// TLP.end_seq: SND.NXT when the probe went out, while a TLP episode is open.
    public private(set) var probeEnd: SequenceNumber?
    private var probeWasRetransmission = false

    public private(set) var recordsMerged = 0

    public init(unacknowledged: SequenceNumber, maximumSegments: Int = RACK.defaultMaximumSegments) {
        self.unacknowledged = unacknowledged
        self.next = unacknowledged
        self.forwardAcknowledged = unacknowledged
        self.maximumSegments = max(2, maximumSegments)
    }

    /// Ranges judged lost and not retransmitted since, lowest first.
    public var lostRanges: [SequenceRange] { segments.filter { $0.lost }.map(\.range) }
    /// Records sent and neither acknowledged nor SACKed.
    public var segmentsInFlight: Int { segments.reduce(0) { $0 + ($1.sacked ? 0 : 1) } }

    // MARK: - Transmissions

    /// Record a transmission at `now`: new data from SND.NXT, or a retransmission of a
    /// range inside [SND.UNA, SND.NXT) (RFC 8985 6.1: "Segment.xmit_ts ... the time of the
    /// last transmission", and a retransmitted segment is no longer lost). Returns false,
    /// changing nothing, for an empty range or one starting outside [SND.UNA, SND.NXT].
    @discardableResult
    public mutating func sent(_ range: SequenceRange, at now: UInt64) -> Bool {
        guard !range.isEmpty, range.start >= unacknowledged, range.start <= next else { return false }
        let resentEnd = earlier(range.end, next)
        if range.start < resentEnd {
            split(at: range.start)
            split(at: resentEnd)
            for i in segments.indices where segments[i].range.start < resentEnd && segments[i].range.end > range.start {
                segments[i].transmitTime = now
                segments[i].retransmitted = true
                segments[i].lost = false
            }
        }
        if range.end > next {
            let fresh = SequenceRange(start: next, end: range.end)
            if segments.count >= maximumSegments, let last = segments.indices.last {
                segments[last].range.end = fresh.end
                segments[last].transmitTime = now
                recordsMerged += 1
            } else {
                segments.append(Segment(range: fresh, transmitTime: now))
            }
            next = range.end
        }
        return true
    }

    /// Split the record containing `at` so a record starts there, if room allows.
    private mutating func split(at point: SequenceNumber) {
        guard let i = segments.firstIndex(where: { $0.range.start < point && point < $0.range.end }) else { return }
        guard segments.count < maximumSegments else { recordsMerged += 1; return }
        var tail = segments[i]
        tail.range.start = point
        segments[i].range.end = point
        segments.insert(tail, at: i + 1)
    }

    // MARK: - Acknowledgments

    /// What an ACK told the sender, after the SACK scoreboard processed it.
    public struct Acknowledgment: Sendable {
        /// SND.UNA after the ACK.
        public var unacknowledged: SequenceNumber
        /// All SACKed ranges now known (the scoreboard's view).
        public var sacked: [SequenceRange]
        /// The RFC 2883 D-SACK block the ACK carried, if any.
        public var duplicate: SequenceRange?
        /// In fast or RTO recovery after this ACK; and whether this ACK ended one.
        public var inRecovery: Bool
        public var exitedRecovery: Bool
        /// SRTT from the RTO estimator, if there is one yet.
        public var smoothedRTT: UInt64?
        public init(unacknowledged: SequenceNumber, sacked: [SequenceRange] = [], duplicate: SequenceRange? = nil,
                    inRecovery: Bool = false, exitedRecovery: Bool = false, smoothedRTT: UInt64? = nil) {
            self.unacknowledged = unacknowledged; self.sacked = sacked; self.duplicate = duplicate
            self.inRecovery = inRecovery; self.exitedRecovery = exitedRecovery; self.smoothedRTT = smoothedRTT
        }
    }

    /// What TLP_process_ack (RFC 8985 7.4.2) concluded about an open probe episode.
    public enum ProbeVerdict: Equatable, Sendable {
        /// The probe was new data and it was delivered: no loss.
        case newDataDelivered
        /// The ACK D-SACKed the probe: the original arrived, the probe was redundant.
        case redundant
        /// "Repaired the single loss": the caller's congestion control must react.
        case lossRepaired
    }

    public struct Outcome: Equatable, Sendable {
        /// Ranges this call judged lost, lowest first.
        public var newlyLost: [SequenceRange]
        /// When the RACK timer must fire (absolute ns) for segments not yet past the
        /// threshold, or nil when none is needed (RFC 8985 6.3).
        public var timerDeadline: UInt64?
        public var probe: ProbeVerdict?
        public init(newlyLost: [SequenceRange], timerDeadline: UInt64?, probe: ProbeVerdict? = nil) {
            self.newlyLost = newlyLost; self.timerDeadline = timerDeadline; self.probe = probe
        }
    }

    /// RFC 8985 6.2, steps 1 to 5, and 7.4's TLP check, for one ACK received at `now`.
    public mutating func receiveAck(_ ack: Acknowledgment, at now: UInt64) -> Outcome {
        var verdict: ProbeVerdict?
        if ack.unacknowledged >= unacknowledged && ack.unacknowledged <= next {
            var delivered: [Segment] = []
            // SACK edges normally fall on record edges; split where they do not.
            for block in ack.sacked where block.start < next && block.end > ack.unacknowledged {
                split(at: block.start)
                split(at: block.end)
            }
            split(at: ack.unacknowledged)
            var kept: [Segment] = []
            for var s in segments {
                if s.range.end <= ack.unacknowledged {
                    if !s.sacked { delivered.append(s) }
                    continue
                }
                if !s.sacked, ack.sacked.contains(where: { $0.contains(s.range) }) {
                    s.sacked = true
                    s.lost = false
                    delivered.append(s)
                }
                kept.append(s)
            }
            // Without room to split, the record SND.UNA falls in keeps only its unacknowledged part.
            if let first = kept.first, first.range.start < ack.unacknowledged {
                kept[0].range.start = ack.unacknowledged
            }
            segments = kept
            unacknowledged = ack.unacknowledged
            updateDeliveryState(delivered, at: now)
            verdict = processProbe(ack)
        }
        reorderingWindow = updatedReorderingWindow(ack)
        var outcome = detectLoss(at: now)
        outcome.probe = verdict
        return outcome
    }

    /// Steps 1 to 3: RACK.min_RTT, RACK.xmit_ts / end_seq / rtt, and reordering.
    private mutating func updateDeliveryState(_ delivered: [Segment], at now: UInt64) {
        // Step 1, from Karn-valid samples only (never-retransmitted segments).
        for s in delivered where !s.retransmitted && now >= s.transmitTime {
            let sample = now - s.transmitTime
            minimumRTT = Swift.min(minimumRTT ?? sample, sample)
        }
        // Step 2: "ignore a segment as invalid if any of its sequence range has been
        // retransmitted before and if ... The segment was last retransmitted less than
        // RACK.min_rtt ago." Of the rest, the most recently sent sets RACK.xmit_ts, end_seq
        // and rtt (processing them "in ascending order of Segment.xmit_ts" leaves exactly that).
        for s in delivered.sorted(by: { Self.sentAfter($1.transmitTime, $1.range.end, $0.transmitTime, $0.range.end) }) {
            guard now >= s.transmitTime else { continue }
            let sample = now - s.transmitTime
            if s.retransmitted, sample < (minimumRTT ?? UInt64.max) { continue }
            rtt = sample
            if let t = transmitTime, let e = endSequence, !Self.sentAfter(s.transmitTime, s.range.end, t, e) { continue }
            transmitTime = s.transmitTime
            endSequence = s.range.end
        }
        // Step 3: "If Segment.end_seq > RACK.fack: RACK.fack = Segment.end_seq. Else if
        // Segment.end_seq < RACK.fack AND Segment.retransmitted is FALSE:
        // RACK.reordering_seen = TRUE" (in ascending order of end_seq).
        for s in delivered.sorted(by: { $0.range.end < $1.range.end }) {
            if s.range.end > forwardAcknowledged {
                forwardAcknowledged = s.range.end
            } else if s.range.end < forwardAcknowledged && !s.retransmitted {
                reorderingSeen = true
            }
        }
    }

    /// Step 4, RACK_update_reo_wnd: min(reo_wnd_mult * min_RTT / 4, SRTT), zero while no
    /// reordering was seen and either in recovery or DupThresh segments are SACKed; grown
    /// once per round trip that brings a D-SACK, reset after 16 D-SACK-free recoveries.
    private mutating func updatedReorderingWindow(_ ack: Acknowledgment) -> UInt64 {
        if let round = dsackRound, unacknowledged >= round { dsackRound = nil }
        if dsackRound == nil, ack.duplicate != nil {
            dsackRound = next
            reorderingWindowMultiplier += 1
            reorderingWindowPersist = Self.reorderingWindowPersistence
        } else if ack.exitedRecovery {
            reorderingWindowPersist -= 1
            if reorderingWindowPersist <= 0 { reorderingWindowMultiplier = 1 }
        }
        if !reorderingSeen {
            if ack.inRecovery { return 0 }
            let sackedSegments = segments.reduce(0) { $0 + ($1.sacked ? 1 : 0) }
            if sackedSegments >= SACKScoreboard.duplicateThreshold { return 0 }
        }
        guard let minRTT = minimumRTT else { return 0 }
        let window = UInt64(reorderingWindowMultiplier).multipliedReportingOverflow(by: minRTT / 4)
        let grown = window.overflow ? UInt64.max : window.partialValue
        return Swift.min(grown, ack.smoothedRTT ?? UInt64.max)
    }

    /// Step 5, RACK_detect_loss: a segment sent before RACK's segment is lost once
    /// "Segment.xmit_ts + RACK.rtt + RACK.reo_wnd - Now()" is not positive; otherwise the
    /// largest remaining time is when the RACK timer must fire.
    private mutating func detectLoss(at now: UInt64) -> Outcome {
        guard let t = transmitTime, let e = endSequence, let rtt else {
            return Outcome(newlyLost: [], timerDeadline: nil)
        }
        var lost: [SequenceRange] = []
        var timeout: UInt64 = 0
        for i in segments.indices where !segments[i].sacked && !segments[i].lost {
            let s = segments[i]
            guard Self.sentAfter(t, e, s.transmitTime, s.range.end) else { continue }
            let deadline = Self.saturatingAdd(s.transmitTime, Self.saturatingAdd(rtt, reorderingWindow))
            if deadline <= now {
                segments[i].lost = true
                lost.append(s.range)
            } else {
                timeout = Swift.max(timeout, deadline - now)
            }
        }
        return Outcome(newlyLost: lost, timerDeadline: timeout > 0 ? now + timeout : nil)
    }

    /// The RACK timer fired (RFC 8985 6.3): run the loss detection again.
    public mutating func timerExpired(at now: UInt64) -> Outcome { detectLoss(at: now) }

    /// RFC 8985 6.3, RACK_mark_losses_on_RTO: on an RTO every segment not SACKed is lost
    /// if it is the one at SND.UNA or past the RACK threshold. Ends any TLP episode.
    public mutating func retransmissionTimeout(at now: UInt64) -> [SequenceRange] {
        probeEnd = nil
        var lost: [SequenceRange] = []
        for i in segments.indices where !segments[i].sacked && !segments[i].lost {
            let s = segments[i]
            let due = Self.saturatingAdd(s.transmitTime, Self.saturatingAdd(rtt ?? 0, reorderingWindow)) <= now
            if s.range.start == unacknowledged || (rtt != nil && due) {
                segments[i].lost = true
                lost.append(s.range)
            }
        }
        return lost
    }

    // MARK: - Tail loss probe

    /// When to send a probe (absolute ns), RFC 8985 7.2: "PTO = 2 * SRTT", plus WCDelAckT
    /// "If FlightSize is one segment", 1 s without an SRTT, and never later than the RTO
    /// ("If Now() + PTO > TCP_RTO_expire(): PTO = TCP_RTO_expire() - Now()"). Nil when no
    /// probe is due: nothing in flight, in recovery, or an episode open (7.2's conditions).
    public func probeDeadline(at now: UInt64, smoothedRTT: UInt64?, retransmissionDeadline: UInt64,
                              inRecovery: Bool, worstCaseDelayedAck: UInt64 = RACK.defaultWorstCaseDelayedAck) -> UInt64? {
        let flight = segmentsInFlight
        guard flight > 0, !inRecovery, probeEnd == nil else { return nil }
        var pto = Self.initialProbeTimeout
        if let srtt = smoothedRTT {
            pto = Self.saturatingAdd(srtt, srtt)
            if flight == 1 { pto = Self.saturatingAdd(pto, worstCaseDelayedAck) }
        }
        return Swift.min(Self.saturatingAdd(now, pto), retransmissionDeadline)
    }

    /// What the probe carries, RFC 8985 7.3: new data of up to SMSS if the application
    /// has some and the window allows (`newDataAvailable`), else "the highest-sequence
    /// segment sent so far" (the last SMSS of it). Nil with nothing to send.
    public func probeSegment(newDataAvailable: Int, maximumSegmentSize: Int) -> SequenceRange? {
        let smss = Swift.max(1, maximumSegmentSize)
        if newDataAvailable > 0 { return SequenceRange(start: next, length: Swift.min(newDataAvailable, smss)) }
        guard let last = segments.last else { return nil }
        return SequenceRange(start: later(last.range.start, last.range.end - smss), end: last.range.end)
    }

    /// Record that the probe `range` went out at `now`: "TLP.end_seq = SND.NXT" after it.
    @discardableResult
    public mutating func probeSent(_ range: SequenceRange, at now: UInt64) -> Bool {
        let retransmission = range.start < next
        guard sent(range, at: now) else { return false }
        probeEnd = next
        probeWasRetransmission = retransmission
        return true
    }

    /// RFC 8985 7.4.2, TLP_process_ack.
    private mutating func processProbe(_ ack: Acknowledgment) -> ProbeVerdict? {
        guard let end = probeEnd, ack.unacknowledged >= end else { return nil }
        if !probeWasRetransmission { probeEnd = nil; return .newDataDelivered }
        if let d = ack.duplicate, d.end == end { probeEnd = nil; return .redundant }
        if ack.unacknowledged > end { probeEnd = nil; return .lossRepaired }
        return nil
    }

    // MARK: - Helpers

    /// RACK_sent_after (RFC 8985 6.2 step 2): later time, or the same time and a higher end.
    static func sentAfter(_ t1: UInt64, _ seq1: SequenceNumber, _ t2: UInt64, _ seq2: SequenceNumber) -> Bool {
        t1 > t2 || (t1 == t2 && seq1 > seq2)
    }

    static func saturatingAdd(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let r = a.addingReportingOverflow(b)
        return r.overflow ? UInt64.max : r.partialValue
    }
}
