import XCTest
@testable import NewsIPCore
import NewsWire

final class FragmenterTests: XCTestCase {
    func testFitsNeedsNoFragmentation() {
        XCTAssertTrue(Fragmenter.fits(totalLength: 1500, mtu: 1500))
        XCTAssertFalse(Fragmenter.fits(totalLength: 1501, mtu: 1500))
        XCTAssertEqual(Fragmenter.fragment(payloadLength: 1480, mtu: 1500).count, 1)
        XCTAssertEqual(Fragmenter.fragment(payloadLength: 0, mtu: 1500).map(\.length), [0])
    }

    func testImpossibleRequestsReturnNothing() {
        XCTAssertTrue(Fragmenter.fragment(payloadLength: 100, mtu: 27).isEmpty)   // < 8 bytes per fragment
        XCTAssertTrue(Fragmenter.fragment(payloadLength: 65_516, mtu: 1500).isEmpty)
        XCTAssertTrue(Fragmenter.fragment(payloadLength: -1, mtu: 1500).isEmpty)
        XCTAssertTrue(Fragmenter.fragment(payloadLength: 10, headerLength: 64, mtu: 1500).isEmpty)
    }

    /// Property: fragments tile the payload exactly, non-last lengths are multiples of 8,
    /// every fragment fits the MTU, and the pieces reassemble to the original.
    func testPropertiesOverRandomCases() {
        var rng = SeededGenerator(seed: 0xF4A6)
        for _ in 0 ..< 2000 {
            let header = [20, 24, 60].randomElement(using: &rng)!
            let mtu = Int.random(in: 68 ... 9000, using: &rng)
            let length = Int.random(in: 0 ... (65_535 - header), using: &rng)
            let frags = Fragmenter.fragment(payloadLength: length, headerLength: header, mtu: mtu)
            XCTAssertFalse(frags.isEmpty)
            var next = 0
            for (i, f) in frags.enumerated() {
                XCTAssertEqual(f.offset, next, "gap or overlap")
                XCTAssertLessThanOrEqual(header + f.length, mtu)
                XCTAssertEqual(f.moreFragments, i != frags.count - 1)
                if f.moreFragments { XCTAssertEqual(f.length % 8, 0) }
                next += f.length
            }
            XCTAssertEqual(next, length)
        }
    }

    func testRoundTripThroughReassembler() {
        var rng = SeededGenerator(seed: 77)
        var r = Reassembler(limits: ReassemblyLimits(maxFragmentsPerDatagram: 2048))
        for id in UInt16(0) ..< 200 {
            let payload = randomBytes(Int.random(in: 1 ... 20_000, using: &rng), using: &rng)
            let mtu = Int.random(in: 68 ... 1500, using: &rng)
            let pieces = Fragmenter.fragment(payload: payload, mtu: mtu).shuffled(using: &rng)
            var result: ReassemblyResult = .pending
            for p in pieces {
                result = r.add(key: key(id: id), offset: p.offset, moreFragments: p.moreFragments,
                               payload: Array(p.bytes), now: 0)
            }
            XCTAssertEqual(result, .complete(payload), "id \(id) mtu \(mtu)")
        }
        XCTAssertEqual(r.datagramsInProgress, 0)
    }
}
