import XCTest
import NewsWire

final class IPv4Tests: XCTestCase {
    func ipError(_ bytes: [UInt8], verify: Bool = true) -> WireError? {
        thrownError(bytes) { buf throws(WireError) in _ = try IPv4Packet(buf, verifyChecksum: verify) }
    }

    func testRoundTripAllFields() throws {
        let header = IPv4Header(source: Vectors.ipA, destination: Vectors.ipB, protocol: .tcp, ttl: 7,
                                identification: 0xbeef, dontFragment: true, moreFragments: true,
                                fragmentOffset: 1480, payloadLength: 3, dscp: 46, ecn: 2)
        let bytes = emitted { header.emit(into: $0) } + [9, 8, 7]
        try bytes.withUnsafeBytes { buf in
            let packet = try IPv4Packet(buf)
            XCTAssertEqual(IPv4Header.parse(packet), header)
            XCTAssertEqual(packet.version, 4)
            XCTAssertEqual(packet.ihl, 5)
            XCTAssertEqual(packet.totalLength, 23)
            XCTAssertTrue(packet.isFragment)
            XCTAssertEqual(packet.options.count, 0)
        }
    }

    func testParsesKnownPacket() throws {
        try Vectors.udpPacket.withUnsafeBytes { buf in
            let p = try IPv4Packet(buf)
            XCTAssertEqual(p.headerChecksum, 0x0212)
            XCTAssertEqual(p.identification, 0xabcd)
            XCTAssertTrue(p.dontFragment)
            XCTAssertFalse(p.moreFragments)
            XCTAssertFalse(p.isFragment)
            XCTAssertEqual(p.ttl, 64)
            XCTAssertEqual(p.protocol, .udp)
            XCTAssertEqual(p.source.description, "198.18.0.1")
            XCTAssertEqual(p.destination.description, "198.18.0.199")
            XCTAssertEqual(p.payload.count, 13)
        }
        // Our emitter produces the same bytes as the independent generator.
        let header = IPv4Header(source: IPv4Address(198, 18, 0, 1), destination: IPv4Address(198, 18, 0, 199),
                                protocol: .udp, ttl: 64, identification: 0xabcd, dontFragment: true,
                                payloadLength: 13)
        XCTAssertEqual(emitted { header.emit(into: $0) }, Array(Vectors.udpPacket[0..<20]))
    }

    func testTruncation() {
        assertEveryTruncationThrows(Vectors.ipv4(payload: []), headerLength: 20, .ipv4Truncated) { buf throws(WireError) in
            _ = try IPv4Packet(buf)
        }
    }

    func testHeaderFieldErrors() {
        let good = Vectors.ipv4(payload: [0, 0, 0, 0])
        var v = good; v[0] = 0x65; fixIPv4Checksum(&v)
        XCTAssertEqual(ipError(v), .ipv4BadVersion)
        v = good; v[0] = 0x44
        XCTAssertEqual(ipError(v, verify: false), .ipv4BadIHL)
        v = good; v[0] = 0x47   // 28-byte header in a 24-byte buffer
        XCTAssertEqual(ipError(v, verify: false), .ipv4HeaderBeyondPacket)
        v = good; v[2] = 0; v[3] = 19; fixIPv4Checksum(&v)
        XCTAssertEqual(ipError(v), .ipv4TotalLengthTooShort)
        v = good; v[3] = 25; fixIPv4Checksum(&v)
        XCTAssertEqual(ipError(v), .ipv4TotalLengthBeyondFrame)
        v = good; v[8] ^= 0x01
        XCTAssertEqual(ipError(v), .ipv4BadChecksum)
        XCTAssertNil(ipError(v, verify: false), "verifyChecksum: false skips the check")
        XCTAssertNil(ipError(good))
    }

    /// Builds a datagram with the given option bytes (padded by the caller to
    /// a multiple of 4) and a valid checksum.
    func withOptions(_ options: [UInt8]) -> [UInt8] {
        var bytes = Vectors.ipv4(payload: [0xaa])
        bytes.insert(contentsOf: options, at: 20)
        bytes[0] = 0x40 | UInt8(5 + options.count / 4)
        bytes[3] = UInt8(bytes.count)
        fixIPv4Checksum(&bytes)
        return bytes
    }

    func testOptions() throws {
        // NOP, NOP, Router Alert (RFC 2113: type 148, length 4), then EOL + pad.
        let ok = withOptions([1, 1, 148, 4, 0, 0, 0, 0])
        try ok.withUnsafeBytes { buf in
            let p = try IPv4Packet(buf)
            XCTAssertEqual(p.headerLength, 28)
            XCTAssertEqual(Array(p.options), [1, 1, 148, 4, 0, 0, 0, 0])
            XCTAssertEqual(Array(p.payload), [0xaa])
        }
        XCTAssertNil(ipError(withOptions([0, 0xff, 0xff, 0xff])), "bytes after EOL are not parsed")
        XCTAssertEqual(ipError(withOptions([148, 1, 0, 0])), .ipv4BadOptionsLength)
        XCTAssertEqual(ipError(withOptions([148, 0, 0, 0])), .ipv4BadOptionsLength)
        XCTAssertEqual(ipError(withOptions([148, 5, 0, 0])), .ipv4BadOptionsLength)
        XCTAssertEqual(ipError(withOptions([1, 1, 1, 148])), .ipv4BadOptionsLength)
    }

    func testMartianSource() throws {
        for (src, martian) in [(IPv4Address.broadcast, true), (IPv4Address(224, 0, 0, 5), true),
                               (IPv4Address(198, 18, 0, 1), false), (IPv4Address.unspecified, false)] {
            let header = IPv4Header(source: src, destination: Vectors.ipB, protocol: .udp, payloadLength: 0)
            let bytes = emitted { header.emit(into: $0) }
            let error = thrownError(bytes) { buf throws(WireError) in try IPv4Packet(buf).checkSource() }
            XCTAssertEqual(error, martian ? .ipv4MartianSource : nil, src.description)
        }
    }

    func testForwardingTTL() throws {
        let base = IPv4Header(source: Vectors.ipA, destination: Vectors.ipB, protocol: .udp, ttl: 64, payloadLength: 0)
        XCTAssertEqual(try base.forwarded().ttl, 63)
        for ttl: UInt8 in [0, 1] {
            var h = base
            h.ttl = ttl
            XCTAssertThrowsError(try h.forwarded()) { XCTAssertEqual($0 as? WireError, .ipv4TTLZero) }
        }
        // Receiving TTL 0 is not itself a parse error (RFC 1122 3.2.1.7).
        XCTAssertNil(ipError(Vectors.ipv4(payload: [], ttl: 0)))
    }

    func testFragmentFlags() throws {
        for (mf, offset, fragment) in [(false, 0, false), (true, 0, true), (false, 8, true), (true, 65528, true)] {
            let h = IPv4Header(source: Vectors.ipA, destination: Vectors.ipB, protocol: .udp,
                               moreFragments: mf, fragmentOffset: offset, payloadLength: 0)
            try emitted { h.emit(into: $0) }.withUnsafeBytes { buf in
                let p = try IPv4Packet(buf)
                XCTAssertEqual(p.isFragment, fragment)
                XCTAssertEqual(p.fragmentOffset, offset)
                XCTAssertEqual(p.moreFragments, mf)
            }
        }
    }

    func testEmitRefusesWhatCannotBeEncoded() {
        let ok = IPv4Header(source: Vectors.ipA, destination: Vectors.ipB, protocol: .udp, payloadLength: 0)
        XCTAssertEqual(emitted(capacity: 19) { ok.emit(into: $0) }.count, 0)
        XCTAssertEqual(emitted { ok.emit(into: $0) }.count, 20)
        var h = ok; h.fragmentOffset = 7
        XCTAssertEqual(emitted { h.emit(into: $0) }.count, 0)
        h = ok; h.fragmentOffset = 65536
        XCTAssertEqual(emitted { h.emit(into: $0) }.count, 0)
        h = ok; h.payloadLength = 65516
        XCTAssertEqual(emitted { h.emit(into: $0) }.count, 0)
        h = ok; h.payloadLength = 65515
        XCTAssertEqual(emitted { h.emit(into: $0) }.count, 20)
        h = ok; h.dscp = 64
        XCTAssertEqual(emitted { h.emit(into: $0) }.count, 0)
    }
}
