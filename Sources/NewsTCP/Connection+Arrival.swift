import NewsWire

/// RFC 9293 3.10.7, SEGMENT ARRIVES, in the order of its checks.
extension TCPConnection {
    /// One segment for this connection, with the application's stream state and the time.
    public mutating func segmentArrived(_ seg: TCPSegment, buffers b: StreamBuffers, at now: UInt64) -> TCPArrival {
        counters.segmentsReceived += 1
        var result = TCPArrival()
        switch phase {
        case .closed:
            // 3.10.7.1: CLOSED answers everything but a RST with a RST.
            if let r = ResetReply.to(seg) { queueReset(r) }
        case .synSent(let o):
            result.events = arriveInSynSent(seg, o, b, at: now)
            // "If there are other controls or text in the segment, then continue
            // processing at the sixth step below where the URG bit is checked" (RFC 9293
            // 3.10.7.3): data (and a FIN) in a SYN-ACK that established the connection.
            if case .established = phase, seg.payloadLength > 0 || seg.fin {
                var rest = seg
                rest.flags.remove(.syn)
                rest.sequence = seg.sequence + 1
                if rest.flags.contains(.urg) { counters.urgentIgnored += 1 }
                textArrived(rest, b, at: now, &result)
            }
        default:
            arriveSynchronized(seg, b, at: now, &result)
        }
        result.receivedUpTo = receivedOffset
        result.acknowledgedUpTo = acknowledgedOffset
        return result
    }

    // MARK: - SYN-SENT (3.10.7.3)

    mutating func arriveInSynSent(_ seg: TCPSegment, _ o: Opening, _ b: StreamBuffers, at now: UInt64) -> TCPEvents {
        // "If SEG.ACK =< ISS or SEG.ACK > SND.NXT, send a reset (unless the RST bit is set, if
        // so drop the segment and return)".
        if seg.hasAck && (seg.acknowledgment <= o.iss || seg.acknowledgment > o.iss + 1) {
            if !seg.rst { queueReset(OutgoingSegment(sequence: seg.acknowledgment, acknowledgment: SequenceNumber(0), flags: .rst, window: 0)) }
            return []
        }
        if seg.rst {
            // "If the ACK was acceptable, then signal to the user 'error: connection reset',
            // drop the segment, enter CLOSED state". RFC 5961 3.2 keeps this: in SYN-SENT
            // the RST is acceptable when it acknowledges the SYN. Without an ACK: drop.
            guard seg.hasAck else { return [] }
            counters.resetsReceived += 1
            return fail(.refused)
        }
        guard seg.syn else { return [] }
        irs = seg.sequence
        let agreed = NegotiatedOptions.agree(ours: o.offered, theirs: seg.options, configuration: configuration)
        options = agreed
        if agreed.timestamps, let ts = seg.options.timestamp {
            timestamps = TimestampState(offset: Self.timestampOffset(iss), recent: ts.value, at: now, lastAckSent: seg.sequence + 1)
        }
        lastReceived = now
        let receiving = Receiving(next: seg.sequence + 1, initialWindow: configuration.initialReceiveWindow, mss: agreed.receiverMSS,
                                  advertised: min(65_535, b.receiveCapacity))
        if seg.hasAck {
            // "If SND.UNA > ISS (our SYN has been ACKed), change the connection state to
            // ESTABLISHED, form an ACK segment <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> and send it."
            // RFC 7323 2.2: "The Window field in a SYN (i.e., a <SYN> or <SYN,ACK>) segment
            // itself is never scaled."
            let sending = Self.makeSending(una: o.iss + 1, window: Int(seg.window), wl1: seg.sequence, wl2: seg.acknowledgment,
                                           options: agreed, rto: handshakeEstimate(o, at: now), configuration: configuration)
            phase = .established(sending, receiving)
            acks.now = true
            return [.established, .writable]
        }
        // Simultaneous open: "Otherwise, enter SYN-RECEIVED, form a SYN,ACK segment
        // <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK> and send it." The SYN-ACK repeats our SYN's
        // options less those the peer's SYN did not offer: RFC 7323 2.2 and 3.2 allow WS
        // and TS in a <SYN,ACK> "only if it received" them "in the initial <SYN>", and
        // RFC 2018 2 sends SACK-permitted only in a SYN (so here only to a peer that
        // offered it). What was agreed above already excludes them.
        var again = o
        if !agreed.timestamps { again.offered.timestamp = nil }
        if seg.options.windowShift == nil { again.offered.windowShift = nil }
        if !agreed.selectiveAcknowledgments { again.offered.sackPermitted = false }
        again.timer.stop()
        phase = .synReceived(again, receiving)
        return []
    }

    /// The RTO estimate once a handshake completes: a sample from the SYN if it was never
    /// retransmitted (Karn), else RFC 6298 5.7's 3 s.
    func handshakeEstimate(_ o: Opening, at now: UInt64) -> RetransmissionTimeout {
        var rto = o.rto
        if o.retransmitted {
            rto.synTimedOutBeforeData()
        } else if let t = o.sentAt {
            rto.acknowledged(.segment(sentAt: t, retransmitted: false), at: now)
        }
        return rto
    }

    // MARK: - Synchronized states and SYN-RECEIVED (3.10.7.4)

    mutating func arriveSynchronized(_ seg: TCPSegment, _ b: StreamBuffers, at now: UInt64, _ result: inout TCPArrival) {
        if case .synReceived(var o, let r) = phase, seg.syn, !seg.rst, seg.sequence + 1 == r.next {
            if seg.hasAck, seg.acknowledgment == o.iss + 1 {
                // Simultaneous open, the peer's SYN-ACK: it acknowledges our SYN, which is
                // what this state waits for (RFC 9293 figure 8, line 4; Linux accepts it
                // the same way in tcp_validate_incoming).
                result.events = establish(from: o, r, by: seg, at: now)
                acks.now = true
            } else if !seg.hasAck {
                // The peer's SYN again: our SYN-ACK was lost. Send it again now.
                o.timer.stop()
                phase = .synReceived(o, r)
            }
            return
        }
        guard let view = receiveView else { return }
        // RFC 7323 5.3, PAWS, before the sequence check.
        if let ts = timestamps, ts.rejects(seg, at: now) {
            counters.pawsRejected += 1
            queueAck(rateLimited: true, at: now)
            return
        }
        // First: the sequence number.
        var seg = seg
        if view.window == 0, seg.sequence == view.next, seg.length > 0, !seg.syn {
            // "If the RCV.WND is zero, no segments will be acceptable, but special allowance
            // should be made to accept valid ACKs, URGs, and RSTs": the text is refused
            // (and our zero window said again), the rest is processed, so that a peer
            // probing our window still gets its acknowledgments of our data through.
            counters.outOfWindow += 1
            if !seg.rst { queueAck(rateLimited: true, at: now) }
            seg.payloadLength = 0
            seg.flags.remove(.fin)
        }
        guard SegmentAcceptance.isAcceptable(sequence: seg.sequence, length: seg.length, receive: view) else {
            counters.outOfWindow += 1
            // "If an incoming segment is not acceptable, an acknowledgment should be sent in
            // reply (unless the RST bit is set ...)". In TIME-WAIT a retransmitted FIN gets
            // this ACK and restarts the 2 MSL timeout.
            // A SYN is answered the same whatever its sequence number (RFC 5961 4.2:
            // "irrespective of the sequence number, TCP MUST send an ACK (also referred to
            // as challenge ACK)"), and counted as one, as Linux's tcp_validate_incoming does.
            if seg.syn && !seg.rst {
                queueChallengeAck(at: now)
            } else if !seg.rst {
                queueAck(rateLimited: true, at: now)
            }
            if case .timeWait(let f, let sent, _) = phase, seg.fin {
                phase = .timeWait(f, sent: sent, until: now &+ configuration.timeWait)
            }
            // RFC 2883 4: data wholly below RCV.NXT is a duplicate too, "the first SACK
            // block is used to report the sequence numbers of the received duplicate
            // segment" (Linux's tcp_send_dupack does the same). Nothing is stored.
            if !seg.rst, !seg.syn, seg.payloadLength > 0, options?.selectiveAcknowledgments == true, var r = receiving,
               seg.sequence < r.next {
                r.duplicateArrived(sequence: seg.sequence, length: seg.payloadLength)
                store(r)
            }
            return
        }
        // Second: RST (RFC 5961 3.2).
        if seg.rst {
            switch SegmentAcceptance.judgeReset(sequence: seg.sequence, receive: view) {
            case .reset:
                counters.resetsReceived += 1
                result.events = resetArrived()
            case .challenge:
                queueChallengeAck(at: now)
            case .drop:
                counters.outOfWindow += 1
            }
            return
        }
        // Fourth: SYN. RFC 5961 4.2: "the receiver MUST send an ACK (challenge ACK) to the
        // remote peer", whatever the sequence number, and drop the segment.
        if seg.syn {
            queueChallengeAck(at: now)
            return
        }
        // Fifth: "if the ACK bit is off, drop the segment and return".
        guard seg.hasAck else { return }
        if var ts = timestamps {
            ts.update(from: seg, at: now)
            timestamps = ts
        }
        lastReceived = now
        keepAliveProbes = 0
        if case .synReceived(let o, let r) = phase {
            // "If SND.UNA < SEG.ACK =< SND.NXT, then enter ESTABLISHED state and continue
            // processing ... If the segment acknowledgment is not acceptable, form a reset
            // segment <SEQ=SEG.ACK><CTL=RST> and send it."
            guard seg.acknowledgment == o.iss + 1 else {
                queueReset(OutgoingSegment(sequence: seg.acknowledgment, acknowledgment: SequenceNumber(0), flags: .rst, window: 0))
                return
            }
            result.events.formUnion(establish(from: o, r, by: seg, at: now))
        }
        guard acknowledgmentArrived(seg, at: now, &result.events) else { return }
        // Sixth: URG. NEWS keeps urgent data inline (RFC 6093 recommends applications not
        // use it); the pointer is counted and otherwise ignored.
        if seg.flags.contains(.urg) { counters.urgentIgnored += 1 }
        // Seventh and eighth: the segment text and FIN.
        textArrived(seg, b, at: now, &result)
    }

    /// SYN-RECEIVED to ESTABLISHED: "set SND.WND <- SEG.WND, set SND.WL1 <- SEG.SEQ, and set
    /// SND.WL2 <- SEG.ACK" (this ACK is not a SYN, so its window is scaled).
    mutating func establish(from o: Opening, _ r: Receiving, by seg: TCPSegment, at now: UInt64) -> TCPEvents {
        let agreed = options ?? NegotiatedOptions.agree(ours: o.offered, theirs: TCPOptions(), configuration: configuration)
        let window = seg.syn ? Int(seg.window) : Int(seg.window) << agreed.sendShift
        let sending = Self.makeSending(una: o.iss + 1, window: window, wl1: seg.sequence, wl2: seg.acknowledgment,
                                       options: agreed, rto: handshakeEstimate(o, at: now), configuration: configuration)
        phase = .established(sending, r)
        return [.established, .writable]
    }

    /// A RST with SEG.SEQ = RCV.NXT (RFC 9293 3.10.7.4, second check).
    mutating func resetArrived() -> TCPEvents {
        switch phase {
        case .synReceived(let o, _):
            // "If this connection was initiated with a passive OPEN ... return this
            // connection to LISTEN state": the listener never handed it out, so it just goes.
            if o.passive { close(); return [.closed] }
            return fail(.refused)
        case .established, .finWait1, .finWait2, .closeWait:
            return fail(.reset)
        default:
            // CLOSING, LAST-ACK, TIME-WAIT: "enter the CLOSED state".
            close()
            return [.closed]
        }
    }

    /// The fifth check for a state with a send half. Returns false when the segment is to
    /// be dropped (an ACK of unsent data, or one a blind attacker might have guessed).
    mutating func acknowledgmentArrived(_ seg: TCPSegment, at now: UInt64, _ events: inout TCPEvents) -> Bool {
        guard var s = sending, let agreed = options else { return true }
        switch SegmentAcceptance.judgeAck(seg.acknowledgment, send: .init(unacknowledged: s.una, next: s.next, maxWindow: s.maxWindow)) {
        case .future:
            counters.acksOfUnsentData += 1
            queueAck(rateLimited: true, at: now)
            return false
        case .challenge:
            queueChallengeAck(at: now)
            return false
        case .old:
            return true
        case .duplicate, .advances:
            break
        }
        s.unansweredProbes = 0
        let windowChanged = s.updateWindow(seg, shift: agreed.sendShift)
        let blocks = agreed.selectiveAcknowledgments ? seg.sackRanges : []
        let board = s.scoreboard.receiveAck(seg.acknowledgment, blocks: blocks)
        if seg.acknowledgment > s.una {
            let bytes = s.advance(to: seg.acknowledgment)
            counters.bytesAcknowledged += bytes
            if let t = s.timed, seg.acknowledgment >= t.end {
                s.rto.acknowledged(.segment(sentAt: t.at, retransmitted: false), at: now)
                s.timed = nil
            }
            // RFC 6298 5.2: "When all outstanding data has been acknowledged, turn off the
            // retransmission timer"; 5.3: "When an ACK is received that acknowledges new
            // data, restart the retransmission timer".
            if s.una == s.next { s.retransmitTimer.stop() } else { s.retransmitTimer.start(at: now, duration: s.rto.timeout) }
            s.persistProbes = 0
            let outcome = s.congestion.acknowledged(CongestionAck(bytes: max(bytes, 1), acknowledgment: seg.acknowledgment,
                                                                 flightSize: s.outstanding, smoothedRoundTrip: s.rto.smoothedRoundTrip, now: now))
            if case .partialAcknowledgment(let restart) = outcome {
                if !agreed.selectiveAcknowledgments { s.retransmitHead = true }
                if restart { s.retransmitTimer.start(at: now, duration: s.rto.timeout) }
            }
            s.duplicateAcks = 0
            if let from = s.resendFrom, from < s.una { s.resendFrom = s.una }
            if let end = s.resendEnd, s.una >= end { s.resendFrom = nil; s.resendEnd = nil }
            if let end = s.timeoutRecoveryEnd, s.una >= end { s.timeoutRecoveryEnd = nil }
            s.probeTimer = nil
            events.insert(.writable)
        } else if seg.payloadLength == 0, !seg.fin, s.outstanding > 0, !windowChanged {
            // RFC 5681 2's duplicate ACK.
            counters.duplicateAcksReceived += 1
            s.duplicateAcks += 1
            if s.congestion.isInRecovery {
                s.congestion.duplicateAcknowledged()
            } else if !agreed.selectiveAcknowledgments && s.duplicateAcks == SACKScoreboard.duplicateThreshold {
                enterRecovery(&s, at: now)
                s.retransmitHead = true
            }
        }
        let rack = s.rack.receiveAck(RACK.Acknowledgment(unacknowledged: s.una, sacked: s.scoreboard.sackedRanges, duplicate: board.duplicate,
                                                          inRecovery: s.scoreboard.inRecovery || s.congestion.isInRecovery,
                                                          exitedRecovery: board.recoveryEnded, smoothedRTT: s.rto.smoothedRoundTrip), at: now)
        s.rackTimer = rack.timerDeadline
        if rack.probe == .lossRepaired {
            // RFC 8985 7.4.2: a probe repaired a loss, so the congestion response is due.
            _ = s.congestion.lossDetected(CongestionLoss(flightSize: s.outstanding, unacknowledged: s.una, sendNext: s.next, now: now))
        }
        if !rack.newlyLost.isEmpty || (agreed.selectiveAcknowledgments && s.scoreboard.isLost(s.una)) {
            enterRecovery(&s, at: now)
        }
        store(s)
        guard s.finAcknowledged else { return true }
        switch phase {
        case .finWait1(_, let r):
            // "if the FIN segment is now acknowledged, then enter FIN-WAIT-2 and continue".
            acknowledgedAtClose = s.unaOffset
            retiredSender = RetiredSender(s)
            phase = .finWait2(r, sent: s.next)
            // An orphan's FIN-WAIT-2 timeout runs from here, as Linux's tcp_fin_timeout
            // does: time spent getting our FIN acknowledged must not eat the peer's time
            // to send its own.
            if orphanedAt != nil { orphanedAt = now }
        case .closing(_, let f):
            // "if the ACK acknowledges our FIN, then enter the TIME-WAIT state".
            acknowledgedAtClose = s.unaOffset
            retiredSender = RetiredSender(s)
            phase = .timeWait(f, sent: s.next, until: now &+ configuration.timeWait)
        case .lastAck:
            // "If our FIN is now acknowledged, delete the TCB, enter the CLOSED state".
            close()
            events.insert(.closed)
            return false
        default:
            break
        }
        return true
    }

    /// Loss found (RACK, the SACK scoreboard, or three duplicate ACKs): fast recovery.
    mutating func enterRecovery(_ s: inout Sending, at now: UInt64) {
        let loss = CongestionLoss(flightSize: s.outstanding, unacknowledged: s.una, sendNext: s.next, now: now)
        if s.congestion.lossDetected(loss) {
            counters.fastRecoveries += 1
            s.scoreboard.enterRecovery()
        }
    }

    /// The seventh and eighth checks: data and FIN, in ESTABLISHED, FIN-WAIT-1 and -2.
    mutating func textArrived(_ seg: TCPSegment, _ b: StreamBuffers, at now: UInt64, _ result: inout TCPArrival) {
        guard seg.payloadLength > 0 || seg.fin else { return }
        guard var r = receiving else {
            // CLOSE-WAIT, CLOSING, LAST-ACK, TIME-WAIT: "This should not occur, since a FIN
            // has been received from the remote side. Ignore the segment text" - but a
            // retransmitted FIN means our ACK was lost: acknowledge it again.
            acks.now = true
            if case .timeWait(let f, let sent, _) = phase, seg.fin {
                phase = .timeWait(f, sent: sent, until: now &+ configuration.timeWait)
            }
            return
        }
        let hadHoles = !r.reassembly.outOfOrder.isEmpty
        let (placement, arrival) = r.accept(sequence: seg.sequence, length: seg.payloadLength, fin: seg.fin)
        if let p = placement { result.placement = (p.payloadOffset, p.length, p.streamOffset) }
        counters.bytesReceived += arrival.deliverable
        r.tune(b, roundTrip: sending?.rto.smoothedRoundTrip, at: now)
        // RFC 5681 4.2: "Out-of-order data segments SHOULD be acknowledged immediately ...
        // an immediate ACK SHOULD be generated when a segment arrives that fills in all or
        // part of a gap"; otherwise "an ACK SHOULD be generated for at least every second
        // full-sized segment, and MUST be generated within 500 ms".
        if arrival.duplicate != nil || hadHoles || !r.reassembly.outOfOrder.isEmpty || arrival.finReached || arrival.stored == nil {
            acks.now = true
        } else {
            acks.unacknowledgedBytes += arrival.deliverable
            if acks.quickLeft > 0 {
                acks.quickLeft -= 1
                acks.now = true
            } else if acks.unacknowledgedBytes >= 2 * r.mss {
                acks.now = true
            } else if acks.deadline == nil {
                acks.deadline = now &+ configuration.delayedAck
                counters.delayedAcks += 1
            }
        }
        if arrival.deliverable > 0 { result.events.insert(.readable) }
        store(r)
        guard arrival.finReached else { return }
        // Eighth: "signal the user 'connection closing' ... advance RCV.NXT over the FIN
        // ... send an acknowledgment for the FIN".
        result.events.formUnion([.readable, .peerFinished])
        switch phase {
        case .established(let s, let r):
            phase = .closeWait(s, r.finished)
        case .finWait1(let s, let r):
            // "If our FIN has been ACKed ... enter TIME-WAIT ... otherwise, enter the CLOSING
            // state" (acknowledged already moved us to FIN-WAIT-2).
            phase = .closing(s, r.finished)
        case .finWait2(let r, let sent):
            phase = .timeWait(r.finished, sent: sent, until: now &+ configuration.timeWait)
        default:
            break
        }
    }

    // MARK: - Replies decided on arrival

    mutating func queueReset(_ r: OutgoingSegment) {
        pending.append(r)
        counters.resetsSent += 1
    }

    /// An ACK now: "<SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>". Those answering segments that
    /// are not acceptable share the challenge ACK budget (RFC 5961 7), so that a flood of
    /// bad segments cannot make us flood the peer.
    mutating func queueAck(rateLimited: Bool, at now: UInt64) {
        if rateLimited && !challengeAllowed(at: now) { return }
        acks.now = true
    }

    /// RFC 5961 7: "An implementation SHOULD include a ACK throttling mechanism".
    mutating func queueChallengeAck(at now: UInt64) {
        guard challengeAllowed(at: now) else { return }
        counters.challengeAcksSent += 1
        acks.now = true
    }

    mutating func challengeAllowed(at now: UInt64) -> Bool {
        let second = now / 1_000_000_000
        if challengeWindow.second != second { challengeWindow = (second, 0) }
        guard challengeWindow.count < configuration.challengeAcksPerSecond else {
            counters.challengeAcksSuppressed += 1
            return false
        }
        challengeWindow.count += 1
        return true
    }
}
