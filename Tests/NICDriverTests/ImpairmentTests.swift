@testable import NICDriver
import XCTest

final class ImpairmentTests: XCTestCase {
    func run(_ c: Impairment.Config, frames: Int, advance: UInt64 = 0) -> [UInt8] {
        var imp = Impairment(config: c, seed: 42)
        var out: [UInt8] = []
        for i in 0..<frames {
            [UInt8(truncatingIfNeeded: i)].withUnsafeBytes { imp.admit($0, now: UInt64(i), emit: { out.append($0[0]) }) }
        }
        imp.release(now: UInt64(frames) + advance) { out.append($0[0]) }
        return out
    }

    func config(loss: Int = 0, dup: Int = 0, reorder: Int = 0, delay: UInt64 = 0) -> Impairment.Config {
        var c = Impairment.Config()
        c.lossPercent = loss; c.duplicatePercent = dup; c.reorderPercent = reorder; c.delayNanos = delay
        return c
    }

    func testEachImpairmentDoesWhatItSays() {
        XCTAssertEqual(run(config(), frames: 5), [0, 1, 2, 3, 4])
        XCTAssertEqual(run(config(loss: 100), frames: 5), [])
        XCTAssertEqual(run(config(dup: 100), frames: 3), [0, 0, 1, 1, 2, 2])
        // Every frame is held behind the next one: pairs swap.
        XCTAssertEqual(run(config(reorder: 100), frames: 4, advance: Impairment.maxHold), [1, 0, 3, 2])
        XCTAssertEqual(run(config(delay: 1000), frames: 3), [], "nothing before it is due")
        XCTAssertEqual(run(config(delay: 1000), frames: 3, advance: 1000), [0, 1, 2])
    }

    func testPartialLossIsRoughlyItsPercentageAndRepeatable() {
        let a = run(config(loss: 25), frames: 4000)
        XCTAssertEqual(a, run(config(loss: 25), frames: 4000), "same seed, same frames")
        XCTAssertTrue((2700...3300).contains(a.count), "\(a.count) of 4000 kept")
    }

    func testParametersAreChecked() {
        XCTAssertThrowsError(try Impairment.Config(params: ["in.loss": "101"], prefix: "in"))
        XCTAssertThrowsError(try Impairment.Config(params: ["out.delay_us": "x"], prefix: "out"))
        XCTAssertEqual(try Impairment.Config(params: ["in.loss": "5", "in.delay_us": "7"], prefix: "in").delayNanos, 7000)
    }
}
