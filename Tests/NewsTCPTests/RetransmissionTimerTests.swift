import XCTest
import NewsTCP

/// RFC 6298's estimator with exact numbers (milliseconds written as ms * 1_000_000 ns).
final class RetransmissionTimerTests: XCTestCase {
    let ms: UInt64 = 1_000_000

    func testInitialTimeoutIsOneSecondBeforeAnySample() {
        let rto = RetransmissionTimeout()
        XCTAssertEqual(rto.timeout, 1000 * ms)
        XCTAssertNil(rto.smoothedRoundTrip)
        XCTAssertEqual(RetransmissionConfiguration.rfcMinimumTimeout, 1000 * ms)
    }

    func testFirstSampleSetsSrttToRAndRttvarToHalfR() {
        var rto = RetransmissionTimeout()
        XCTAssertEqual(rto.acknowledged(.segment(sentAt: 5000 * ms, retransmitted: false), at: 5100 * ms), 100 * ms)
        XCTAssertEqual(rto.smoothedRoundTrip, 100 * ms)
        XCTAssertEqual(rto.roundTripVariation, 50 * ms)
        // RTO = SRTT + max(G, 4 * RTTVAR) = 100 + 200
        XCTAssertEqual(rto.timeout, 300 * ms)
    }

    func testLaterSamplesUseAlphaEighthAndBetaQuarterWithTheOldSrtt() {
        var rto = RetransmissionTimeout()
        rto.update(roundTrip: 100 * ms)
        rto.update(roundTrip: 200 * ms)
        // RTTVAR = 3/4 * 50 + 1/4 * |100 - 200| = 62.5; SRTT = 7/8 * 100 + 1/8 * 200 = 112.5
        XCTAssertEqual(rto.roundTripVariation, 62_500_000)
        XCTAssertEqual(rto.smoothedRoundTrip, 112_500_000)
        XCTAssertEqual(rto.timeout, 112_500_000 + 250_000_000)
        rto.update(roundTrip: 112_500_000)
        // Deviation 0: RTTVAR = 3/4 * 62.5 = 46.875; SRTT unchanged.
        XCTAssertEqual(rto.roundTripVariation, 46_875_000)
        XCTAssertEqual(rto.smoothedRoundTrip, 112_500_000)
        XCTAssertEqual(rto.timeout, 112_500_000 + 187_500_000)
    }

    func testClockGranularityFloorsTheVarianceTerm() {
        var rto = RetransmissionTimeout(configuration: .init(minimumTimeout: 0, clockGranularity: 10 * ms))
        rto.update(roundTrip: 2 * ms)  // 4 * RTTVAR = 4 ms < G
        XCTAssertEqual(rto.timeout, 12 * ms)
        var fine = RetransmissionTimeout(configuration: .init(minimumTimeout: 0, clockGranularity: 1 * ms))
        fine.update(roundTrip: 2 * ms)
        XCTAssertEqual(fine.timeout, 6 * ms)
    }

    func testLowerBoundIsConfigurableDefault200msRfcOneSecond() {
        var linux = RetransmissionTimeout()
        linux.update(roundTrip: 1 * ms)
        XCTAssertEqual(linux.timeout, 200 * ms)
        var rfc = RetransmissionTimeout(configuration: .init(minimumTimeout: RetransmissionConfiguration.rfcMinimumTimeout))
        rfc.update(roundTrip: 1 * ms)
        XCTAssertEqual(rfc.timeout, 1000 * ms)
    }

    func testUpperBoundSixtySeconds() {
        var rto = RetransmissionTimeout()
        rto.update(roundTrip: 30_000 * ms)  // 30 s + 4 * 15 s = 90 s
        XCTAssertEqual(rto.timeout, 60_000 * ms)
    }

    func testBackoffDoublesUpToTheMaximumAndANewSampleResetsIt() {
        var rto = RetransmissionTimeout()
        rto.update(roundTrip: 100 * ms)
        rto.backOff()
        XCTAssertEqual(rto.timeout, 600 * ms)
        rto.backOff()
        XCTAssertEqual(rto.timeout, 1200 * ms)
        XCTAssertEqual(rto.consecutiveBackoffs, 2)
        for _ in 0..<10 { rto.backOff() }
        XCTAssertEqual(rto.timeout, 60_000 * ms, "bounded by 2.5's maximum")
        XCTAssertEqual(rto.consecutiveBackoffs, 12)
        // An ACK for a segment sent once: the estimate resumes from SRTT, the backoff is gone.
        rto.acknowledged(.segment(sentAt: 0, retransmitted: false), at: 100 * ms)
        XCTAssertEqual(rto.consecutiveBackoffs, 0)
        // RTTVAR = 3/4 * 50 + 0 = 37.5, SRTT 100: 100 + 150
        XCTAssertEqual(rto.timeout, 250 * ms)
    }

    func testKarnRefusesSamplesFromRetransmittedSegmentsAndKeepsTheBackoff() {
        var rto = RetransmissionTimeout()
        rto.update(roundTrip: 100 * ms)
        rto.backOff()
        XCTAssertNil(rto.acknowledged(.segment(sentAt: 0, retransmitted: true), at: 5 * ms))
        XCTAssertEqual(rto.timeout, 600 * ms)
        XCTAssertEqual(rto.smoothedRoundTrip, 100 * ms)
        XCTAssertEqual(rto.consecutiveBackoffs, 1)
    }

    func testTimestampEchoesAreTakenEvenForRetransmissions() {
        var rto = RetransmissionTimeout()
        rto.backOff()
        XCTAssertEqual(rto.acknowledged(.timestampEcho(sentAt: 1000 * ms), at: 1040 * ms), 40 * ms)
        XCTAssertEqual(rto.smoothedRoundTrip, 40 * ms)
        XCTAssertEqual(rto.timeout, 200 * ms, "40 + 80 = 120, raised to the 200 ms floor")
    }

    func testSendTimeAfterNowIsRefused() {
        var rto = RetransmissionTimeout()
        XCTAssertNil(rto.acknowledged(.timestampEcho(sentAt: 10 * ms), at: 9 * ms))
        XCTAssertNil(rto.smoothedRoundTrip)
        XCTAssertEqual(rto.timeout, 1000 * ms)
    }

    func testSynTimeoutRaisesTheDataRtoToThreeSeconds() {
        var rto = RetransmissionTimeout()
        rto.backOff()  // 2 s
        rto.synTimedOutBeforeData()
        XCTAssertEqual(rto.timeout, 3000 * ms)
        rto.backOff(); rto.backOff()  // 12 s
        rto.synTimedOutBeforeData()
        XCTAssertEqual(rto.timeout, 12_000 * ms, "only an RTO below 3 s is raised")
    }

    func testDeadlineTimerStartRestartStopAndFire() {
        var t = DeadlineTimer()
        XCTAssertFalse(t.isRunning)
        XCTAssertFalse(t.hasExpired(at: .max))
        XCTAssertNil(t.remaining(at: 0))
        t.startIfStopped(at: 100, duration: 50)
        XCTAssertEqual(t.deadline, 150)
        t.startIfStopped(at: 120, duration: 50)
        XCTAssertEqual(t.deadline, 150, "5.1: a running timer is left alone")
        XCTAssertEqual(t.remaining(at: 120), 30)
        XCTAssertFalse(t.fire(at: 149))
        t.start(at: 140, duration: 50)  // 5.3: restart on an ACK of new data
        XCTAssertEqual(t.deadline, 190)
        XCTAssertFalse(t.fire(at: 189))
        XCTAssertTrue(t.fire(at: 190))
        XCTAssertFalse(t.isRunning)
        XCTAssertFalse(t.fire(at: 191), "fires once per arming")
        t.start(at: 0, duration: 10)
        t.stop()
        XCTAssertFalse(t.fire(at: 1000))
    }

    func testDeadlineSaturatesInsteadOfOverflowing() {
        var t = DeadlineTimer()
        t.start(at: UInt64.max - 5, duration: 10)
        XCTAssertEqual(t.deadline, UInt64.max)
        XCTAssertEqual(t.remaining(at: UInt64.max), 0)
    }

    func testRetransmissionLimits() {
        let limits = RetransmissionLimits()
        XCTAssertEqual(limits.verdict(expiries: 1, synchronizing: false), .retransmit)
        XCTAssertEqual(limits.verdict(expiries: 2, synchronizing: false), .retransmit)
        XCTAssertEqual(limits.verdict(expiries: 3, synchronizing: false), .retransmitAndAdvise, "R1: the third retransmission")
        XCTAssertEqual(limits.verdict(expiries: 15, synchronizing: false), .retransmitAndAdvise)
        XCTAssertEqual(limits.verdict(expiries: 16, synchronizing: false), .abort)
        XCTAssertEqual(limits.verdict(expiries: 7, synchronizing: true), .retransmitAndAdvise)
        XCTAssertEqual(limits.verdict(expiries: 8, synchronizing: true), .abort)
    }

    func testDefaultSynLimitRetransmitsForAtLeastThreeMinutes() {
        // RFC 9293 3.8.3: a SYN is retransmitted for at least 3 minutes. Walk the timer.
        let limits = RetransmissionLimits()
        var rto = RetransmissionTimeout()
        var now: UInt64 = 0
        var lastRetransmission: UInt64 = 0
        while true {
            now += rto.timeout
            rto.backOff()
            if limits.verdict(expiries: rto.consecutiveBackoffs, synchronizing: true) == .abort { break }
            lastRetransmission = now
        }
        // Expiries at 1, 3, 7, 15, 31, 63, 123 s (the RTO stops doubling at 60 s), then 183 s.
        XCTAssertEqual(lastRetransmission, 123_000 * ms)
        XCTAssertEqual(now, 183_000 * ms, "given up 183 s after the first SYN")
        XCTAssertGreaterThanOrEqual(now, 180_000 * ms)
    }
}
