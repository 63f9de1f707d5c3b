/// Who each server runs as. Every server gets a uid and gid of its own, so that a server
/// taken over cannot signal, trace or read the /proc of another (the kernel allows those
/// between processes of one uid). By default server i, in `ServerKind.allCases` order, runs as
/// uid and gid `uid_base + i`; `[users]` may name another user for a server.
public enum ServerUser: Sendable, Equatable, CustomStringConvertible {
    /// A user in the password database: the server runs with its uid and primary gid.
    case name(String)
    /// A numeric uid: the server runs with it and the primary gid of its password entry, or
    /// a gid of the same number when there is no entry.
    case uid(UInt32)

    /// Numeric uids `[users]` accepts: not root, and not (uid_t)-1, which setresuid reads as
    /// "leave unchanged".
    public static let uidRange: ClosedRange<Int> = 1...Int(UInt32.max - 1)

    /// The value as TOML (`rendered()`): names quoted, uids bare.
    var tomlValue: TOMLValue {
        switch self {
        case .name(let n): .string(n)
        case .uid(let u): .integer(Int(u))
        }
    }

    public var description: String {
        switch self {
        case .name(let n): "user '\(n)'"
        case .uid(let u): "uid \(u)"
        }
    }

    static let expected = "a user name (1 to 32 characters, no whitespace, ':' or '/') or a uid in \(uidRange)"

    /// Reads one `[users]` value: a string of digits or an integer is a uid, any other
    /// string a name.
    static func parse(_ value: TOMLValue) -> ServerUser? {
        switch value {
        case .integer(let i):
            return uidRange.contains(i) ? .uid(UInt32(i)) : nil
        case .string(let s):
            if !s.isEmpty, s.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) {
                guard let i = Int(s), uidRange.contains(i) else { return nil }
                return .uid(UInt32(i))
            }
            return isUserName(s) ? .name(s) : nil
        default:
            return nil
        }
    }

    /// Printable ASCII without whitespace, ':' (the passwd separator) or '/', at most 32
    /// bytes (useradd's limit), not starting with '-'.
    static func isUserName(_ s: String) -> Bool {
        (1...32).contains(s.utf8.count) && !s.hasPrefix("-")
            && s.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7f && $0 != UInt8(ascii: ":") && $0 != UInt8(ascii: "/") }
    }

    /// Whether `self` is valid as `parse` would have accepted it (for `validate()`).
    var isValid: Bool {
        switch self {
        case .name(let n): Self.isUserName(n) && !n.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
        case .uid(let u): Self.uidRange.contains(Int(u))
        }
    }
}

/// The uid and gid one server runs as.
public struct ServerIDs: Sendable, Equatable, Hashable, CustomStringConvertible {
    public let uid: UInt32
    public let gid: UInt32
    public init(uid: UInt32, gid: UInt32) { self.uid = uid; self.gid = gid }
    public var description: String { "uid \(uid) gid \(gid)" }
}

/// The password and group databases as newsd sees them (Glibc in newsd, a table in tests).
public struct AccountDatabase {
    /// The uid and primary gid of the user named so, if any.
    public var userNamed: (String) -> ServerIDs?
    /// The name of the user with this uid and its primary gid, if any.
    public var userWithUID: (UInt32) -> (name: String, gid: UInt32)?
    /// The name of the group with this gid, if any.
    public var groupWithGID: (UInt32) -> String?

    public init(userNamed: @escaping (String) -> ServerIDs?, userWithUID: @escaping (UInt32) -> (name: String, gid: UInt32)?,
                groupWithGID: @escaping (UInt32) -> String?) {
        self.userNamed = userNamed
        self.userWithUID = userWithUID
        self.groupWithGID = groupWithGID
    }
}

/// Where each key of a parsed file was, as `"table.key"` → line (`".uid_base"`,
/// `"users.ipserver"`), for the errors found only after parsing: those that need the password
/// database. Not part of the configuration's value: two configs that differ only in where
/// their keys were written are equal.
public struct SourceLines: Sendable, Equatable {
    var lines: [String: Int] = [:]
    public init() {}
    public func line(table: String, key: String) -> Int { lines[table + "." + key] ?? 0 }
    public static func == (_: SourceLines, _: SourceLines) -> Bool { true }
}

extension Config {
    /// `uid_base` values: uid 0 is root, and the six uids `uid_base...uid_base+5` stay within
    /// a signed 32-bit id, which some tools (and `ps`) assume.
    public static let uidBaseRange = 1...(Int(Int32.max) - (ServerKind.allCases.count - 1))

    /// The ids `uid_base` gives `kind`: uid and gid `uid_base + index`.
    public func baseIDs(for kind: ServerKind) -> ServerIDs {
        let id = UInt32(uidBase + ServerKind.allCases.firstIndex(of: kind)!)
        return ServerIDs(uid: id, gid: id)
    }

    /// Resolves the ids every server runs as, and refuses any that would let one server act
    /// against another or against newsd: root (uid or gid 0), a uid or gid two servers
    /// share, a gid equal to `controlGroup` (its members may drive newsd), and, for ids
    /// taken from `uid_base`, a uid or gid that an existing account already uses (its other
    /// processes could signal the server). Errors name the key and, for a parsed file, its
    /// line.
    public func serverIDs(accounts: AccountDatabase, controlGroup: UInt32) throws(ConfigError) -> [ServerKind: ServerIDs] {
        var ids: [ServerKind: ServerIDs] = [:]
        /// The key that decided a server's ids, for errors.
        func origin(_ kind: ServerKind) -> (line: Int, key: String, what: String) {
            if let user = users[kind] {
                return (sourceLines.line(table: "users", key: kind.rawValue), kind.rawValue, "\(kind.rawValue) (\(user) in [users])")
            }
            return (sourceLines.line(table: "", key: "uid_base"), "uid_base", "\(kind.rawValue) (uid_base \(uidBase) + \(ServerKind.allCases.firstIndex(of: kind)!))")
        }
        for kind in ServerKind.allCases {
            let o = origin(kind)
            let resolved: ServerIDs
            switch users[kind] {
            case .name(let name):
                guard let found = accounts.userNamed(name) else {
                    throw ConfigError(line: o.line, key: o.key, "unknown user '\(name)' (not in the password database)")
                }
                resolved = found
            case .uid(let uid):
                resolved = ServerIDs(uid: uid, gid: accounts.userWithUID(uid)?.gid ?? uid)
            case nil:
                resolved = baseIDs(for: kind)
                if let user = accounts.userWithUID(resolved.uid) {
                    throw ConfigError(line: o.line, key: o.key,
                                      "uid \(resolved.uid) for \(o.what) belongs to user '\(user.name)'; a server's uid must be its own: choose another uid_base, or name the user in [users]")
                }
                if let group = accounts.groupWithGID(resolved.gid) {
                    throw ConfigError(line: o.line, key: o.key,
                                      "gid \(resolved.gid) for \(o.what) belongs to group '\(group)'; a server's gid must be its own: choose another uid_base, or name the user in [users]")
                }
            }
            if resolved.uid == 0 || resolved.gid == 0 {
                throw ConfigError(line: o.line, key: o.key, "\(o.what) would run as root (\(resolved)); servers must run unprivileged")
            }
            if resolved.gid == controlGroup {
                throw ConfigError(line: o.line, key: o.key,
                                  "\(o.what) would run with gid \(resolved.gid), the control_group, whose members may use newsd's control socket")
            }
            for (other, otherIDs) in ids.sorted(by: { $0.key < $1.key }) {
                if otherIDs.uid == resolved.uid || otherIDs.gid == resolved.gid {
                    let shared = otherIDs.uid == resolved.uid ? "uid \(resolved.uid)" : "gid \(resolved.gid)"
                    throw ConfigError(line: o.line, key: o.key,
                                      "\(o.what) would share \(shared) with \(origin(other).what); every server needs a uid and gid of its own")
                }
            }
            ids[kind] = resolved
        }
        return ids
    }

    static func parseUsers(_ table: TOMLTable, lines: inout [String: Int]) throws(ConfigError) -> [ServerKind: ServerUser] {
        var users: [ServerKind: ServerUser] = [:]
        var seen: [ServerKind: Int] = [:]
        for entry in table.entries {
            guard let server = try? ServerKind.parse(entry.key) else {
                throw ConfigError(line: entry.line, key: entry.key, UnknownServer(name: entry.key).description)
            }
            if let first = seen[server] {
                throw ConfigError(line: entry.line, key: entry.key, "server '\(server.rawValue)' already given on line \(first)")
            }
            guard let user = ServerUser.parse(entry.value) else {
                throw ConfigError(line: entry.line, key: entry.key, "expected \(ServerUser.expected), found \(entry.value)")
            }
            seen[server] = entry.line
            lines["users." + server.rawValue] = entry.line
            users[server] = user
        }
        return users
    }
}
