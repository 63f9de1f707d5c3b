@testable import NewsServer
import XCTest

/// The transports read newsd's hand-off lines through one parser: every well-formed line
/// is taken with its descriptors, anything else refused (and its descriptors closed).
final class SocketHandoffTests: XCTestCase {
    func testTheThreeLinesAndTheirDescriptors() {
        XCTAssertEqual(SocketHandoff.parse("open 7 1000", fds: [10, 11]), .open(id: 7, uid: 1000, region: 10, kick: 11))
        XCTAssertEqual(SocketHandoff.parse("spare 7 9 1000", fds: [12, 13]), .spare(listener: 7, id: 9, uid: 1000, region: 12, kick: 13))
        XCTAssertEqual(SocketHandoff.parse("close 7", fds: []), .close(id: 7))
        XCTAssertEqual(SocketHandoff.parse("accepted 7", fds: []), .accepted(id: 7))
    }

    func testAnythingElseIsMalformed() {
        for (line, fds) in [("open 7", [Int32]()), ("open 7 1000", [-1]), ("close 7", [-1, -1]), ("close -7", []),
                            ("open 4294967296 1", [-1, -1]), ("spare 7 9", [-1, -1]), ("shut 7", []), ("", []),
                            ("accepted 7", [-1]), ("accepted", []), ("accepted 7 8", [])] {
            XCTAssertEqual(SocketHandoff.parse(line, fds: fds), .malformed, line)
        }
    }
}
