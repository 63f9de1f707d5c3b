@testable import Kernel
import NewsConfig
import XCTest

final class CoreMapTests: XCTestCase {
    let servers = ServerKind.allCases

    func testTwoCPUsPutTheStackOnTheFirstAndApplicationsOnTheSecond() throws {
        let map = try CoreMap(configured: [:], allowed: [0, 1])
        XCTAssertTrue(servers.allSatisfy { map[$0] == 0 }, "\(map.assignment)")
        XCTAssertEqual(map.newsd, 0)
        XCTAssertEqual(map.apps, [1])
        XCTAssertTrue(servers.allSatisfy(map.sharesCore), "servers together on cpu 0 must not spin")
    }

    func testOneCPUIsSharedByEverything() throws {
        let one = try CoreMap(configured: [:], allowed: [3])
        XCTAssertTrue(servers.allSatisfy { one[$0] == 3 })
        XCTAssertEqual(one.newsd, 3)
        XCTAssertEqual(one.apps, [3])
        XCTAssertTrue(servers.allSatisfy(one.sharesCore))
    }

    func testFewCPUsDealServersOverAllButTheLast() throws {
        let map = try CoreMap(configured: [:], allowed: [4, 2, 0, 6])  // unsorted on purpose
        XCTAssertEqual(map.apps, [6])
        XCTAssertEqual(map.newsd, 0)
        XCTAssertEqual(Set(map.assignment.values), [0, 2, 4])
        XCTAssertFalse(map.assignment.values.contains(6))
        // Dealt from the CPU after newsd's: nicdriver is not on newsd's CPU.
        XCTAssertEqual(map[.nicdriver], 2)
        XCTAssertTrue(servers.allSatisfy(map.sharesCore))
    }

    func testEnoughCPUsGiveEachServerItsOwnAndApplicationsTheRest() throws {
        let allowed = Array(0..<10)
        let map = try CoreMap(configured: [:], allowed: allowed)
        XCTAssertEqual(map.newsd, 0)
        XCTAssertEqual(Set(map.assignment.values).count, servers.count, "\(map.assignment)")
        XCTAssertFalse(map.assignment.values.contains(map.newsd))
        XCTAssertEqual(map.apps, [7, 8, 9])
        XCTAssertTrue(servers.allSatisfy { !map.sharesCore($0) }, "a server alone on its CPU may spin")
        // Exactly servers + newsd + 1: one CPU left for applications.
        let tight = try CoreMap(configured: [:], allowed: Array(0..<8))
        XCTAssertEqual(tight.apps, [7])
        XCTAssertTrue(servers.allSatisfy { !tight.sharesCore($0) })
        // One fewer: the stack shares, applications still keep a CPU of their own.
        let short = try CoreMap(configured: [:], allowed: Array(0..<7))
        XCTAssertEqual(short.apps, [6])
        XCTAssertFalse(short.assignment.values.contains(6))
    }

    func testConfiguredCoresAreKeptAndChecked() throws {
        let map = try CoreMap(configured: [.nicdriver: 1], allowed: [0, 1])
        XCTAssertEqual(map[.nicdriver], 1)
        XCTAssertEqual(map[.vfs], 0)
        XCTAssertEqual(map.apps, [1])
        XCTAssertTrue(map.sharesCore(.nicdriver), "nicdriver shares cpu 1 with the applications")
        XCTAssertThrowsError(try CoreMap(configured: [.vfs: 5], allowed: [0, 1])) {
            XCTAssertTrue("\($0)".contains("vfs = 5"), "\($0)")
            XCTAssertTrue("\($0)".contains("allowed: 0,1"), "\($0)")
        }
    }

    func testConfiguredApplicationCPUsWinAndTheStackTakesTheOthers() throws {
        let map = try CoreMap(configured: [:], apps: [0], allowed: [0, 1])
        XCTAssertEqual(map.apps, [0])
        XCTAssertTrue(servers.allSatisfy { map[$0] == 1 })
        XCTAssertEqual(map.newsd, 1)
        XCTAssertThrowsError(try CoreMap(configured: [:], apps: [1, 7], allowed: [0, 1])) {
            XCTAssertTrue("\($0)".contains("apps = \"1,7\": cpu 7 is not available"), "\($0)")
        }
        // Applications on every CPU: the stack is dealt over all of them as before.
        let everywhere = try CoreMap(configured: [:], apps: [0, 1], allowed: [0, 1])
        XCTAssertEqual(everywhere.apps, [0, 1])
        XCTAssertEqual(Set(everywhere.assignment.values), [0, 1])
    }

    /// `[cores]` naming every server round-robin reproduces the placement before this
    /// default: applications unrestricted, a server alone on its core still spins.
    func testEveryServerConfiguredLeavesApplicationsTheFreeCPUsOrAll() throws {
        var cores: [ServerKind: Int] = [:]
        for k in servers { cores[k] = 0 }
        cores[.nicdriver] = 1
        let map = try CoreMap(configured: cores, allowed: [0, 1])
        XCTAssertEqual(map.apps, [0, 1])
        XCTAssertFalse(map.sharesCore(.nicdriver))
        XCTAssertTrue(map.sharesCore(.vfs))

        for k in servers { cores[k] = 0 }
        let free = try CoreMap(configured: cores, allowed: [0, 1, 2])
        XCTAssertEqual(free.apps, [1, 2])
    }
}
