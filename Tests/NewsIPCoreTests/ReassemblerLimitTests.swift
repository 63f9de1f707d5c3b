import XCTest
@testable import NewsIPCore
import NewsWire

final class ReassemblerLimitTests: XCTestCase {
    /// Starts a datagram with one 8-byte first fragment.
    private func start(_ r: inout Reassembler, id: UInt16, bytes: Int = 8, now: UInt64) -> ReassemblyResult {
        r.add(key: key(id: id), offset: 0, moreFragments: true, payload: pattern(bytes), now: now)
    }

    private func finish(_ r: inout Reassembler, id: UInt16, at offset: Int = 8, now: UInt64) -> ReassemblyResult {
        r.add(key: key(id: id), offset: offset, moreFragments: false, payload: [0xAA], now: now)
    }

    func testTimeoutPurgesOnExpire() {
        var r = Reassembler(limits: ReassemblyLimits(timeoutNanoseconds: 30 * second))
        XCTAssertEqual(start(&r, id: 1, now: 5 * second), .pending)
        r.expire(now: 35 * second - 1)
        XCTAssertEqual(r.datagramsInProgress, 1)
        r.expire(now: 35 * second)
        XCTAssertEqual(r.datagramsInProgress, 0)
        XCTAssertEqual(r.bytesBuffered, 0)
        XCTAssertEqual(r.counters[.timeout], 1)
        // The late last fragment now starts a fresh datagram instead of completing the old one.
        XCTAssertEqual(finish(&r, id: 1, now: 36 * second), .pending)
    }

    func testTimeoutPurgesLazilyOnAdd() {
        var r = Reassembler(limits: ReassemblyLimits(timeoutNanoseconds: 15 * second))
        _ = start(&r, id: 1, now: 0)
        _ = start(&r, id: 2, now: 10 * second)
        XCTAssertEqual(start(&r, id: 3, now: 15 * second), .pending)
        XCTAssertEqual(r.counters[.timeout], 1)
        XCTAssertEqual(r.datagramsInProgress, 2)
        XCTAssertEqual(finish(&r, id: 2, now: 16 * second), .complete(pattern(8) + [0xAA]))
    }

    func testDatagramLimitEvictsOldest() {
        var r = Reassembler(limits: ReassemblyLimits(maxDatagrams: 3))
        for id in UInt16(1) ... 3 { XCTAssertEqual(start(&r, id: id, now: UInt64(id)), .pending) }
        XCTAssertEqual(start(&r, id: 4, now: 10), .pending)
        XCTAssertEqual(r.datagramsInProgress, 3)
        XCTAssertEqual(r.counters[.limitDatagrams], 1)
        // id 1 was the oldest and is gone; 2 still completes.
        XCTAssertEqual(finish(&r, id: 2, now: 11), .complete(pattern(8) + [0xAA]))
        XCTAssertEqual(finish(&r, id: 1, now: 12), .pending)
    }

    func testDefaultDatagramLimitIs64() {
        var r = Reassembler()
        for id in UInt16(0) ..< 65 { _ = start(&r, id: id, now: 0) }
        XCTAssertEqual(r.datagramsInProgress, 64)
        XCTAssertEqual(r.counters[.limitDatagrams], 1)
    }

    func testByteLimitEvictsOldestOthers() {
        var r = Reassembler(limits: ReassemblyLimits(maxBufferedBytes: 1000))
        XCTAssertEqual(start(&r, id: 1, bytes: 400, now: 0), .pending)
        XCTAssertEqual(start(&r, id: 2, bytes: 400, now: 1), .pending)
        XCTAssertEqual(r.bytesBuffered, 800)
        XCTAssertEqual(start(&r, id: 3, bytes: 400, now: 2), .pending)
        XCTAssertEqual(r.bytesBuffered, 800)
        XCTAssertEqual(r.counters[.limitBytes], 1)
        XCTAssertEqual(finish(&r, id: 1, at: 400, now: 3), .pending)  // id 1 was evicted
    }

    func testByteLimitDropsDatagramThatAloneExceedsIt() {
        var r = Reassembler(limits: ReassemblyLimits(maxBufferedBytes: 1000))
        XCTAssertEqual(start(&r, id: 1, bytes: 1008, now: 0), .dropped(.limitBytes))
        XCTAssertEqual(start(&r, id: 2, bytes: 800, now: 0), .pending)
        XCTAssertEqual(r.add(key: key(id: 2), offset: 800, moreFragments: true, payload: pattern(400), now: 0),
                       .dropped(.limitBytes))
        XCTAssertEqual(r.datagramsInProgress, 0)
        XCTAssertEqual(r.bytesBuffered, 0)
        XCTAssertEqual(r.counters[.limitBytes], 2)
    }

    func testDefaultByteLimitIs256KiB() {
        var r = Reassembler()
        // Five 60000-byte partial datagrams cannot all be held in 262144 bytes.
        for id in UInt16(1) ... 5 { _ = start(&r, id: id, bytes: 60_000, now: UInt64(id)) }
        XCTAssertEqual(r.datagramsInProgress, 4)
        XCTAssertEqual(r.bytesBuffered, 240_000)
        XCTAssertEqual(r.counters[.limitBytes], 1)
    }

    func testTooManyFragments() {
        var r = Reassembler(limits: ReassemblyLimits(maxFragmentsPerDatagram: 4))
        for i in 0 ..< 4 {
            XCTAssertEqual(r.add(key: key(), offset: i * 16, moreFragments: true, payload: pattern(8), now: 0), .pending)
        }
        XCTAssertEqual(r.add(key: key(), offset: 64, moreFragments: true, payload: pattern(8), now: 0), .dropped(.tooMany))
        XCTAssertEqual(r.datagramsInProgress, 0)
        XCTAssertEqual(r.bytesBuffered, 0)
        XCTAssertEqual(r.counters[.tooMany], 1)
    }

    func testPoisonedKeysAreBounded() {
        var r = Reassembler(limits: ReassemblyLimits(maxPoisonedKeys: 2))
        for id in UInt16(1) ... 3 {
            _ = start(&r, id: id, now: UInt64(id))
            XCTAssertEqual(start(&r, id: id, now: UInt64(id)), .dropped(.overlap))
        }
        XCTAssertFalse(r.isPoisoned(key(id: 1)))  // soonest to expire was forgotten first
        XCTAssertTrue(r.isPoisoned(key(id: 2)))
        XCTAssertTrue(r.isPoisoned(key(id: 3)))
    }
}
