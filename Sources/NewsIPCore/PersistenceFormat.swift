// Shared pieces of the persisted formats for ARPCache and RouteTable (see those files for
// the record layouts), also used by the UDP server's binding store (NewsUDP).
//
// Common header, 24 bytes, all integers little-endian:
//   0  u32  magic            ("NARP" = 0x5052_414E for ARP, "NRTE" = 0x4554_524E for routes)
//   4  u16  version          (1)
//   6  u16  record size      (bytes per record, including its checksum)
//   8  u32  record count
//  12  u64  clock epoch      (opaque id of the monotonic clock's boot; 0 = not recorded)
//  20  u32  CRC-32C of bytes 0..<20
// followed by `record count` records of `record size` bytes, each ending in the CRC-32C of
// its preceding bytes. A bad header means nothing can be trusted; a bad record is skipped.
//
// Readers never index the buffer without checking bounds first: UnsafeRawBufferPointer's
// subscript is unchecked in release builds.

public enum PersistenceFormat {
    public static let headerSize = 24
    public static let version: UInt16 = 1
    public static let arpMagic: UInt32 = 0x5052_414E     // "NARP" read as little-endian bytes
    public static let routeMagic: UInt32 = 0x4554_524E   // "NRTE"

    public struct Header: Equatable {
        public var magic: UInt32
        public var recordSize: Int
        public var count: Int
        public var clockEpoch: UInt64
        public init(magic: UInt32, recordSize: Int, count: Int, clockEpoch: UInt64) {
            self.magic = magic; self.recordSize = recordSize; self.count = count; self.clockEpoch = clockEpoch
        }
    }

    /// Writes a header; the caller guarantees `buffer.count >= headerSize`.
    public static func writeHeader(_ header: Header, into buffer: UnsafeMutableRawBufferPointer) {
        put32(header.magic, at: 0, in: buffer)
        put16(version, at: 4, in: buffer)
        put16(UInt16(header.recordSize), at: 6, in: buffer)
        put32(UInt32(header.count), at: 8, in: buffer)
        put64(header.clockEpoch, at: 12, in: buffer)
        put32(crc32c(UnsafeRawBufferPointer(rebasing: buffer[0 ..< 20])), at: 20, in: buffer)
    }

    /// Returns the header if it is complete, checksummed, and of the expected kind.
    public static func readHeader(from buffer: UnsafeRawBufferPointer, magic: UInt32, recordSize: Int) -> Header? {
        guard buffer.count >= headerSize,
              get32(at: 20, in: buffer) == crc32c(UnsafeRawBufferPointer(rebasing: buffer[0 ..< 20])),
              get32(at: 0, in: buffer) == magic,
              get16(at: 4, in: buffer) == version,
              Int(get16(at: 6, in: buffer)) == recordSize else { return nil }
        return Header(magic: magic, recordSize: recordSize, count: Int(get32(at: 8, in: buffer)),
                      clockEpoch: get64(at: 12, in: buffer))
    }

    /// The records present in full after the header (at most `count`), and how many the
    /// header promised but the buffer cannot hold (a torn write).
    public static func recordSlices(in buffer: UnsafeRawBufferPointer, header: Header)
        -> (records: [UnsafeRawBufferPointer], missing: Int) {
        let available = (buffer.count - headerSize) / header.recordSize
        let present = min(available, header.count)
        let records = (0 ..< present).map { i in
            let start = headerSize + i * header.recordSize
            return UnsafeRawBufferPointer(rebasing: buffer[start ..< start + header.recordSize])
        }
        return (records, header.count - present)
    }

    /// Whether a record (exactly one record's bytes) carries a correct trailing checksum.
    public static func recordIsIntact(_ record: UnsafeRawBufferPointer) -> Bool {
        guard record.count >= 4 else { return false }
        let body = UnsafeRawBufferPointer(rebasing: record[0 ..< record.count - 4])
        return get32(at: record.count - 4, in: record) == crc32c(body)
    }

    /// Seals a record by writing the checksum of its body into its last four bytes.
    public static func sealRecord(_ record: UnsafeMutableRawBufferPointer) {
        let body = UnsafeRawBufferPointer(rebasing: record[0 ..< record.count - 4])
        put32(crc32c(body), at: record.count - 4, in: record)
    }

    // MARK: - Little-endian access (callers check bounds)

    public static func put16(_ v: UInt16, at o: Int, in b: UnsafeMutableRawBufferPointer) {
        for i in 0 ..< 2 { b[o + i] = UInt8(truncatingIfNeeded: v >> (8 * i)) }
    }
    public static func put32(_ v: UInt32, at o: Int, in b: UnsafeMutableRawBufferPointer) {
        for i in 0 ..< 4 { b[o + i] = UInt8(truncatingIfNeeded: v >> (8 * i)) }
    }
    public static func put64(_ v: UInt64, at o: Int, in b: UnsafeMutableRawBufferPointer) {
        for i in 0 ..< 8 { b[o + i] = UInt8(truncatingIfNeeded: v >> (8 * i)) }
    }
    public static func get16(at o: Int, in b: UnsafeRawBufferPointer) -> UInt16 {
        precondition(o >= 0 && o + 2 <= b.count)
        return UInt16(b[o]) | UInt16(b[o + 1]) << 8
    }
    public static func get32(at o: Int, in b: UnsafeRawBufferPointer) -> UInt32 {
        precondition(o >= 0 && o + 4 <= b.count)
        var v: UInt32 = 0
        for i in 0 ..< 4 { v |= UInt32(b[o + i]) << (8 * i) }
        return v
    }
    public static func get64(at o: Int, in b: UnsafeRawBufferPointer) -> UInt64 {
        precondition(o >= 0 && o + 8 <= b.count)
        var v: UInt64 = 0
        for i in 0 ..< 8 { v |= UInt64(b[o + i]) << (8 * i) }
        return v
    }

    // MARK: - CRC-32C (Castagnoli, reflected polynomial 0x82F63B78)

    /// Chosen over a simple sum because it catches torn writes, zeroed blocks and bit flips;
    /// the CRC of an all-zero record is non-zero, so a zero-filled region never validates.
    public static func crc32c(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc = crc32cTable[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8)
        }
        return ~crc
    }

    private static let crc32cTable: [UInt32] = (0 ..< 256).map { n in
        var c = UInt32(n)
        for _ in 0 ..< 8 { c = c & 1 == 1 ? 0x82F6_3B78 ^ (c >> 1) : c >> 1 }
        return c
    }
}
