/// A bounded record of the datagrams ipserver recently delivered to one transport, so
/// that an ICMP error the transport asks for can be checked to quote one of them. Without
/// it a transport could make NEWS send ICMP errors, with any quoted content, to any host.
///
/// What is kept is a digest of the part an ICMP error quotes (RFC 792: the IP header and
/// the first 8 bytes of data), under a key that is random per process, so a transport
/// cannot construct a collision. The table is set-associative and fixed in size: a new
/// delivery replaces the oldest entry of its set, and entries older than `maxAgeNanos`
/// no longer count. A request takes its entry, so each delivery earns one ICMP error at
/// most. Nothing here allocates after `init`.
public struct RecentDeliveries: Sendable {
    public struct Configuration: Sendable {
        /// A power of two.
        public var sets: Int
        public var ways: Int
        public var maxAgeNanos: UInt64
        public init(sets: Int = 256, ways: Int = 4, maxAgeNanos: UInt64 = 1_000_000_000) {
            self.sets = sets; self.ways = ways; self.maxAgeNanos = maxAgeNanos
        }
    }

    struct Entry: Sendable {
        var digest: UInt64 = 0
        var at: UInt64 = 0
        /// When it was recorded among all records: the oldest goes first even when many
        /// share one timestamp (a batch handled in one pass of the loop).
        var order: UInt64 = 0
        var used = false
    }

    public let configuration: Configuration
    var entries: [Entry]
    let key: (UInt64, UInt64)
    /// Live entries pushed out by newer deliveries before anyone asked about them.
    public private(set) var displaced: UInt64 = 0
    private var recorded: UInt64 = 0

    public init(configuration: Configuration = Configuration()) {
        precondition(configuration.sets > 0 && configuration.sets & (configuration.sets - 1) == 0 && configuration.ways > 0)
        self.configuration = configuration
        entries = Array(repeating: Entry(), count: configuration.sets * configuration.ways)
        key = (UInt64.random(in: .min ... .max), UInt64.random(in: .min ... .max))
    }

    /// How much of a packet an ICMP error quotes: its IP header and up to 8 bytes after.
    public static func quoteLength(packetLength: Int, headerLength: Int) -> Int {
        min(packetLength, headerLength + 8)
    }

    /// Notes that the datagram whose quotable part is `quote` was delivered at `now`.
    public mutating func record(_ quote: UnsafeRawBufferPointer, now: UInt64) {
        let d = digest(quote)
        let base = set(of: d)
        var victim = base
        for i in base ..< base + configuration.ways {
            let e = entries[i]
            if !e.used || !fresh(e, now: now) { victim = i; break }
            if e.order < entries[victim].order { victim = i }
        }
        if entries[victim].used && fresh(entries[victim], now: now) { displaced &+= 1 }
        recorded &+= 1
        entries[victim] = Entry(digest: d, at: now, order: recorded, used: true)
    }

    /// Whether a datagram quoted as `quote` was delivered within the age limit; if so its
    /// entry is used up.
    public mutating func take(_ quote: UnsafeRawBufferPointer, now: UInt64) -> Bool {
        let d = digest(quote)
        let base = set(of: d)
        for i in base ..< base + configuration.ways where entries[i].used && entries[i].digest == d && fresh(entries[i], now: now) {
            entries[i].used = false
            return true
        }
        return false
    }

    func fresh(_ e: Entry, now: UInt64) -> Bool { now >= e.at && now - e.at <= configuration.maxAgeNanos }

    func set(of digest: UInt64) -> Int { (Int(truncatingIfNeeded: digest >> 32) & (configuration.sets - 1)) * configuration.ways }

    /// A keyed hash (SipHash via the standard library's Hasher, which also mixes in a
    /// per-process seed) of the quoted bytes.
    func digest(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var h = Hasher()
        h.combine(key.0)
        h.combine(key.1)
        h.combine(bytes.count)
        h.combine(bytes: bytes)
        return UInt64(bitPattern: Int64(h.finalize()))
    }
}
