// Errors from parsing a rules file. Each names the line and the offending token so an operator
// can fix the file without guessing; `kind` lets tests and tools tell the cases apart.

import NewsWire

public struct RuleError: Error, CustomStringConvertible, Equatable, Sendable {
    public enum Kind: Equatable, Sendable {
        /// First word is not allow, deny or default.
        case unknownAction(String)
        /// Action in a `default` line is not allow or deny.
        case unknownDefaultAction(String)
        case unknownDirection(String)
        /// Direction in a `default` line is not in or out.
        case unknownDefaultDirection(String)
        case unknownProtocol(String)
        case badAddress(String)
        case badPort(String)
        case badICMPType(String)
        case badICMPCode(String)
        /// `port` given for a protocol without ports (the protocol's name).
        case portNeedsTCPOrUDP(String)
        /// `type` given for a protocol other than icmp (the protocol's name).
        case typeNeedsICMP(String)
        /// The line ended where this was expected ("direction", "protocol", ...).
        case missing(String)
        /// A keyword was followed by nothing (the keyword).
        case missingValue(after: String)
        /// A token that cannot appear where it is.
        case unexpectedToken(String)
        case duplicateDefault(String)
        case tooManyRules(limit: Int)
    }

    /// 1-based line number in the rules text.
    public let line: Int
    public let kind: Kind

    public init(line: Int, _ kind: Kind) {
        self.line = line
        self.kind = kind
    }

    public var message: String {
        switch kind {
        case .unknownAction(let t): "unknown action '\(t)'; expected allow, deny or default"
        case .unknownDefaultAction(let t): "unknown default action '\(t)'; expected allow or deny"
        case .unknownDirection(let t): "unknown direction '\(t)'; expected in, out or any"
        case .unknownDefaultDirection(let t): "unknown default direction '\(t)'; expected in or out"
        case .unknownProtocol(let t): "unknown protocol '\(t)'; expected tcp, udp, icmp or any"
        case .badAddress(let t): "bad address '\(t)'\(Self.addressProblem(t)); expected a.b.c.d, a.b.c.d/N (N 0...32) or any"
        case .badPort(let t): "bad port '\(t)'; expected P or P-Q with 0 <= P <= Q <= 65535"
        case .badICMPType(let t): "bad icmp type '\(t)'; expected 0...255"
        case .badICMPCode(let t): "bad icmp code '\(t)'; expected 0...255"
        case .portNeedsTCPOrUDP(let p): "'port' needs protocol tcp or udp, not '\(p)'"
        case .typeNeedsICMP(let p): "'type' needs protocol icmp, not '\(p)'"
        case .missing(let what): "line ends where the \(what) was expected"
        case .missingValue(let keyword): "missing value after '\(keyword)'"
        case .unexpectedToken(let t): "unexpected '\(t)'"
        case .duplicateDefault(let d): "second 'default \(d)' line; give each default once"
        case .tooManyRules(let limit): "too many rules; at most \(limit) are allowed"
        }
    }

    public var description: String { "rules line \(line): \(message)" }

    /// NewsWire's reason for rejecting `token`, as ": reason" (the same parse the rule went through).
    private static func addressProblem(_ token: String) -> String {
        do throws(AddressError) { _ = try IPv4Net.parse(token) } catch { return ": " + error.explanation }
        return ""
    }
}
