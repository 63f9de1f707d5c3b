import Logging
import NewsConfig
import NewsControl
import NewsIPC
import NewsSystem

/// newsd's core: starts every server confined and pinned, watches them through pidfds and
/// heartbeats, restarts them by policy, and answers newsctl. Single-threaded: one poll loop.
final class Supervisor {
    let config: Config
    let log = Logger(label: "newsd")
    let plumbing: Plumbing
    let cores: CoreMap
    /// The uid and gid each server runs as: its own (see `Config.serverIDs`).
    let serverIDs: [ServerKind: ServerIDs]
    let controlGroup: UInt32
    let binDir: String
    let startedAt = Clock.nanos()
    var slots: [ServerKind: ServerSlot] = [:]
    let probe: ProbeEngine
    let capture: CaptureEngine
    let ownBell: Doorbell?
    var listenFD: Int32 = -1
    var signalFD: Int32 = -1
    var clients: [ControlConnection] = []
    var shuttingDown = false
    var counters = KernelCounters()
    /// The NIC's device descriptor (TAP), owned by newsd so a restarted driver re-attaches.
    var device: Int32? = nil
    var pendingRules: PendingRules? = nil
    var broker: AppBroker? = nil

    var period: UInt64 { UInt64(config.heartbeat.periodMs) * 1_000_000 }

    init(config: Config, binDir: String) throws {
        self.config = config
        self.binDir = binDir
        cores = try CoreMap(configured: config.cores, apps: config.appCores, allowed: try CPU.allowed())
        // newsd sits with the servers, off the applications' CPUs; the servers it starts
        // pin themselves.
        try CPU.setProcessAffinity([cores.newsd])
        (controlGroup, serverIDs) = try config.resolveAccounts()
        plumbing = try Plumbing(config: config, cores: cores)
        probe = ProbeEngine(channel: try plumbing.newsdChannel("newsd-vfs"), window: min(64, config.ringCapacity / 4))
        capture = CaptureEngine(channel: try plumbing.newsdChannel("nic-capture"))
        ownBell = config.ipc == .shm ? plumbing.doorbell(.newsd) : nil
        let r = config.restart
        let policy = RestartPolicy(
            initialBackoff: UInt64(r.backoffInitialMs) * 1_000_000, maxBackoff: UInt64(r.backoffMaxMs) * 1_000_000,
            intensity: r.intensity, window: UInt64(r.windowS) * 1_000_000_000, stable: UInt64(r.stableS) * 1_000_000_000)
        try postConfiguredRules()
        if config.nic.backend == "tap" {
            device = try TAP.open(name: config.nic.tap, netns: config.nic.netns, offloads: config.nic.offloadsActive)
        } else if config.nic.backend == "cable" {
            device = try Cable.open(path: config.nic.cable, layOut: config.nic.cableSide == "a")
        }
        for kind in ServerKind.allCases {
            slots[kind] = ServerSlot(kind: kind, cpu: cores[kind], spin: cores.sharesCore(kind) ? 0 : config.spin, policy: policy)
        }
    }

    // MARK: - Starting and stopping servers

    func start(_ kind: ServerKind, fresh: Bool) {
        guard var slot = slots[kind] else { return }
        slot.generation += 1
        plumbing.status(kind).prepare(generation: slot.generation, fresh: fresh)
        // The "device" is what the server drives beyond its channels: the NIC driver's TAP,
        // the UDP and TCP servers' control connections from newsd (socket regions arrive on them).
        let drives: Int32? = switch kind {
        case .nicdriver: device
        case .udpserver: plumbing.udpControl.udp
        case .tcpserver: plumbing.tcpControl.tcp
        default: nil
        }
        let (fds, ends, wakeFD, deviceFD, state) = plumbing.handOver(to: kind, device: drives)
        let ids = serverIDs[kind]!
        var args = LaunchArguments(
            server: kind.rawValue, start: fresh ? .fresh : .restart, generation: slot.generation,
            shm: config.ipc == .shm, ringCapacity: config.ringCapacity, spin: slot.spin,
            heartbeatMillis: config.heartbeat.periodMs, cpu: slot.cpu, uid: ids.uid, gid: ids.gid,
            parentPID: Proc.pid, logLevel: config.logLevel, channels: ends)
        args.wakeFD = wakeFD
        args.lingerMicros = config.lingerMicros
        args.deviceFD = deviceFD
        args.params = Self.parameters(for: kind, config: config)
        args.stateFD = state.fd
        args.stateSize = state.size
        let now = Clock.nanos()
        slot.startedAt = now
        slot.lastBeat = 0
        slot.lastBeatChange = now
        slot.restartAt = nil
        slot.killReason = nil
        slot.operatorRestart = false
        do {
            slot.child = try Child.spawn(
                path: binDir + "/" + kind.executable, arguments: [kind.executable] + args.encode(),
                // The Swift backtracer would exec a helper on a crash; under seccomp that
                // turns every crash into SIGSYS, so it is off for servers.
                environment: ["SWIFT_BACKTRACE=enable=no", "PATH=/usr/bin:/bin"], descriptors: fds)
            slot.state = .starting
            if kind == .udpserver && !fresh { broker?.resendAll(.udp) }
            if kind == .tcpserver && !fresh { broker?.resendAll(.tcp) }
            log.info("started \(kind.rawValue) pid \(slot.child!.pid) cpu \(slot.cpu) \(ids) (\(fresh ? "fresh" : "restart"), generation \(slot.generation))")
        } catch {
            log.error("cannot start \(kind.rawValue): \(error)")
            slots[kind] = slot
            exited(kind, reason: "spawn failed: \(error)")
            return
        }
        slots[kind] = slot
    }

    /// The config a server needs beyond the common launch arguments.
    static func parameters(for kind: ServerKind, config: Config) -> [String: String] {
        switch kind {
        case .ipserver:
            ["ip.address": config.ip.address, "ip.gateway": config.ip.gateway, "ip.mtu": String(config.ip.mtu), "nic.mac": config.nic.mac,
             "nic.offloads": config.nic.offloadsActive ? "1" : "0"]
        case .udpserver:
            ["ip.address": config.ip.address]
        case .tcpserver:
            ["ip.address": config.ip.address, "ip.mtu": String(config.ip.mtu), "tcp.congestion": config.tcp.congestion,
             "tcp.time_wait_s": String(config.tcp.timeWaitSeconds), "tcp.delayed_ack_ms": String(config.tcp.delayedAckMillis),
             "nic.offloads": config.nic.offloadsActive ? "1" : "0"]
        case .nicdriver:
            impairmentParameters(config).merging(["nic.backend": config.nic.backend, "nic.cable_side": config.nic.cableSide,
                                                  "nic.offloads": config.nic.offloadsActive ? "1" : "0"]) { a, _ in a }
        default: [:]
        }
    }

    private static func impairmentParameters(_ config: Config) -> [String: String] {
        var p: [String: String] = [:]
        for (direction, i) in zip(["in", "out"], config.nic.impair) {
            p[direction + ".loss"] = String(i.loss)
            p[direction + ".duplicate"] = String(i.duplicate)
            p[direction + ".reorder"] = String(i.reorder)
            p[direction + ".delay_us"] = String(i.delayMicros)
        }
        return p
    }

    func kill(_ kind: ServerKind, reason: String) {
        guard var slot = slots[kind], let child = slot.child else { return }
        if slot.killReason == nil { slot.killReason = reason }
        child.kill()
        slots[kind] = slot
    }

    /// A server process ended (reaped) or could not be started.
    func exited(_ kind: ServerKind, reason: String) {
        guard var slot = slots[kind] else { return }
        let now = Clock.nanos()
        slot.child?.closePidFD()
        // pid 0: the server never ran (spawn failed).
        slot.exits.append(ExitRecord(pid: slot.child?.pid ?? 0, generation: slot.generation, at: Double(now &- startedAt) / 1e9,
                                     uptimeSeconds: Double(now &- slot.startedAt) / 1e9, reason: reason))
        if slot.exits.count > ServerSlot.exitHistory { slot.exits.removeFirst() }
        slot.child = nil
        slot.lastExit = reason
        defer { slots[kind] = slot }
        if shuttingDown { slot.state = .stopped; return }
        if slot.operatorRestart {
            log.notice("\(kind.rawValue) stopped for restart (\(reason))")
            slot.policy.reset()
            slot.state = .backoff
            slot.restartAt = now
            return
        }
        switch slot.policy.exited(at: now, uptime: now &- slot.startedAt) {
        case .restart(let delay):
            log.warning("\(kind.rawValue) exited: \(reason); restarting in \(delay / 1_000_000) ms")
            slot.state = .backoff
            slot.restartAt = now &+ delay
        case .fail(let exits):
            log.critical("\(kind.rawValue) exited: \(reason); \(exits) exits within \(config.restart.windowS) s exceeds the limit of \(config.restart.intensity): marked failed (newsctl restart \(kind.rawValue) to try again)")
            slot.state = .failed
        }
    }

    // MARK: - Periodic supervision

    /// Start-up checks, heartbeats and due restarts. Returns the nanoseconds until it next
    /// needs to run.
    func supervise(now: UInt64) -> UInt64 {
        var next = period / 4
        for kind in ServerKind.allCases {
            guard var slot = slots[kind] else { continue }
            let status = plumbing.status(kind)
            switch slot.state {
            case .starting:
                next = min(next, 2_000_000)
                if status.state == .ready {
                    checkConfinement(&slot, now: now)
                } else if now &- slot.startedAt > UInt64(config.restart.startupTimeoutMs) * 1_000_000 {
                    slots[kind] = slot
                    kill(kind, reason: "start-up timeout (\(config.restart.startupTimeoutMs) ms without ready)")
                    continue
                }
            case .running:
                let beat = status.heartbeat
                if beat != slot.lastBeat {
                    slot.lastBeat = beat
                    slot.lastBeatChange = now
                } else if now &- slot.lastBeatChange >= 2 * period {
                    // Measured from the check that last saw the counter move, so the real
                    // silence may be up to one check interval (period/4) longer.
                    let silent = (now &- slot.lastBeatChange) / 1_000_000
                    slots[kind] = slot
                    kill(kind, reason: "hang: heartbeat stalled for at least \(silent) ms (period \(config.heartbeat.periodMs) ms)")
                    continue
                }
            case .backoff:
                if let at = slot.restartAt {
                    if now >= at {
                        slot.restarts += 1
                        counters.restarts += 1
                        slots[kind] = slot
                        start(kind, fresh: false)
                        continue
                    }
                    next = min(next, at - now)
                }
            case .failed, .stopped:
                break
            }
            slots[kind] = slot
        }
        return next
    }

    /// newsd trusts a server with traffic only once /proc shows it confined as required,
    /// running as its own uid and gid (which no other server has: `Config.serverIDs`).
    private func checkConfinement(_ slot: inout ServerSlot, now: UInt64) {
        guard let pid = slot.pid, let ids = serverIDs[slot.kind] else { return }
        let problem: String?
        do { problem = try ProcStatus.read(pid: pid).confinementProblem(expectedCPU: slot.cpu, uid: ids.uid, gid: ids.gid) } catch {
            problem = "cannot read /proc/\(pid)/status: \(error)"
        }
        if let problem {
            log.error("\(slot.kind.rawValue) pid \(pid) failed its confinement check: \(problem)")
            slot.killReason = "confinement check failed: \(problem)"
            slot.child?.kill()
            return
        }
        slot.state = .running
        slot.lastBeatChange = now
        log.info("\(slot.kind.rawValue) pid \(pid) ready and confined in \((now &- slot.startedAt) / 1_000) µs")
    }
}

/// newsd's own counters, shown by `newsctl stats` beside the servers'.
struct KernelCounters {
    var restarts: UInt64 = 0
    var controlRequests: UInt64 = 0
    var controlRejected: UInt64 = 0
}
