import CNewsLinux

/// Why a ring endpoint refused to go on. A ring's indices live in memory the peer can write,
/// so every index read from it is checked before it is used.
public enum RingError: Error, Equatable, CustomStringConvertible, Sendable {
    case badHeader(magic: UInt32, version: UInt32, capacity: UInt32)
    case corrupt(head: UInt64, tail: UInt64, capacity: UInt64)

    public var description: String {
        switch self {
        case let .badHeader(m, v, c): "ring header invalid (magic \(m), version \(v), capacity \(c))"
        case let .corrupt(h, t, c): "ring indices corrupt (head \(h), tail \(t), capacity \(c)): peer wrote garbage"
        }
    }
}

/// Byte layout of one ring: header then `capacity` slots.
public enum RingLayout {
    public static func bytes(capacity: Int) -> Int { MemoryLayout<news_ring_header_t>.size + capacity * MemoryLayout<Message>.size }

    /// Called by newsd when it creates a region (and by tests). `start` is the initial value
    /// of both free-running indices; tests start near UInt64.max to exercise index wrap.
    public static func initialize(_ base: UnsafeMutableRawPointer, capacity: Int, start: UInt64 = 0) {
        let h = base.assumingMemoryBound(to: news_ring_header_t.self)
        h.pointee.magic = NEWS_RING_MAGIC
        h.pointee.version = NEWS_RING_VERSION
        h.pointee.capacity = UInt32(capacity)
        h.pointee.msg_size = UInt32(MemoryLayout<Message>.size)
        news_store_release_u64(&h.pointee.tail, start)
        news_store_release_u64(&h.pointee.head, start)
    }

    /// What either end needs to attach: the header, the slots and the current indices,
    /// refused if the header disagrees with the capacity the caller knows (from its launch
    /// arguments, never from shared memory) or the indices are impossible.
    static func attach(_ base: UnsafeMutableRawPointer, capacity: Int) throws(RingError)
        -> (UnsafeMutablePointer<news_ring_header_t>, UnsafeMutablePointer<Message>, head: UInt64, tail: UInt64) {
        let header = base.assumingMemoryBound(to: news_ring_header_t.self)
        try validate(header, capacity: capacity)
        let slots = (base + MemoryLayout<news_ring_header_t>.size).assumingMemoryBound(to: Message.self)
        let tail = news_load_acquire_u64(&header.pointee.tail)
        let head = news_load_acquire_u64(&header.pointee.head)
        guard head &- tail <= UInt64(capacity) else { throw .corrupt(head: head, tail: tail, capacity: UInt64(capacity)) }
        return (header, slots, head, tail)
    }

    static func validate(_ h: UnsafeMutablePointer<news_ring_header_t>, capacity: Int) throws(RingError) {
        let p = h.pointee
        guard p.magic == NEWS_RING_MAGIC, p.version == NEWS_RING_VERSION, p.capacity == UInt32(capacity),
              p.msg_size == UInt32(MemoryLayout<Message>.size), capacity > 0, capacity & (capacity - 1) == 0
        else { throw .badHeader(magic: p.magic, version: p.version, capacity: p.capacity) }
    }
}

/// The producing end of an SPSC ring. Only this end writes `head`; it keeps its own copy and
/// reloads the consumer's `tail` only when the ring looks full.
public struct RingProducer {
    let header: UnsafeMutablePointer<news_ring_header_t>
    let slots: UnsafeMutablePointer<Message>
    public let capacity: UInt64
    private let mask: UInt64
    private var head: UInt64
    private var tail: UInt64

    /// Attaches to an initialized ring (see `RingLayout.attach`). A restarted producer
    /// adopts `head` after checking it against `tail`.
    public init(at base: UnsafeMutableRawPointer, capacity: Int) throws(RingError) {
        (header, slots, head, tail) = try RingLayout.attach(base, capacity: capacity)
        self.capacity = UInt64(capacity)
        mask = UInt64(capacity - 1)
    }

    /// Enqueues as many of `messages` as fit; returns how many. Throws if the consumer's
    /// tail is impossible (ahead of head, or more than a ring behind).
    @inline(__always)
    public mutating func send(_ messages: UnsafeBufferPointer<Message>) throws(RingError) -> Int {
        var free = capacity &- (head &- tail)
        if free < UInt64(messages.count) {
            let t = news_load_acquire_u64(&header.pointee.tail)
            guard head &- t <= capacity else { throw .corrupt(head: head, tail: t, capacity: capacity) }
            tail = t
            free = capacity &- (head &- tail)
        }
        let n = Int(min(free, UInt64(messages.count)))
        guard n > 0 else { return 0 }
        for i in 0..<n { slots[Int((head &+ UInt64(i)) & mask)] = messages[i] }
        head &+= UInt64(n)
        news_store_release_u64(&header.pointee.head, head)
        return n
    }

    /// The slot the next message will occupy, or nil if the ring is full. The caller fills
    /// the data area tied to that slot, then calls `publish`.
    @inline(__always)
    public mutating func nextSlot() throws(RingError) -> Int? {
        if head &- tail >= capacity {
            let t = news_load_acquire_u64(&header.pointee.tail)
            guard head &- t <= capacity else { throw .corrupt(head: head, tail: t, capacity: capacity) }
            tail = t
            if head &- tail >= capacity { return nil }
        }
        return Int(head & mask)
    }

    /// Publishes one message into the slot `nextSlot` returned.
    @inline(__always)
    public mutating func publish(_ message: Message) {
        slots[Int(head & mask)] = message
        head &+= 1
        news_store_release_u64(&header.pointee.head, head)
    }

    /// Messages sent in this ring's lifetime (as seen by the producer).
    public var sentIndex: UInt64 { head }

    /// Fault injection: publishes a head the consumer must refuse.
    public func scribbleHead() {
        news_store_release_u64(&header.pointee.head, head &+ capacity &* 1000 &+ 7)
    }
}

/// The consuming end of an SPSC ring. Only this end writes `tail`.
public struct RingConsumer {
    let header: UnsafeMutablePointer<news_ring_header_t>
    let slots: UnsafeMutablePointer<Message>
    public let capacity: UInt64
    private let mask: UInt64
    private var head: UInt64
    private var tail: UInt64

    public init(at base: UnsafeMutableRawPointer, capacity: Int) throws(RingError) {
        (header, slots, head, tail) = try RingLayout.attach(base, capacity: capacity)
        self.capacity = UInt64(capacity)
        mask = UInt64(capacity - 1)
    }

    /// Dequeues up to `out.count` messages; returns how many. Throws, without reading any
    /// slot, if the producer's head is impossible.
    @inline(__always)
    public mutating func receive(into out: UnsafeMutableBufferPointer<Message>) throws(RingError) -> Int {
        let (n, _) = try peek(into: out)
        release(n)
        return n
    }

    /// Copies up to `out.count` waiting messages without consuming them: their slots (and
    /// the data areas tied to them) stay ours until `release`, so the caller may read the
    /// data in place. Returns the count and the slot index of the first message.
    @inline(__always)
    public mutating func peek(into out: UnsafeMutableBufferPointer<Message>) throws(RingError) -> (count: Int, firstSlot: Int) {
        // Look at the producer's head again only when what we already know of is less than
        // the caller asked for: one shared cache line read per batch, not per message.
        if head &- tail < UInt64(out.count) {
            let h = news_load_acquire_u64(&header.pointee.head)
            guard h &- tail <= capacity else { throw .corrupt(head: h, tail: tail, capacity: capacity) }
            head = h
            if head == tail { return (0, 0) }
        }
        let n = Int(min(head &- tail, UInt64(out.count)))
        for i in 0..<n { out[i] = slots[Int((tail &+ UInt64(i)) & mask)] }
        return (n, Int(tail & mask))
    }

    /// Hands `n` peeked messages (and their slots) back to the producer.
    @inline(__always)
    public mutating func release(_ n: Int) {
        guard n > 0 else { return }
        tail &+= UInt64(min(n, Int(head &- tail)))
        news_store_release_u64(&header.pointee.tail, tail)
    }

    /// True if a message is waiting (one acquire load; no system call).
    @inline(__always)
    public var hasInput: Bool {
        if head != tail { return true }
        return news_load_acquire_u64(&header.pointee.head) != tail
    }

    public var receivedIndex: UInt64 { tail }
}

/// Recovery for a restarted endpoint whose ring indices are inconsistent (a crash, or a peer
/// that scribbled). Each side only ever rewrites the index it owns: the consumer moves its
/// tail to the producer's head (dropping what was queued), the producer moves its head back
/// to the consumer's tail. Returns whether anything was repaired.
public enum RingRepair {
    @discardableResult
    public static func repairAsConsumer(at base: UnsafeMutableRawPointer, capacity: Int) throws(RingError) -> Bool {
        let h = base.assumingMemoryBound(to: news_ring_header_t.self)
        try RingLayout.validate(h, capacity: capacity)
        let head = news_load_acquire_u64(&h.pointee.head)
        let tail = news_load_acquire_u64(&h.pointee.tail)
        guard head &- tail > UInt64(capacity) else { return false }
        news_store_release_u64(&h.pointee.tail, head)
        return true
    }

    @discardableResult
    public static func repairAsProducer(at base: UnsafeMutableRawPointer, capacity: Int) throws(RingError) -> Bool {
        let h = base.assumingMemoryBound(to: news_ring_header_t.self)
        try RingLayout.validate(h, capacity: capacity)
        let head = news_load_acquire_u64(&h.pointee.head)
        let tail = news_load_acquire_u64(&h.pointee.tail)
        guard head &- tail > UInt64(capacity) else { return false }
        news_store_release_u64(&h.pointee.head, tail)
        return true
    }
}
