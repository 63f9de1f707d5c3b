/// The confinement-relevant fields of /proc/PID/status, which newsd checks before it trusts
/// a server with traffic (and which the tests check too).
public struct ProcStatus: Equatable, Sendable {
    public var uid: UInt32?            // effective uid
    public var uids: [UInt32] = []     // real, effective, saved, filesystem
    public var gids: [UInt32] = []     // real, effective, saved, filesystem
    public var groups: [UInt32]?       // supplementary groups (nil: no Groups line)
    public var capEff: UInt64?
    public var seccomp: Int?           // 2 = filter mode
    public var noNewPrivs: Int?
    public var cpusAllowed: String?    // Cpus_allowed_list, e.g. "1" or "0-1"
    public var state: String?

    public init() {}

    /// Parses the text of a status file; unknown or malformed lines are skipped.
    public static func parse(_ text: String) -> ProcStatus {
        var s = ProcStatus()
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = line[..<colon]
            let value = line[line.index(after: colon)...].trimmingWhitespace()
            switch key {
            case "Uid":
                s.uids = ids(value)
                if s.uids.count >= 2 { s.uid = s.uids[1] }
            case "Gid": s.gids = ids(value)
            case "Groups": s.groups = ids(value)
            case "CapEff": s.capEff = UInt64(value, radix: 16)
            case "Seccomp": s.seccomp = Int(value)
            case "NoNewPrivs": s.noNewPrivs = Int(value)
            case "Cpus_allowed_list": s.cpusAllowed = String(value)
            case "State": s.state = String(value)
            default: break
            }
        }
        return s
    }

    /// Whitespace-separated ids; a field that is not a number is dropped (and the count
    /// then no longer matches, which the check reports).
    private static func ids(_ value: Substring) -> [UInt32] {
        value.split(whereSeparator: { $0 == "\t" || $0 == " " }).compactMap { UInt32($0) }
    }

    public static func read(pid: Int32) throws(SystemError) -> ProcStatus {
        parse(try FD.readFile("/proc/\(pid)/status"))
    }

    /// Whether the process is confined as NEWS requires, running as `uid` and `gid` (its
    /// own: newsd gives no two servers the same ids); nil if so, else what is wrong.
    public func confinementProblem(expectedCPU: Int, uid: UInt32, gid: UInt32) -> String? {
        // All four ids: a real or saved id left behind (root's, or another server's) could
        // be switched back to.
        if uid == 0 || gid == 0 || uids.contains(0) || gids.contains(0) {
            return "runs with root ids (Uid \(uids.map(String.init).joined(separator: " ")), Gid \(gids.map(String.init).joined(separator: " ")))"
        }
        if uids.count != 4 || uids.contains(where: { $0 != uid }) {
            return "runs as Uid \(uids.map(String.init).joined(separator: " ")), not its own uid \(uid)"
        }
        if gids.count != 4 || gids.contains(where: { $0 != gid }) {
            return "runs as Gid \(gids.map(String.init).joined(separator: " ")), not its own gid \(gid)"
        }
        if groups != [] { return "has supplementary groups (Groups \(groups.map { $0.map(String.init).joined(separator: " ") } ?? "?"))" }
        if capEff != 0 { return "has capabilities (CapEff \(capEff.map { String($0, radix: 16) } ?? "?"))" }
        if seccomp != 2 { return "no seccomp filter (Seccomp \(seccomp.map(String.init) ?? "?"))" }
        if noNewPrivs != 1 { return "no_new_privs not set" }
        if cpusAllowed != String(expectedCPU) { return "pinned to \(cpusAllowed ?? "?"), not cpu \(expectedCPU)" }
        return nil
    }
}

extension Substring {
    func trimmingWhitespace() -> Substring {
        var s = self
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\r" { s.removeLast() }
        return s
    }
}
