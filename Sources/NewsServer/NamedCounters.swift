import NewsWire

/// Counters looked up by name on first use (a core's drop reasons are many and sparse).
/// Totals kept by a pure core can be mirrored with `set`: only increases are added, so a
/// restarted core counting from zero never makes a published counter go backwards.
public final class NamedCounters {
    let context: ServerContext
    private var handles: [String: CounterHandle] = [:]
    private var published: [String: UInt64] = [:]

    public init(_ context: ServerContext) { self.context = context }

    public func bump(_ name: String, _ n: UInt64 = 1) {
        if handles[name] == nil { handles[name] = context.counter(name) }
        handles[name]!.add(n)
    }

    public func drop(_ error: WireError) { bump(error.counterName) }

    public func set(_ name: String, _ value: UInt64) {
        let last = published[name] ?? 0
        if value > last { bump(name, value - last) }
        published[name] = value
    }
}
