import CNewsLinux
import Glibc

/// Thin wrappers over descriptor calls, so that nothing outside NewsSystem imports Glibc for
/// system calls.
public enum FD {
    public static func close(_ fd: Int32) { _ = Glibc.close(fd) }

    public static func setCloexec(_ fd: Int32, _ on: Bool) throws(SystemError) {
        let flags = try sys(fcntl(fd, F_GETFD), "fcntl(F_GETFD)")
        try sys(fcntl(fd, F_SETFD, on ? flags | FD_CLOEXEC : flags & ~FD_CLOEXEC), "fcntl(F_SETFD)")
    }

    public static func setNonBlocking(_ fd: Int32) throws(SystemError) {
        let flags = try sys(fcntl(fd, F_GETFL), "fcntl(F_GETFL)")
        try sys(fcntl(fd, F_SETFL, flags | O_NONBLOCK), "fcntl(F_SETFL)")
    }

    public static func isOpen(_ fd: Int32) -> Bool { fcntl(fd, F_GETFD) >= 0 }

    /// Writes all of `bytes`, retrying on EINTR and short writes.
    public static func writeAll(_ fd: Int32, _ bytes: [UInt8]) throws(SystemError) {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemError("write")
            }
            done += n
        }
    }

    /// Writes what a non-blocking descriptor takes now; returns how many bytes (0 when it
    /// would block).
    public static func writeSome(_ fd: Int32, _ bytes: [UInt8]) throws(SystemError) -> Int {
        while true {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress!, $0.count) }
            if n >= 0 { return n }
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == EWOULDBLOCK { return 0 }
            throw SystemError("write")
        }
    }

    public static func writeAll(_ fd: Int32, _ text: String) throws(SystemError) {
        try writeAll(fd, Array(text.utf8))
    }

    /// For last-gasp messages (bad arguments, start-up failure) where there is no one left
    /// to report a write error to.
    public static func writeAllIgnoringErrors(_ fd: Int32, _ text: String) {
        try? writeAll(fd, text)
    }

    /// One read; returns [] at end of file. EAGAIN surfaces as a SystemError.
    public static func read(_ fd: Int32, max: Int = 65536) throws(SystemError) -> [UInt8] {
        var buf = [UInt8](repeating: 0, count: max)
        while true {
            let n = buf.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, max) }
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemError("read")
            }
            buf.removeSubrange(n...)
            return buf
        }
    }

    /// One non-allocating read into `buffer`: the byte count, or nil when nothing is ready
    /// (EAGAIN) or the read failed; `failed` tells the two apart.
    @inline(__always)
    public static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) -> (count: Int?, failed: Bool) {
        while true {
            let n = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if n >= 0 { return (n, false) }
            if errno == EINTR { continue }
            return (nil, !(errno == EAGAIN || errno == EWOULDBLOCK))
        }
    }

    /// One write of `bytes` (a datagram-like device write: all or nothing). False on error.
    @inline(__always)
    public static func writeOnce(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Bool {
        while true {
            let n = Glibc.write(fd, bytes.baseAddress, bytes.count)
            if n >= 0 { return n == bytes.count }
            if errno != EINTR { return false }
        }
    }

    /// One gathering write of `head` then `body` (a device write of one frame with a header
    /// in front, without copying the two together). False on error or a short write.
    @inline(__always)
    public static func writeOnce(_ fd: Int32, _ head: UnsafeRawBufferPointer, _ body: UnsafeRawBufferPointer) -> Bool {
        var iov = (iovec(iov_base: UnsafeMutableRawPointer(mutating: head.baseAddress), iov_len: head.count),
                   iovec(iov_base: UnsafeMutableRawPointer(mutating: body.baseAddress), iov_len: body.count))
        return withUnsafeMutablePointer(to: &iov) { p in
            p.withMemoryRebound(to: iovec.self, capacity: 2) { v in
                while true {
                    let n = Glibc.writev(fd, v, 2)
                    if n >= 0 { return n == head.count + body.count }
                    if errno != EINTR { return false }
                }
            }
        }
    }

    /// Opens (creating if need be) a file for sharing by mapping, at least `size` bytes, with
    /// `mode` set explicitly (not narrowed by the umask).
    public static func openShared(_ path: String, size: Int, mode: mode_t) throws(SystemError) -> Int32 {
        let fd = try sys(open(path, O_RDWR | O_CREAT | O_CLOEXEC, mode), "open \(path)")
        var st = stat()
        if fstat(fd, &st) < 0 || (st.st_size < size && ftruncate(fd, off_t(size)) < 0) || fchmod(fd, mode) < 0 {
            let e = SystemError("prepare \(path)")
            Glibc.close(fd)
            throw e
        }
        return fd
    }

    /// Creates (or truncates) `path` with mode 0644 and writes `bytes` to it.
    public static func writeFile(_ path: String, _ bytes: [UInt8]) throws(SystemError) {
        let fd = try sys(open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644), "open \(path)")
        defer { Glibc.close(fd) }
        try writeAll(fd, bytes)
    }

    /// Reads a whole (small) file such as /proc/PID/status.
    public static func readFile(_ path: String) throws(SystemError) -> String {
        let fd = try sys(open(path, O_RDONLY | O_CLOEXEC), "open \(path)")
        defer { Glibc.close(fd) }
        var out: [UInt8] = []
        while true {
            let chunk = try read(fd)
            if chunk.isEmpty { break }
            out += chunk
        }
        return String(decoding: out, as: UTF8.self)
    }
}

public enum TAP {
    /// Opens TAP device `name` (non-blocking), in `/run/netns/<netns>` if `netns` is set.
    /// With `offloads`, every frame read or written starts with a 10-byte virtio-net header
    /// (`NewsWire.VirtioNetHeader`), and the device passes checksum-offloaded TCP segments of
    /// up to 64 KB both ways (TUN_F_CSUM | TUN_F_TSO4), cutting ours to size itself.
    public static func open(name: String, netns: String, offloads: Bool = false) throws(SystemError) -> Int32 {
        let path = netns.isEmpty ? "" : "/run/netns/" + netns
        return try shim(news_tap_open(name, path, offloads ? 1 : 0), "open TAP \(name)" + (netns.isEmpty ? "" : " in netns \(netns)"))
    }
}

public enum Clock {
    /// CLOCK_MONOTONIC in nanoseconds (vDSO: no system call).
    @inline(__always) public static func nanos() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }

    /// Wall-clock seconds and nanoseconds since the epoch, for log timestamps.
    public static func wall() -> (seconds: Int, nanos: Int) {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return (ts.tv_sec, ts.tv_nsec)
    }

    @inline(__always) public static func cycles() -> UInt64 { news_rdtsc() }

    public static func yield() { sched_yield() }

    public static func sleep(nanos: UInt64) {
        var ts = timespec(tv_sec: Int(nanos / 1_000_000_000), tv_nsec: Int(nanos % 1_000_000_000))
        var left = timespec()
        while nanosleep(&ts, &left) < 0 && errno == EINTR { ts = left }
    }
}

public enum Proc {
    public static var pid: Int32 { getpid() }
    public static var effectiveUID: UInt32 { geteuid() }
    public static func exit(_ code: Int32) -> Never { Glibc.exit(code) }
    public static func exitImmediately(_ code: Int32) -> Never { Glibc._exit(code) }
    public static func environment(_ name: String) -> String? { getenv(name).map { String(cString: $0) } }
    public static func raise(_ signal: Int32) { _ = Glibc.raise(signal) }
    public static func abort() -> Never { Glibc.abort() }
    /// Path of the running executable, from /proc/self/exe.
    public static func executablePath() -> String? {
        var buf = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buf, buf.count - 1)
        guard n > 0 else { return nil }
        return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
