// Deterministic randomness and small builders shared by the NewsIPCore tests.
import NewsIPCore
import NewsWire

/// SplitMix64: tiny, seedable, good enough to drive shuffles and fuzzing reproducibly.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

let second: UInt64 = 1_000_000_000

func ip(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) -> IPv4Address { IPv4Address(a, b, c, d) }

func mac(_ last: UInt8) -> MACAddress { MACAddress(0x02, 0, 0, 0, 0, last) }

func key(id: UInt16 = 1, src: IPv4Address = IPv4Address(10, 0, 0, 1)) -> FragmentKey {
    FragmentKey(source: src, destination: IPv4Address(10, 0, 0, 2), protocolNumber: 17, identification: id)
}

/// A payload whose bytes differ by position, so misplaced data is noticed.
func pattern(_ count: Int, seed: UInt8 = 0) -> [UInt8] {
    (0 ..< count).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ Int(seed) &+ $0 / 251) }
}

/// Random bytes from a seeded generator.
func randomBytes(_ count: Int, using rng: inout SeededGenerator) -> [UInt8] {
    (0 ..< count).map { _ in UInt8.random(in: 0 ... 255, using: &rng) }
}
