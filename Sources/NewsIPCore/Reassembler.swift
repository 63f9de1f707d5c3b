// IPv4 fragment reassembly (RFC 791 section 3.2, RFC 815 hole accounting, RFC 1122 3.3.2),
// hardened per RFC 1858 (tiny fragments) and RFC 5722 (overlaps: drop, don't merge).
//
// Because overlaps are refused, the fragments of a datagram never share a byte, so
// "complete" is simply "the last fragment has been seen and the received byte count equals
// its end" - RFC 815's hole list collapses to one counter.

/// Largest IPv4 payload: total length is 16 bits and the header is at least 20 bytes.
public let maxIPv4Payload = 65_535 - 20

public struct Reassembler: Sendable {
    public let limits: ReassemblyLimits
    public private(set) var counters = ReassemblyCounters()

    private struct Piece: Sendable {
        var offset: Int
        var bytes: [UInt8]
        var end: Int { offset + bytes.count }
    }

    private struct PartialDatagram: Sendable {
        var pieces: [Piece] = []          // sorted by offset, pairwise disjoint
        var end: Int?                     // known once the MF=0 fragment has arrived
        var received = 0                  // payload bytes held
        var deadline: UInt64              // first arrival + timeout
        var sequence: UInt64              // arrival order; smallest is "oldest"
        var highestEnd: Int { pieces.last?.end ?? 0 }
    }

    private var inProgress: [FragmentKey: PartialDatagram] = [:]
    /// Keys whose datagram was dropped as hostile or malformed, with the time they expire.
    private var poisoned: [FragmentKey: UInt64] = [:]
    private var bufferedBytes = 0
    private var nextSequence: UInt64 = 0
    /// No deadline is earlier than this, so `expire` can skip the scan most of the time.
    private var earliestDeadline = UInt64.max

    public init(limits: ReassemblyLimits = ReassemblyLimits()) {
        self.limits = limits
    }

    public var datagramsInProgress: Int { inProgress.count }
    public var bytesBuffered: Int { bufferedBytes }
    public func isPoisoned(_ key: FragmentKey) -> Bool { poisoned[key] != nil }

    /// Offers one fragment. `offset` is in bytes (the header field times 8); `payload` is the
    /// data after the IP header.
    public mutating func add(key: FragmentKey, offset: Int, moreFragments: Bool,
                             payload: UnsafeRawBufferPointer, now: UInt64) -> ReassemblyResult {
        add(key: key, offset: offset, moreFragments: moreFragments, payload: Array(payload), now: now)
    }

    public mutating func add(key: FragmentKey, offset: Int, moreFragments: Bool,
                             payload: [UInt8], now: UInt64) -> ReassemblyResult {
        counters.fragmentsReceived += 1
        expire(now: now)
        if poisoned[key] != nil { return drop(.poisoned) }

        let length = payload.count
        // RFC 791: the offset is "measured in units of 8 octets"; anything else is corrupt.
        guard offset >= 0, offset % 8 == 0 else { return drop(.badLength) }
        // RFC 1858: refuse a first fragment too short to carry the transport header.
        if offset == 0 && moreFragments && length < limits.minimumFirstFragment { return drop(.tiny) }
        // RFC 791: every fragment but the last carries a multiple of 8 octets, and carries some.
        if moreFragments && (length % 8 != 0 || length == 0) { return drop(.badLength) }
        guard offset + length <= maxIPv4Payload else { return drop(.tooBig) }
        guard length <= limits.maxBufferedBytes else { return drop(.limitBytes) }

        // Not actually fragmented: nothing to hold, unless it collides with a datagram in progress.
        if offset == 0 && !moreFragments && inProgress[key] == nil {
            counters.datagramsCompleted += 1
            return .complete(payload)
        }

        let isNew = inProgress[key] == nil
        var datagram = inProgress.removeValue(forKey: key)
            ?? PartialDatagram(deadline: now &+ limits.timeoutNanoseconds, sequence: nextSequence)
        let newEnd = offset + length

        if let reason = inconsistency(of: datagram, offset: offset, newEnd: newEnd, moreFragments: moreFragments) {
            return kill(datagram, key: key, reason: reason)
        }
        guard datagram.pieces.count < limits.maxFragmentsPerDatagram else {
            return kill(datagram, key: key, reason: .tooMany)
        }

        if isNew {
            nextSequence += 1
            // Make room for one more datagram by evicting the oldest.
            while inProgress.count >= limits.maxDatagrams, evictOldest(counting: .limitDatagrams) {}
        }
        // Stay under the byte budget by evicting other datagrams, oldest first.
        while bufferedBytes + length > limits.maxBufferedBytes, evictOldest(counting: .limitBytes) {}
        if bufferedBytes + length > limits.maxBufferedBytes {
            // Only this datagram is left and it alone exceeds the budget.
            release(datagram)
            return drop(.limitBytes)
        }

        if !moreFragments { datagram.end = newEnd }
        let index = datagram.pieces.firstIndex { $0.offset > offset } ?? datagram.pieces.endIndex
        datagram.pieces.insert(Piece(offset: offset, bytes: payload), at: index)
        datagram.received += length
        bufferedBytes += length

        if let end = datagram.end, datagram.received == end {
            // Disjoint pieces inside [0, end) whose sizes sum to end cover it exactly.
            release(datagram)
            counters.datagramsCompleted += 1
            var whole = [UInt8]()
            whole.reserveCapacity(end)
            for piece in datagram.pieces { whole.append(contentsOf: piece.bytes) }
            return .complete(whole)
        }
        inProgress[key] = datagram
        earliestDeadline = min(earliestDeadline, datagram.deadline)
        return .pending
    }

    /// Purges datagrams in progress and poisoned keys whose timeout has passed.
    /// RFC 1122 3.3.2: "If the timer runs out, the all reassembly resources for this
    /// buffer identifier" are released. (An ICMP Time Exceeded is the caller's business.)
    public mutating func expire(now: UInt64) {
        guard now >= earliestDeadline else { return }
        var earliest = UInt64.max
        for (key, datagram) in inProgress {
            if now >= datagram.deadline {
                inProgress[key] = nil
                bufferedBytes -= datagram.received
                counters[.timeout] += 1
            } else {
                earliest = min(earliest, datagram.deadline)
            }
        }
        for (key, until) in poisoned {
            if now >= until { poisoned[key] = nil } else { earliest = min(earliest, until) }
        }
        earliestDeadline = earliest
    }

    // MARK: - Helpers

    /// Checks a fragment against what the datagram already holds.
    private func inconsistency(of datagram: PartialDatagram, offset: Int, newEnd: Int,
                               moreFragments: Bool) -> ReassemblyDrop? {
        if moreFragments {
            // A non-last fragment must end before the known end: more data follows it.
            if let end = datagram.end, newEnd >= end { return .conflictingEnd }
        } else {
            // A second last fragment must agree, and nothing already held may lie past it.
            if let end = datagram.end, end != newEnd { return .conflictingEnd }
            if datagram.highestEnd > newEnd { return .conflictingEnd }
        }
        // RFC 5722 spirit: any byte covered twice, even with identical data, kills the datagram.
        for piece in datagram.pieces where piece.offset < newEnd && offset < piece.end {
            return .overlap
        }
        return nil
    }

    private mutating func drop(_ reason: ReassemblyDrop) -> ReassemblyResult {
        counters[reason] += 1
        return .dropped(reason)
    }

    /// Drops the whole datagram (already removed from `inProgress`) and poisons its key
    /// until the datagram would have timed out, so its remaining fragments are refused too.
    private mutating func kill(_ datagram: PartialDatagram, key: FragmentKey,
                               reason: ReassemblyDrop) -> ReassemblyResult {
        release(datagram)
        if limits.maxPoisonedKeys > 0 {
            if poisoned.count >= limits.maxPoisonedKeys,
               let soonest = poisoned.min(by: { $0.value < $1.value })?.key {
                poisoned[soonest] = nil
            }
            poisoned[key] = datagram.deadline
            earliestDeadline = min(earliestDeadline, datagram.deadline)
        }
        return drop(reason)
    }

    private mutating func release(_ datagram: PartialDatagram) {
        bufferedBytes -= datagram.received
    }

    /// Evicts the datagram that started first; false when nothing is left to evict.
    private mutating func evictOldest(counting reason: ReassemblyDrop) -> Bool {
        guard let oldest = inProgress.min(by: { $0.value.sequence < $1.value.sequence }) else {
            return false
        }
        inProgress[oldest.key] = nil
        release(oldest.value)
        counters[reason] += 1
        return true
    }
}
