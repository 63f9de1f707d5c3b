import XCTest

@testable import Kernel
@testable import TCPServer

/// RFC 6528 wants the ISN function's secret to outlive a restart: a restarted tcpserver
/// must pick ISNs (and check SYN cookies) with the same keys, or a new incarnation of a
/// 4-tuple could start inside the old one's sequence space.
final class StateSecretTests: XCTestCase {
    let region = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 64)
    override func setUp() { region.initializeMemory(as: UInt8.self, repeating: 0) }
    override func tearDown() { region.deallocate() }

    func flat(_ k: StateSecret.Keys) -> [UInt64] { [k.isn.0, k.isn.1, k.cookies.0, k.cookies.1, k.ports.0, k.ports.1] }

    func testARestartKeepsTheKeysAFreshStartMakesNewOnes() {
        let first = StateSecret.load(region, fresh: true)
        XCTAssertEqual(Set(flat(first)).count, 6, "six independent random keys")
        XCTAssertEqual(flat(StateSecret.load(region, fresh: false)), flat(first), "a restart reads them back")
        let again = StateSecret.load(region, fresh: true)
        XCTAssertNotEqual(flat(again), flat(first), "a fresh start (newsd started anew) makes new ones")
        XCTAssertEqual(flat(StateSecret.load(region, fresh: false)), flat(again))
    }

    func testADamagedPageGivesNewKeysNotGarbage() {
        let first = StateSecret.load(region, fresh: true)
        region[20] ^= 0x40  // one bit of one key
        let after = StateSecret.load(region, fresh: false)
        XCTAssertNotEqual(flat(after), flat(first))
        XCTAssertEqual(flat(StateSecret.load(region, fresh: false)), flat(after), "and the new keys are kept")
    }

    func testTheControlBlocksStartAfterTheKeysPage() {
        XCTAssertEqual(StateSecret.blockRegion(region).baseAddress, region.baseAddress! + StateSecret.pageSize)
        XCTAssertEqual(StateSecret.blockRegion(region).count, region.count - StateSecret.pageSize)
        // newsd reads the same records for `newsctl ss`: both must agree on where they are.
        XCTAssertEqual(TCPSocketTable.blocksOffset, StateSecret.pageSize)
    }
}
