import NewsConfig
import NewsSystem

/// Per-server system-call allowlists. Everything not listed, and every listed call whose
/// arguments fail its conditions, kills the process (the filter's default action), which
/// newsd reports as a seccomp violation.
public enum SeccompProfile {
    /// What the server loop itself needs once it is confined: channel I/O (futex, the
    /// kernel-path socket calls, poll), memory management for the Swift runtime, time,
    /// logging to an inherited stderr, and the calls abort()/raise() make.
    static let base: [String] = [
        "read", "write", "writev", "close", "futex", "poll", "ppoll",
        "sendto", "recvfrom", "sendmsg", "recvmsg",
        "munmap", "mremap", "madvise", "brk",
        "clock_gettime", "clock_nanosleep", "nanosleep", "gettimeofday", "sched_yield",
        "getpid", "gettid", "getrandom", "rt_sigreturn", "rt_sigprocmask", "rt_sigaction",
        "restart_syscall", "exit", "exit_group",
    ]

    /// Extra calls a server needs beyond the loop, per server, so that no server carries
    /// another's privileges. The NIC driver's reads and writes on its TAP are `read`/`write`.
    /// The UDP server maps each socket region newsd hands it at run time: it receives the
    /// descriptor (recvmsg), checks the region's size (fstat) and seals (fcntl F_GET_SEALS)
    /// and maps it (mmap).
    /// The NIC driver on a cable sleeps on its own doorbell and the cable's at once.
    static let extras: [ServerKind: [String]] = [
        .udpserver: ["fstat", "newfstatat"],
        .tcpserver: ["fstat", "newfstatat"],
        .nicdriver: ["futex_waitv"],
    ]

    /// The filter for `server` running as process `pid`. Memory may be mapped and
    /// re-protected, never executable: a server that is taken over cannot load code of its
    /// own. Signals go only to the process itself (abort() and raise() use
    /// tgkill(getpid(), gettid(), sig)): kill, tkill, rt_sigqueueinfo, rt_tgsigqueueinfo
    /// and pidfd_send_signal are not allowed at all, so no server can signal newsd or
    /// another server.
    public static func rules(for server: ServerKind, pid: Int32) -> [Confinement.SyscallRule] {
        (base + (extras[server] ?? [])).map { Confinement.SyscallRule($0) } + (server == .udpserver || server == .tcpserver ? [.sealQuery] : []) + [
            .withoutExecute("mmap"),
            .withoutExecute("mprotect"),
            .signalOnlySelf("tgkill", pid: pid),
        ]
    }
}
