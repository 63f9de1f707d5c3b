import XCTest
import NewsTCP

final class SequenceNumberTests: XCTestCase {
    func testOrderingAcrossTheWrap() {
        let near = SequenceNumber(UInt32.max - 10)
        let past = near + 20  // wrapped to 9
        XCTAssertEqual(past.rawValue, 9)
        XCTAssertTrue(near < past)
        XCTAssertTrue(past > near)
        XCTAssertEqual(past - near, 20)
        XCTAssertEqual(near - past, -20)
        XCTAssertEqual(past - 20, near)
        XCTAssertTrue(SequenceNumber(5) <= SequenceNumber(5) && SequenceNumber(5) >= SequenceNumber(5))
    }

    func testWindowMembershipIsHalfOpen() {
        let low = SequenceNumber(UInt32.max - 1)
        let high = low + 4
        XCTAssertTrue(low.isIn(low, upTo: high))
        XCTAssertTrue((low + 3).isIn(low, upTo: high))
        XCTAssertFalse(high.isIn(low, upTo: high))
        XCTAssertFalse((low - 1).isIn(low, upTo: high))
    }
}
