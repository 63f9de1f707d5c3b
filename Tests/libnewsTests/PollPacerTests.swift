import XCTest
@testable import libnews

/// How long NewsPoll looks before sleeping (`PollPacer`): the longest look while recent gaps
/// between events are short, only the idle look once events stop.
final class PollPacerTests: XCTestCase {
    func testWithoutEventsItLooksTheIdleTime() {
        let p = PollPacer(idleSpinNanos: 50_000, maxSpinNanos: 2_000_000)
        XCTAssertNil(p.averageGapNanos)
        XCTAssertEqual(p.spinNanos, 50_000)
    }

    func testShortGapsOnAverageGetTheLongestLook() {
        let p = PollPacer(idleSpinNanos: 50_000, maxSpinNanos: 2_000_000)
        p.record(waitedNanos: 300_000, ready: true)
        XCTAssertEqual(p.averageGapNanos, 300_000)
        XCTAssertEqual(p.spinNanos, 2_000_000, "gaps vary: a look of the longest covers their tail too")
        p.record(waitedNanos: 3_000_000, ready: true)
        XCTAssertEqual(p.averageGapNanos, 300_000 - 300_000 / 8 + 3_000_000 / 8, "one slow gap moves the average an eighth")
        XCTAssertEqual(p.spinNanos, 2_000_000)
    }

    func testLongGapsOnAverageMeanSleepingSoon() {
        let p = PollPacer(idleSpinNanos: 50_000, maxSpinNanos: 2_000_000)
        p.record(waitedNanos: 1_000_000, ready: true)
        XCTAssertEqual(p.spinNanos, 2_000_000, "half the longest look on average: still looking")
        p.record(waitedNanos: 1_100_000, ready: true)
        p.record(waitedNanos: 1_100_000, ready: true)
        XCTAssertGreaterThan(p.averageGapNanos!, 1_000_000)
        XCTAssertEqual(p.spinNanos, 50_000, "gaps beyond what a look covers: the idle look")
    }

    func testATimeoutOrAVeryLongGapIsIdleness() {
        let p = PollPacer(idleSpinNanos: 50_000, maxSpinNanos: 2_000_000)
        p.record(waitedNanos: 100_000, ready: true)
        p.record(waitedNanos: 1_000_000_000, ready: false)
        XCTAssertNil(p.averageGapNanos, "a timeout: the application went idle")
        XCTAssertEqual(p.spinNanos, 50_000)
        p.record(waitedNanos: 100_000, ready: true)
        p.record(waitedNanos: 4_000_001, ready: true)
        XCTAssertNil(p.averageGapNanos, "more than twice the longest look")
        p.record(waitedNanos: 4_000_000, ready: true)
        XCTAssertEqual(p.averageGapNanos, 4_000_000, "twice the longest look is still a gap")
        XCTAssertEqual(p.spinNanos, 50_000)
    }

    func testTheLongestLookIsNeverShorterThanTheIdleOne() {
        XCTAssertEqual(PollPacer(idleSpinNanos: 80_000, maxSpinNanos: 10_000).maxSpinNanos, 80_000)
        XCTAssertEqual(PollPacer().maxSpinNanos, 8_000_000)
        XCTAssertEqual(PollPacer().idleSpinNanos, 50_000)
    }

    func testNoLongLooksOnACPUSharedWithTheStack() {
        let p = PollPacer(idleSpinNanos: 50_000, maxSpinNanos: 2_000_000)
        p.longLooks = false
        p.record(waitedNanos: 300_000, ready: true)
        XCTAssertEqual(p.spinNanos, 50_000, "a long look would keep the servers sharing the CPU from the work it waits for")
        p.longLooks = true
        XCTAssertEqual(p.spinNanos, 2_000_000)
    }
}
