import XCTest
import NewsTCP

final class SACKScoreboardTests: XCTestCase {
    private func s(_ v: UInt32) -> SequenceNumber { SequenceNumber(v) }
    private func r(_ a: UInt32, _ b: UInt32) -> SequenceRange { SequenceRange(start: SequenceNumber(a), end: SequenceNumber(b)) }

    /// SMSS 100, ten segments 1000..<2000 in flight.
    private func board(maximumRanges: Int = SACKScoreboard.defaultMaximumRanges) -> SACKScoreboard {
        var b = SACKScoreboard(unacknowledged: s(1000), maximumSegmentSize: 100, maximumRanges: maximumRanges)
        for start in stride(from: 1000, to: 2000, by: 100) {
            XCTAssertTrue(b.sent(SequenceRange(start: s(UInt32(start)), length: 100)))
        }
        return b
    }

    func testSentNewDataMovesNextAndRejectsGaps() {
        var b = board()
        XCTAssertEqual(b.next, s(2000))
        XCTAssertFalse(b.sent(r(2100, 2200)))  // would leave a gap after SND.NXT
        XCTAssertFalse(b.sent(r(900, 1000)))   // below SND.UNA
        XCTAssertFalse(b.sent(r(1500, 1500)))  // empty
        XCTAssertEqual(b.next, s(2000))
        XCTAssertEqual(b.retransmittedUpTo, s(1000))
    }

    func testSACKBlocksMergeAndCountNewBytesAndDupAcks() {
        var b = board()
        XCTAssertEqual(b.receiveAck(s(1000), blocks: [r(1100, 1200)]),
                       .init(acknowledged: 0, newlySACKed: 100, duplicate: nil, recoveryEnded: false))
        XCTAssertEqual(b.receiveAck(s(1000), blocks: [r(1300, 1400), r(1100, 1200)]).newlySACKed, 100)
        XCTAssertEqual(b.receiveAck(s(1000), blocks: [r(1150, 1350), r(1300, 1400)]).newlySACKed, 100)
        XCTAssertEqual(b.sackedRanges, [r(1100, 1400)])
        XCTAssertEqual(b.duplicateAcks, 3)
        // Nothing new: not a duplicate for the count.
        XCTAssertEqual(b.receiveAck(s(1000), blocks: [r(1100, 1400)]).newlySACKed, 0)
        XCTAssertEqual(b.duplicateAcks, 3)
    }

    func testBlocksOutsideTheSentDataAreIgnoredAndCounted() {
        var b = board()
        let result = b.receiveAck(s(1200), blocks: [r(1500, 1600), r(1900, 2100), r(1000, 1100), r(1700, 1700)])
        XCTAssertEqual(result.newlySACKed, 100)
        XCTAssertEqual(b.blocksIgnored, 3)
        XCTAssertEqual(b.sackedRanges, [r(1500, 1600)])
        XCTAssertEqual(b.receiveAck(s(2100), blocks: []).acknowledged, 0)
        XCTAssertEqual(b.receiveAck(s(900), blocks: []).acknowledged, 0)
        XCTAssertEqual(b.acksIgnored, 2)
        XCTAssertEqual(b.unacknowledged, s(1200))
    }

    func testDSACKIsNotedNotUsedForLoss() {
        var b = board()
        _ = b.receiveAck(s(1000), blocks: [r(1100, 1300)])
        // First block inside the second: a duplicate (RFC 2883).
        let inside = b.receiveAck(s(1000), blocks: [r(1100, 1200), r(1100, 1300)])
        XCTAssertEqual(inside.duplicate, r(1100, 1200))
        XCTAssertEqual(inside.newlySACKed, 0)
        // First block below the cumulative ACK: a duplicate.
        let below = b.receiveAck(s(1300), blocks: [r(1000, 1100)])
        XCTAssertEqual(below.duplicate, r(1000, 1100))
        XCTAssertEqual(below.acknowledged, 300)
        // A D-SACK of data above SND.UNA that is not inside another block is taken as SACK:
        // the sender cannot tell it apart (RFC 2883 4.1.1 ambiguity).
        XCTAssertNil(b.receiveAck(s(1300), blocks: [r(1500, 1600)]).duplicate)
        XCTAssertEqual(b.duplicateSACKs, 2)
        XCTAssertEqual(b.sackedRanges, [r(1500, 1600)])
        XCTAssertEqual(b.blocksIgnored, 0)
    }

    func testCumulativeAckTrimsTheScoreboard() {
        var b = board()
        _ = b.receiveAck(s(1000), blocks: [r(1100, 1400), r(1600, 1700)])
        let result = b.receiveAck(s(1200), blocks: [r(1600, 1700)])
        XCTAssertEqual(result.acknowledged, 200)
        XCTAssertEqual(b.sackedRanges, [r(1200, 1400), r(1600, 1700)])
        XCTAssertEqual(b.duplicateAcks, 0)
        _ = b.receiveAck(s(1650), blocks: [])
        XCTAssertEqual(b.sackedRanges, [r(1650, 1700)])
    }

    func testIsLostByBytesAndByDiscontiguousRanges() {
        var b = board()
        _ = b.receiveAck(s(1000), blocks: [r(1100, 1300)])
        XCTAssertFalse(b.isLost(s(1000)))  // 200 bytes is not more than (3-1)*100
        _ = b.receiveAck(s(1000), blocks: [r(1100, 1301)])
        XCTAssertTrue(b.isLost(s(1000)))   // 201 bytes is
        XCTAssertFalse(b.isLost(s(1150)))  // SACKed itself
        XCTAssertFalse(b.isLost(s(1400)))  // nothing SACKed above
        XCTAssertFalse(b.isLost(s(2000)))  // never sent

        var c = board()
        _ = c.receiveAck(s(1000), blocks: [r(1100, 1110), r(1200, 1210), r(1300, 1310)])
        XCTAssertTrue(c.isLost(s(1000)))   // three discontiguous ranges above
        XCTAssertFalse(c.isLost(s(1110)))  // only two above
    }

    func testPipeCountsOutstandingNotLostPlusRetransmitted() {
        var b = board()
        XCTAssertEqual(b.pipe, 1000)
        _ = b.receiveAck(s(1000), blocks: [r(1100, 1400)])
        // 1000..<1100 lost (0); 1400..<2000 outstanding (600).
        XCTAssertEqual(b.pipe, 600)
        b.enterRecovery()
        XCTAssertTrue(b.sent(r(1000, 1100)))
        XCTAssertEqual(b.retransmittedUpTo, s(1100))
        XCTAssertEqual(b.pipe, 700)
    }

    func testNextSegmentRulesOneTwoThree() {
        var b = board()
        _ = b.receiveAck(s(1000), blocks: [r(1250, 1600)])
        b.enterRecovery()
        // Rule 1: the lost hole 1000..<1250 goes out one SMSS at a time, cut at the hole's end.
        XCTAssertEqual(b.nextSegment(newDataAvailable: 500), .retransmitLost(r(1000, 1100)))
        b.sent(r(1000, 1100))
        XCTAssertEqual(b.nextSegment(newDataAvailable: 500), .retransmitLost(r(1100, 1200)))
        b.sent(r(1100, 1200))
        XCTAssertEqual(b.nextSegment(newDataAvailable: 500), .retransmitLost(r(1200, 1250)))
        b.sent(r(1200, 1250))
        // Rule 2: new data, up to SMSS.
        XCTAssertEqual(b.nextSegment(newDataAvailable: 500), .newData(r(2000, 2100)))
        XCTAssertEqual(b.nextSegment(newDataAvailable: 30), .newData(r(2000, 2030)))
        // Nothing else below the highest SACK is left unretransmitted.
        XCTAssertNil(b.nextSegment(newDataAvailable: 0))

        // Rule 3: an unSACKed hole that is not (yet) lost, when there is no new data.
        var c = board()
        _ = c.receiveAck(s(1000), blocks: [r(1100, 1200)])
        c.enterRecovery()
        XCTAssertEqual(c.nextSegment(newDataAvailable: 0), .retransmitUnSACKed(r(1000, 1100)))
        XCTAssertEqual(c.nextSegment(newDataAvailable: 1), .newData(r(2000, 2001)))
    }

    func testRecoveryEndsAtRecoveryPointAndRTOBlocksANewOne() {
        var b = board()
        _ = b.receiveAck(s(1000), blocks: [r(1100, 1400)])
        XCTAssertTrue(b.mayEnterRecovery)
        b.enterRecovery()
        XCTAssertEqual(b.recoveryPoint, s(2000))
        XCTAssertFalse(b.mayEnterRecovery)
        b.sent(r(2000, 2100))
        XCTAssertFalse(b.receiveAck(s(1500), blocks: []).recoveryEnded)
        XCTAssertTrue(b.inRecovery)
        XCTAssertTrue(b.receiveAck(s(2000), blocks: []).recoveryEnded)
        XCTAssertFalse(b.inRecovery)

        _ = b.receiveAck(s(2000), blocks: [r(2050, 2100)])
        b.retransmissionTimeout()
        XCTAssertEqual(b.sackedRanges, [])   // RFC 2018 8: SACKed bits turned off
        XCTAssertEqual(b.recoveryPoint, s(2100))
        XCTAssertFalse(b.mayEnterRecovery)
        XCTAssertFalse(b.receiveAck(s(2100), blocks: []).recoveryEnded)  // no recovery was running
        XCTAssertTrue(b.mayEnterRecovery)
    }

    func testRangeBoundForgetsTheHighest() {
        var b = board(maximumRanges: 2)
        _ = b.receiveAck(s(1000), blocks: [r(1700, 1800), r(1300, 1400), r(1100, 1200)])
        XCTAssertEqual(b.sackedRanges, [r(1100, 1200), r(1300, 1400)])
        XCTAssertEqual(b.rangesDropped, 1)
    }

    func testAcrossTheWrap() {
        let una = SequenceNumber(UInt32.max - 149)  // 2^32 - 150
        var b = SACKScoreboard(unacknowledged: una, maximumSegmentSize: 100)
        b.sent(SequenceRange(start: una, length: 1000))
        XCTAssertEqual(b.next, s(850))
        _ = b.receiveAck(una, blocks: [SequenceRange(start: una + 100, end: s(250))])  // crosses zero
        XCTAssertEqual(b.sackedBytes, 300)
        XCTAssertTrue(b.isLost(una))
        XCTAssertEqual(b.pipe, 600)  // 250..<850
        XCTAssertEqual(b.nextSegment(newDataAvailable: 0), .retransmitLost(SequenceRange(start: una, length: 100)))
        XCTAssertEqual(b.receiveAck(s(250), blocks: []).acknowledged, 400)
        XCTAssertEqual(b.sackedRanges, [])
    }
}
