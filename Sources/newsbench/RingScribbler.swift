import CNewsLinux
import NewsSystem

/// What a hostile or broken peer does to a ring: writes indices it does not own, or
/// datagrams of the wrong size. Used by the ring tests to show the other end notices.
enum RingScribbler {
    static func setHead(at base: UnsafeMutableRawPointer, to value: UInt64) {
        news_store_release_u64(&base.assumingMemoryBound(to: news_ring_header_t.self).pointee.head, value)
    }
    static func setTail(at base: UnsafeMutableRawPointer, to value: UInt64) {
        news_store_release_u64(&base.assumingMemoryBound(to: news_ring_header_t.self).pointee.tail, value)
    }
    static func head(at base: UnsafeMutableRawPointer) -> UInt64 {
        news_load_acquire_u64(&base.assumingMemoryBound(to: news_ring_header_t.self).pointee.head)
    }
    static func tail(at base: UnsafeMutableRawPointer) -> UInt64 {
        news_load_acquire_u64(&base.assumingMemoryBound(to: news_ring_header_t.self).pointee.tail)
    }
    static func sendRaw(fd: Int32, bytes: Int) {
        UnixSocket.sendRaw(fd: fd, [UInt8](repeating: 0xAB, count: bytes))
    }
}
