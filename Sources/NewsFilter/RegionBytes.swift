// Bounds-checked little-endian access to a caller-supplied shared-memory region, plus the record
// checksum. The region may hold anything and be any size, so every access checks its range:
// out-of-range reads give zeros and out-of-range writes are dropped instead of trapping.

struct RegionBytes {
    let raw: UnsafeMutableRawBufferPointer

    var count: Int { raw.count }

    func inBounds(_ offset: Int, _ size: Int) -> Bool {
        offset >= 0 && size >= 0 && offset <= raw.count - size
    }

    /// A copy of `size` bytes at `offset`; zeros if the range is outside the region.
    func read(_ offset: Int, _ size: Int) -> [UInt8] {
        guard inBounds(offset, size) else { return [UInt8](repeating: 0, count: max(size, 0)) }
        return Array(UnsafeRawBufferPointer(rebasing: raw[offset ..< offset + size]))
    }

    func write(_ bytes: [UInt8], at offset: Int) {
        guard inBounds(offset, bytes.count) else { return }
        for (i, b) in bytes.enumerated() { raw[offset + i] = b }
    }

    func zero(_ offset: Int, _ size: Int) {
        guard inBounds(offset, size) else { return }
        for i in offset ..< offset + size { raw[i] = 0 }
    }

    func u32(_ offset: Int) -> UInt32 { ByteReader(read(offset, 4)).u32(0) }
    func setU32(_ value: UInt32, at offset: Int) {
        var w = ByteWriter(size: 4)
        w.put32(value, at: 0)
        write(w.bytes, at: offset)
    }
}

/// Little-endian fields in a record copied out of the region. Reads past the end give zero,
/// so a short or hostile buffer cannot trap.
struct ByteReader {
    let bytes: [UInt8]
    init(_ bytes: [UInt8]) { self.bytes = bytes }

    func u8(_ at: Int) -> UInt8 { at >= 0 && at < bytes.count ? bytes[at] : 0 }
    func u16(_ at: Int) -> UInt16 { UInt16(u8(at)) | UInt16(u8(at + 1)) << 8 }
    func u32(_ at: Int) -> UInt32 { UInt32(u16(at)) | UInt32(u16(at + 2)) << 16 }
    func u64(_ at: Int) -> UInt64 { UInt64(u32(at)) | UInt64(u32(at + 4)) << 32 }
}

/// Builds a fixed-size record in memory before it is copied into the region in one go.
struct ByteWriter {
    var bytes: [UInt8]
    init(size: Int) { bytes = [UInt8](repeating: 0, count: size) }

    mutating func put8(_ v: UInt8, at: Int) { bytes[at] = v }
    mutating func put16(_ v: UInt16, at: Int) {
        put8(UInt8(truncatingIfNeeded: v), at: at)
        put8(UInt8(truncatingIfNeeded: v >> 8), at: at + 1)
    }
    mutating func put32(_ v: UInt32, at: Int) {
        put16(UInt16(truncatingIfNeeded: v), at: at)
        put16(UInt16(truncatingIfNeeded: v >> 16), at: at + 2)
    }
    mutating func put64(_ v: UInt64, at: Int) {
        put32(UInt32(truncatingIfNeeded: v), at: at)
        put32(UInt32(truncatingIfNeeded: v >> 32), at: at + 4)
    }
}

/// FNV-1a (32-bit) over `bytes[range]`, seeded with the record's slot number so that a valid
/// record copied into the wrong slot does not validate. Not cryptographic: it catches torn and
/// scribbled records, which is the threat here (the region is only shared with ourselves).
func recordChecksum(_ bytes: [UInt8], _ range: Range<Int>, slot: UInt32) -> UInt32 {
    var hash: UInt32 = 0x811C_9DC5
    for shift in stride(from: 0, to: 32, by: 8) {
        hash = (hash ^ UInt32(UInt8(truncatingIfNeeded: slot >> UInt32(shift)))) &* 0x0100_0193
    }
    for i in range where i >= 0 && i < bytes.count {
        hash = (hash ^ UInt32(bytes[i])) &* 0x0100_0193
    }
    return hash
}

/// Why a region could not be used or a saved rule set could not be loaded.
public enum StoreError: Error, Equatable, Sendable, CustomStringConvertible {
    case regionTooSmall(needed: Int, got: Int)
    case badMagic(UInt32)
    case unsupportedVersion(UInt16)
    case badHeaderChecksum
    case badCapacity(UInt32)
    case badCount(UInt32)
    case badDefaultPolicy
    /// A rule record failed validation. The whole set is refused: a firewall running with a
    /// silently missing deny rule is worse than one that reloads its rules file.
    case invalidRuleRecord(index: Int)
    case tooManyRules(count: Int, limit: Int)

    public var description: String {
        switch self {
        case .regionTooSmall(let needed, let got): "region too small: need \(needed) bytes, got \(got)"
        case .badMagic(let m): "region does not hold a filter store (magic 0x\(String(m, radix: 16)))"
        case .unsupportedVersion(let v): "unsupported store layout version \(v)"
        case .badHeaderChecksum: "store header checksum mismatch (torn or scribbled header)"
        case .badCapacity(let c): "store header capacity \(c) does not match the layout"
        case .badCount(let c): "store header count \(c) exceeds the capacity"
        case .badDefaultPolicy: "store header holds an invalid default policy"
        case .invalidRuleRecord(let i): "rule record \(i) is invalid (torn or scribbled)"
        case .tooManyRules(let count, let limit): "\(count) rules do not fit; the store holds \(limit)"
        }
    }
}
