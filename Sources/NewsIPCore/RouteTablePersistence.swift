// Saving and restoring the routing table across an IPServer restart.
//
// Layout: the common 24-byte header (PersistenceFormat.swift, magic "NRTE", record size 32,
// clock epoch written as 0 and ignored: routes hold no times), then one record per route in
// lookup order:
//   0  u32  network
//   4  u32  gateway (0 when directly connected)
//   8  u8   prefix length, 0...32
//   9  u8   flags: bit 0 = has gateway; other bits must be 0
//  10  u16  reserved, 0
//  12  u32  interface index
//  16  u32  metric
//  20  u64  reserved, 0
//  28  u32  CRC-32C of bytes 0..<28
//
// Every restored route passes the same validation as `add`; one that fails (for instance a
// gateway route whose connected route was lost to a torn record) counts as invalid.

import NewsWire

extension RouteTable {
    static let recordSize = 32

    /// Bytes `encode` needs to save every route.
    public var encodedByteCount: Int { PersistenceFormat.headerSize + Self.recordSize * routes.count }

    /// Writes everything and returns the bytes written (`encodedByteCount`), or writes
    /// nothing and returns 0 when the buffer is smaller than that. All-or-nothing because a
    /// partial route table could strand gateway routes whose connected route was cut off.
    public func encode(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        let saved = routes
        guard buffer.count >= encodedByteCount else { return 0 }
        for (i, route) in saved.enumerated() {
            let start = PersistenceFormat.headerSize + i * Self.recordSize
            let record = UnsafeMutableRawBufferPointer(rebasing: buffer[start ..< start + Self.recordSize])
            record.initializeMemory(as: UInt8.self, repeating: 0)
            PersistenceFormat.put32(route.network.value, at: 0, in: record)
            PersistenceFormat.put32(route.gateway?.value ?? 0, at: 4, in: record)
            record[8] = UInt8(route.prefixLength)          // validated 0...32 on add
            record[9] = route.gateway == nil ? 0 : 1
            PersistenceFormat.put32(UInt32(route.interface), at: 12, in: record)  // validated on add
            PersistenceFormat.put32(route.metric, at: 16, in: record)
            PersistenceFormat.sealRecord(record)
        }
        let header = PersistenceFormat.Header(magic: PersistenceFormat.routeMagic, recordSize: Self.recordSize,
                                              count: saved.count, clockEpoch: 0)
        PersistenceFormat.writeHeader(header, into: buffer)
        return PersistenceFormat.headerSize + saved.count * Self.recordSize
    }

    /// Rebuilds a table from saved bytes. Never traps on any input.
    /// - `invalidRecords`: records that failed their checksum, layout or route validation,
    ///   were duplicates, or were promised by the header but are missing from the buffer.
    /// - `headerValid`: false when the buffer is not a saved route table at all (empty value).
    public static func decode(from buffer: UnsafeRawBufferPointer)
        -> (value: RouteTable, invalidRecords: Int, headerValid: Bool) {
        guard let header = PersistenceFormat.readHeader(from: buffer, magic: PersistenceFormat.routeMagic,
                                                        recordSize: recordSize) else {
            return (RouteTable(), 0, false)
        }
        let (records, missing) = PersistenceFormat.recordSlices(in: buffer, header: header)
        var invalid = missing
        var candidates: [Route] = []
        for record in records {
            guard PersistenceFormat.recordIsIntact(record), record[8] <= 32, record[9] & ~1 == 0,
                  PersistenceFormat.get16(at: 10, in: record) == 0,
                  PersistenceFormat.get64(at: 20, in: record) == 0 else { invalid += 1; continue }
            let gateway = PersistenceFormat.get32(at: 4, in: record)
            let hasGateway = record[9] & 1 == 1
            guard hasGateway || gateway == 0 else { invalid += 1; continue }
            candidates.append(Route(network: IPv4Address(PersistenceFormat.get32(at: 0, in: record)),
                                    prefixLength: Int(record[8]),
                                    gateway: hasGateway ? IPv4Address(gateway) : nil,
                                    interface: Int(PersistenceFormat.get32(at: 12, in: record)),
                                    metric: PersistenceFormat.get32(at: 16, in: record)))
        }
        // Gateway routes are checked against every connected route in the file, not just the
        // ones before them, so that re-adding in file order reproduces the saved tie order.
        var connected = RouteTable()
        var rejected = Set<Int>()
        for (i, route) in candidates.enumerated() where route.isConnected {
            do { try connected.add(route) } catch { rejected.insert(i) }
        }
        var table = RouteTable()
        for (i, route) in candidates.enumerated() {
            do {
                guard !rejected.contains(i) else { throw RouteError.duplicate(route) }
                try table.add(route, gatewaysCheckedAgainst: connected.routes)
            } catch {
                invalid += 1
            }
        }
        return (table, invalid, true)
    }
}
