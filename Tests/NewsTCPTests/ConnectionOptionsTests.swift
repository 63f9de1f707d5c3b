@testable import NewsTCP
import NewsWire
import XCTest

/// Options after the handshake: window-scale limits, timestamps on every segment, how
/// many SACK blocks fit, and the receive window's auto-tuning bound.
final class ConnectionOptionsTests: XCTestCase {
    func testWindowShiftAbove14IsTakenAs14() {
        var c = TCPConfiguration.plain
        c.windowScaling = true
        var s = Socket.established(c, peer: .peerSYN(shift: 15))
        XCTAssertEqual(s.connection.options?.sendShift, 14, "RFC 7323 2.3: \"MUST use 14 instead\"")
        s.receive(s.peer(peerISS + 1, ack: ourISS + 1, window: 2), after: 1 * ms)
        XCTAssertEqual(s.connection.info.sendWindow, 2 << 14)
    }

    func testAnnouncedMSSFollowsTheMTU() {
        var c = TCPConfiguration.plain
        c.mtu = 9000
        let (_, syn) = Socket.synSent(c)
        XCTAssertEqual(syn.options.maxSegmentSize, 8960)
    }

    func testTimestampsOnEverySegment() {
        var c = TCPConfiguration.withTimestamps
        c.noDelay = true
        var s = Socket.established(c)
        s.write(100)
        s.now += 3 * ms
        XCTAssertSegments(s.transmit(), [segment(ourISS + 1, ack: peerISS + 1, [.ack, .psh], window: 65_535,
                                                 options: .timestamp(s.ourTS(), peerTS0), length: 100)],
                          "TSval from our clock, TSecr = TS.Recent")
        s.now += 10 * ms
        let tsval = s.peerTSval()
        s.receive(s.peer(peerISS + 1, ack: ourISS + 101, payload: 10))
        XCTAssertSegments(s.transmit(), [segment(ourISS + 101, ack: peerISS + 11, window: 65_525, options: .timestamp(s.ourTS(), tsval))])
    }

    func testSACKBlocksAreLimitedByTheOptionSpace() {
        for timestamps in [false, true] {
            var c = TCPConfiguration.withSACK
            c.timestamps = timestamps
            var s = Socket.established(c)
            for i in 1...5 { s.receive(s.peer(peerISS + 1 + i * 200, payload: 100), after: 1 * ms) }
            let ack = s.transmit()
            XCTAssertEqual(ack.count, 1)
            XCTAssertEqual(ack.first?.options.sackBlocks.count, timestamps ? 3 : 4, "RFC 2018 3: 40 bytes of options")
            XCTAssertEqual(ack.first?.options.sackBlocks.first, TCPOptions.SACKBlock(left: (peerISS + 1001).rawValue, right: (peerISS + 1101).rawValue),
                           "the latest first")
            XCTAssertLessThanOrEqual(ack.first?.options.emittedLength ?? 99, 40)
        }
    }

    func testReceiveWindowNeverOffersMoreThanTheAreaHolds() {
        var c = TCPConfiguration.plain
        c.windowScaling = true
        c.initialReceiveWindow = 16_384
        let capacity = 100_000
        var s = Socket.established(c, peer: .peerSYN(shift: 0), receiveCapacity: capacity)
        let shift = s.connection.options!.receiveShift
        XCTAssertEqual(shift, 1)
        var seq = peerISS + 1
        var largest = 0
        // The application keeps up for a while (the window grows), then stops reading.
        for round in 0..<40 {
            s.now += 10 * ms
            for _ in 0..<8 {
                let a = s.receive(s.peer(seq, payload: 1460), after: 100_000)
                if a.placement == nil { break }
                seq += 1460
                if round < 20 { s.readAll() }
            }
            for seg in s.transmit() {
                let window = Int(seg.window) << shift
                let unread = Int(s.connection.receivedOffset - s.buffers.receiveHead)
                largest = max(largest, window)
                XCTAssertLessThanOrEqual(window, capacity - unread, "round \(round)")
                XCTAssertTrue(seg.acknowledgment + window <= peerISS + 1 + Int(s.buffers.receiveHead) + capacity,
                              "the right edge stays within the area")
            }
        }
        XCTAssertGreaterThan(largest, 16_384, "auto-tuned up from initialReceiveWindow")
        let unread = Int(s.connection.receivedOffset - s.buffers.receiveHead)
        XCTAssertLessThanOrEqual(unread, capacity)
        XCTAssertGreaterThan(unread, capacity - 2 * 1460, "the peer filled the area, and no more")
    }
}
