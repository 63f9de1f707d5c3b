import NewsConfig

/// Which CPU each server runs on, which one newsd runs on, and which CPUs applications are
/// told to use (libnews sets their affinity from newsd's hello).
///
/// Default, as NewtOS did: the stack's servers are kept apart from the applications. With
/// fewer allowed CPUs than servers + newsd + one for applications, newsd and the servers
/// share the first CPUs and applications get the last one (2 CPUs: stack on cpu 0, apps on
/// cpu 1); with enough CPUs newsd and each server have a CPU of their own and applications
/// get the rest. With one CPU everything shares it. Measured for UDP echo on 2 CPUs (issue
/// 9), this beat dealing servers round-robin over both CPUs: an application that shares a
/// core with a server it talks to waits for that server's time slice on every message.
///
/// Configured entries win: `[cores] server = cpu` is taken as it is, and `[cores] apps`
/// names the application CPUs (checked against the CPUs newsd may use). When every server
/// is configured and `apps` is not, applications get the CPUs no server has, or all of
/// them (no restriction) if every CPU has a server — what a round-robin `[cores]` meant
/// before this default existed. Servers that share a CPU with another server or with the
/// applications (when those are kept to some CPUs) are told not to spin.
struct CoreMap: Equatable {
    let assignment: [ServerKind: Int]
    /// The CPU newsd pins itself to: the first of the stack's CPUs.
    let newsd: Int
    /// The CPUs applications should run on, ascending.
    let apps: [Int]
    /// Whether `apps` leaves some allowed CPU to the stack alone (else applications may run
    /// anywhere and no server is counted as sharing with them).
    let appsRestricted: Bool

    struct Invalid: Error, CustomStringConvertible {
        let description: String
    }

    init(configured: [ServerKind: Int], apps configuredApps: [Int] = [], allowed unsorted: [Int]) throws(Invalid) {
        let allowed = Array(Set(unsorted)).sorted()
        guard !allowed.isEmpty else { throw Invalid(description: "no CPUs available") }
        let allowedText = allowed.map(String.init).joined(separator: ",")
        var map: [ServerKind: Int] = [:]
        for server in ServerKind.allCases {
            guard let cpu = configured[server] else { continue }
            guard allowed.contains(cpu) else {
                throw Invalid(description: "[cores] \(server.rawValue) = \(cpu): cpu \(cpu) is not available (allowed: \(allowedText))")
            }
            map[server] = cpu
        }
        for cpu in configuredApps where !allowed.contains(cpu) {
            throw Invalid(description: "[cores] \(Config.appsKey) = \"\(Config.renderCPUList(configuredApps))\": cpu \(cpu) is not available (allowed: \(allowedText))")
        }

        let split = Self.defaultSplit(allowed: allowed)
        let apps: [Int]
        if !configuredApps.isEmpty {
            apps = configuredApps.sorted()
        } else if map.count == ServerKind.allCases.count {
            let free = allowed.filter { !map.values.contains($0) }
            apps = free.isEmpty ? allowed : free
        } else {
            apps = split.apps
        }
        // The stack's own CPUs: those not given to applications (all, if apps took them all).
        let stackCPUs = configuredApps.isEmpty ? split.stack.filter { !apps.contains($0) } : allowed.filter { !apps.contains($0) }
        let stack = stackCPUs.isEmpty ? allowed : stackCPUs
        newsd = stack[0]
        // newsd mostly sleeps in poll; it takes the first stack CPU and servers are dealt
        // from the next one, so that with enough CPUs no server shares with it.
        var next = stack.count > 1 ? 1 : 0
        for server in ServerKind.allCases where map[server] == nil {
            map[server] = stack[next % stack.count]
            next += 1
        }
        assignment = map
        self.apps = apps
        appsRestricted = apps.count < allowed.count
    }

    /// The default division of `allowed` (ascending, not empty) into the stack's CPUs and
    /// the applications' CPUs.
    static func defaultSplit(allowed: [Int]) -> (stack: [Int], apps: [Int]) {
        let processes = ServerKind.allCases.count + 1  // the servers and newsd
        if allowed.count == 1 { return (allowed, allowed) }
        if allowed.count < processes + 1 { return (Array(allowed.dropLast()), [allowed.last!]) }
        return (Array(allowed.prefix(processes)), Array(allowed.dropFirst(processes)))
    }

    subscript(_ server: ServerKind) -> Int { assignment[server]! }

    /// Whether `server` shares its CPU with another server or with the applications (then
    /// it must not busy-spin: the spinning would take the CPU from the very process it
    /// waits for).
    func sharesCore(_ server: ServerKind) -> Bool {
        assignment.filter { $0.value == self[server] }.count > 1 || (appsRestricted && apps.contains(self[server]))
    }
}
