// The rules file: parsing, canonical rendering and first-match lookup.
//
//   default in deny
//   allow in udp from 198.18.0.0/24 to any port 7
//
// Rules are tried in file order and the first match decides; a packet no rule matches gets the
// default policy of its direction.

public struct RuleSet: Sendable, Hashable {
    /// The limit fixes the size of the shared-memory rule store, so it is part of the layout.
    public static let maxRules = 256

    public var rules: [Rule]
    public var defaultIn: Action
    public var defaultOut: Action

    /// Without `default` lines, inbound fails closed and outbound is allowed: the usual host
    /// firewall stance, and the one that cannot lock a host out of its own replies via state.
    public init(rules: [Rule] = [], defaultIn: Action = .deny, defaultOut: Action = .allow) {
        self.rules = rules
        self.defaultIn = defaultIn
        self.defaultOut = defaultOut
    }

    public func defaultAction(for d: Direction) -> Action { d == .in ? defaultIn : defaultOut }

    /// Index of the first rule matching the packet, if any.
    public func firstMatch(_ p: PacketSummary) -> Int? { rules.firstIndex { $0.matches(p) } }

    /// Canonical text: both defaults, then one rule per line. `parse(rendered())` is equal.
    public func rendered() -> String {
        var text = "default in \(defaultIn)\ndefault out \(defaultOut)\n"
        for rule in rules { text += "\(rule)\n" }
        return text
    }

    public static func parse(_ text: String) throws(RuleError) -> RuleSet {
        var set = RuleSet()
        var seenDefaults: Set<Direction> = []
        // isNewline also covers "\r\n" (one Character in Swift), so CRLF files work.
        let lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0.isNewline })
        for (offset, rawLine) in lines.enumerated() {
            let lineNumber = offset + 1
            let content = rawLine.firstIndex(of: "#").map { rawLine[..<$0] } ?? rawLine
            let tokens = content.split(whereSeparator: { $0.isWhitespace })
            guard let first = tokens.first else { continue }
            if first == "default" {
                let (direction, action) = try parseDefault(tokens, line: lineNumber)
                guard seenDefaults.insert(direction).inserted else {
                    throw RuleError(line: lineNumber, .duplicateDefault("\(direction)"))
                }
                if direction == .in { set.defaultIn = action } else { set.defaultOut = action }
                continue
            }
            var cursor = TokenCursor(tokens: tokens, line: lineNumber)
            let rule = try cursor.parseRule()
            guard set.rules.count < maxRules else {
                throw RuleError(line: lineNumber, .tooManyRules(limit: maxRules))
            }
            set.rules.append(rule)
        }
        return set
    }

    private static func parseDefault(
        _ tokens: [Substring], line: Int
    ) throws(RuleError) -> (Direction, Action) {
        guard tokens.count >= 2 else { throw RuleError(line: line, .missing("direction")) }
        let direction: Direction
        switch tokens[1] {
        case "in": direction = .in
        case "out": direction = .out
        default: throw RuleError(line: line, .unknownDefaultDirection(String(tokens[1])))
        }
        guard tokens.count >= 3 else { throw RuleError(line: line, .missing("action")) }
        let action: Action
        switch tokens[2] {
        case "allow": action = .allow
        case "deny": action = .deny
        default: throw RuleError(line: line, .unknownDefaultAction(String(tokens[2])))
        }
        if tokens.count > 3 { throw RuleError(line: line, .unexpectedToken(String(tokens[3]))) }
        return (direction, action)
    }
}

/// Walks the tokens of one rule line in grammar order.
private struct TokenCursor {
    let tokens: [Substring]
    let line: Int
    var position = 0

    init(tokens: [Substring], line: Int) {
        self.tokens = tokens
        self.line = line
    }

    private func fail(_ kind: RuleError.Kind) -> RuleError { RuleError(line: line, kind) }

    private mutating func next(orMissing what: String) throws(RuleError) -> Substring {
        guard position < tokens.count else { throw fail(.missing(what)) }
        position += 1
        return tokens[position - 1]
    }

    private mutating func value(after keyword: String) throws(RuleError) -> Substring {
        guard position < tokens.count else { throw fail(.missingValue(after: keyword)) }
        position += 1
        return tokens[position - 1]
    }

    /// Consumes the next token if it is `keyword`.
    private mutating func accept(_ keyword: String) -> Bool {
        guard position < tokens.count, tokens[position] == keyword else { return false }
        position += 1
        return true
    }

    mutating func parseRule() throws(RuleError) -> Rule {
        let actionToken = try next(orMissing: "action")
        let action: Action
        switch actionToken {
        case "allow": action = .allow
        case "deny": action = .deny
        default: throw fail(.unknownAction(String(actionToken)))
        }
        let dirToken = try next(orMissing: "direction")
        let direction: RuleDirection
        switch dirToken {
        case "in": direction = .in
        case "out": direction = .out
        case "any": direction = .any
        default: throw fail(.unknownDirection(String(dirToken)))
        }
        let protoToken = try next(orMissing: "protocol")
        let proto: RuleProtocol
        switch protoToken {
        case "tcp": proto = .tcp
        case "udp": proto = .udp
        case "icmp": proto = .icmp
        case "any": proto = .any
        default: throw fail(.unknownProtocol(String(protoToken)))
        }

        var src = IPv4Net.any, dst = IPv4Net.any
        var srcPorts: PortRange?, dstPorts: PortRange?
        var icmp: ICMPMatch?
        if accept("from") { (src, srcPorts) = try endpoint(after: "from", proto) }
        if accept("to") { (dst, dstPorts) = try endpoint(after: "to", proto) }
        if accept("type") {
            guard proto == .icmp else { throw fail(.typeNeedsICMP("\(proto)")) }
            let typeToken = try value(after: "type")
            guard let type = parseDecimal(typeToken, max: 255) else {
                throw fail(.badICMPType(String(typeToken)))
            }
            var code: UInt8?
            if accept("code") {
                let codeToken = try value(after: "code")
                guard let c = parseDecimal(codeToken, max: 255) else {
                    throw fail(.badICMPCode(String(codeToken)))
                }
                code = UInt8(c)
            }
            icmp = ICMPMatch(type: UInt8(type), code: code)
        }
        if position < tokens.count { throw fail(.unexpectedToken(String(tokens[position]))) }
        // The checks above already rule out every combination Rule.init rejects.
        guard let rule = Rule(action, direction, proto, src: src, srcPorts: srcPorts,
                              dst: dst, dstPorts: dstPorts, icmp: icmp)
        else { throw fail(.unexpectedToken(String(protoToken))) }
        return rule
    }

    /// `NET [port P|P-Q]` after `from` or `to`.
    private mutating func endpoint(
        after keyword: String, _ proto: RuleProtocol
    ) throws(RuleError) -> (IPv4Net, PortRange?) {
        let netToken = try value(after: keyword)
        let net: IPv4Net
        do { net = try IPv4Net.parse(netToken) } catch { throw fail(.badAddress(String(netToken))) }
        guard accept("port") else { return (net, nil) }
        guard proto.hasPorts else { throw fail(.portNeedsTCPOrUDP("\(proto)")) }
        let portToken = try value(after: "port")
        guard let range = PortRange(portToken) else { throw fail(.badPort(String(portToken))) }
        return (net, range)
    }
}
