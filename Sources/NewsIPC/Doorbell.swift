import CNewsLinux
import NewsSystem

/// A consumer's doorbell (news_doorbell_t): the consumer advertises that it sleeps, the
/// producer wakes it only then, so a busy channel makes no system call at all.
public struct Doorbell: @unchecked Sendable {
    public static let regionSize = 4096
    let bell: UnsafeMutablePointer<news_doorbell_t>
    /// What to write to wake a consumer that sleeps in poll(2): its eventfd (a server), or
    /// the application's end of a socket's kick (the UDP server, through a socket header's
    /// third line); -1 if it has none.
    let eventFD: Int32

    static let futexSleeper: UInt32 = 1
    static let pollSleeper: UInt32 = 2

    public init(at base: UnsafeMutableRawPointer, eventFD: Int32 = -1) {
        bell = base.assumingMemoryBound(to: news_doorbell_t.self)
        self.eventFD = eventFD
    }

    /// Producer side, after publishing messages. The seq_cst fence pairs with the one in
    /// `sleep`: either the producer sees `sleeping`, or the consumer sees the new head.
    @inline(__always)
    public func ring() {
        news_fence_seq_cst()
        let sleeping = news_load_acquire_u32(&bell.pointee.sleeping)
        guard sleeping != 0 else { return }
        // The value is the consumer's word: anything but "polls, and we hold its eventfd"
        // gets the futex wake, which is harmless if nobody waits.
        if sleeping == Self.pollSleeper && eventFD >= 0 {
            EventFD.signal(eventFD)
        } else {
            _ = news_fetch_add_u32(&bell.pointee.seq, 1)
            Futex.wake(&bell.pointee.seq, count: 1)
        }
        _ = news_fetch_add_u64(&bell.pointee.wakes, 1)
    }

    /// Consumer side: sleep unless `ready()` turns true after advertising the sleep.
    /// Returns early on a wake, a timeout, or a spurious return; callers loop.
    public func sleep(timeoutNanos: UInt64?, ready: () -> Bool) {
        let seq = news_load_acquire_u32(&bell.pointee.seq)
        news_store_release_u32(&bell.pointee.sleeping, Self.futexSleeper)
        news_fence_seq_cst()
        if !ready() {
            Futex.wait(&bell.pointee.seq, expected: seq, timeoutNanos: timeoutNanos)
        }
        news_store_release_u32(&bell.pointee.sleeping, 0)
    }

    /// Consumer side, for a process that must also watch descriptors (a device): sleep in
    /// poll(2) on `descriptors` plus our eventfd, which producers write instead of waking
    /// the futex. Returns the poll entries so the caller sees which descriptor is ready.
    public func sleepPolling(_ descriptors: [Int32], ownEventFD: Int32, timeoutNanos: UInt64, ready: () -> Bool) -> [Poll.Entry] {
        news_store_release_u32(&bell.pointee.sleeping, Self.pollSleeper)
        news_fence_seq_cst()
        var entries = descriptors.map { Poll.Entry(fd: $0) }
        if !ready() {
            entries.append(Poll.Entry(fd: ownEventFD))
            Poll.wait(&entries, timeoutMillis: Int32(clamping: (timeoutNanos + 999_999) / 1_000_000))
            if entries.last!.readable { EventFD.drain(ownEventFD) }
            entries.removeLast()
        }
        news_store_release_u32(&bell.pointee.sleeping, 0)
        return entries
    }

    /// For a consumer waiting on several doorbells at once (`Futex.waitAny`): advertises
    /// the sleep and returns the word and its current value.
    public func prepareSleep() -> (word: UnsafeMutablePointer<UInt32>, value: UInt32) {
        let seq = news_load_acquire_u32(&bell.pointee.seq)
        news_store_release_u32(&bell.pointee.sleeping, Self.futexSleeper)
        news_fence_seq_cst()
        // seq is the first field of news_doorbell_t.
        return (UnsafeMutableRawPointer(bell).assumingMemoryBound(to: UInt32.self), seq)
    }

    public func endSleep() { news_store_release_u32(&bell.pointee.sleeping, 0) }

    /// How many futex wakes producers have issued to this consumer.
    public var wakes: UInt64 { news_load_relaxed_u64(&bell.pointee.wakes) }
}
