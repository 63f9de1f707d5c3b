import NewsWire

/// A listening socket's passive open (RFC 9293 3.10.7.2, LISTEN), with SYN cookies (RFC
/// 4987 3.6) once its half-open queue is full. The shell calls it for a segment addressed to
/// the listening port that matches no existing connection: the shell demultiplexes by
/// 4-tuple and holds the connection objects, this value decides what becomes of the segment.
/// Like `TCPConnection` it reads no clock and does no I/O.
///
/// The two queue lengths are kept here and moved by the shell's reports, not passed in on
/// every call: the listener itself creates the entries (`.open` adds a half-open one,
/// `.established` a queued one), so only the transitions it cannot see are reported:
///
/// - `connectionEstablished()`: a connection this listener opened left SYN-RECEIVED for
///   ESTABLISHED (half-open -1, accept queue +1);
/// - `halfOpenEnded()`: it left SYN-RECEIVED any other way (RST, SYN-ACK retransmissions
///   given up, the listener's application aborted it);
/// - `connectionAccepted()`: the application took a connection off the accept queue. A
///   queued connection that fails before it is accepted stays queued until then, as on
///   Linux, where accept() hands it out and the first call on it reports the error.
///
/// A SYN flood costs the listener nothing: it holds no reference (a flood only moves its
/// counters), so what it answers under cookies is computed from the segment alone.
public struct TCPListener: Sendable {
    /// Why a segment was dropped (each reason has a counter).
    public enum DropReason: Sendable, Equatable, CaseIterable {
        /// RFC 9293 3.10.7.2: "An incoming RST should be ignored."
        case reset
        /// A SYN with FIN set: no handshake starts like that (Linux drops it too; scanners
        /// send it to probe).
        case synAndFin
        /// The accept queue is full: a SYN is dropped (Linux's ListenOverflows, so that the
        /// peer retries once the application has accepted), and so is a valid cookie's ACK
        /// (the peer retransmits it, or its data, while the cookie is still good).
        case acceptQueueFull
        /// Neither SYN, ACK nor RST: "Any other control or text-bearing segment (not
        /// containing SYN) must have an ACK and thus would have been discarded by the ACK
        /// processing" (3.10.7.2, fourth).
        case noSynOrAck
    }

    /// What the shell does with the segment.
    public enum Decision: Sendable {
        /// A new connection in SYN-RECEIVED: store it under the segment's 4-tuple and call its
        /// `transmit`, which sends the SYN-ACK.
        case open(TCPConnection)
        /// Send this segment and keep nothing: a SYN-ACK carrying a cookie, or a RST.
        case reply(OutgoingSegment)
        /// The ACK of one of our cookies: a connection already ESTABLISHED, now on the accept
        /// queue. Store it under the 4-tuple, then give it this same segment through
        /// `segmentArrived` (for the data and FIN the ACK may carry; its acknowledgment
        /// number is SND.UNA, so nothing else happens) and call its `transmit`.
        case established(TCPConnection)
        case drop(DropReason)
    }

    public struct DropCounts: Sendable, Equatable {
        public var reset = 0
        public var synAndFin = 0
        public var acceptQueueFull = 0
        public var noSynOrAck = 0
        public init() {}

        public subscript(reason: DropReason) -> Int {
            get {
                switch reason {
                case .reset: reset
                case .synAndFin: synAndFin
                case .acceptQueueFull: acceptQueueFull
                case .noSynOrAck: noSynOrAck
                }
            }
            set {
                switch reason {
                case .reset: reset = newValue
                case .synAndFin: synAndFin = newValue
                case .acceptQueueFull: acceptQueueFull = newValue
                case .noSynOrAck: noSynOrAck = newValue
                }
            }
        }

        public var total: Int { DropReason.allCases.reduce(0) { $0 + self[$1] } }
    }

    /// For `newsctl stats`, summed over listeners by the server.
    public struct Counters: Sendable, Equatable {
        /// Segments with SYN and without ACK or RST, whatever became of them.
        public var synsReceived = 0
        /// SYN-ACKs sent with a cookie as their ISS.
        public var cookiesSent = 0
        /// ACKs whose cookie checked out and that became connections.
        public var cookiesAccepted = 0
        /// ACKs checked as cookies (cookies were recently in use) that were not ours, or
        /// were too old: each got a RST.
        public var cookiesRejected = 0
        /// SYNs and valid cookie ACKs dropped because the accept queue was full.
        public var acceptQueueOverflows = 0
        public var resetsSent = 0
        public var dropped = DropCounts()
        public init() {}
    }

    /// The accept queue's length limit: listen()'s backlog, clamped as Linux clamps it to
    /// net.core.somaxconn (4096 by default); at least one, so a listener can accept at all.
    public let backlog: Int
    /// Connections in SYN-RECEIVED at most; past it, SYNs are answered with cookies.
    public let halfOpenLimit: Int
    public let configuration: TCPConfiguration
    public let isn: InitialSequenceNumbers
    public let cookies: SYNCookies
    /// Answer every SYN with a cookie (Linux's tcp_syncookies = 2), for tests.
    public var alwaysCookies = false

    /// Connections this listener opened that are still in SYN-RECEIVED.
    public private(set) var halfOpen = 0
    /// Connections ESTABLISHED and not yet accepted.
    public private(set) var acceptQueue = 0
    public private(set) var counters = Counters()
    /// When the last cookie went out. An ACK is checked as a cookie only while a cookie sent
    /// then could still be valid (this period or the next): outside a flood, a blind forger
    /// cannot open a connection by guessing at all (Linux's tcp_synq_no_recent_overflow).
    /// A server that keeps its listeners across restarts keeps this with them (the listener
    /// is a plain value): otherwise the ACKs of cookies sent before the restart are reset.
    public private(set) var lastCookieSent: UInt64?

    public static let maximumBacklog = 4096

    public init(backlog: Int, halfOpenLimit: Int = 256, configuration: TCPConfiguration, isn: InitialSequenceNumbers, cookies: SYNCookies) {
        self.backlog = min(max(backlog, 1), Self.maximumBacklog)
        self.halfOpenLimit = max(0, halfOpenLimit)
        self.configuration = configuration
        self.isn = isn
        self.cookies = cookies
    }

    public var acceptQueueIsFull: Bool { acceptQueue >= backlog }
    public var halfOpenQueueIsFull: Bool { halfOpen >= halfOpenLimit }

    // MARK: - What the shell reports

    /// A connection from `.open` reached ESTABLISHED. It joins the accept queue even if that
    /// is full: it exists already, and SYNs are dropped while the queue is full, so the
    /// excess is bounded by the half-open connections of that moment.
    public mutating func connectionEstablished() {
        // Counts, never a crash: a shell's accounting slip must not take the server down.
        halfOpen = max(0, halfOpen - 1)
        acceptQueue += 1
    }

    /// A connection from `.open` left SYN-RECEIVED other than for ESTABLISHED.
    public mutating func halfOpenEnded() {
        halfOpen = max(0, halfOpen - 1)
    }

    /// The application accepted a connection.
    public mutating func connectionAccepted() {
        acceptQueue = max(0, acceptQueue - 1)
    }

    // MARK: - Segment arrival

    /// RFC 9293 3.10.7.2 in its order: RST, then ACK, then SYN. `receiveCapacity`: the size
    /// of the receive area the new connection will have (the listening socket's buffer
    /// size); pass the same value for a SYN and for the ACK of its cookie, since the cookie's
    /// connection assumes the window its SYN-ACK offered.
    public mutating func segmentArrived(_ seg: TCPSegment, tuple: (localAddress: UInt32, localPort: UInt16, remoteAddress: UInt32, remotePort: UInt16),
                                        receiveCapacity: Int, at now: UInt64) -> Decision {
        // "first check for an RST: An incoming RST should be ignored."
        if seg.rst { return drop(.reset) }
        if seg.syn && !seg.hasAck { counters.synsReceived += 1 }
        // "second check for an ACK: Any acknowledgment is bad if it arrives on a connection
        // still in the LISTEN state. An acceptable reset segment should be formed for any
        // arriving ACK-bearing segment. The RST should be formatted as follows:
        // <SEQ=SEG.ACK><CTL=RST>". Before that, an ACK without SYN may be our cookie coming
        // back. A SYN-ACK is no cookie's answer and is reset like any ACK (Linux too).
        if seg.hasAck {
            if !seg.syn, cookiesRecentlySent(now) {
                let handshake = SYNCookies.Handshake(localAddress: tuple.localAddress, localPort: tuple.localPort,
                                                     remoteAddress: tuple.remoteAddress, remotePort: tuple.remotePort,
                                                     remoteISN: seg.sequence - 1)
                if let mss = cookies.check(handshake, acknowledgment: seg.acknowledgment, now: now) {
                    if acceptQueueIsFull {
                        counters.acceptQueueOverflows += 1
                        return drop(.acceptQueueFull)
                    }
                    counters.cookiesAccepted += 1
                    acceptQueue += 1
                    return .established(TCPConnection(cookieAcknowledgment: seg, mss: Int(mss), configuration: configuration,
                                                      receiveCapacity: receiveCapacity, at: now))
                }
                counters.cookiesRejected += 1
            }
            counters.resetsSent += 1
            return .reply(OutgoingSegment(sequence: seg.acknowledgment, acknowledgment: SequenceNumber(0), flags: .rst, window: 0))
        }
        // "third check for a SYN".
        guard seg.syn else { return drop(.noSynOrAck) }
        if seg.fin { return drop(.synAndFin) }
        if acceptQueueIsFull {
            counters.acceptQueueOverflows += 1
            return drop(.acceptQueueFull)
        }
        if alwaysCookies || halfOpenQueueIsFull {
            // RFC 4987 3.6: answer without keeping state. The SYN-ACK offers only our MSS:
            // the cookie has no room to remember window scaling, SACK or timestamps, so
            // offering them would promise what the connection made from the ACK cannot keep
            // (and without our offer, RFC 7323 2.2 and RFC 2018 keep the peer from using
            // them). The window is unscaled; the cookie's connection assumes this same value.
            // Data on the SYN is not acknowledged (ACK = SEG.SEQ + 1): the peer sends it again.
            let handshake = SYNCookies.Handshake(localAddress: tuple.localAddress, localPort: tuple.localPort,
                                                 remoteAddress: tuple.remoteAddress, remotePort: tuple.remotePort,
                                                 remoteISN: seg.sequence)
            let iss = cookies.cookie(for: handshake, peerMSS: seg.options.maxSegmentSize ?? 536, now: now)
            var options = TCPOptions()
            options.maxSegmentSize = UInt16(configuration.announcedMSS)
            counters.cookiesSent += 1
            lastCookieSent = now
            return .reply(OutgoingSegment(sequence: iss, acknowledgment: seg.sequence + 1, flags: [.syn, .ack],
                                          window: TCPConnection.cookieWindow(receiveCapacity: receiveCapacity), options: options))
        }
        let iss = isn.isn(localAddress: tuple.localAddress, localPort: tuple.localPort,
                          remoteAddress: tuple.remoteAddress, remotePort: tuple.remotePort, now: now)
        // Cannot fail: the segment is a SYN without ACK or RST, which is all the
        // initializer asks.
        let connection = TCPConnection(accepting: seg, configuration: configuration, iss: iss, receiveCapacity: receiveCapacity, at: now)!
        halfOpen += 1
        return .open(connection)
    }

    func cookiesRecentlySent(_ now: UInt64) -> Bool {
        if alwaysCookies { return true }
        guard let last = lastCookieSent else { return false }
        // A cookie is honoured in its own period and the next (SYNCookies.check).
        return now / SYNCookies.period <= last / SYNCookies.period + 1
    }

    mutating func drop(_ reason: DropReason) -> Decision {
        counters.dropped[reason] += 1
        return .drop(reason)
    }
}
