import CNewsLinux
import Glibc

/// Futex wait/wake on a 32-bit word in shared memory (process-shared futexes).
public enum Futex {
    /// Sleeps while `*word == expected`, at most `timeoutNanos` (nil: forever). Returns false
    /// on timeout; spurious returns are possible and callers re-check their condition.
    @discardableResult
    public static func wait(_ word: UnsafeMutablePointer<UInt32>, expected: UInt32, timeoutNanos: UInt64?) -> Bool {
        let r = news_futex_wait(word, expected, timeoutNanos.map { Int64(clamping: $0) } ?? -1)
        return r != -110 // ETIMEDOUT
    }

    /// Sleeps until any of `words` is woken (or no longer holds its expected value), at most
    /// `timeoutNanos`. One system call for up to 64 words (futex_waitv).
    public static func waitAny(_ words: [UnsafeMutablePointer<UInt32>], expected: [UInt32], timeoutNanos: UInt64?) {
        words.withUnsafeBufferPointer { w in expected.withUnsafeBufferPointer { e in
            _ = news_futex_waitv(UnsafeRawPointer(w.baseAddress!).assumingMemoryBound(to: UnsafeMutablePointer<UInt32>?.self),
                                 e.baseAddress, Int32(w.count), timeoutNanos.map { Int64(clamping: $0) } ?? -1)
        } }
    }

    public static func wake(_ word: UnsafeMutablePointer<UInt32>, count: Int32 = 1) {
        _ = news_futex_wake(word, count)
    }
}

public enum CPU {
    @inline(__always) public static func relax() { news_cpu_relax() }

    /// Pins the calling thread to one CPU.
    public static func pin(to cpu: Int) throws(SystemError) {
        try shim(news_pin_to_cpu(Int32(cpu)), "sched_setaffinity cpu \(cpu)")
    }

    /// Sets every thread of this process (and so the threads it starts later) to run only on
    /// `cpus` (each in 0...63, not empty).
    public static func setProcessAffinity(_ cpus: [Int]) throws(SystemError) {
        let mask = cpus.reduce(UInt64(0)) { $1 >= 0 && $1 < 64 ? $0 | (1 << UInt64($1)) : $0 }
        guard mask != 0 else { throw SystemError("sched_setaffinity: no CPU in 0...63 among \(cpus)", errno: EINVAL) }
        try shim(news_set_process_affinity(mask), "sched_setaffinity cpus \(cpus)")
    }

    /// CPUs this process may run on (first 64).
    public static func allowed() throws(SystemError) -> [Int] {
        var mask: UInt64 = 0
        try shim(news_online_cpus(&mask), "sched_getaffinity")
        return (0..<64).filter { mask & (1 << UInt64($0)) != 0 }
    }
}

/// An eventfd used as a doorbell by a process that sleeps in poll(2).
public enum EventFD {
    public static func create() throws(SystemError) -> Int32 { try shim(news_eventfd(), "eventfd") }
    public static func signal(_ fd: Int32) {
        var one: UInt64 = 1
        _ = write(fd, &one, 8)
    }
    public static func drain(_ fd: Int32) {
        var value: UInt64 = 0
        _ = read(fd, &value, 8)
    }
}
