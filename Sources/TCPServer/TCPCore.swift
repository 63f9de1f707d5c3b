import Logging
import NewsConfig
import NewsIPC
import NewsServer
import NewsSystem
import NewsTCP
import NewsTCPState
import NewsWire

/// tcpserver: the process shell around NewsTCP. It owns the sockets newsd hands it (stream
/// regions, docs/TCP-SOCKETS.md), demultiplexes segments from ipserver to connections
/// (NewsTCPState's ConnectionTable), copies payloads between frames and the socket areas,
/// and runs each connection's timers. Every protocol decision is NewsTCP's.
final class TCPCore: ServerCore {
    let ip: Int
    let address: IPv4Address
    let control: Int32
    let log: Logger
    let counters: NamedCounters
    let base: TCPConfiguration
    var table: ConnectionTable
    let isn: InitialSequenceNumbers
    let cookies: SYNCookies
    let store: ControlBlockStore?
    var sockets: [UInt32: TCPSocketState] = [:]
    var kicks: [Int32: UInt32] = [:]
    var listeners: [UInt32: TCPListener] = [:]
    /// Connections in SYN-RECEIVED, which have no region yet: by 4-tuple, with their listener.
    var halfOpen: [FourTuple: (listener: UInt32, connection: TCPConnection)] = [:]
    /// Spare regions newsd gave each listener for its next connections.
    var spares: [UInt32: [UInt32]] = [:]
    /// Connections in TIME-WAIT whose application has let go: a TIME-WAIT connection sends
    /// and receives no data, so it gives its region back and lives on here, by socket id.
    var timeWaits: [UInt32: (tuple: FourTuple, connection: TCPConnection)] = [:]
    /// The deadlines of the TIME-WAIT and half-open connections above: a pass looks at the
    /// ones that are due, not at all of them (thousands, under a connection-per-request load).
    var timeWaitTimers = DeadlineHeap<UInt32>()
    var halfOpenTimers = DeadlineHeap<FourTuple>()
    /// The next number for a TIME-WAIT connection that gave its region back to a pool
    /// (`retire`): from the upper half, which newsd never hands out, so it never meets a
    /// socket's number.
    var nextTimeWaitID = TCPCore.firstPrivateID
    static let firstPrivateID: UInt32 = 0x8000_0000
    /// The number of each sleep, told to applications with the kick lines (`KickLedger`).
    /// It starts anywhere, so a restarted tcpserver's numbers do not meet its predecessor's.
    var kickGeneration = UInt32.random(in: UInt32.min...UInt32.max)
    /// Accept notices waiting for room in their listener's control ring.
    var notices: [UInt32: [Message]] = [:]
    /// Control blocks found after a restart: their connections are reset when newsd hands
    /// their sockets over again (or after the grace period); listeners listen again.
    var restored: [UInt32: ControlBlockRecord] = [:]
    let restoredUntil: UInt64
    /// This incarnation follows a crash: the regions newsd hands over carry what the last
    /// one published, and are taken over from there.
    let isRestart: Bool
    static let restoreGrace: UInt64 = 5_000_000_000
    /// Connections with something to do on the next pass (an arrival, an application move).
    var dirty: Set<UInt32> = []
    /// Connections whose control block is behind what they published: a record is written
    /// at most every `saveInterval` while a connection is busy, and once more after that.
    var unsaved: Set<UInt32> = []
    static let saveInterval: UInt64 = 100_000_000
    var nextWake: UInt64?
    var scratch: [OutgoingSegment] = []
    /// Whether the link below takes partial checksums and TSO segments (newsd's
    /// `nic.offloads`): then the device, not tcpserver, sums the payload, and new data leaves
    /// in segments of up to 64 KB.
    let offloads: Bool

    init(_ context: ServerContext) throws {
        guard let ip = context.ports.index(of: "tcp-ip") else { throw LaunchArguments.Invalid(description: "tcpserver needs tcp-ip") }
        self.ip = ip
        let p = context.args.params
        do { address = try IPv4Interface.parse(p["ip.address"] ?? "").address } catch {
            throw LaunchArguments.Invalid(description: "tcpserver: bad ip.address \(error)")
        }
        var c = TCPConfiguration()
        if let m = p["ip.mtu"] {
            guard let v = Int(m), (576...9000).contains(v) else { throw LaunchArguments.Invalid(description: "tcpserver: bad ip.mtu \(m)") }
            c.mtu = v
        }
        if let a = p["tcp.congestion"] {
            guard let alg = CongestionAlgorithm(configName: a) else { throw LaunchArguments.Invalid(description: "tcpserver: bad tcp.congestion \(a)") }
            c.congestion.algorithm = alg
        }
        if let t = p["tcp.time_wait_s"] {
            guard let v = UInt64(t), (1...240).contains(v) else { throw LaunchArguments.Invalid(description: "tcpserver: bad tcp.time_wait_s \(t)") }
            c.timeWait = v * 1_000_000_000
        }
        if let t = p["tcp.delayed_ack_ms"] {
            guard let v = UInt64(t), (1...500).contains(v) else { throw LaunchArguments.Invalid(description: "tcpserver: bad tcp.delayed_ack_ms \(t)") }
            c.delayedAck = v * 1_000_000
        }
        offloads = p["nic.offloads"] == "1"
        c.segmentationOffload = offloads
        base = c
        control = context.args.deviceFD
        log = context.log
        counters = NamedCounters(context)
        // The keyed-hash secret (RFC 6528) lives in the state region, so a restarted server
        // keeps choosing ISNs from the same function: a new incarnation of a 4-tuple still
        // gets an ISN beyond the old one's.
        let secret = StateSecret.load(context.state, fresh: !context.isRestart)
        isn = InitialSequenceNumbers(secret: secret.isn)
        cookies = SYNCookies(secret: secret.cookies)
        table = ConnectionTable(secret: secret.ports)
        store = context.state.flatMap { ControlBlockStore(region: StateSecret.blockRegion($0)) }
        restoredUntil = Clock.nanos() &+ Self.restoreGrace
        isRestart = context.isRestart
        if let store {
            if context.isRestart {
                let r = store.restore()
                restored = r.records
                if r.damaged > 0 { counters.bump("control_blocks_damaged", UInt64(r.damaged)) }
                log.info("restart: \(r.records.count) control blocks in the state region")
            } else {
                store.reset()
            }
        }
    }

    var descriptors: [Int32] { control >= 0 ? [control] : [] }
    var sleepDescriptors: [Int32] { Array(kicks.keys) }
    var wakeAt: UInt64? { nextWake }

    /// Work the loop must not sleep through: only what a pass would take. An application that
    /// moves indices of a socket without a connection, or writes a ring of a socket it closed,
    /// must not keep us awake (those words are read only when they mean something).
    var pendingInput: Bool {
        !dirty.isEmpty || sockets.values.contains { $0.controlWaiting || $0.appMoved || $0.releasePending }
    }

    func willSleep() {
        kickGeneration &+= 1
        for s in sockets.values { s.header.armKick(generation: kickGeneration) }
    }
    func didWake() { for s in sockets.values { s.header.disarmKick() } }

    // MARK: - Sockets from newsd

    func descriptorReady(_ fd: Int32, ports: Ports) -> Bool {
        if fd != control {
            if let id = kicks[fd] {
                counters.bump("socket_kicks", UInt64(UnixSocket.drainKicks(fd)))
                dirty.insert(id)
            }
            return false
        }
        let handoffs = SocketHandoff.receiveAll(control)
        for h in handoffs {
            switch h {
            case let .open(id, uid, region, kick): adopt(id: id, uid: uid, region: region, kick: kick, spareOf: nil, ports: ports)
            case let .spare(l, id, uid, region, kick): adopt(id: id, uid: uid, region: region, kick: kick, spareOf: l, ports: ports)
            case let .close(id): applicationClosed(id, ports: ports)
            case let .accepted(id): sockets[id]?.pool = nil  // the application's own now: its release bit means nothing
            case .malformed: counters.bump("control_malformed")
            }
        }
        return !handoffs.isEmpty
    }

    func adopt(id: UInt32, uid: UInt32, region: Int32, kick: Int32, spareOf listener: UInt32?, ports: Ports) {
        guard id != 0, sockets[id] == nil else {
            FD.close(region); FD.close(kick)
            if id == 0 { counters.bump("control_malformed") }
            return
        }
        let s: TCPSocketState
        do { s = try TCPSocketState(id: id, uid: uid, fd: region, kick: kick, recovering: isRestart) } catch {
            FD.close(region); FD.close(kick)
            log.warning("socket \(id): \(error)")
            counters.bump("socket_region_invalid")
            return
        }
        sockets[id] = s
        kicks[kick] = id
        counters.bump("sockets_opened")
        // A spare belongs to its listener's pool: the application may hold it (libnews maps
        // the pool in advance), and when it releases it the region comes back.
        s.pool = listener
        if let r = restored.removeValue(forKey: id) {
            readopt(s, r, ports: ports)
            // A spare that carried a connection before the restart has its reset published:
            // it can hold no new connection until its application releases it.
            if listener != nil { s.role = .bound }
            return
        }
        if isRestart, s.stream.state.flags.contains(.established), s.stream.state.flags.isDisjoint(with: [.reset, .sendClosed]) {
            // A live connection whose control block did not make it (the store was full):
            // it cannot continue either, and its application must not wait for it forever.
            s.stream.setReset(errno: 104)
            counters.bump("connections_reset_without_record")
            if listener != nil { s.role = .bound }
            return
        }
        if let listener {
            if isRestart && !s.stream.looksUnused {
                // It carried a connection our predecessor finished, or one the application
                // has released: it is the application's (or already on its way back) until
                // it says so by releasing it.
                s.role = .bound
                counters.bump("pool_regions_held_after_restart")
                return
            }
            s.role = .spare(of: listener)
            spares[listener, default: []].append(id)
        }
    }

    /// A socket we held before a restart. A listener listens again on its port; a
    /// connection cannot continue (its sequence state was not kept exactly), so the
    /// application hears ECONNRESET and the peer gets a RST.
    func readopt(_ s: TCPSocketState, _ r: ControlBlockRecord, ports: Ports) {
        guard r.uid == s.uid else { store?.remove(socket: s.id); counters.bump("control_blocks_refused"); return }
        switch r.state {
        case .listen:
            if case .success = table.bind(socket: s.id, address: r.tuple.localAddress, port: r.tuple.localPort, reuseAddress: true, uid: s.uid),
               case .success = table.listen(socket: s.id) {
                s.role = .listening
                listeners[s.id] = makeListener(backlog: Int(r.rcvWnd))
                counters.bump("listeners_readopted")
            } else {
                s.stream.setReset(errno: Errno.addressInUse)
                store?.remove(socket: s.id)
            }
        default:
            // RFC 9293 3.10.5-style abort: <SEQ=SND.NXT><CTL=RST>. If SND.NXT moved since
            // the record was written, the peer's challenge ACK comes back to a 4-tuple we
            // do not know, and that is answered with a RST at exactly its ACK number.
            let rst = OutgoingSegment(sequence: r.sndNxt, acknowledgment: SequenceNumber(0), flags: .rst, window: 0)
            output(rst, tuple: r.tuple, from: nil, ports: ports)
            // A record is up to `saveInterval` behind, and a peer ignores a RST outside its
            // window without a word (RFC 5961 3.2): one with nothing to send would then wait
            // forever. A segment just below any window it may have makes it answer with an
            // ACK carrying its RCV.NXT (RFC 9293 3.10.7.4), and that ACK, for a connection
            // we no longer know, is answered with a RST at exactly that number.
            let probe = OutgoingSegment(sequence: r.sndUna - 1, acknowledgment: r.rcvNxt, flags: .ack, window: 0)
            output(probe, tuple: r.tuple, from: nil, ports: ports)
            s.stream.setReset(errno: 104)
            store?.remove(socket: s.id)
            counters.bump("connections_reset_by_restart")
        }
    }

    func makeListener(backlog: Int) -> TCPListener {
        TCPListener(backlog: max(1, min(backlog, TCPListener.maximumBacklog)), halfOpenLimit: 256, configuration: base, isn: isn, cookies: cookies)
    }

    /// newsd's `close`: the application let go of the socket, and newsd of its region. A
    /// pooled region newsd closes does not go back to the pool; if the application had
    /// released it already, its connection just finishes.
    func applicationClosed(_ id: UInt32, ports: Ports) {
        restored[id] = nil
        guard let s = sockets[id] else { return }
        s.pool = nil
        if s.applicationClosed { return }
        close(s, ports: ports)
    }

    /// The application closed a socket: by newsd's `close`, or (a pooled one) by releasing
    /// it in its region.
    func close(_ s: TCPSocketState, ports: Ports) {
        let id = s.id
        switch s.role {
        case .connection:
            guard var c = s.connection else { release(s); return }
            // What the application wrote and read up to its close counts: take its indices
            // a last time (a violation now only means it is reset, which it asked for).
            let violated = s.takeBuffers().isFailure
            s.applicationClosed = true
            // Linux: closing a socket with unread data, or with SO_LINGER 0, aborts it.
            let unread = violated || s.stream.state.receiveTail > s.stream.state.receiveHead
            if unread || s.linger == 0 || !c.isSynchronized && c.state != .synReceived {
                c.abort()
                counters.bump(unread ? "closed_with_unread_data" : "closed_by_abort")
            } else {
                c.applicationClosed(at: Clock.nanos())
            }
            s.connection = c
            pump(s, at: Clock.nanos(), ports: ports)
        case .listening:
            listeners[id] = nil
            notices[id] = nil
            // Its pool is newsd's again: the application's connections from it go on as
            // sockets of their own, and newsd closes the rest.
            for p in sockets.values where p.pool == id { p.pool = nil }
            for (t, h) in halfOpen where h.listener == id { halfOpen[t] = nil }
            release(s)
        case .spare(let l):
            spares[l]?.removeAll { $0 == id }
            release(s)
        case .fresh, .bound:
            release(s)
        }
    }

    /// A TIME-WAIT connection whose application has closed: its region goes back now, the
    /// connection (and its 4-tuple in the table) stays for the rest of TIME-WAIT.
    func retire(_ s: TCPSocketState) {
        guard let c = s.connection, let t = s.tuple, c.state == .timeWait, s.applicationClosed else { return }
        if let l = poolListener(of: s) {
            // The region goes back to the pool now and serves the next connection under its
            // number; TIME-WAIT lives on under a number of its own (table, record, timer).
            let tw = freshTimeWaitID()
            let record = controlBlockRecord(s)
            table.rename(socket: s.id, to: tw)
            store?.remove(socket: s.id)
            if let store, var r = record {
                r.socket = tw
                if !store.save(r) { counters.bump("control_block_store_full") }
            }
            parkTimeWait(tw, tuple: t, c)
            counters.bump("time_waits_without_region")
            recycle(s, into: l)
            return
        }
        parkTimeWait(s.id, tuple: t, c)
        // Its control block stays until TIME-WAIT ends: `newsctl ss` shows it, as ss does.
        sockets[s.id] = nil
        kicks[s.kick] = nil
        dirty.remove(s.id)
        s.header.set(state: .closed)
        s.release()
        counters.bump("sockets_closed")
        counters.bump("time_waits_without_region")
    }

    /// Stores a TIME-WAIT connection and the deadline it waits for.
    func parkTimeWait(_ id: UInt32, tuple t: FourTuple, _ c: TCPConnection) {
        timeWaits[id] = (t, c)
        if let d = c.nextDeadline { timeWaitTimers.push(d, id) }
    }

    /// Stores a half-open connection and the deadline it waits for.
    func parkHalfOpen(_ t: FourTuple, listener: UInt32, _ c: TCPConnection) {
        halfOpen[t] = (listener, c)
        if let d = c.nextDeadline { halfOpenTimers.push(d, t) }
    }

    func forgetTimeWait(_ id: UInt32) {
        timeWaits[id] = nil
        table.remove(socket: id)
        store?.remove(socket: id)
    }

    /// A TIME-WAIT number no connection, record or socket uses.
    func freshTimeWaitID() -> UInt32 {
        func advance() { nextTimeWaitID = nextTimeWaitID == UInt32.max ? Self.firstPrivateID : nextTimeWaitID + 1 }
        while timeWaits[nextTimeWaitID] != nil || table.entry(of: nextTimeWaitID) != nil || restored[nextTimeWaitID] != nil
                || sockets[nextTimeWaitID] != nil {
            advance()
        }
        defer { advance() }
        return nextTimeWaitID
    }

    /// The listener whose pool takes `s` back when it is done with: only while that
    /// listener listens.
    func poolListener(of s: TCPSocketState) -> UInt32? {
        guard let l = s.pool, let ls = sockets[l], case .listening = ls.role else { return nil }
        return l
    }

    /// A pooled region whose connection is over and whose application released it: laid
    /// out afresh and one of listener `l`'s spares again, for the same application's next
    /// connection (the pool is the listener's owner's). Nothing of the old connection stays.
    func recycle(_ s: TCPSocketState, into l: UInt32) {
        table.remove(socket: s.id)
        store?.remove(socket: s.id)
        dirty.remove(s.id)
        unsaved.remove(s.id)
        let fresh: TCPSocketState
        do { fresh = try TCPSocketState(recycling: s) } catch {
            log.warning("socket \(s.id): \(error); not reused")
            counters.bump("pool_regions_spoiled")
            s.pool = nil
            release(s)
            return
        }
        fresh.role = .spare(of: l)
        sockets[s.id] = fresh
        spares[l, default: []].append(s.id)
        counters.bump("pool_regions_recycled")
    }

    /// Forgets a socket for good (a pooled one goes back to its pool instead).
    func release(_ s: TCPSocketState) {
        if let l = poolListener(of: s) { recycle(s, into: l); return }
        table.remove(socket: s.id)
        store?.remove(socket: s.id)
        sockets[s.id] = nil
        kicks[s.kick] = nil
        dirty.remove(s.id)
        unsaved.remove(s.id)
        s.header.set(state: .closed)
        s.release()
        counters.bump("sockets_closed")
    }

    // MARK: - The loop's pass

    func tick(now: UInt64, ports: Ports) -> Bool {
        if !restored.isEmpty, now > restoredUntil {
            for id in restored.keys { store?.remove(socket: id) }
            counters.bump("control_blocks_expired", UInt64(restored.count))
            restored = [:]
        }
        var worked = false
        for s in Array(sockets.values) {
            if s.releasePending { close(s, ports: ports); worked = true; continue }
            if serveControl(s, ports: ports) { worked = true }
        }
        for l in Array(notices.keys) { flushNotices(l) }
        var wake: UInt64?
        for s in Array(sockets.values) where s.connection != nil {
            let due = s.connection!.nextDeadline.map { $0 <= now } ?? false
            if due || dirty.contains(s.id) || s.appMoved {
                pump(s, at: now, ports: ports)
                worked = true
            }
            if let d = sockets[s.id]?.connection?.nextDeadline { wake = min(wake ?? d, d) }
        }
        dirty.removeAll()
        // Only the parked connections whose timer is due; an entry whose connection is gone
        // or whose timer moved since it was pushed is stale and passed over.
        while let (_, id) = timeWaitTimers.popDue(now) {
            guard var tw = timeWaits[id], let d = tw.connection.nextDeadline, d <= now else { continue }
            transmit(&tw.connection, tuple: tw.tuple, socket: nil, buffers: StreamBuffers(), at: now, ports: ports)
            worked = true
            if tw.connection.state == .closed { forgetTimeWait(id) } else { parkTimeWait(id, tuple: tw.tuple, tw.connection) }
        }
        if let d = timeWaitTimers.earliest { wake = min(wake ?? d, d) }
        for id in Array(unsaved) {
            guard let s = sockets[id] else { unsaved.remove(id); continue }
            let due = s.lastSaved &+ Self.saveInterval
            if now >= due { save(s, at: now, force: false) } else { wake = min(wake ?? due, due) }
        }
        // Half-open connections retransmit their SYN-ACKs and time out on their own.
        while let (_, t) = halfOpenTimers.popDue(now) {
            guard var h = halfOpen[t], let d = h.connection.nextDeadline, d <= now else { continue }
            transmit(&h.connection, tuple: t, socket: nil, buffers: StreamBuffers(receiveCapacity: StreamLayout.defaultReceiveSize), at: now, ports: ports)
            worked = true
            if h.connection.state == .closed {
                halfOpen[t] = nil
                listeners[h.listener]?.halfOpenEnded()
            } else {
                parkHalfOpen(t, listener: h.listener, h.connection)
            }
        }
        if let d = halfOpenTimers.earliest { wake = min(wake ?? d, d) }
        // Nothing tells us when an application takes notices off a full ring: look again soon.
        if !notices.isEmpty { wake = min(wake ?? (now &+ 1_000_000), now &+ 1_000_000) }
        nextWake = wake
        return worked
    }
}

extension CongestionAlgorithm {
    init?(configName: String) {
        switch configName {
        case "cubic": self = .cubic
        case "newreno": self = .newReno
        default: return nil
        }
    }
}

extension TCPSocketState {
    var header: SocketHeader { stream.header }
}

extension Result {
    var isFailure: Bool { if case .failure = self { return true } else { return false } }
}
