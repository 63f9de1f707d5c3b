import XCTest
import NewsTCP

/// RFC 9293 3.10.7.4's acceptability table and RFC 5961's RST and ACK checks, case by case,
/// including windows that straddle the 2^32 wrap.
final class SegmentAcceptanceTests: XCTestCase {
    typealias A = SegmentAcceptance
    let base = SequenceNumber(UInt32.max - 99)  // RCV.NXT; the window wraps past zero

    func receive(window: Int) -> A.Receive { A.Receive(next: base, window: window) }

    func testZeroLengthZeroWindowAcceptsOnlyRcvNxt() {
        XCTAssertTrue(A.isAcceptable(sequence: base, length: 0, receive: receive(window: 0)))
        XCTAssertFalse(A.isAcceptable(sequence: base + 1, length: 0, receive: receive(window: 0)))
        XCTAssertFalse(A.isAcceptable(sequence: base - 1, length: 0, receive: receive(window: 0)))
    }

    func testZeroLengthInAWindow() {
        let r = receive(window: 1000)
        XCTAssertTrue(A.isAcceptable(sequence: base, length: 0, receive: r))
        XCTAssertTrue(A.isAcceptable(sequence: base + 999, length: 0, receive: r), "the last sequence number in the window")
        XCTAssertFalse(A.isAcceptable(sequence: base + 1000, length: 0, receive: r), "RCV.NXT+RCV.WND is outside")
        XCTAssertFalse(A.isAcceptable(sequence: base - 1, length: 0, receive: r))
    }

    func testDataIntoAZeroWindowIsNeverAcceptable() {
        XCTAssertFalse(A.isAcceptable(sequence: base, length: 1, receive: receive(window: 0)))
    }

    func testDataAcceptableIfItsFirstOrLastByteIsInTheWindow() {
        let r = receive(window: 1000)
        XCTAssertTrue(A.isAcceptable(sequence: base + 500, length: 100, receive: r))
        // Starts before RCV.NXT (a retransmission overlapping new data): its end is inside.
        XCTAssertTrue(A.isAcceptable(sequence: base - 50, length: 100, receive: r))
        // Starts inside, runs past the window's end.
        XCTAssertTrue(A.isAcceptable(sequence: base + 950, length: 100, receive: r))
        // Entirely old: its last byte is RCV.NXT - 1.
        XCTAssertFalse(A.isAcceptable(sequence: base - 100, length: 100, receive: r))
        // Entirely beyond the window.
        XCTAssertFalse(A.isAcceptable(sequence: base + 1000, length: 10, receive: r))
    }

    func testResetOnlyAtExactlyRcvNxtChallengeInWindowDropOutside() {
        let r = receive(window: 1000)
        XCTAssertEqual(A.judgeReset(sequence: base, receive: r), .reset)
        XCTAssertEqual(A.judgeReset(sequence: base + 1, receive: r), .challenge)
        XCTAssertEqual(A.judgeReset(sequence: base + 999, receive: r), .challenge)
        XCTAssertEqual(A.judgeReset(sequence: base + 1000, receive: r), .drop)
        XCTAssertEqual(A.judgeReset(sequence: base - 1, receive: r), .drop)
        XCTAssertEqual(A.judgeReset(sequence: base + 1, receive: receive(window: 0)), .drop)
    }

    func testAckRanges() {
        let una = SequenceNumber(UInt32.max - 9)
        let s = A.Send(unacknowledged: una, next: una + 100, maxWindow: 5000)
        XCTAssertEqual(A.judgeAck(una + 1, send: s), .advances)
        XCTAssertEqual(A.judgeAck(una + 100, send: s), .advances, "everything sent")
        XCTAssertEqual(A.judgeAck(una, send: s), .duplicate)
        XCTAssertEqual(A.judgeAck(una + 101, send: s), .future)
        XCTAssertEqual(A.judgeAck(una - 5000, send: s), .old, "exactly MAX.SND.WND back is still acceptable")
        XCTAssertEqual(A.judgeAck(una - 5001, send: s), .challenge)
    }
}
