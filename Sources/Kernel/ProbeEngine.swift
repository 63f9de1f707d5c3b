import NewsControl
import NewsIPC
import NewsSystem

/// Sends numbered probes down the whole server chain and checks what comes back: order,
/// duplicates, the hop count, and round-trip times. It never blocks the supervisor: `step`
/// does what it can now and returns.
final class ProbeEngine {
    let channel: any Channel
    /// Probes in flight at once (kept well under a ring's capacity).
    let window: Int
    /// No probe back for this long: those still out are written off as lost.
    let idleTimeout: UInt64 = 500_000_000
    private var nextSeq: UInt64 = 1
    private var run: Run?
    private var buffer = [Message](repeating: Message(), count: 64)
    private(set) var totalSent: UInt64 = 0
    private(set) var totalReceived: UInt64 = 0
    private(set) var stale: UInt64 = 0

    struct Run {
        let count: Int
        let firstSeq: UInt64
        let client: Int32
        let startedAt: UInt64
        var sent = 0
        var received = 0
        var writtenOff = 0
        /// Highest sequence seen per route: the udp and tcp branches are independent paths,
        /// so order is only promised within one.
        var highest: [UInt64] = [0, 0]
        var stalls = 0
        var outOfOrder = 0
        var duplicates = 0
        var badHops = 0
        var seen: [Bool]
        var rtts: [UInt64] = []
        var lastProgress: UInt64
    }

    init(channel: any Channel, window: Int) {
        self.channel = channel
        self.window = window
    }

    var active: Bool { run != nil }
    var client: Int32? { run?.client }

    func start(count: Int, client: Int32, now: UInt64) {
        run = Run(count: count, firstSeq: nextSeq, client: client, startedAt: now,
                  seen: [Bool](repeating: false, count: count), lastProgress: now)
        nextSeq &+= UInt64(count)
    }

    /// Advances the probe; returns the finished result once every probe is back or written off.
    func step(now: UInt64) -> ProbeResult? {
        drain(now: now)
        guard var r = run else { return nil }
        // Send more while the window has room.
        while r.sent < r.count && r.sent - r.received - r.writtenOff < window {
            let seq = r.firstSeq + UInt64(r.sent)
            let route: ProbeRoute = seq % 2 == 0 ? .udp : .tcp
            guard (try? channel.send(Message.probe(seq: seq, route: route, sentAt: now))) == true else { break }
            r.sent += 1
            totalSent &+= 1
        }
        if now &- r.lastProgress > idleTimeout {
            // Nothing came back for a while: write off what is out. Two such stalls in a
            // row mean the path is down; stop rather than trickle the rest into it.
            r.writtenOff = r.sent - r.received
            r.lastProgress = now
            r.stalls += 1
            if r.sent == r.count || r.stalls >= 2 { run = r; return finish(now: now) }
        }
        run = r
        if r.received == r.count { return finish(now: now) }
        return nil
    }

    private func drain(now: UInt64) {
        while true {
            let n: Int
            do throws(ChannelError) {
                n = try buffer.withUnsafeMutableBufferPointer { b throws(ChannelError) in try channel.receive(into: b) }
            } catch { return }
            if n == 0 { return }
            for i in 0..<n { accept(buffer[i], now: now) }
        }
    }

    /// Checks one returning probe; nothing in it is trusted (a server may have mangled it).
    private func accept(_ m: Message, now: UInt64) {
        guard var r = run, m.kind == MessageKind.probe.rawValue,
              m.seq >= r.firstSeq, m.seq < r.firstSeq + UInt64(r.count) else { stale &+= 1; return }
        let index = Int(m.seq - r.firstSeq)
        totalReceived &+= 1
        r.lastProgress = now
        r.stalls = 0
        if r.seen[index] { r.duplicates += 1; run = r; return }
        r.seen[index] = true
        r.received += 1
        if m.probeHops != probeHopsRoundTrip { r.badHops += 1 }
        let route = Int(m.seq % 2)
        if m.seq < r.highest[route] { r.outOfOrder += 1 }
        r.highest[route] = max(r.highest[route], m.seq)
        if m.arg.2 >= r.startedAt && m.arg.2 <= now { r.rtts.append(now - m.arg.2) }
        run = r
    }

    private func finish(now: UInt64) -> ProbeResult? {
        guard var r = run else { return nil }
        run = nil
        r.rtts.sort()
        func pct(_ p: Double) -> Double {
            r.rtts.isEmpty ? 0 : Double(r.rtts[min(r.rtts.count - 1, Int(Double(r.rtts.count) * p))]) / 1000
        }
        return ProbeResult(sent: r.sent, received: r.received, lost: r.sent - r.received, outOfOrder: r.outOfOrder,
                           duplicates: r.duplicates, badHops: r.badHops, seconds: Double(now - r.startedAt) / 1e9,
                           rttP50Micros: pct(0.5), rttP99Micros: pct(0.99))
    }
}
