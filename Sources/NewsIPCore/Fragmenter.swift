// IPv4 fragmentation (RFC 791 section 3.2, "Fragmentation" procedure).
//
// Offsets and lengths are relative to the payload handed in. When re-fragmenting a datagram
// that is itself a fragment (forwarding), the caller adds the original offset to each offset
// and sets MF on every piece if the original had MF set (RFC 791: the last new fragment
// "copies" the original's MF flag).

public enum Fragmenter {
    /// One fragment's placement within the payload.
    public typealias Placement = (offset: Int, length: Int, moreFragments: Bool)

    /// Whether a datagram of `totalLength` bytes (header included) can be sent whole.
    /// When it cannot and DF is set, the caller answers with ICMP "fragmentation needed".
    public static func fits(totalLength: Int, mtu: Int) -> Bool {
        totalLength <= mtu
    }

    /// Splits `payloadLength` bytes into fragments each of which, with its `headerLength`-byte
    /// header, fits `mtu`. Returns [] when that is impossible: fewer than 8 payload bytes fit
    /// per fragment (RFC 791 requires every link to carry 68 bytes, so this means a bad MTU),
    /// or the payload cannot be an IPv4 payload at all.
    public static func fragment(payloadLength: Int, headerLength: Int = 20, mtu: Int) -> [Placement] {
        guard payloadLength >= 0, headerLength >= 20, headerLength <= 60,
              payloadLength + headerLength <= 65_535 else { return [] }
        if fits(totalLength: headerLength + payloadLength, mtu: mtu) {
            return [(offset: 0, length: payloadLength, moreFragments: false)]
        }
        // RFC 791: "the number of 8 octet blocks" per fragment; non-last lengths are multiples of 8.
        let perFragment = (mtu - headerLength) / 8 * 8
        guard perFragment >= 8 else { return [] }
        var placements: [Placement] = []
        placements.reserveCapacity((payloadLength + perFragment - 1) / perFragment)
        var offset = 0
        while offset < payloadLength {
            let length = min(perFragment, payloadLength - offset)
            let isLast = offset + length == payloadLength
            placements.append((offset: offset, length: length, moreFragments: !isLast))
            offset += length
        }
        return placements
    }

    /// The same split, returning slices of `payload` (no copies).
    public static func fragment(payload: [UInt8], headerLength: Int = 20, mtu: Int)
        -> [(offset: Int, moreFragments: Bool, bytes: ArraySlice<UInt8>)] {
        fragment(payloadLength: payload.count, headerLength: headerLength, mtu: mtu).map { p in
            let start = payload.startIndex + p.offset
            return (offset: p.offset, moreFragments: p.moreFragments, bytes: payload[start ..< start + p.length])
        }
    }
}
