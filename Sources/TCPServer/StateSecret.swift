import NewsIPCore

/// The keys tcpserver's hashes use (ISNs, RFC 6528; SYN cookies, RFC 4987; ephemeral
/// ports, RFC 6056), kept in the first page of its state region so that a restarted server
/// keeps the same functions. The rest of the region holds the control blocks.
///
/// Page 0: u32 magic "NTSK", u32 version 1, six u64 keys, then the CRC-32C of bytes 0..<56.
enum StateSecret {
    static let magic: UInt32 = 0x4B53_544E
    static let pageSize = 4096

    struct Keys {
        var isn: (UInt64, UInt64)
        var cookies: (UInt64, UInt64)
        var ports: (UInt64, UInt64)
    }

    /// The keys from the region (fresh ones, written there, on a first start or if the page
    /// is damaged); without a region, fresh keys that last as long as the process.
    static func load(_ region: UnsafeMutableRawBufferPointer?, fresh: Bool) -> Keys {
        if let region, region.count >= pageSize, !fresh {
            let page = UnsafeRawBufferPointer(rebasing: region[0..<60])
            if PersistenceFormat.get32(at: 0, in: page) == magic, PersistenceFormat.get32(at: 4, in: page) == 1,
               PersistenceFormat.get32(at: 56, in: page) == PersistenceFormat.crc32c(UnsafeRawBufferPointer(rebasing: page[0..<56])) {
                func key(_ i: Int) -> UInt64 { PersistenceFormat.get64(at: 8 + 8 * i, in: page) }
                return Keys(isn: (key(0), key(1)), cookies: (key(2), key(3)), ports: (key(4), key(5)))
            }
        }
        var g = SystemRandomNumberGenerator()
        let k = (0..<6).map { _ in g.next() as UInt64 }
        let keys = Keys(isn: (k[0], k[1]), cookies: (k[2], k[3]), ports: (k[4], k[5]))
        if let region, region.count >= pageSize {
            let page = UnsafeMutableRawBufferPointer(rebasing: region[0..<60])
            PersistenceFormat.put32(magic, at: 0, in: page)
            PersistenceFormat.put32(1, at: 4, in: page)
            for (i, v) in k.enumerated() { PersistenceFormat.put64(v, at: 8 + 8 * i, in: page) }
            PersistenceFormat.put32(PersistenceFormat.crc32c(UnsafeRawBufferPointer(rebasing: page[0..<56])), at: 56, in: page)
        }
        return keys
    }

    /// The part of the state region after the keys' page.
    static func blockRegion(_ region: UnsafeMutableRawBufferPointer) -> UnsafeMutableRawBufferPointer {
        guard region.count > pageSize else { return UnsafeMutableRawBufferPointer(rebasing: region[0..<0]) }
        return UnsafeMutableRawBufferPointer(rebasing: region[pageSize...])
    }
}
