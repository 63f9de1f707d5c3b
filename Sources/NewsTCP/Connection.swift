import NewsWire

/// The states of RFC 9293 3.3.2, as `newsctl ss` and the socket header show them.
public enum TCPState: String, Sendable, CaseIterable {
    case closed = "CLOSED", listen = "LISTEN", synSent = "SYN-SENT", synReceived = "SYN-RECEIVED"
    case established = "ESTABLISHED", finWait1 = "FIN-WAIT-1", finWait2 = "FIN-WAIT-2"
    case closeWait = "CLOSE-WAIT", closing = "CLOSING", lastAck = "LAST-ACK", timeWait = "TIME-WAIT"
}

/// Why a connection failed, as the application's next call sees it.
public struct TCPFailure: Error, Equatable, Sendable {
    public let errno: Int32
    public static let refused = TCPFailure(errno: 111)    // ECONNREFUSED
    public static let reset = TCPFailure(errno: 104)      // ECONNRESET
    public static let timedOut = TCPFailure(errno: 110)   // ETIMEDOUT
}

/// What changed that the application may be waiting for.
public struct TCPEvents: OptionSet, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let established = TCPEvents(rawValue: 1)
    /// In-order data (or the end of the stream) became readable.
    public static let readable = TCPEvents(rawValue: 2)
    /// Send-area bytes were acknowledged: the application may write more.
    public static let writable = TCPEvents(rawValue: 4)
    public static let peerFinished = TCPEvents(rawValue: 8)
    public static let failed = TCPEvents(rawValue: 16)
    /// Nothing is left of the connection: the shell may forget it.
    public static let closed = TCPEvents(rawValue: 32)
}

/// What one arriving segment did, for the shell.
public struct TCPArrival: Sendable, Equatable {
    /// Copy `length` bytes of the segment's payload, from `payloadOffset`, to the receive
    /// stream at `streamOffset` (in the window, so the area has room there).
    public var placement: (payloadOffset: Int, length: Int, streamOffset: UInt64)?
    /// The receive stream's readable end after this segment (publish as the area's tail).
    public var receivedUpTo: UInt64 = 0
    /// The send stream's acknowledged end (the application may reuse bytes before it).
    public var acknowledgedUpTo: UInt64 = 0
    public var events = TCPEvents()

    public static func == (a: TCPArrival, b: TCPArrival) -> Bool {
        a.placement?.payloadOffset == b.placement?.payloadOffset && a.placement?.length == b.placement?.length
            && a.placement?.streamOffset == b.placement?.streamOffset && a.receivedUpTo == b.receivedUpTo
            && a.acknowledgedUpTo == b.acknowledgedUpTo && a.events == b.events
    }
}

/// Our half of the handshake: the SYN (or SYN-ACK) and its retransmission.
struct Opening: Sendable {
    let iss: SequenceNumber
    /// The options of our SYN (or SYN-ACK); the TSval is refreshed each time it is sent.
    var offered: TCPOptions
    var rto: RetransmissionTimeout
    var timer = DeadlineTimer()
    var sentAt: UInt64?
    var retransmitted = false
    /// Opened by a listener (SYN-RECEIVED returns to LISTEN on a RST, RFC 9293 3.10.7.4).
    let passive: Bool
}

/// A connection's state and the halves it still has. A state that cannot send has no
/// `Sending`; one past the peer's FIN has only `Finished`.
enum Phase: Sendable {
    case synSent(Opening)
    case synReceived(Opening, Receiving)
    case established(Sending, Receiving)
    case finWait1(Sending, Receiving)
    case finWait2(Receiving, sent: SequenceNumber)
    case closeWait(Sending, Finished)
    case closing(Sending, Finished)
    case lastAck(Sending, Finished)
    case timeWait(Finished, sent: SequenceNumber, until: UInt64)
    case closed
}

/// When to acknowledge (RFC 9293 3.8.6.3, RFC 5681 4.2).
struct AckPolicy: Sendable {
    var now = false
    var deadline: UInt64?
    var unacknowledgedBytes = 0
    var quickLeft: Int
}

/// Counters of one connection; the server sums them for `newsctl stats`.
public struct TCPConnectionCounters: Sendable, Equatable {
    public var segmentsReceived = 0
    public var segmentsSent = 0
    public var bytesSent = 0
    public var bytesReceived = 0
    public var bytesAcknowledged = 0
    public var segmentsRetransmitted = 0
    public var bytesRetransmitted = 0
    public var retransmissionTimeouts = 0
    public var fastRecoveries = 0
    public var tailLossProbes = 0
    public var synRetransmits = 0
    public var duplicateAcksReceived = 0
    public var challengeAcksSent = 0
    public var challengeAcksSuppressed = 0
    public var pawsRejected = 0
    public var outOfWindow = 0
    public var acksOfUnsentData = 0
    public var resetsReceived = 0
    public var resetsSent = 0
    public var zeroWindowProbes = 0
    public var keepAlivesSent = 0
    public var urgentIgnored = 0
    public var delayedAcks = 0
    public var windowUpdates = 0
    public init() {}
}

/// What `info` shows of a sender that is gone.
struct RetiredSender: Sendable {
    var rto: RetransmissionTimeout
    var congestionWindow: Int
    var slowStartThreshold: Int
    var window: Int

    init(_ s: Sending) {
        rto = s.rto
        congestionWindow = s.congestion.window
        slowStartThreshold = s.congestion.slowStartThreshold
        window = s.window
    }
}

/// TCP_INFO-like figures for `newsctl ss -i` and the socket option.
public struct TCPInfo: Sendable, Equatable {
    public var state: TCPState
    public var smoothedRoundTrip: UInt64?
    public var roundTripVariation: UInt64
    public var retransmissionTimeout: UInt64
    public var congestionWindow: Int
    public var slowStartThreshold: Int
    public var sendMSS: Int
    public var receiveMSS: Int
    public var unacknowledged: Int
    public var sendWindow: Int
    public var receiveWindow: Int
    public var retransmits: Int
    public var options: NegotiatedOptions?
}

/// One TCP connection: RFC 9293's state machine with the extensions NEWS implements, as a
/// value that is given segments, the state of the socket's stream areas and the time, and
/// answers with segments to send, where received bytes go, events and its next deadline.
/// It reads no clock and does no I/O.
public struct TCPConnection: Sendable {
    /// Policy; the socket options (TCP_NODELAY, keep-alive) may change it at any time.
    public var configuration: TCPConfiguration
    var phase: Phase
    public internal(set) var options: NegotiatedOptions?
    var timestamps: TimestampState?
    var acks: AckPolicy
    public internal(set) var counters = TCPConnectionCounters()
    public internal(set) var failure: TCPFailure?
    /// Segments decided while processing an arrival (RSTs, challenge and duplicate ACKs),
    /// sent by the next `transmit`.
    var pending: [OutgoingSegment] = []
    public let iss: SequenceNumber
    public internal(set) var irs: SequenceNumber?
    var lastReceived: UInt64
    var keepAliveProbes = 0
    var challengeWindow: (second: UInt64, count: Int) = (0, 0)
    /// The application closed its socket: FIN-WAIT-2 then ends after `timeWait` (Linux's
    /// tcp_fin_timeout) rather than waiting forever for a peer that never closes. Set when
    /// the application closes, and again when FIN-WAIT-2 is entered after that.
    var orphanedAt: UInt64?
    /// The sender's figures when its part of the connection ended with our FIN acknowledged
    /// (FIN-WAIT-2, TIME-WAIT): `info` and the control block keep showing them, as Linux's
    /// ss does, instead of an unmeasured RTT and a zero window.
    var retiredSender: RetiredSender?

    /// An active open (RFC 9293 3.10.1): SYN-SENT; the first `transmit` sends the SYN.
    public init(connecting configuration: TCPConfiguration, iss: SequenceNumber, receiveCapacity: Int, at now: UInt64) {
        self.configuration = configuration
        self.iss = iss
        let offer = NegotiatedOptions.offer(configuration, receiveCapacity: receiveCapacity, answering: nil, timestampValue: 0)
        phase = .synSent(Opening(iss: iss, offered: offer, rto: RetransmissionTimeout(configuration: configuration.retransmission), passive: false))
        acks = AckPolicy(quickLeft: configuration.quickAcks)
        lastReceived = now
    }

    /// A passive open from a listener's SYN (RFC 9293 3.10.7.2): SYN-RECEIVED; the first
    /// `transmit` sends the SYN-ACK. Nil for a segment that is not a bare SYN.
    public init?(accepting syn: TCPSegment, configuration: TCPConfiguration, iss: SequenceNumber, receiveCapacity: Int, at now: UInt64) {
        guard syn.syn, !syn.hasAck, !syn.rst else { return nil }
        self.configuration = configuration
        self.iss = iss
        irs = syn.sequence
        let offer = NegotiatedOptions.offer(configuration, receiveCapacity: receiveCapacity, answering: syn.options, timestampValue: 0)
        let agreed = NegotiatedOptions.agree(ours: offer, theirs: syn.options, configuration: configuration)
        options = agreed
        acks = AckPolicy(quickLeft: configuration.quickAcks)
        lastReceived = now
        let receiving = Receiving(next: syn.sequence + 1, initialWindow: configuration.initialReceiveWindow, mss: agreed.receiverMSS)
        phase = .synReceived(Opening(iss: iss, offered: offer, rto: RetransmissionTimeout(configuration: configuration.retransmission), passive: true), receiving)
        if agreed.timestamps, let ts = syn.options.timestamp {
            timestamps = TimestampState(offset: Self.timestampOffset(iss), recent: ts.value, at: now, lastAckSent: syn.sequence + 1)
        }
    }

    /// The window field of a SYN-ACK (unscaled, RFC 7323 2.2) for a receive area of
    /// `receiveCapacity`: what a connection's own SYN-ACK advertises, and what a listener's
    /// cookie SYN-ACK must advertise for `init(cookieAcknowledgment:)` to accept data sent
    /// into it.
    public static func synAckWindow(configuration: TCPConfiguration, receiveCapacity: Int) -> Int {
        max(0, min(65_535, receiveCapacity, configuration.initialReceiveWindow))
    }

    /// A connection completed by a SYN cookie's ACK (RFC 4987 3.6): ESTABLISHED at once, with
    /// the MSS the cookie carried and no other option (the cookie keeps nothing else). The
    /// receive window is the one the cookie SYN-ACK advertised (`synAckWindow`); data in
    /// the ACK itself is for a following `segmentArrived` with the same segment.
    public init(cookieAcknowledgment ack: TCPSegment, mss: Int, configuration: TCPConfiguration, receiveCapacity: Int, at now: UInt64) {
        self.configuration = configuration
        iss = ack.acknowledgment - 1
        irs = ack.sequence - 1
        let agreed = NegotiatedOptions(sendMSS: max(64, min(mss, configuration.announcedMSS)), receiveMSS: configuration.announcedMSS,
                                       sendShift: 0, receiveShift: 0, timestamps: false, selectiveAcknowledgments: false)
        options = agreed
        acks = AckPolicy(quickLeft: configuration.quickAcks)
        lastReceived = now
        // The window our cookie's SYN-ACK offered is already the peer's to use: data on
        // this very ACK must fit it (RFC 9293 3.10.7.4).
        let receiving = Receiving(next: ack.sequence, initialWindow: min(65_535, configuration.initialReceiveWindow), mss: agreed.receiverMSS,
                                  advertised: Int(Self.cookieWindow(receiveCapacity: receiveCapacity)))
        let sending = Self.makeSending(una: ack.acknowledgment, window: Int(ack.window), wl1: ack.sequence, wl2: ack.acknowledgment,
                                       options: agreed, rto: RetransmissionTimeout(configuration: configuration.retransmission),
                                       configuration: configuration)
        phase = .established(sending, receiving)
    }

    /// The window of a SYN-ACK that carries a cookie (unscaled: the cookie keeps no window
    /// scale), as `TCPListener` sends it and the cookie's connection then assumes.
    public static func cookieWindow(receiveCapacity: Int) -> UInt16 { UInt16(max(0, min(65_535, receiveCapacity))) }

    /// Per-connection TSval offset (RFC 7323 5.4 / 7.1: values should not expose a host
    /// clock shared across connections). The ISS is already a keyed hash of the 4-tuple.
    static func timestampOffset(_ iss: SequenceNumber) -> UInt32 { iss.rawValue &* 0x9E37_79B9 }

    static func makeSending(una: SequenceNumber, window: Int, wl1: SequenceNumber, wl2: SequenceNumber, options: NegotiatedOptions,
                            rto: RetransmissionTimeout, configuration: TCPConfiguration) -> Sending {
        Sending(una: una, window: window, wl1: wl1, wl2: wl2, smss: options.senderMSS, rto: rto,
                congestion: configuration.congestion.makeController(maximumSegmentSize: options.senderMSS))
    }

    // MARK: - What the shell reads

    public var state: TCPState {
        switch phase {
        case .synSent: .synSent
        case .synReceived: .synReceived
        case .established: .established
        case .finWait1: .finWait1
        case .finWait2: .finWait2
        case .closeWait: .closeWait
        case .closing: .closing
        case .lastAck: .lastAck
        case .timeWait: .timeWait
        case .closed: .closed
        }
    }

    /// Whether the connection is synchronized (past the handshake) and not closed.
    public var isSynchronized: Bool {
        switch phase {
        case .synSent, .synReceived, .closed: false
        default: true
        }
    }

    var sending: Sending? {
        switch phase {
        case .established(let s, _), .finWait1(let s, _), .closeWait(let s, _), .closing(let s, _), .lastAck(let s, _): s
        default: nil
        }
    }

    mutating func store(_ s: Sending) {
        switch phase {
        case .established(_, let r): phase = .established(s, r)
        case .finWait1(_, let r): phase = .finWait1(s, r)
        case .closeWait(_, let f): phase = .closeWait(s, f)
        case .closing(_, let f): phase = .closing(s, f)
        case .lastAck(_, let f): phase = .lastAck(s, f)
        default: break
        }
    }

    var receiving: Receiving? {
        switch phase {
        case .synReceived(_, let r), .established(_, let r), .finWait1(_, let r), .finWait2(let r, _): r
        default: nil
        }
    }

    mutating func store(_ r: Receiving) {
        switch phase {
        case .synReceived(let o, _): phase = .synReceived(o, r)
        case .established(let s, _): phase = .established(s, r)
        case .finWait1(let s, _): phase = .finWait1(s, r)
        case .finWait2(_, let sent): phase = .finWait2(r, sent: sent)
        default: break
        }
    }

    /// RCV.NXT and RCV.WND, whichever half holds them.
    var receiveView: SegmentAcceptance.Receive? {
        switch phase {
        case .synReceived(_, let r), .established(_, let r), .finWait1(_, let r), .finWait2(let r, _):
            SegmentAcceptance.Receive(next: r.next, window: r.window)
        case .closeWait(_, let f), .closing(_, let f), .lastAck(_, let f), .timeWait(let f, _, _):
            SegmentAcceptance.Receive(next: f.next, window: f.window)
        case .synSent, .closed: nil
        }
    }

    /// SND.NXT for segments that carry no data.
    var sendNext: SequenceNumber {
        switch phase {
        case .synSent(let o), .synReceived(let o, _): o.iss + 1
        case .established(let s, _), .finWait1(let s, _), .closeWait(let s, _), .closing(let s, _), .lastAck(let s, _): s.next
        case .finWait2(_, let sent), .timeWait(_, let sent, _): sent
        case .closed: iss
        }
    }

    /// The receive stream's readable end (bytes the shell may publish as readable).
    public var receivedOffset: UInt64 {
        switch phase {
        case .synReceived(_, let r), .established(_, let r), .finWait1(_, let r), .finWait2(let r, _): r.nextOffset
        case .closeWait(_, let f), .closing(_, let f), .lastAck(_, let f), .timeWait(let f, _, _): f.offset
        case .synSent, .closed: finishedOffset
        }
    }
    var finishedOffset: UInt64 = 0

    /// The send stream's acknowledged end.
    public var acknowledgedOffset: UInt64 { sending?.unaOffset ?? acknowledgedAtClose }
    var acknowledgedAtClose: UInt64 = 0

    /// The peer's FIN has been consumed: reads past `receivedOffset` see end of file.
    public var peerFinished: Bool {
        switch phase {
        case .closeWait, .closing, .lastAck, .timeWait: true
        default: false
        }
    }

    public var info: TCPInfo {
        let s = sending
        let rto: RetransmissionTimeout? = s?.rto ?? {
            switch phase {
            case .synSent(let o), .synReceived(let o, _): return o.rto
            default: return retiredSender?.rto
            }
        }()
        return TCPInfo(state: state, smoothedRoundTrip: rto?.smoothedRoundTrip, roundTripVariation: rto?.roundTripVariation ?? 0,
                       retransmissionTimeout: rto?.timeout ?? configuration.retransmission.initialTimeout,
                       congestionWindow: s?.congestion.window ?? retiredSender?.congestionWindow ?? 0,
                       slowStartThreshold: s?.congestion.slowStartThreshold ?? retiredSender?.slowStartThreshold ?? 0,
                       sendMSS: options?.senderMSS ?? 536, receiveMSS: options?.receiveMSS ?? configuration.announcedMSS,
                       unacknowledged: s?.outstanding ?? 0, sendWindow: s?.window ?? retiredSender?.window ?? 0,
                       receiveWindow: receiveView?.window ?? 0,
                       retransmits: counters.segmentsRetransmitted, options: options)
    }

    /// The earliest time `transmit` has something to do without new input; nil when
    /// nothing is scheduled. A time in the past means "now".
    public var nextDeadline: UInt64? {
        if !pending.isEmpty { return 0 }
        var d: UInt64? = acks.now ? 0 : acks.deadline
        func consider(_ t: UInt64?) { if let t { d = min(d ?? t, t) } }
        switch phase {
        case .synSent(let o), .synReceived(let o, _):
            consider(o.timer.deadline ?? 0)
        case .established(let s, _), .finWait1(let s, _), .closeWait(let s, _), .closing(let s, _), .lastAck(let s, _):
            consider(s.retransmitTimer.deadline)
            consider(s.rackTimer)
            consider(s.probeTimer)
            consider(s.persistTimer.deadline)
            consider(s.overrideAt)
            consider(keepAliveDeadline(s))
        case .finWait2:
            if let t = orphanedAt { consider(t &+ configuration.timeWait) }
        case .timeWait(_, _, let until):
            consider(until)
        case .closed:
            break
        }
        return d
    }

    func keepAliveDeadline(_ s: Sending) -> UInt64? {
        guard configuration.keepAlive, s.outstanding == 0 else { return nil }
        return lastReceived &+ configuration.keepAliveIdle &+ UInt64(keepAliveProbes) &* configuration.keepAliveInterval
    }

    // MARK: - What the application does

    /// The application closed its socket (its send side is shut in the buffers the shell
    /// passes). Unread data is the shell's business: it calls `abort` then, as Linux does.
    public mutating func applicationClosed(at now: UInt64) {
        orphanedAt = now
        if case .synSent = phase { phase = .closed }
    }

    /// RFC 9293 3.10.5 ABORT: "<SEQ=SND.NXT><CTL=RST>" in a synchronized state; the
    /// connection is gone at once.
    public mutating func abort() {
        if isSynchronized, !isTimeWait {
            pending.append(OutgoingSegment(sequence: sendNext, acknowledgment: SequenceNumber(0), flags: .rst, window: 0))
            counters.resetsSent += 1
        } else if case .synReceived(let o, _) = phase {
            pending.append(OutgoingSegment(sequence: o.iss + 1, acknowledgment: SequenceNumber(0), flags: .rst, window: 0))
            counters.resetsSent += 1
        }
        close()
    }

    var isTimeWait: Bool { if case .timeWait = phase { return true } else { return false } }

    mutating func fail(_ f: TCPFailure) -> TCPEvents {
        failure = f
        close()
        return [.failed, .closed]
    }

    mutating func close() {
        acknowledgedAtClose = acknowledgedOffset
        finishedOffset = receivedOffset
        phase = .closed
    }

    /// RFC 9293 3.10.7.4 / RFC 6191: TIME-WAIT may end early for a new SYN from the same
    /// peer whose sequence number (or timestamp) is beyond anything of the old connection.
    public func timeWaitAccepts(_ syn: TCPSegment) -> Bool {
        guard case .timeWait(let f, _, _) = phase, syn.syn, !syn.hasAck, !syn.rst else { return false }
        if let ts = timestamps, let v = syn.options.timestamp?.value { return Int32(bitPattern: v &- ts.recent) > 0 }
        return syn.sequence > f.next
    }
}
