import FoundationEssentials
import NewsConfig
import NewsControl
import NewsIPC
import NewsSystem

/// A newsctl connection: one request line in, one JSON reply out.
final class ControlConnection {
    let fd: Int32
    let openedAt = Clock.nanos()
    var buffer: [UInt8] = []
    var waiting = false  // a reply is pending (probe)
    init(fd: Int32) { self.fd = fd }
}

extension Supervisor {
    static let maxClients = 32
    static let maxRequestBytes = 1024

    func acceptClients() {
        while let fd = try? UnixSocket.accept(listenFD) {
            // The socket file is mode 0660 root:<control_group>; the peer's credentials are
            // checked as well, so a descriptor passed to another process is no way in.
            // Membership counts by primary or supplementary group (SO_PEERGROUPS).
            guard UnixSocket.peerIsRootOrIn(group: controlGroup, fd) != nil else {
                counters.controlRejected += 1
                try? FD.writeAll(fd, encode(.failure("permission denied: newsctl needs root or group \(config.controlGroup)")))
                FD.close(fd)
                continue
            }
            guard clients.count < Self.maxClients else {
                counters.controlRejected += 1
                try? FD.writeAll(fd, encode(.failure("too many control connections")))
                FD.close(fd)
                continue
            }
            clients.append(ControlConnection(fd: fd))
        }
    }

    func readRequest(_ client: ControlConnection) {
        guard !client.waiting else { return }
        let chunk: [UInt8]
        do { chunk = try FD.read(client.fd, max: Self.maxRequestBytes) } catch {
            if error.isWouldBlock { return }
            drop(client)
            return
        }
        if chunk.isEmpty { drop(client); return }
        client.buffer += chunk
        guard let nl = client.buffer.firstIndex(of: UInt8(ascii: "\n")) else {
            if client.buffer.count > Self.maxRequestBytes { reply(to: client.fd, .failure("request too long")) }
            return
        }
        counters.controlRequests += 1
        let line = String(decoding: client.buffer[..<nl], as: UTF8.self)
        do {
            handle(try ControlRequest.parse(line), client: client)
        } catch {
            counters.controlRejected += 1
            reply(to: client.fd, .failure(error.description))
        }
    }

    private func handle(_ request: ControlRequest, client: ControlConnection) {
        switch request {
        case .status: reply(to: client.fd, Reply(status: statusReport()))
        case .stats: reply(to: client.fd, Reply(stats: statsReport()))
        case .sockets: reply(to: client.fd, Reply(sockets: TCPSocketTable.report(plumbing.stateRegion(.tcpserver))))
        case .stop:
            reply(to: client.fd, Reply(message: "stopping"))
            shuttingDown = true
        case .restart(let kind):
            let slot = slots[kind]!
            if slot.child != nil {
                slots[kind]!.operatorRestart = true
                kill(kind, reason: "restart requested by newsctl")
            } else {
                slots[kind]!.policy.reset()
                slots[kind]!.state = .backoff
                slots[kind]!.restartAt = Clock.nanos()
            }
            reply(to: client.fd, Reply(message: "restarting \(kind.rawValue)"))
        case .crash(let kind, let how):
            guard config.faultInjection else {
                reply(to: client.fd, .failure("fault injection is disabled; start newsd with --fault-injection (or fault_injection = true)"))
                return
            }
            guard let slot = slots[kind], slot.state == .running, let pid = slot.pid else {
                reply(to: client.fd, .failure("\(kind.rawValue) is not running (state \(slots[kind]!.state.rawValue))"))
                return
            }
            plumbing.status(kind).post(command: how.rawValue)
            plumbing.doorbell(.server(kind)).ring()
            reply(to: client.fd, Reply(message: "posted \(how.name) to \(kind.rawValue) pid \(pid)"))
        case .probe(let count):
            guard !probe.active else { reply(to: client.fd, .failure("a probe is already running")); return }
            client.waiting = true
            probe.start(count: count, client: client.fd, now: Clock.nanos())
        case .pfShow:
            guard let report = filterReport() else { reply(to: client.fd, .failure("the filter's rule store does not validate")); return }
            reply(to: client.fd, Reply(pf: report))
        case .pfLoad(let rules):
            loadRules(rules, client: client)
        case .capture(let count, let seconds):
            guard config.nic.backend != "none" else { reply(to: client.fd, .failure("no device to capture on (nic.backend = \"none\")")); return }
            guard !capture.active else { reply(to: client.fd, .failure("a capture is already running")); return }
            client.waiting = true
            capture.start(client: client.fd, count: count, seconds: seconds, now: Clock.nanos())
            plumbing.status(.nicdriver).set(capture: true)
            log.info("capturing up to \(count) frames for at most \(seconds) s")
        }
    }

    /// Ends a capture: the NIC driver stops mirroring and the stream is closed.
    func finishCapture() {
        plumbing.status(.nicdriver).set(capture: false)
        let frames = capture.written
        if let fd = capture.finish() {
            clients.removeAll { $0.fd == fd }
            FD.close(fd)
        }
        log.info("capture finished: \(frames) frames")
    }

    func reply(to fd: Int32, _ reply: Reply) {
        if let i = clients.firstIndex(where: { $0.fd == fd }) { clients.remove(at: i) }
        // Replies are small; a client that does not read them only loses its own reply.
        try? FD.writeAll(fd, encode(reply))
        FD.close(fd)
    }

    private func drop(_ client: ControlConnection) {
        if client.waiting { return }  // keep the probe's client until its answer is sent
        clients.removeAll { $0 === client }
        FD.close(client.fd)
    }

    /// Closes connections that never finished a request (a stuck or hostile client).
    func expireClients() {
        let now = Clock.nanos()
        for c in clients where !c.waiting && now &- c.openedAt > 5_000_000_000 {
            reply(to: c.fd, .failure("request timed out"))
        }
    }

    func encode(_ reply: Reply) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys]
        let data = (try? encoder.encode(reply)) ?? Data("{\"ok\":false,\"error\":\"encoding failed\"}".utf8)
        return Array(data) + [UInt8(ascii: "\n")]
    }

    // MARK: - Reports

    func statusReport() -> SystemStatus {
        let now = Clock.nanos()
        let servers = ServerKind.allCases.map { kind -> ServerStatus in
            let s = slots[kind]!
            let up = s.child != nil && s.state == .running ? Double(now &- s.startedAt) / 1e9 : nil
            return ServerStatus(name: kind.rawValue, pid: s.pid, core: s.cpu, state: s.state.rawValue, restarts: s.restarts,
                                uptimeSeconds: up, lastExit: s.lastExit, generation: s.generation, exits: s.exits)
        }
        return SystemStatus(ipc: config.ipc.rawValue, pid: Proc.pid, uptimeSeconds: Double(now &- startedAt) / 1e9,
                            faultInjection: config.faultInjection, heartbeatMillis: config.heartbeat.periodMs, servers: servers)
    }

    func statsReport() -> SystemStats {
        var servers: [SystemStats.Server] = [SystemStats.Server(name: "newsd", counters: [
            Counter(name: "restarts", value: counters.restarts),
            Counter(name: "control_requests", value: counters.controlRequests),
            Counter(name: "control_rejected", value: counters.controlRejected),
            Counter(name: "tx.newsd-vfs", value: probe.totalSent),
            Counter(name: "rx.newsd-vfs", value: probe.totalReceived),
            Counter(name: "probes_stale", value: probe.stale),
            Counter(name: "captured_frames", value: capture.framesTotal),
            Counter(name: "capture_dropped", value: capture.dropped),
            Counter(name: "apps_connected", value: UInt64(broker?.apps.count ?? 0)),
            Counter(name: "apps_refused", value: broker?.counters.appsRefused ?? 0),
            Counter(name: "apps_disconnected", value: broker?.counters.appsDisconnected ?? 0),
            Counter(name: "sockets_live", value: UInt64(broker?.sockets.count ?? 0)),
            Counter(name: "sockets_opened", value: broker?.counters.socketsOpened ?? 0),
            Counter(name: "sockets_refused", value: broker?.counters.socketsRefused ?? 0),
            Counter(name: "app_bad_requests", value: broker?.counters.badRequests ?? 0),
            Counter(name: "udp_handoffs_waiting", value: UInt64(broker?.outbox(.udp).count ?? 0)),
            Counter(name: "udp_handoffs_deferred", value: broker?.deferredHandoffs(.udp) ?? 0),
            Counter(name: "tcp_sockets_live", value: UInt64(broker?.tcpSocketsLive ?? 0)),
            Counter(name: "tcp_spares", value: UInt64(broker?.tcpSpares ?? 0)),
            Counter(name: "tcp_accepts", value: broker?.counters.tcpAccepts ?? 0),
            Counter(name: "tcp_spares_short", value: broker?.counters.sparesShort ?? 0),
            Counter(name: "tcp_handoffs_waiting", value: UInt64(broker?.outbox(.tcp).count ?? 0)),
            Counter(name: "tcp_handoffs_deferred", value: broker?.deferredHandoffs(.tcp) ?? 0),
        ], invalidCounters: 0)]
        for kind in ServerKind.allCases {
            let (valid, invalid) = plumbing.status(kind).counters()
            servers.append(.init(name: kind.rawValue, counters: valid.map { Counter(name: $0.0, value: $0.1) }, invalidCounters: invalid))
        }
        func value(_ endpoint: Endpoint, _ name: String) -> UInt64 {
            servers.first { $0.name == endpoint.description }?.counters.first { $0.name == name }?.value ?? 0
        }
        let channels = Topology.channels.map { spec in
            SystemStats.Channel(name: spec.name, upper: spec.upper.description, lower: spec.lower.description,
                                downSent: value(spec.upper, "tx." + spec.name), downReceived: value(spec.lower, "rx." + spec.name),
                                upSent: value(spec.lower, "tx." + spec.name), upReceived: value(spec.upper, "rx." + spec.name))
        }
        return SystemStats(servers: servers, channels: channels)
    }
}
