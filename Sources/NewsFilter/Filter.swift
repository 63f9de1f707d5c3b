// The decision engine: given a packet summary and the time, say allow or deny, keeping flow
// state and counters up to date. No I/O; the shared-memory regions behind the rule store and
// flow table are the only side effect.
//
// Order of evaluation: (1) the reply side of a live flow is allowed by state; (2) the rules,
// first match wins; (3) the default policy of the packet's direction. Every allowed packet
// (by rule or by default) creates or refreshes its flow, so `default in deny` plus an
// `allow out` rule lets the replies of outgoing connections in.

public enum Verdict: Sendable, Hashable {
    /// Allowed by rule `rule` (index into RuleSet.rules).
    case allow(rule: Int)
    /// The reply side of a tracked flow.
    case allowedByState
    case deny(rule: Int)
    case denyByDefault
    case allowByDefault

    public var isAllowed: Bool {
        switch self {
        case .allow, .allowedByState, .allowByDefault: true
        case .deny, .denyByDefault: false
        }
    }
}

public struct FilterCounters: Sendable, Hashable {
    /// Allowed by a rule or by default policy (not by state).
    public var allowed: UInt64 = 0
    public var denied: UInt64 = 0
    public var byState: UInt64 = 0
    public var flowsCreated: UInt64 = 0
    public var flowsExpired: UInt64 = 0
    public var flowTableFull: UInt64 = 0
    /// Invalid records found in the regions: flow records and headers dropped on adoption, flow
    /// entries found untrustworthy later, and rule counters reset by the last load.
    public var invalidRecords: UInt64 = 0
}

public struct Filter: Sendable {
    public private(set) var rules: RuleSet
    public private(set) var ruleStore: RuleStore
    public private(set) var flows: FlowTable

    /// Starts with new rules: writes them into the store (resetting per-rule counters).
    public init(rules: RuleSet, ruleStore: RuleStore, flows: FlowTable) throws(StoreError) {
        var store = ruleStore
        try store.save(rules)
        self.rules = rules
        self.ruleStore = store
        self.flows = flows
    }

    /// Restarts with the rules and counters found in the store. Throws if the stored rules do
    /// not validate; the caller should then parse its rules file and use `init(rules:...)`.
    public init(restoringFrom ruleStore: RuleStore, flows: FlowTable) throws(StoreError) {
        var store = ruleStore
        rules = try store.load()
        self.ruleStore = store
        self.flows = flows
    }

    public mutating func decide(_ p: PacketSummary, now: UInt64) -> Verdict {
        if flows.admitByState(p, now: now) {
            ruleStore.addToTotals(byState: 1)
            return .allowedByState
        }
        let verdict: Verdict
        if let index = rules.firstMatch(p) {
            ruleStore.incrementCounter(rule: index, bytes: p.length)
            verdict = rules.rules[index].action == .allow ? .allow(rule: index) : .deny(rule: index)
        } else {
            ruleStore.incrementDefaultCounter(p.direction, bytes: p.length)
            verdict = rules.defaultAction(for: p.direction) == .allow ? .allowByDefault : .denyByDefault
        }
        if verdict.isAllowed {
            ruleStore.addToTotals(allowed: 1)
            flows.track(p, now: now)
        } else {
            ruleStore.addToTotals(denied: 1)
        }
        return verdict
    }

    /// Swaps in a new rule set; existing flows stay, so established connections survive a
    /// rules reload.
    public mutating func replaceRules(_ newRules: RuleSet) throws(StoreError) {
        try ruleStore.save(newRules)
        rules = newRules
    }

    /// Reclaims expired flows; call from the server's timer.
    @discardableResult
    public mutating func expireFlows(now: UInt64) -> Int { flows.expire(now: now) }

    public var counters: FilterCounters {
        let t = ruleStore.totals
        let f = flows.stats
        return FilterCounters(
            allowed: t.allowed, denied: t.denied, byState: t.byState,
            flowsCreated: f.created, flowsExpired: f.expired, flowTableFull: f.tableFull,
            invalidRecords: f.invalidRecords &+ UInt64(ruleStore.invalidRecords))
    }
}
