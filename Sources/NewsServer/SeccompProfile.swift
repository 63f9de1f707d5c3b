import NewsConfig

/// Per-server system-call allowlists. Everything not listed kills the process (the filter's
/// default action), which newsd reports as a seccomp violation.
public enum SeccompProfile {
    /// What the server loop itself needs once it is confined: channel I/O (futex, the
    /// kernel-path socket calls, poll), memory management for the Swift runtime, time,
    /// logging to an inherited stderr, and the calls abort()/raise() make.
    static let base: [String] = [
        "read", "write", "writev", "close", "futex", "poll", "ppoll",
        "sendto", "recvfrom", "sendmsg", "recvmsg",
        "mmap", "munmap", "mremap", "madvise", "brk", "mprotect",
        "clock_gettime", "clock_nanosleep", "nanosleep", "gettimeofday", "sched_yield",
        "getpid", "gettid", "getrandom", "rt_sigreturn", "rt_sigprocmask", "rt_sigaction",
        "tgkill", "restart_syscall", "exit", "exit_group",
    ]

    /// Extra calls a server needs beyond the loop, per server, so that no server carries
    /// another's privileges. The NIC driver's reads and writes on its TAP are `read`/`write`.
    /// The UDP server maps each socket region newsd hands it at run time: it receives the
    /// descriptor (recvmsg), checks the region's size (fstat) and seals (fcntl F_GET_SEALS)
    /// and maps it (mmap).
    /// The NIC driver on a cable sleeps on its own doorbell and the cable's at once.
    static let extras: [ServerKind: [String]] = [
        .udpserver: ["fstat", "newfstatat", "fcntl"],
        .nicdriver: ["futex_waitv"],
    ]

    public static func allowlist(for server: ServerKind) -> [String] {
        base + (extras[server] ?? [])
    }
}
