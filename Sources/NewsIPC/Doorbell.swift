import CNewsLinux
import NewsSystem

/// A consumer's doorbell (news_doorbell_t): the consumer advertises that it sleeps, the
/// producer wakes it only then, so a busy channel makes no system call at all.
public struct Doorbell: @unchecked Sendable {
    public static let regionSize = 4096
    let bell: UnsafeMutablePointer<news_doorbell_t>

    public init(at base: UnsafeMutableRawPointer) {
        bell = base.assumingMemoryBound(to: news_doorbell_t.self)
    }

    /// Producer side, after publishing messages. The seq_cst fence pairs with the one in
    /// `sleep`: either the producer sees `sleeping`, or the consumer sees the new head.
    @inline(__always)
    public func ring() {
        news_fence_seq_cst()
        if news_load_acquire_u32(&bell.pointee.sleeping) != 0 {
            _ = news_fetch_add_u32(&bell.pointee.seq, 1)
            Futex.wake(&bell.pointee.seq, count: 1)
            _ = news_fetch_add_u64(&bell.pointee.wakes, 1)
        }
    }

    /// Consumer side: sleep unless `ready()` turns true after advertising the sleep.
    /// Returns early on a wake, a timeout, or a spurious return; callers loop.
    public func sleep(timeoutNanos: UInt64?, ready: () -> Bool) {
        let seq = news_load_acquire_u32(&bell.pointee.seq)
        news_store_release_u32(&bell.pointee.sleeping, 1)
        news_fence_seq_cst()
        if !ready() {
            Futex.wait(&bell.pointee.seq, expected: seq, timeoutNanos: timeoutNanos)
        }
        news_store_release_u32(&bell.pointee.sleeping, 0)
    }

    /// How many futex wakes producers have issued to this consumer.
    public var wakes: UInt64 { news_load_relaxed_u64(&bell.pointee.wakes) }
}
