import XCTest
import NewsWire

/// Every WireError case must be reachable from some crafted buffer, and
/// every counter name must be unique snake_case.
final class WireErrorCoverageTests: XCTestCase {
    func testEveryCaseIsProducedByAMalformedBuffer() {
        var seen = Set<WireError>()
        func record(_ bytes: [UInt8], _ body: (UnsafeRawBufferPointer) throws(WireError) -> Void) {
            if let e = thrownError(bytes, body) { seen.insert(e) }
        }
        let ip = Vectors.ipv4(payload: [0, 0, 0, 0])
        let eth: (UnsafeRawBufferPointer) throws(WireError) -> Void = { _ = try EthernetFrame($0) }
        let arp: (UnsafeRawBufferPointer) throws(WireError) -> Void = { _ = try ARPPacket($0) }
        let ipv4: (UnsafeRawBufferPointer) throws(WireError) -> Void = { _ = try IPv4Packet($0, verifyChecksum: false) }
        let ipv4Checked: (UnsafeRawBufferPointer) throws(WireError) -> Void = { _ = try IPv4Packet($0) }

        record([0x00], eth)
        record([0, 1, 8, 0], arp)
        record([0, 2, 8, 0, 6, 4, 0, 1], arp)
        record([0x45], ipv4)
        record([0x65] + ip.dropFirst(), ipv4)
        record([0x44] + ip.dropFirst(), ipv4)
        record([0x47] + ip.dropFirst(), ipv4)
        var v = ip; v[3] = 19; record(v, ipv4)
        v = ip; v[3] = 200; record(v, ipv4)
        v = ip; v[10] ^= 0xff; record(v, ipv4Checked)
        v = ip; v[0] = 0x46; v.insert(contentsOf: [148, 9, 0, 0], at: 20); v[3] = 28; record(v, ipv4)
        v = ip; v[12] = 0xe0; record(v) { buf throws(WireError) in try IPv4Packet(buf, verifyChecksum: false).checkSource() }
        record([]) { _ throws(WireError) in
            _ = try IPv4Header(source: Vectors.ipA, destination: Vectors.ipB, protocol: .udp, ttl: 1, payloadLength: 0).forwarded()
        }
        record([8, 0, 0], { buf throws(WireError) in _ = try ICMPPacket(buf) })
        record([8, 0, 0, 0, 0, 0, 0, 0], { buf throws(WireError) in _ = try ICMPPacket(buf) })
        record(ip, { buf throws(WireError) in _ = try ICMPQuotedDatagram(buf) })
        record([0, 1], { buf throws(WireError) in _ = try UDPDatagram(buf) })
        record([0, 1, 0, 2, 0, 9, 0, 0], { buf throws(WireError) in _ = try UDPDatagram(buf) })
        record([0, 1, 0, 2, 0, 8, 0, 1]) { buf throws(WireError) in
            _ = try UDPHeader.parse(try UDPDatagram(buf), src: Vectors.ipA, dst: Vectors.ipB)
        }
        record([0, 1], { buf throws(WireError) in _ = try TCPHeaderView(buf) })
        record([UInt8](repeating: 0, count: 20), { buf throws(WireError) in _ = try TCPHeaderView(buf) })
        record([2, 1], { buf throws(WireError) in _ = try TCPOptions(parsing: buf) })

        XCTAssertEqual(seen, Set(WireError.allCases),
                       "never produced: \(Set(WireError.allCases).subtracting(seen).map(\.counterName))")
    }

    func testCounterNamesAreUniqueSnakeCase() {
        let names = WireError.allCases.map(\.counterName)
        XCTAssertEqual(Set(names).count, names.count)
        for name in names {
            XCTAssertFalse(name.isEmpty)
            XCTAssertTrue(name.utf8.allSatisfy { (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || $0 == UInt8(ascii: "_") }, name)
            XCTAssertFalse(name.hasPrefix("_") || name.hasSuffix("_") || name.contains("__"), name)
        }
        XCTAssertEqual(WireError.ipv4BadChecksum.counterName, "ipv4_bad_checksum")
        XCTAssertEqual(WireError.udpBadLength.counterName, "udp_bad_length")
    }
}
