import CNewsLinux

/// A server's status page (news_status_page_t), shared with newsd only.
public struct StatusPage: @unchecked Sendable {
    public static let regionSize = 8192
    public static let maxCounters = Int(NEWS_MAX_COUNTERS)
    public static let maxNameLength = Int(NEWS_COUNTER_NAME) - 1

    public enum State: UInt32, Sendable { case starting = 0, ready = 1, stopping = 2 }

    let page: UnsafeMutablePointer<news_status_page_t>

    public init(at base: UnsafeMutableRawPointer) {
        page = base.assumingMemoryBound(to: news_status_page_t.self)
    }

    // ---- written by newsd ---------------------------------------------------------------
    /// Prepares the page for a new incarnation. Counters survive a restart (they count the
    /// server's whole life, not one process's); a fresh start zeroes them.
    public func prepare(generation: UInt64, fresh: Bool) {
        if fresh || page.pointee.magic != NEWS_STATUS_MAGIC {
            UnsafeMutableRawPointer(page).initializeMemory(as: UInt8.self, repeating: 0, count: MemoryLayout<news_status_page_t>.size)
        }
        page.pointee.magic = NEWS_STATUS_MAGIC
        news_store_release_u32(&page.pointee.state, State.starting.rawValue)
        news_store_release_u32(&page.pointee.command, 0)
        news_store_release_u32(&page.pointee.capture, 0)
        news_store_release_u64(&page.pointee.generation, generation)
    }

    public func post(command: UInt32) { news_store_release_u32(&page.pointee.command, command) }
    public func set(capture on: Bool) { news_store_release_u32(&page.pointee.capture, on ? 1 : 0) }
    /// Read by the NIC driver for every frame: one load of a line it already holds.
    @inline(__always) public var capturing: Bool { news_load_acquire_u32(&page.pointee.capture) != 0 }

    // ---- written by the server ----------------------------------------------------------
    @inline(__always) public func beat() { news_store_release_u64(&page.pointee.heartbeat, page.pointee.heartbeat &+ 1) }
    public func set(state: State) { news_store_release_u32(&page.pointee.state, state.rawValue) }
    @inline(__always) public var command: UInt32 { news_load_acquire_u32(&page.pointee.command) }
    public func clearCommand() { news_store_release_u32(&page.pointee.command, 0) }

    /// Registers a counter name and returns its slot; an existing slot of the same name (from
    /// an earlier incarnation) is reused so that counts carry across restarts.
    public func counter(named name: String) -> Int? {
        let n = min(Int(page.pointee.ncounters), Self.maxCounters)
        for i in 0..<n where counterName(i) == name { return i }
        guard n < Self.maxCounters else { return nil }
        let bytes = Array(name.utf8.prefix(Self.maxNameLength))
        let record = Self.record(page, n)
        for i in 0..<Int(NEWS_COUNTER_NAME) { record.storeBytes(of: i < bytes.count ? bytes[i] : UInt8(0), toByteOffset: i, as: UInt8.self) }
        news_store_relaxed_u64(Self.value(page, n), 0)
        news_store_release_u32(&page.pointee.ncounters, UInt32(n + 1))
        return n
    }

    @inline(__always)
    public func add(_ slot: Int, _ delta: UInt64 = 1) {
        let p = Self.value(page, slot)
        news_store_relaxed_u64(p, news_load_relaxed_u64(p) &+ delta)
    }

    // ---- read by newsd (validated: the server may have written anything) ------------------
    public var magicValid: Bool { page.pointee.magic == NEWS_STATUS_MAGIC }
    public var heartbeat: UInt64 { news_load_acquire_u64(&page.pointee.heartbeat) }
    public var state: State? { State(rawValue: news_load_acquire_u32(&page.pointee.state)) }
    public var generation: UInt64 { news_load_acquire_u64(&page.pointee.generation) }

    /// The counters, with names checked: printable, non-empty, NUL-terminated inside the
    /// record. Records that fail are reported as `invalid`, never trusted.
    public func counters() -> (valid: [(String, UInt64)], invalid: Int) {
        let n = Int(news_load_acquire_u32(&page.pointee.ncounters))
        let count = min(n, Self.maxCounters)
        var out: [(String, UInt64)] = []
        var bad = n > Self.maxCounters ? 1 : 0
        for i in 0..<count {
            if let name = counterName(i) { out.append((name, counterValue(i))) } else { bad += 1 }
        }
        return (out, bad)
    }

    func counterName(_ i: Int) -> String? {
        let record = Self.record(page, i)
        var bytes: [UInt8] = []
        for j in 0..<Int(NEWS_COUNTER_NAME) {
            let b = record.load(fromByteOffset: j, as: UInt8.self)
            if b == 0 { break }
            guard (0x21...0x7e).contains(b) else { return nil }
            bytes.append(b)
        }
        guard !bytes.isEmpty, bytes.count < Int(NEWS_COUNTER_NAME) else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }

    func counterValue(_ i: Int) -> UInt64 { news_load_relaxed_u64(Self.value(page, i)) }

    static let countersOffset = MemoryLayout<news_status_page_t>.offset(of: \.counters)!

    @inline(__always)
    static func record(_ page: UnsafeMutablePointer<news_status_page_t>, _ i: Int) -> UnsafeMutableRawPointer {
        UnsafeMutableRawPointer(page) + countersOffset + i * MemoryLayout<news_counter_t>.stride
    }

    @inline(__always)
    static func value(_ page: UnsafeMutablePointer<news_status_page_t>, _ i: Int) -> UnsafeMutablePointer<UInt64> {
        (record(page, i) + Int(NEWS_COUNTER_NAME)).assumingMemoryBound(to: UInt64.self)
    }
}

/// Fault-injection commands newsd posts to a server's status page (`newsctl crash`).
public enum FaultCommand: UInt32, CaseIterable, Sendable {
    /// `scribble` is not a crash: the server corrupts the index (or, on the kernel path,
    /// sends a wrong-sized datagram) that a neighbour reads from it; nothing may restart.
    /// `signal`, `execmem` and `execprotect` try what the seccomp argument filters forbid:
    /// signalling newsd, mapping memory executable, making mapped memory executable.
    case segv = 1, abort, kill, hang, exit, syscall, scribble, signal, execmem, execprotect
    public var name: String { String(describing: self) }
    public init?(name: String) {
        guard let c = FaultCommand.allCases.first(where: { $0.name == name }) else { return nil }
        self = c
    }
}
