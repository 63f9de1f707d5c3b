import XCTest
import NewsTCP

/// A sender that acknowledges one SMSS at a time, `window / SMSS` ACKs per round trip spread
/// evenly over it, as a bulk transfer without delayed ACKs sees them.
struct AckClock {
    var now: UInt64
    var next: SequenceNumber
    let rtt: UInt64

    /// Runs `rounds` round trips; returns cwnd at the end of each.
    mutating func run<C: CongestionController>(_ cc: inout C, rounds: Int, smss: Int = 1000) -> [Int] {
        var windows: [Int] = []
        for _ in 0..<rounds {
            let n = max(1, cc.window / smss)
            let start = now
            for i in 1...n {
                next += smss
                now = start + rtt * UInt64(i) / UInt64(n)
                _ = cc.acknowledged(CongestionAck(bytes: smss, acknowledgment: next, flightSize: cc.window,
                                             smoothedRoundTrip: rtt, now: now))
            }
            windows.append(cc.window)
        }
        return windows
    }
}

final class CongestionConfigurationTests: XCTestCase {
    func testRfc6928InitialWindow() {
        let c = CongestionConfiguration()
        XCTAssertEqual(c.initialWindow(maximumSegmentSize: 1460), 14600)
        XCTAssertEqual(c.initialWindow(maximumSegmentSize: 1000), 10000, "10*MSS below 14600")
        XCTAssertEqual(c.initialWindow(maximumSegmentSize: 536), 5360)
        XCTAssertEqual(c.initialWindow(maximumSegmentSize: 8960), 17920, "2*MSS above 14600")
        XCTAssertEqual(c.initialWindow(maximumSegmentSize: 1500), 14600)
        XCTAssertEqual(CongestionConfiguration(initialWindowSegments: 4).initialWindow(maximumSegmentSize: 1000), 4000)
    }

    func testMakeControllerPicksTheAlgorithm() {
        XCTAssertTrue(CongestionConfiguration(algorithm: .newReno).makeController(maximumSegmentSize: 1000) is NewReno)
        XCTAssertTrue(CongestionConfiguration(algorithm: .cubic).makeController(maximumSegmentSize: 1000) is Cubic)
        XCTAssertEqual(CongestionAlgorithm(rawValue: "newreno"), .newReno)
        XCTAssertEqual(CongestionConfiguration().algorithm, .cubic)
    }
}

final class NewRenoTests: XCTestCase {
    let una = SequenceNumber(UInt32.max - 4999)  // the 20000 bytes in flight wrap past zero

    func loss(flight: Int = 20000, una: SequenceNumber? = nil) -> CongestionLoss {
        let u = una ?? self.una
        return CongestionLoss(flightSize: flight, unacknowledged: u, sendNext: u + flight, now: 0)
    }

    func testSlowStartDoublesEachRoundTrip() {
        var cc = NewReno(maximumSegmentSize: 1000)
        XCTAssertEqual(cc.window, 10000)
        var clock = AckClock(now: 0, next: una, rtt: 100_000_000)
        XCTAssertEqual(clock.run(&cc, rounds: 3), [20000, 40000, 80000])
    }

    func testSlowStartByteCountingIsLimitedToTwoSmssPerAck() {
        var cc = NewReno(maximumSegmentSize: 1000)
        _ = cc.acknowledged(CongestionAck(bytes: 2000, acknowledgment: una + 2000, flightSize: 8000, now: 1))
        XCTAssertEqual(cc.window, 12000, "a delayed ACK of two segments counts both")
        _ = cc.acknowledged(CongestionAck(bytes: 5000, acknowledgment: una + 7000, flightSize: 5000, now: 2))
        XCTAssertEqual(cc.window, 14000, "L = 2*SMSS caps the stretch ACK")
        var strict = NewReno(maximumSegmentSize: 1000, configuration: .init(algorithm: .newReno, byteCountingLimit: 1))
        _ = strict.acknowledged(CongestionAck(bytes: 2000, acknowledgment: una + 2000, flightSize: 8000, now: 1))
        XCTAssertEqual(strict.window, 11000, "RFC 5681 equation (2): min(N, SMSS)")
    }

    func testCongestionAvoidanceGrowsOneSmssPerWindowOfBytes() {
        var cc = NewReno(maximumSegmentSize: 1000, configuration: .init(algorithm: .newReno, initialSlowStartThreshold: 10000))
        var next = una
        for i in 1...9 {
            next += 1000
            _ = cc.acknowledged(CongestionAck(bytes: 1000, acknowledgment: next, flightSize: 9000, now: UInt64(i)))
        }
        XCTAssertEqual(cc.window, 10000)
        XCTAssertEqual(cc.bytesAcknowledgedInAvoidance, 9000)
        next += 1000
        _ = cc.acknowledged(CongestionAck(bytes: 1000, acknowledgment: next, flightSize: 9000, now: 10))
        XCTAssertEqual(cc.window, 11000)
        XCTAssertEqual(cc.bytesAcknowledgedInAvoidance, 0)
        var clock = AckClock(now: 10, next: next, rtt: 100_000_000)
        XCTAssertEqual(clock.run(&cc, rounds: 4), [12000, 13000, 14000, 15000], "one SMSS per round trip")
    }

    func testLossHalvesTheFlightAndInflatesByThreeSegments() {
        var cc = NewReno(maximumSegmentSize: 1000)
        XCTAssertTrue(cc.lossDetected(loss()))
        XCTAssertTrue(cc.isInRecovery)
        XCTAssertEqual(cc.slowStartThreshold, 10000)
        XCTAssertEqual(cc.window, 13000)
        cc.duplicateAcknowledged()
        XCTAssertEqual(cc.window, 14000)
        XCTAssertFalse(cc.lossDetected(loss()), "already recovering")
        XCTAssertEqual(cc.slowStartThreshold, 10000)

        var small = NewReno(maximumSegmentSize: 1000)
        XCTAssertTrue(small.lossDetected(loss(flight: 3000)))
        XCTAssertEqual(small.slowStartThreshold, 2000, "never below 2*SMSS")
        XCTAssertEqual(small.window, 5000)
    }

    func testPartialAcksDeflateAndAFullAckEndsRecovery() {
        var cc = NewReno(maximumSegmentSize: 1000)
        XCTAssertTrue(cc.lossDetected(loss()))  // recover = una + 19999
        cc.duplicateAcknowledged(); cc.duplicateAcknowledged()
        XCTAssertEqual(cc.window, 15000)
        // Partial: 5000 new bytes, deflate by 5000 and add back one SMSS.
        XCTAssertEqual(cc.acknowledged(CongestionAck(bytes: 5000, acknowledgment: una + 5000, flightSize: 15000, now: 1)),
                       .partialAcknowledgment(restartTimer: true))
        XCTAssertEqual(cc.window, 11000)
        // Less than one SMSS: no add-back, and only the first partial ACK restarts the timer.
        XCTAssertEqual(cc.acknowledged(CongestionAck(bytes: 500, acknowledgment: una + 5500, flightSize: 14500, now: 2)),
                       .partialAcknowledgment(restartTimer: false))
        XCTAssertEqual(cc.window, 10500)
        XCTAssertTrue(cc.isInRecovery)
        // Acknowledging up to recover (una + 19999) is still partial; one more is full.
        XCTAssertEqual(cc.acknowledged(CongestionAck(bytes: 14499, acknowledgment: una + 19999, flightSize: 4001, now: 3)),
                       .partialAcknowledgment(restartTimer: false))
        XCTAssertEqual(cc.acknowledged(CongestionAck(bytes: 1, acknowledgment: una + 20000, flightSize: 4000, now: 4)),
                       .recoveryEnded)
        XCTAssertFalse(cc.isInRecovery)
        XCTAssertEqual(cc.window, 5000, "min(ssthresh, max(FlightSize, SMSS) + SMSS)")
        XCTAssertEqual(cc.slowStartThreshold, 10000)
        // Back in slow start below ssthresh.
        XCTAssertEqual(cc.acknowledged(CongestionAck(bytes: 1000, acknowledgment: una + 21000, flightSize: 4000, now: 5)), .normal)
        XCTAssertEqual(cc.window, 6000)
    }

    func testFullAckWithMuchInFlightDeflatesToSsthresh() {
        var cc = NewReno(maximumSegmentSize: 1000)
        XCTAssertTrue(cc.lossDetected(loss()))
        XCTAssertEqual(cc.acknowledged(CongestionAck(bytes: 20000, acknowledgment: una + 20000, flightSize: 12000, now: 1)),
                       .recoveryEnded)
        XCTAssertEqual(cc.window, 10000)
    }

    func testTimeoutCollapsesToOneSegmentAndKeepsSsthreshOnRepeats() {
        var cc = NewReno(maximumSegmentSize: 1000)
        cc.retransmissionTimedOut(loss(flight: 30000))
        XCTAssertEqual(cc.window, 1000)
        XCTAssertEqual(cc.slowStartThreshold, 15000)
        cc.retransmissionTimedOut(loss(flight: 1000))
        XCTAssertEqual(cc.window, 1000)
        XCTAssertEqual(cc.slowStartThreshold, 15000, "the same segment timing out again does not lower ssthresh")
        _ = cc.acknowledged(CongestionAck(bytes: 1000, acknowledgment: una + 1000, flightSize: 0, now: 1))
        XCTAssertEqual(cc.window, 2000)
        cc.retransmissionTimedOut(loss(flight: 8000, una: una + 1000))
        XCTAssertEqual(cc.slowStartThreshold, 4000, "after an ACK, a new timeout sets ssthresh again")
    }

    func testTimeoutEndsRecoveryAndDupacksBelowRecoverDoNotReenter() {
        var cc = NewReno(maximumSegmentSize: 1000)
        XCTAssertTrue(cc.lossDetected(loss()))
        cc.retransmissionTimedOut(loss())  // recover = una + 19999
        XCTAssertFalse(cc.isInRecovery)
        XCTAssertEqual(cc.window, 1000)
        // Duplicate ACKs for una + 5000 after go-back-N: RFC 6582 3.2 step 2, no fast retransmit.
        _ = cc.acknowledged(CongestionAck(bytes: 5000, acknowledgment: una + 5000, flightSize: 15000, now: 1))
        XCTAssertFalse(cc.lossDetected(CongestionLoss(flightSize: 15000, unacknowledged: una + 5000, sendNext: una + 20000, now: 2)))
        XCTAssertFalse(cc.isInRecovery)
        // Once the cumulative ACK passes recover, a new loss is a new episode.
        _ = cc.acknowledged(CongestionAck(bytes: 15000, acknowledgment: una + 20000, flightSize: 6000, now: 3))
        XCTAssertTrue(cc.lossDetected(CongestionLoss(flightSize: 6000, unacknowledged: una + 20000, sendNext: una + 26000, now: 4)))
        XCTAssertEqual(cc.slowStartThreshold, 3000)
    }
}

extension NewRenoTests {
    func testRestartAfterIdleFallsBackToTheInitialWindow() {
        var cc = NewReno(maximumSegmentSize: 1000)
        var clock = AckClock(now: 0, next: una, rtt: 100_000_000)
        _ = clock.run(&cc, rounds: 2)
        XCTAssertEqual(cc.window, 40000)
        cc.restartAfterIdle()
        XCTAssertEqual(cc.window, 10000, "RW = min(IW, cwnd)")
        cc.retransmissionTimedOut(loss())
        cc.restartAfterIdle()
        XCTAssertEqual(cc.window, 1000, "a window below IW is kept")
    }
}

final class CubicTests: XCTestCase {
    let una = SequenceNumber(4_000_000_000)
    let ms: UInt64 = 1_000_000

    /// 100 segments of 1000 bytes in flight, one loss, recovery ended by a full ACK at 10 ns.
    func afterLoss(fastConvergence: Bool = true) -> Cubic {
        var cc = Cubic(maximumSegmentSize: 1000, configuration: .init(
            algorithm: .cubic, initialWindowSegments: 100, cubic: .init(fastConvergence: fastConvergence)))
        XCTAssertTrue(cc.lossDetected(CongestionLoss(flightSize: 100_000, unacknowledged: una, sendNext: una + 100_000, now: 0)))
        XCTAssertEqual(cc.acknowledged(CongestionAck(bytes: 100_000, acknowledgment: una + 100_000, flightSize: 80_000, now: 10)),
                       .recoveryEnded)
        return cc
    }

    func testBetaPointSevenReduction() {
        let cc = afterLoss()
        XCTAssertEqual(cc.slowStartThreshold, 70_000)
        XCTAssertEqual(cc.window, 70_000)
        XCTAssertEqual(cc.maximumWindow, 100_000)
        XCTAssertEqual(cc.renoFriendlyAlpha, 0.9 / 1.7, accuracy: 1e-12)
    }

    func testRecoveryInflationMatchesNewReno() {
        var cc = Cubic(maximumSegmentSize: 1000, configuration: .init(initialWindowSegments: 100))
        XCTAssertTrue(cc.lossDetected(CongestionLoss(flightSize: 100_000, unacknowledged: una, sendNext: una + 100_000, now: 0)))
        XCTAssertEqual(cc.window, 73_000)
        cc.duplicateAcknowledged()
        XCTAssertEqual(cc.window, 74_000)
        XCTAssertEqual(cc.acknowledged(CongestionAck(bytes: 10_000, acknowledgment: una + 10_000, flightSize: 90_000, now: 1)),
                       .partialAcknowledgment(restartTimer: true))
        XCTAssertEqual(cc.window, 65_000)
    }

    func testWindowAtKIsWMax() throws {
        var cc = afterLoss()
        _ = cc.acknowledged(CongestionAck(bytes: 1000, acknowledgment: una + 101_000, flightSize: 70_000, smoothedRoundTrip: 100 * ms, now: 20))
        XCTAssertEqual(cc.epochStart, 20)
        // K = cbrt((W_max - cwnd_epoch) / C) = cbrt(30 / 0.4) = cbrt(75) seconds
        XCTAssertEqual(cc.k * cc.k * cc.k, 75, accuracy: 1e-9)
        XCTAssertEqual(cc.k, 4.217163, accuracy: 1e-6)
        XCTAssertEqual(try XCTUnwrap(cc.cubicWindow(elapsed: 0)), 70_000, accuracy: 1e-6)
        let atK = UInt64((cc.k * 1e9).rounded())
        XCTAssertEqual(try XCTUnwrap(cc.cubicWindow(elapsed: atK)), 100_000, accuracy: 1e-3)
        // One second past K: C * 1^3 segments above the plateau.
        XCTAssertEqual(try XCTUnwrap(cc.cubicWindow(elapsed: atK + 1_000_000_000)), 100_400, accuracy: 1e-3)
    }

    func testConcaveThenConvexGrowth() {
        var cc = afterLoss()
        var clock = AckClock(now: 1_000, next: una + 100_000, rtt: 100 * ms)
        let w = clock.run(&cc, rounds: 70)  // 7 s; K is about 4.2 s
        func growth(_ from: Int, _ to: Int) -> Int { w[to] - w[from] }
        // Concave: each second adds less on the way up to W_max...
        XCTAssertGreaterThan(growth(0, 10), growth(10, 20))
        XCTAssertGreaterThan(growth(10, 20), growth(30, 40))
        XCTAssertGreaterThan(growth(0, 10), 10_000, "W_cubic(1.1 s) - W_cubic(0.1 s) is about 15.8 segments")
        // ... a plateau near W_max around K ...
        XCTAssertEqual(Double(w[41]), 100_000, accuracy: 1_000)
        XCTAssertLessThan(growth(38, 44), 1_000)
        // ... convex beyond it.
        XCTAssertGreaterThan(growth(60, 69), growth(50, 59))
        XCTAssertGreaterThan(growth(50, 59), growth(42, 51))
        XCTAssertGreaterThan(w[69], 102_000)
        // Never below the Reno estimate.
        XCTAssertGreaterThanOrEqual(Double(cc.window), cc.renoEstimate.rounded(.down))
    }

    func testFastConvergenceLowersWMax() {
        var cc = afterLoss()
        // A second loss before getting back to W_max: the flow releases bandwidth.
        XCTAssertTrue(cc.lossDetected(CongestionLoss(flightSize: 70_000, unacknowledged: una + 100_000, sendNext: una + 170_000, now: 20)))
        XCTAssertEqual(try XCTUnwrap(cc.maximumWindow), 70_000 * 1.7 / 2, accuracy: 1e-9)
        XCTAssertEqual(cc.slowStartThreshold, 49_000)
        var plain = afterLoss(fastConvergence: false)
        XCTAssertTrue(plain.lossDetected(CongestionLoss(flightSize: 70_000, unacknowledged: una + 100_000, sendNext: una + 170_000, now: 20)))
        XCTAssertEqual(plain.maximumWindow, 70_000)
    }

    func testRenoFriendlyRegionDominatesWithASmallRtt() throws {
        var cc = afterLoss()
        var clock = AckClock(now: 1_000, next: una + 100_000, rtt: 1 * ms)
        _ = clock.run(&cc, rounds: 20)
        let start = try XCTUnwrap(cc.epochStart)
        let cubicNow = try XCTUnwrap(cc.cubicWindow(elapsed: clock.now - start))
        // Reno adds alpha_cubic (0.53) segments a round trip: about 10.6 segments in 20;
        // the cubic curve has risen well under one segment in 20 ms.
        XCTAssertLessThan(cubicNow, 71_000)
        XCTAssertEqual(cc.renoEstimate, 80_600, accuracy: 700)
        XCTAssertEqual(cc.window, Int(cc.renoEstimate))
    }

    func testRenoEstimateSwitchesToAlphaOneAtThePriorWindow() {
        var cc = afterLoss()
        var clock = AckClock(now: 1_000, next: una + 100_000, rtt: 1 * ms)
        _ = clock.run(&cc, rounds: 80)  // past 100 segments: from there one segment a round trip
        let before = cc.renoEstimate
        XCTAssertGreaterThan(before, 100_000)
        _ = clock.run(&cc, rounds: 10)
        XCTAssertEqual(cc.renoEstimate - before, 10_000, accuracy: 300)
    }

    func testTimeoutCollapsesAndRestartsWithKZero() throws {
        var cc = Cubic(maximumSegmentSize: 1000, configuration: .init(initialWindowSegments: 100))
        cc.retransmissionTimedOut(CongestionLoss(flightSize: 100_000, unacknowledged: una, sendNext: una + 100_000, now: 0))
        XCTAssertEqual(cc.window, 1000)
        XCTAssertEqual(cc.slowStartThreshold, 70_000, "ssthresh by beta_cubic, not Reno's half")
        var clock = AckClock(now: 1_000, next: una, rtt: 100 * ms)
        let w = clock.run(&cc, rounds: 7)
        XCTAssertEqual(Array(w.prefix(6)), [2000, 4000, 8000, 16_000, 32_000, 64_000], "slow start")
        XCTAssertGreaterThanOrEqual(w[6], 70_000)
        // The first avoidance stage: K = 0 and W_max = cwnd at its start.
        XCTAssertEqual(cc.k, 0)
        let start = try XCTUnwrap(cc.epochStart)
        XCTAssertEqual(try XCTUnwrap(cc.cubicWindow(elapsed: 0)), try XCTUnwrap(cc.maximumWindow))
        XCTAssertGreaterThan(start, 600 * ms)
    }

    func testRestartAfterIdleBeginsANewStage() {
        var cc = afterLoss()
        _ = cc.acknowledged(CongestionAck(bytes: 1000, acknowledgment: una + 101_000, flightSize: 70_000, now: 20))
        XCTAssertEqual(cc.epochStart, 20)
        let before = cc.window
        cc.restartAfterIdle()
        XCTAssertNil(cc.epochStart)
        XCTAssertEqual(cc.window, before, "below IW (100 segments here): kept")
        XCTAssertEqual(cc.maximumWindow, 100_000, "W_max is kept")
        var fresh = Cubic(maximumSegmentSize: 1000)
        var clock = AckClock(now: 0, next: una, rtt: 100 * ms)
        XCTAssertEqual(clock.run(&fresh, rounds: 2), [20000, 40000])
        fresh.restartAfterIdle()
        XCTAssertEqual(fresh.window, 10000, "RW = min(IW, cwnd)")
    }
}
