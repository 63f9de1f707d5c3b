import Glibc
import XCTest
import NewsWire

final class ICMPTests: XCTestCase {
    let echoData = Array("abcdefghijklmnop".utf8)

    func testKnownEchoRequest() throws {
        try Vectors.icmpEchoRequest.withUnsafeBytes { buf in
            let p = try ICMPPacket(buf)
            XCTAssertEqual(p.type, .echoRequest)
            XCTAssertEqual(p.code, 0)
            XCTAssertEqual(p.checksum, 0xa27f)
            XCTAssertEqual(p.echoIdentifier, 0x1234)
            XCTAssertEqual(p.echoSequence, 1)
            XCTAssertEqual(p.restOfHeader, 0x1234_0001)
            XCTAssertEqual(ICMPRepr.parse(p), .echoRequest(identifier: 0x1234, sequence: 1, data: echoData))
        }
        let repr = ICMPRepr.echoRequest(identifier: 0x1234, sequence: 1, data: echoData)
        XCTAssertEqual(repr.bufferLength, 24)
        XCTAssertEqual(emitted { repr.emit(into: $0) }, Vectors.icmpEchoRequest)
    }

    func testRoundTrips() throws {
        let quoted = Array(Vectors.udpPacket[0..<28])
        let reprs: [ICMPRepr] = [
            .echoRequest(identifier: 7, sequence: 65535, data: []),
            .echoReply(identifier: 0xffff, sequence: 3, data: [1, 2, 3]),   // odd length
            .destinationUnreachable(code: ICMPUnreachableCode.port, quoted: quoted),
            .timeExceeded(code: ICMPTimeExceededCode.ttlInTransit, quoted: quoted),
            .other(type: 13, code: 0, restOfHeader: 0xdead_beef, data: [0, 1]),
            .other(type: 3, code: 4, restOfHeader: 0x0000_05dc, data: quoted),   // RFC 1191 MTU kept
        ]
        for repr in reprs {
            let bytes = emitted { repr.emit(into: $0) }
            XCTAssertEqual(bytes.count, repr.bufferLength)
            try bytes.withUnsafeBytes { buf in
                XCTAssertEqual(ICMPRepr.parse(try ICMPPacket(buf)), repr)
            }
        }
    }

    func testTruncationAndChecksum() {
        assertEveryTruncationThrows(Vectors.icmpEchoRequest, headerLength: 8, .icmpTruncated) { buf throws(WireError) in
            _ = try ICMPPacket(buf, verifyChecksum: false)
        }
        var bad = Vectors.icmpEchoRequest
        bad[23] ^= 0x20   // flip a data bit: the checksum covers the payload too
        XCTAssertEqual(thrownError(bad) { buf throws(WireError) in _ = try ICMPPacket(buf) }, .icmpBadChecksum)
        XCTAssertNil(thrownError(bad) { buf throws(WireError) in _ = try ICMPPacket(buf, verifyChecksum: false) })
    }

    func testQuoteIsHeaderPlusEightBytes() throws {
        let long = Vectors.ipv4(payload: Array(0..<20))
        try long.withUnsafeBytes { buf in
            let q = ICMPRepr.quote(try IPv4Packet(buf))
            XCTAssertEqual(q, Array(long[0..<28]))
        }
        let short = Vectors.ipv4(payload: [1, 2, 3])
        try short.withUnsafeBytes { buf in
            XCTAssertEqual(ICMPRepr.quote(try IPv4Packet(buf)), short)
        }
    }

    func testEmitNeedsRoom() {
        let repr = ICMPRepr.echoReply(identifier: 1, sequence: 1, data: [1, 2])
        XCTAssertEqual(emitted(capacity: 9) { repr.emit(into: $0) }.count, 0)
        XCTAssertEqual(emitted(capacity: 10) { repr.emit(into: $0) }.count, 10)
    }

    /// What Linux's UDP error handler reads from a quote: addresses, protocol, fragment
    /// offset and the ports, even though the quote's Total Length covers the original.
    func testQuotedDatagram() throws {
        let quote = Array(Vectors.udpPacket[0..<28])
        try quote.withUnsafeBytes { buf in
            let q = try ICMPQuotedDatagram(buf)
            XCTAssertEqual(q.protocol, .udp)
            XCTAssertEqual(q.source, IPv4Address(198, 18, 0, 1))
            XCTAssertEqual(q.destination, IPv4Address(198, 18, 0, 199))
            XCTAssertEqual(q.sourcePort, 12345)
            XCTAssertEqual(q.destinationPort, 53)
            XCTAssertEqual(q.fragmentOffset, 0)
        }
        // With options, the ports come after them.
        var withOptions = Array(quote[0..<20]) + [1, 1, 1, 0] + Array(quote[20..<28])
        withOptions[0] = 0x46
        try withOptions.withUnsafeBytes { buf in
            let q = try ICMPQuotedDatagram(buf)
            XCTAssertEqual(q.headerLength, 24)
            XCTAssertEqual(q.sourcePort, 12345)
            XCTAssertEqual(q.destinationPort, 53)
        }
        assertEveryTruncationThrows(quote, headerLength: 28, .icmpBadQuote) { buf throws(WireError) in
            _ = try ICMPQuotedDatagram(buf)
        }
        XCTAssertEqual(thrownError(Array(withOptions[0..<31])) { buf throws(WireError) in _ = try ICMPQuotedDatagram(buf) },
                       .icmpBadQuote, "options leave fewer than 8 bytes")
        var v6 = quote; v6[0] = 0x65
        XCTAssertEqual(thrownError(v6) { buf throws(WireError) in _ = try ICMPQuotedDatagram(buf) }, .icmpBadQuote)
        var ihl4 = quote; ihl4[0] = 0x44
        XCTAssertEqual(thrownError(ihl4) { buf throws(WireError) in _ = try ICMPQuotedDatagram(buf) }, .icmpBadQuote)
    }

    /// Linux's icmp_err_convert: port and protocol unreachable are hard errors (a
    /// connected UDP socket reports them), net and host unreachable soft (RFC 1122 3.2.2.1).
    func testUnreachableCodesAsLinuxSocketErrors() {
        XCTAssertEqual(ICMPUnreachableCode.socketError(ICMPUnreachableCode.port)?.errno, ECONNREFUSED)
        XCTAssertEqual(ICMPUnreachableCode.socketError(ICMPUnreachableCode.port)?.hard, true)
        XCTAssertEqual(ICMPUnreachableCode.socketError(ICMPUnreachableCode.protocol)?.errno, ENOPROTOOPT)
        XCTAssertEqual(ICMPUnreachableCode.socketError(ICMPUnreachableCode.protocol)?.hard, true)
        for soft in [ICMPUnreachableCode.network, ICMPUnreachableCode.host, ICMPUnreachableCode.fragmentationNeeded, 5, 11, 12] {
            XCTAssertEqual(ICMPUnreachableCode.socketError(soft)?.hard, false, "code \(soft)")
        }
        XCTAssertEqual(ICMPUnreachableCode.socketError(ICMPUnreachableCode.fragmentationNeeded)?.errno, EMSGSIZE)
        XCTAssertEqual(ICMPUnreachableCode.socketError(13)?.errno, EHOSTUNREACH)
        XCTAssertEqual(ICMPUnreachableCode.socketError(7)?.errno, EHOSTDOWN)
        XCTAssertNil(ICMPUnreachableCode.socketError(16))
        XCTAssertNil(ICMPUnreachableCode.socketError(255))
    }
}
