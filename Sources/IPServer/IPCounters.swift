import NewsIPCore
import NewsServer
import NewsWire

/// The IP server's named counters (`newsctl stats`): every drop has its own name, taken
/// from the reason (a `WireError`, a `ReassemblyDrop`) so the names stay in one place.
final class IPCounters {
    let context: ServerContext
    private var handles: [String: CounterHandle] = [:]
    private var published: [String: UInt64] = [:]

    init(_ context: ServerContext) { self.context = context }

    func bump(_ name: String, _ n: UInt64 = 1) {
        if handles[name] == nil { handles[name] = context.counter(name) }
        handles[name]!.add(n)
    }

    func drop(_ error: WireError) { bump(error.counterName) }

    /// Mirrors totals kept by the pure cores as counters (only the increase is added, so a
    /// restarted core starting from zero never makes a counter go backwards).
    func publish(reassembler: ReassemblyCounters, arp: ARPCounters) {
        set("fragments_in", reassembler.fragmentsReceived)
        set("arp_requests_total", arp.requestsSent)
        set("arp_queue_dropped", arp.queuedPacketsDropped)
    }

    private func set(_ name: String, _ value: UInt64) {
        let last = published[name] ?? 0
        if value > last { bump(name, value - last) }
        published[name] = value
    }
}
