import XCTest
import NewsWire

final class ChecksumTests: XCTestCase {
    /// RFC 1071 section 3 worked example: bytes 00 01 f2 03 f4 f5 f6 f7 sum
    /// to ddf2 (before complement).
    func testRFC1071Example() {
        var c = InternetChecksum()
        c.add([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7])
        XCTAssertEqual(c.foldedSum, 0xddf2)
        XCTAssertEqual(c.finalize(), 0x220d)
    }

    func testReferenceHeaderChecksum() {
        var header = Vectors.referenceHeader
        header.withUnsafeBytes { XCTAssertTrue(InternetChecksum.verify($0)) }
        header[10] = 0
        header[11] = 0
        header.withUnsafeBytes { XCTAssertEqual(InternetChecksum.compute($0), 0xad8d) }
        header[10] = 0xad
        header[11] = 0x8c
        header.withUnsafeBytes { XCTAssertFalse(InternetChecksum.verify($0)) }
    }

    func testOddLengthPadsWithZero() {
        var c = InternetChecksum()
        c.add([0xab])
        XCTAssertEqual(c.foldedSum, 0xab00)
        var d = InternetChecksum()
        d.add([0x12, 0x34, 0x56])
        XCTAssertEqual(d.foldedSum, 0x1234 + 0x5600)
    }

    /// Splitting the input anywhere, including mid-word, must not change the
    /// sum. Checked for every 2- and 3-way split of an odd-length input.
    func testOddSplitsAcrossCalls() {
        let data: [UInt8] = [0x45, 0x00, 0x01, 0xff, 0xfe, 0x80, 0x7f, 0x11, 0x03, 0xa5, 0x5a]
        var whole = InternetChecksum()
        whole.add(data)
        for i in 0...data.count {
            for j in i...data.count {
                var c = InternetChecksum()
                c.add(Array(data[0..<i]))
                c.add(Array(data[i..<j]))
                c.add(Array(data[j...]))
                XCTAssertEqual(c, whole, "split at \(i), \(j)")
                XCTAssertEqual(c.finalize(), whole.finalize())
            }
        }
        var bytewise = InternetChecksum()
        for b in data { bytewise.add([b]) }
        XCTAssertEqual(bytewise.finalize(), whole.finalize())
    }

    func testWordsAfterOddBytesStayInSequence() {
        var words = InternetChecksum()
        words.add([0x01])
        words.add(UInt16(0x0203))
        words.add(UInt32(0x0405_0607))
        var bytes = InternetChecksum()
        bytes.add([0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07])
        XCTAssertEqual(words.finalize(), bytes.finalize())
        XCTAssertEqual(bytes.foldedSum, 0x0102 + 0x0304 + 0x0506 + 0x0700)
    }

    func testCarriesFoldEndAround() {
        var c = InternetChecksum()
        for _ in 0..<100_000 { c.add(UInt16(0xffff)) }
        XCTAssertEqual(c.foldedSum, 0xffff)
        var d = InternetChecksum()
        d.add(UInt16(0xffff))
        d.add(UInt16(0x0002))
        XCTAssertEqual(d.foldedSum, 0x0002)
    }

    func testPseudoHeaderWords() {
        let c = InternetChecksum.pseudoHeader(src: IPv4Address(198, 18, 0, 1), dst: IPv4Address(198, 18, 0, 199),
                                              protocol: .udp, length: 13)
        var manual = InternetChecksum()
        manual.add([0xc6, 0x12, 0x00, 0x01, 0xc6, 0x12, 0x00, 0xc7, 0x00, 0x11, 0x00, 0x0d])
        XCTAssertEqual(c, manual)
    }
}
