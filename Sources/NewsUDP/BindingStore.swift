import NewsIPCore

/// What the UDP server must know of a socket to take it back after a restart: who owns it
/// (the uid newsd vouched for), its port and its peer.
public struct Binding: Equatable, Sendable {
    public var socket: UInt32
    public var uid: UInt32
    public var port: UInt16
    public var remoteAddress: UInt32
    public var remotePort: UInt16

    public init(socket: UInt32, uid: UInt32, port: UInt16, remoteAddress: UInt32 = 0, remotePort: UInt16 = 0) {
        self.socket = socket; self.uid = uid; self.port = port
        self.remoteAddress = remoteAddress; self.remotePort = remotePort
    }

    public var connected: Bool { remoteAddress != 0 && remotePort != 0 }
}

/// The UDP server's bindings, kept in its state region: memory newsd owns and no application
/// can map, so a restarted server adopts what it wrote itself, never what an application
/// wrote into its socket header.
///
/// Layout (PersistenceFormat, little-endian): the common 24-byte header ("NUDP", record size
/// 32, count = number of slots), then fixed slots of 32 bytes:
///   0 u32 socket id (0: free)   4 u32 uid   8 u16 port   10 u16 remote port
///   12 u32 remote address       16..28 zero  28 u32 CRC-32C of bytes 0..<28
/// A slot is rewritten in place, so a torn write spoils one binding, which is then skipped
/// and counted, not followed.
public final class BindingStore {
    public static let magic: UInt32 = 0x5044_554E  // "NUDP"
    public static let recordSize = 32
    let slots: RecordSlots
    public var capacity: Int { slots.capacity }

    /// What `restore` found.
    public struct Restored: Equatable, Sendable {
        public var bindings: [UInt32: Binding] = [:]
        /// Slots that were in use but failed their checksum or repeated a socket id.
        public var damaged = 0
        /// Whether the header was intact (false: the store was laid out afresh).
        public var headerIntact = false
    }

    /// `region` must hold at least the header and one slot.
    public init?(region: UnsafeMutableRawBufferPointer) {
        guard let slots = RecordSlots(region: region, magic: Self.magic, recordSize: Self.recordSize) else { return nil }
        self.slots = slots
    }

    /// A fresh start: no bindings.
    public func reset() { slots.reset() }

    /// A restart: takes back every intact binding. Damaged slots are cleared.
    public func restore() -> Restored {
        let r = slots.restore { b -> (UInt32, Binding)? in
            guard PersistenceFormat.recordIsIntact(b) else { return nil }
            let id = PersistenceFormat.get32(at: 0, in: b)
            return (id, Binding(socket: id, uid: PersistenceFormat.get32(at: 4, in: b),
                                port: PersistenceFormat.get16(at: 8, in: b),
                                remoteAddress: PersistenceFormat.get32(at: 12, in: b),
                                remotePort: PersistenceFormat.get16(at: 10, in: b)))
        }
        return Restored(bindings: r.records, damaged: r.damaged, headerIntact: r.headerIntact)
    }

    /// Records (or updates) a binding. False when every slot is taken.
    @discardableResult
    public func save(_ b: Binding) -> Bool {
        guard let r = slots.slot(for: b.socket) else { return false }
        PersistenceFormat.put32(b.socket, at: 0, in: r)
        PersistenceFormat.put32(b.uid, at: 4, in: r)
        PersistenceFormat.put16(b.port, at: 8, in: r)
        PersistenceFormat.put16(b.remotePort, at: 10, in: r)
        PersistenceFormat.put32(b.remoteAddress, at: 12, in: r)
        PersistenceFormat.sealRecord(r)
        return true
    }

    public func remove(socket: UInt32) { slots.remove(socket) }

    public var count: Int { slots.count }
}
