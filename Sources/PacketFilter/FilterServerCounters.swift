import NewsFilter
import NewsServer

/// The filter's counters on its status page; the engine's own totals are mirrored so that a
/// restarted filter, whose engine restarts from what the region holds, never goes backwards.
final class FilterServerCounters {
    let context: ServerContext
    private var handles: [String: CounterHandle] = [:]
    private var published: [String: UInt64] = [:]

    init(_ context: ServerContext) { self.context = context }

    func bump(_ name: String, _ n: UInt64 = 1) {
        if handles[name] == nil { handles[name] = context.counter(name) }
        handles[name]!.add(n)
    }

    func publish(_ c: FilterCounters, flows: Int) {
        set("flows_created", c.flowsCreated)
        set("flows_expired", c.flowsExpired)
        set("flow_table_full", c.flowTableFull)
        set("state_invalid_records", c.invalidRecords)
        set("flows_active_peak", UInt64(flows))
    }

    private func set(_ name: String, _ value: UInt64) {
        let last = published[name] ?? 0
        if value > last { bump(name, value - last) }
        published[name] = value
    }
}
