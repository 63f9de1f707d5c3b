@testable import NewsTCP
import NewsWire
import XCTest

/// Segmentation offload (TSO): with `segmentationOffload`, new data leaves in segments of
/// many MSS that the link cuts (`segmentSize` says into how many payload bytes each);
/// retransmissions stay one MSS, and without the offload nothing changes.
final class ConnectionOffloadTests: XCTestCase {
    static var offloaded: TCPConfiguration {
        var c = TCPConfiguration.plain
        c.segmentationOffload = true
        return c
    }

    func testNewDataLeavesInOneSegmentTheLinkCuts() {
        var s = Socket.established(Self.offloaded)
        s.write(100_000)
        let out = s.transmit(after: 1 * ms)
        XCTAssertEqual(out.count, 1, "the whole initial window in one segment")
        let seg = out[0]
        XCTAssertEqual(seg.sequence, ourISS + 1)
        XCTAssertEqual(seg.segmentSize, 1460, "cut at the peer's MSS")
        XCTAssertEqual(seg.payloadLength % 1460, 0, "whole segments: more data follows")
        XCTAssertGreaterThanOrEqual(seg.payloadLength, 10 * 1460, "RFC 6928's initial window of 10 segments at least")
        XCTAssertFalse(seg.flags.contains(.psh), "not the end of what was written")
    }

    func testWithoutTheOffloadEverySegmentFitsTheMSS() {
        var s = Socket.established()
        s.write(100_000)
        let out = s.transmit(after: 1 * ms)
        XCTAssertGreaterThanOrEqual(out.count, 10)
        XCTAssertTrue(out.allSatisfy { $0.payloadLength <= 1460 && $0.segmentSize == 0 }, "\(out.map(\.payloadLength))")
    }

    func testTheLastPieceMayBeShortAndCarriesPSH() {
        var s = Socket.established(Self.offloaded)
        s.write(3 * 1460 + 100)
        let out = s.transmit(after: 1 * ms)
        XCTAssertEqual(out.map(\.payloadLength), [3 * 1460 + 100])
        XCTAssertEqual(out[0].segmentSize, 1460)
        XCTAssertTrue(out[0].flags.contains(.psh))
    }

    func testASegmentOfOneMSSIsNotOffloaded() {
        var s = Socket.established(Self.offloaded)
        s.write(1000)
        let out = s.transmit(after: 1 * ms)
        XCTAssertEqual(out.map(\.payloadLength), [1000])
        XCTAssertEqual(out[0].segmentSize, 0)
    }

    func testTheOffloadLimitIsAWholeNumberOfSegments() {
        var c = Self.offloaded
        c.offloadedSegmentBytes = 5000
        var s = Socket.established(c)
        s.write(100_000)
        let out = s.transmit(after: 1 * ms)
        XCTAssertGreaterThan(out.count, 1)
        XCTAssertEqual(out[0].payloadLength, 3 * 1460, "5000 bytes hold three 1460-byte segments")
        XCTAssertTrue(out.allSatisfy { $0.payloadLength <= 5000 })
        XCTAssertEqual(out.reduce(0) { $0 + $1.payloadLength } % 1460, 0)
    }

    func testOptionsShrinkTheCutSize() {
        var c = Self.offloaded
        c.timestamps = true
        var s = Socket.established(c)
        s.write(100_000)
        let out = s.transmit(after: 1 * ms)
        XCTAssertEqual(out.count, 1)
        XCTAssertEqual(out[0].segmentSize, 1460 - 12, "each cut segment carries the 12 bytes of timestamps")
        XCTAssertEqual(out[0].payloadLength % (1460 - 12), 0)
    }

    func testRetransmissionsAreOneMSSEach() {
        var s = Socket.established(Self.offloaded)
        s.write(20_000)
        let first = s.transmit(after: 1 * ms)
        XCTAssertEqual(first.count, 1)
        // Nothing acknowledged: the RTO (1 s before any RTT sample) sends SND.UNA again.
        let again = s.transmit(after: 1_100 * ms)
        XCTAssertFalse(again.isEmpty)
        XCTAssertEqual(again[0].sequence, ourISS + 1)
        XCTAssertTrue(again[0].isRetransmission)
        XCTAssertEqual(again[0].payloadLength, 1460)
        XCTAssertEqual(again[0].segmentSize, 0)
    }
}
