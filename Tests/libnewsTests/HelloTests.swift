import NewsConfig
import XCTest

@testable import libnews

/// newsd's greeting as libnews reads it: the version, the CPUs it advises, and words it
/// does not know (a newer newsd) skipped.
final class HelloTests: XCTestCase {
    func hello(_ line: String) -> NewsStack.Hello? { NewsStack.Hello(line.split(separator: " ")) }

    func testPlainHelloHasNoAdvice() {
        XCTAssertEqual(hello("hello 1")?.version, 1)
        XCTAssertNil(hello("hello 1")!.cpus)
    }

    func testCPUListIsRead() {
        XCTAssertEqual(hello("hello 1 cpus=1")?.cpus, [1])
        XCTAssertEqual(hello("hello 1 cpus=0,2-4")?.cpus, [0, 2, 3, 4])
    }

    func testUnknownWordsAreSkipped() {
        let h = hello("hello 2 tso=on cpus=3 mode=fast")
        XCTAssertEqual(h?.version, 2)
        XCTAssertEqual(h?.cpus, [3])
    }

    func testABadListIsNoAdviceNotAFailure() {
        XCTAssertNotNil(hello("hello 1 cpus=7-2"))
        XCTAssertNil(hello("hello 1 cpus=7-2")!.cpus)
        XCTAssertNil(hello("hello 1 cpus=")!.cpus)
        XCTAssertNil(hello("hello 1 cpus=64")!.cpus)
    }

    func testNotAHello() {
        XCTAssertNil(hello("refused 13 go away"))
        XCTAssertNil(hello("hello"))
        XCTAssertNil(hello("hello x"))
        XCTAssertNil(hello("hello 0"))
    }

    func testOnlyZeroTurnsAffinityOff() {
        XCTAssertTrue(NewsStack.affinityWanted(environment: nil))
        XCTAssertTrue(NewsStack.affinityWanted(environment: "1"))
        XCTAssertFalse(NewsStack.affinityWanted(environment: "0"))
    }
}
