/// The checks RFC 9293 3.10.7.4 makes on every segment in a synchronized state before it
/// is processed, with RFC 5961's tightening of RST, SYN and ACK handling against blind
/// in-window attacks. Pure decisions: the connection applies them.
public enum SegmentAcceptance {
    /// The receive side as the check sees it.
    public struct Receive: Sendable {
        public var next: SequenceNumber      // RCV.NXT
        public var window: Int               // RCV.WND, in bytes (already scaled)
        public init(next: SequenceNumber, window: Int) { self.next = next; self.window = window }
    }

    /// RFC 9293 3.10.7.4, "first check sequence number": the four cases of segment length
    /// and receive window.
    ///
    ///     Segment Length  Receive Window  Test
    ///     0               0               SEG.SEQ = RCV.NXT
    ///     0               >0              RCV.NXT =< SEG.SEQ < RCV.NXT+RCV.WND
    ///     >0              0               not acceptable
    ///     >0              >0              RCV.NXT =< SEG.SEQ < RCV.NXT+RCV.WND
    ///                                     or RCV.NXT =< SEG.SEQ+SEG.LEN-1 < RCV.NXT+RCV.WND
    ///
    /// `length` is SEG.LEN: the data plus one for each of SYN and FIN.
    public static func isAcceptable(sequence: SequenceNumber, length: Int, receive r: Receive) -> Bool {
        let end = r.next + r.window
        switch (length, r.window) {
        case (0, 0): return sequence == r.next
        case (0, _): return sequence.isIn(r.next, upTo: end)
        case (_, 0): return false
        default: return sequence.isIn(r.next, upTo: end) || (sequence + (length - 1)).isIn(r.next, upTo: end)
        }
    }

    /// What to do with a segment that carries RST (RFC 5961 3.2).
    public enum ResetVerdict: Equatable, Sendable {
        /// SEG.SEQ is exactly RCV.NXT: reset the connection.
        case reset
        /// In the window but not exact: send a challenge ACK, change nothing.
        case challenge
        /// Outside the window: drop it silently.
        case drop
    }

    /// RFC 5961 3.2: "If the RST bit is set and the sequence number exactly matches the next
    /// expected sequence number (RCV.NXT), then TCP MUST reset the connection"; in the window
    /// otherwise, "TCP MUST send an acknowledgment (challenge ACK)"; outside it, discard.
    public static func judgeReset(sequence: SequenceNumber, receive r: Receive) -> ResetVerdict {
        if sequence == r.next { return .reset }
        // A zero window still has RCV.NXT as its one acceptable number (handled above).
        if r.window > 0, sequence.isIn(r.next, upTo: r.next + r.window) { return .challenge }
        return .drop
    }

    /// What to do with the acknowledgment field (RFC 9293 3.10.7.4 fifth check, with
    /// RFC 5961 5.2).
    public enum AckVerdict: Equatable, Sendable {
        /// SND.UNA < SEG.ACK =< SND.NXT: new data acknowledged.
        case advances
        /// SEG.ACK = SND.UNA: nothing new (a duplicate, or a window update).
        case duplicate
        /// Older than SND.UNA but within MAX.SND.WND of it: ignore the ACK, process the rest.
        case old
        /// Acknowledges something not yet sent: send an ACK, drop the segment.
        case future
        /// Older than SND.UNA - MAX.SND.WND: a blind attacker's guess; challenge ACK, drop.
        case challenge
    }

    /// The send side as the ACK check sees it.
    public struct Send: Sendable {
        public var unacknowledged: SequenceNumber   // SND.UNA
        public var next: SequenceNumber             // SND.NXT
        /// MAX.SND.WND: the largest window the peer has ever advertised (RFC 5961 5.2).
        public var maxWindow: Int
        public init(unacknowledged: SequenceNumber, next: SequenceNumber, maxWindow: Int) {
            self.unacknowledged = unacknowledged; self.next = next; self.maxWindow = maxWindow
        }
    }

    /// RFC 5961 5.2: "The ACK value is considered acceptable only if it is in the range of
    /// ((SND.UNA - MAX.SND.WND) =< SEG.ACK =< SND.NXT)"; RFC 9293: "If the ACK acks
    /// something not yet sent (SEG.ACK > SND.NXT), then send an ACK, drop the segment".
    public static func judgeAck(_ ack: SequenceNumber, send s: Send) -> AckVerdict {
        if ack > s.next { return .future }
        if ack > s.unacknowledged { return .advances }
        if ack == s.unacknowledged { return .duplicate }
        return ack >= s.unacknowledged - s.maxWindow ? .old : .challenge
    }
}
