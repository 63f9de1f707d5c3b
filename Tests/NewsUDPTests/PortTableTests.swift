import XCTest
@testable import NewsUDP

final class PortTableTests: XCTestCase {
    func testClaimsAndConflicts() {
        var t = PortTable()
        XCTAssertEqual(t.claim(7000, socket: 1, uid: 1000), .success(7000))
        XCTAssertEqual(t.claim(7000, socket: 2, uid: 1000), .failure(.inUse))
        XCTAssertEqual(t.claim(7000, socket: 1, uid: 1000), .success(7000), "claiming one's own port again is fine")
        XCTAssertEqual(t.claim(53, socket: 2, uid: 1000), .failure(.privileged))
        XCTAssertEqual(t.claim(53, socket: 2, uid: 0), .success(53))
        XCTAssertEqual(t.holder(of: 7000), 1)
    }

    func testRebindReleasesTheOldPort() {
        var t = PortTable()
        _ = t.claim(7000, socket: 1, uid: 1)
        XCTAssertEqual(t.claim(7001, socket: 1, uid: 1), .success(7001))
        XCTAssertNil(t.holder(of: 7000))
        XCTAssertEqual(t.claim(7000, socket: 2, uid: 1), .success(7000))
    }

    func testReleaseFreesOnlyWhatTheSocketHolds() {
        var t = PortTable()
        _ = t.claim(7000, socket: 1, uid: 1)
        t.release(socket: 2)
        XCTAssertEqual(t.holder(of: 7000), 1)
        t.release(socket: 1)
        XCTAssertNil(t.holder(of: 7000))
        XCTAssertNil(t.port(of: 1))
    }

    func testEphemeralPortsComeFromTheDynamicRangeUntilExhausted() {
        var t = PortTable()
        let n = Int(PortTable.ephemeral.upperBound) - Int(PortTable.ephemeral.lowerBound) + 1
        var seen = Set<UInt16>()
        for i in 0..<n {
            guard case .success(let p) = t.claim(0, socket: UInt32(i + 1), uid: 1000) else { return XCTFail("claim \(i) failed") }
            XCTAssertTrue(PortTable.ephemeral.contains(p))
            seen.insert(p)
        }
        XCTAssertEqual(seen.count, n, "no port handed out twice")
        XCTAssertEqual(t.claim(0, socket: UInt32(n + 1), uid: 1000), .failure(.exhausted))
        t.release(socket: 5)
        guard case .success = t.claim(0, socket: UInt32(n + 1), uid: 1000) else { return XCTFail("a freed port is reused") }
    }
}
