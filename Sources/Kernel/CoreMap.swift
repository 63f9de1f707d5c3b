import NewsConfig

/// Which CPU each server runs on. Configured entries are taken as they are (checked against
/// the CPUs newsd may use); the rest are dealt round-robin over the allowed CPUs, starting
/// after newsd's own. With fewer CPUs than servers, servers share: that is expected, and the
/// servers that share a core are told not to spin.
struct CoreMap: Equatable {
    let assignment: [ServerKind: Int]

    struct Invalid: Error, CustomStringConvertible {
        let description: String
    }

    init(configured: [ServerKind: Int], allowed: [Int]) throws(Invalid) {
        guard !allowed.isEmpty else { throw Invalid(description: "no CPUs available") }
        var map: [ServerKind: Int] = [:]
        for (server, cpu) in configured {
            guard allowed.contains(cpu) else {
                throw Invalid(description: "[cores] \(server.rawValue) = \(cpu): cpu \(cpu) is not available (allowed: \(allowed.map(String.init).joined(separator: ",")))")
            }
            map[server] = cpu
        }
        var next = allowed.count > 1 ? 1 : 0
        for server in ServerKind.allCases where map[server] == nil {
            map[server] = allowed[next % allowed.count]
            next += 1
        }
        assignment = map
    }

    subscript(_ server: ServerKind) -> Int { assignment[server]! }

    /// Whether `server` shares its CPU with another server (then it must not busy-spin).
    func sharesCore(_ server: ServerKind) -> Bool {
        assignment.filter { $0.value == self[server] }.count > 1
    }
}
