import XCTest

@testable import newsbench

final class StallStatisticsTests: XCTestCase {
    func testNearestRankPercentiles() {
        let values = (1...1000).map(UInt64.init)
        XCTAssertEqual(StallStatistics.percentile(values, 0.5), 500)
        XCTAssertEqual(StallStatistics.percentile(values, 0.99), 990)
        XCTAssertEqual(StallStatistics.percentile(values, 0.999), 999)
        XCTAssertEqual(StallStatistics.percentile(values, 1), 1000)
        XCTAssertEqual(StallStatistics.percentile([7], 0.999), 7)
        XCTAssertEqual(StallStatistics.percentile([], 0.5), 0)
        // One outlier in a thousand is p99.9's business, not p99's.
        let spiky = (Array(repeating: UInt64(100), count: 999) + [50_000]).sorted()
        XCTAssertEqual(StallStatistics.percentile(spiky, 0.99), 100)
        XCTAssertEqual(StallStatistics.percentile(spiky, 0.999), 100)
        XCTAssertEqual(StallStatistics.percentile(spiky, 1), 50_000)
    }

    func testLongestGap() {
        XCTAssertEqual(StallStatistics.longestGap([]), 0)
        XCTAssertEqual(StallStatistics.longestGap([5]), 0)
        XCTAssertEqual(StallStatistics.longestGap([10, 20, 75, 80]), 55)
    }

    func testSummaryCountsLossesAndGapsWithinSlices() {
        // Slice 0: probes every 500 ns, answered 100 ns later, except probe 2 (lost) and
        // probe 3, answered 2000 ns late (a stall). Slice 2: the same target's next turn, far
        // later: the time between its slices is not a gap.
        var samples: [StallSample] = []
        for k in 0..<6 {
            var s = StallSample(slice: 0, sentAt: 1000 + UInt64(k) * 500)
            if k != 2 { s.answeredAt = s.sentAt + (k == 3 ? 2000 : 100) }
            samples.append(s)
        }
        for k in 0..<3 {
            samples.append(StallSample(slice: 2, sentAt: 1_000_000 + UInt64(k) * 500, answeredAt: 1_000_000 + UInt64(k) * 500 + 100))
        }
        samples.append(StallSample(slice: 2, sentAt: 0))  // never sent (the run ended): not counted
        let s = StallStatistics.summarize(samples)
        XCTAssertEqual(s.sent, 9)
        XCTAssertEqual(s.answered, 8)
        XCTAssertEqual(s.lost, 1)
        XCTAssertEqual(s.p50, 100)
        XCTAssertEqual(s.max, 2000)
        XCTAssertEqual(s.p999, 2000)
        // Answers of slice 0 at 1100, 1600, 3500 (probe 3), 3100 (probe 4), 3600 (probe 5):
        // sorted 1100, 1600, 3100, 3500, 3600: the longest gap 1500.
        XCTAssertEqual(s.longestAnswerGap, 1500)
        XCTAssertEqual(s.longestSendGap, 500)
    }

    func testScheduleIsAbsoluteAndTargetsTakeTurns() {
        let schedule = StallSchedule(rate: 2000, sliceNanos: 1_000_000_000, targets: 2, probes: 20_000)
        XCTAssertEqual(schedule.offset(of: 1), 500_000)
        XCTAssertEqual(schedule.offset(of: 19_999), 9_999_500_000)
        XCTAssertEqual(schedule.target(of: 1999), 0)
        XCTAssertEqual(schedule.target(of: 2000), 1)
        XCTAssertEqual(schedule.target(of: 4000), 0)
        XCTAssertEqual(schedule.slice(of: 4000), 2)
        // 3 per second does not divide a second: offsets are exact, not a sum of rounded steps.
        let odd = StallSchedule(rate: 3, sliceNanos: 1_000_000_000, targets: 1, probes: 3000)
        XCTAssertEqual(odd.offset(of: 2999), 999_666_666_666)
    }
}
