import ArgumentParser
import NewsIPC
import NewsSystem

/// `newsbench channel`: round-trip latency and one-way throughput of the shared-memory
/// channel and of the kernel path, with the peer on the same core and on another core, all
/// in one run so that the ratios compare like with like on a noisy machine.
struct ChannelBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "channel", abstract: "Channel round trip and throughput: shm vs kernel path.")

    @Option(help: "Round trips measured per row (after a warm-up).") var samples: Int = 20000
    @Option(help: "Messages sent per throughput row (kernel rows send a tenth).") var messages: Int = 2_000_000
    @Option(help: "Spin iterations before sleeping, for peers on their own core.") var spin: Int = 2000
    @Flag(help: "Print CSV instead of a table.") var csv = false

    struct Row {
        let path: String, placement: String
        let p50: Double, p99: Double, mps: Double
    }

    func validate() throws {
        guard samples >= 100, samples <= 10_000_000 else { throw ValidationError("--samples must be 100...10000000") }
        guard messages >= 1000, messages <= 1_000_000_000 else { throw ValidationError("--messages must be 1000...1000000000") }
    }

    func run() throws {
        let cpus = try CPU.allowed()
        var placements = [("same core", cpus[0], cpus[0])]
        if cpus.count > 1 { placements.append(("two cores", cpus[0], cpus[1])) }
        var rows: [Row] = []
        for shm in [true, false] {
            for (label, mine, theirs) in placements {
                try CPU.pin(to: mine)
                let spinning = mine == theirs ? 0 : spin
                let (p50, p99) = try roundTrip(shm: shm, peerCPU: theirs, spin: spinning)
                let mps = try throughput(shm: shm, peerCPU: theirs, spin: spinning, count: shm ? messages : messages / 10)
                rows.append(Row(path: shm ? "shm" : "kernel", placement: label, p50: p50, p99: p99, mps: mps))
            }
        }
        try CPU.pin(to: cpus[0])
        print(csv ? Self.csv(rows) : Self.table(rows), terminator: "")
    }

    func roundTrip(shm: Bool, peerCPU: Int, spin: Int) throws -> (Double, Double) {
        let link = try BenchLink(shm: shm, capacity: 1024)
        let peer = try link.spawnPeer(role: "echo", cpu: peerCPU, spin: spin)
        var samples = [UInt64]()
        samples.reserveCapacity(self.samples)
        let total = self.samples + self.samples / 10
        let replyBuffer = UnsafeMutableBufferPointer<Message>.allocate(capacity: 1)
        defer { replyBuffer.deallocate() }
        for i in 0..<total {
            let t0 = Clock.nanos()
            let m = Message(kind: .probe, seq: UInt64(i))
            if let k = link.channel as? KernelChannel {
                try k.sendBlocking(m)
                try k.receiveBlocking(into: replyBuffer.baseAddress!)
            } else {
                while try !link.channel.send(m) {}
                while try link.channel.receive(into: replyBuffer) == 0 {
                    link.waitForInput(spin: spin)
                }
            }
            let t1 = Clock.nanos()
            let reply = replyBuffer[0]
            guard reply.seq == UInt64(i) else { throw Failure("echo returned seq \(reply.seq), expected \(i)") }
            if i >= total - self.samples { samples.append(t1 - t0) }
        }
        try stop(link, peer)
        samples.sort()
        return (Double(samples[samples.count / 2]), Double(samples[min(samples.count - 1, samples.count * 99 / 100)]))
    }

    /// Messages per second from us to a sink that checks every one.
    func throughput(shm: Bool, peerCPU: Int, spin: Int, count: Int) throws -> Double {
        let link = try BenchLink(shm: shm, capacity: 1024)
        let peer = try link.spawnPeer(role: "sink", cpu: peerCPU, messages: count, spin: spin, batch: 64)
        let t0 = Clock.nanos()
        try RingTest.produce(link, count: count, batchSizes: [16], yieldWhenFull: spin == 0)
        let errors = try RingTest.awaitAck(link, expecting: count, spin: spin)
        let t1 = Clock.nanos()
        _ = BenchLink.wait(peer)
        guard errors == 0 else { throw Failure("sink saw \(errors) bad messages") }
        return Double(count) / (Double(t1 - t0) / 1e9)
    }

    func stop(_ link: BenchLink, _ peer: Child) throws {
        var m = Message()
        m.kind = Peer.stopKind
        if let k = link.channel as? KernelChannel { try k.sendBlocking(m) } else { while try !link.channel.send(m) {} }
        guard case .exited(0)? = BenchLink.wait(peer) else { throw Failure("echo peer did not exit cleanly") }
    }

    static func table(_ rows: [Row]) -> String {
        func f(_ v: Double, _ d: Int = 0) -> String {
            var scale = 1.0
            for _ in 0..<d { scale *= 10 }
            let r = (v * scale).rounded() / scale
            return d == 0 ? String(Int(r)) : String(r)
        }
        var out = "PATH    PLACEMENT   RTT P50 ns  RTT P99 ns  ONE-WAY Mmsg/s\n"
        for r in rows {
            out += r.path.padding(8) + r.placement.padding(12) + f(r.p50).padding(12) + f(r.p99).padding(12) + f(r.mps / 1e6, 2) + "\n"
        }
        for placement in ["same core", "two cores"] {
            guard let s = rows.first(where: { $0.path == "shm" && $0.placement == placement }),
                  let k = rows.first(where: { $0.path == "kernel" && $0.placement == placement }) else { continue }
            out += "\(placement): kernel/shm round trip p50 \(f(k.p50 / s.p50, 1))x, p99 \(f(k.p99 / s.p99, 1))x; shm/kernel throughput \(f(s.mps / k.mps, 1))x\n"
        }
        return out
    }

    static func csv(_ rows: [Row]) -> String {
        "path,placement,rtt_p50_ns,rtt_p99_ns,oneway_msgs_per_s\n" + rows.map { "\($0.path),\($0.placement),\($0.p50),\($0.p99),\($0.mps)" }.joined(separator: "\n") + "\n"
    }
}

extension String {
    func padding(_ width: Int) -> String { count >= width ? self + " " : self + String(repeating: " ", count: width - count) }
}
