import ArgumentParser
import NewsSystem
import NewsWire

/// `newsbench stalls`: a UDP probe stream at a fixed rate to echo targets, from Linux sockets
/// in the caller's namespace, to find stalls: moments where the path stops answering. Each
/// probe carries its sequence number and send time. Probes go out on a schedule of absolute
/// deadlines (start + k × period), so a late wake-up of this client does not shift the rest
/// of the stream, and the longest gap between probes sent shows whether the client itself
/// stalled. Several targets are interleaved in slices (target 1 for a slice, then target 2,
/// ..., round again) so that all of them see the same machine noise. Per target: probes
/// sent, answered, lost, RTT p50/p99/p99.9/max, and the longest gaps between consecutive
/// answers and consecutive sends (both inside a slice).
struct StallBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stalls", abstract: "UDP probe stream at a fixed rate: RTT p50/p99/p99.9/max and the longest gap between answers, per target.")

    @Option(name: .customLong("target"), help: "NAME=A.B.C.D:PORT of a UDP echo server (repeat: targets take turns, one slice each).")
    var targets: [String] = []
    @Option(help: "Probes per second (all targets together: one target is probed at a time).") var rate: Int = 2000
    @Option(help: "Seconds of probing, all targets together.") var duration: Double = 10
    @Option(help: "Milliseconds each target is probed before the next one's turn.") var sliceMs: Int = 1000
    @Option(help: "Payload bytes (at least 16).") var size: Int = 64
    @Flag(help: "Print CSV instead of a table.") var csv = false

    func validate() throws {
        guard !targets.isEmpty else { throw ValidationError("give at least one --target") }
        _ = try UDPBench.parse(targets)
        guard (1...100_000).contains(rate) else { throw ValidationError("--rate must be 1...100000") }
        guard duration > 0, duration <= 600 else { throw ValidationError("--duration must be in (0, 600] seconds") }
        guard (1...60_000).contains(sliceMs) else { throw ValidationError("--slice-ms must be 1...60000") }
        guard (16...1472).contains(size) else { throw ValidationError("--size must be 16...1472") }
    }

    func run() throws {
        let targets = try UDPBench.parse(self.targets)
        let clients = try targets.map { t in
            let c = try LinuxUDPClient(address: t.address, port: t.port)
            try FD.setNonBlocking(c.fd)
            return c
        }
        let schedule = StallSchedule(rate: rate, sliceNanos: UInt64(sliceMs) * 1_000_000, targets: targets.count,
                                     probes: max(1, Int(Double(rate) * duration)))
        let out = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 8)
        let inb = UnsafeMutableRawBufferPointer.allocate(byteCount: 2048, alignment: 8)
        defer { out.deallocate(); inb.deallocate() }
        out.initializeMemory(as: UInt8.self, repeating: 0x5A)

        // Warm-up (ARP, the first socket hand-offs, caches): a few probes each, not counted.
        for c in clients {
            for _ in 0..<20 {
                out.storeBytes(of: UInt64.max, toByteOffset: 0, as: UInt64.self)
                _ = c.send(UnsafeRawBufferPointer(out))
                Clock.sleep(nanos: 2_000_000)
                while c.receive(into: inb) != nil {}
            }
        }

        var samples = (0..<schedule.probes).map { StallSample(slice: schedule.slice(of: $0), sentAt: 0) }
        var entries = clients.map { Poll.Entry(fd: $0.fd) }
        func drain() {
            for (ti, c) in clients.enumerated() {
                while let n = c.receive(into: inb) {
                    let now = Clock.nanos()
                    guard n >= 16 else { continue }
                    let seq = inb.loadUnaligned(fromByteOffset: 0, as: UInt64.self)
                    let sentAt = inb.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
                    // Only an answer to a probe this run sent, to this target, once.
                    guard seq < UInt64(samples.count) else { continue }
                    let i = Int(seq)
                    guard schedule.target(of: i) == ti, samples[i].sentAt == sentAt, sentAt != 0,
                          samples[i].answeredAt == nil else { continue }
                    samples[i].answeredAt = now
                }
            }
        }

        let start = Clock.nanos() + 1_000_000
        var k = 0
        while k < schedule.probes {
            let deadline = start + schedule.offset(of: k)
            let now = Clock.nanos()
            if now >= deadline {
                out.storeBytes(of: UInt64(k), toByteOffset: 0, as: UInt64.self)
                let sentAt = Clock.nanos()
                out.storeBytes(of: sentAt, toByteOffset: 8, as: UInt64.self)
                // A probe the socket refused (buffer full) is recorded as sent and so lost:
                // the stall is the path's either way.
                _ = clients[schedule.target(of: k)].send(UnsafeRawBufferPointer(out))
                samples[k].sentAt = sentAt
                k += 1
                continue
            }
            drain()
            Poll.wait(&entries, timeoutNanos: deadline - now)
        }
        // Stragglers: a second after the last probe, what has not come back is lost.
        let end = Clock.nanos() + 1_000_000_000
        while true {
            drain()
            let now = Clock.nanos()
            guard now < end, samples.contains(where: { $0.answeredAt == nil }) else { break }
            Poll.wait(&entries, timeoutNanos: min(end - now, 10_000_000))
        }

        let rows = targets.indices.map { ti in
            StallStatistics.summarize(samples.indices.filter { schedule.target(of: $0) == ti }.map { samples[$0] })
        }
        let names = targets.map(\.name)
        print(csv ? Self.csv(names, rows) : Self.table(names, rows, rate: rate, sliceMs: sliceMs), terminator: "")
    }

    static func table(_ names: [String], _ rows: [StallSummary], rate: Int, sliceMs: Int) -> String {
        func us(_ ns: UInt64) -> String { String((Double(ns) / 100).rounded() / 10) }
        var out = "UDP probes at \(rate)/s, targets taking turns every \(sliceMs) ms; times in µs; gaps within a slice\n"
        out += "TARGET          SENT    ANSWERED  LOST  P50       P99       P99.9     MAX       ANSWER GAP  SEND GAP\n"
        for (name, r) in zip(names, rows) {
            out += name.padding(16) + String(r.sent).padding(8) + String(r.answered).padding(10) + String(r.lost).padding(6)
                + us(r.p50).padding(10) + us(r.p99).padding(10) + us(r.p999).padding(10) + us(r.max).padding(10)
                + us(r.longestAnswerGap).padding(12) + us(r.longestSendGap) + "\n"
        }
        return out
    }

    static func csv(_ names: [String], _ rows: [StallSummary]) -> String {
        var out = "target,sent,answered,lost,p50_us,p99_us,p999_us,max_us,answer_gap_us,send_gap_us\n"
        func us(_ ns: UInt64) -> String { String(Double(ns) / 1000) }
        for (name, r) in zip(names, rows) {
            out += "\(name),\(r.sent),\(r.answered),\(r.lost),\(us(r.p50)),\(us(r.p99)),\(us(r.p999)),\(us(r.max)),"
                + "\(us(r.longestAnswerGap)),\(us(r.longestSendGap))\n"
        }
        return out
    }
}

/// When probe k goes out and to which target: every probe on a fixed grid of `rate` per
/// second from the start, targets taking turns slice by slice.
struct StallSchedule {
    let rate: Int
    let sliceNanos: UInt64
    let targets: Int
    let probes: Int

    /// Nanoseconds from the start at which probe `k` is due (exact, not accumulated).
    func offset(of k: Int) -> UInt64 { UInt64(k) * 1_000_000_000 / UInt64(rate) }
    /// The slice probe `k` falls in (0, 1, 2, ... from the start).
    func slice(of k: Int) -> Int { Int(offset(of: k) / sliceNanos) }
    /// The target probe `k` goes to.
    func target(of k: Int) -> Int { slice(of: k) % targets }
}

/// One probe: the slice it was sent in, when it was sent, when its answer came (nil: lost).
struct StallSample: Equatable {
    let slice: Int
    var sentAt: UInt64
    var answeredAt: UInt64? = nil
}

/// One target's figures, in nanoseconds.
struct StallSummary: Equatable {
    var sent = 0, answered = 0, lost = 0
    var p50: UInt64 = 0, p99: UInt64 = 0, p999: UInt64 = 0, max: UInt64 = 0
    /// The longest time between two consecutive answers in one slice: a stall of the path
    /// (or of the client) shows here even when no probe is lost.
    var longestAnswerGap: UInt64 = 0
    /// The longest time between two consecutive probes sent in one slice: how late the
    /// client itself sent (at 2000/s, 500 µs when it kept its schedule).
    var longestSendGap: UInt64 = 0
}

/// The pure part of `newsbench stalls`: percentiles and gaps from the samples.
enum StallStatistics {
    /// Nearest-rank percentile (`p` in 0...1) of ascending `sorted`; 0 for none.
    static func percentile(_ sorted: [UInt64], _ p: Double) -> UInt64 {
        guard !sorted.isEmpty else { return 0 }
        let rank = Int((p * Double(sorted.count)).rounded(.up))
        return sorted[min(sorted.count - 1, Swift.max(0, rank - 1))]
    }

    /// The largest difference between neighbours of ascending `times`; 0 for fewer than two.
    static func longestGap(_ times: [UInt64]) -> UInt64 {
        zip(times, times.dropFirst()).reduce(0) { Swift.max($0, $1.1 &- $1.0) }
    }

    /// One target's samples (each probe it was sent, in order) summarized. Gaps are taken
    /// within each slice, so a turn handed to another target is not counted as a stall.
    static func summarize(_ samples: [StallSample]) -> StallSummary {
        var s = StallSummary()
        let sent = samples.filter { $0.sentAt != 0 }
        s.sent = sent.count
        var rtts: [UInt64] = []
        var bySlice: [Int: (sent: [UInt64], answered: [UInt64])] = [:]
        for sample in sent {
            bySlice[sample.slice, default: ([], [])].sent.append(sample.sentAt)
            if let at = sample.answeredAt {
                rtts.append(at &- sample.sentAt)
                bySlice[sample.slice, default: ([], [])].answered.append(at)
            }
        }
        s.answered = rtts.count
        s.lost = s.sent - s.answered
        rtts.sort()
        s.p50 = percentile(rtts, 0.5)
        s.p99 = percentile(rtts, 0.99)
        s.p999 = percentile(rtts, 0.999)
        s.max = rtts.last ?? 0
        for (_, slice) in bySlice {
            s.longestSendGap = Swift.max(s.longestSendGap, longestGap(slice.sent.sorted()))
            s.longestAnswerGap = Swift.max(s.longestAnswerGap, longestGap(slice.answered.sorted()))
        }
        return s
    }
}
