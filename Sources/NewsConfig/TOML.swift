// The TOML subset used by the NEWS configuration file:
//
// - comments (`#` to end of line) and blank lines;
// - table headers `[table]` and `[a.b]` (bare or quoted key parts);
// - `key = value` with a bare key (`A-Za-z0-9_-`) or a quoted key (`"..."` or `'...'`);
// - values: basic strings `"..."` (escapes `\" \\ \n \t \r \b \f`, and `\u`/`\U` with 4/8 hex digits), literal
//   strings `'...'`, decimal integers (optional sign, `_` between digits, 64-bit), `true` /
//   `false`, and single-line arrays of these (may be empty, trailing comma allowed).
//
// Not supported (reported as errors): dotted keys in `key = value`, multi-line strings, floats,
// dates, hex/octal/binary integers, inline tables, arrays of tables and multi-line arrays.
// Duplicate keys and duplicate tables are errors.

/// A TOML value.
public enum TOMLValue: Sendable, Equatable, CustomStringConvertible {
    case string(String)
    case integer(Int)
    case boolean(Bool)
    case array([TOMLValue])

    /// The value written as TOML (strings quoted and escaped), as used in `rendered()` and in
    /// error messages.
    public var description: String {
        switch self {
        case .string(let s): TOML.quote(s)
        case .integer(let i): String(i)
        case .boolean(let b): b ? "true" : "false"
        case .array(let items): "[" + items.map(\.description).joined(separator: ", ") + "]"
        }
    }
}

/// One `key = value` line.
public struct TOMLEntry: Sendable, Equatable {
    public let key: String
    public let value: TOMLValue
    /// 1-based line number of the entry.
    public let line: Int

    public init(key: String, value: TOMLValue, line: Int) {
        self.key = key
        self.value = value
        self.line = line
    }
}

/// A table: the root table (empty `path`) or one introduced by a `[header]`.
public struct TOMLTable: Sendable, Equatable {
    /// The header's key parts; `[]` for the root table.
    public let path: [String]
    /// Line of the header; 0 for the root table.
    public let line: Int
    /// The entries in file order.
    public internal(set) var entries: [TOMLEntry]

    public init(path: [String], line: Int, entries: [TOMLEntry] = []) {
        self.path = path
        self.line = line
        self.entries = entries
    }

    /// The header's name as written in TOML (`a.b`, parts quoted where needed); "" for the root.
    public var name: String { path.map(TOML.key).joined(separator: ".") }

    public subscript(key: String) -> TOMLEntry? { entries.first { $0.key == key } }
}

/// A parsed TOML file: the root table first, then each `[header]` table in file order.
public struct TOMLDocument: Sendable, Equatable {
    public internal(set) var tables: [TOMLTable]

    public init(tables: [TOMLTable] = [TOMLTable(path: [], line: 0)]) {
        self.tables = tables
    }

    public var root: TOMLTable { tables[0] }

    public func table(_ path: [String]) -> TOMLTable? { tables.first { $0.path == path } }

    /// Parses `text`; errors carry the exact 1-based line number.
    public static func parse(_ text: String) throws(ConfigError) -> TOMLDocument {
        var parser = TOMLParser()
        try parser.parse(text)
        return parser.document
    }
}

/// Helpers for writing TOML.
public enum TOML {
    /// `s` as a TOML basic string, escaped so that parsing gives back exactly `s`.
    public static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if u.value < 0x20 || u.value == 0x7F {
                    let hex = String(u.value, radix: 16, uppercase: true)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }

    /// `k` as a TOML key: bare if possible, otherwise quoted.
    public static func key(_ k: String) -> String {
        if !k.isEmpty && k.unicodeScalars.allSatisfy(isBareKeyScalar) { return k }
        return quote(k)
    }

    static func isBareKeyScalar(_ u: Unicode.Scalar) -> Bool {
        switch u {
        case "A"..."Z", "a"..."z", "0"..."9", "_", "-": true
        default: false
        }
    }
}
