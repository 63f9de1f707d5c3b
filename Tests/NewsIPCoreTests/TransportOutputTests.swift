import XCTest
import NewsIPCore
import NewsWire

/// Each channel carries only its protocol, judged from the packet bytes.
final class TransportOutputTests: XCTestCase {
    let news = IPv4Address(198, 18, 0, 2)
    let linux = IPv4Address(198, 18, 0, 1)

    func packet(protocol proto: IPProtocol, src: IPv4Address? = nil, dst: IPv4Address? = nil, segment: [UInt8]) -> [UInt8] {
        let header = IPv4Header(source: src ?? news, destination: dst ?? linux, protocol: proto, payloadLength: segment.count)
        var bytes = [UInt8](repeating: 0, count: header.totalLength)
        bytes.withUnsafeMutableBytes { out in
            _ = header.emit(into: out)
            UnsafeMutableRawBufferPointer(rebasing: out[20...]).copyMemory(from: UnsafeRawBufferPointer(start: segment, count: segment.count))
        }
        return bytes
    }

    func udpSegment(sport: UInt16 = 49152, dport: UInt16 = 7, payload: [UInt8] = Array("hello".utf8)) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 8 + payload.count)
        _ = out.withUnsafeMutableBytes { UDPHeader(sourcePort: sport, destinationPort: dport, payloadLength: payload.count).emit(into: $0, payload: payload, src: news, dst: linux) }
        return out
    }

    func tcpSegment(sport: UInt16 = 49152, dport: UInt16 = 80) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 20)
        let h = TCPHeader(sourcePort: sport, destinationPort: dport, sequenceNumber: 1, acknowledgmentNumber: 0, flags: .syn, window: 1024)
        _ = out.withUnsafeMutableBytes { h.emit(into: $0, payload: UnsafeRawBufferPointer(start: nil, count: 0), src: news, dst: linux) }
        return out
    }

    func verdict(_ bytes: [UInt8], on proto: IPProtocol) -> TransportOutputDrop? {
        bytes.withUnsafeBytes { buf in
            do throws(TransportOutputDrop) {
                _ = try TransportOutput(packet: buf, channelProtocol: proto, ourAddress: news)
                return nil
            } catch { return error }
        }
    }

    func testGoodDatagramsPass() throws {
        let udp = packet(protocol: .udp, segment: udpSegment())
        try udp.withUnsafeBytes { buf in
            let out = try TransportOutput(packet: buf, channelProtocol: .udp, ourAddress: news)
            XCTAssertEqual(out.destination, linux)
            XCTAssertEqual(Array(out.segment), udpSegment())
        }
        XCTAssertNil(verdict(packet(protocol: .tcp, segment: tcpSegment()), on: .tcp))
    }

    /// A TCP segment on udp-ip is refused, whether the IP header says TCP or lies that it
    /// is UDP (then the bytes are no UDP datagram: the Length field does not fit).
    func testForgedTCPOnTheUDPChannelIsDropped() {
        XCTAssertEqual(verdict(packet(protocol: .tcp, segment: tcpSegment()), on: .udp), .wrongProtocol)
        XCTAssertEqual(verdict(packet(protocol: .udp, segment: tcpSegment()), on: .udp), .badSegment)
        XCTAssertEqual(verdict(packet(protocol: .udp, segment: udpSegment()), on: .tcp), .wrongProtocol)
        XCTAssertEqual(verdict(packet(protocol: .icmp, segment: [8, 0, 0xf7, 0xff, 0, 0, 0, 0]), on: .udp), .wrongProtocol)
        XCTAssertEqual(verdict(packet(protocol: .udp, segment: udpSegment()), on: .icmp), .wrongProtocol)
    }

    func testSourceMustBeOurs() {
        XCTAssertEqual(verdict(packet(protocol: .udp, src: IPv4Address(198, 18, 0, 9), segment: udpSegment()), on: .udp), .wrongSource)
        XCTAssertEqual(verdict(packet(protocol: .udp, src: linux, dst: news, segment: udpSegment()), on: .udp), .wrongSource)
    }

    func testDestinations() {
        for dst in [IPv4Address(0), IPv4Address(127, 0, 0, 1), news] {
            XCTAssertEqual(verdict(packet(protocol: .udp, dst: dst, segment: udpSegment()), on: .udp), .badDestination, "\(dst)")
        }
    }

    func testHeaderMustBePlainAndWhole() {
        let good = packet(protocol: .udp, segment: udpSegment())
        var badSum = good; badSum[10] ^= 0xff
        XCTAssertEqual(verdict(badSum, on: .udp), .badIPHeader)
        var fragment = good; fragment[6] = 0x20; fixChecksum(&fragment)
        XCTAssertEqual(verdict(fragment, on: .udp), .badIPHeader, "more fragments")
        var offset = good; offset[7] = 1; fixChecksum(&offset)
        XCTAssertEqual(verdict(offset, on: .udp), .badIPHeader, "fragment offset")
        XCTAssertEqual(verdict(good + [0, 0], on: .udp), .badIPHeader, "bytes after Total Length")
        XCTAssertEqual(verdict(Array(good[0..<19]), on: .udp), .badIPHeader)
        XCTAssertEqual(verdict([], on: .udp), .badIPHeader)
        var options = Array(good[0..<20]) + [1, 1, 1, 0] + Array(good[20...])
        options[0] = 0x46; options[3] += 4; fixChecksum(&options)
        XCTAssertEqual(verdict(options, on: .udp), .badIPHeader, "options")
    }

    func testSegmentMustBeTheChannelsProtocol() {
        var long = udpSegment(); long[5] += 1
        XCTAssertEqual(verdict(packet(protocol: .udp, segment: long), on: .udp), .badSegment, "Length beyond the payload")
        var short = udpSegment(); short[5] -= 1
        XCTAssertEqual(verdict(packet(protocol: .udp, segment: short), on: .udp), .badSegment, "Length short of the payload")
        XCTAssertEqual(verdict(packet(protocol: .udp, segment: udpSegment(dport: 0)), on: .udp), .badSegment)
        XCTAssertEqual(verdict(packet(protocol: .udp, segment: [0, 1, 0, 2]), on: .udp), .badSegment)
        var offset = tcpSegment(); offset[12] = 0x40
        XCTAssertEqual(verdict(packet(protocol: .tcp, segment: offset), on: .tcp), .badSegment)
        XCTAssertEqual(verdict(packet(protocol: .tcp, segment: tcpSegment(dport: 0)), on: .tcp), .badSegment)
        XCTAssertEqual(verdict(packet(protocol: .tcp, segment: tcpSegment(sport: 0)), on: .tcp), .badSegment)
    }

    func testCounterNamesAreDistinct() {
        let names = TransportOutputDrop.allCases.map(\.counterName)
        XCTAssertEqual(Set(names).count, names.count)
        XCTAssertTrue(names.allSatisfy { $0.hasPrefix("transport_") })
    }

    func fixChecksum(_ bytes: inout [UInt8]) {
        let headerLength = Int(bytes[0] & 0x0F) * 4
        bytes[10] = 0; bytes[11] = 0
        let sum = bytes[0..<headerLength].withUnsafeBytes { InternetChecksum.compute($0) }
        bytes[10] = UInt8(sum >> 8); bytes[11] = UInt8(sum & 0xFF)
    }
}
