import XCTest
@testable import NewsIPCore
import NewsWire

final class ReassemblerTests: XCTestCase {
    /// Fragments `payload` at `mtu`, feeds them in the given order, and returns the results.
    private func feed(_ payload: [UInt8], mtu: Int, order: ([Int]) -> [Int],
                      into r: inout Reassembler, key k: FragmentKey = key(), now: UInt64 = 0) -> [ReassemblyResult] {
        let frags = Fragmenter.fragment(payload: payload, mtu: mtu)
        return order(Array(frags.indices)).map { i in
            r.add(key: k, offset: frags[i].offset, moreFragments: frags[i].moreFragments,
                  payload: Array(frags[i].bytes), now: now)
        }
    }

    func testInOrder4000BytesAtMTU1500() {
        var r = Reassembler()
        let payload = pattern(4000)
        XCTAssertEqual(Fragmenter.fragment(payloadLength: 4000, mtu: 1500).map(\.length), [1480, 1480, 1040])
        let results = feed(payload, mtu: 1500, order: { $0 }, into: &r)
        XCTAssertEqual(results, [.pending, .pending, .complete(payload)])
        XCTAssertEqual(r.datagramsInProgress, 0)
        XCTAssertEqual(r.bytesBuffered, 0)
        XCTAssertEqual(r.counters.datagramsCompleted, 1)
        XCTAssertEqual(r.counters.fragmentsReceived, 3)
    }

    func testReversed() {
        var r = Reassembler()
        let payload = pattern(4000, seed: 3)
        let results = feed(payload, mtu: 1500, order: { $0.reversed() }, into: &r)
        XCTAssertEqual(results, [.pending, .pending, .complete(payload)])
    }

    func testShuffledWithSeeds() {
        for seed in UInt64(1) ... 50 {
            var rng = SeededGenerator(seed: seed)
            // Up to 9000 bytes at MTU 68 needs ~190 fragments; lift the per-datagram cap.
            var r = Reassembler(limits: ReassemblyLimits(maxFragmentsPerDatagram: 1024))
            let payload = pattern(Int.random(in: 1 ... 9000, using: &rng), seed: UInt8(seed))
            let mtu = Int.random(in: 68 ... 1500, using: &rng)
            let results = feed(payload, mtu: mtu, order: { $0.shuffled(using: &rng) }, into: &r)
            XCTAssertEqual(results.last, .complete(payload), "seed \(seed) mtu \(mtu)")
            XCTAssertTrue(results.dropLast().allSatisfy { $0 == .pending }, "seed \(seed)")
            XCTAssertEqual(r.bytesBuffered, 0)
        }
    }

    func testInterleavedDatagramsStaySeparate() {
        var r = Reassembler()
        let a = pattern(3000, seed: 1), b = pattern(3000, seed: 2)
        let fa = Fragmenter.fragment(payload: a, mtu: 1500), fb = Fragmenter.fragment(payload: b, mtu: 1500)
        var done: [[UInt8]] = []
        for i in fa.indices {
            for (k, f) in [(key(id: 1), fa[i]), (key(id: 2), fb[i])] {
                if case .complete(let d) = r.add(key: k, offset: f.offset, moreFragments: f.moreFragments,
                                                 payload: Array(f.bytes), now: 0) { done.append(d) }
            }
        }
        XCTAssertEqual(done, [a, b])
    }

    func testUnfragmentedDatagramPassesStraightThrough() {
        var r = Reassembler()
        XCTAssertEqual(r.add(key: key(), offset: 0, moreFragments: false, payload: [1, 2, 3], now: 0),
                       .complete([1, 2, 3]))
        XCTAssertEqual(r.datagramsInProgress, 0)
    }

    func testRawBufferOverload() {
        var r = Reassembler()
        let first = pattern(16)
        XCTAssertEqual(first.withUnsafeBytes { r.add(key: key(), offset: 0, moreFragments: true, payload: $0, now: 0) },
                       .pending)
        XCTAssertEqual([UInt8]([9, 9]).withUnsafeBytes { r.add(key: key(), offset: 16, moreFragments: false, payload: $0, now: 0) },
                       .complete(first + [9, 9]))
    }

    // MARK: - Drop reasons

    func testOverlapDropsDatagramAndPoisonsKey() {
        var r = Reassembler()
        XCTAssertEqual(r.add(key: key(), offset: 0, moreFragments: true, payload: pattern(16), now: 0), .pending)
        // Bytes 8..<16 covered twice, even though the data would be identical.
        XCTAssertEqual(r.add(key: key(), offset: 8, moreFragments: true, payload: Array(pattern(24)[8...]), now: 1),
                       .dropped(.overlap))
        XCTAssertEqual(r.datagramsInProgress, 0)
        XCTAssertEqual(r.bytesBuffered, 0)
        XCTAssertTrue(r.isPoisoned(key()))
        // A later, non-overlapping fragment of the same datagram is refused too.
        XCTAssertEqual(r.add(key: key(), offset: 16, moreFragments: false, payload: [1], now: 2), .dropped(.poisoned))
        XCTAssertEqual(r.counters[.overlap], 1)
        XCTAssertEqual(r.counters[.poisoned], 1)
        // Other datagrams are unaffected.
        XCTAssertEqual(r.add(key: key(id: 9), offset: 0, moreFragments: true, payload: pattern(8), now: 2), .pending)
    }

    func testPoisonLastsUntilTheDatagramsTimeout() {
        var r = Reassembler(limits: ReassemblyLimits(timeoutNanoseconds: 30 * second))
        _ = r.add(key: key(), offset: 0, moreFragments: true, payload: pattern(8), now: 0)
        XCTAssertEqual(r.add(key: key(), offset: 0, moreFragments: true, payload: pattern(8), now: 1), .dropped(.overlap))
        XCTAssertEqual(r.add(key: key(), offset: 8, moreFragments: false, payload: [1], now: 30 * second - 1),
                       .dropped(.poisoned))
        XCTAssertEqual(r.add(key: key(), offset: 0, moreFragments: true, payload: pattern(8), now: 30 * second), .pending)
        XCTAssertFalse(r.isPoisoned(key()))
    }

    func testTinyFirstFragment() {
        var r = Reassembler(limits: ReassemblyLimits(minimumFirstFragment: 16))
        XCTAssertEqual(r.add(key: key(), offset: 0, moreFragments: true, payload: pattern(8), now: 0), .dropped(.tiny))
        XCTAssertEqual(r.add(key: key(id: 2), offset: 0, moreFragments: true, payload: pattern(16), now: 0), .pending)
        var d = Reassembler()
        XCTAssertEqual(d.add(key: key(), offset: 0, moreFragments: true, payload: [], now: 0), .dropped(.tiny))
        XCTAssertEqual(d.counters[.tiny], 1)
    }

    func testBadLengthAndOffset() {
        var r = Reassembler()
        XCTAssertEqual(r.add(key: key(), offset: 0, moreFragments: true, payload: pattern(12), now: 0), .dropped(.badLength))
        XCTAssertEqual(r.add(key: key(), offset: 4, moreFragments: false, payload: pattern(8), now: 0), .dropped(.badLength))
        XCTAssertEqual(r.add(key: key(), offset: -8, moreFragments: false, payload: pattern(8), now: 0), .dropped(.badLength))
        XCTAssertEqual(r.add(key: key(), offset: 16, moreFragments: true, payload: [], now: 0), .dropped(.badLength))
        XCTAssertEqual(r.counters[.badLength], 4)
        XCTAssertEqual(r.datagramsInProgress, 0)
    }

    func testTooBig() {
        var r = Reassembler()
        XCTAssertEqual(r.add(key: key(), offset: 65_512, moreFragments: false, payload: pattern(3), now: 0), .pending)
        XCTAssertEqual(r.add(key: key(id: 2), offset: 65_512, moreFragments: false, payload: pattern(4), now: 0),
                       .dropped(.tooBig))
        XCTAssertEqual(r.counters[.tooBig], 1)
    }

    func testConflictingLastFragment() {
        var r = Reassembler()
        XCTAssertEqual(r.add(key: key(), offset: 16, moreFragments: false, payload: pattern(5), now: 0), .pending)
        XCTAssertEqual(r.add(key: key(), offset: 24, moreFragments: false, payload: pattern(5), now: 0),
                       .dropped(.conflictingEnd))
        XCTAssertTrue(r.isPoisoned(key()))
        // Data past a known end, and a last fragment ending before data already held.
        var s = Reassembler()
        _ = s.add(key: key(), offset: 16, moreFragments: false, payload: pattern(8), now: 0)
        XCTAssertEqual(s.add(key: key(), offset: 24, moreFragments: true, payload: pattern(8), now: 0), .dropped(.conflictingEnd))
        var t = Reassembler()
        _ = t.add(key: key(), offset: 32, moreFragments: true, payload: pattern(8), now: 0)
        XCTAssertEqual(t.add(key: key(), offset: 8, moreFragments: false, payload: pattern(8), now: 0), .dropped(.conflictingEnd))
        XCTAssertEqual(r.counters[.conflictingEnd] + s.counters[.conflictingEnd] + t.counters[.conflictingEnd], 3)
    }

    func testCounterNamesAreStableAndUnique() {
        let names = ReassemblyDrop.allCases.map(\.counterName)
        XCTAssertEqual(Set(names).count, names.count)
        for expected in ["frag_overlap", "frag_tiny", "frag_too_big", "frag_timeout", "frag_limit_datagrams",
                         "frag_limit_bytes", "frag_bad_length", "frag_too_many"] {
            XCTAssertTrue(names.contains(expected), expected)
        }
        var c = ReassemblyCounters()
        c[.tiny] = 5
        XCTAssertEqual(c.named.first { $0.name == "frag_tiny" }?.value, 5)
    }
}
