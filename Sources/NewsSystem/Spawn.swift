import CNewsLinux
import Glibc

/// How a child process ended, as newsd records it.
public enum ExitReason: Equatable, Sendable, CustomStringConvertible {
    case exited(code: Int32)
    case signaled(signal: Int32, coreDumped: Bool)

    /// SIGSYS is what the kernel delivers when a seccomp filter kills a process.
    public var isSeccompViolation: Bool {
        if case .signaled(let s, _) = self { return s == SIGSYS }
        return false
    }

    public var description: String {
        switch self {
        case .exited(let code): return "exit code \(code)"
        case .signaled(let s, let core):
            let name = Signals.name(s)
            if s == SIGSYS { return "seccomp violation (\(name))" }
            return "killed by \(name)" + (core ? " (core dumped)" : "")
        }
    }
}

public enum Signals {
    public static func name(_ s: Int32) -> String {
        switch s {
        case SIGSEGV: "SIGSEGV"
        case SIGABRT: "SIGABRT"
        case SIGKILL: "SIGKILL"
        case SIGTERM: "SIGTERM"
        case SIGSYS: "SIGSYS"
        case SIGBUS: "SIGBUS"
        case SIGILL: "SIGILL"
        case SIGTRAP: "SIGTRAP"
        case SIGINT: "SIGINT"
        case SIGFPE: "SIGFPE"
        default: "signal \(s)"
        }
    }

    /// Blocks the signals and returns a non-blocking signalfd that reports them.
    public static func signalFD(_ signals: [Int32]) throws(SystemError) -> Int32 {
        try shim(signals.withUnsafeBufferPointer { news_signalfd_for($0.baseAddress, Int32($0.count)) }, "signalfd")
    }

    /// Drains a signalfd; returns the signal numbers read.
    public static func drain(_ fd: Int32) -> [Int32] {
        var out: [Int32] = []
        while true {
            let s = news_signalfd_next(fd)
            if s <= 0 { return out }
            out.append(s)
        }
    }

    public static func send(_ signal: Int32, to pid: Int32) { _ = kill(pid, signal) }
}

/// A child started with posix_spawn (never fork: newsd may be multi-threaded under Swift's
/// runtime), watched through a pidfd.
public struct Child: Sendable {
    public let pid: Int32
    public let pidfd: Int32

    /// Spawns `path` with `arguments` (argv[0] included) and `environment`. `descriptors[i]`
    /// becomes descriptor 3 + i in the child; every other newsd descriptor is close-on-exec.
    public static func spawn(path: String, arguments: [String], environment: [String],
                             descriptors: [Int32]) throws(SystemError) -> Child {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        // Two steps so that a source number that is also some target number cannot be
        // clobbered before it is copied: first above every target, then into place.
        let stage: Int32 = 900
        for (i, fd) in descriptors.enumerated() {
            guard fd >= 0 && fd < stage else { throw SystemError("spawn: descriptor \(fd) out of range", errno: EBADF) }
            posix_spawn_file_actions_adddup2(&actions, fd, stage + Int32(i))
        }
        for i in descriptors.indices {
            posix_spawn_file_actions_adddup2(&actions, stage + Int32(i), 3 + Int32(i))
            posix_spawn_file_actions_addclose(&actions, stage + Int32(i))
        }
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var empty = sigset_t()
        sigemptyset(&empty)
        var defaults = sigset_t()
        sigfillset(&defaults)
        posix_spawnattr_setsigmask(&attr, &empty)
        posix_spawnattr_setsigdefault(&attr, &defaults)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) }; envp.forEach { free($0) } }
        var pid: pid_t = 0
        let r = posix_spawn(&pid, path, &actions, &attr, argv, envp)
        guard r == 0 else { throw SystemError("posix_spawn \(path)", errno: r) }
        let pidfd = news_pidfd_open(pid)
        guard pidfd >= 0 else {
            Glibc.kill(pid, SIGKILL)
            throw SystemError("pidfd_open", errno: -pidfd)
        }
        return Child(pid: pid, pidfd: pidfd)
    }

    /// Non-blocking reap: nil while the child still runs.
    public func reap() -> ExitReason? {
        var code: Int32 = 0
        var status: Int32 = 0
        guard news_pidfd_reap(pidfd, &code, &status) == 0 else { return nil }
        if code == CLD_EXITED { return .exited(code: status) }
        return .signaled(signal: status, coreDumped: code == CLD_DUMPED)
    }

    public func kill(_ signal: Int32 = SIGKILL) { _ = Glibc.kill(pid, signal) }
    public func closePidFD() { Glibc.close(pidfd) }
}
