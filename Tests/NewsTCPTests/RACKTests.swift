import XCTest
import NewsTCP

final class RACKTests: XCTestCase {
    private let ms: UInt64 = 1_000_000
    private func s(_ v: UInt32) -> SequenceNumber { SequenceNumber(v) }
    private func r(_ a: UInt32, _ b: UInt32) -> SequenceRange { SequenceRange(start: SequenceNumber(a), end: SequenceNumber(b)) }

    /// Four 100-byte segments 0..<400, sent at 0, 1, 2 and 3 ms.
    private func fourSent(maximumSegments: Int = RACK.defaultMaximumSegments) -> RACK {
        var rack = RACK(unacknowledged: s(0), maximumSegments: maximumSegments)
        for i in 0..<4 {
            XCTAssertTrue(rack.sent(SequenceRange(start: s(UInt32(i * 100)), length: 100), at: UInt64(i) * ms))
        }
        return rack
    }

    func testSegmentSentBeforeADeliveredOneIsLostPastRTTPlusWindow() {
        var rack = fourSent()
        let out = rack.receiveAck(.init(unacknowledged: s(0), sacked: [r(100, 400)]), at: 50 * ms)
        XCTAssertEqual(rack.minimumRTT, 47 * ms)
        XCTAssertEqual(rack.rtt, 47 * ms)
        XCTAssertEqual(rack.transmitTime, 3 * ms)
        XCTAssertEqual(rack.endSequence, s(400))
        XCTAssertEqual(rack.forwardAcknowledged, s(400))
        // Three segments SACKed and no reordering seen: the window is zero (step 4).
        XCTAssertEqual(rack.reorderingWindow, 0)
        XCTAssertEqual(out, .init(newlyLost: [r(0, 100)], timerDeadline: nil))
        XCTAssertEqual(rack.lostRanges, [r(0, 100)])
        XCTAssertEqual(rack.segmentsInFlight, 1)
    }

    func testNotYetPastTheThresholdArmsTheTimer() {
        var rack = fourSent()
        let out = rack.receiveAck(.init(unacknowledged: s(0), sacked: [r(100, 200)]), at: 50 * ms)
        XCTAssertEqual(rack.rtt, 49 * ms)
        // min_RTT / 4 = 12.25 ms; segment 0 is due at 0 + 49 + 12.25 ms.
        XCTAssertEqual(rack.reorderingWindow, 12_250_000)
        XCTAssertEqual(out, .init(newlyLost: [], timerDeadline: 61_250_000))
        XCTAssertEqual(rack.timerExpired(at: 61_249_999), .init(newlyLost: [], timerDeadline: 61_250_000))
        XCTAssertEqual(rack.timerExpired(at: 61_250_000), .init(newlyLost: [r(0, 100)], timerDeadline: nil))
        // Segments 2 and 3 went out after the delivered one: not judged by it.
        XCTAssertEqual(rack.lostRanges, [r(0, 100)])
    }

    func testReorderingWindowIsCappedBySRTT() {
        var rack = fourSent()
        let out = rack.receiveAck(.init(unacknowledged: s(0), sacked: [r(100, 200)], smoothedRTT: 10 * ms), at: 50 * ms)
        XCTAssertEqual(rack.reorderingWindow, 10 * ms)
        XCTAssertEqual(out.timerDeadline, 59 * ms)
        // In recovery without reordering seen, the window is zero: lost at once.
        var other = fourSent()
        let now = other.receiveAck(.init(unacknowledged: s(0), sacked: [r(100, 200)], inRecovery: true), at: 50 * ms)
        XCTAssertEqual(now.newlyLost, [r(0, 100)])
    }

    func testAmbiguousRetransmissionSampleIsIgnored() {
        var rack = fourSent()
        _ = rack.receiveAck(.init(unacknowledged: s(0), sacked: [r(100, 400)]), at: 50 * ms)
        XCTAssertTrue(rack.sent(r(0, 100), at: 50 * ms))
        XCTAssertEqual(rack.lostRanges, [])
        // 5 ms after the retransmission, less than min_RTT (47 ms): probably the original's ACK.
        let out = rack.receiveAck(.init(unacknowledged: s(400)), at: 55 * ms)
        XCTAssertEqual(rack.transmitTime, 3 * ms)
        XCTAssertEqual(rack.rtt, 47 * ms)
        XCTAssertFalse(rack.reorderingSeen)  // below fack, but retransmitted
        XCTAssertEqual(out.newlyLost, [])
        XCTAssertEqual(rack.segmentsInFlight, 0)

        // A retransmission acknowledged at least min_RTT later is a valid sample.
        var late = fourSent()
        _ = late.receiveAck(.init(unacknowledged: s(0), sacked: [r(100, 400)]), at: 50 * ms)
        late.sent(r(0, 100), at: 50 * ms)
        _ = late.receiveAck(.init(unacknowledged: s(400)), at: 98 * ms)
        XCTAssertEqual(late.transmitTime, 50 * ms)
        XCTAssertEqual(late.rtt, 48 * ms)
        XCTAssertEqual(late.minimumRTT, 47 * ms)  // retransmissions never set min_RTT
    }

    func testLostRetransmissionIsDetectedAgain() {
        var rack = fourSent()
        _ = rack.receiveAck(.init(unacknowledged: s(0), sacked: [r(100, 400)]), at: 50 * ms)
        rack.sent(r(0, 100), at: 50 * ms)
        rack.sent(r(400, 500), at: 51 * ms)
        // The new segment sent after the retransmission arrives; the retransmission does not.
        let out = rack.receiveAck(.init(unacknowledged: s(0), sacked: [r(100, 500)]), at: 100 * ms)
        XCTAssertEqual(rack.transmitTime, 51 * ms)
        XCTAssertEqual(out.newlyLost, [r(0, 100)])
    }

    func testReorderingSeenKeepsAWindowAndDSACKGrowsIt() {
        var rack = fourSent()
        _ = rack.receiveAck(.init(unacknowledged: s(0), sacked: [r(100, 400)]), at: 50 * ms)
        XCTAssertEqual(rack.lostRanges, [r(0, 100)])
        // The "lost" original arrives after all, never retransmitted: reordering.
        _ = rack.receiveAck(.init(unacknowledged: s(400)), at: 51 * ms)
        XCTAssertTrue(rack.reorderingSeen)
        XCTAssertEqual(rack.reorderingWindow, 11_750_000)  // 47 ms / 4

        // A D-SACK grows the multiplier once per round (until SND.UNA passes SND.NXT of then).
        rack.sent(r(400, 500), at: 60 * ms)
        _ = rack.receiveAck(.init(unacknowledged: s(400), duplicate: r(0, 100)), at: 61 * ms)
        XCTAssertEqual(rack.reorderingWindowMultiplier, 2)
        XCTAssertEqual(rack.reorderingWindow, 23_500_000)
        _ = rack.receiveAck(.init(unacknowledged: s(400), duplicate: r(0, 100)), at: 62 * ms)
        XCTAssertEqual(rack.reorderingWindowMultiplier, 2)
        rack.sent(r(500, 600), at: 63 * ms)
        _ = rack.receiveAck(.init(unacknowledged: s(500), duplicate: r(0, 100)), at: 110 * ms)
        XCTAssertEqual(rack.reorderingWindowMultiplier, 3)
        // The SRTT caps it.
        XCTAssertEqual(rack.receiveAck(.init(unacknowledged: s(500), smoothedRTT: 20 * ms), at: 111 * ms).timerDeadline, nil)
        XCTAssertEqual(rack.reorderingWindow, 20 * ms)
        // Sixteen recoveries without a D-SACK reset it.
        for _ in 0..<15 { _ = rack.receiveAck(.init(unacknowledged: s(600), exitedRecovery: true), at: 120 * ms) }
        XCTAssertEqual(rack.reorderingWindowMultiplier, 3)
        _ = rack.receiveAck(.init(unacknowledged: s(600), exitedRecovery: true), at: 120 * ms)
        XCTAssertEqual(rack.reorderingWindowMultiplier, 1)
    }

    func testProbeTimeout() {
        var rack = RACK(unacknowledged: s(0))
        XCTAssertNil(rack.probeDeadline(at: 100 * ms, smoothedRTT: 10 * ms, retransmissionDeadline: 1000 * ms, inRecovery: false))
        rack.sent(r(0, 100), at: 100 * ms)
        // One segment in flight: 2 * SRTT + WCDelAckT.
        XCTAssertEqual(rack.probeDeadline(at: 100 * ms, smoothedRTT: 10 * ms, retransmissionDeadline: 1000 * ms, inRecovery: false), 320 * ms)
        rack.sent(r(100, 200), at: 100 * ms)
        XCTAssertEqual(rack.probeDeadline(at: 100 * ms, smoothedRTT: 10 * ms, retransmissionDeadline: 1000 * ms, inRecovery: false), 120 * ms)
        // Capped by the RTO; 1 s without SRTT; none in recovery.
        XCTAssertEqual(rack.probeDeadline(at: 100 * ms, smoothedRTT: 10 * ms, retransmissionDeadline: 110 * ms, inRecovery: false), 110 * ms)
        XCTAssertEqual(rack.probeDeadline(at: 100 * ms, smoothedRTT: nil, retransmissionDeadline: 5000 * ms, inRecovery: false), 1100 * ms)
        XCTAssertNil(rack.probeDeadline(at: 100 * ms, smoothedRTT: 10 * ms, retransmissionDeadline: 1000 * ms, inRecovery: true))
    }

    func testProbeRetransmissionThatWasRedundant() {
        var rack = RACK(unacknowledged: s(0))
        rack.sent(r(0, 1000), at: 0)
        XCTAssertEqual(rack.probeSegment(newDataAvailable: 0, maximumSegmentSize: 100), r(900, 1000))
        XCTAssertEqual(rack.probeSegment(newDataAvailable: 30, maximumSegmentSize: 100), r(1000, 1030))
        XCTAssertTrue(rack.probeSent(r(900, 1000), at: 40 * ms))
        XCTAssertEqual(rack.probeEnd, s(1000))
        XCTAssertNil(rack.probeDeadline(at: 40 * ms, smoothedRTT: 10 * ms, retransmissionDeadline: 1000 * ms, inRecovery: false))
        // The original arrives, and the probe's duplicate is D-SACKed.
        XCTAssertNil(rack.receiveAck(.init(unacknowledged: s(1000)), at: 45 * ms).probe)
        XCTAssertEqual(rack.probeEnd, s(1000))
        XCTAssertEqual(rack.receiveAck(.init(unacknowledged: s(1000), duplicate: r(900, 1000)), at: 46 * ms).probe, .redundant)
        XCTAssertNil(rack.probeEnd)
    }

    func testProbeThatRepairedALossAndNewDataProbe() {
        var rack = RACK(unacknowledged: s(0))
        rack.sent(r(0, 100), at: 0)
        rack.probeSent(r(0, 100), at: 40 * ms)
        rack.sent(r(100, 200), at: 50 * ms)
        XCTAssertEqual(rack.receiveAck(.init(unacknowledged: s(200)), at: 90 * ms).probe, .lossRepaired)

        var fresh = RACK(unacknowledged: s(0))
        fresh.sent(r(0, 100), at: 0)
        fresh.probeSent(r(100, 150), at: 40 * ms)
        XCTAssertEqual(fresh.probeEnd, s(150))
        XCTAssertNil(fresh.receiveAck(.init(unacknowledged: s(100)), at: 41 * ms).probe)
        XCTAssertEqual(fresh.receiveAck(.init(unacknowledged: s(150)), at: 80 * ms).probe, .newDataDelivered)
    }

    func testRTOMarksTheFirstSegmentAndThoseDue() {
        var rack = fourSent()
        XCTAssertEqual(rack.retransmissionTimeout(at: 1000 * ms), [r(0, 100)])  // no RTT yet
        var timed = fourSent()
        _ = timed.receiveAck(.init(unacknowledged: s(100)), at: 10 * ms)  // rtt 10 ms
        timed.sent(r(400, 500), at: 500 * ms)
        XCTAssertEqual(timed.retransmissionTimeout(at: 505 * ms), [r(100, 200), r(200, 300), r(300, 400)])
    }

    func testBoundedRecordsMergeAndPartialSACKSplits() {
        var rack = fourSent(maximumSegments: 3)
        XCTAssertEqual(rack.recordsMerged, 1)  // the fourth merged into the third
        XCTAssertEqual(rack.segmentsInFlight, 3)
        XCTAssertFalse(rack.sent(r(500, 600), at: 5 * ms))  // a gap after SND.NXT

        var full = fourSent(maximumSegments: 2)  // records 0..<100 and 100..<400
        _ = full.receiveAck(.init(unacknowledged: s(150)), at: 10 * ms)  // no room to split at 150
        XCTAssertEqual(full.retransmissionTimeout(at: 11 * ms), [r(150, 400)])

        var split = fourSent()
        _ = split.receiveAck(.init(unacknowledged: s(0), sacked: [r(150, 400)]), at: 50 * ms)
        XCTAssertEqual(split.segmentsInFlight, 2)  // 0..<100 and 100..<150
    }

    func testAcrossTheWrap() {
        let base = SequenceNumber(UInt32.max - 149)
        var rack = RACK(unacknowledged: base)
        for i in 0..<4 { rack.sent(SequenceRange(start: base + i * 100, length: 100), at: UInt64(i) * ms) }
        let out = rack.receiveAck(.init(unacknowledged: base, sacked: [SequenceRange(start: base + 100, end: base + 400)]), at: 50 * ms)
        XCTAssertEqual(out.newlyLost, [SequenceRange(start: base, length: 100)])
        XCTAssertEqual(rack.endSequence, s(250))
    }
}
