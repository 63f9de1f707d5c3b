import NewsConfig
import NewsIPC
import NewsServer
import NewsSystem
import NewsTCP
import NewsTCPState
import NewsWire

extension TCPCore {
    // MARK: - Segments from ipserver

    func handle(_ message: Message, payload: UnsafeRawBufferPointer, from port: Int, ports: Ports) {
        guard port == ip else { counters.bump("dropped_unexpected_message"); return }
        switch MessageKind(rawValue: message.kind) {
        case .datagram?: input(payload, checksumVouched: message.offload.checksumValid, ports: ports)
        case .unreachable?: counters.bump("icmp_errors_in")  // RFC 5461: soft errors; TCP's timers decide
        default: counters.bump("dropped_unexpected_message")
        }
    }

    /// A TCP segment from ipserver. `checksumVouched`: the TAP's kernel said the checksum
    /// needs no check (a segment from this host; the field may hold only a partial sum).
    func input(_ packetBytes: UnsafeRawBufferPointer, checksumVouched: Bool = false, ports: Ports) {
        // ipserver's word is parsed again, not trusted.
        guard let packet = try? IPv4Packet(packetBytes, verifyChecksum: false), packet.protocol == .tcp else {
            counters.bump("dropped_bad_packet"); return
        }
        let view: TCPHeaderView
        do { view = try TCPHeaderView(packet.payload) } catch { counters.bump("dropped_bad_header"); return }
        if checksumVouched {
            counters.bump("checksums_offloaded")
        } else {
            guard view.verifyChecksum(src: packet.source, dst: packet.destination) else { counters.bump("dropped_bad_checksum"); return }
        }
        if view.payload.count > 1460 { counters.bump("coalesced_segments_in") }
        let options: TCPOptions
        do { options = try TCPOptions(parsing: view.options) } catch { counters.bump("dropped_bad_options"); return }
        // RFC 9293 3.9.2 / RFC 1122 4.2.3.10: no segment from a broadcast or multicast source
        // or to one; source port 0 is invalid.
        guard !packet.destination.isBroadcast, !packet.destination.isMulticast, !packet.source.isBroadcast,
              !packet.source.isMulticast, view.sourcePort != 0, view.destinationPort != 0 else {
            counters.bump("dropped_bad_address"); return
        }
        counters.bump("segments_in")
        let data = view.payload
        let seg = TCPSegment(sequence: SequenceNumber(view.sequenceNumber), acknowledgment: SequenceNumber(view.acknowledgmentNumber),
                             flags: view.flags, window: view.window, urgentPointer: view.urgentPointer, options: options,
                             payloadLength: data.count)
        let t = FourTuple(localAddress: packet.destination.value, localPort: view.destinationPort,
                          remoteAddress: packet.source.value, remotePort: view.sourcePort)
        let now = Clock.nanos()
        switch table.lookup(t) {
        case .connection(let id)?:
            deliver(seg, data, to: id, ports: ports, at: now)
        case .timeWait(let id)?:
            // RFC 6191: a new SYN may end TIME-WAIT when it is clearly of a new incarnation.
            let c = timeWaits[id]?.connection ?? sockets[id]?.connection
            if let c, c.timeWaitAccepts(seg), let l = listenerFor(t) {
                counters.bump("time_wait_reused")
                if let s = sockets[id] { finish(s) } else { forgetTimeWait(id) }
                toListener(seg, data, tuple: t, listener: l, ports: ports, at: now)
            } else if var tw = timeWaits[id] {
                // Retransmitted FINs are acknowledged again, anything else answered as TIME-WAIT does.
                let before = tw.connection.counters
                _ = tw.connection.segmentArrived(seg, buffers: StreamBuffers(), at: now)
                transmit(&tw.connection, tuple: tw.tuple, socket: nil, buffers: StreamBuffers(), at: now, ports: ports)
                account(before, tw.connection.counters)
                if tw.connection.state == .closed { forgetTimeWait(id) } else { parkTimeWait(id, tuple: tw.tuple, tw.connection) }
            } else {
                deliver(seg, data, to: id, ports: ports, at: now)
            }
        case .listener(let l)?:
            toListener(seg, data, tuple: t, listener: l, ports: ports, at: now)
        case nil:
            // RFC 9293 3.10.7.1: no connection, no listener: a RST for anything but a RST.
            counters.bump("segments_no_connection")
            if let r = ResetReply.to(seg) { output(r, tuple: t, from: nil, ports: ports) }
        }
    }

    func listenerFor(_ t: FourTuple) -> UInt32? {
        if case .listener(let l)? = table.lookup(FourTuple(localAddress: t.localAddress, localPort: t.localPort, remoteAddress: 0, remotePort: 0)) {
            return l
        }
        return nil
    }

    /// A segment for an established (or connecting, or closing) connection with a region.
    func deliver(_ seg: TCPSegment, _ data: UnsafeRawBufferPointer, to id: UInt32, ports: Ports, at now: UInt64) {
        guard let s = sockets[id], var c = s.connection else { counters.bump("segments_no_socket"); return }
        let b: StreamBuffers
        switch s.takeBuffers() {
        case .success(let v): b = v
        case .failure:
            // The application broke its stream; pump resets the connection.
            pump(s, at: now, ports: ports)
            return
        }
        let before = c.counters
        let arrival = c.segmentArrived(seg, buffers: b, at: now)
        place(arrival, data, in: s)
        s.connection = c
        let events = transmit(&c, tuple: s.tuple!, socket: s, buffers: b, at: now, ports: ports)
        s.connection = c
        account(before, c.counters)
        publish(arrival.events.union(events), s, at: now)
    }

    /// Copies the part of the payload the connection accepted into the receive area, at its
    /// final place, and makes what is now in order readable.
    func place(_ arrival: TCPArrival, _ data: UnsafeRawBufferPointer, in s: TCPSocketState) {
        if let p = arrival.placement {
            guard p.payloadOffset >= 0, p.length >= 0, p.payloadOffset <= data.count, p.length <= data.count - p.payloadOffset,
                  s.stream.place(UnsafeRawBufferPointer(rebasing: data[p.payloadOffset..<(p.payloadOffset + p.length)]), atStreamOffset: p.streamOffset) else {
                counters.bump("segments_placement_refused")
                return
            }
        }
        if arrival.receivedUpTo > s.stream.state.receiveTail {
            if !s.stream.advanceReceiveTail(to: arrival.receivedUpTo) { counters.bump("receive_tail_refused") }
        }
    }

    /// Adds what one connection counted between two looks at it to tcpserver's counters
    /// (`newsctl stats`): those counts about segments a peer sent that were refused or
    /// answered specially. The rest the shell counts itself, and a status page has room
    /// for 80 names only.
    func account(_ before: TCPConnectionCounters, _ after: TCPConnectionCounters) {
        guard before != after else { return }
        func add(_ name: String, _ old: Int, _ new: Int) { if new > old { counters.bump(name, UInt64(new - old)) } }
        add("challenge_acks_sent", before.challengeAcksSent, after.challengeAcksSent)
        add("paws_rejected", before.pawsRejected, after.pawsRejected)
        add("out_of_window", before.outOfWindow, after.outOfWindow)
        add("acks_of_unsent_data", before.acksOfUnsentData, after.acksOfUnsentData)
        add("resets_received", before.resetsReceived, after.resetsReceived)
        add("zero_window_probes", before.zeroWindowProbes, after.zeroWindowProbes)
        add("urgent_ignored", before.urgentIgnored, after.urgentIgnored)
    }

    // MARK: - Listeners

    func toListener(_ seg: TCPSegment, _ data: UnsafeRawBufferPointer, tuple t: FourTuple, listener l: UInt32, ports: Ports, at now: UInt64) {
        let capacity = StreamLayout.defaultReceiveSize
        if var h = halfOpen[t] {
            // The handshake's last ACK (or a retransmitted SYN) for a connection without a
            // region yet. A segment that would complete it needs a region: without a spare,
            // drop it (the peer sends it again), as Linux drops it when the accept queue is full.
            let completes = seg.hasAck && !seg.syn && !seg.rst
            if completes && (spares[h.listener]?.isEmpty ?? true) { counters.bump("accept_queue_full"); return }
            // Its data (if any) needs the region the connection gets once established: the
            // connection first sees the segment without it, then, attached, whole again.
            var control = seg
            if completes {
                control.payloadLength = 0
                control.flags.remove([.fin, .psh])
            }
            let before = h.connection.counters
            _ = h.connection.segmentArrived(control, buffers: StreamBuffers(receiveCapacity: capacity), at: now)
            defer { account(before, h.connection.counters) }
            if h.connection.isSynchronized {
                halfOpen[t] = nil
                listeners[h.listener]?.connectionEstablished()
                if let s = attach(h.connection, tuple: t, listener: h.listener, ports: ports) {
                    // Data or FIN on the ACK: once more, now with a region to put it in.
                    if seg.payloadLength > 0 || seg.fin { redeliver(seg, data, to: s, ports: ports, at: now) } else { pump(s, at: now, ports: ports) }
                }
            } else if h.connection.state == .closed {
                halfOpen[t] = nil
                listeners[h.listener]?.halfOpenEnded()
                transmit(&h.connection, tuple: t, socket: nil, buffers: StreamBuffers(receiveCapacity: capacity), at: now, ports: ports)
            } else {
                transmit(&h.connection, tuple: t, socket: nil, buffers: StreamBuffers(receiveCapacity: capacity), at: now, ports: ports)
                parkHalfOpen(t, listener: h.listener, h.connection)
            }
            return
        }
        guard var listener = listeners[l] else { counters.bump("segments_no_listener"); return }
        let decision = listener.segmentArrived(seg, tuple: (t.localAddress, t.localPort, t.remoteAddress, t.remotePort),
                                               receiveCapacity: capacity, at: now)
        listeners[l] = listener
        switch decision {
        case .open(var c):
            if let s = sockets[l] { s.configure(&c.configuration) }
            transmit(&c, tuple: t, socket: nil, buffers: StreamBuffers(receiveCapacity: capacity), at: now, ports: ports)
            parkHalfOpen(t, listener: l, c)
            counters.bump("syns_accepted")
        case .reply(let r):
            output(r, tuple: t, from: nil, ports: ports)
            if r.flags.contains(.syn) { counters.bump("syn_cookies_sent") }
        case .established(var c):
            guard !(spares[l]?.isEmpty ?? true) else { counters.bump("accept_queue_full"); return }
            if let s = sockets[l] { s.configure(&c.configuration) }
            counters.bump("syn_cookies_accepted")
            if let s = attach(c, tuple: t, listener: l, ports: ports) { redeliver(seg, data, to: s, ports: ports, at: now) }
        case .drop(let reason):
            counters.bump("listener_dropped_\(reason)")
        }
    }

    /// Gives an established connection from listener `l` a spare region and tells the
    /// application (the listener's control channel carries the new socket's id).
    func attach(_ c: TCPConnection, tuple t: FourTuple, listener l: UInt32, ports: Ports) -> TCPSocketState? {
        guard let id = spares[l]?.first, let s = sockets[id], let ls = sockets[l] else { counters.bump("accept_no_spare"); return nil }
        spares[l]?.removeFirst()
        if case .failure(let r) = table.accept(socket: id, listener: l, tuple: t) {
            counters.bump("accept_refused_\(r.errno)")
            return nil
        }
        s.role = .connection
        s.connection = c
        s.tuple = t
        s.noDelay = ls.noDelay
        s.keepAlive = ls.keepAlive
        s.header.set(local: t.localAddress, port: t.localPort)
        s.header.set(remote: t.remoteAddress, port: t.remotePort)
        // The accept queue is the listener's spares: newsd gives it at most 32 and one more
        // each time the application accepts, and without a spare a completing ACK is dropped
        // (above). tcpserver never learns when the application accepts (that is between it
        // and newsd), so the listener's own queue count is settled here.
        listeners[l]?.connectionAccepted()
        // The listener's control ring holds fewer notices than a listener has spares: what
        // does not fit waits here, in order, until the application drains the ring.
        notices[l, default: []].append(Message(kind: .socketAccepted, seq: 0, args: (UInt64(id), UInt64(t.remoteAddress), UInt64(t.remotePort), 0, 0, 0)))
        flushNotices(l)
        counters.bump("connections_accepted")
        return s
    }

    /// Posts waiting accept notices to listener `l`'s control ring, as many as fit.
    func flushNotices(_ l: UInt32) {
        guard var queue = notices[l], !queue.isEmpty else { return }
        guard let ls = sockets[l], !ls.controlBroken else { notices[l] = nil; return }
        do throws(ChannelError) {
            while let m = queue.first, try ls.control.send(m) { queue.removeFirst() }
        } catch {
            // The application scribbled its up ring's tail: its notices have nowhere to go
            // (nor would they be looked for again every millisecond).
            counters.bump("socket_ring_corrupt")
            log.warning("socket \(l): \(error); no more accept notices for it")
            ls.controlBroken = true
            notices[l] = nil
            return
        }
        notices[l] = queue.isEmpty ? nil : queue
    }

    func redeliver(_ seg: TCPSegment, _ data: UnsafeRawBufferPointer, to s: TCPSocketState, ports: Ports, at now: UInt64) {
        deliver(seg, data, to: s.id, ports: ports, at: now)
    }
}
