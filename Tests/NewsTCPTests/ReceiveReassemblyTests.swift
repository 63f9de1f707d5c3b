import XCTest
import NewsTCP

final class ReceiveReassemblyTests: XCTestCase {
    private func r(_ a: UInt32, _ b: UInt32) -> SequenceRange { SequenceRange(start: SequenceNumber(a), end: SequenceNumber(b)) }

    func testInOrderSegmentAdvancesNext() {
        var q = ReceiveReassembly(next: SequenceNumber(1000))
        let a = q.insert(sequence: SequenceNumber(1000), length: 100, window: 65535)
        XCTAssertEqual(a, .init(stored: r(1000, 1100), deliverable: 100, finReached: false, duplicate: nil))
        XCTAssertEqual(q.next, SequenceNumber(1100))
        XCTAssertEqual(q.outOfOrder, [])
        XCTAssertEqual(q.sackBlocks(maximumCount: 4), [])
    }

    func testHoleThenFillDeliversEverythingContiguous() {
        var q = ReceiveReassembly(next: SequenceNumber(1000))
        XCTAssertEqual(q.insert(sequence: SequenceNumber(1200), length: 100, window: 65535).deliverable, 0)
        XCTAssertEqual(q.insert(sequence: SequenceNumber(1100), length: 100, window: 65535).deliverable, 0)
        XCTAssertEqual(q.outOfOrder, [r(1100, 1300)])  // adjacent ranges merge
        XCTAssertEqual(q.next, SequenceNumber(1000))
        let fill = q.insert(sequence: SequenceNumber(1000), length: 100, window: 65535)
        XCTAssertEqual(fill.deliverable, 300)
        XCTAssertEqual(fill.stored, r(1000, 1100))
        XCTAssertEqual(q.next, SequenceNumber(1300))
        XCTAssertEqual(q.outOfOrder, [])
    }

    func testOverlappingAndPartlyOldSegmentsAreTrimmed() {
        var q = ReceiveReassembly(next: SequenceNumber(1000))
        _ = q.insert(sequence: SequenceNumber(1100), length: 100, window: 65535)
        // Partly old (950..<1000 already delivered), overlapping the held 1100..<1200.
        let a = q.insert(sequence: SequenceNumber(950), length: 200, window: 65535)
        XCTAssertEqual(a.stored, r(1000, 1150))
        XCTAssertEqual(a.duplicate, r(950, 1000))
        XCTAssertEqual(a.deliverable, 200)
        XCTAssertEqual(q.next, SequenceNumber(1200))
        XCTAssertEqual(q.bytesDuplicate, 50)
    }

    func testExactDuplicateOfHeldRangeIsReportedAsDSACKFirst() {
        var q = ReceiveReassembly(next: SequenceNumber(1000))
        _ = q.insert(sequence: SequenceNumber(1100), length: 100, window: 65535)
        _ = q.insert(sequence: SequenceNumber(1300), length: 100, window: 65535)
        let again = q.insert(sequence: SequenceNumber(1100), length: 100, window: 65535)
        XCTAssertEqual(again.duplicate, r(1100, 1200))
        XCTAssertEqual(again.deliverable, 0)
        // RFC 2883: D-SACK first, then the block containing it, then the others.
        XCTAssertEqual(q.sackBlocks(maximumCount: 4), [r(1100, 1200), r(1100, 1200), r(1300, 1400)])
        // Reported for the one ACK after the duplicate only.
        _ = q.insert(sequence: SequenceNumber(1500), length: 10, window: 65535)
        XCTAssertEqual(q.sackBlocks(maximumCount: 4), [r(1500, 1510), r(1100, 1200), r(1300, 1400)])
    }

    func testSegmentBeyondWindowIsCutAtTheRightEdge() {
        var q = ReceiveReassembly(next: SequenceNumber(1000))
        let a = q.insert(sequence: SequenceNumber(1400), length: 200, window: 500)
        XCTAssertEqual(a.stored, r(1400, 1500))
        XCTAssertEqual(q.bytesBeyondWindow, 100)
        let b = q.insert(sequence: SequenceNumber(1600), length: 10, window: 500)
        XCTAssertNil(b.stored)
        XCTAssertEqual(q.bytesBeyondWindow, 110)
        XCTAssertEqual(q.outOfOrder, [r(1400, 1500)])
        // A zero window stores nothing, even at RCV.NXT.
        XCTAssertNil(q.insert(sequence: SequenceNumber(1000), length: 10, window: 0).stored)
        XCTAssertEqual(q.next, SequenceNumber(1000))
    }

    func testSACKBlocksFollowRecencyAndTheLimit() {
        var q = ReceiveReassembly(next: SequenceNumber(0))
        for start in stride(from: 100, through: 500, by: 100) {
            _ = q.insert(sequence: SequenceNumber(UInt32(start)), length: 10, window: 65535)
        }
        // Most recent first; RFC 2018 4's limit with timestamps is 3.
        XCTAssertEqual(q.sackBlocks(maximumCount: ReceiveReassembly.maximumSACKBlocks(timestamps: true)),
                       [r(500, 510), r(400, 410), r(300, 310)])
        XCTAssertEqual(ReceiveReassembly.maximumSACKBlocks(timestamps: false), 4)
        // A segment extending an old block makes that block first.
        _ = q.insert(sequence: SequenceNumber(210), length: 5, window: 65535)
        XCTAssertEqual(q.sackBlocks(maximumCount: 4), [r(200, 215), r(500, 510), r(400, 410), r(300, 310)])
        // A segment that advances RCV.NXT is not reported; the rest keep their order.
        let a = q.insert(sequence: SequenceNumber(0), length: 100, window: 65535)
        XCTAssertEqual(a.deliverable, 110)
        XCTAssertEqual(q.sackBlocks(maximumCount: 4), [r(200, 215), r(500, 510), r(400, 410), r(300, 310)])
        XCTAssertEqual(q.sackBlocks(maximumCount: 0), [])
    }

    func testRangeBoundDropsTheOldestAndCountsIt() {
        var q = ReceiveReassembly(next: SequenceNumber(0), maximumRanges: 3)
        _ = q.insert(sequence: SequenceNumber(300), length: 10, window: 65535)
        _ = q.insert(sequence: SequenceNumber(100), length: 10, window: 65535)
        _ = q.insert(sequence: SequenceNumber(200), length: 10, window: 65535)
        _ = q.insert(sequence: SequenceNumber(305), length: 10, window: 65535)  // 300 range is now the newest
        _ = q.insert(sequence: SequenceNumber(400), length: 20, window: 65535)
        XCTAssertEqual(q.outOfOrder, [r(200, 210), r(300, 315), r(400, 420)])
        XCTAssertEqual(q.rangesDropped, 1)
        XCTAssertEqual(q.bytesDropped, 10)
        // The forgotten bytes are a hole again: filling 0..<200 delivers only to 210.
        _ = q.insert(sequence: SequenceNumber(0), length: 100, window: 65535)
        XCTAssertEqual(q.next, SequenceNumber(100))
    }

    func testFINIsDeliverableOnlyAfterAllDataBeforeIt() {
        var q = ReceiveReassembly(next: SequenceNumber(1000))
        let early = q.insert(sequence: SequenceNumber(1100), length: 50, fin: true, window: 65535)
        XCTAssertFalse(early.finReached)
        XCTAssertEqual(q.finSequence, SequenceNumber(1150))
        let fill = q.insert(sequence: SequenceNumber(1000), length: 100, window: 65535)
        XCTAssertEqual(fill.deliverable, 150)
        XCTAssertTrue(fill.finReached)
        XCTAssertEqual(fill.advance, 151)
        XCTAssertEqual(q.next, SequenceNumber(1151))
        XCTAssertTrue(q.finReached)
        // A retransmitted FIN afterwards is a duplicate and changes nothing.
        let again = q.insert(sequence: SequenceNumber(1100), length: 50, fin: true, window: 65535)
        XCTAssertEqual(again.advance, 0)
        XCTAssertEqual(again.duplicate, r(1100, 1150))
        XCTAssertEqual(q.finConflicts, 0)
    }

    func testPureFINAtNextIsReachedAndDataAfterFINIsDropped() {
        var q = ReceiveReassembly(next: SequenceNumber(7))
        let a = q.insert(sequence: SequenceNumber(7), length: 0, fin: true, window: 100)
        XCTAssertEqual(a, .init(stored: nil, deliverable: 0, finReached: true, duplicate: nil))
        XCTAssertEqual(q.next, SequenceNumber(8))
        XCTAssertNil(q.insert(sequence: SequenceNumber(8), length: 5, window: 100).stored)
        XCTAssertEqual(q.finConflicts, 1)
        XCTAssertEqual(q.next, SequenceNumber(8))
    }

    func testConflictingFINsAndDataPastTheFINAreCounted() {
        var q = ReceiveReassembly(next: SequenceNumber(0))
        _ = q.insert(sequence: SequenceNumber(200), length: 10, window: 1000)
        // A FIN at 150 would end the stream before data already held: refused.
        _ = q.insert(sequence: SequenceNumber(100), length: 50, fin: true, window: 1000)
        XCTAssertNil(q.finSequence)
        XCTAssertEqual(q.finConflicts, 1)
        _ = q.insert(sequence: SequenceNumber(210), length: 0, fin: true, window: 1000)
        XCTAssertEqual(q.finSequence, SequenceNumber(210))
        _ = q.insert(sequence: SequenceNumber(300), length: 0, fin: true, window: 1000)  // a second, different FIN
        XCTAssertEqual(q.finConflicts, 2)
        let past = q.insert(sequence: SequenceNumber(205), length: 20, window: 1000)
        XCTAssertEqual(past.stored, r(205, 210))  // held already; the rest is past the FIN
        XCTAssertEqual(past.duplicate, r(205, 210))
        XCTAssertEqual(q.finConflicts, 3)
        // A FIN beyond the window is trimmed and does not count.
        var w = ReceiveReassembly(next: SequenceNumber(0))
        _ = w.insert(sequence: SequenceNumber(0), length: 100, fin: true, window: 100)
        XCTAssertNil(w.finSequence)
        XCTAssertEqual(w.next, SequenceNumber(100))
    }

    func testAcrossTheWrap() {
        let base = SequenceNumber(UInt32.max - 49)  // 2^32 - 50
        var q = ReceiveReassembly(next: base)
        _ = q.insert(sequence: base + 100, length: 100, window: 65535)  // 50..<150 after the wrap
        _ = q.insert(sequence: base + 40, length: 30, fin: false, window: 65535)  // straddles 0
        XCTAssertEqual(q.outOfOrder, [SequenceRange(start: base + 40, end: base + 70), r(50, 150)])
        let fill = q.insert(sequence: base, length: 40, window: 65535)
        XCTAssertEqual(fill.deliverable, 70)
        XCTAssertEqual(q.next, SequenceNumber(20))
        let rest = q.insert(sequence: SequenceNumber(20), length: 30, fin: false, window: 65535)
        XCTAssertEqual(rest.deliverable, 130)
        XCTAssertEqual(q.next, SequenceNumber(150))
    }
}
