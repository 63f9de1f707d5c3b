/// Fixed-size records keyed by a socket id in a region a server keeps across its restarts
/// (PersistenceFormat: the common header, then `capacity` slots, each ending in its CRC-32C).
/// The slot bookkeeping the UDP server's binding store and the TCP server's control-block
/// store share; what a record holds is theirs. A slot is rewritten in place, so a torn write
/// spoils one record, which is then skipped and counted, never followed. An all-zero slot is
/// free.
public final class RecordSlots {
    public let magic: UInt32
    public let recordSize: Int
    public let capacity: Int
    let region: UnsafeMutableRawBufferPointer
    private var slotOf: [UInt32: Int] = [:]
    private var free: [Int] = []

    /// `region` must hold at least the header and one slot.
    public init?(region: UnsafeMutableRawBufferPointer, magic: UInt32, recordSize: Int) {
        guard recordSize > 4, region.count >= PersistenceFormat.headerSize + recordSize else { return nil }
        self.region = region
        self.magic = magic
        self.recordSize = recordSize
        capacity = (region.count - PersistenceFormat.headerSize) / recordSize
    }

    /// A fresh start: every slot free.
    public func reset() {
        region.initializeMemory(as: UInt8.self, repeating: 0)
        PersistenceFormat.writeHeader(.init(magic: magic, recordSize: recordSize, count: capacity, clockEpoch: 0), into: region)
        slotOf = [:]
        free = Array((0..<capacity).reversed())
    }

    /// What `restore` found.
    public struct Restored<Record> {
        public var records: [UInt32: Record] = [:]
        /// Slots in use that `decode` refused or that repeated an id; they are cleared.
        public var damaged = 0
        /// Whether the header was intact (false: the region was laid out afresh).
        public var headerIntact = false
    }

    /// A restart: takes back every record `decode` accepts (it gets a whole slot and returns
    /// the record's id and the record, or nil for one that is not intact).
    public func restore<Record>(_ decode: (UnsafeRawBufferPointer) -> (UInt32, Record)?) -> Restored<Record> {
        var out = Restored<Record>()
        guard let header = PersistenceFormat.readHeader(from: UnsafeRawBufferPointer(region), magic: magic, recordSize: recordSize),
              header.count == capacity else {
            reset()
            return out
        }
        out.headerIntact = true
        slotOf = [:]
        free = []
        for slot in (0..<capacity).reversed() {
            let r = slice(slot)
            if r.allSatisfy({ $0 == 0 }) { free.append(slot); continue }
            guard let (id, record) = decode(UnsafeRawBufferPointer(r)), id != 0, out.records[id] == nil else {
                out.damaged += 1
                r.initializeMemory(as: UInt8.self, repeating: 0)
                free.append(slot)
                continue
            }
            out.records[id] = record
            slotOf[id] = slot
        }
        return out
    }

    /// Every record `decode` accepts, reading the region without changing it (another
    /// process may be rewriting it: a record caught half-written fails its checksum).
    public static func snapshot<Record>(_ region: UnsafeRawBufferPointer, magic: UInt32, recordSize: Int,
                                        _ decode: (UnsafeRawBufferPointer) -> Record?) -> [Record] {
        guard let header = PersistenceFormat.readHeader(from: region, magic: magic, recordSize: recordSize) else { return [] }
        let slots = min(header.count, (region.count - PersistenceFormat.headerSize) / recordSize)
        var out: [Record] = []
        for slot in 0..<max(0, slots) {
            let start = PersistenceFormat.headerSize + slot * recordSize
            let r = UnsafeRawBufferPointer(rebasing: region[start..<start + recordSize])
            if PersistenceFormat.get32(at: 0, in: r) == 0 { continue }
            if let c = decode(r) { out.append(c) }
        }
        return out
    }

    /// The slot that holds (or will hold) `id`'s record, zeroed for the caller to fill and
    /// seal; nil for id 0 (it marks a free slot) or when every slot is taken.
    public func slot(for id: UInt32) -> UnsafeMutableRawBufferPointer? {
        guard id != 0 else { return nil }
        let slot: Int
        if let s = slotOf[id] { slot = s } else {
            guard let s = free.popLast() else { return nil }
            slot = s
            slotOf[id] = s
        }
        let r = slice(slot)
        r.initializeMemory(as: UInt8.self, repeating: 0)
        return r
    }

    public func remove(_ id: UInt32) {
        guard let slot = slotOf.removeValue(forKey: id) else { return }
        slice(slot).initializeMemory(as: UInt8.self, repeating: 0)
        free.append(slot)
    }

    public var count: Int { slotOf.count }

    private func slice(_ slot: Int) -> UnsafeMutableRawBufferPointer {
        let start = PersistenceFormat.headerSize + slot * recordSize
        return UnsafeMutableRawBufferPointer(rebasing: region[start..<start + recordSize])
    }
}
