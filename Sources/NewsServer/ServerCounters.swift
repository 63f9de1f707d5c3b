import NewsIPC

/// The counters a server publishes on its status page (`newsctl stats`). Slots are looked up
/// by name once, so a restarted server continues the counts of the one before.
struct ServerCounters {
    let status: StatusPage
    let received: Int, sent: Int, probes: Int, droppedFull: Int, unroutable: Int, badKind: Int
    let ringCorrupt: Int, ringResync: Int, malformed: Int, badCommand: Int, sleeps: Int, starts: Int
    /// Where a server's time goes (ServerRuntime.run): waits that ended before their
    /// timeout (a peer, a device or newsd woke it), nanoseconds inside those waits and the
    /// timed-out ones, nanoseconds spent lingering (polling with nothing to do after recent
    /// work), and loop passes that found work.
    let wakeups: Int, asleepNanos: Int, lingerNanos: Int, workPasses: Int
    let rx: [Int], tx: [Int]

    init(status: StatusPage, channelNames: [String]) {
        self.status = status
        func slot(_ name: String) -> Int { status.counter(named: name) ?? -1 }
        received = slot("messages_in"); sent = slot("messages_out"); probes = slot("probes_forwarded")
        droppedFull = slot("dropped_ring_full"); unroutable = slot("dropped_unroutable")
        badKind = slot("dropped_bad_kind"); ringCorrupt = slot("ring_corrupt"); ringResync = slot("ring_resync")
        malformed = slot("channel_malformed"); badCommand = slot("bad_command"); sleeps = slot("sleeps")
        starts = slot("starts")
        wakeups = slot("wakeups"); asleepNanos = slot("asleep_ns"); lingerNanos = slot("linger_ns")
        workPasses = slot("work_passes")
        rx = channelNames.map { slot("rx." + $0) }
        tx = channelNames.map { slot("tx." + $0) }
        bump(starts)
    }

    func bump(_ slot: Int, _ n: UInt64 = 1) { if slot >= 0 { status.add(slot, n) } }
    func received(_ n: Int, on port: Int) { bump(received, UInt64(n)); bump(rx[port], UInt64(n)) }
    func sent(_ n: Int, on port: Int) { bump(sent, UInt64(n)); bump(tx[port], UInt64(n)) }
}
