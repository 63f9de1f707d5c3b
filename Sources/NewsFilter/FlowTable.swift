// Connection-tracking state in caller-supplied shared memory, so a restarted PacketFilter keeps
// letting replies of existing connections in.
//
// Layout (little-endian; FlowTable.regionSize(capacity:) = 80 + 40 * capacity bytes):
//
//   header, 80 bytes
//     0  u32 magic 0x4E464654 ("NFFT")   4  u16 version (1)   6  u16 record size (40)
//     8  u32 capacity                   12  u32 live entries  16  u64 generation (+1 per start)
//    24  u32 checksum of bytes 0..<24   28  u32 zero
//    32  u64 flows created  40 u64 expired  48 u64 table full  56 u64 evicted  64 u64 invalid
//    72  u32 checksum of bytes 32..<72  76  u32 zero
//   flow records, capacity x 40 bytes from offset 80; a free slot is all zeros
//     0  u8 marker 0x5A   1 u8 protocol (1, 6, 17)
//     2  u8 flags: 1 originator is low endpoint, 2 originator direction out, bits 2-5 TCP progress
//     3  u8 zero   4 u32 slot number   8 u32 low address   12 u32 high address
//    16  u16 low port (icmp: echo id)  18 u16 high port   20 u32 zero   24 u64 expiry (ns)
//    32  u32 checksum of bytes 0..<32  36 u32 zero
//
// Checksums are seeded with the slot number (header 0xFFFFFFFF, stats 0xFFFFFFFE). The capacity
// always follows from the region's size, so a damaged header cannot make us index outside it.
// Adopting a region (fresh: false) keeps every record that re-encodes to exactly its stored
// bytes and zeroes the rest, counting them; header and stats are rebuilt when they do not
// validate. After adoption the in-memory copy is authoritative and changes are written through.

public struct FlowStats: Sendable, Hashable {
    public var created: UInt64 = 0
    public var expired: UInt64 = 0
    /// Times a new flow found the table full (after reclaiming expired entries).
    public var tableFull: UInt64 = 0
    public var evicted: UInt64 = 0
    public var invalidRecords: UInt64 = 0
}

public struct FlowTable: @unchecked Sendable {
    // @unchecked: the raw region is not Sendable; the caller hands it to exactly one table.
    // Only one FlowTable value may be used per region: copies would keep diverging indexes.

    public enum FullPolicy: Sendable, Hashable {
        /// Drop the entry closest to expiry to make room (it was going to die soonest).
        case evictSoonestExpiry
        /// Keep existing flows; the new packet is still allowed but gets no state.
        case refuseNew
    }

    public static let headerSize = 80
    public static let recordSize = FlowEntry.recordSize
    public static let maxCapacity = 1 << 22
    static let magic: UInt32 = 0x4E46_4654
    static let version: UInt16 = 1
    static let headerSlot: UInt32 = 0xFFFF_FFFF
    static let statsSlot: UInt32 = 0xFFFF_FFFE

    public static func regionSize(capacity: Int) -> Int { headerSize + capacity * recordSize }

    public let capacity: Int
    public let timeouts: FlowTimeouts
    public let fullPolicy: FullPolicy
    public private(set) var stats = FlowStats()
    public private(set) var generation: UInt64 = 0
    /// Records dropped as invalid when this table adopted its region.
    public private(set) var droppedInvalid = 0

    private let region: RegionBytes
    private var slots: [FlowEntry?]
    private var index: [FlowKey: Int] = [:]
    private var freeSlots: [Int]

    public var count: Int { index.count }
    public var entries: [FlowEntry] { slots.compactMap { $0 } }

    /// `fresh: true` formats the region; `fresh: false` validates and adopts what is there.
    public init(region: UnsafeMutableRawBufferPointer, fresh: Bool,
                timeouts: FlowTimeouts = .standard,
                fullPolicy: FullPolicy = .evictSoonestExpiry) throws(StoreError) {
        guard region.count >= FlowTable.regionSize(capacity: 1) else {
            throw .regionTooSmall(needed: FlowTable.regionSize(capacity: 1), got: region.count)
        }
        self.region = RegionBytes(raw: region)
        capacity = min((region.count - FlowTable.headerSize) / FlowTable.recordSize,
                       FlowTable.maxCapacity)
        self.timeouts = timeouts
        self.fullPolicy = fullPolicy
        slots = Array(repeating: nil, count: capacity)
        freeSlots = []
        if fresh {
            self.region.zero(0, FlowTable.regionSize(capacity: capacity))
            generation = 1
        } else {
            adopt()
        }
        // Lowest slots first, so a small table fills predictably.
        freeSlots = (0 ..< capacity).reversed().filter { slots[$0] == nil }
        writeHeader()
        writeStats()
    }

    private mutating func adopt() {
        let header = ByteReader(region.read(0, 32))
        let headerValid = header.u32(0) == FlowTable.magic && header.u16(4) == FlowTable.version
            && header.u16(6) == UInt16(FlowTable.recordSize) && header.u32(8) == UInt32(capacity)
            && header.u32(24) == recordChecksum(header.bytes, 0 ..< 24, slot: FlowTable.headerSlot)
        var invalid = headerValid ? 0 : 1
        var badRecords = 0
        let s = ByteReader(region.read(32, 48))
        if headerValid && s.u32(40) == recordChecksum(s.bytes, 0 ..< 40, slot: FlowTable.statsSlot) {
            stats = FlowStats(created: s.u64(0), expired: s.u64(8), tableFull: s.u64(16),
                              evicted: s.u64(24), invalidRecords: s.u64(32))
        } else if headerValid {
            invalid += 1
        }
        // Records validate on their own, so they are salvaged even when the header is damaged.
        for slot in 0 ..< capacity {
            let offset = FlowTable.headerSize + slot * FlowTable.recordSize
            let bytes = region.read(offset, FlowTable.recordSize)
            if bytes.allSatisfy({ $0 == 0 }) { continue }
            if let entry = FlowEntry.decode(bytes, slot: slot), index[entry.key] == nil {
                slots[slot] = entry
                index[entry.key] = slot
            } else {
                badRecords += 1
                region.zero(offset, FlowTable.recordSize)
            }
        }
        invalid += badRecords
        // The header counts every used slot, good or bad; a validating header that miscounts
        // was not written by us (a lost record is already counted above, not again here).
        if headerValid && header.u32(12) != UInt32(index.count + badRecords) { invalid += 1 }
        generation = (headerValid ? header.u64(16) : 0) &+ 1
        droppedInvalid = invalid
        stats.invalidRecords &+= UInt64(invalid)
    }

    /// Lets a packet in by state if it is the reply side of a live flow, refreshing the flow.
    /// Only an echo reply answers an echo request; other ICMP from the responder is not a reply.
    public mutating func admitByState(_ p: PacketSummary, now: UInt64) -> Bool {
        guard let (slot, entry, role) = find(p, now: now), role == .reply,
              p.direction != entry.originatorDirection,
              entry.key.proto != 1 || p.icmpType == ICMPEcho.reply
        else { return false }
        update(slot, entry, p, role, now)
        return true
    }

    /// Records an allowed packet: refreshes its flow, or creates one if the packet can start a
    /// flow (tcp, udp, icmp echo request). Returns false only if the table refused a new flow.
    @discardableResult
    public mutating func track(_ p: PacketSummary, now: UInt64) -> Bool {
        if let (slot, entry, role) = find(p, now: now) {
            update(slot, entry, p, role, now)
            return true
        }
        guard let (key, srcIsLow) = FlowKey.of(p),
              key.proto != 1 || p.icmpType == ICMPEcho.request
        else { return true }
        if freeSlots.isEmpty {
            expire(now: now)
        }
        if freeSlots.isEmpty {
            stats.tableFull &+= 1
            guard fullPolicy == .evictSoonestExpiry, let victim = soonestExpiring() else {
                writeStats()
                return false
            }
            remove(victim)
            stats.evicted &+= 1
        }
        guard let slot = freeSlots.popLast() else { return false }
        var entry = FlowEntry(key: key, originatorIsLow: srcIsLow,
                              originatorDirection: p.direction, tcp: [], expiry: now)
        entry.observe(p, role: .original, now: now, timeouts)
        slots[slot] = entry
        index[key] = slot
        region.write(entry.encode(slot: slot), at: offset(slot))
        stats.created &+= 1
        writeHeader()
        writeStats()
        return true
    }

    /// The live entry a packet belongs to (any direction), without changing anything.
    public func entry(for p: PacketSummary, now: UInt64) -> FlowEntry? {
        guard let (key, _) = FlowKey.of(p), let slot = index[key], let e = slots[slot],
              e.expiry > now else { return nil }
        return e
    }

    /// Reclaims every expired entry; the server calls this from its timer. Returns how many.
    @discardableResult
    public mutating func expire(now: UInt64) -> Int {
        var reclaimed = 0
        for slot in 0 ..< capacity {
            if let e = slots[slot], e.expiry <= now {
                remove(slot)
                reclaimed += 1
            }
        }
        stats.expired &+= UInt64(reclaimed)
        if reclaimed > 0 { writeStats() }
        return reclaimed
    }

    private mutating func find(
        _ p: PacketSummary, now: UInt64
    ) -> (slot: Int, entry: FlowEntry, role: FlowRole)? {
        guard let (key, srcIsLow) = FlowKey.of(p), let slot = index[key], let e = slots[slot] else {
            return nil
        }
        if e.expiry <= now {
            remove(slot)
            stats.expired &+= 1
            writeStats()
            return nil
        }
        // An expiry further out than any timeout cannot have been written by us for this
        // clock (scribbled, or the clock is not the one it was written with): do not trust it.
        if e.expiry - now > timeouts.longest {
            remove(slot)
            stats.invalidRecords &+= 1
            writeStats()
            return nil
        }
        return (slot, e, e.role(of: p, srcIsLow: srcIsLow))
    }

    private mutating func update(
        _ slot: Int, _ entry: FlowEntry, _ p: PacketSummary, _ role: FlowRole, _ now: UInt64
    ) {
        var e = entry
        e.observe(p, role: role, now: now, timeouts)
        slots[slot] = e
        region.write(e.encode(slot: slot), at: offset(slot))
    }

    private func soonestExpiring() -> Int? {
        var best: Int?
        for slot in 0 ..< capacity {
            guard let e = slots[slot] else { continue }
            if best == nil || e.expiry < slots[best!]!.expiry { best = slot }
        }
        return best
    }

    private mutating func remove(_ slot: Int) {
        guard let e = slots[slot] else { return }
        slots[slot] = nil
        index[e.key] = nil
        freeSlots.append(slot)
        region.zero(offset(slot), FlowTable.recordSize)
        writeHeader()
    }

    private func offset(_ slot: Int) -> Int { FlowTable.headerSize + slot * FlowTable.recordSize }

    private func writeHeader() {
        var w = ByteWriter(size: 32)
        w.put32(FlowTable.magic, at: 0)
        w.put16(FlowTable.version, at: 4)
        w.put16(UInt16(FlowTable.recordSize), at: 6)
        w.put32(UInt32(capacity), at: 8)
        w.put32(UInt32(index.count), at: 12)
        w.put64(generation, at: 16)
        w.put32(recordChecksum(w.bytes, 0 ..< 24, slot: FlowTable.headerSlot), at: 24)
        region.write(w.bytes, at: 0)
    }

    private func writeStats() {
        var w = ByteWriter(size: 48)
        w.put64(stats.created, at: 0)
        w.put64(stats.expired, at: 8)
        w.put64(stats.tableFull, at: 16)
        w.put64(stats.evicted, at: 24)
        w.put64(stats.invalidRecords, at: 32)
        w.put32(recordChecksum(w.bytes, 0 ..< 40, slot: FlowTable.statsSlot), at: 40)
        region.write(w.bytes, at: 32)
    }
}
