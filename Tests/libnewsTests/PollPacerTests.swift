import XCTest
@testable import libnews

/// How long NewsPoll looks before sleeping (`PollPacer`): as long as recent gaps between
/// events, within bounds, and only the idle look once events stop.
final class PollPacerTests: XCTestCase {
    func testWithoutEventsItLooksTheIdleTime() {
        let p = PollPacer(idleSpinNanos: 50_000, maxSpinNanos: 2_000_000)
        XCTAssertNil(p.averageGapNanos)
        XCTAssertEqual(p.spinNanos, 50_000)
    }

    func testShortGapsAreCoveredTwice() {
        let p = PollPacer(idleSpinNanos: 50_000, maxSpinNanos: 2_000_000)
        p.record(waitedNanos: 300_000, ready: true)
        XCTAssertEqual(p.averageGapNanos, 300_000)
        XCTAssertEqual(p.spinNanos, 600_000)
        p.record(waitedNanos: 20_000, ready: true)
        XCTAssertEqual(p.averageGapNanos, 300_000 - 300_000 / 8 + 20_000 / 8)
        for _ in 0..<100 { p.record(waitedNanos: 10_000, ready: true) }
        XCTAssertEqual(p.spinNanos, 50_000, "never less than the idle look")
    }

    func testLongGapsAndTimeoutsMeanSleepingSoon() {
        let p = PollPacer(idleSpinNanos: 50_000, maxSpinNanos: 2_000_000)
        p.record(waitedNanos: 900_000, ready: true)
        XCTAssertEqual(p.spinNanos, 1_800_000)
        p.record(waitedNanos: 60_000_000_000, ready: true)
        XCTAssertEqual(p.averageGapNanos, 900_000 - 900_000 / 8 + 4_000_000 / 8, "one long gap counts as twice the longest look")
        XCTAssertEqual(p.spinNanos, 50_000, "gaps beyond what a look covers: the idle look")
        p.record(waitedNanos: 100_000, ready: true)
        p.record(waitedNanos: 1_000_000_000, ready: false)
        XCTAssertNil(p.averageGapNanos, "a timeout: the application went idle")
        XCTAssertEqual(p.spinNanos, 50_000)
    }

    func testTheLongestLookIsBounded() {
        let p = PollPacer(idleSpinNanos: 50_000, maxSpinNanos: 2_000_000)
        p.record(waitedNanos: 1_000_000, ready: true)
        XCTAssertEqual(p.spinNanos, 2_000_000)
        XCTAssertEqual(PollPacer(idleSpinNanos: 80_000, maxSpinNanos: 10_000).maxSpinNanos, 80_000)
    }
}
