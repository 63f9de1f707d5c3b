import XCTest
import NewsIPCore

/// The two guards on ICMP errors a transport asks for: it must quote a datagram ipserver
/// delivered to it recently, and errors are rate-limited.
final class RecentDeliveriesTests: XCTestCase {
    func quote(_ n: Int) -> [UInt8] {
        // An IP header and 8 bytes, differing in the identification field and a port.
        var q: [UInt8] = [0x45, 0, 0, 33, UInt8(n >> 8), UInt8(n & 0xFF), 0, 0, 64, 17, 0, 0, 198, 18, 0, 1, 198, 18, 0, 2]
        q += [0x30, 0x39, UInt8(n >> 8), UInt8(n & 0xFF), 0, 13, 0, 0]
        return q
    }

    func record(_ r: inout RecentDeliveries, _ n: Int, at t: UInt64) { quote(n).withUnsafeBytes { r.record($0, now: t) } }
    func take(_ r: inout RecentDeliveries, _ n: Int, at t: UInt64) -> Bool { quote(n).withUnsafeBytes { r.take($0, now: t) } }
    func take(_ r: inout RecentDeliveries, _ bytes: [UInt8], at t: UInt64) -> Bool { bytes.withUnsafeBytes { r.take($0, now: t) } }

    func testDeliveredDatagramEarnsOneError() {
        var r = RecentDeliveries()
        record(&r, 1, at: second)
        XCTAssertTrue(take(&r, 1, at: second + 1000))
        XCTAssertFalse(take(&r, 1, at: second + 2000), "each delivery earns one ICMP error at most")
    }

    func testNeverDeliveredIsRefused() {
        var r = RecentDeliveries()
        for n in 0..<100 { record(&r, n, at: second) }
        XCTAssertFalse(take(&r, 100, at: second))
        // One byte different from a delivered datagram: another datagram.
        var forged = quote(5); forged[27] ^= 1
        XCTAssertFalse(take(&r, forged, at: second))
        XCTAssertFalse(take(&r, Array(quote(5).dropLast()), at: second), "a shorter quote is another datagram")
        XCTAssertTrue(take(&r, 5, at: second))
    }

    func testAgeLimit() {
        var r = RecentDeliveries(configuration: .init(maxAgeNanos: second))
        record(&r, 1, at: 10 * second)
        record(&r, 2, at: 10 * second)
        XCTAssertTrue(take(&r, 1, at: 11 * second), "exactly the age limit")
        XCTAssertFalse(take(&r, 2, at: 11 * second + 1))
        record(&r, 3, at: 10 * second)
        XCTAssertFalse(take(&r, 3, at: 9 * second), "a clock that went backwards proves nothing")
    }

    /// The record is bounded: in a set of four, a fifth delivery replaces the oldest.
    func testBoundedOldestGoesFirst() {
        var r = RecentDeliveries(configuration: .init(sets: 1, ways: 4))
        for n in 1...4 { record(&r, n, at: second + UInt64(n)) }
        XCTAssertEqual(r.displaced, 0)
        record(&r, 5, at: second + 5)
        XCTAssertEqual(r.displaced, 1)
        XCTAssertFalse(take(&r, 1, at: second + 6))
        for n in 2...5 { XCTAssertTrue(take(&r, n, at: second + 6), "\(n)") }
        // Used or expired entries are reused before live ones are displaced.
        for n in 6...9 { record(&r, n, at: second + 7) }
        XCTAssertEqual(r.displaced, 1)
        for n in 10...13 { record(&r, n, at: 3 * second) }
        XCTAssertEqual(r.displaced, 1, "entries past the age limit are not counted as displaced")
    }

    /// Many more deliveries than the table holds: memory stays fixed, recent ones are
    /// mostly still there, and nothing never delivered is ever accepted.
    func testFloodKeepsRecentAndAcceptsNothingElse() {
        var r = RecentDeliveries(configuration: .init(sets: 64, ways: 4))
        for n in 0..<10_000 { record(&r, n, at: second) }
        let recent = (9_990..<10_000).filter { take(&r, $0, at: second) }.count
        XCTAssertGreaterThanOrEqual(recent, 9)
        XCTAssertGreaterThan(r.displaced, 9_000)
        XCTAssertTrue((10_000..<20_000).allSatisfy { !take(&r, $0, at: second) })
    }

    func testTwoRecordsDoNotShareDigests() {
        var a = RecentDeliveries(), b = RecentDeliveries()
        record(&a, 1, at: second)
        XCTAssertFalse(take(&b, 1, at: second), "records are per transport")
        XCTAssertTrue(take(&a, 1, at: second))
    }

    func testQuoteLength() {
        XCTAssertEqual(RecentDeliveries.quoteLength(packetLength: 1000, headerLength: 20), 28)
        XCTAssertEqual(RecentDeliveries.quoteLength(packetLength: 1000, headerLength: 24), 32)
        XCTAssertEqual(RecentDeliveries.quoteLength(packetLength: 25, headerLength: 20), 25)
    }
}

final class TokenBucketTests: XCTestCase {
    func testBurstThenRate() {
        var b = TokenBucket(perSecond: 1000, burst: 50)
        let t = 5 * second
        XCTAssertEqual((0..<60).filter { _ in b.allow(now: t) }.count, 50)
        XCTAssertEqual(b.refused, 10)
        XCTAssertFalse(b.allow(now: t + 999_999))
        XCTAssertTrue(b.allow(now: t + 1_000_000), "one token per millisecond")
        XCTAssertFalse(b.allow(now: t + 1_000_000))
        // Over one second at a steady 2000 asked per second, about 1000 pass.
        var passed = 0
        for i in 1...2000 where b.allow(now: t + 1_000_000 + UInt64(i) * 500_000) { passed += 1 }
        XCTAssertEqual(passed, 1000)
    }

    func testIdleRefillsOnlyToTheBurst() {
        var b = TokenBucket(perSecond: 10, burst: 3)
        for _ in 0..<3 { XCTAssertTrue(b.allow(now: second)) }
        XCTAssertFalse(b.allow(now: second))
        XCTAssertEqual((0..<10).filter { _ in b.allow(now: 100 * second) }.count, 3)
    }

    func testClockGoingBackwardsAddsNothing() {
        var b = TokenBucket(perSecond: 10, burst: 1)
        XCTAssertTrue(b.allow(now: 10 * second))
        XCTAssertFalse(b.allow(now: 5 * second))
        XCTAssertFalse(b.allow(now: 10 * second + 50_000_000))
        XCTAssertTrue(b.allow(now: 10 * second + 100_000_000))
    }
}
