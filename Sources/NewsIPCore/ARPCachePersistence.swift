// Saving and restoring ARP mappings across an IPServer restart.
//
// Layout: the common 24-byte header (PersistenceFormat.swift, magic "NARP", record size 32),
// then one record per reachable entry (incomplete entries and their queues are transient):
//   0  u32  IPv4 address (host order value, stored little-endian)
//   4  6 B  MAC, wire order
//  10  u8   state: 1 = reachable (nothing else is valid)
//  11  u8   reserved, 0
//  12  u64  expiresAt, ABSOLUTE monotonic ns
//  20  u64  updatedAt, absolute monotonic ns (eviction order)
//  28  u32  CRC-32C of bytes 0..<28
//
// Times are absolute monotonic nanoseconds: the monotonic clock keeps running across a
// process restart on the same boot. It restarts on reboot, so the header carries the
// caller's clock epoch (e.g. a hash of the kernel boot id); on a mismatch every saved time
// is meaningless and all entries are discarded. As a second guard, an entry whose expiry is
// further away than a full lifetime cannot be genuine and counts as invalid.

import NewsWire

extension ARPCache {
    static var recordSize: Int { 32 }

    /// Bytes `encode` needs to save every reachable entry.
    public var encodedByteCount: Int {
        PersistenceFormat.headerSize + Self.recordSize * reachableEntries.count
    }

    /// Writes everything and returns the bytes written (`encodedByteCount`), or writes
    /// nothing and returns 0 when the buffer is smaller than that. All-or-nothing because a
    /// partial route table could strand gateway routes whose connected route was cut off.
    public func encode(into buffer: UnsafeMutableRawBufferPointer, clockEpoch: UInt64 = 0) -> Int {
        let saved = reachableEntries
        guard buffer.count >= PersistenceFormat.headerSize + saved.count * Self.recordSize else { return 0 }
        for (i, entry) in saved.enumerated() {
            let start = PersistenceFormat.headerSize + i * Self.recordSize
            let record = UnsafeMutableRawBufferPointer(rebasing: buffer[start ..< start + Self.recordSize])
            PersistenceFormat.put32(entry.ip.value, at: 0, in: record)
            for (j, byte) in entry.mac.octets.enumerated() { record[4 + j] = byte }
            record[10] = 1
            record[11] = 0
            PersistenceFormat.put64(entry.expiresAt, at: 12, in: record)
            PersistenceFormat.put64(entry.updatedAt, at: 20, in: record)
            PersistenceFormat.sealRecord(record)
        }
        let header = PersistenceFormat.Header(magic: PersistenceFormat.arpMagic, recordSize: Self.recordSize,
                                              count: saved.count, clockEpoch: clockEpoch)
        PersistenceFormat.writeHeader(header, into: buffer)
        return PersistenceFormat.headerSize + saved.count * Self.recordSize
    }

    /// Rebuilds a cache from saved bytes. Never traps on any input.
    /// - `invalidRecords`: records that failed their checksum or validation, or that the
    ///   header promised but the buffer does not hold.
    /// - `headerValid`: false when the buffer is not a saved ARP cache at all (empty value).
    /// Entries already expired at `now`, or saved under another clock epoch, are dropped
    /// and counted in `counters.expired`, not as invalid.
    public static func decode(from buffer: UnsafeRawBufferPointer, now: UInt64, clockEpoch: UInt64 = 0,
                              configuration: ARPConfiguration = ARPConfiguration())
        -> (value: ARPCache, invalidRecords: Int, headerValid: Bool) {
        var cache = ARPCache(configuration: configuration)
        guard let header = PersistenceFormat.readHeader(from: buffer, magic: PersistenceFormat.arpMagic,
                                                        recordSize: recordSize) else {
            return (cache, 0, false)
        }
        let (records, missing) = PersistenceFormat.recordSlices(in: buffer, header: header)
        var invalid = missing
        var seen = Set<IPv4Address>()
        for record in records {
            guard PersistenceFormat.recordIsIntact(record), record[10] == 1, record[11] == 0,
                  let mac = MACAddress(bytes: record[4 ..< 10]) else { invalid += 1; continue }
            let ip = IPv4Address(PersistenceFormat.get32(at: 0, in: record))
            let expiresAt = PersistenceFormat.get64(at: 12, in: record)
            let updatedAt = PersistenceFormat.get64(at: 20, in: record)
            // Same rules as learning live: no unspecified/broadcast IP, no group MAC.
            guard !ip.isUnspecified, !ip.isBroadcast, !mac.isMulticast, updatedAt <= expiresAt,
                  !seen.contains(ip) else { invalid += 1; continue }
            if header.clockEpoch != clockEpoch || expiresAt <= now {
                cache.counters.expired += 1
                continue
            }
            guard expiresAt - now <= configuration.reachableLifetime else { invalid += 1; continue }
            seen.insert(ip)
            cache.restore(ip, mac: mac, expiresAt: expiresAt, updatedAt: updatedAt)
        }
        return (cache, invalid, true)
    }

    private var reachableEntries: [(ip: IPv4Address, mac: MACAddress, expiresAt: UInt64, updatedAt: UInt64)] {
        snapshot.compactMap { entry in
            guard case .reachable(let mac, let expiresAt) = entry.state else { return nil }
            return (entry.ip, mac, expiresAt, entry.updatedAt)
        }
    }
}
