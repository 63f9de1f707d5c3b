import XCTest
@testable import NewsIPCore
import NewsWire

final class PersistenceTests: XCTestCase {
    private func encoded(_ cache: ARPCache<Int>, epoch: UInt64 = 0) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: cache.encodedByteCount)
        let n = bytes.withUnsafeMutableBytes { cache.encode(into: $0, clockEpoch: epoch) }
        XCTAssertEqual(n, bytes.count)
        return bytes
    }

    private func encoded(_ table: RouteTable) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: table.encodedByteCount)
        let n = bytes.withUnsafeMutableBytes { table.encode(into: $0) }
        XCTAssertEqual(n, bytes.count)
        return bytes
    }

    /// `now` defaults to just after the sample cache's last entry was learned (19 s).
    private func decodeARP(_ bytes: [UInt8], now: UInt64 = 20 * second, epoch: UInt64 = 0)
        -> (value: ARPCache<Int>, invalidRecords: Int, headerValid: Bool) {
        bytes.withUnsafeBytes { ARPCache<Int>.decode(from: $0, now: now, clockEpoch: epoch) }
    }

    private func decodeRoutes(_ bytes: [UInt8]) -> (value: RouteTable, invalidRecords: Int, headerValid: Bool) {
        bytes.withUnsafeBytes { RouteTable.decode(from: $0) }
    }

    private func sampleCache(entries: Int = 20) -> ARPCache<Int> {
        var c = ARPCache<Int>()
        for i in 0 ..< entries {
            _ = c.learned(ip(10, 0, 1, UInt8(i + 1)), mac: mac(UInt8(i)), weAreTarget: true, now: UInt64(i) * second)
        }
        _ = c.resolve(ip(10, 0, 9, 9), now: 0)   // incomplete: transient, not saved
        return c
    }

    private func sampleTable() throws -> RouteTable {
        var t = RouteTable()
        try t.add(Route(network: ip(192, 168, 1, 0), prefixLength: 24, interface: 1))
        try t.add(.defaultRoute(via: ip(192, 168, 1, 1), interface: 1, metric: 10))
        try t.add(Route(network: ip(10, 0, 0, 0), prefixLength: 8, gateway: ip(192, 168, 1, 2), interface: 1))
        // Added after a gateway route with the same prefix and metric: tie order must survive.
        try t.add(Route(network: ip(10, 0, 0, 0), prefixLength: 8, interface: 2))
        try t.add(Route(network: ip(172, 16, 0, 0), prefixLength: 12, gateway: ip(10, 0, 0, 1), interface: 2, metric: 3))
        return t
    }

    // MARK: - Round trips

    func testARPRoundTrip() {
        let c = sampleCache()
        let (d, invalid, headerValid) = decodeARP(encoded(c, epoch: 42), now: 25 * second, epoch: 42)
        XCTAssertTrue(headerValid)
        XCTAssertEqual(invalid, 0)
        XCTAssertEqual(d.snapshot, c.snapshot.filter { $0.ip != ip(10, 0, 9, 9) })
        XCTAssertEqual(d.lookup(ip(10, 0, 1, 3), now: 25 * second), mac(2))
    }

    func testARPDropsExpiredAndOtherEpochEntries() {
        let c = sampleCache()   // entry i expires at (i + 60) s
        let bytes = encoded(c, epoch: 1)
        let later = decodeARP(bytes, now: 70 * second, epoch: 1)
        XCTAssertEqual(later.value.count, 9)       // entries 11...19 remain
        XCTAssertEqual(later.value.counters.expired, 11)
        XCTAssertEqual(later.invalidRecords, 0)
        let rebooted = decodeARP(bytes, epoch: 2)
        XCTAssertEqual(rebooted.value.count, 0)
        XCTAssertEqual(rebooted.value.counters.expired, 20)
    }

    func testARPRejectsImpossiblyDistantExpiry() {
        var c = ARPCache<Int>(configuration: ARPConfiguration(reachableLifetime: 1000 * second))
        _ = c.learned(ip(10, 0, 0, 1), mac: mac(1), weAreTarget: true, now: 0)
        let d = decodeARP(encoded(c), now: 0)   // default lifetime 60 s < 1000 s remaining
        XCTAssertEqual(d.value.count, 0)
        XCTAssertEqual(d.invalidRecords, 1)
    }

    func testRouteRoundTripKeepsLookupOrder() throws {
        let t = try sampleTable()
        let (d, invalid, headerValid) = decodeRoutes(encoded(t))
        XCTAssertTrue(headerValid)
        XCTAssertEqual(invalid, 0)
        XCTAssertEqual(d.routes, t.routes)
        XCTAssertEqual(d.route(to: ip(10, 5, 5, 5))?.nextHop, t.route(to: ip(10, 5, 5, 5))?.nextHop)
    }

    func testEmptyValuesRoundTrip() {
        XCTAssertEqual(encoded(ARPCache<Int>()).count, PersistenceFormat.headerSize)
        let a = decodeARP(encoded(ARPCache<Int>()))
        XCTAssertTrue(a.headerValid)
        XCTAssertEqual(a.value.count, 0)
        let r = decodeRoutes(encoded(RouteTable()))
        XCTAssertTrue(r.headerValid)
        XCTAssertTrue(r.value.routes.isEmpty)
    }

    func testEncodeIntoTooSmallBufferWritesNothing() throws {
        let t = try sampleTable()
        var small = [UInt8](repeating: 0xEE, count: t.encodedByteCount - 1)
        XCTAssertEqual(small.withUnsafeMutableBytes { t.encode(into: $0) }, 0)
        XCTAssertTrue(small.allSatisfy { $0 == 0xEE })
        let c = sampleCache()
        var smallARP = [UInt8](repeating: 0, count: c.encodedByteCount - 1)
        XCTAssertEqual(smallARP.withUnsafeMutableBytes { c.encode(into: $0) }, 0)
        // A larger buffer is fine; the extra tail is ignored on decode.
        var large = [UInt8](repeating: 0, count: t.encodedByteCount + 100)
        XCTAssertEqual(large.withUnsafeMutableBytes { t.encode(into: $0) }, t.encodedByteCount)
        XCTAssertEqual(decodeRoutes(large).value, t)
    }

    // MARK: - Damage

    func testScribbledRecordIsDroppedOthersKept() {
        let c = sampleCache()
        let clean = encoded(c)
        for record in 0 ..< 20 {
            for offset in [0, 5, 10, 13, 27, 30] {
                var bytes = clean
                bytes[PersistenceFormat.headerSize + record * 32 + offset] ^= 0x10
                let d = decodeARP(bytes)
                XCTAssertTrue(d.headerValid)
                XCTAssertEqual(d.invalidRecords, 1, "record \(record) offset \(offset)")
                XCTAssertEqual(d.value.count, 19)
            }
        }
    }

    /// Records that pass their checksum but break a layout rule are still refused.
    func testWellSealedButMalformedRecordsAreRefused() throws {
        let h = PersistenceFormat.headerSize
        func resealed(_ bytes: [UInt8], record: Int, _ change: (inout [UInt8]) -> Void) -> [UInt8] {
            var b = bytes
            change(&b)
            b.withUnsafeMutableBytes {
                PersistenceFormat.sealRecord(UnsafeMutableRawBufferPointer(rebasing: $0[h + record * 32 ..< h + record * 32 + 32]))
            }
            return b
        }
        let arp = encoded(sampleCache())
        let arpCases: [(inout [UInt8]) -> Void] = [
            { b in for i in 0 ..< 32 { b[h + 32 + i] = b[h + i] } },     // duplicate address
            { b in b[h + 32 + 10] = 2 },                                  // unknown state
            { b in b[h + 32 + 11] = 1 },                                  // reserved byte
            { b in b[h + 32 + 4] |= 1 },                                  // group MAC
            { b in for i in 0 ..< 4 { b[h + 32 + i] = 0 } },             // 0.0.0.0
        ]
        for (n, change) in arpCases.enumerated() {
            let d = decodeARP(resealed(arp, record: 1, change))
            XCTAssertEqual(d.invalidRecords, 1, "ARP case \(n)")
            XCTAssertEqual(d.value.count, 19, "ARP case \(n)")
        }
        let routes = encoded(try sampleTable())
        let routeCases: [(inout [UInt8]) -> Void] = [
            { b in b[h + 9] = 2 },               // unknown flag
            { b in b[h + 8] = 33 },              // prefix out of range
            { b in b[h + 10] = 1 },              // reserved field
            { b in b[h + 24] = 1 },              // reserved field
            { b in b[h + 4] = 1 },               // gateway on a connected route
            { b in b[h + 0] |= 1 },              // host bits set
        ]
        for (n, change) in routeCases.enumerated() {
            let d = decodeRoutes(resealed(routes, record: 0, change))
            XCTAssertGreaterThanOrEqual(d.invalidRecords, 1, "route case \(n)")
            XCTAssertFalse(d.value.routes.contains(try sampleTable().routes[0]), "route case \(n)")
        }
    }

    func testScribbledHeaderInvalidatesEverything() {
        let clean = encoded(sampleCache())
        for offset in 0 ..< PersistenceFormat.headerSize {
            var bytes = clean
            bytes[offset] ^= 0x01
            let d = decodeARP(bytes)
            XCTAssertFalse(d.headerValid, "offset \(offset)")
            XCTAssertEqual(d.value.count, 0)
        }
        // A route file is not an ARP file, and vice versa.
        XCTAssertFalse(decodeRoutes(clean).headerValid)
    }

    func testTornRouteRecordStrandsDependentGatewayRoutes() throws {
        var bytes = encoded(try sampleTable())
        // Find and damage the connected route; the gateway route that depends on it fails with it.
        let t = try sampleTable()
        let index = try XCTUnwrap(t.routes.firstIndex { $0.network == ip(10, 0, 0, 0) && $0.isConnected })
        bytes[PersistenceFormat.headerSize + index * 32 + 2] ^= 0xFF
        let d = decodeRoutes(bytes)
        XCTAssertEqual(d.invalidRecords, 2)
        XCTAssertEqual(d.value.routes.count, 3)
        XCTAssertNil(d.value.routes.first { $0.network == ip(172, 16, 0, 0) })
    }

    func testTruncatedBuffersAtEveryLength() throws {
        let arp = encoded(sampleCache())
        for length in 0 ... arp.count {
            let d = decodeARP(Array(arp.prefix(length)))
            if length < PersistenceFormat.headerSize {
                XCTAssertFalse(d.headerValid)
            } else {
                let whole = (length - PersistenceFormat.headerSize) / 32
                XCTAssertEqual(d.value.count, whole)
                XCTAssertEqual(d.invalidRecords, 20 - whole)
            }
        }
        let routes = encoded(try sampleTable())
        for length in 0 ... routes.count { _ = decodeRoutes(Array(routes.prefix(length))) }
    }

    func testHugeCountInValidHeaderIsBoundedByBuffer() {
        for magic in [PersistenceFormat.arpMagic, PersistenceFormat.routeMagic] {
            var bytes = [UInt8](repeating: 0, count: PersistenceFormat.headerSize + 64)
            bytes.withUnsafeMutableBytes {
                PersistenceFormat.writeHeader(.init(magic: magic, recordSize: 32, count: Int(UInt32.max), clockEpoch: 0),
                                              into: $0)
            }
            let a = decodeARP(bytes), r = decodeRoutes(bytes)
            let d = magic == PersistenceFormat.arpMagic ? (a.headerValid, a.invalidRecords) : (r.headerValid, r.invalidRecords)
            XCTAssertTrue(d.0)
            XCTAssertEqual(d.1, Int(UInt32.max))   // 2 zero records fail their CRC + the rest are missing
        }
    }

    /// Thousands of random buffers, with and without a valid header, must decode without
    /// trapping, and everything decoded must obey the same rules as live entries.
    func testRandomBuffersNeverTrapAndNeverYieldBadEntries() {
        var rng = SeededGenerator(seed: 0xDECAF)
        for round in 0 ..< 4000 {
            var bytes = randomBytes(Int.random(in: 0 ... 600, using: &rng), using: &rng)
            if round % 2 == 0, bytes.count >= PersistenceFormat.headerSize {
                // Give half of them a valid header so the record validation is exercised.
                let magic = round % 4 == 0 ? PersistenceFormat.arpMagic : PersistenceFormat.routeMagic
                let count = Int.random(in: 0 ... 40, using: &rng)
                bytes.withUnsafeMutableBytes {
                    PersistenceFormat.writeHeader(.init(magic: magic, recordSize: 32, count: count, clockEpoch: 0), into: $0)
                }
                // And seal some records so they pass the checksum and reach field validation.
                let records = (bytes.count - PersistenceFormat.headerSize) / 32
                bytes.withUnsafeMutableBytes { buffer in
                    for i in 0 ..< records where Bool.random(using: &rng) {
                        let start = PersistenceFormat.headerSize + i * 32
                        let record = UnsafeMutableRawBufferPointer(rebasing: buffer[start ..< start + 32])
                        if Bool.random(using: &rng) { record[8] = UInt8.random(in: 0 ... 32, using: &rng); record[9] &= 1 }
                        PersistenceFormat.sealRecord(record)
                    }
                }
            }
            let a = decodeARP(bytes, now: UInt64.random(in: 0 ... UInt64.max, using: &rng))
            for e in a.value.snapshot {
                guard case .reachable(let m, _) = e.state else { return XCTFail("restored an incomplete entry") }
                XCTAssertFalse(m.isMulticast)
                XCTAssertNotEqual(e.ip, .unspecified)
            }
            XCTAssertLessThanOrEqual(a.value.count, 256)
            let r = decodeRoutes(bytes)
            for route in r.value.routes {
                XCTAssertTrue((0 ... 32).contains(route.prefixLength))
                XCTAssertEqual(IPv4Network(address: route.network, prefix: route.prefixLength)?.address, route.network)
            }
            // Whatever was decoded re-encodes to something that decodes identically.
            XCTAssertEqual(decodeRoutes(encoded(r.value)).value, r.value)
        }
    }

    func testCRC32CKnownAnswer() {
        // RFC 3720 B.4: CRC-32C of 32 bytes of zeros is 0x8A9136AA.
        let zeros = [UInt8](repeating: 0, count: 32)
        XCTAssertEqual(zeros.withUnsafeBytes { PersistenceFormat.crc32c($0) }, 0x8A91_36AA)
        XCTAssertEqual(Array("123456789".utf8).withUnsafeBytes { PersistenceFormat.crc32c($0) }, 0xE306_9283)
    }
}
