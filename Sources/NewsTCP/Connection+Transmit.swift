import NewsWire

/// What leaves: the handshake, data and FIN (new, and again after loss), probes, ACKs.
extension TCPConnection {
    /// Everything due at `now`, at most `limit` segments (the shell calls again when it has
    /// room). Call it after every arrival, after the application wrote, read or closed, and
    /// when `nextDeadline` passes.
    public mutating func transmit(buffers b: StreamBuffers, at now: UInt64, limit: Int = 64, into out: inout [OutgoingSegment]) -> TCPEvents {
        let start = out.count
        defer { counters.segmentsSent += out.count - start }
        out.append(contentsOf: pending)
        pending.removeAll()
        switch phase {
        case .closed:
            return []
        case .synSent(var o):
            guard let events = handshakeTimer(&o, synchronizing: true, at: now) else { return [] }
            if !events.isEmpty { return events }
            o.offered.timestamp = o.offered.timestamp.map { _ in (TimestampState(offset: Self.timestampOffset(iss), recent: 0, at: now, lastAckSent: iss).value(at: now), 0) }
            out.append(OutgoingSegment(sequence: o.iss, acknowledgment: SequenceNumber(0), flags: .syn,
                                       window: UInt16(min(65_535, b.receiveCapacity)), options: o.offered))
            phase = .synSent(o)
            return []
        case .synReceived(var o, var r):
            guard let events = handshakeTimer(&o, synchronizing: true, at: now) else {
                // An ACK decided on arrival (a segment outside the window, a challenge):
                // RFC 9293 3.10.7.4 "<SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>", SND.NXT being
                // ISS+1 here. Left undone it would keep `nextDeadline` at 0 (a spin).
                if acks.now { out.append(control(flags: .ack, sequence: o.iss + 1, b, at: now)) }
                return []
            }
            if !events.isEmpty { return events }
            // RFC 7323 2.2: the SYN-ACK's window is not scaled.
            let window = min(65_535, r.advertise(b, limit: 65_535))
            var offered = o.offered
            if let ts = timestamps { offered.timestamp = ts.option(at: now) }
            out.append(OutgoingSegment(sequence: o.iss, acknowledgment: r.next, flags: [.syn, .ack], window: UInt16(window), options: offered))
            acks = AckPolicy(quickLeft: acks.quickLeft)
            phase = .synReceived(o, r)
            return []
        default:
            return transmitSynchronized(b, at: now, limit: limit, &out)
        }
    }

    /// The SYN's (or SYN-ACK's) timer. Nil: nothing to send yet. Empty: send (again).
    /// Otherwise the events of giving up (RFC 9293 3.8.3, R2 for a SYN).
    mutating func handshakeTimer(_ o: inout Opening, synchronizing: Bool, at now: UInt64) -> TCPEvents? {
        guard o.timer.isRunning else {
            o.sentAt = o.sentAt ?? now
            o.timer.start(at: now, duration: o.rto.timeout)
            return []
        }
        guard o.timer.hasExpired(at: now) else { return nil }
        if configuration.limits.verdict(expiries: o.rto.consecutiveBackoffs + 1, synchronizing: synchronizing) == .abort {
            if o.passive { close(); return [.closed] }
            return fail(.timedOut)
        }
        o.rto.backOff()
        o.retransmitted = true
        counters.synRetransmits += 1
        o.timer.start(at: now, duration: o.rto.timeout)
        return []
    }

    mutating func transmitSynchronized(_ b: StreamBuffers, at now: UInt64, limit: Int, _ out: inout [OutgoingSegment]) -> TCPEvents {
        switch phase {
        case .timeWait(_, _, let until) where now >= until:
            close()
            return [.closed]
        case .finWait2 where orphanedAt.map { now >= $0 &+ configuration.timeWait } ?? false:
            close()
            return [.closed]
        default:
            break
        }
        let before = out.count
        if var s = sending {
            if let failed = sendData(&s, b, at: now, limit: limit, &out) { return failed }
            store(s)
            // Our FIN went out: "enter FIN-WAIT-1" (from ESTABLISHED) or "LAST-ACK" (from
            // CLOSE-WAIT), RFC 9293 3.10.4.
            if s.finSequence != nil {
                switch phase {
                case .established(let s, let r): phase = .finWait1(s, r)
                case .closeWait(let s, let f): phase = .lastAck(s, f)
                default: break
                }
            }
            if let failed = keepAlive(&s, b, at: now, &out) { return failed }
            store(s)
        }
        let ackDue = acks.now || (acks.deadline.map { now >= $0 } ?? false)
        var update = false
        if let r = receiving {
            // Tell a peer stopped by our window that it opened (Linux's rule: the window at
            // least doubled, and by a segment or more).
            let gain = r.windowGain(b)
            update = gain >= r.mss && gain >= r.window
        }
        if out.count == before, ackDue || update {
            if update && !ackDue { counters.windowUpdates += 1 }
            out.append(control(flags: .ack, sequence: sendNext, b, at: now))
        }
        return []
    }

    /// A segment carrying no new sequence space but our ACK, window and options.
    mutating func control(flags: TCPFlags, sequence: SequenceNumber, _ b: StreamBuffers, at now: UInt64) -> OutgoingSegment {
        var seg = OutgoingSegment(sequence: sequence, acknowledgment: SequenceNumber(0), flags: flags, window: 0)
        fillAcknowledgment(&seg, b, at: now)
        return seg
    }

    /// Every segment of a synchronized connection acknowledges: ACK = RCV.NXT, our window
    /// (scaled), the timestamps, and SACK blocks while data is held out of order.
    mutating func fillAcknowledgment(_ seg: inout OutgoingSegment, _ b: StreamBuffers, at now: UInt64) {
        let shift = options?.receiveShift ?? 0
        var window = 0
        var next = receiveView?.next ?? SequenceNumber(0)
        if var r = receiving {
            window = r.advertise(b)
            next = r.next
            if options?.selectiveAcknowledgments == true {
                let blocks = r.sackBlocks(maximumCount: options?.sackBlockLimit ?? 3)
                seg.options.sackBlocks = blocks.map { TCPOptions.SACKBlock(left: $0.start.rawValue, right: $0.end.rawValue) }
            }
            store(r)
        } else if let v = receiveView {
            window = v.window
        }
        seg.flags.insert(.ack)
        seg.acknowledgment = next
        seg.window = UInt16(min(65_535, window >> shift))
        if var ts = timestamps {
            seg.options.timestamp = ts.option(at: now)
            ts.lastAckSent = next
            timestamps = ts
        }
        acks.now = false
        acks.deadline = nil
        acks.unacknowledgedBytes = 0
    }

    // MARK: - Data, FIN and loss recovery

    /// Returns the events of a failure (R2 reached), or nil.
    mutating func sendData(_ s: inout Sending, _ b: StreamBuffers, at now: UInt64, limit: Int, _ out: inout [OutgoingSegment]) -> TCPEvents? {
        guard let agreed = options else { return nil }
        let smss = agreed.senderMSS
        var force = false
        // RFC 6298 5.4-5.7: the retransmission timer expired.
        if s.retransmitTimer.hasExpired(at: now) {
            if configuration.limits.verdict(expiries: s.rto.consecutiveBackoffs + 1, synchronizing: false) == .abort {
                return fail(.timedOut)
            }
            counters.retransmissionTimeouts += 1
            s.congestion.retransmissionTimedOut(CongestionLoss(flightSize: s.outstanding, unacknowledged: s.una, sendNext: s.next, now: now))
            s.scoreboard.retransmissionTimeout()
            _ = s.rack.retransmissionTimeout(at: now)
            s.rto.backOff()
            // Go back to SND.UNA (RFC 5681 3.1 after a timeout: slow start from the first
            // unacknowledged segment).
            s.resendFrom = s.una
            s.resendEnd = s.next
            s.timeoutRecoveryEnd = s.next
            s.timed = nil
            s.probeTimer = nil
            s.rackTimer = nil
            s.retransmitHead = false
            s.duplicateAcks = 0
            s.retransmitTimer.stop()
            force = true
        }
        // RFC 8985 6.3: the RACK reordering timer.
        if let t = s.rackTimer, now >= t {
            let o = s.rack.timerExpired(at: now)
            s.rackTimer = o.timerDeadline
            if !o.newlyLost.isEmpty { enterRecovery(&s, at: now) }
        }
        var probeDue = false
        if let t = s.probeTimer, now >= t {
            s.probeTimer = nil
            probeDue = true
        }
        // RFC 9293 3.8.6.1: a zero window is probed, with exponential backoff. The probe is
        // Linux's: an ACK with SEQ = SND.UNA - 1, which the peer must answer with its window.
        if s.persistTimer.hasExpired(at: now) {
            s.persistTimer.stop()
            s.persistProbes += 1
            // RFC 9293 3.8.6.1 (MUST-26): "as long as the receiving TCP continues to send
            // acknowledgments in response to the probe segments, the sending TCP MUST allow
            // the connection to stay open". Only probes nobody answered count towards R2.
            s.unansweredProbes += 1
            if s.unansweredProbes > configuration.limits.abortDataAfter { return fail(.timedOut) }
            counters.zeroWindowProbes += 1
            out.append(control(flags: .ack, sequence: s.una - 1, b, at: now))
        }
        let first = out.count
        while out.count - first < limit {
            guard let pick = nextTransmission(&s, b, smss: smss, force: &force, probe: &probeDue, at: now) else { break }
            emit(pick.range, retransmission: pick.retransmission, &s, b, at: now, &out)
            if pick.probe {
                s.rack.probeSent(pick.range, at: now)
                counters.tailLossProbes += 1
                s.retransmitTimer.start(at: now, duration: s.rto.timeout)
            }
        }
        armTimers(&s, b, at: now)
        return nil
    }

    /// What to send next, in order: an RTO's go-back-N, a fast retransmit of SND.UNA, RACK's
    /// lost segments, RFC 6675's NextSeg during recovery, a tail loss probe, new data (with
    /// Nagle and sender SWS avoidance), a FIN.
    mutating func nextTransmission(_ s: inout Sending, _ b: StreamBuffers, smss: Int, force: inout Bool, probe: inout Bool, at now: UInt64)
        -> (range: SequenceRange, retransmission: Bool, probe: Bool)? {
        let room = s.congestion.window - flight(s)
        let newAvailable = max(0, min(s.unsent(b), s.windowRoom))
        if s.outstanding > 0 { s.overrideAt = nil }
        if let from = s.resendFrom, let end = s.resendEnd {
            if from < end {
                guard room >= smss || force else { return nil }
                force = false
                let range = SequenceRange(start: from, end: earlier(end, from + smss))
                s.resendFrom = range.end
                return (range, true, false)
            }
            s.resendFrom = nil
            s.resendEnd = nil
        }
        if s.retransmitHead, s.outstanding > 0 {
            s.retransmitHead = false
            return (SequenceRange(start: s.una, end: earlier(s.next, s.una + smss)), true, false)
        }
        if room > 0, let lost = s.rack.lostRanges.first(where: { $0.end > s.una }) {
            let start = later(lost.start, s.una)
            return (SequenceRange(start: start, end: earlier(lost.end, start + smss)), true, false)
        }
        if s.scoreboard.inRecovery, room >= smss {
            switch s.scoreboard.nextSegment(newDataAvailable: newAvailable) {
            case .retransmitLost(let r)?, .retransmitUnSACKed(let r)?:
                return (r, true, false)
            case .newData?, nil:
                break
            }
        }
        if probe {
            probe = false
            if let r = s.rack.probeSegment(newDataAvailable: newAvailable, maximumSegmentSize: smss) {
                return (r, r.start < s.next, true)
            }
        }
        if let r = newData(&s, b, smss: smss, room: room, at: now) { return (r, false, false) }
        // The FIN alone, once everything written has been sent (RFC 9293 3.10.4).
        if b.sendShutdown, s.finSequence == nil, s.unsent(b) == 0 {
            return (SequenceRange(start: s.next, length: 1), false, false)
        }
        return nil
    }

    /// RFC 9293 3.8.6.2.1 (sender SWS avoidance) and 3.7.4 (Nagle): send when "a maximum-
    /// sized segment can be sent", or all queued data with nothing unacknowledged (or
    /// TCP_NODELAY), or "at least a fraction Fs of the maximum window", or the override
    /// timer expired.
    mutating func newData(_ s: inout Sending, _ b: StreamBuffers, smss: Int, room: Int, at now: UInt64) -> SequenceRange? {
        let unsent = s.unsent(b)
        guard unsent > 0 else { s.overrideAt = nil; return nil }
        let usable = min(s.windowRoom, room)
        // Held by the window, not by SWS avoidance: the ACK that opens it brings us back.
        guard usable > 0 else { s.overrideAt = nil; return nil }
        // RFC 5681 4.1: after an idle period longer than the RTO, restart from the initial window.
        if s.outstanding == 0, s.lastSent != 0, now &- s.lastSent > s.rto.timeout { s.congestion.restartAfterIdle() }
        // With segmentation offload, a send may cover many MSS at once: the link cuts it.
        let burst = configuration.segmentationOffload ? max(smss, configuration.offloadedSegmentBytes) : smss
        let length = min(unsent, usable, burst)
        let idle = configuration.noDelay || s.outstanding == 0
        let override = s.overrideAt.map { now >= $0 } ?? false
        guard length >= smss || (length == unsent && idle) || (length >= s.maxWindow / 2 && idle) || override else {
            // With data in flight its ACK brings us back here; the override timer is for a
            // sender that would otherwise wait on nothing.
            if length < unsent, s.outstanding == 0 {
                if s.overrideAt == nil { s.overrideAt = now &+ configuration.sendOverride }
            } else {
                s.overrideAt = nil
            }
            return nil
        }
        s.overrideAt = nil
        return SequenceRange(start: s.next, length: length)
    }

    /// Bytes in flight for the window check: RFC 6675's pipe with SACK, less what RACK
    /// marked lost (not in the network any more, not yet sent again); after an RTO, only
    /// what was sent since.
    func flight(_ s: Sending) -> Int {
        if let from = s.resendFrom, let end = s.resendEnd { return max(0, (from - s.una) + (s.next - end)) }
        var lostBytes = 0
        for r in s.rack.lostRanges where !s.scoreboard.isLost(r.start) { lostBytes += r.length }
        return max(0, s.scoreboard.pipe - lostBytes)
    }

    /// Puts `range` on the wire: its data from the send stream, the FIN if it covers it.
    mutating func emit(_ range: SequenceRange, retransmission: Bool, _ s: inout Sending, _ b: StreamBuffers, at now: UInt64,
                       _ out: inout [OutgoingSegment]) {
        let finAt = s.finSequence ?? (b.sendShutdown ? s.dataEnd(b) : nil)
        var dataEnd = range.end
        var fin = false
        if let f = finAt, range.end > f { dataEnd = f; fin = true }
        if let f = finAt, range.end == f, !retransmission, b.sendShutdown, s.finSequence == nil {
            fin = true  // the last data carries the FIN
        }
        var seg = OutgoingSegment(sequence: range.start, acknowledgment: SequenceNumber(0), flags: [], window: 0,
                                  payloadOffset: s.offset(of: range.start), payloadLength: max(0, dataEnd - range.start),
                                  isRetransmission: retransmission)
        fillAcknowledgment(&seg, b, at: now)
        // Options take room from the data (RFC 9293 3.7.1): shorten it to fit the MSS. An
        // offloaded segment is cut by the link into such segments, each with these options:
        // it holds a whole number of them (the last may be short) up to the offload limit.
        let wirePayload = max(1, (options?.sendMSS ?? 536) - seg.options.emittedLength)
        var maxPayload = wirePayload
        if configuration.segmentationOffload, !retransmission, seg.payloadLength > wirePayload {
            let limit = max(wirePayload, configuration.offloadedSegmentBytes - seg.options.emittedLength)
            var n = min(seg.payloadLength, limit)
            // Only the last of the written data may end in a short piece: elsewhere a short
            // wire segment would sit in the middle of the stream.
            if range.start + n != s.dataEnd(b) { n = max(wirePayload, n / wirePayload * wirePayload) }
            maxPayload = n
        }
        if seg.payloadLength > maxPayload {
            seg.payloadLength = maxPayload
            fin = false
            dataEnd = range.start + maxPayload
        }
        if seg.payloadLength > wirePayload { seg.segmentSize = wirePayload }
        if fin { seg.flags.insert(.fin) }
        if seg.payloadLength > 0 && dataEnd == s.dataEnd(b) { seg.flags.insert(.psh) }
        let sent = SequenceRange(start: range.start, end: dataEnd + (fin ? 1 : 0))
        if fin && s.finSequence == nil { s.finSequence = dataEnd }
        if sent.end > s.next { s.next = sent.end }
        s.scoreboard.sent(sent)
        s.rack.sent(sent, at: now)
        if retransmission {
            counters.segmentsRetransmitted += 1
            counters.bytesRetransmitted += seg.payloadLength
            if let t = s.timed, sent.contains(t.end - 1) { s.timed = nil }  // Karn
        } else {
            counters.bytesSent += seg.payloadLength
            if s.timed == nil { s.timed = (sent.end, now) }
        }
        s.lastSent = now
        // RFC 6298 5.1: "Every time a packet containing data is sent (including a
        // retransmission), if the timer is not running, start it running".
        if !s.retransmitTimer.isRunning { s.retransmitTimer.start(at: now, duration: s.rto.timeout) }
        out.append(seg)
    }

    mutating func armTimers(_ s: inout Sending, _ b: StreamBuffers, at now: UInt64) {
        // The zero-window persist timer runs while data waits on a closed window and
        // nothing is in flight to bring a window update back.
        if s.window == 0 && s.unsent(b) > 0 && s.outstanding == 0 {
            if !s.persistTimer.isRunning {
                let backoff = min(s.persistProbes, 20)
                let interval = min(configuration.maximumProbeInterval, s.rto.timeout << UInt64(backoff))
                s.persistTimer.start(at: now, duration: max(interval, configuration.retransmission.minimumTimeout))
            }
        } else {
            s.persistTimer.stop()
        }
        // RFC 8985 7.2: "A sender should schedule a PTO only if all of the following
        // conditions are met: 1. The connection supports SACK. 2. The connection has no
        // SACKed sequences in the SACK scoreboard. 3. The connection is not in loss
        // recovery." After an RTO the connection is in loss recovery until SND.UNA passes
        // what was outstanding then; a probe there would undercut the backed-off timer.
        let probeAllowed = options?.selectiveAcknowledgments == true && s.scoreboard.sackedRanges.isEmpty && s.timeoutRecoveryEnd == nil
        if !probeAllowed { s.probeTimer = nil }
        if probeAllowed, s.outstanding > 0, s.probeTimer == nil, s.resendFrom == nil {
            s.probeTimer = s.rack.probeDeadline(at: now, smoothedRTT: s.rto.smoothedRoundTrip,
                                                retransmissionDeadline: s.retransmitTimer.deadline ?? UInt64.max,
                                                inRecovery: s.scoreboard.inRecovery || s.congestion.isInRecovery)
        }
    }

    /// RFC 9293 3.8.4: keep-alive probes "SEG.SEQ = SND.NXT-1" with no data, after the idle
    /// time, then at intervals; the connection fails when enough go unanswered.
    mutating func keepAlive(_ s: inout Sending, _ b: StreamBuffers, at now: UInt64, _ out: inout [OutgoingSegment]) -> TCPEvents? {
        guard let due = keepAliveDeadline(s), now >= due else { return nil }
        if keepAliveProbes >= configuration.keepAliveProbes { return fail(.timedOut) }
        keepAliveProbes += 1
        counters.keepAlivesSent += 1
        out.append(control(flags: .ack, sequence: s.next - 1, b, at: now))
        return nil
    }
}

