import XCTest
@testable import NewsWire

final class TCPOptionsTests: XCTestCase {
    func parse(_ bytes: [UInt8]) throws(WireError) -> TCPOptions {
        let r: Result<TCPOptions, WireError> = bytes.withUnsafeBytes { b in
            do throws(WireError) { return .success(try TCPOptions(parsing: b)) } catch { return .failure(error) }
        }
        return try r.get()
    }

    func emit(_ o: TCPOptions) -> [UInt8] {
        var buffer = [UInt8](repeating: 0xEE, count: 60)
        let n = buffer.withUnsafeMutableBytes { o.emit(into: $0) }
        return Array(buffer[0..<n])
    }

    func testALinuxSYN() throws {
        // What Linux sends on a SYN: MSS 1460, SACK-permitted, timestamps, NOP, wscale 7.
        let syn: [UInt8] = [2, 4, 0x05, 0xB4, 4, 2, 8, 10, 0, 0, 0x12, 0x34, 0, 0, 0, 0, 1, 3, 3, 7]
        let o = try parse(syn)
        XCTAssertEqual(o.maxSegmentSize, 1460)
        XCTAssertTrue(o.sackPermitted)
        XCTAssertEqual(o.timestamp?.value, 0x1234)
        XCTAssertEqual(o.timestamp?.echo, 0)
        XCTAssertEqual(o.windowShift, 7)
        XCTAssertEqual(o.unknown, 0)
        XCTAssertEqual(emit(o), [2, 4, 0x05, 0xB4, 4, 2, 8, 10, 0, 0, 0x12, 0x34, 0, 0, 0, 0, 1, 3, 3, 7], "the same layout back")
    }

    func testRoundTripsWithSACKBlocksAndPadding() throws {
        var o = TCPOptions()
        o.timestamp = (7, 9)
        o.sackBlocks = [.init(left: 100, right: 200), .init(left: 300, right: 400), .init(left: UInt32.max - 5, right: 10)]
        let bytes = emit(o)
        XCTAssertEqual(bytes.count, 40)
        XCTAssertEqual(bytes.count, o.emittedLength)
        XCTAssertEqual(try parse(bytes), o)

        var small = TCPOptions()
        small.sackPermitted = true
        XCTAssertEqual(emit(small), [4, 2, 1, 1], "padded with NOPs to four bytes")
        XCTAssertEqual(try parse(emit(small)), small)
    }

    func testTooManyOptionsForAHeaderAreNotEmitted() {
        var o = TCPOptions()
        o.maxSegmentSize = 1460
        o.timestamp = (1, 2)
        o.windowShift = 7
        o.sackBlocks = Array(repeating: .init(left: 1, right: 2), count: 4)
        XCTAssertGreaterThan(o.emittedLength, 40)
        XCTAssertTrue(emit(o).isEmpty)
    }

    func testUnknownKindsAreSkippedAndEndStopsTheList() throws {
        // An unknown kind 30 of length 4, then MSS, then EOL, then garbage that is ignored.
        let o = try parse([30, 4, 9, 9, 2, 4, 0x02, 0x18, 0, 0xFF, 0xFF])
        XCTAssertEqual(o.unknown, 1)
        XCTAssertEqual(o.maxSegmentSize, 536)
    }

    func testWindowShiftAbove14IsClampedWhenUsed() throws {
        let o = try parse([3, 3, 20, 1])
        XCTAssertEqual(o.windowShift, 20)
        XCTAssertEqual(o.effectiveWindowShift, 14)
    }

    func testMalformedOptionsAreRefused() {
        let bad: [[UInt8]] = [
            [2],                   // kind with no length byte
            [2, 1, 0],             // length below 2
            [2, 0],                // length 0 would loop forever
            [2, 6, 0, 0],          // runs past the end
            [2, 3, 0],             // MSS of the wrong length
            [3, 4, 7, 0],          // window scale of the wrong length
            [4, 3, 0],             // SACK-permitted with a body
            [5, 6, 0, 0, 0, 0],    // SACK block not a multiple of 8
            [5, 2],                // SACK with no block
            [5, 42] + [UInt8](repeating: 0, count: 40),  // 5 blocks cannot fit
            [8, 9, 0, 0, 0, 0, 0, 0, 0],  // timestamps of the wrong length
        ]
        for b in bad {
            XCTAssertThrowsError(try parse(b), "\(b)") { XCTAssertEqual($0 as? WireError, .tcpBadOption) }
        }
    }
}

final class TCPSegmentEmitTests: XCTestCase {
    func testASegmentWithOptionsParsesBackAndItsChecksumHolds() throws {
        let src = try IPv4Address.parse("198.18.0.2"), dst = try IPv4Address.parse("198.18.0.1")
        var options = TCPOptions()
        options.maxSegmentSize = 1460
        options.sackPermitted = true
        options.timestamp = (123, 0)
        options.windowShift = 7
        let header = TCPHeader(sourcePort: 80, destinationPort: 40000, sequenceNumber: 0xFFFF_FFF0, acknowledgmentNumber: 0,
                               flags: [.syn], window: 65535)
        let payload: [UInt8] = [1, 2, 3]
        var buffer = [UInt8](repeating: 0, count: 100)
        let n = buffer.withUnsafeMutableBytes { b in payload.withUnsafeBytes { header.emit(into: b, options: options, payload: $0, src: src, dst: dst) } }
        XCTAssertEqual(n, 20 + 20 + 3)
        try buffer.withUnsafeBytes { raw in
            let view = try TCPHeaderView(UnsafeRawBufferPointer(rebasing: raw[0..<n]))
            XCTAssertEqual(view.headerLength, 40)
            XCTAssertEqual(TCPHeader.parse(view), header)
            XCTAssertEqual(try TCPOptions(parsing: view.options), options)
            XCTAssertEqual(Array(view.payload), payload)
            XCTAssertTrue(view.verifyChecksum(src: src, dst: dst))
        }
        // Without options it is the plain 20-byte header.
        let plain = buffer.withUnsafeMutableBytes { b in payload.withUnsafeBytes { header.emit(into: b, payload: $0, src: src, dst: dst) } }
        XCTAssertEqual(plain, 23)
        // Too small a buffer, or options a header cannot hold: nothing written.
        var tiny = [UInt8](repeating: 0, count: 30)
        XCTAssertEqual(tiny.withUnsafeMutableBytes { b in payload.withUnsafeBytes { header.emit(into: b, options: options, payload: $0, src: src, dst: dst) } }, 0)
        options.sackBlocks = Array(repeating: .init(left: 1, right: 2), count: 4)
        XCTAssertEqual(buffer.withUnsafeMutableBytes { b in payload.withUnsafeBytes { header.emit(into: b, options: options, payload: $0, src: src, dst: dst) } }, 0)
    }
}
