/// The receive side's out-of-order bookkeeping. The bytes themselves live in the receive
/// area the application reads, at their offset from RCV.NXT; this tracks which ranges of
/// sequence space beyond RCV.NXT have arrived, moves RCV.NXT when the first hole fills,
/// places the FIN, and builds the SACK blocks to report.
///
/// RFC 9293 3.10.7.4: "One could tailor actual segments to fit this assumption by trimming
/// off any portions that lie outside the window (including SYN and FIN), and only
/// processing further if the segment then begins at RCV.NXT. Segments with higher
/// beginning sequence numbers may be held for later processing."
///
/// Memory is bounded: at most `maximumRanges` out-of-order ranges are held. When a new
/// range would exceed that, the range received least recently (the oldest) is forgotten
/// and counted in `rangesDropped` / `bytesDropped`; its bytes will be retransmitted.
/// RFC 2018 8 permits this: "the data receiver is permitted to discard data in its queue
/// that has not been acknowledged to the data sender, even if the data has already been
/// reported in a SACK option."
public struct ReceiveReassembly: Sendable {
    public static let defaultMaximumRanges = 32

    /// RFC 2018 3: "the 40 bytes available for TCP options can specify a maximum of 4
    /// blocks. ... a maximum of 3 SACK blocks will be allowed" with the Timestamp option.
    public static func maximumSACKBlocks(timestamps: Bool) -> Int { timestamps ? 3 : 4 }

    /// RCV.NXT.
    public private(set) var next: SequenceNumber
    public let maximumRanges: Int
    /// The sequence number the peer's FIN occupies, once a FIN inside the window arrived.
    public private(set) var finSequence: SequenceNumber?
    /// The FIN has been reached in order (RCV.NXT has passed over it).
    public private(set) var finReached = false

    /// Counters (the server exports them).
    public private(set) var rangesDropped = 0
    public private(set) var bytesDropped = 0
    public private(set) var bytesBeyondWindow = 0
    public private(set) var bytesDuplicate = 0
    /// Data beyond the FIN, or a FIN at a different place than the first: dropped.
    public private(set) var finConflicts = 0

    private struct Held: Sendable {
        var range: SequenceRange
        /// When this range last grew or was hit: orders the SACK blocks and the eviction.
        var touched: UInt64
    }
    /// Disjoint, non-adjacent, sorted by start, every start beyond `next`.
    private var held: [Held] = []
    private var clock: UInt64 = 0
    /// The duplicate part of the last segment, reported once as a D-SACK block.
    private var pendingDuplicate: SequenceRange?

    public init(next: SequenceNumber, maximumRanges: Int = ReceiveReassembly.defaultMaximumRanges) {
        self.next = next
        self.maximumRanges = max(1, maximumRanges)
    }

    /// The out-of-order ranges held, lowest first.
    public var outOfOrder: [SequenceRange] { held.map(\.range) }

    /// What one arriving segment did.
    public struct Arrival: Equatable, Sendable {
        /// The part of the segment's data inside the window and before any FIN: the bytes
        /// the server copies into the receive area (at offset `stored.start - RCV.NXT`
        /// taken before the insert). It may include bytes already held (copying them again
        /// is harmless: the same bytes). Nil when nothing of it lies in the window.
        public var stored: SequenceRange?
        /// Data bytes now deliverable in order (RCV.NXT moved by this much, plus one if
        /// `finReached`).
        public var deliverable: Int
        /// This arrival made the FIN's sequence number the next expected one and consumed it.
        public var finReached: Bool
        /// Part of the segment that had already been received (RFC 2883 duplicate).
        public var duplicate: SequenceRange?
        public init(stored: SequenceRange?, deliverable: Int, finReached: Bool, duplicate: SequenceRange?) {
            self.stored = stored; self.deliverable = deliverable; self.finReached = finReached; self.duplicate = duplicate
        }
        /// How far RCV.NXT advanced.
        public var advance: Int { deliverable + (finReached ? 1 : 0) }
    }

    /// Record a segment carrying `length` data bytes starting at `sequence` (SYN already
    /// removed) and, if `fin`, a FIN at `sequence + length`. `window` is RCV.WND: the
    /// segment is trimmed to `RCV.NXT ..< RCV.NXT + window` first.
    public mutating func insert(sequence: SequenceNumber, length: Int, fin: Bool = false, window: Int) -> Arrival {
        let window = max(0, window)
        let length = max(0, length)
        let oldNext = next
        let windowEnd = next + window
        let segment = SequenceRange(start: sequence, length: length)
        pendingDuplicate = nil
        clock &+= 1

        // The FIN occupies the number after the data and, like data, must lie inside the
        // window to count; the first FIN accepted fixes where the stream ends.
        if fin {
            let f = segment.end
            if let known = finSequence {
                if f != known { finConflicts += 1 }
            } else if f.isIn(next, upTo: windowEnd) {
                if let last = held.last, last.range.end > f {
                    finConflicts += 1  // data already held beyond where this FIN ends the stream
                } else {
                    finSequence = f
                }
            }
        }
        var limit = windowEnd
        if let f = finSequence, f < limit { limit = f }

        var stored: SequenceRange?
        var duplicate: SequenceRange?
        if length > 0 {
            if segment.end > limit {
                if let f = finSequence, f == limit {
                    finConflicts += 1  // data after the FIN
                } else {
                    bytesBeyondWindow += segment.end - later(limit, segment.start)
                }
            }
            if segment.start < next {
                duplicate = SequenceRange(start: segment.start, end: earlier(segment.end, next))
            }
            let low = later(segment.start, next)
            let high = earlier(segment.end, limit)
            if low < high {
                let piece = SequenceRange(start: low, end: high)
                stored = piece
                if duplicate == nil { duplicate = firstOverlap(piece) }
                add(piece)
            }
            if let d = duplicate { bytesDuplicate += d.length }
        }
        pendingDuplicate = duplicate

        // The first hole filled: RCV.NXT moves over everything now contiguous.
        if let first = held.first, first.range.start == next {
            next = first.range.end
            held.removeFirst()
        }
        var reached = false
        if let f = finSequence, f == next, !finReached {
            finReached = true
            reached = true
            next += 1
        }
        trimToBound()
        return Arrival(stored: stored, deliverable: (next - oldNext) - (reached ? 1 : 0), finReached: reached, duplicate: duplicate)
    }

    /// The SACK blocks for the next ACK, at most `maximumCount`. RFC 2883 4: a duplicate
    /// from the last segment goes first ("the first SACK block is used to report the
    /// sequence numbers of the received duplicate segment"). Then RFC 2018 4: "The first
    /// SACK block ... MUST specify the contiguous block of data containing the segment
    /// which triggered this ACK, unless that segment advanced the Acknowledgment Number",
    /// and "The SACK option SHOULD be filled out by repeating the most recently reported
    /// SACK blocks". Ordering the held ranges by when each last received a segment gives
    /// exactly that order.
    public func sackBlocks(maximumCount: Int) -> [SequenceRange] {
        guard maximumCount > 0 else { return [] }
        var blocks: [SequenceRange] = []
        if let d = pendingDuplicate { blocks.append(d) }
        for h in held.sorted(by: { $0.touched > $1.touched }) where blocks.count < maximumCount {
            blocks.append(h.range)
        }
        return Array(blocks.prefix(maximumCount))
    }

    // MARK: - Internals

    private func firstOverlap(_ piece: SequenceRange) -> SequenceRange? {
        for h in held where h.range.start < piece.end && piece.start < h.range.end {
            return SequenceRange(start: later(h.range.start, piece.start), end: earlier(h.range.end, piece.end))
        }
        return nil
    }

    /// Merge `piece` into the sorted list, joining ranges it overlaps or touches.
    private mutating func add(_ piece: SequenceRange) {
        var merged = piece
        var kept: [Held] = []
        kept.reserveCapacity(held.count + 1)
        var placed = false
        for h in held {
            if h.range.end < merged.start {
                kept.append(h)
            } else if merged.end < h.range.start {
                if !placed { kept.append(Held(range: merged, touched: clock)); placed = true }
                kept.append(h)
            } else {
                merged = SequenceRange(start: earlier(merged.start, h.range.start), end: later(merged.end, h.range.end))
            }
        }
        if !placed { kept.append(Held(range: merged, touched: clock)) }
        held = kept
    }

    private mutating func trimToBound() {
        while held.count > maximumRanges {
            // The oldest is never the range just touched, since maximumRanges >= 1.
            guard let oldest = held.indices.min(by: { held[$0].touched < held[$1].touched }) else { return }
            rangesDropped += 1
            bytesDropped += held[oldest].range.length
            held.remove(at: oldest)
        }
    }
}

