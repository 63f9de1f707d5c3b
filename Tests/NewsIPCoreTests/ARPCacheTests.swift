import XCTest
@testable import NewsIPCore
import NewsWire

final class ARPCacheTests: XCTestCase {
    let host = ip(10, 0, 0, 7)

    func testResolveRequestsThenWaitsThenRetries() {
        var c = ARPCache<[UInt8]>()
        XCTAssertNil(c.lookup(host, now: 0))
        XCTAssertEqual(c.resolve(host, now: 0), .sendRequest)
        XCTAssertEqual(c.resolve(host, now: second - 1), .wait)       // RFC 1122: at most 1/s
        XCTAssertEqual(c.resolve(host, now: second), .sendRequest)
        XCTAssertEqual(c.resolve(host, now: 2 * second), .sendRequest)
        XCTAssertEqual(c.counters.requestsSent, 3)
        XCTAssertEqual(c.resolve(host, now: 3 * second - 1), .wait)
    }

    func testFailsAfterThreeRequestsAndDropsQueue() {
        var c = ARPCache<[UInt8]>()
        _ = c.resolve(host, now: 0)
        XCTAssertTrue(c.enqueue(host, packet: [1]))
        XCTAssertTrue(c.enqueue(host, packet: [2]))
        _ = c.resolve(host, now: second)
        _ = c.resolve(host, now: 2 * second)
        XCTAssertEqual(c.resolve(host, now: 3 * second), .failed)
        XCTAssertEqual(c.counters.resolutionFailures, 1)
        XCTAssertEqual(c.counters.queuedPacketsDropped, 2)
        XCTAssertEqual(c.count, 0)
        // A fresh attempt starts over.
        XCTAssertEqual(c.resolve(host, now: 3 * second), .sendRequest)
    }

    func testTimerDrivesRetriesAndFailure() {
        var c = ARPCache<Int>()
        _ = c.resolve(host, now: 0)
        _ = c.resolve(ip(10, 0, 0, 8), now: second / 2)
        XCTAssertEqual(c.expire(now: second), ARPMaintenance(retry: [host]))
        XCTAssertEqual(c.expire(now: 2 * second), ARPMaintenance(retry: [host, ip(10, 0, 0, 8)]))
        XCTAssertEqual(c.expire(now: 3 * second), ARPMaintenance(retry: [ip(10, 0, 0, 8)], failed: [host]))
        XCTAssertEqual(c.expire(now: 4 * second), ARPMaintenance(failed: [ip(10, 0, 0, 8)]))
        XCTAssertEqual(c.counters.requestsSent, 6)
        XCTAssertEqual(c.count, 0)
    }

    func testQueueKeepsTheLatestFour() {
        var c = ARPCache<Int>()
        XCTAssertFalse(c.enqueue(host, packet: 0))        // nothing being resolved
        XCTAssertEqual(c.counters.enqueueRejected, 1)
        _ = c.resolve(host, now: 0)
        for p in 1 ... 6 { XCTAssertTrue(c.enqueue(host, packet: p)) }
        XCTAssertEqual(c.counters.queueOverflows, 2)
        XCTAssertEqual(c.learned(host, mac: mac(7), weAreTarget: true, now: 10), [3, 4, 5, 6])
    }

    func testLearnFlushesQueueAndMakesReachable() {
        var c = ARPCache<[UInt8]>()
        _ = c.resolve(host, now: 0)
        c.enqueue(host, packet: [0xAB])
        XCTAssertEqual(c.learned(host, mac: mac(7), weAreTarget: true, now: 100), [[0xAB]])
        XCTAssertEqual(c.lookup(host, now: 100), mac(7))
        XCTAssertEqual(c.resolve(host, now: 100), .known(mac(7)))
        XCTAssertFalse(c.enqueue(host, packet: [1]))    // reachable: send directly instead
        XCTAssertEqual(c.learned(host, mac: mac(7), weAreTarget: true, now: 200), [])
    }

    func testRFC826MergeRule() {
        var c = ARPCache<Int>()
        // Not for us and unknown: not added.
        XCTAssertEqual(c.learned(host, mac: mac(1), weAreTarget: false, now: 0), [])
        XCTAssertNil(c.lookup(host, now: 0))
        XCTAssertEqual(c.counters.ignored, 1)
        // For us: added.
        _ = c.learned(host, mac: mac(1), weAreTarget: true, now: 0)
        XCTAssertEqual(c.lookup(host, now: 0), mac(1))
        // Known: updated from any ARP packet, even one not aimed at us.
        _ = c.learned(host, mac: mac(2), weAreTarget: false, now: 5)
        XCTAssertEqual(c.lookup(host, now: 5), mac(2))
        XCTAssertEqual(c.counters.added, 1)
        XCTAssertEqual(c.counters.updated, 1)
        // Never learn a group MAC or the unspecified address.
        _ = c.learned(host, mac: .broadcast, weAreTarget: true, now: 6)
        _ = c.learned(.unspecified, mac: mac(3), weAreTarget: true, now: 6)
        XCTAssertEqual(c.lookup(host, now: 6), mac(2))
        XCTAssertEqual(c.count, 1)
    }

    func testReachableEntriesExpire() {
        var c = ARPCache<Int>(configuration: ARPConfiguration(reachableLifetime: 60 * second))
        _ = c.learned(host, mac: mac(1), weAreTarget: true, now: 10 * second)
        XCTAssertEqual(c.lookup(host, now: 70 * second - 1), mac(1))
        XCTAssertNil(c.lookup(host, now: 70 * second))
        XCTAssertEqual(c.resolve(host, now: 70 * second), .sendRequest)   // stale: ask again
        _ = c.learned(host, mac: mac(1), weAreTarget: true, now: 71 * second)
        XCTAssertEqual(c.expire(now: 131 * second - 1), ARPMaintenance())
        XCTAssertEqual(c.count, 1)
        _ = c.expire(now: 131 * second)
        XCTAssertEqual(c.count, 0)
        XCTAssertEqual(c.counters.expired, 1)
    }

    func testCapacityEvictsLeastRecentlyUpdated() {
        var c = ARPCache<Int>(configuration: ARPConfiguration(capacity: 3))
        for i in UInt8(1) ... 3 { _ = c.learned(ip(10, 0, 0, i), mac: mac(i), weAreTarget: true, now: UInt64(i)) }
        _ = c.learned(ip(10, 0, 0, 1), mac: mac(1), weAreTarget: true, now: 10)   // refresh 1
        _ = c.learned(ip(10, 0, 0, 4), mac: mac(4), weAreTarget: true, now: 11)
        XCTAssertEqual(c.count, 3)
        XCTAssertEqual(c.counters.evictions, 1)
        XCTAssertNil(c.lookup(ip(10, 0, 0, 2), now: 11))
        XCTAssertNotNil(c.lookup(ip(10, 0, 0, 1), now: 11))
        XCTAssertEqual(c.snapshot.map(\.ip), [ip(10, 0, 0, 1), ip(10, 0, 0, 3), ip(10, 0, 0, 4)])
    }

    func testDefaultCapacityIs256() {
        var c = ARPCache<Int>()
        for i in 0 ..< 300 { _ = c.learned(IPv4Address(UInt32(0x0A00_0000 + i + 1)), mac: mac(1), weAreTarget: true, now: UInt64(i)) }
        XCTAssertEqual(c.count, 256)
        XCTAssertEqual(c.counters.evictions, 44)
    }

    func testMACFormatting() {
        XCTAssertEqual(MACAddress(0x02, 0xAB, 0, 0x10, 0xFF, 1).description, "02:ab:00:10:ff:01")
        XCTAssertNil(MACAddress(bytes: [1, 2, 3]))
        XCTAssertEqual(MACAddress(bytes: [2, 0xAB, 0, 0x10, 0xFF, 1]), MACAddress(0x02, 0xAB, 0, 0x10, 0xFF, 1))
        XCTAssertTrue(MACAddress.broadcast.isMulticast)
        XCTAssertFalse(mac(1).isMulticast)
    }
}
