import CNewsLinux
import CNuma
import CSeccomp
import Glibc

/// The steps that confine a server once it has mapped its regions: pin, bind memory, drop to
/// an unprivileged user with no capabilities, no_new_privs, and a seccomp allowlist whose
/// default action kills the process.
public enum Confinement {
    public struct User: Sendable, Equatable {
        public let uid: UInt32
        public let gid: UInt32
        public init(uid: UInt32, gid: UInt32) { self.uid = uid; self.gid = gid }
    }

    /// The password and group databases, read before spawning: a confined server cannot
    /// read /etc/passwd.
    public static func userNamed(_ name: String) -> User? {
        guard let pw = getpwnam(name) else { return nil }
        return User(uid: pw.pointee.pw_uid, gid: pw.pointee.pw_gid)
    }

    public static func userWithUID(_ uid: UInt32) -> (name: String, gid: UInt32)? {
        guard let pw = getpwuid(uid) else { return nil }
        return (String(cString: pw.pointee.pw_name), pw.pointee.pw_gid)
    }

    public static func groupWithGID(_ gid: UInt32) -> String? {
        guard let gr = getgrgid(gid) else { return nil }
        return String(cString: gr.pointee.gr_name)
    }

    public static func lookupGroup(_ name: String) throws(SystemError) -> UInt32 {
        if let gid = UInt32(name) { return gid }
        guard let gr = getgrnam(name) else { throw SystemError("unknown group '\(name)'", errno: ENOENT) }
        return gr.pointee.gr_gid
    }

    /// Kills this process when newsd dies, so no server outlives its supervisor. Call it
    /// after `dropPrivileges`: the kernel clears the parent-death signal whenever the
    /// process's uid or gid changes.
    public static func dieWithParent(_ parent: Int32) throws(SystemError) {
        try shim(news_die_with_parent(parent), "prctl(PR_SET_PDEATHSIG)")
    }

    /// Binds future allocations to the NUMA node of `cpu`. Returns the node, or nil when the
    /// kernel has no NUMA support (then there is nothing to bind).
    @discardableResult
    public static func bindMemory(toNodeOf cpu: Int) -> Int? {
        guard numa_available() >= 0 else { return nil }
        let node = numa_node_of_cpu(Int32(cpu))
        guard node >= 0, let mask = numa_allocate_nodemask() else { return nil }
        defer { numa_free_nodemask(mask) }
        numa_bitmask_setbit(mask, UInt32(node))
        numa_set_membind(mask)
        return Int(node)
    }

    /// Places an already-mapped region on the node of `cpu` (newsd does this for each region
    /// on behalf of the server that reads it most).
    public static func placeRegion(_ base: UnsafeMutableRawPointer, size: Int, nearCPU cpu: Int) {
        guard numa_available() >= 0 else { return }
        let node = numa_node_of_cpu(Int32(cpu))
        if node >= 0 { numa_tonode_memory(base, size, node) }
    }

    /// Drops to `user`: clears the capability bounding and ambient sets (while still root),
    /// supplementary groups, gid, uid, then whatever capabilities remain.
    public static func dropPrivileges(to user: User) throws(SystemError) {
        guard user.uid != 0, user.gid != 0 else { throw SystemError("refusing to run as root (\(user.uid):\(user.gid))", errno: EPERM) }
        if geteuid() == 0 {
            try shim(news_drop_bounding_set(), "drop capability bounding set")
            try sys(setgroups(0, nil), "setgroups")
        }
        try shim(news_set_ids(user.uid, user.gid), "setresgid/setresuid \(user.uid):\(user.gid)")
        try shim(news_clear_capabilities(), "capset")
        // A dropped uid that can be regained would make all of the above pointless.
        if user.uid != 0 && setuid(0) == 0 { throw SystemError("uid 0 still reachable", errno: EPERM) }
    }

    public static func setNoNewPrivileges() throws(SystemError) {
        try shim(news_set_no_new_privs(), "prctl(PR_SET_NO_NEW_PRIVS)")
    }

    /// One system call a seccomp filter allows, on conditions on its arguments (all must hold).
    public struct SyscallRule: Sendable, Equatable {
        public enum Condition: Sendable, Equatable {
            /// Argument `argument` (0-based) equals `value`, all 64 bits.
            case equals(argument: UInt32, value: UInt64)
            /// Argument `argument` and `mask` equals `value`.
            case maskedEquals(argument: UInt32, mask: UInt64, value: UInt64)
        }

        public let name: String
        public let conditions: [Condition]

        public init(_ name: String, when conditions: [Condition] = []) {
            self.name = name
            self.conditions = conditions
        }

        /// `mmap` or `mprotect` (whose third argument is the protection), allowed only
        /// without PROT_EXEC: no confined server makes memory executable.
        public static func withoutExecute(_ name: String) -> SyscallRule {
            SyscallRule(name, when: [.maskedEquals(argument: 2, mask: UInt64(PROT_EXEC), value: 0)])
        }

        /// `fcntl` for F_GET_SEALS only: a server that checks the seals of a region handed to
        /// it at run time needs nothing else of fcntl.
        public static let sealQuery = SyscallRule("fcntl", when: [.equals(argument: 1, value: UInt64(NEWS_F_GET_SEALS))])

        /// `tgkill`, allowed only with this process as the thread group (its first
        /// argument), which is how abort() and raise() signal the calling thread.
        public static func signalOnlySelf(_ name: String, pid: Int32) -> SyscallRule {
            SyscallRule(name, when: [.equals(argument: 0, value: UInt64(UInt32(bitPattern: pid)))])
        }
    }

    /// Installs a filter that allows exactly `rules` and kills the whole process on anything
    /// else (a call whose arguments fail the conditions included). Unknown names are an
    /// error: a typo must not silently widen nothing.
    public static func installSeccomp(allowing rules: [SyscallRule]) throws(SystemError) {
        guard let ctx = seccomp_init(UInt32(SCMP_ACT_KILL_PROCESS)) else {
            throw SystemError("seccomp_init", errno: ENOMEM)
        }
        defer { seccomp_release(ctx) }
        for rule in rules {
            let nr = seccomp_syscall_resolve_name(rule.name)
            guard nr != __NR_SCMP_ERROR else { throw SystemError("seccomp: unknown system call '\(rule.name)'", errno: EINVAL) }
            let comparisons = rule.conditions.map { condition -> scmp_arg_cmp in
                switch condition {
                case .equals(let arg, let value):
                    scmp_arg_cmp(arg: arg, op: SCMP_CMP_EQ, datum_a: value, datum_b: 0)
                case .maskedEquals(let arg, let mask, let value):
                    scmp_arg_cmp(arg: arg, op: SCMP_CMP_MASKED_EQ, datum_a: mask, datum_b: value)
                }
            }
            let r = comparisons.withUnsafeBufferPointer {
                seccomp_rule_add_array(ctx, UInt32(SCMP_ACT_ALLOW), nr, UInt32($0.count), $0.baseAddress)
            }
            guard r == 0 else { throw SystemError("seccomp_rule_add \(rule.name)", errno: -r) }
        }
        let r = seccomp_load(ctx)
        guard r == 0 else { throw SystemError("seccomp_load", errno: -r) }
    }

    /// For fault injection: a system call no server's allowlist contains.
    public static func attemptForbiddenSyscall() -> Int32 { news_forbidden_syscall() }

    /// For fault injection: sends SIGTERM to process `pid` with tgkill, then with kill;
    /// returns the first failure (negative errno), or 0 if both were delivered. Under the
    /// servers' filter the first call already kills the caller.
    public static func attemptSignal(to pid: Int32) -> Int32 { news_signal_other(pid, SIGTERM) }

    /// For fault injection: maps an anonymous page readable, writable and executable.
    public static func attemptExecutableMapping() -> Int32 { news_map_executable() }

    /// For fault injection: maps an anonymous page read/write (allowed), then mprotects it
    /// to read/execute.
    public static func attemptMakingExecutable() -> Int32 { news_protect_executable() }
}
