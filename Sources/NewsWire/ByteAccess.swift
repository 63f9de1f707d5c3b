// Big-endian field access, byte by byte.
//
// Network byte order is big-endian (RFC 791 appendix B / RFC 1700), and packet
// fields sit at arbitrary offsets inside a frame, so multi-byte loads are built
// from single bytes: no unaligned loads, no host-endianness assumptions.
// Callers validate lengths once, when a view is constructed; these helpers do
// not re-check (the stdlib subscript still checks in debug builds).

extension UnsafeRawBufferPointer {
    @inline(__always)
    func readU16(_ offset: Int) -> UInt16 {
        UInt16(self[offset]) << 8 | UInt16(self[offset + 1])
    }

    @inline(__always)
    func readU32(_ offset: Int) -> UInt32 {
        UInt32(self[offset]) << 24 | UInt32(self[offset + 1]) << 16
            | UInt32(self[offset + 2]) << 8 | UInt32(self[offset + 3])
    }

    /// A sub-view with indices starting at 0 again.
    @inline(__always)
    func slice(_ range: Range<Int>) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: self[range])
    }

    @inline(__always)
    func slice(from start: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: self[start...])
    }
}

extension UnsafeMutableRawBufferPointer {
    @inline(__always)
    func writeU16(_ value: UInt16, at offset: Int) {
        self[offset] = UInt8(truncatingIfNeeded: value >> 8)
        self[offset + 1] = UInt8(truncatingIfNeeded: value)
    }

    @inline(__always)
    func writeU32(_ value: UInt32, at offset: Int) {
        self[offset] = UInt8(truncatingIfNeeded: value >> 24)
        self[offset + 1] = UInt8(truncatingIfNeeded: value >> 16)
        self[offset + 2] = UInt8(truncatingIfNeeded: value >> 8)
        self[offset + 3] = UInt8(truncatingIfNeeded: value)
    }

    /// Copies `source` to `offset`; the caller has checked the room.
    @inline(__always)
    func copyBytes(_ source: UnsafeRawBufferPointer, at offset: Int) {
        guard !source.isEmpty else { return }
        UnsafeMutableRawBufferPointer(rebasing: self[offset..<(offset + source.count)])
            .copyMemory(from: source)
    }

    @inline(__always)
    func copyBytes(_ source: [UInt8], at offset: Int) {
        source.withUnsafeBytes { copyBytes($0, at: offset) }
    }

    /// A read-only view of bytes already written (used to checksum them).
    @inline(__always)
    func readOnly(_ range: Range<Int>) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: self[range])
    }
}
