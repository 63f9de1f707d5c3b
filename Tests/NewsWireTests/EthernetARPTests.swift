import XCTest
import NewsWire

final class EthernetARPTests: XCTestCase {
    func testEthernetRoundTrip() throws {
        let header = EthernetHeader(destination: .broadcast, source: Vectors.macA, etherType: .arp)
        let bytes = emitted { header.emit(into: $0) } + [0xde, 0xad]
        XCTAssertEqual(Array(bytes[0..<14]),
                       [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 0x01, 0x08, 0x06])
        try bytes.withUnsafeBytes { buf in
            let frame = try EthernetFrame(buf)
            XCTAssertEqual(EthernetHeader.parse(frame), header)
            XCTAssertEqual(Array(frame.payload), [0xde, 0xad])
        }
    }

    func testEthernetTruncation() {
        let bytes = emitted { EthernetHeader(destination: Vectors.macB, source: Vectors.macA, etherType: .ipv4).emit(into: $0) }
        assertEveryTruncationThrows(bytes, headerLength: 14, .ethernetTruncated) { buf throws(WireError) in
            _ = try EthernetFrame(buf)
        }
    }

    func testEthernetEmitNeedsRoom() {
        let header = EthernetHeader(destination: Vectors.macB, source: Vectors.macA, etherType: .ipv4)
        XCTAssertEqual(emitted(capacity: 13) { header.emit(into: $0) }.count, 0)
    }

    /// Ethernet pads frames to 60 bytes; the 28-byte datagram inside must not
    /// grow to include the padding.
    func testEthernetPaddingIsTrimmedByIPv4() throws {
        let ip = Vectors.ipv4(payload: [1, 2, 3, 4, 5, 6, 7, 8])
        XCTAssertEqual(ip.count, 28)
        var frame = emitted { EthernetHeader(destination: Vectors.macB, source: Vectors.macA, etherType: .ipv4).emit(into: $0) }
        frame += ip
        frame += [UInt8](repeating: 0, count: 60 - frame.count)
        XCTAssertEqual(frame.count, 60)
        try frame.withUnsafeBytes { buf in
            let eth = try EthernetFrame(buf)
            XCTAssertEqual(eth.etherType, .ipv4)
            XCTAssertEqual(eth.payload.count, 46)
            let packet = try IPv4Packet(eth.payload)
            XCTAssertEqual(packet.bytes.count, 28)
            XCTAssertEqual(Array(packet.payload), [1, 2, 3, 4, 5, 6, 7, 8])
        }
    }

    func arpBytes(_ op: ARPOperation = .request) -> [UInt8] {
        let arp = ARPRepr(operation: op, senderMAC: Vectors.macA, senderIP: Vectors.ipA,
                          targetMAC: .zero, targetIP: Vectors.ipB)
        return emitted { arp.emit(into: $0) }
    }

    func testARPRoundTripAndLayout() throws {
        let repr = ARPRepr(operation: .reply, senderMAC: Vectors.macA, senderIP: Vectors.ipA,
                           targetMAC: Vectors.macB, targetIP: Vectors.ipB)
        let bytes = emitted { repr.emit(into: $0) }
        XCTAssertEqual(bytes.count, 28)
        XCTAssertEqual(Array(bytes[0..<8]), [0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x02])
        XCTAssertEqual(Array(bytes[14..<18]), [198, 18, 0, 1])
        try bytes.withUnsafeBytes { buf in
            let packet = try ARPPacket(buf)
            XCTAssertEqual(ARPRepr.parse(packet), repr)
            XCTAssertEqual(packet.operation, .reply)
        }
    }

    func testARPTrailingPaddingIgnored() throws {
        let bytes = arpBytes() + [UInt8](repeating: 0xee, count: 18)
        try bytes.withUnsafeBytes { buf in
            let packet = try ARPPacket(buf)
            XCTAssertEqual(packet.bytes.count, 28)
            XCTAssertEqual(packet.targetIP, Vectors.ipB)
        }
    }

    func testARPTruncation() {
        assertEveryTruncationThrows(arpBytes(), headerLength: 28, .arpTruncated) { buf throws(WireError) in
            _ = try ARPPacket(buf)
        }
    }

    func testARPUnsupportedTypes() {
        // htype (bytes 0-1), ptype (2-3), hlen (4), plen (5), one at a time.
        for (index, value) in [(1, UInt8(6)), (2, 0x86), (3, 0xdd), (4, 8), (5, 16)] {
            var bytes = arpBytes()
            bytes[index] = value
            XCTAssertEqual(thrownError(bytes) { buf throws(WireError) in _ = try ARPPacket(buf) },
                           .arpUnsupported, "byte \(index)")
        }
    }

    func testARPEmitNeedsRoom() {
        let repr = ARPRepr(operation: .request, senderMAC: Vectors.macA, senderIP: Vectors.ipA,
                           targetMAC: .zero, targetIP: Vectors.ipB)
        XCTAssertEqual(emitted(capacity: 27) { repr.emit(into: $0) }.count, 0)
    }
}
