/// The sender's SACK scoreboard and loss-recovery bookkeeping of RFC 6675, over ranges of
/// sequence space (the bytes stay in the send area until SND.UNA passes them).
///
/// Names follow RFC 6675 2: HighACK is SND.UNA (`unacknowledged`), HighData is the last
/// octet sent (`next` - 1, half-open here), HighRxt the highest octet retransmitted in this
/// recovery (`retransmittedUpTo` - 1), RecoveryPoint is `recoveryPoint`.
///
/// Memory is bounded: at most `maximumRanges` disjoint SACKed ranges. Past that the highest
/// ranges are forgotten (counted in `rangesDropped`); forgetting SACK information is
/// always safe, RFC 2018 8 makes the sender keep data until cumulatively acknowledged
/// ("the data sender MUST NOT discard data before it is acknowledged by the cumulative
/// ACK"), so the worst outcome is a needless retransmission.
public struct SACKScoreboard: Sendable {
    public static let defaultMaximumRanges = 32
    /// DupThresh, RFC 6675 2: "The number of duplicate acknowledgments required to trigger
    /// a fast retransmit ... the RECOMMENDED value is 3" (RFC 5681).
    public static let duplicateThreshold = 3

    public let maximumSegmentSize: Int          // SMSS
    public let maximumRanges: Int
    public private(set) var unacknowledged: SequenceNumber   // SND.UNA, HighACK
    public private(set) var next: SequenceNumber             // SND.NXT, HighData + 1
    /// HighRxt + 1: octets below this were retransmitted in the current recovery.
    public private(set) var retransmittedUpTo: SequenceNumber
    /// RecoveryPoint while in loss recovery, or after an RTO until HighACK reaches it.
    public private(set) var recoveryPoint: SequenceNumber?
    public private(set) var inRecovery = false
    /// ACKs since the last cumulative advance that SACKed new data (RFC 6675 counts these
    /// as duplicates for the DupThresh test of section 5).
    public private(set) var duplicateAcks = 0

    /// Counters (the server exports them).
    public private(set) var blocksIgnored = 0      // outside [SND.UNA, SND.NXT] or empty
    public private(set) var duplicateSACKs = 0     // RFC 2883 D-SACK blocks seen
    public private(set) var acksIgnored = 0        // SEG.ACK below SND.UNA or beyond SND.NXT
    public private(set) var rangesDropped = 0

    /// Disjoint, non-adjacent, sorted; all inside [unacknowledged, next).
    private var sacked: [SequenceRange] = []

    public init(unacknowledged: SequenceNumber, next: SequenceNumber? = nil, maximumSegmentSize: Int,
                maximumRanges: Int = SACKScoreboard.defaultMaximumRanges) {
        self.unacknowledged = unacknowledged
        self.next = next ?? unacknowledged
        self.retransmittedUpTo = unacknowledged
        self.maximumSegmentSize = max(1, maximumSegmentSize)
        self.maximumRanges = max(1, maximumRanges)
    }

    public var sackedRanges: [SequenceRange] { sacked }
    public var sackedBytes: Int { sacked.reduce(0) { $0 + $1.length } }
    /// The octet after the highest SACKed one.
    public var highestSACKed: SequenceNumber? { sacked.last?.end }

    // MARK: - Transmissions

    /// Record that `range` was just sent: beyond SND.NXT it is new data (RFC 6675 C.2:
    /// "HighData must be updated"); below it a retransmission (C.3: "HighRxt MUST be set to
    /// the highest octet retransmitted"). Returns false, changing nothing, for a range that
    /// starts outside [SND.UNA, SND.NXT] or is empty.
    @discardableResult
    public mutating func sent(_ range: SequenceRange) -> Bool {
        guard !range.isEmpty, range.start >= unacknowledged, range.start <= next else { return false }
        if range.start < next { retransmittedUpTo = later(retransmittedUpTo, earlier(range.end, next)) }
        if range.end > next { next = range.end }
        return true
    }

    // MARK: - Acknowledgments

    public struct AckResult: Equatable, Sendable {
        /// Octets newly acknowledged cumulatively.
        public var acknowledged: Int
        /// Octets newly SACKed (not counting D-SACK or ignored blocks).
        public var newlySACKed: Int
        /// The RFC 2883 duplicate this ACK reported, if its first block was one.
        public var duplicate: SequenceRange?
        /// This ACK reached RecoveryPoint and ended loss recovery.
        public var recoveryEnded: Bool
        public init(acknowledged: Int, newlySACKed: Int, duplicate: SequenceRange?, recoveryEnded: Bool) {
            self.acknowledged = acknowledged; self.newlySACKed = newlySACKed
            self.duplicate = duplicate; self.recoveryEnded = recoveryEnded
        }
    }

    /// Update() of RFC 6675 with the cumulative ACK `ack` and the SACK blocks in the order
    /// the option carried them. An ACK outside [SND.UNA, SND.NXT] is ignored and counted.
    public mutating func receiveAck(_ ack: SequenceNumber, blocks: [SequenceRange]) -> AckResult {
        guard ack >= unacknowledged, ack <= next else {
            acksIgnored += 1
            return AckResult(acknowledged: 0, newlySACKed: 0, duplicate: nil, recoveryEnded: false)
        }
        // RFC 2883 4: a D-SACK is the first block, recognised by the sender as "the first
        // SACK block ... covered by the Cumulative Acknowledgement field" (its left edge
        // below SEG.ACK) or contained in the second block. It reports a duplicate arrival,
        // not a hole, so it is noted for the caller (RACK's reordering window) only.
        var duplicate: SequenceRange?
        var rest = blocks[...]
        if let first = blocks.first, !first.isEmpty, first.length < 1 << 30,
           first.start < ack || (blocks.count > 1 && blocks[1].contains(first)) {
            duplicate = first
            duplicateSACKs += 1
            rest = blocks.dropFirst()
        }

        let acknowledged = ack - unacknowledged
        if acknowledged > 0 {
            unacknowledged = ack
            retransmittedUpTo = later(retransmittedUpTo, ack)
            sacked = sacked.compactMap { r in
                if r.end <= ack { return nil }
                return SequenceRange(start: later(r.start, ack), end: r.end)
            }
            duplicateAcks = 0
        }

        var newly = 0
        for block in rest {
            // Only [SND.UNA, SND.NXT] can be SACKed: a block reaching past SND.NXT claims
            // data never sent, one wholly below SND.UNA says nothing new.
            guard !block.isEmpty, block.end <= next, block.end > unacknowledged else {
                blocksIgnored += 1
                continue
            }
            newly += add(SequenceRange(start: later(block.start, unacknowledged), end: block.end))
        }
        while sacked.count > maximumRanges {
            sacked.removeLast()
            rangesDropped += 1
        }
        if acknowledged == 0, newly > 0 { duplicateAcks += 1 }

        var ended = false
        if let point = recoveryPoint, unacknowledged >= point {
            // RFC 6675 5: loss recovery ends when "a cumulative ACK ... covers RecoveryPoint";
            // after an RTO, a new recovery may start again from here (5.1).
            ended = inRecovery
            inRecovery = false
            recoveryPoint = nil
        }
        return AckResult(acknowledged: acknowledged, newlySACKed: newly, duplicate: duplicate, recoveryEnded: ended)
    }

    /// Merge a valid block; returns the octets it newly covered.
    private mutating func add(_ block: SequenceRange) -> Int {
        var merged = block
        var covered = 0
        var kept: [SequenceRange] = []
        kept.reserveCapacity(sacked.count + 1)
        var placed = false
        for r in sacked {
            if r.end < merged.start {
                kept.append(r)
            } else if merged.end < r.start {
                if !placed { kept.append(merged); placed = true }
                kept.append(r)
            } else {
                let overlap = earlier(r.end, block.end) - later(r.start, block.start)
                if overlap > 0 { covered += overlap }
                merged = SequenceRange(start: earlier(merged.start, r.start), end: later(merged.end, r.end))
            }
        }
        if !placed { kept.append(merged) }
        sacked = kept
        return block.length - covered
    }

    // MARK: - Loss recovery

    /// Whether SND.UNA may start a new loss recovery: not in one, and any RecoveryPoint of
    /// an earlier recovery or RTO passed (RFC 6675 5.1: "a new recovery phase ... MUST
    /// NOT be initiated until HighACK is greater than or equal to the new value of
    /// RecoveryPoint").
    public var mayEnterRecovery: Bool { !inRecovery && recoveryPoint == nil }

    /// RFC 6675 5 step (4.1): "RecoveryPoint = HighData". HighRxt starts at HighACK.
    public mutating func enterRecovery() {
        guard mayEnterRecovery else { return }
        inRecovery = true
        recoveryPoint = next
        retransmittedUpTo = unacknowledged
    }

    /// RFC 6675 5.1: "If an RTO occurs during loss recovery ... RecoveryPoint MUST be set to
    /// HighData ... the loss recovery algorithm outlined in this document MUST be
    /// terminated"; RFC 2018 8: "after a retransmit timeout the data sender SHOULD turn off
    /// all of the SACKed bits", since the receiver may have reneged.
    public mutating func retransmissionTimeout() {
        inRecovery = false
        recoveryPoint = next
        sacked.removeAll()
        retransmittedUpTo = unacknowledged
        duplicateAcks = 0
    }

    /// IsLost(SeqNum), RFC 6675 4: "returns true when either DupThresh discontiguous SACKed
    /// sequences have arrived above 'SeqNum' or more than (DupThresh - 1) * SMSS bytes with
    /// sequence numbers greater than 'SeqNum' have been SACKed." Discontiguous sequences
    /// are counted as SACKed ranges. An octet SACKed itself, or outside [SND.UNA, SND.NXT),
    /// is not lost.
    public func isLost(_ s: SequenceNumber) -> Bool {
        guard s.isIn(unacknowledged, upTo: next) else { return false }
        var ranges = 0
        var bytes = 0
        for r in sacked.reversed() {
            if r.contains(s) { return false }
            if r.start <= s { break }
            ranges += 1
            bytes += r.length
        }
        return ranges >= Self.duplicateThreshold || bytes > (Self.duplicateThreshold - 1) * maximumSegmentSize
    }

    /// The unSACKed holes between SND.UNA and SND.NXT, lowest first; the last one may run
    /// above every SACKed octet.
    private var holes: [SequenceRange] {
        var result: [SequenceRange] = []
        var at = unacknowledged
        for r in sacked {
            if at < r.start { result.append(SequenceRange(start: at, end: r.start)) }
            at = r.end
        }
        if at < next { result.append(SequenceRange(start: at, end: next)) }
        return result
    }

    /// SetPipe(), RFC 6675 4: for each octet from HighACK to HighData not SACKed, "(a) If
    /// IsLost (S1) returns false: Pipe is incremented by 1 octet. (b) If S1 <= HighRxt:
    /// Pipe is incremented by 1 octet." IsLost is the same for every octet of one hole
    /// (the same SACKed ranges lie above them all), so this sums per hole.
    public var pipe: Int {
        var total = 0
        for h in holes {
            if !isLost(h.start) { total += h.length }
            let retransmitted = earlier(h.end, retransmittedUpTo) - h.start
            if retransmitted > 0 { total += retransmitted }
        }
        return total
    }

    /// What NextSeg() chose.
    public enum NextSegment: Equatable, Sendable {
        /// Rule 1: the lowest lost octets not yet retransmitted.
        case retransmitLost(SequenceRange)
        /// Rule 2: new data from SND.NXT.
        case newData(SequenceRange)
        /// Rule 3: unSACKed octets below the highest SACK, not (yet) judged lost.
        case retransmitUnSACKed(SequenceRange)
    }

    /// NextSeg(), RFC 6675 4, rules 1 to 3. `newDataAvailable` is how much unsent data
    /// the application has queued and the peer's window allows (rule 2: "there exists
    /// available unsent data and the receiver's advertised window allows"). A
    /// retransmission is at most one SMSS and stops at the end of its hole (the octets
    /// after it are SACKed and need no resending). Rule 4, the rescue retransmission, is a
    /// MAY in RFC 6675 and is left to RACK-TLP's probe (RFC 8985 7), which repairs the same
    /// tail loss; NextSeg here is rules 1 to 3 by design.
    public func nextSegment(newDataAvailable: Int) -> NextSegment? {
        let below = highestSACKed
        // (1) "S2 is greater than HighRxt. (1.b) S2 is less than the highest octet covered by
        // any received SACK. (1.c) IsLost (S2) returns true."
        var rule3: SequenceRange?
        if let below {
            for h in holes where h.start < below {
                let s = later(h.start, retransmittedUpTo)
                guard s < h.end else { continue }
                let segment = SequenceRange(start: s, end: earlier(h.end, s + maximumSegmentSize))
                if isLost(s) { return .retransmitLost(segment) }
                if rule3 == nil { rule3 = segment }
            }
        }
        // (2) "the sequence range of one segment of up to SMSS octets of previously unsent
        // data starting with sequence number HighData+1 MUST be returned."
        if newDataAvailable > 0 {
            return .newData(SequenceRange(start: next, length: min(newDataAvailable, maximumSegmentSize)))
        }
        // (3) "... an unSACKed sequence number 'S3' that meets the criteria ... (1.a) and
        // (1.b) above (specifically excluding step (1.c))".
        return rule3.map { .retransmitUnSACKed($0) }
    }
}
