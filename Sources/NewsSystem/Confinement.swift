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

    /// Resolves a user name (or a numeric uid) from the password database; newsd does this
    /// before spawning, since the confined server cannot read /etc/passwd.
    public static func lookupUser(_ name: String) throws(SystemError) -> User {
        if let uid = UInt32(name) {
            let gid = getpwuid(uid)?.pointee.pw_gid ?? uid
            return User(uid: uid, gid: gid)
        }
        guard let pw = getpwnam(name) else { throw SystemError("unknown user '\(name)'", errno: ENOENT) }
        return User(uid: pw.pointee.pw_uid, gid: pw.pointee.pw_gid)
    }

    public static func lookupGroup(_ name: String) throws(SystemError) -> UInt32 {
        if let gid = UInt32(name) { return gid }
        guard let gr = getgrnam(name) else { throw SystemError("unknown group '\(name)'", errno: ENOENT) }
        return gr.pointee.gr_gid
    }

    /// Kills this process when newsd dies, so no server outlives its supervisor.
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

    /// Installs a filter that allows exactly `syscalls` (by name) and kills the whole process
    /// on anything else. Unknown names are an error: a typo must not silently widen nothing.
    public static func installSeccomp(allowing syscalls: [String]) throws(SystemError) {
        guard let ctx = seccomp_init(UInt32(SCMP_ACT_KILL_PROCESS)) else {
            throw SystemError("seccomp_init", errno: ENOMEM)
        }
        defer { seccomp_release(ctx) }
        for name in syscalls {
            let nr = seccomp_syscall_resolve_name(name)
            guard nr != __NR_SCMP_ERROR else { throw SystemError("seccomp: unknown system call '\(name)'", errno: EINVAL) }
            let r = seccomp_rule_add_array(ctx, UInt32(SCMP_ACT_ALLOW), nr, 0, nil)
            guard r == 0 else { throw SystemError("seccomp_rule_add \(name)", errno: -r) }
        }
        let r = seccomp_load(ctx)
        guard r == 0 else { throw SystemError("seccomp_load", errno: -r) }
    }

    /// For fault injection: a system call no server's allowlist contains.
    public static func attemptForbiddenSyscall() -> Int32 { news_forbidden_syscall() }
}
