import NewsConfig
import NewsIPC
import NewsServer
import NewsSystem
import NewsTCP
import NewsTCPState
import NewsWire

extension TCPCore {
    // MARK: - Requests on a socket's control channel

    /// Serves what the application queued on its control channel; true if there was any.
    func serveControl(_ s: TCPSocketState, ports: Ports) -> Bool {
        guard s.controlWaiting else { return false }
        let n: Int
        do throws(ChannelError) {
            n = try s.control.receive(max: 8) { m, _ in request(m, from: s, ports: ports) }
        } catch {
            counters.bump("socket_ring_corrupt")
            s.controlBroken = true
            log.warning("socket \(s.id): \(error); resetting it")
            fail(s, errno: Errno.invalid, ports: ports)
            return false
        }
        return n > 0
    }

    func request(_ m: Message, from s: TCPSocketState, ports: Ports) {
        let number = UInt32(truncatingIfNeeded: m.seq)
        switch MessageKind(rawValue: m.kind) {
        case .socketBind?:
            guard case .fresh = s.role else { s.header.answer(number, result: -Errno.invalid); return }
            guard m.arg.0 == 0 || m.arg.0 == UInt64(address.value), let port = UInt16(exactly: m.arg.1) else {
                s.header.answer(number, result: -Errno.addressNotAvailable); return
            }
            s.reuseAddress = m.arg.2 & 1 != 0
            switch table.bind(socket: s.id, address: UInt32(m.arg.0), port: port, reuseAddress: s.reuseAddress, uid: s.uid) {
            case .success(let p):
                s.role = .bound
                s.header.set(local: m.arg.0 == 0 ? 0 : address.value, port: p)
                s.header.answer(number, result: 0)
            case .failure(let r):
                s.header.answer(number, result: -r.errno)
            }
        case .socketListen?:
            switch s.role {
            case .fresh:
                guard case .success(let p) = table.bind(socket: s.id, address: 0, port: 0, reuseAddress: s.reuseAddress, uid: s.uid) else {
                    s.header.answer(number, result: -Errno.addressInUse); return
                }
                s.header.set(local: 0, port: p)
            case .bound:
                break
            case .listening:
                s.header.answer(number, result: 0); return  // Linux: listen again changes the backlog only
            default:
                s.header.answer(number, result: -Errno.invalid); return
            }
            if case .failure(let r) = table.listen(socket: s.id) { s.header.answer(number, result: -r.errno); return }
            s.role = .listening
            let backlog = Int(clamping: min(m.arg.0, 4096))
            listeners[s.id] = makeListener(backlog: backlog)
            save(listener: s, backlog: backlog)
            s.stream.set(tcpState: TCPState.listen.ordinal)
            s.header.answer(number, result: 0)
            counters.bump("listens")
        case .socketConnect?:
            connect(s, m, number: number, ports: ports)
        case .socketOption?:
            s.header.answer(number, result: option(s, m.arg.0, m.arg.1))
        default:
            counters.bump("socket_bad_request")
        }
    }

    func connect(_ s: TCPSocketState, _ m: Message, number: UInt32, ports: Ports) {
        switch s.role {
        case .fresh, .bound: break
        case .connection: s.header.answer(number, result: -(s.connection?.state == .synSent ? Errno.alreadyInProgress : Errno.isConnected)); return
        default: s.header.answer(number, result: -Errno.invalid); return
        }
        guard let dst = UInt32(exactly: m.arg.0), dst != 0, let port = UInt16(exactly: m.arg.1), port != 0 else {
            s.header.answer(number, result: -Errno.invalid); return
        }
        let result = table.connect(socket: s.id, localAddress: address.value, remoteAddress: dst, remotePort: port,
                                   reuseAddress: s.reuseAddress, reuseTimeWait: false)
        let taken: ConnectionTable.Connection
        switch result {
        case .success(let c): taken = c
        case .failure(let r): s.header.answer(number, result: -r.errno); return
        }
        if let old = taken.displaced {
            if let o = sockets[old] { release(o) } else { forgetTimeWait(old) }
        }
        let t = taken.tuple
        let now = Clock.nanos()
        var c = base
        s.configure(&c)
        let iss = isn.isn(localAddress: t.localAddress, localPort: t.localPort, remoteAddress: t.remoteAddress, remotePort: t.remotePort, now: now)
        s.connection = TCPConnection(connecting: c, iss: iss, receiveCapacity: s.stream.geometry.receiveSize, at: now)
        s.tuple = t
        s.role = .connection
        s.header.set(local: t.localAddress, port: t.localPort)
        s.header.set(remote: t.remoteAddress, port: t.remotePort)
        s.header.answer(number, result: 0)
        counters.bump("connects")
        pump(s, at: now, ports: ports)
    }

    /// SOL_SOCKET / IPPROTO_TCP options (docs/TCP-SOCKETS.md); 0 or -errno.
    func option(_ s: TCPSocketState, _ name: UInt64, _ value: UInt64) -> Int32 {
        guard let o = SocketOption(rawValue: name) else { return -Errno.noProtocolOption }
        let seconds = min(value, 32_767)
        switch o {
        case .noDelay: s.noDelay = value != 0
        case .keepAlive: s.keepAlive = value != 0
        case .keepIdle: guard seconds > 0 else { return -Errno.invalid }; s.keepIdle = seconds * 1_000_000_000
        case .keepInterval: guard seconds > 0 else { return -Errno.invalid }; s.keepInterval = seconds * 1_000_000_000
        case .keepCount: guard (1...127).contains(value) else { return -Errno.invalid }; s.keepCount = Int(value)
        case .linger: s.linger = value == UInt64.max ? nil : seconds
        }
        if var c = s.connection {
            s.configure(&c.configuration)
            s.connection = c
            dirty.insert(s.id)
        }
        return 0
    }

    // MARK: - Running a connection

    /// Gives a connection the application's latest indices, sends what it has to send, and
    /// publishes what changed to the region.
    func pump(_ s: TCPSocketState, at now: UInt64, ports: Ports) {
        guard var c = s.connection, let t = s.tuple else { return }
        let b: StreamBuffers
        switch s.takeBuffers() {
        case .success(let v): b = v
        case .failure(let v):
            counters.bump("stream_violations")
            log.warning("socket \(s.id): \(v); resetting the connection")
            c.abort()
            s.connection = c
            transmit(&c, tuple: t, socket: s, buffers: StreamBuffers(sendTail: s.stream.state.sendAcked, receiveHead: s.stream.state.receiveTail,
                                                                   receiveCapacity: s.stream.geometry.receiveSize), at: now, ports: ports)
            s.connection = c
            s.stream.setReset(errno: Errno.protocolError)
            finish(s)
            return
        }
        let before = c.counters
        let events = transmit(&c, tuple: t, socket: s, buffers: b, at: now, ports: ports)
        s.connection = c
        account(before, c.counters)
        publish(events, s, at: now)
    }

    /// Runs `transmit` until the connection has nothing more now, sending every segment.
    @discardableResult
    func transmit(_ c: inout TCPConnection, tuple: FourTuple, socket s: TCPSocketState?, buffers b: StreamBuffers, at now: UInt64, ports: Ports) -> TCPEvents {
        var events = TCPEvents()
        var rounds = 0
        repeat {
            scratch.removeAll(keepingCapacity: true)
            events.formUnion(c.transmit(buffers: b, at: now, limit: 64, into: &scratch))
            for seg in scratch { output(seg, tuple: tuple, from: s, ports: ports) }
            rounds += 1
        } while scratch.count >= 64 && rounds < 16
        return events
    }

    /// What changed, told to the application through its region.
    func publish(_ events: TCPEvents, _ s: TCPSocketState, at now: UInt64) {
        guard let c = s.connection else { return }
        if c.acknowledgedOffset > s.stream.state.sendAcked { s.stream.release(sendUpTo: c.acknowledgedOffset) }
        if events.contains(.established) || (c.isSynchronized && !s.stream.state.flags.contains(.established)) {
            s.stream.setEstablished()
            s.header.set(state: .connected)
        }
        if c.peerFinished && !s.stream.state.flags.contains(.peerFinished) {
            if c.receivedOffset > s.stream.state.receiveTail { s.stream.advanceReceiveTail(to: c.receivedOffset) }
            s.stream.setPeerFinished()
        }
        if let f = c.failure, !s.stream.state.flags.contains(.reset) {
            s.stream.setReset(errno: f.errno)
            counters.bump("connections_failed_\(f.errno == 104 ? "reset" : f.errno == 111 ? "refused" : "timed_out")")
        }
        publishInfo(c, s)
        if c.state != s.lastState {
            if c.state == .timeWait { _ = table.enterTimeWait(socket: s.id) }
            s.stream.set(tcpState: c.state.ordinal)
            s.lastState = c.state
            save(s, at: now, force: true)
        } else if now &- s.lastSaved > Self.saveInterval {
            save(s, at: now, force: false)
        } else {
            // Saved a moment ago: this change goes into the record when the interval is over
            // (tick), so the record of a connection that went quiet (what `newsctl ss` shows,
            // and where a restarted tcpserver aims its RST) is never more than that behind.
            unsaved.insert(s.id)
        }
        if c.state == .closed { finish(s) } else if c.state == .timeWait && s.applicationClosed { retire(s) }
    }

    /// TCP_INFO for the application (`news_tcp_info`, `TCPSocket.info`): eleven stores.
    func publishInfo(_ c: TCPConnection, _ s: TCPSocketState) {
        let i = c.info
        var out = StreamInfo()
        out.rttMicros = UInt32(clamping: (i.smoothedRoundTrip ?? 0) / 1000)
        out.rttVarianceMicros = UInt32(clamping: i.roundTripVariation / 1000)
        out.rtoMicros = UInt32(clamping: i.retransmissionTimeout / 1000)
        out.sendCongestionWindow = UInt32(clamping: i.congestionWindow)
        out.sendSlowStartThreshold = UInt32(clamping: i.slowStartThreshold)
        out.sendMSS = UInt32(clamping: i.sendMSS)
        out.receiveMSS = UInt32(clamping: i.receiveMSS)
        out.totalRetransmissions = UInt32(clamping: i.retransmits)
        out.unacknowledged = UInt32(clamping: i.unacknowledged)
        out.sendWindow = UInt32(clamping: i.sendWindow)
        out.receiveWindow = UInt32(clamping: i.receiveWindow)
        s.stream.publish(info: out)
    }

    /// The connection is over. The region goes once the application has let go of it too.
    func finish(_ s: TCPSocketState) {
        s.stream.setSendClosed()
        table.remove(socket: s.id)
        store?.remove(socket: s.id)
        if s.applicationClosed {
            release(s)
        } else {
            s.connection = nil
            s.role = .bound
            s.tuple = nil
            s.header.set(state: .closed)
        }
    }

    /// Resets a socket's connection from our side (its application broke the protocol).
    func fail(_ s: TCPSocketState, errno: Int32, ports: Ports) {
        if var c = s.connection, let t = s.tuple {
            c.abort()
            transmit(&c, tuple: t, socket: s, buffers: StreamBuffers(receiveCapacity: s.stream.geometry.receiveSize), at: Clock.nanos(), ports: ports)
            s.connection = c
        }
        s.stream.setReset(errno: errno)
        if s.connection != nil { finish(s) }
    }

    // MARK: - Segments out

    /// Builds the IP packet for `seg` (payload copied from the socket's send area straight
    /// into the packet) and hands it to ipserver. With offloads the TCP checksum is left
    /// partial for the device to finish, and a segment longer than one MSS asks the device
    /// to cut it (TSO).
    func output(_ seg: OutgoingSegment, tuple t: FourTuple, from s: TCPSocketState?, ports: Ports) {
        let options = seg.options == TCPOptions() ? nil : seg.options
        let tcpHeaderLength = TCPHeader.headerLength(options: options)
        let ipHeaderLength = IPv4Packet.minHeaderLength
        let at = ipHeaderLength + tcpHeaderLength
        guard seg.payloadLength >= 0, at + seg.payloadLength <= 65_535 else { counters.bump("segments_too_big"); return }
        var m = Message(kind: .datagram, seq: 0)
        if offloads {
            var o = PacketOffload()
            o.checksumPartial = true
            o.checksumStart = UInt16(ipHeaderLength)
            o.checksumOffset = 16
            if seg.segmentSize > 0 && seg.payloadLength > seg.segmentSize {
                o.segmentSize = UInt16(clamping: seg.segmentSize)
                o.headerLength = UInt8(at)
            }
            m.offload = o
        }
        var failure: String?
        // The packet is built in the channel's slot itself: the payload is copied once, from
        // the send area into the slot ipserver reads.
        let sent = ports.send(ip, m) { packet in
            guard at + seg.payloadLength <= packet.count else { failure = "segments_too_big"; return nil }
            if seg.payloadLength > 0 {
                guard let s, s.stream.copyOut(streamOffset: seg.payloadOffset, count: seg.payloadLength,
                                              into: UnsafeMutableRawBufferPointer(rebasing: packet[at..<(at + seg.payloadLength)])) else {
                    failure = "segments_payload_unavailable"
                    return nil
                }
            }
            let header = TCPHeader(sourcePort: t.localPort, destinationPort: t.remotePort, sequenceNumber: seg.sequence.rawValue,
                                   acknowledgmentNumber: seg.acknowledgment.rawValue, flags: seg.flags, window: seg.window)
            let tcpLength = tcpHeaderLength + seg.payloadLength
            let ipHeader = IPv4Header(source: address, destination: IPv4Address(t.remoteAddress), protocol: .tcp, payloadLength: tcpLength)
            let h = ipHeader.emit(into: packet)
            let n = header.emit(into: UnsafeMutableRawBufferPointer(rebasing: packet[h...]), options: options, payloadInPlace: seg.payloadLength,
                                src: address, dst: IPv4Address(t.remoteAddress), partialChecksum: offloads)
            guard h == ipHeaderLength, n == tcpLength else { failure = "segments_too_big"; return nil }
            return h + n
        }
        if sent {
            counters.bump("segments_out")
            if seg.payloadLength > 0 { counters.bump("payload_bytes_copied_out", UInt64(seg.payloadLength)) }
            if m.offload.segmentSize > 0 {
                counters.bump("tso_segments_out")
                counters.bump("wire_segments_out", UInt64((seg.payloadLength + seg.segmentSize - 1) / seg.segmentSize))
            } else {
                counters.bump("wire_segments_out")
            }
            if seg.isRetransmission { counters.bump("segments_retransmitted") }
            if seg.flags.contains(.rst) { counters.bump("resets_out") }
        } else if let failure {
            counters.bump(failure)
        } else {
            // Like a loss on the wire: the connection's timers send it again.
            counters.bump("segments_out_ip_full")
        }
    }

    // MARK: - Control blocks in the state region

    func save(_ s: TCPSocketState, at now: UInt64, force: Bool) {
        unsaved.remove(s.id)
        guard let store, let r = controlBlockRecord(s) else { return }
        s.lastSaved = now
        if !store.save(r) { counters.bump("control_block_store_full") }
    }

    /// What the state region keeps of a socket's connection (nil without one).
    func controlBlockRecord(_ s: TCPSocketState) -> ControlBlockRecord? {
        guard let c = s.connection, let t = s.tuple else { return nil }
        let b = c.controlBlock
        var r = ControlBlockRecord(socket: s.id, uid: s.uid, state: RecordedState(b.state), tuple: t)
        r.iss = b.iss; r.irs = b.irs; r.sndUna = b.sendUnacknowledged; r.sndNxt = b.sendNext
        r.sndWnd = UInt32(clamping: b.sendWindow); r.sndWl1 = b.sendWL1; r.sndWl2 = b.sendWL2
        r.rcvNxt = b.receiveNext; r.rcvWnd = UInt32(clamping: b.receiveWindow)
        if let o = b.options {
            r.sendWindowShift = UInt8(o.sendShift); r.receiveWindowShift = UInt8(o.receiveShift)
            r.sendMSS = UInt16(clamping: o.sendMSS); r.receiveMSS = UInt16(clamping: o.receiveMSS)
            if o.timestamps { r.options.insert(.timestamps) }
            if o.selectiveAcknowledgments { r.options.insert(.sack) }
            if o.sendShift > 0 || o.receiveShift > 0 { r.options.insert(.windowScaling) }
        }
        r.timestampOffset = b.timestampOffset; r.tsRecent = b.timestampRecent; r.tsRecentTime = b.timestampRecentAt
        r.srtt = b.smoothedRoundTrip; r.rttvar = b.roundTripVariation; r.rto = b.retransmissionTimeout
        r.cwnd = UInt64(b.congestionWindow); r.ssthresh = UInt64(clamping: b.slowStartThreshold)
        let st = s.stream.state
        r.sendAcked = st.sendAcked; r.sendTailSeen = st.sendTail; r.receiveTail = st.receiveTail; r.receiveHeadSeen = st.receiveHead
        r.retransmissionDeadline = b.retransmissionDeadline; r.persistDeadline = b.persistDeadline
        r.keepAliveDeadline = b.keepAliveDeadline; r.delayedAckDeadline = b.delayedAckDeadline
        r.timeWaitDeadline = b.timeWaitDeadline; r.retransmissions = UInt16(clamping: b.retransmissions)
        return r
    }

    func save(listener s: TCPSocketState, backlog: Int) {
        guard let store, let e = table.entry(of: s.id) else { return }
        var r = ControlBlockRecord(socket: s.id, uid: s.uid, state: .listen,
                                   tuple: FourTuple(localAddress: e.localAddress, localPort: e.localPort, remoteAddress: 0, remotePort: 0))
        r.rcvWnd = UInt32(backlog)  // a listener has no window: the backlog travels in its place
        if !store.save(r) { counters.bump("control_block_store_full") }
    }
}

extension TCPState {
    /// The number the socket header shows (RFC 9293's order).
    var ordinal: UInt32 { UInt32(TCPState.allCases.firstIndex(of: self) ?? 0) }
}

extension RecordedState {
    init(_ s: TCPState) {
        switch s {
        case .closed: self = .closed
        case .listen: self = .listen
        case .synSent: self = .synSent
        case .synReceived: self = .synReceived
        case .established: self = .established
        case .finWait1: self = .finWait1
        case .finWait2: self = .finWait2
        case .closeWait: self = .closeWait
        case .closing: self = .closing
        case .lastAck: self = .lastAck
        case .timeWait: self = .timeWait
        }
    }
}
