import CNewsLinux
import Glibc
import NewsConfig
import NewsControl
import NewsIPC
import NewsSystem

extension Supervisor {
    /// Brings everything up and runs until SIGTERM/SIGINT or `newsctl stop`.
    func run() throws {
        signalFD = try Signals.signalFD([SIGTERM, SIGINT, SIGHUP, SIGPIPE])
        try makeControlDirectory()
        listenFD = try UnixSocket.listen(path: config.controlSocket, mode: 0o660, group: controlGroup)
        let appGroup = config.appGroup.isEmpty ? nil : (name: config.appGroup, gid: try Confinement.lookupGroup(config.appGroup))
        broker = try AppBroker(path: config.appSocket, group: appGroup, limits: config.limits, udpControl: plumbing.udpControl.newsd,
                              tcpControl: plumbing.tcpControl.newsd, appCPUs: cores.appsRestricted ? cores.apps : [])
        log.info("newsd \(Proc.pid): ipc \(config.ipc.rawValue), nic \(config.nic.backend == "tap" ? "tap \(config.nic.tap)" + (config.nic.netns.isEmpty ? "" : " in netns \(config.nic.netns)") : "none"), cores \(ServerKind.allCases.map { "\($0.rawValue)=\(cores[$0])" }.joined(separator: " ")) newsd=\(cores.newsd) apps=\(Config.renderCPUList(cores.apps)), control \(config.controlSocket)\(config.faultInjection ? ", fault injection enabled" : "")")
        for kind in ServerKind.allCases { start(kind, fresh: true) }

        while !shuttingDown {
            let now = Clock.nanos()
            var wait = supervise(now: now)
            if probe.active {
                let client = probe.client
                if let result = probe.step(now: Clock.nanos()), let client {
                    reply(to: client, Reply(message: "probe finished", probe: result))
                }
                wait = min(wait, 1_000_000)
            }
            if pendingRules != nil {
                checkPendingRules(now: Clock.nanos())
                wait = min(wait, 2_000_000)
            }
            if capture.active {
                if capture.step(now: Clock.nanos()) { finishCapture() }
                wait = min(wait, 1_000_000)
            }
            pollOnce(timeoutNanos: wait)
        }
        shutdown()
    }

    private func makeControlDirectory() throws {
        var dir = config.controlSocket
        while let last = dir.last, last != "/" { dir.removeLast() }
        if dir.count > 1 { dir.removeLast() }
        if !dir.isEmpty && mkdir(dir, 0o755) < 0 && errno != EEXIST { throw SystemError("mkdir \(dir)") }
    }

    /// One wait on everything newsd listens to: signals, the control socket and its clients,
    /// every server's pidfd, and (while a probe runs) the probe channel.
    private func pollOnce(timeoutNanos: UInt64) {
        var entries = [Poll.Entry(fd: signalFD), Poll.Entry(fd: listenFD)]
        // A client waiting for its probe result has nothing more to say; leaving it out also
        // keeps a hung-up one from waking the loop over and over.
        let listening = clients.filter { !$0.waiting }
        entries += listening.map { Poll.Entry(fd: $0.fd) }
        let children = ServerKind.allCases.compactMap { k in slots[k]?.child.map { (k, $0) } }
        entries += children.map { Poll.Entry(fd: $0.1.pidfd) }
        let brokerFDs = broker?.descriptors ?? []
        let brokerBase = entries.count
        entries += brokerFDs.map { Poll.Entry(fd: $0) }
        // Hand-offs waiting for the UDP or TCP server's control socket to drain.
        let outboxBase = entries.count
        let outboxFDs = broker?.controlsWantingWrite ?? []
        entries += outboxFDs.map { Poll.Entry(fd: $0, wantsWrite: true) }
        var ms = Int32(clamping: (timeoutNanos + 999_999) / 1_000_000)
        if let fd = capture.channel.pollDescriptor, capture.active { entries.append(Poll.Entry(fd: fd)) }
        if probe.active {
            if let fd = probe.channel.pollDescriptor { entries.append(Poll.Entry(fd: fd)) } else if ownBell != nil {
                // Shared memory: look at the descriptors without blocking, then sleep on our
                // doorbell, which vfs rings when it sends probes back.
                ms = 0
            }
        }
        Poll.wait(&entries, timeoutMillis: ms)
        if probe.active, ms == 0, let bell = ownBell, !entries.contains(where: { $0.readable }) {
            bell.sleep(timeoutNanos: min(timeoutNanos, 1_000_000)) { probe.channel.hasInput }
        }

        if entries[0].readable {
            for s in Signals.drain(signalFD) where s != SIGPIPE {
                log.notice("received \(Signals.name(s)): stopping")
                shuttingDown = true
            }
        }
        if entries[1].readable { acceptClients() }
        for (i, client) in listening.enumerated() where entries[2 + i].readable || entries[2 + i].hangup {
            readRequest(client)
        }
        let base = 2 + listening.count
        for (i, (kind, child)) in children.enumerated() where entries.count > base + i && entries[base + i].readable {
            if let reason = child.reap() {
                let why = slots[kind]?.killReason ?? reason.description
                exited(kind, reason: why)
            }
        }
        for (i, fd) in brokerFDs.enumerated() where entries[brokerBase + i].readable || entries[brokerBase + i].hangup {
            broker?.readable(fd)
        }
        if outboxFDs.indices.contains(where: { entries[outboxBase + $0].writable }) { broker?.flush() }
        expireClients()
    }

    /// Stops every server (SIGTERM, then SIGKILL after a grace period), reaps them, and
    /// releases the control socket and every region: nothing of NEWS is left behind.
    func shutdown() {
        shuttingDown = true
        for (kind, slot) in slots where slot.child != nil {
            slots[kind]!.killReason = "stopped by newsd"
            slot.child!.kill(SIGTERM)
        }
        let deadline = Clock.nanos() + 2_000_000_000
        while Clock.nanos() < deadline, slots.values.contains(where: { $0.child != nil }) {
            for (kind, slot) in slots { if let c = slot.child, let why = c.reap() { exited(kind, reason: slots[kind]?.killReason ?? why.description) } }
            Clock.sleep(nanos: 5_000_000)
        }
        for (kind, slot) in slots where slot.child != nil {
            slot.child!.kill(SIGKILL)
            while slot.child!.reap() == nil { Clock.sleep(nanos: 1_000_000) }
            exited(kind, reason: "killed at shutdown")
        }
        broker?.shutdown()
        for c in clients { FD.close(c.fd) }
        clients.removeAll()
        if listenFD >= 0 { FD.close(listenFD); UnixSocket.unlinkPath(config.controlSocket) }
        plumbing.close()
        if let device { FD.close(device) }  // a TAP device vanishes with its last descriptor
        log.info("newsd stopped; all servers reaped, regions and devices released")
    }
}
