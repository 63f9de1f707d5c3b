@testable import Kernel
import NewsConfig
import XCTest

final class RestartPolicyTests: XCTestCase {
    let ms: UInt64 = 1_000_000
    func policy() -> RestartPolicy {
        RestartPolicy(initialBackoff: 10 * ms, maxBackoff: 80 * ms, intensity: 3, window: 10_000 * ms, stable: 2_000 * ms)
    }

    func testBackoffDoublesUpToTheCapAndResetsAfterStableUptime() {
        var p = RestartPolicy(initialBackoff: 10 * ms, maxBackoff: 40 * ms, intensity: 100, window: 1_000 * ms, stable: 2_000 * ms)
        var now: UInt64 = 0
        var delays: [UInt64] = []
        for _ in 0..<5 { now += 1_000 * ms; if case .restart(let d) = p.exited(at: now, uptime: 100 * ms) { delays.append(d / ms) } }
        XCTAssertEqual(delays, [10, 20, 40, 40, 40])
        XCTAssertEqual(p.exited(at: now + 5_000 * ms, uptime: 3_000 * ms), .restart(after: 10 * ms))
    }

    func testTooManyExitsInTheWindowFail() {
        var p = policy()
        for i in 1...3 { XCTAssertNotEqual(p.exited(at: UInt64(i) * 100 * ms, uptime: 50 * ms), .fail(exits: i)) }
        XCTAssertEqual(p.exited(at: 400 * ms, uptime: 50 * ms), .fail(exits: 4))
    }

    func testExitsOutsideTheWindowAreForgiven() {
        var p = policy()
        for i in 0..<3 { _ = p.exited(at: UInt64(i) * 100 * ms, uptime: 50 * ms) }
        if case .fail = p.exited(at: 20_000 * ms, uptime: 50 * ms) { XCTFail("old exits counted") }
        p.reset()
        XCTAssertTrue(p.recentExits.isEmpty)
    }
}
