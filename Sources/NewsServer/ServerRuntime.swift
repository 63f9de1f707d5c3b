import Logging
import NewsConfig
import NewsIPC
import NewsSystem

/// The process shell every NEWS server runs (MINIX's SEF in spirit): attach to the regions
/// newsd handed over, confine the process, then loop receive → handle → send, beating the
/// heartbeat and sleeping when idle. Protocol work lives in pure cores the loop calls.
public final class ServerRuntime {
    let kind: ServerKind
    let args: LaunchArguments
    let log: Logger
    let status: StatusPage
    let waiter: Waiter
    var channels: [any Channel] = []
    let router: ProbeRouter
    let counters: ServerCounters
    /// Inputs found corrupt stay quarantined (skipped, re-checked) until they look sane.
    var quarantined: [Bool]

    /// Entry point of every server executable: never returns. `makeCore` builds the
    /// server's protocol core once its channels are attached: after privileges are dropped,
    /// before seccomp (so it may still make start-up-only calls); nil for a server that only
    /// forwards probes.
    public static func main(_ kind: ServerKind, makeCore: ((ServerContext) throws -> (any ServerCore)?)? = nil) -> Never {
        let raw = Array(CommandLine.arguments.dropFirst())
        let args: LaunchArguments
        do { args = try LaunchArguments.decode(raw) } catch {
            FD.writeAllIgnoringErrors(2, "\(kind.rawValue): \(error)\n")
            Proc.exit(64)
        }
        NewsLogHandler.bootstrap(level: Logger.Level(rawValue: args.logLevel) ?? .info)
        let log = Logger(label: kind.rawValue)
        do {
            let runtime = try ServerRuntime(kind: kind, args: args, log: log, makeCore: makeCore)
            runtime.run()
        } catch {
            log.critical("start-up failed: \(error)")
            Proc.exit(70)
        }
    }

    var core: (any ServerCore)?
    var ports: Ports!

    init(kind: ServerKind, args: LaunchArguments, log: Logger, makeCore: ((ServerContext) throws -> (any ServerCore)?)?) throws {
        guard args.server == kind.rawValue else {
            throw LaunchArguments.Invalid(description: "started as \(args.server) but this is \(kind.rawValue)")
        }
        self.kind = kind
        self.args = args
        self.log = log

        // 1. Confine first, in this order: pin and bind memory; drop to this server's own
        //    uid and gid (with the capability bounding set and supplementary groups, which
        //    need root); then the parent-death signal, which the kernel clears whenever the
        //    uid or gid changes; then no_new_privs. Only then is shared memory read: ring
        //    indices (repaired on a restart) and the state makeCore parses are written by
        //    other processes, and a mistake in reading them must not run as root. Mapping
        //    descriptors newsd handed over needs no privilege. Seccomp comes last (step 3),
        //    so that calls only start-up makes need not stay allowed.
        try CPU.pin(to: args.cpu)
        let node = Confinement.bindMemory(toNodeOf: args.cpu)
        try Confinement.dropPrivileges(to: .init(uid: args.uid, gid: args.gid))
        try Confinement.dieWithParent(args.parentPID)
        try Confinement.setNoNewPrivileges()

        // 2. Map what newsd handed over, attach the channels, build the core.
        let statusRegion = try SharedRegion(fd: LaunchArguments.statusFD, size: StatusPage.regionSize, name: "status")
        status = StatusPage(at: statusRegion.base)
        let bellRegion = try SharedRegion(fd: LaunchArguments.doorbellFD, size: Doorbell.regionSize, name: "doorbell")
        waiter = Waiter(bell: args.shm ? Doorbell(at: bellRegion.base) : nil, spin: args.spin, ownEventFD: args.wakeFD,
                        pollBell: Doorbell(at: bellRegion.base))
        router = try ProbeRouter(server: kind, channels: args.channels.map { ($0.name, $0.side) })
        counters = ServerCounters(status: status, channelNames: args.channels.map(\.name))
        quarantined = Array(repeating: false, count: args.channels.count)
        for end in args.channels { channels.append(try attach(end)) }
        ports = Ports(channels: channels, counters: counters)
        var state: UnsafeMutableRawBufferPointer? = nil
        if args.stateFD >= 0, args.stateSize > 0 {
            let region = try SharedRegion(fd: args.stateFD, size: args.stateSize, name: "state")
            state = UnsafeMutableRawBufferPointer(start: region.base, count: region.size)
        }
        if let makeCore {
            core = try makeCore(ServerContext(args: args, log: log, ports: ports, state: state, status: status))
            waiter.extraBells = core?.extraBells ?? []
        }

        log.info("\(args.start) start, generation \(args.generation), cpu \(args.cpu), numa node \(node.map(String.init) ?? "none"), \(args.shm ? "shm" : "kernel") channels: \(args.channels.map(\.name).joined(separator: ","))")
        // 3. The system-call filter, with this process's pid for the signal rule.
        try Confinement.installSeccomp(allowing: SeccompProfile.rules(for: kind, pid: Proc.pid))
    }

    /// Attaches one channel end. On a restart the rings may hold anything a crash left: a
    /// ring we consume that fails validation is resynchronized (its queued messages are
    /// dropped and counted), so one bad index cannot keep the server down.
    func attach(_ end: LaunchArguments.ChannelEnd) throws -> any Channel {
        let spec = ChannelSpec.named(end.name)
        let slot = spec?.slot ?? ChannelLayout.maxPayload
        guard args.shm else { return KernelChannel(name: end.name, fd: end.fd, slot: slot) }
        let capacity = spec?.capacity(ring: args.ringCapacity) ?? args.ringCapacity
        let region = try SharedRegion(fd: end.fd, size: ChannelLayout.regionSize(capacity: capacity, slot: slot), name: end.name)
        let bellRegion = try SharedRegion(fd: end.peerBellFD, size: Doorbell.regionSize, name: "\(end.name) peer doorbell")
        let bell = Doorbell(at: bellRegion.base, eventFD: end.peerWakeFD)
        if args.start == .restart {
            // Rewrite only the indices this side owns; a sane ring is left as it is.
            let stride = ChannelLayout.ringStride(capacity: capacity)
            let rx = end.side == .upper ? region.base + stride : region.base
            let tx = end.side == .upper ? region.base : region.base + stride
            let repairedRx = try RingRepair.repairAsConsumer(at: rx, capacity: capacity)
            let repairedTx = try RingRepair.repairAsProducer(at: tx, capacity: capacity)
            if repairedRx || repairedTx {
                log.warning("channel \(end.name): indices inconsistent after restart; resynchronized")
                counters.bump(counters.ringResync)
            }
        }
        return try ShmChannel(name: end.name, base: region.base, capacity: capacity, side: end.side, peerBell: bell, slot: slot)
    }

    func run() -> Never {
        status.set(state: .ready)
        let idleTimeout = UInt64(max(1, args.heartbeatMillis / 4)) * 1_000_000
        let devices = core?.descriptors ?? []
        let linger = UInt64(args.lingerMicros) * 1000
        var lastWork: UInt64 = 0
        // When the current stretch of lingering began (0: not lingering).
        var lingeringSince: UInt64 = 0
        while true {
            status.beat()
            if status.command != 0 { performFault(status.command) }
            var worked = false
            for i in channels.indices where receive(on: i) { worked = true }
            let now = Clock.nanos()
            if let core, core.tick(now: now, ports: ports) { worked = true }
            if worked || now &- lastWork >= linger, lingeringSince != 0 {
                counters.bump(counters.lingerNanos, now &- lingeringSince)
                lingeringSince = 0
            }
            if worked {
                lastWork = now
                counters.bump(counters.workPasses)
            } else if now &- lastWork < linger {
                if lingeringSince == 0 { lingeringSince = now }
                // Traffic just passed: keep looking for a moment instead of sleeping, so
                // that peers (and applications) find us awake and need not wake us. On a
                // shared core the look gives the CPU away between polls.
                if args.spin == 0 { Clock.yield() } else { CPU.relax() }
                if !devices.isEmpty, let core { for fd in Poll.readable(devices) { _ = core.descriptorReady(fd, ports: ports) } }
                continue
            }
            if !worked {
                countMalformed()
                counters.bump(counters.sleeps)
                // A quarantined ring may claim input forever; it is re-checked once per
                // wake-up instead of keeping the server from sleeping.
                let live = quarantined.contains(true) ? channels.indices.filter { !quarantined[$0] }.map { channels[$0] } : channels
                var timeout = idleTimeout
                if let at = core?.wakeAt { timeout = at > now ? min(timeout, at - now) : 0 }
                core?.willSleep()
                let wait = max(timeout, 1)
                let sleptAt = Clock.nanos()
                let readable = waiter.wait(live, devices: devices + (core?.sleepDescriptors ?? []), timeoutNanos: wait) {
                    status.command != 0 || (core?.pendingInput ?? false)
                }
                let asleep = Clock.nanos() &- sleptAt
                counters.bump(counters.asleepNanos, asleep)
                if asleep < wait { counters.bump(counters.wakeups) }
                core?.didWake()
                if let core { for fd in readable { _ = core.descriptorReady(fd, ports: ports) } }
            } else if let core, !devices.isEmpty {
                // Busy: look at the devices without sleeping.
                for fd in Poll.readable(devices) { _ = core.descriptorReady(fd, ports: ports) }
            }
        }
    }

    /// Handles one batch from channel `i`; returns whether anything arrived.
    private func receive(on i: Int) -> Bool {
        let ch = channels[i]
        let n: Int
        do throws(ChannelError) {
            n = try ch.receive(max: 32) { message, payload in handle(message, payload: payload, from: i) }
        } catch {
            if !quarantined[i] {
                log.error("channel \(ch.name): \(error); not following it")
                counters.bump(counters.ringCorrupt)
                quarantined[i] = true
            }
            return false
        }
        if quarantined[i] { log.notice("channel \(ch.name) is sane again"); quarantined[i] = false }
        if n > 0 { counters.received(n, on: i) }
        return n > 0
    }

    /// Messages of impossible framing, counted as the channels drop them.
    var malformedSeen: UInt64 = 0
    func countMalformed() {
        let total = channels.reduce(0) { $0 + $1.malformed }
        if total > malformedSeen { counters.bump(counters.malformed, total - malformedSeen); malformedSeen = total }
    }

    func handle(_ message: Message, payload: UnsafeRawBufferPointer, from port: Int) {
        guard let kind = MessageKind(rawValue: message.kind) else { counters.bump(counters.badKind); return }
        switch kind {
        case .probe:
            guard let out = router.next(for: message, arrivedOn: port) else { counters.bump(counters.unroutable); return }
            var m = message
            m.probeHops &+= 1
            counters.bump(counters.probes)
            ports.send(out, m)
        default:
            guard let core else { counters.bump(counters.badKind); return }
            core.handle(message, payload: payload, from: port, ports: ports)
        }
    }

    func performFault(_ raw: UInt32) {
        status.clearCommand()
        guard let fault = FaultCommand(rawValue: raw) else { counters.bump(counters.badCommand); return }
        log.warning("fault injection: \(fault.name)")
        switch fault {
        case .segv: UnsafeMutablePointer<Int>(bitPattern: 8)!.pointee = 1
        case .abort: Proc.abort()
        case .kill: Proc.raise(9)
        case .hang: while true { Clock.sleep(nanos: 1_000_000_000) }
        case .exit: Proc.exitImmediately(3)
        case .scribble:
            // Play a broken peer: corrupt what the neighbour reads from us. The neighbour
            // must notice, count it and carry on; our next send repairs the index.
            guard let i = router.ports.indices.first(where: { router.ports[$0].peer != .newsd }) else { return }
            if let shm = channels[i] as? ShmChannel { shm.scribbleOwnHead() } else if let k = channels[i] as? KernelChannel {
                k.sendGarbage()
            }
        case .syscall:
            let r = Confinement.attemptForbiddenSyscall()
            log.critical("forbidden system call was allowed (returned \(r))")
            Proc.exitImmediately(4)
        case .signal:
            // Play a server taken over that attacks its supervisor.
            let r = Confinement.attemptSignal(to: args.parentPID)
            log.critical("signalling newsd (pid \(args.parentPID)) was allowed (returned \(r))")
            Proc.exitImmediately(4)
        case .execmem:
            let r = Confinement.attemptExecutableMapping()
            log.critical("mapping memory executable was allowed (returned \(r))")
            Proc.exitImmediately(4)
        case .execprotect:
            let r = Confinement.attemptMakingExecutable()
            log.critical("making memory executable was allowed (returned \(r))")
            Proc.exitImmediately(4)
        }
    }
}
