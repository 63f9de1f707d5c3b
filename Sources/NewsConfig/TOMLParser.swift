/// Line-by-line parser for the TOML subset described in TOML.swift.
struct TOMLParser {
    private(set) var document = TOMLDocument()
    /// Index into `document.tables` of each defined table path.
    private var tableIndex: [[String]: Int] = [[]: 0]
    /// The table new entries go into.
    private var current = 0

    mutating func parse(_ text: String) throws(ConfigError) {
        var lineNumber = 1
        var line: [Unicode.Scalar] = []
        for u in text.unicodeScalars {
            if u == "\n" {
                try parseLine(line, lineNumber)
                line.removeAll(keepingCapacity: true)
                lineNumber += 1
            } else {
                line.append(u)
            }
        }
        try parseLine(line, lineNumber)
    }

    private mutating func parseLine(_ raw: [Unicode.Scalar], _ number: Int) throws(ConfigError) {
        var scalars = raw
        if scalars.last == "\r" { scalars.removeLast() }
        var c = Cursor(scalars: scalars, line: number)
        c.skipWhitespace()
        if c.atEnd || c.peek == "#" { return }
        if c.peek == "[" {
            try header(&c)
        } else {
            try keyValue(&c)
        }
    }

    private mutating func header(_ c: inout Cursor) throws(ConfigError) {
        c.advance()  // "["
        if c.peek == "[" { throw c.error("arrays of tables ([[...]]) are not supported") }
        var path: [String] = []
        while true {
            c.skipWhitespace()
            path.append(try c.parseKey())
            c.skipWhitespace()
            if c.peek == "." { c.advance(); continue }
            break
        }
        guard c.peek == "]" else {
            throw c.error("expected ']' to close the table header, found \(c.restQuoted)")
        }
        c.advance()
        try c.expectEndOfLine(after: "the table header")

        let table = TOMLTable(path: path, line: c.line)
        if let existing = tableIndex[path] {
            throw c.error("duplicate table [\(table.name)] (first defined on line \(document.tables[existing].line))")
        }
        if let parent = tableIndex[Array(path.dropLast())], let entry = document.tables[parent][path.last!] {
            throw c.error("table [\(table.name)] conflicts with key '\(entry.key)' defined on line \(entry.line)")
        }
        document.tables.append(table)
        current = document.tables.count - 1
        tableIndex[path] = current
    }

    private mutating func keyValue(_ c: inout Cursor) throws(ConfigError) {
        let start = c.index
        let garbage = { (c: Cursor) in
            ConfigError(line: c.line, "expected 'key = value' or '[table]', found \(c.quoted(from: start))")
        }
        guard let first = c.peek, TOML.isBareKeyScalar(first) || first == "\"" || first == "'" else {
            throw garbage(c)
        }
        let key = try c.parseKey()
        c.skipWhitespace()
        if c.peek == "." {
            throw ConfigError(line: c.line, key: key, "dotted keys are not supported; use a [table] header")
        }
        guard c.peek == "=" else { throw garbage(c) }
        c.advance()
        c.key = key
        c.skipWhitespace()
        if c.atEnd || c.peek == "#" { throw c.error("missing value after '='") }
        let value = try c.value()
        try c.expectEndOfLine(after: "the value")

        let table = document.tables[current]
        if let previous = table[key] {
            throw c.error("duplicate key (first defined on line \(previous.line))")
        }
        if let sub = tableIndex[table.path + [key]] {
            let subTable = document.tables[sub]
            throw c.error("key conflicts with table [\(subTable.name)] defined on line \(subTable.line)")
        }
        document.tables[current].entries.append(TOMLEntry(key: key, value: value, line: c.line))
    }
}

/// A position within one line, with the line number and (once known) the key for errors.
struct Cursor {
    let scalars: [Unicode.Scalar]
    let line: Int
    var index = 0
    var key: String?

    init(scalars: [Unicode.Scalar], line: Int) {
        self.scalars = scalars
        self.line = line
    }

    var atEnd: Bool { index >= scalars.count }
    var peek: Unicode.Scalar? { atEnd ? nil : scalars[index] }
    mutating func advance() { index += 1 }

    func error(_ message: String) -> ConfigError { ConfigError(line: line, key: key, message) }

    /// The text from `start` to the end of the line, quoted, for error messages.
    func quoted(from start: Int) -> String {
        var s = String.UnicodeScalarView()
        s.append(contentsOf: scalars[min(start, scalars.count)...])
        return TOML.quote(String(s))
    }

    var restQuoted: String { atEnd ? "end of line" : quoted(from: index) }

    mutating func skipWhitespace() {
        while let u = peek, u == " " || u == "\t" { advance() }
    }

    /// Whitespace, then optionally a comment, then the end of the line.
    mutating func expectEndOfLine(after what: String) throws(ConfigError) {
        skipWhitespace()
        if atEnd || peek == "#" { return }
        throw error("unexpected text \(restQuoted) after \(what)")
    }

    /// A bare or quoted key.
    mutating func parseKey() throws(ConfigError) -> String {
        switch peek {
        case "\"": return try basicString()
        case "'": return try literalString()
        default:
            let start = index
            while let u = peek, TOML.isBareKeyScalar(u) { advance() }
            guard index > start else { throw error("expected a key, found \(restQuoted)") }
            var s = String.UnicodeScalarView()
            s.append(contentsOf: scalars[start..<index])
            return String(s)
        }
    }

    mutating func value() throws(ConfigError) -> TOMLValue {
        switch peek {
        case "\"": return .string(try basicString())
        case "'": return .string(try literalString())
        case "[": return try array()
        default:
            let start = index
            while let u = peek, !(u == " " || u == "\t" || u == "," || u == "]" || u == "[" || u == "#") {
                advance()
            }
            var token = String.UnicodeScalarView()
            token.append(contentsOf: scalars[start..<index])
            let text = String(token)
            if text == "true" { return .boolean(true) }
            if text == "false" { return .boolean(false) }
            if let first = token.first, first == "+" || first == "-" || ("0"..."9").contains(first) {
                return .integer(try integer(text))
            }
            index = start
            throw error("expected a value (string, integer, boolean or array), found \(restQuoted)")
        }
    }

    private func integer(_ text: String) throws(ConfigError) -> Int {
        var digits = Array(text.unicodeScalars)
        var negative = false
        if let sign = digits.first, sign == "+" || sign == "-" {
            negative = sign == "-"
            digits.removeFirst()
        }
        let isDigit = { (u: Unicode.Scalar) in ("0"..."9").contains(u) }
        let wellFormed = !digits.isEmpty && isDigit(digits.first!) && isDigit(digits.last!)
            && digits.allSatisfy { isDigit($0) || $0 == "_" }
            && !zip(digits, digits.dropFirst()).contains { $0 == "_" && $1 == "_" }
        guard wellFormed else {
            if digits.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }) && !text.hasPrefix("0x") {
                throw error("floating-point numbers are not supported, found \(text)")
            }
            throw error("invalid integer \(text) (only decimal integers, with '_' only between digits)")
        }
        if digits.count > 1 && digits[0] == "0" {
            throw error("invalid integer \(text) (leading zeros are not allowed)")
        }
        var result = 0
        for u in digits where u != "_" {
            let d = Int(u.value - 48)
            let (shifted, o1) = result.multipliedReportingOverflow(by: 10)
            let (next, o2) = negative ? shifted.subtractingReportingOverflow(d) : shifted.addingReportingOverflow(d)
            if o1 || o2 {
                throw error("integer \(text) overflows a 64-bit integer (\(Int.min)...\(Int.max))")
            }
            result = next
        }
        return result
    }

    private mutating func array() throws(ConfigError) -> TOMLValue {
        advance()  // "["
        var items: [TOMLValue] = []
        while true {
            skipWhitespace()
            if peek == "]" { advance(); return .array(items) }
            if atEnd || peek == "#" { throw error("unterminated array (arrays must be on one line)") }
            items.append(try value())
            skipWhitespace()
            switch peek {
            case ",": advance()
            case "]": advance(); return .array(items)
            case nil, "#": throw error("unterminated array (arrays must be on one line)")
            default: throw error("expected ',' or ']' in array, found \(restQuoted)")
            }
        }
    }

    private func startsTriple(_ q: Unicode.Scalar) -> Bool {
        index + 2 < scalars.count && scalars[index] == q && scalars[index + 1] == q && scalars[index + 2] == q
    }

    private func checkControl(_ u: Unicode.Scalar) throws(ConfigError) {
        if (u.value < 0x20 && u != "\t") || u.value == 0x7F {
            throw error("control character U+\(String(u.value, radix: 16, uppercase: true)) in a string must be escaped")
        }
    }

    private mutating func basicString() throws(ConfigError) -> String {
        if startsTriple("\"") { throw error("multi-line strings are not supported") }
        advance()  // opening quote
        var out = String.UnicodeScalarView()
        while let u = peek {
            advance()
            switch u {
            case "\"":
                return String(out)
            case "\\":
                guard let e = peek else { break }
                advance()
                switch e {
                case "\"": out.append("\"")
                case "\\": out.append("\\")
                case "n": out.append("\n")
                case "t": out.append("\t")
                case "r": out.append("\r")
                case "b": out.append("\u{8}")
                case "f": out.append("\u{C}")
                case "u": out.append(try unicodeEscape(4))
                case "U": out.append(try unicodeEscape(8))
                default: throw error("invalid escape sequence \\\(Character(e)) in string")
                }
            default:
                try checkControl(u)
                out.append(u)
            }
        }
        throw error("unterminated string")
    }

    private mutating func unicodeEscape(_ count: Int) throws(ConfigError) -> Unicode.Scalar {
        guard index + count <= scalars.count else { throw error("unterminated string") }
        var hex = String.UnicodeScalarView()
        hex.append(contentsOf: scalars[index..<index + count])
        guard hex.allSatisfy({ $0.properties.isASCIIHexDigit }), let v = UInt32(String(hex), radix: 16),
              let scalar = Unicode.Scalar(v)
        else { throw error("invalid unicode escape \\\(count == 4 ? "u" : "U")\(String(hex)) in string") }
        index += count
        return scalar
    }

    private mutating func literalString() throws(ConfigError) -> String {
        if startsTriple("'") { throw error("multi-line strings are not supported") }
        advance()  // opening quote
        var out = String.UnicodeScalarView()
        while let u = peek {
            advance()
            if u == "'" { return String(out) }
            try checkControl(u)
            out.append(u)
        }
        throw error("unterminated string")
    }
}
