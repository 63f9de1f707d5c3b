import XCTest
import NewsWire

final class UDPTests: XCTestCase {
    let src = IPv4Address(198, 18, 0, 1)
    let dst = IPv4Address(198, 18, 0, 199)
    var knownUDP: [UInt8] { Array(Vectors.udpPacket[20...]) }

    func testKnownDatagram() throws {
        try Vectors.udpPacket.withUnsafeBytes { buf in
            let ip = try IPv4Packet(buf)
            let udp = try UDPDatagram(ip.payload)
            XCTAssertEqual(udp.sourcePort, 12345)
            XCTAssertEqual(udp.destinationPort, 53)
            XCTAssertEqual(udp.length, 13)
            XCTAssertEqual(udp.checksum, 0xfea6)
            XCTAssertEqual(Array(udp.payload), Array("hello".utf8))
            XCTAssertTrue(udp.verifyChecksum(src: ip.source, dst: ip.destination))
            XCTAssertFalse(udp.verifyChecksum(src: ip.source, dst: IPv4Address(198, 18, 0, 198)))
            let header = try UDPHeader.parse(udp, src: ip.source, dst: ip.destination)
            XCTAssertEqual(header, UDPHeader(sourcePort: 12345, destinationPort: 53, payloadLength: 5))
            XCTAssertEqual(emitted { header.emit(into: $0, payload: Array("hello".utf8), src: src, dst: dst) }, knownUDP)
        }
    }

    func testRoundTripOddPayload() throws {
        let header = UDPHeader(sourcePort: 68, destinationPort: 67, payloadLength: 7)
        let payload: [UInt8] = [1, 2, 3, 4, 5, 6, 7]
        let bytes = emitted { header.emit(into: $0, payload: payload, src: Vectors.ipA, dst: Vectors.ipB) }
        try bytes.withUnsafeBytes { buf in
            let d = try UDPDatagram(buf)
            XCTAssertEqual(try UDPHeader.parse(d, src: Vectors.ipA, dst: Vectors.ipB), header)
            XCTAssertEqual(Array(d.payload), payload)
        }
    }

    /// RFC 768: a zero checksum means none was computed. Such a datagram is accepted
    /// whatever its addresses and contents, and is told apart from one with a checksum.
    func testZeroChecksumMeansNone() throws {
        var bytes = knownUDP
        bytes[6] = 0; bytes[7] = 0
        try bytes.withUnsafeBytes { buf in
            let udp = try UDPDatagram(buf)
            XCTAssertFalse(udp.hasChecksum)
            XCTAssertTrue(udp.verifyChecksum(src: src, dst: dst))
            XCTAssertTrue(udp.verifyChecksum(src: Vectors.ipB, dst: IPv4Address(198, 18, 0, 77)))
            XCTAssertEqual(try UDPHeader.parse(udp, src: src, dst: dst).payloadLength, 5)
        }
        bytes[12] ^= 0x01   // a changed payload is still accepted: nothing covers it
        try bytes.withUnsafeBytes { buf in XCTAssertTrue(try UDPDatagram(buf).verifyChecksum(src: src, dst: dst)) }
        try knownUDP.withUnsafeBytes { buf in XCTAssertTrue(try UDPDatagram(buf).hasChecksum) }
    }

    func testBadChecksumRejected() {
        var bytes = knownUDP
        bytes[12] ^= 0x01
        XCTAssertEqual(thrownError(bytes) { buf throws(WireError) in
            _ = try UDPHeader.parse(try UDPDatagram(buf), src: src, dst: dst)
        }, .udpBadChecksum)
    }

    /// RFC 768: a computed checksum of zero goes on the wire as 0xffff.
    /// The last payload word is chosen so the one's complement sum is 0xffff.
    func testComputedZeroSentAsAllOnes() throws {
        var payload: [UInt8] = [0x12, 0x34, 0, 0]
        var c = InternetChecksum.pseudoHeader(src: Vectors.ipA, dst: Vectors.ipB, protocol: .udp, length: 12)
        c.add([0x00, 0x07, 0x00, 0x09, 0x00, 0x0c, 0x00, 0x00] + payload)
        let filler = 0xffff - c.foldedSum
        payload[2] = UInt8(filler >> 8); payload[3] = UInt8(filler & 0xff)
        let header = UDPHeader(sourcePort: 7, destinationPort: 9, payloadLength: 4)
        let bytes = emitted { header.emit(into: $0, payload: payload, src: Vectors.ipA, dst: Vectors.ipB) }
        XCTAssertEqual(Array(bytes[6..<8]), [0xff, 0xff])
        try bytes.withUnsafeBytes { buf in
            XCTAssertTrue(try UDPDatagram(buf).verifyChecksum(src: Vectors.ipA, dst: Vectors.ipB))
        }
    }

    func testLengthValidation() throws {
        assertEveryTruncationThrows(knownUDP, headerLength: 8, .udpTruncated) { buf throws(WireError) in
            _ = try UDPDatagram(buf)
        }
        for bad: UInt8 in [0, 7, 14] {
            var bytes = knownUDP
            bytes[5] = bad
            XCTAssertEqual(thrownError(bytes) { buf throws(WireError) in _ = try UDPDatagram(buf) }, .udpBadLength, "\(bad)")
        }
        // A shorter Length trims the payload (the rest is IP-level slack).
        var short = knownUDP
        short[5] = 10
        try short.withUnsafeBytes { buf in XCTAssertEqual(Array(try UDPDatagram(buf).payload), [0x68, 0x65]) }
    }

    func testEmitGuards() {
        let header = UDPHeader(sourcePort: 1, destinationPort: 2, payloadLength: 3)
        XCTAssertEqual(emitted(capacity: 10) { header.emit(into: $0, payload: [1, 2, 3], src: src, dst: dst) }.count, 0)
        XCTAssertEqual(emitted { header.emit(into: $0, payload: [1, 2], src: src, dst: dst) }.count, 0)
    }
}

final class TCPTests: XCTestCase {
    func segment(flags: TCPFlags = [.syn, .ack], payload: [UInt8] = Array("GET /".utf8)) -> [UInt8] {
        let h = TCPHeader(sourcePort: 443, destinationPort: 50000, sequenceNumber: 0xdead_beef,
                          acknowledgmentNumber: 0x0102_0304, flags: flags, window: 65535, urgentPointer: 9)
        return payload.withUnsafeBytes { p in emitted { h.emit(into: $0, payload: p, src: Vectors.ipA, dst: Vectors.ipB) } }
    }

    func testRoundTripAndChecksum() throws {
        let bytes = segment()
        try bytes.withUnsafeBytes { buf in
            let v = try TCPHeaderView(buf)
            XCTAssertEqual(v.dataOffset, 5)
            XCTAssertEqual(v.flags, [.syn, .ack])
            XCTAssertTrue(v.flags.contains(.syn))
            XCTAssertFalse(v.flags.contains(.rst))
            XCTAssertEqual(Array(v.payload), Array("GET /".utf8))
            XCTAssertTrue(v.verifyChecksum(src: Vectors.ipA, dst: Vectors.ipB))
            XCTAssertFalse(v.verifyChecksum(src: Vectors.ipB, dst: Vectors.ipB))
            XCTAssertEqual(TCPHeader.parse(v), TCPHeader(sourcePort: 443, destinationPort: 50000,
                sequenceNumber: 0xdead_beef, acknowledgmentNumber: 0x0102_0304, flags: [.syn, .ack],
                window: 65535, urgentPointer: 9))
        }
        var corrupt = bytes
        corrupt[24] ^= 0x01
        try corrupt.withUnsafeBytes { buf in
            XCTAssertFalse(try TCPHeaderView(buf).verifyChecksum(src: Vectors.ipA, dst: Vectors.ipB))
        }
    }

    func testFlagBits() throws {
        let all: TCPFlags = [.fin, .syn, .rst, .psh, .ack, .urg]
        XCTAssertEqual(all.rawValue, 0x3f)
        try segment(flags: [.fin, .psh, .urg]).withUnsafeBytes { buf in
            XCTAssertEqual(buf[13], 0x29)
            XCTAssertEqual(try TCPHeaderView(buf).flags, [.fin, .psh, .urg])
        }
    }

    func testDataOffsetValidation() throws {
        assertEveryTruncationThrows(segment(payload: []), headerLength: 20, .tcpTruncated) { buf throws(WireError) in
            _ = try TCPHeaderView(buf)
        }
        var bytes = segment(payload: [])
        bytes[12] = 4 << 4
        XCTAssertEqual(thrownError(bytes) { buf throws(WireError) in _ = try TCPHeaderView(buf) }, .tcpBadDataOffset)
        bytes[12] = 6 << 4   // 24-byte header in 20 bytes
        XCTAssertEqual(thrownError(bytes) { buf throws(WireError) in _ = try TCPHeaderView(buf) }, .tcpBadDataOffset)
        bytes += [2, 4, 0x05, 0xb4]   // MSS 1460 option
        try bytes.withUnsafeBytes { buf in
            let v = try TCPHeaderView(buf)
            XCTAssertEqual(Array(v.options), [2, 4, 0x05, 0xb4])
            XCTAssertEqual(v.payload.count, 0)
        }
    }
}

/// The virtio-net header of a TAP with IFF_VNET_HDR, and a TCP header emitted in front of a
/// payload already in place with a partial checksum (what the device finishes).
final class VirtioAndPartialChecksumTests: XCTestCase {
    func testVirtioHeaderRoundTripAndLayout() {
        let h = VirtioNetHeader(flags: .needsChecksum, gsoType: .tcpv4, ecn: true, headerLength: 66, gsoSize: 1448,
                                checksumStart: 34, checksumOffset: 16)
        var bytes = [UInt8](repeating: 0xEE, count: VirtioNetHeader.length)
        bytes.withUnsafeMutableBytes { h.emit(into: $0) }
        XCTAssertEqual(bytes, [1, 0x81, 66, 0, 0xA8, 0x05, 34, 0, 16, 0], "little-endian fields, ECN or-ed into gso_type")
        XCTAssertEqual(bytes.withUnsafeBytes { VirtioNetHeader($0) }, h)
    }

    func testVirtioHeaderRejectsShortAndUnknownGSO() {
        XCTAssertNil([UInt8](repeating: 0, count: 9).withUnsafeBytes { VirtioNetHeader($0) })
        XCTAssertNil([UInt8]([0, 2, 0, 0, 0, 0, 0, 0, 0, 0]).withUnsafeBytes { VirtioNetHeader($0) }, "gso_type 2 does not exist")
        XCTAssertEqual([UInt8](repeating: 0, count: 10).withUnsafeBytes { VirtioNetHeader($0) }, .plain)
    }

    func testPartialChecksumIsFinishedBySummingFromTheHeader() {
        let src = IPv4Address(198, 18, 0, 2), dst = IPv4Address(198, 18, 0, 1)
        let payload = (0..<3001).map { UInt8(truncatingIfNeeded: $0 * 7) }
        let header = TCPHeader(sourcePort: 80, destinationPort: 40000, sequenceNumber: 1, acknowledgmentNumber: 2, flags: .ack, window: 100)
        var full = [UInt8](repeating: 0, count: 20 + payload.count)
        var partial = full
        let n = full.withUnsafeMutableBytes { b in payload.withUnsafeBytes { header.emit(into: b, options: nil, payload: $0, src: src, dst: dst) } }
        XCTAssertEqual(n, full.count)
        partial.replaceSubrange(20..., with: payload)
        let m = partial.withUnsafeMutableBytes { header.emit(into: $0, options: nil, payloadInPlace: payload.count, src: src, dst: dst, partialChecksum: true) }
        XCTAssertEqual(m, n)
        XCTAssertEqual(Array(partial[0..<16]), Array(full[0..<16]))
        // The device's part: the ones' complement sum over the segment, the field included.
        var sum = InternetChecksum()
        partial.withUnsafeBytes { sum.add($0) }
        let finished = sum.finalize()
        XCTAssertEqual([UInt8(finished >> 8), UInt8(finished & 0xFF)], Array(full[16..<18]))
        XCTAssertEqual(InternetChecksum.pseudoHeader(src: src, dst: dst, protocol: .tcp, length: n).foldedSum,
                       UInt16(partial[16]) << 8 | UInt16(partial[17]), "the field holds the pseudo-header sum, not complemented")
    }
}
