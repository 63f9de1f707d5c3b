/// The receive half of a connection that can still receive data: RCV.NXT and the
/// out-of-order ranges (ReceiveReassembly), where RCV.NXT lies in the receive stream, the
/// window we advertised, and receive-window auto-tuning.
///
/// Data is placed straight into the receive area at its final stream offset, in order or
/// not; RCV.NXT moving is what makes it readable. The window advertised never lets the
/// peer send past what the area can hold: its right edge is at most the application's read
/// position plus the area's size, and that only grows.
struct Receiving: Sendable {
    var reassembly: ReceiveReassembly
    /// The stream offset of RCV.NXT (0 is the byte after the peer's SYN).
    private(set) var nextOffset: UInt64 = 0
    /// RCV.NXT + RCV.WND as last advertised: never moved left (RFC 9293 3.8.6.2.2, "the
    /// window SHOULD NOT be shrunk").
    private(set) var rightEdge: SequenceNumber
    /// Auto-tuning: the window the connection is willing to offer now, grown towards the
    /// area's size when the application drains more than half of it per round trip (the
    /// dynamic right-sizing Linux does: advertise twice what is consumed per RTT).
    private(set) var tunedWindow: Int
    private var tuneMark: (at: UInt64, head: UInt64)?
    let mss: Int
    /// The reassembly's SACK blocks start with a D-SACK (the last segment held a
    /// duplicate), and whether an ACK has carried it already: RFC 2883 4, "each duplicate
    /// contiguous sequence of data received is reported in at most one D-SACK block".
    private var duplicateInBlocks = false
    private var duplicateSent = false

    var next: SequenceNumber { reassembly.next }

    /// `advertised`: the window our SYN already offered (a SYN's window is unscaled).
    init(next: SequenceNumber, initialWindow: Int, mss: Int, advertised: Int = 0) {
        reassembly = ReceiveReassembly(next: next)
        rightEdge = next + advertised
        tunedWindow = initialWindow
        self.mss = mss
    }

    /// RCV.WND: what is left of the last advertised window.
    var window: Int { max(0, rightEdge - next) }

    /// The window the area allows now, before silly-window avoidance.
    func room(_ b: StreamBuffers) -> Int {
        let unread = nextOffset >= b.receiveHead ? Int(clamping: nextOffset - b.receiveHead) : b.receiveCapacity
        return max(0, min(b.receiveCapacity - unread, tunedWindow))
    }

    /// Moves the right edge for the next segment sent, and returns the window to put in it.
    /// RFC 9293 3.8.6.2.2 (receiver SWS avoidance): the edge advances only "when ...
    /// RCV.BUFF - RCV.USER - RCV.WND >= min(Fr * RCV.BUFF, Eff.snd.MSS)", Fr = 1/2.
    mutating func advertise(_ b: StreamBuffers, limit: Int = Int.max) -> Int {
        let candidate = next + min(room(b), limit)
        let step = min(b.receiveCapacity / 2, mss)
        if candidate - rightEdge >= max(1, step) { rightEdge = candidate }
        return window
    }

    /// How much the window would open if a segment went out now: the caller sends a window
    /// update when this is large (the application made room after a full window).
    func windowGain(_ b: StreamBuffers) -> Int { max(0, (next + room(b)) - rightEdge) }

    /// Where an arriving segment's data goes.
    struct Placement: Equatable, Sendable {
        /// Skip this many bytes of the segment's payload...
        var payloadOffset: Int
        /// ...and copy this many to the receive stream at `streamOffset`.
        var length: Int
        var streamOffset: UInt64
    }

    /// Accepts a segment's data (and FIN) within the advertised window.
    mutating func accept(sequence dataStart: SequenceNumber, length: Int, fin: Bool)
        -> (placement: Placement?, arrival: ReceiveReassembly.Arrival) {
        let before = next
        let beforeOffset = nextOffset
        let arrival = reassembly.insert(sequence: dataStart, length: length, fin: fin, window: window)
        duplicateInBlocks = arrival.duplicate != nil
        duplicateSent = false
        var placement: Placement?
        if let s = arrival.stored, !s.isEmpty {
            placement = Placement(payloadOffset: s.start - dataStart, length: s.length,
                                  streamOffset: beforeOffset + UInt64(s.start - before))
        }
        nextOffset += UInt64(arrival.deliverable)
        return (placement, arrival)
    }

    /// Data wholly below RCV.NXT arrived again: nothing to store, a D-SACK to send.
    mutating func duplicateArrived(sequence: SequenceNumber, length: Int) {
        guard sequence < next, length > 0 else { return }
        let arrival = reassembly.insert(sequence: sequence, length: min(length, next - sequence), window: 0)
        duplicateInBlocks = arrival.duplicate != nil
        duplicateSent = false
    }

    /// The SACK blocks for a segment about to be sent, the D-SACK only in the first.
    mutating func sackBlocks(maximumCount n: Int) -> [SequenceRange] {
        guard n > 0 else { return [] }
        var blocks = reassembly.sackBlocks(maximumCount: n + 1)
        if duplicateInBlocks && duplicateSent && !blocks.isEmpty { blocks.removeFirst() }
        duplicateSent = duplicateInBlocks
        return Array(blocks.prefix(n))
    }

    /// Auto-tuning, called with the application's read position as the shell last saw it.
    mutating func tune(_ b: StreamBuffers, roundTrip: UInt64?, at now: UInt64) {
        guard let mark = tuneMark else { tuneMark = (now, b.receiveHead); return }
        let period = max(roundTrip ?? 100_000_000, 1_000_000)
        guard now &- mark.at >= period else { return }
        let consumed = b.receiveHead >= mark.head ? Int(clamping: b.receiveHead - mark.head) : 0
        if consumed > tunedWindow / 2 {
            tunedWindow = min(b.receiveCapacity, max(tunedWindow, consumed.multipliedReportingOverflow(by: 2).overflow ? Int.max : consumed * 2))
        }
        tuneMark = (now, b.receiveHead)
    }

    /// The receive side once the peer's FIN is consumed: only ACKs are left to send.
    var finished: Finished { Finished(next: next, rightEdge: rightEdge, offset: nextOffset) }
}

/// The receive side after the peer's FIN: RCV.NXT is final. CLOSE-WAIT, CLOSING, LAST-ACK
/// and TIME-WAIT still acknowledge (retransmitted FINs, data of ours), so they keep this.
struct Finished: Sendable, Equatable {
    let next: SequenceNumber
    let rightEdge: SequenceNumber
    /// The receive stream's final length.
    let offset: UInt64
    var window: Int { max(0, rightEdge - next) }
}
