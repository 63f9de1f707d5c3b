/// RFC 1071 internet checksum accumulator.
///
/// "The checksum field is the 16 bit one's complement of the one's complement
/// sum of all 16 bit words" (RFC 791/768/793). Data may arrive in pieces that
/// split a 16-bit word (odd-length chunks); the accumulator remembers the
/// dangling byte so the result equals summing the concatenation in one go.
public struct InternetChecksum: Sendable, Equatable {
    /// Unfolded sum. 64 bits cannot overflow for any packet-sized input
    /// (RFC 1071 2.(B): carries may be deferred and folded at the end).
    private var sum: UInt64 = 0
    /// High byte of a word whose low byte has not arrived yet.
    private var pendingHigh: UInt8? = nil

    public init() {}

    /// Adds bytes as if appended to everything added before.
    public mutating func add(_ bytes: UnsafeRawBufferPointer) {
        var index = 0
        let count = bytes.count
        if let high = pendingHigh, count > 0 {
            sum &+= UInt64(high) << 8 | UInt64(bytes[0])
            pendingHigh = nil
            index = 1
        }
        while index + 1 < count {
            sum &+= UInt64(bytes[index]) << 8 | UInt64(bytes[index + 1])
            index += 2
        }
        if index < count {
            pendingHigh = bytes[index]
        }
    }

    public mutating func add(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { add($0) }
    }

    /// Adds a big-endian 16-bit word, in sequence with prior bytes.
    public mutating func add(_ word: UInt16) {
        if pendingHigh == nil {
            sum &+= UInt64(word)
        } else {
            addByte(UInt8(truncatingIfNeeded: word >> 8))
            addByte(UInt8(truncatingIfNeeded: word))
        }
    }

    /// Adds a big-endian 32-bit word as two 16-bit words.
    public mutating func add(_ word: UInt32) {
        add(UInt16(truncatingIfNeeded: word >> 16))
        add(UInt16(truncatingIfNeeded: word))
    }

    private mutating func addByte(_ byte: UInt8) {
        if let high = pendingHigh {
            sum &+= UInt64(high) << 8 | UInt64(byte)
            pendingHigh = nil
        } else {
            pendingHigh = byte
        }
    }

    /// The one's complement sum folded to 16 bits (not yet complemented).
    /// A trailing odd byte is padded with a zero low byte (RFC 1071 4.1).
    public var foldedSum: UInt16 {
        var total = sum
        if let high = pendingHigh { total &+= UInt64(high) << 8 }
        while total > 0xFFFF { total = (total & 0xFFFF) + (total >> 16) }
        return UInt16(total)
    }

    /// The value to place in a checksum field: the complement of the sum.
    public func finalize() -> UInt16 { ~foldedSum }

    /// Starts an accumulator with the IPv4 pseudo-header used by UDP and
    /// TCP: source, destination, zero, protocol, length (RFC 768, RFC 9293 3.1).
    public static func pseudoHeader(
        src: IPv4Address, dst: IPv4Address, protocol proto: IPProtocol, length: Int
    ) -> InternetChecksum {
        var c = InternetChecksum()
        c.add(src.value)
        c.add(dst.value)
        c.add(UInt16(proto.rawValue))
        c.add(UInt16(truncatingIfNeeded: length))
        return c
    }

    /// True if `bytes`, checksum field included, sums to all ones — i.e. the
    /// receiver's check "recomputed checksum is zero" (RFC 1071 1.(4)).
    public static func verify(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var c = InternetChecksum()
        c.add(bytes)
        return c.foldedSum == 0xFFFF
    }

    /// Checksum of `bytes` in one call.
    public static func compute(_ bytes: UnsafeRawBufferPointer) -> UInt16 {
        var c = InternetChecksum()
        c.add(bytes)
        return c.finalize()
    }
}
