/// The reincarnation policy, kept out of the servers (MINIX's RS): exponential backoff between
/// restarts, reset once a server has stayed up for `stable`; more than `intensity` exits
/// within `window` marks the server failed. Pure: times are passed in, in nanoseconds.
struct RestartPolicy: Equatable {
    let initialBackoff: UInt64
    let maxBackoff: UInt64
    let intensity: Int
    let window: UInt64
    let stable: UInt64

    private(set) var nextBackoff: UInt64
    private(set) var recentExits: [UInt64] = []

    init(initialBackoff: UInt64, maxBackoff: UInt64, intensity: Int, window: UInt64, stable: UInt64) {
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
        self.intensity = intensity
        self.window = window
        self.stable = stable
        nextBackoff = initialBackoff
    }

    enum Decision: Equatable {
        case restart(after: UInt64)
        case fail(exits: Int)
    }

    /// A server exited at `now` after running for `uptime`: restart after how long, or fail.
    mutating func exited(at now: UInt64, uptime: UInt64) -> Decision {
        if uptime >= stable { nextBackoff = initialBackoff }
        recentExits.append(now)
        recentExits.removeAll { now &- $0 > window }
        if recentExits.count > intensity { return .fail(exits: recentExits.count) }
        let delay = nextBackoff
        nextBackoff = min(maxBackoff, nextBackoff &* 2)
        return .restart(after: delay)
    }

    /// An operator restart (`newsctl restart`) forgives the history.
    mutating func reset() {
        recentExits.removeAll()
        nextBackoff = initialBackoff
    }
}
