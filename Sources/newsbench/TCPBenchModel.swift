import NewsWire

/// A benchmark target, NAME=A.B.C.D:PORT (`newsbench udp` and `newsbench tcp`).
struct BenchTarget: Equatable {
    let name: String
    let address: UInt32
    let port: UInt16

    static func parse(_ spec: String) throws -> BenchTarget {
        let parts = spec.split(separator: "=", omittingEmptySubsequences: false)
        let hp = parts.count == 2 ? parts[1].split(separator: ":", omittingEmptySubsequences: false) : []
        guard parts.count == 2, !parts[0].isEmpty, hp.count == 2,
              let address = try? IPv4Address.parse(hp[0]), let port = UInt16(hp[1]), port > 0 else {
            throw BenchUsage("--target wants NAME=A.B.C.D:PORT, got \(spec)")
        }
        return BenchTarget(name: String(parts[0]), address: address.value, port: port)
    }
}

/// A bad argument found outside ArgumentParser's own validation (shown as a usage error).
struct BenchUsage: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// One case of `newsbench tcp`, named as it appears in the table and the CSV.
enum TCPCase: Equatable {
    /// One GET of the download path per transfer, transfers back to back for the duration.
    case bulkDown
    /// One PUT of `--upload-bytes` per transfer, transfers back to back for the duration.
    case bulkUp
    /// HTTP GET request/response, `perConnection` requests per connection, of `path`.
    case rr(perConnection: Int, path: String)

    /// The cases "all", "bulk" and "rr" stand for (in this order).
    static let bulkCases: [TCPCase] = [.bulkDown, .bulkUp]
    static let rrCases: [TCPCase] = [.rr(perConnection: 1, path: "/20b"), .rr(perConnection: 10, path: "/20b"),
                                     .rr(perConnection: 1, path: "/11k"), .rr(perConnection: 10, path: "/11k")]

    /// "bulk-down", "bulk-up", "rr-k10-11k" (the path is the last part, below the docroot).
    var name: String {
        switch self {
        case .bulkDown: return "bulk-down"
        case .bulkUp: return "bulk-up"
        case .rr(let k, let path): return "rr-k\(k)-\(path.dropFirst())"
        }
    }

    var isBulk: Bool { if case .rr = self { return false } else { return true } }

    /// A comma-separated list of case names and the groups all, bulk, rr.
    static func parseList(_ list: String) throws -> [TCPCase] {
        var out: [TCPCase] = []
        for word in list.split(separator: ",", omittingEmptySubsequences: false).map(String.init) {
            switch word {
            case "all": out += bulkCases + rrCases
            case "bulk": out += bulkCases
            case "rr": out += rrCases
            default: out.append(try parse(word))
            }
        }
        guard !out.isEmpty else { throw BenchUsage("--cases is empty") }
        return out
    }

    /// "bulk-down", "bulk-up", or "rr-kK-NAME" (K 1...1000, NAME a file name: letters, digits, '.', '_', '-').
    static func parse(_ word: String) throws -> TCPCase {
        if word == "bulk-down" { return .bulkDown }
        if word == "bulk-up" { return .bulkUp }
        let bad = BenchUsage("a case is bulk-down, bulk-up, rr-kK-FILE, all, bulk or rr; got \(word)")
        guard word.hasPrefix("rr-k") else { throw bad }
        let rest = word.dropFirst(4)
        guard let dash = rest.firstIndex(of: "-"), let k = Int(rest[..<dash]), (1...1000).contains(k) else { throw bad }
        let file = rest[rest.index(after: dash)...]
        let allowed = file.utf8.allSatisfy { b in
            (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z"))
                || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) || b == UInt8(ascii: ".") || b == UInt8(ascii: "_")
                || b == UInt8(ascii: "-")
        }
        guard !file.isEmpty, allowed, !file.hasPrefix(".") else { throw bad }
        return .rr(perConnection: k, path: "/" + file)
    }
}

/// What went wrong in a run, by kind. A run with any of these is shown as such.
struct TCPErrors: Equatable {
    /// connect failed (refused, timed out, no route).
    var connect = 0
    /// The connection was reset (ECONNRESET, EPIPE) or failed otherwise mid-request.
    var reset = 0
    /// A response other than 200.
    var badStatus = 0
    /// The connection ended before the whole response (the body's Content-Length) had come.
    var shortBody = 0
    /// A malformed response, bytes after a response or before a request, a body of the wrong size.
    var malformed = 0
    /// No progress on a request for the timeout.
    var timeout = 0

    var total: Int { connect + reset + badStatus + shortBody + malformed + timeout }

    mutating func add(_ o: TCPErrors) {
        connect += o.connect; reset += o.reset; badStatus += o.badStatus
        shortBody += o.shortBody; malformed += o.malformed; timeout += o.timeout
    }
}

/// One measurement of one case against one target.
struct TCPRow: Equatable {
    let target: String
    let testCase: String
    let connections: Int
    let seconds: Double
    /// Completed requests (rr) or transfers (bulk).
    let completed: Int
    /// Body and header bytes that crossed in the measured direction (bulk: the body only).
    let bytes: Int
    /// Request latencies (rr), nanoseconds: send of the request to the last byte of its
    /// response. Bulk: per transfer.
    let p50Nanos: UInt64
    let p99Nanos: UInt64
    let errors: TCPErrors
    let isBulk: Bool

    var requestsPerSecond: Double { seconds > 0 ? Double(completed) / seconds : 0 }
    var megabytesPerSecond: Double { seconds > 0 ? Double(bytes) / seconds / 1e6 : 0 }
    /// The figure the ratio is taken of: MB/s for bulk, requests/s for request/response.
    var rate: Double { isBulk ? megabytesPerSecond : requestsPerSecond }
}

enum TCPReport {
    /// The nearest-rank percentile (`p` in 0...1) of ascending `sorted`; 0 if empty.
    static func percentile(_ sorted: [UInt64], _ p: Double) -> UInt64 {
        guard !sorted.isEmpty else { return 0 }
        let rank = Int((Double(sorted.count) * p).rounded(.up))
        return sorted[min(sorted.count - 1, max(0, rank - 1))]
    }

    static let csvHeader = "target,case,connections,seconds,completed,requests_per_s,mb_per_s,p50_us,p99_us,errors,"
        + "connect_errors,resets,bad_status,short_bodies,malformed,timeouts"

    static func csv(_ rows: [TCPRow]) -> String {
        var out = csvHeader + "\n"
        for r in rows {
            let e = r.errors
            out += "\(r.target),\(r.testCase),\(r.connections),\(fixed(r.seconds, 3)),\(r.completed),\(fixed(r.requestsPerSecond, 1)),"
                + "\(fixed(r.megabytesPerSecond, 2)),\(fixed(Double(r.p50Nanos) / 1000, 1)),\(fixed(Double(r.p99Nanos) / 1000, 1)),"
                + "\(e.total),\(e.connect),\(e.reset),\(e.badStatus),\(e.shortBody),\(e.malformed),\(e.timeout)\n"
        }
        return out
    }

    /// The readable table: one line per case and target, the ratio to the case's first
    /// target (by MB/s for bulk, requests/s for request/response). Bulk rows' p50/p99 are of
    /// whole transfers. A row with errors says how many and of which kind.
    static func table(_ rows: [TCPRow]) -> String {
        var out = "TARGET".padding(16) + "CASE".padding(14) + "CONNS".padding(7) + "REQ/S".padding(10) + "MB/S".padding(10)
            + "P50 µs".padding(10) + "P99 µs".padding(10) + "RATIO".padding(8) + "ERRORS\n"
        for r in rows {
            let ref = rows.first { $0.testCase == r.testCase }!
            let ratio = ref.rate > 0 ? fixed(r.rate / ref.rate * 100, 0) + "%" : "-"
            let errors = r.errors.total == 0 ? "0" : "\(r.errors.total) (\(describe(r.errors)))"
            out += r.target.padding(16) + r.testCase.padding(14) + String(r.connections).padding(7)
                + (r.isBulk ? "-" : fixed(r.requestsPerSecond, 0)).padding(10) + fixed(r.megabytesPerSecond, 1).padding(10)
                + fixed(Double(r.p50Nanos) / 1000, 1).padding(10) + fixed(Double(r.p99Nanos) / 1000, 1).padding(10)
                + ratio.padding(8) + errors + "\n"
        }
        return out
    }

    static func describe(_ e: TCPErrors) -> String {
        let parts: [(String, Int)] = [("connect", e.connect), ("reset", e.reset), ("status", e.badStatus),
                                      ("short", e.shortBody), ("malformed", e.malformed), ("timeout", e.timeout)]
        return parts.filter { $0.1 > 0 }.map { "\($0.1) \($0.0)" }.joined(separator: ", ")
    }

    /// `v` with `digits` decimals, without Foundation's formatting.
    static func fixed(_ v: Double, _ digits: Int) -> String {
        guard v.isFinite else { return "0" }
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let scaled = (abs(v) * scale).rounded()
        let whole = Int(scaled / scale)
        let sign = v < 0 && scaled > 0 ? "-" : ""
        guard digits > 0 else { return sign + String(whole) }
        let frac = String(Int(scaled - Double(whole) * scale))
        return sign + String(whole) + "." + String(repeating: "0", count: digits - frac.count) + frac
    }
}
