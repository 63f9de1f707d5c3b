import NewsTCPState
import XCTest

final class DeadlineHeapTests: XCTestCase {
    func testPopsOnlyWhatIsDueEarliestFirst() {
        var h = DeadlineHeap<UInt32>()
        for (at, id) in [(50, 5), (10, 1), (30, 3), (20, 2), (40, 4), (10, 9)] as [(UInt64, UInt32)] { h.push(at, id) }
        XCTAssertEqual(h.earliest, 10)
        XCTAssertNil(h.popDue(9), "nothing is due before 10")
        var got: [UInt64] = []
        while let e = h.popDue(35) { got.append(e.at) }
        XCTAssertEqual(got, [10, 10, 20, 30])
        XCTAssertEqual(h.earliest, 40)
        XCTAssertEqual(h.count, 2)
    }

    func testManyRandomDeadlinesComeOutSorted() {
        var h = DeadlineHeap<Int>()
        var rng = SystemRandomNumberGenerator()
        let all = (0..<5000).map { _ in UInt64.random(in: 0..<1_000_000, using: &rng) }
        for (i, at) in all.enumerated() { h.push(at, i) }
        var out: [UInt64] = []
        while let e = h.popDue(.max) { out.append(e.at); XCTAssertEqual(all[e.id], e.at) }
        XCTAssertEqual(out, all.sorted())
        XCTAssertTrue(h.isEmpty)
        XCTAssertNil(h.earliest)
    }
}
