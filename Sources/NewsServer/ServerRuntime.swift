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

    /// Entry point of every server executable: never returns.
    public static func main(_ kind: ServerKind) -> Never {
        let raw = Array(CommandLine.arguments.dropFirst())
        let args: LaunchArguments
        do { args = try LaunchArguments.decode(raw) } catch {
            FD.writeAllIgnoringErrors(2, "\(kind.rawValue): \(error)\n")
            Proc.exit(64)
        }
        NewsLogHandler.bootstrap(level: Logger.Level(rawValue: args.logLevel) ?? .info)
        let log = Logger(label: kind.rawValue)
        do {
            let runtime = try ServerRuntime(kind: kind, args: args, log: log)
            runtime.run()
        } catch {
            log.critical("start-up failed: \(error)")
            Proc.exit(70)
        }
    }

    init(kind: ServerKind, args: LaunchArguments, log: Logger) throws {
        guard args.server == kind.rawValue else {
            throw LaunchArguments.Invalid(description: "started as \(args.server) but this is \(kind.rawValue)")
        }
        self.kind = kind
        self.args = args
        self.log = log
        try Confinement.dieWithParent(args.parentPID)

        // 1. Map what newsd handed over (before confinement: mmap of inherited descriptors).
        let statusRegion = try SharedRegion(fd: LaunchArguments.statusFD, size: StatusPage.regionSize, name: "status")
        status = StatusPage(at: statusRegion.base)
        let bellRegion = try SharedRegion(fd: LaunchArguments.doorbellFD, size: Doorbell.regionSize, name: "doorbell")
        waiter = Waiter(bell: args.shm ? Doorbell(at: bellRegion.base) : nil, spin: args.spin)
        router = try ProbeRouter(server: kind, channels: args.channels.map { ($0.name, $0.side) })
        counters = ServerCounters(status: status, channelNames: args.channels.map(\.name))
        quarantined = Array(repeating: false, count: args.channels.count)
        for end in args.channels { channels.append(try attach(end)) }

        // 2. Confine: pin, bind memory, drop privileges, no_new_privs, seccomp, in that order
        //    (each step needs privileges the next one removes).
        try CPU.pin(to: args.cpu)
        let node = Confinement.bindMemory(toNodeOf: args.cpu)
        try Confinement.dropPrivileges(to: .init(uid: args.uid, gid: args.gid))
        try Confinement.setNoNewPrivileges()
        log.info("\(args.start) start, generation \(args.generation), cpu \(args.cpu), numa node \(node.map(String.init) ?? "none"), \(args.shm ? "shm" : "kernel") channels: \(args.channels.map(\.name).joined(separator: ","))")
        try Confinement.installSeccomp(allowing: SeccompProfile.allowlist(for: kind))
    }

    /// Attaches one channel end. On a restart the rings may hold anything a crash left: a
    /// ring we consume that fails validation is resynchronized (its queued messages are
    /// dropped and counted), so one bad index cannot keep the server down.
    func attach(_ end: LaunchArguments.ChannelEnd) throws -> any Channel {
        guard args.shm else { return KernelChannel(name: end.name, fd: end.fd) }
        let capacity = args.ringCapacity
        let region = try SharedRegion(fd: end.fd, size: ChannelLayout.regionSize(capacity: capacity), name: end.name)
        let bellRegion = try SharedRegion(fd: end.peerBellFD, size: Doorbell.regionSize, name: "\(end.name) peer doorbell")
        let bell = Doorbell(at: bellRegion.base)
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
        return try ShmChannel(name: end.name, base: region.base, capacity: capacity, side: end.side, peerBell: bell)
    }

    func run() -> Never {
        status.set(state: .ready)
        let batch = UnsafeMutableBufferPointer<Message>.allocate(capacity: 32)
        var outboxes = Array(repeating: [Message](), count: channels.count)
        let idleTimeout = UInt64(max(1, args.heartbeatMillis / 4)) * 1_000_000
        while true {
            status.beat()
            if status.command != 0 { performFault(status.command) }
            var worked = false
            for (i, ch) in channels.enumerated() {
                let n: Int
                do { n = try ch.receive(into: batch) } catch {
                    if !quarantined[i] {
                        log.error("channel \(ch.name): \(error); not following it")
                        counters.bump(counters.ringCorrupt)
                        quarantined[i] = true
                    }
                    continue
                }
                if quarantined[i] { log.notice("channel \(ch.name) is sane again"); quarantined[i] = false }
                guard n > 0 else { continue }
                worked = true
                counters.received(n, on: i)
                for j in 0..<n { handle(batch[j], from: i, outboxes: &outboxes) }
            }
            for i in outboxes.indices where !outboxes[i].isEmpty {
                flush(&outboxes[i], on: i)
            }
            if !worked {
                if !args.shm { countMalformed() }
                counters.bump(counters.sleeps)
                // A quarantined ring may claim input forever; it is re-checked once per
                // wake-up instead of keeping the server from sleeping.
                let live = quarantined.contains(true) ? channels.indices.filter { !quarantined[$0] }.map { channels[$0] } : channels
                waiter.wait(live, timeoutNanos: idleTimeout) { status.command != 0 }
            }
        }
    }

    /// Kernel-path datagrams of the wrong size, counted as they are dropped.
    var malformedSeen: UInt64 = 0
    func countMalformed() {
        let total = channels.reduce(0) { $0 + (($1 as? KernelChannel)?.malformed ?? 0) }
        if total > malformedSeen { counters.bump(counters.malformed, total - malformedSeen); malformedSeen = total }
    }

    func handle(_ message: Message, from port: Int, outboxes: inout [[Message]]) {
        guard let kind = MessageKind(rawValue: message.kind) else { counters.bump(counters.badKind); return }
        switch kind {
        case .probe:
            guard let out = router.next(for: message, arrivedOn: port) else { counters.bump(counters.unroutable); return }
            var m = message
            m.probeHops &+= 1
            counters.bump(counters.probes)
            outboxes[out].append(m)
        }
    }

    /// Sends what fits; a full ring drops the rest and counts it (no unbounded queues).
    func flush(_ box: inout [Message], on port: Int) {
        let channel = channels[port]
        let result: Result<Int, ChannelError> = box.withUnsafeBufferPointer { b in
            do throws(ChannelError) { return .success(try channel.send(b)) } catch { return .failure(error) }
        }
        guard case .success(let sent) = result else {
            log.error("channel \(channel.name): \(result)")
            counters.bump(counters.ringCorrupt)
            counters.bump(counters.droppedFull, UInt64(box.count))
            box.removeAll(keepingCapacity: true)
            return
        }
        counters.sent(sent, on: port)
        if sent < box.count { counters.bump(counters.droppedFull, UInt64(box.count - sent)) }
        box.removeAll(keepingCapacity: true)
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
        }
    }
}
