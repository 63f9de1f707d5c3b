// The rule set and its counters in caller-supplied shared memory, so a restarted PacketFilter
// finds the rules it was enforcing and the counts so far.
//
// Layout (little-endian; fixed, RuleStore.regionSize = 14448 bytes):
//
//   header, 64 bytes
//     0  u32 magic 0x4E465253 ("NFRS")     4  u16 version (1)      6  u16 rule record size (32)
//     8  u32 capacity (256)               12  u32 rule count       16  u64 generation (+1 per save)
//    24  u8  default in (0 allow, 1 deny) 25  u8 default out       26  u16 zero
//    28  u32 checksum of bytes 0..<28
//    32  u64 allowed  40 u64 denied  48 u64 allowed by state        (filter totals)
//    56  u32 checksum of bytes 32..<56    60  u32 zero
//   rule records, 256 x 32 bytes from offset 64
//     0 u8 valid marker 0xA5   1 u8 action   2 u8 direction (0 in, 1 out, 2 any)
//     3 u8 protocol (0 any, 1 icmp, 6 tcp, 17 udp)   4 u32 src address   8 u32 dst address
//    12 u8 src prefix   13 u8 dst prefix   14 u8 present: 1 src ports, 2 dst ports, 4 type, 8 code
//    15 u8 icmp type   16 u8 icmp code   17 u8 zero   18 u16 src port lo   20 u16 src port hi
//    22 u16 dst port lo   24 u16 dst port hi   26 u16 zero   28 u32 checksum of 0..<28
//   counter records, 258 x 24 bytes from offset 8256 (rules 0..<256, then default in, default out)
//     0 u64 packets   8 u64 bytes   16 u32 slot number   20 u32 checksum of 0..<20
//
// Every checksum is seeded with the record's slot number (headers use slots 0xFFFFFFFF and
// 0xFFFFFFFE) so a record in the wrong place fails. A rule record is accepted only if it
// re-encodes to exactly the stored bytes, so unused fields must be zero. An invalid header or
// rule record makes load() throw; an invalid counter or totals record is reset to zero and
// counted in `invalidRecords`, since losing a count is harmless and losing a rule is not.

public struct RuleCounter: Sendable, Hashable {
    public var packets: UInt64 = 0
    public var bytes: UInt64 = 0
    public init(packets: UInt64 = 0, bytes: UInt64 = 0) {
        self.packets = packets
        self.bytes = bytes
    }
}

/// Filter-wide verdict totals, kept in the rule store header so they survive restarts too.
public struct VerdictTotals: Sendable, Hashable {
    public var allowed: UInt64 = 0
    public var denied: UInt64 = 0
    public var byState: UInt64 = 0
}

/// A view of the rule region. The region is read only in `load()` (and validated there); after
/// that the in-memory copy is authoritative and every change is written through. Only one
/// RuleStore value may be in use per region: copies would each keep their own counters.
public struct RuleStore: @unchecked Sendable {
    // @unchecked: the raw region is not Sendable; the caller owns it and must give it to exactly
    // one filter, which is what makes sharing the struct across tasks safe.
    public static let capacity = RuleSet.maxRules
    public static let headerSize = 64
    public static let ruleRecordSize = 32
    public static let counterRecordSize = 24
    static let rulesOffset = headerSize
    static let countersOffset = headerSize + capacity * ruleRecordSize
    static let counterSlots = capacity + 2
    public static let regionSize = countersOffset + counterSlots * counterRecordSize

    static let magic: UInt32 = 0x4E46_5253
    static let version: UInt16 = 1
    static let headerSlot: UInt32 = 0xFFFF_FFFF
    static let totalsSlot: UInt32 = 0xFFFF_FFFE
    static let ruleMarker: UInt8 = 0xA5

    private let region: RegionBytes
    private var counters: [RuleCounter]
    public private(set) var totals = VerdictTotals()
    public private(set) var ruleCount = 0
    public private(set) var generation: UInt64 = 0
    /// Counter and totals records found invalid (and reset) by the last `load()`.
    public private(set) var invalidRecords = 0

    public init(region: UnsafeMutableRawBufferPointer) throws(StoreError) {
        guard region.count >= RuleStore.regionSize else {
            throw .regionTooSmall(needed: RuleStore.regionSize, got: region.count)
        }
        self.region = RegionBytes(raw: region)
        counters = Array(repeating: RuleCounter(), count: RuleStore.counterSlots)
    }

    public func counter(rule: Int) -> RuleCounter? {
        guard rule >= 0 && rule < ruleCount else { return nil }
        return counters[rule]
    }

    public func defaultCounter(_ d: Direction) -> RuleCounter {
        counters[RuleStore.capacity + Int(d.rawValue)]
    }

    /// Writes the rule set, resetting the per-rule counters (they describe the old rules).
    /// The header is invalidated first and rewritten last, so a crash mid-save leaves a region
    /// that load() refuses rather than a mix of old and new rules.
    public mutating func save(_ set: RuleSet) throws(StoreError) {
        guard set.rules.count <= RuleStore.capacity else {
            throw .tooManyRules(count: set.rules.count, limit: RuleStore.capacity)
        }
        region.zero(0, 32)
        for slot in 0 ..< RuleStore.capacity {
            let offset = RuleStore.rulesOffset + slot * RuleStore.ruleRecordSize
            if slot < set.rules.count {
                region.write(RuleStore.encode(set.rules[slot], slot: slot), at: offset)
            } else {
                region.zero(offset, RuleStore.ruleRecordSize)
            }
        }
        counters = Array(repeating: RuleCounter(), count: RuleStore.counterSlots)
        for slot in 0 ..< RuleStore.counterSlots { writeCounter(slot) }
        ruleCount = set.rules.count
        generation &+= 1
        writeHeader(set)
        writeTotals()
    }

    /// Reads back and validates what `save` wrote, adopting the stored counters.
    public mutating func load() throws(StoreError) -> RuleSet {
        let header = ByteReader(region.read(0, 32))
        guard header.u32(0) == RuleStore.magic else { throw .badMagic(header.u32(0)) }
        guard header.u16(4) == RuleStore.version, header.u16(6) == UInt16(RuleStore.ruleRecordSize)
        else { throw .unsupportedVersion(header.u16(4)) }
        guard header.u32(28) == recordChecksum(header.bytes, 0 ..< 28, slot: RuleStore.headerSlot)
        else { throw .badHeaderChecksum }
        guard header.u32(8) == UInt32(RuleStore.capacity) else { throw .badCapacity(header.u32(8)) }
        let count = header.u32(12)
        guard count <= UInt32(RuleStore.capacity) else { throw .badCount(count) }
        guard let defaultIn = Action(rawValue: header.u8(24)),
              let defaultOut = Action(rawValue: header.u8(25)), header.u16(26) == 0
        else { throw .badDefaultPolicy }

        var rules: [Rule] = []
        for slot in 0 ..< Int(count) {
            let offset = RuleStore.rulesOffset + slot * RuleStore.ruleRecordSize
            let stored = region.read(offset, RuleStore.ruleRecordSize)
            guard let rule = RuleStore.decode(stored, slot: slot) else {
                throw .invalidRuleRecord(index: slot)
            }
            rules.append(rule)
        }

        invalidRecords = 0
        for slot in 0 ..< RuleStore.counterSlots {
            let offset = RuleStore.countersOffset + slot * RuleStore.counterRecordSize
            let r = ByteReader(region.read(offset, RuleStore.counterRecordSize))
            let valid = r.u32(16) == UInt32(slot)
                && r.u32(20) == recordChecksum(r.bytes, 0 ..< 20, slot: UInt32(slot))
            counters[slot] = valid ? RuleCounter(packets: r.u64(0), bytes: r.u64(8)) : RuleCounter()
            if !valid {
                // Slots past the rule count are unused; a bad one there is not worth reporting.
                if slot < Int(count) || slot >= RuleStore.capacity { invalidRecords += 1 }
                writeCounter(slot)
            }
        }
        let t = ByteReader(region.read(32, 32))
        if t.u32(24) == recordChecksum(t.bytes, 0 ..< 24, slot: RuleStore.totalsSlot) {
            totals = VerdictTotals(allowed: t.u64(0), denied: t.u64(8), byState: t.u64(16))
        } else {
            totals = VerdictTotals()
            invalidRecords += 1
            writeTotals()
        }
        ruleCount = Int(count)
        generation = header.u64(16)
        return RuleSet(rules: rules, defaultIn: defaultIn, defaultOut: defaultOut)
    }

    /// Adds one packet of `bytes` to rule `rule`'s counter. Unknown indices are ignored: a
    /// counter is never worth a trap.
    public mutating func incrementCounter(rule: Int, bytes: Int) {
        guard rule >= 0 && rule < ruleCount else { return }
        bump(slot: rule, bytes: bytes)
    }

    public mutating func incrementDefaultCounter(_ d: Direction, bytes: Int) {
        bump(slot: RuleStore.capacity + Int(d.rawValue), bytes: bytes)
    }

    mutating func addToTotals(allowed: UInt64 = 0, denied: UInt64 = 0, byState: UInt64 = 0) {
        totals.allowed &+= allowed
        totals.denied &+= denied
        totals.byState &+= byState
        writeTotals()
    }

    private mutating func bump(slot: Int, bytes: Int) {
        counters[slot].packets &+= 1
        counters[slot].bytes &+= UInt64(max(bytes, 0))
        writeCounter(slot)
    }

    private func writeCounter(_ slot: Int) {
        var w = ByteWriter(size: RuleStore.counterRecordSize)
        w.put64(counters[slot].packets, at: 0)
        w.put64(counters[slot].bytes, at: 8)
        w.put32(UInt32(slot), at: 16)
        w.put32(recordChecksum(w.bytes, 0 ..< 20, slot: UInt32(slot)), at: 20)
        region.write(w.bytes, at: RuleStore.countersOffset + slot * RuleStore.counterRecordSize)
    }

    private func writeTotals() {
        var w = ByteWriter(size: 32)
        w.put64(totals.allowed, at: 0)
        w.put64(totals.denied, at: 8)
        w.put64(totals.byState, at: 16)
        w.put32(recordChecksum(w.bytes, 0 ..< 24, slot: RuleStore.totalsSlot), at: 24)
        region.write(w.bytes, at: 32)
    }

    private func writeHeader(_ set: RuleSet) {
        var w = ByteWriter(size: 32)
        w.put32(RuleStore.magic, at: 0)
        w.put16(RuleStore.version, at: 4)
        w.put16(UInt16(RuleStore.ruleRecordSize), at: 6)
        w.put32(UInt32(RuleStore.capacity), at: 8)
        w.put32(UInt32(ruleCount), at: 12)
        w.put64(generation, at: 16)
        w.put8(set.defaultIn.rawValue, at: 24)
        w.put8(set.defaultOut.rawValue, at: 25)
        w.put32(recordChecksum(w.bytes, 0 ..< 28, slot: RuleStore.headerSlot), at: 28)
        region.write(w.bytes, at: 0)
    }
}
