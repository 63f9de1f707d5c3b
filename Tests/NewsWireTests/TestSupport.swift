import XCTest
import NewsWire

/// Runs `body` over `bytes`; returns the WireError it threw, or nil.
func thrownError(_ bytes: [UInt8], _ body: (UnsafeRawBufferPointer) throws(WireError) -> Void) -> WireError? {
    bytes.withUnsafeBytes { (buffer) -> WireError? in
        do throws(WireError) {
            try body(buffer)
            return nil
        } catch {
            return error
        }
    }
}

/// Asserts that every prefix of `bytes` shorter than `headerLength` throws
/// `expected` (and, by running at all, that none of them crash).
func assertEveryTruncationThrows(_ bytes: [UInt8], headerLength: Int, _ expected: WireError,
                                 file: StaticString = #filePath, line: UInt = #line,
                                 _ body: (UnsafeRawBufferPointer) throws(WireError) -> Void) {
    precondition(bytes.count >= headerLength)
    for n in 0..<headerLength {
        XCTAssertEqual(thrownError(Array(bytes[0..<n]), body), expected, "length \(n)", file: file, line: line)
    }
    XCTAssertNil(thrownError(bytes, body), "full buffer should parse", file: file, line: line)
}

/// Runs an emitter over a zero-filled buffer of `capacity` bytes and returns
/// what it wrote (prefix of the returned length).
func emitted(capacity: Int = 2048, _ body: (UnsafeMutableRawBufferPointer) -> Int) -> [UInt8] {
    var storage = [UInt8](repeating: 0, count: capacity)
    let n = storage.withUnsafeMutableBytes { body($0) }
    return Array(storage[0..<n])
}

/// Recomputes an IPv4 header checksum in place after a test edits a field.
/// (Uses the module's checksum, which ChecksumTests pins to known values.)
func fixIPv4Checksum(_ bytes: inout [UInt8]) {
    let headerLength = Int(bytes[0] & 0x0F) * 4
    bytes[10] = 0
    bytes[11] = 0
    let sum = bytes[0..<headerLength].withUnsafeBytes { InternetChecksum.compute($0) }
    bytes[10] = UInt8(sum >> 8)
    bytes[11] = UInt8(sum & 0xFF)
}

enum Vectors {
    /// The fields of Wikipedia's "IPv4 header checksum" example with the addresses moved
    /// into the test network (198.18.0.1 -> 198.18.0.199); checksum 0xad8d from an
    /// independent python3 RFC 1071 script.
    static let referenceHeader: [UInt8] = [
        0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xad, 0x8d,
        0xc6, 0x12, 0x00, 0x01, 0xc6, 0x12, 0x00, 0xc7,
    ]

    /// ICMP echo request, id 0x1234 seq 1, data "abcdefghijklmnop".
    /// scapy is not installed here; checksum 0xa27f was produced by a
    /// separate 10-line python3 RFC 1071 implementation and re-checked by
    /// hand (data words sum 0x34348, + 0x0800 + 0x1234 + 0x0001 = 0x35d7d,
    /// fold 0x5d80, complement 0xa27f).
    static let icmpEchoRequest: [UInt8] = [
        0x08, 0x00, 0xa2, 0x7f, 0x12, 0x34, 0x00, 0x01, 0x61, 0x62, 0x63, 0x64,
        0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f, 0x70,
    ]

    /// IPv4/UDP 198.18.0.1:12345 -> 198.18.0.199:53, id 0xabcd, DF, TTL 64,
    /// payload "hello". IP checksum 0x0212, UDP checksum 0xfea6, both from
    /// the same independent python3 script.
    static let udpPacket: [UInt8] = [
        0x45, 0x00, 0x00, 0x21, 0xab, 0xcd, 0x40, 0x00, 0x40, 0x11, 0x02, 0x12,
        0xc6, 0x12, 0x00, 0x01, 0xc6, 0x12, 0x00, 0xc7,
        0x30, 0x39, 0x00, 0x35, 0x00, 0x0d, 0xfe, 0xa6, 0x68, 0x65, 0x6c, 0x6c, 0x6f,
    ]

    static let ipA = IPv4Address(198, 18, 0, 1)
    static let ipB = IPv4Address(198, 18, 0, 2)
    static let macA = MACAddress(0x02, 0, 0, 0, 0, 0x01)
    static let macB = MACAddress(0x02, 0, 0, 0, 0, 0x02)

    /// A valid IPv4 datagram from A to B carrying `payload`.
    static func ipv4(protocol proto: IPProtocol = .udp, payload: [UInt8], ttl: UInt8 = 64) -> [UInt8] {
        let header = IPv4Header(source: ipA, destination: ipB, protocol: proto, ttl: ttl,
                                payloadLength: payload.count)
        return emitted { header.emit(into: $0) } + payload
    }
}
