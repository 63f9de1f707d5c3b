import NewsIPC
import XCTest

final class PacketOffloadTests: XCTestCase {
    func testWordRoundTripsEveryField() {
        var o = PacketOffload()
        o.checksumPartial = true
        o.checksumStart = 34
        o.checksumOffset = 16
        o.segmentSize = 1448
        o.headerLength = 66
        XCTAssertEqual(PacketOffload(word: o.word), o)
        var v = PacketOffload()
        v.checksumValid = true
        XCTAssertEqual(PacketOffload(word: v.word), v)
        XCTAssertEqual(PacketOffload.none.word, 0, "zero: nothing offloaded, as every older message says")
    }

    func testShiftMovesTheOffsetsWithAHeader() {
        var o = PacketOffload()
        o.checksumPartial = true
        o.checksumStart = 0
        o.checksumOffset = 16
        o.segmentSize = 1460
        o.headerLength = 20
        let framed = o.shifted(by: 14 + 20)
        XCTAssertEqual(framed?.checksumStart, 34)
        XCTAssertEqual(framed?.headerLength, 54)
        XCTAssertEqual(framed?.checksumOffset, 16)
        XCTAssertNil(o.shifted(by: -1), "offsets before the packet's start")
        XCTAssertEqual(PacketOffload.none.shifted(by: 14), PacketOffload.none)
    }

    func testMessageCarriesItInArgFive() {
        var m = Message(kind: .frame, seq: 0, args: (1, 2, 3, 4, 5, 0))
        var o = PacketOffload()
        o.checksumValid = true
        m.offload = o
        XCTAssertEqual(m.offload, o)
        XCTAssertEqual(m.arg.0, 1, "the other arguments untouched")
        XCTAssertEqual(m.arg.4, 5)
    }
}
