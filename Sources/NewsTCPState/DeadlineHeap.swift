/// Timers of many parked connections (TIME-WAIT, SYN-RECEIVED), earliest first: a binary
/// min-heap of (deadline, id), so a pass of tcpserver's loop looks at the connections that
/// are due and at nothing else, however many thousands wait.
///
/// Entries are never changed or removed in place. Whoever stores a connection pushes its
/// deadline; a timer that moves is pushed again; and whoever pops an entry checks that the
/// connection still exists and is still due then (lazy deletion). A stale entry costs one
/// look when its time comes, and the heap never holds more than the pushes of the last
/// longest timer.
public struct DeadlineHeap<ID: Hashable & Sendable>: Sendable {
    private var items: [(at: UInt64, id: ID)] = []

    public init() {}

    public var count: Int { items.count }
    public var isEmpty: Bool { items.isEmpty }
    /// The earliest deadline held (perhaps a stale one: it only makes a wake-up early).
    public var earliest: UInt64? { items.first?.at }

    public mutating func push(_ at: UInt64, _ id: ID) {
        items.append((at, id))
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard items[i].at < items[parent].at else { break }
            items.swapAt(i, parent)
            i = parent
        }
    }

    /// Removes and returns the earliest entry if it is due at `now`.
    public mutating func popDue(_ now: UInt64) -> (at: UInt64, id: ID)? {
        guard let first = items.first, first.at <= now else { return nil }
        let last = items.removeLast()
        guard !items.isEmpty else { return first }
        items[0] = last
        var i = 0
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < items.count, items[l].at < items[m].at { m = l }
            if r < items.count, items[r].at < items[m].at { m = r }
            guard m != i else { break }
            items.swapAt(i, m)
            i = m
        }
        return first
    }
}
