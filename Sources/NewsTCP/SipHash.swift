/// SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast short-input PRF", 2012): the keyed
/// function behind the initial sequence numbers (RFC 6528 suggests a PRF such as this).
/// A 128-bit key, a 64-bit output.
public struct SipHash24: Sendable {
    public let key: (UInt64, UInt64)
    public init(key: (UInt64, UInt64)) { self.key = key }

    public func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var v0: UInt64 = 0x736f_6d65_7073_6575 ^ key.0
        var v1: UInt64 = 0x646f_7261_6e64_6f6d ^ key.1
        var v2: UInt64 = 0x6c79_6765_6e65_7261 ^ key.0
        var v3: UInt64 = 0x7465_6462_7974_6573 ^ key.1
        @inline(__always) func round() {
            v0 &+= v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32)
            v2 &+= v3; v3 = rotl(v3, 16); v3 ^= v2
            v0 &+= v3; v3 = rotl(v3, 21); v3 ^= v0
            v2 &+= v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32)
        }
        let n = bytes.count
        var i = 0
        while i + 8 <= n {
            var m: UInt64 = 0
            for j in 0..<8 { m |= UInt64(bytes[i + j]) << (8 * UInt64(j)) }
            v3 ^= m; round(); round(); v0 ^= m
            i += 8
        }
        // The last block: the remaining bytes, and the length's low byte on top.
        var last = UInt64(truncatingIfNeeded: n) << 56
        for j in 0..<(n - i) { last |= UInt64(bytes[i + j]) << (8 * UInt64(j)) }
        v3 ^= last; round(); round(); v0 ^= last
        v2 ^= 0xff
        round(); round(); round(); round()
        return v0 ^ v1 ^ v2 ^ v3
    }

    @inline(__always) private func rotl(_ x: UInt64, _ b: UInt64) -> UInt64 { (x << b) | (x >> (64 - b)) }
}
