import NewsConfig
import NewsIPC

/// A request on newsd's control socket: one line of text, answered by one JSON object (a
/// `Reply`) after which newsd closes the connection.
public enum ControlRequest: Equatable, Sendable {
    case status
    case stats
    case restart(ServerKind)
    case crash(ServerKind, FaultCommand)
    case probe(count: Int)
    /// Answered not with JSON but with a pcap stream (or a JSON error).
    case capture(count: Int, seconds: Int)
    case pfShow
    /// tcpserver's sockets, from its control blocks (`newsctl ss`).
    case sockets
    /// Rules text with its lines joined by " ; " (the grammar has no ';').
    case pfLoad(rules: String)
    case stop

    public static let maxProbeCount = 10_000_000
    public static let maxCaptureCount = 1_000_000

    public var line: String {
        switch self {
        case .status: "status"
        case .stats: "stats"
        case .restart(let s): "restart \(s.rawValue)"
        case .crash(let s, let how): "crash \(s.rawValue) \(how.name)"
        case .probe(let n): "probe \(n)"
        case .capture(let n, let s): "capture \(n) \(s)"
        case .pfShow: "pf-show"
        case .sockets: "ss"
        case .pfLoad(let rules): "pf-load " + rules.split(separator: "\n").joined(separator: " ; ")
        case .stop: "stop"
        }
    }

    public struct Invalid: Error, CustomStringConvertible, Equatable {
        public let description: String
        public init(_ d: String) { description = d }
    }

    public static func parse(_ line: String) throws(Invalid) -> ControlRequest {
        let words = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        guard let verb = words.first else { throw Invalid("empty request") }
        func server(_ i: Int) throws(Invalid) -> ServerKind {
            guard words.count > i else { throw Invalid("\(verb): missing server name") }
            do { return try ServerKind.parse(words[i]) } catch { throw Invalid(error.description) }
        }
        func arity(_ n: Int) throws(Invalid) {
            guard words.count == n else { throw Invalid("\(verb): expected \(n - 1) argument(s), got \(words.count - 1)") }
        }
        switch verb {
        case "status": try arity(1); return .status
        case "stats": try arity(1); return .stats
        case "stop": try arity(1); return .stop
        case "restart": try arity(2); return .restart(try server(1))
        case "crash":
            try arity(3)
            let s = try server(1)
            guard let how = FaultCommand(name: words[2]) else {
                throw Invalid("crash: unknown fault '\(words[2])'; one of " + FaultCommand.allCases.map(\.name).joined(separator: ", "))
            }
            return .crash(s, how)
        case "probe":
            try arity(2)
            guard let n = Int(words[1]), (1...maxProbeCount).contains(n) else { throw Invalid("probe: count must be 1...\(maxProbeCount)") }
            return .probe(count: n)
        case "pf-show": try arity(1); return .pfShow
        case "ss": try arity(1); return .sockets
        case "pf-load":
            let rest = line.drop { $0 == " " }.dropFirst("pf-load".count)
            let text = rest.replacingSemicolons()
            return .pfLoad(rules: text)
        case "capture":
            try arity(3)
            guard let n = Int(words[1]), (1...maxCaptureCount).contains(n) else { throw Invalid("capture: count must be 1...\(maxCaptureCount)") }
            guard let s = Int(words[2]), (1...3600).contains(s) else { throw Invalid("capture: seconds must be 1...3600") }
            return .capture(count: n, seconds: s)
        default:
            throw Invalid("unknown request '\(verb)'")
        }
    }
}

extension Substring {
    /// " ; "-joined rule lines back into lines.
    func replacingSemicolons() -> String {
        split(separator: ";", omittingEmptySubsequences: true).map { $0.split(separator: " ").joined(separator: " ") }
            .filter { !$0.isEmpty }.joined(separator: "\n")
    }
}
