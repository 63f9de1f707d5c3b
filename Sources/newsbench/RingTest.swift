import ArgumentParser
import NewsIPC
import NewsSystem

/// `newsbench ringtest`: a correctness run across two real processes. Messages carry a
/// sequence number and a pattern; the sender rotates batch sizes, the receiving process
/// rotates different ones and checks every message. With `--corrupt`, the peer instead
/// scribbles on the ring (or sends wrong-sized datagrams) and this process must notice.
struct RingTest: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ringtest", abstract: "Two-process, sequence-checked ring test (exit 0 only if it passes).")

    enum Corruption: String, ExpressibleByArgument, CaseIterable { case head, tail, datagrams }

    @Option(help: "shm or kernel.") var ipc: String = "shm"
    @Option(help: "Messages to send.") var messages: Int = 10_000_000
    @Option(help: "Ring capacity (shm), a power of two.") var capacity: Int = 256
    @Option(help: "Initial ring index; near 2^64 to exercise index wrap-around.") var startIndex: UInt64 = UInt64.max - 4095
    @Option(help: "Instead: let the peer corrupt the \(Corruption.allCases.map(\.rawValue).joined(separator: "|")) and check it is caught.") var corrupt: Corruption?

    static let batchSizes = [1, 3, 16, 61, 64, 7]

    func validate() throws {
        guard ipc == "shm" || ipc == "kernel" else { throw ValidationError("--ipc must be shm or kernel") }
        guard capacity >= 16, capacity <= 65536, capacity & (capacity - 1) == 0 else { throw ValidationError("--capacity must be a power of two in 16...65536") }
        guard messages > 0 else { throw ValidationError("--messages must be positive") }
        if corrupt == .datagrams && ipc != "kernel" { throw ValidationError("--corrupt datagrams needs --ipc kernel") }
        if (corrupt == .head || corrupt == .tail) && ipc != "shm" { throw ValidationError("--corrupt head|tail needs --ipc shm") }
    }

    func run() throws {
        let cpus = try CPU.allowed()
        try CPU.pin(to: cpus[0])
        let peerCPU = cpus.count > 1 ? cpus[1] : cpus[0]
        let spin = cpus.count > 1 ? 2000 : 0
        let link = try BenchLink(shm: ipc == "shm", capacity: capacity, startIndex: ipc == "shm" ? startIndex : 0)
        if let corrupt { return try checkCorruption(corrupt, link, peerCPU: peerCPU, spin: spin) }
        let peer = try link.spawnPeer(role: "sink", cpu: peerCPU, messages: messages, spin: spin)
        let t0 = Clock.nanos()
        try Self.produce(link, count: messages, batchSizes: Self.batchSizes, yieldWhenFull: spin == 0)
        let errors = try Self.awaitAck(link, expecting: messages, spin: spin)
        let seconds = Double(Clock.nanos() - t0) / 1e9
        let exit = BenchLink.wait(peer)
        let wraps = ipc == "shm" ? messages / capacity : 0
        print("ringtest ipc=\(ipc) messages=\(messages) capacity=\(capacity) batches=\(Self.batchSizes) ring-wraps=\(wraps) start-index=\(ipc == "shm" ? String(startIndex) : "-") errors=\(errors) seconds=\(seconds)")
        guard errors == 0, exit == .exited(code: 0) else { throw Failure("ring test failed: \(errors) bad messages, peer \(exit.map(\.description) ?? "did not exit")") }
        print("ringtest passed")
    }

    /// Sends `count` patterned messages, rotating batch sizes; waits (spins or yields) when full.
    static func produce(_ link: BenchLink, count: Int, batchSizes: [Int], yieldWhenFull: Bool) throws {
        let buf = UnsafeMutableBufferPointer<Message>.allocate(capacity: 64)
        defer { buf.deallocate() }
        var seq = 0
        var round = 0
        while seq < count {
            let n = min(batchSizes[round % batchSizes.count], count - seq)
            round += 1
            for i in 0..<n { buf[i] = Message(kind: .probe, seq: UInt64(seq + i), args: (RingPattern.value(UInt64(seq + i)), 0, 0, 0, 0, 0)) }
            var done = 0
            while done < n {
                let sent = try link.channel.send(UnsafeBufferPointer(rebasing: buf[done..<n]))
                done += sent
                if sent == 0 {
                    if let k = link.channel as? KernelChannel { k.waitWritable(timeoutMillis: 100) } else if yieldWhenFull { Clock.yield() } else { CPU.relax() }
                }
            }
            seq += n
        }
    }

    /// Waits for the sink's acknowledgement; returns the number of bad messages it saw.
    static func awaitAck(_ link: BenchLink, expecting count: Int, spin: Int) throws -> UInt64 {
        let buffer = UnsafeMutableBufferPointer<Message>.allocate(capacity: 1)
        defer { buffer.deallocate() }
        let deadline = Clock.nanos() + 120_000_000_000
        while try link.channel.receive(into: buffer) == 0 {
            guard Clock.nanos() < deadline else { throw Failure("no acknowledgement from the sink") }
            link.waitForInput(spin: spin)
        }
        let m = buffer[0]
        guard m.kind == Peer.stopKind, m.seq == UInt64(count) else { throw Failure("bad acknowledgement: kind \(m.kind) seq \(m.seq)") }
        return m.arg.0
    }

    func checkCorruption(_ what: Corruption, _ link: BenchLink, peerCPU: Int, spin: Int) throws {
        let role = ["head": "corrupt-head", "tail": "corrupt-tail", "datagrams": "garbage-datagrams"][what.rawValue]!
        let peer = try link.spawnPeer(role: role, cpu: peerCPU, spin: spin)
        defer { peer.kill(); _ = BenchLink.wait(peer, timeoutSeconds: 5) }
        let deadline = Clock.nanos() + 10_000_000_000
        var good = 0
        var buf = [Message](repeating: Message(), count: 64)
        switch what {
        case .head, .datagrams:
            let expectGood = what == .head ? 100 : 20
            while Clock.nanos() < deadline {
                let n: Int
                do {
                    n = try buf.withUnsafeMutableBufferPointer { try link.channel.receive(into: $0) }
                } catch let error as ChannelError {
                    guard what == .head else { throw error }
                    print("detected: \(error) after \(good) good messages")
                    guard good == expectGood else { throw Failure("expected \(expectGood) good messages before the corruption, got \(good)") }
                    print("ringtest corruption check passed")
                    return
                }
                for i in 0..<n where buf[i].seq != UInt64(good + i) || buf[i].arg.0 != RingPattern.value(UInt64(good + i)) {
                    throw Failure("followed a corrupt ring: message \(good + i) has seq \(buf[i].seq)")
                }
                good += n
                if what == .datagrams, good == expectGood, let k = link.channel as? KernelChannel {
                    print("detected: \(k.malformed) wrong-sized datagrams dropped, \(good) good messages delivered in order")
                    guard k.malformed == 5 else { throw Failure("expected 5 malformed datagrams, counted \(k.malformed)") }
                    print("ringtest corruption check passed")
                    return
                }
                if n == 0 { link.waitForInput(spin: spin, timeoutNanos: 10_000_000) }
            }
            throw Failure("corruption not detected within 10 s (\(good) messages received)")
        case .tail:
            var seq: UInt64 = 0
            while Clock.nanos() < deadline {
                do {
                    let m = Message(kind: .probe, seq: seq, args: (RingPattern.value(seq), 0, 0, 0, 0, 0))
                    if try link.channel.send(m) { seq += 1 } else { Clock.sleep(nanos: 100_000) }
                } catch {
                    print("detected: \(error) after \(seq) messages sent")
                    print("ringtest corruption check passed")
                    return
                }
            }
            throw Failure("corrupt tail not detected within 10 s (\(seq) messages sent)")
        }
    }
}
