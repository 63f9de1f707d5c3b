@testable import NewsTCP
import NewsWire
import XCTest

/// Data in both directions: placement, SACK and D-SACK, ACK policy, Nagle, silly-window
/// avoidance, window scaling, zero windows, urgent data and receive-window auto-tuning.
final class ConnectionDataTests: XCTestCase {
    func testPlacementInOrderOutOfOrderAndOverlapping() {
        var s = Socket.established()
        var a = s.receive(s.peer(peerISS + 1, payload: 100), after: 1 * ms)
        XCTAssertPlacement(a, 0, 100, 0)
        XCTAssertEqual(a.receivedUpTo, 100)
        a = s.receive(s.peer(peerISS + 201, payload: 100), after: 1 * ms)
        XCTAssertPlacement(a, 0, 100, 200, "out of order: at its final offset")
        XCTAssertEqual(a.receivedUpTo, 100, "not readable yet")
        XCTAssertEqual(a.events, [])
        a = s.receive(s.peer(peerISS + 101, payload: 100), after: 1 * ms)
        XCTAssertPlacement(a, 0, 100, 100)
        XCTAssertEqual(a.receivedUpTo, 300, "the hole filled")
        XCTAssertEqual(a.events, [.readable])
        a = s.receive(s.peer(peerISS + 251, payload: 100), after: 1 * ms)
        XCTAssertPlacement(a, 50, 50, 300, "only the new part of an overlapping segment")
        XCTAssertEqual(a.receivedUpTo, 350)
    }

    func testSACKBlocksForOutOfOrderData() {
        var s = Socket.established(.withSACK)
        func sack(_ blocks: [(Int, Int)]) -> TCPOptions {
            .sack(blocks.map { ((peerISS + $0.0).rawValue, (peerISS + $0.1).rawValue) })
        }
        s.receive(s.peer(peerISS + 1001, payload: 100), after: 1 * ms)
        XCTAssertSegments(s.transmit(), [segment(ourISS + 1, ack: peerISS + 1, window: 65_535, options: sack([(1001, 1101)]))])
        s.receive(s.peer(peerISS + 2001, payload: 100), after: 1 * ms)
        XCTAssertSegments(s.transmit(), [segment(ourISS + 1, ack: peerISS + 1, window: 65_535, options: sack([(2001, 2101), (1001, 1101)]))],
                          "RFC 2018 4: the block of the segment that triggered the ACK first")
        s.receive(s.peer(peerISS + 1101, payload: 100), after: 1 * ms)
        XCTAssertSegments(s.transmit(), [segment(ourISS + 1, ack: peerISS + 1, window: 65_535, options: sack([(1001, 1201), (2001, 2101)]))])
        s.receive(s.peer(peerISS + 1001, payload: 100), after: 1 * ms)
        XCTAssertSegments(s.transmit(), [segment(ourISS + 1, ack: peerISS + 1, window: 65_535,
                                                 options: sack([(1001, 1101), (1001, 1201), (2001, 2101)]))],
                          "RFC 2883: D-SACK first, then the block that holds it")
        s.receive(s.peer(peerISS + 1, payload: 1000), after: 1 * ms)
        XCTAssertSegments(s.transmit(), [segment(ourISS + 1, ack: peerISS + 1201, window: 64_335, options: sack([(2001, 2101)]))])
    }

    func testDSACKForDuplicateBelowTheAck() {
        var s = Socket.established(.withSACK)
        s.receive(s.peer(peerISS + 1, payload: 100), after: 1 * ms)
        XCTAssertSegments(s.transmit(), [segment(ourISS + 1, ack: peerISS + 101, window: 65_435)])
        // The same segment again: our ACK was lost, or the peer retransmitted too early.
        s.receive(s.peer(peerISS + 1, payload: 100), after: 1 * ms)
        XCTAssertSegments(s.transmit(), [segment(ourISS + 1, ack: peerISS + 101, window: 65_435,
                                                 options: .sack([((peerISS + 1).rawValue, (peerISS + 101).rawValue)]))],
                          "RFC 2883 4: the duplicate reported")
        s.write(100)
        XCTAssertSegments(s.transmit(after: 1 * ms), [segment(ourISS + 1, ack: peerISS + 101, [.ack, .psh], window: 65_435, length: 100)],
                          "RFC 2883 4: a duplicate is reported in one ACK, not again in the next segment")
        s.receive(s.peer(peerISS + 101, ack: ourISS + 101, payload: 100), after: 1 * ms)
        XCTAssertSegments(s.transmit(), [segment(ourISS + 101, ack: peerISS + 201, window: 65_335)])
    }

    func testDSACKWithOutOfOrderDataIsReportedOnce() {
        var s = Socket.established(.withSACK)
        let held = ((peerISS + 1001).rawValue, (peerISS + 1101).rawValue)
        s.receive(s.peer(peerISS + 1001, payload: 100), after: 1 * ms)
        _ = s.transmit()
        s.receive(s.peer(peerISS + 1001, payload: 100), after: 1 * ms)
        XCTAssertSegments(s.transmit(), [segment(ourISS + 1, ack: peerISS + 1, window: 65_535, options: .sack([held, held]))])
        s.write(100)
        XCTAssertSegments(s.transmit(after: 1 * ms), [segment(ourISS + 1, ack: peerISS + 1, [.ack, .psh], window: 65_535,
                                                              options: .sack([held]), length: 100)],
                          "the held block still, the duplicate no more")
    }

    func testQuickAcksAtTheStart() {
        var s = Socket.established()
        for i in 0..<4 {
            s.receive(s.peer(peerISS + 1 + i * 100, payload: 100), after: 1 * ms)
            XCTAssertSegments(s.transmit(), [segment(ourISS + 1, ack: peerISS + 101 + i * 100, window: UInt16(65_435 - i * 100))],
                              "segment \(i) acknowledged at once")
        }
        XCTAssertEqual(s.connection.counters.delayedAcks, 0)
    }

    func testDelayedAckAfterQuickAcks() {
        var c = TCPConfiguration.plain
        c.quickAcks = 0
        var s = Socket.established(c)
        s.receive(s.peer(peerISS + 1, payload: 1460), after: 1 * ms)
        let arrived = s.now
        XCTAssertSegments(s.transmit(), [], "one full segment: the ACK waits")
        XCTAssertEqual(s.connection.nextDeadline, arrived + 40 * ms)
        XCTAssertSegments(s.transmit(at: arrived + 40 * ms - 1), [])
        XCTAssertSegments(s.transmit(at: arrived + 40 * ms), [segment(ourISS + 1, ack: peerISS + 1461, window: 64_075)])
        XCTAssertEqual(s.connection.counters.delayedAcks, 1)
        XCTAssertNil(s.connection.nextDeadline)
        s.receive(s.peer(peerISS + 1461, payload: 1460), after: 1 * ms)
        XCTAssertSegments(s.transmit(), [])
        s.receive(s.peer(peerISS + 2921, payload: 1460), after: 1 * ms)
        XCTAssertSegments(s.transmit(), [segment(ourISS + 1, ack: peerISS + 4381, window: 61_155)],
                          "RFC 5681 4.2: at least every second full-sized segment")
    }

    func testDelayedAckCountsFullSegmentsWithTimestamps() {
        var c = TCPConfiguration.withTimestamps
        c.quickAcks = 0
        var s = Socket.established(c)
        // A full-sized segment carries 1448 bytes next to the timestamps.
        s.now += 1 * ms
        let first = s.peerTSval()
        s.receive(s.peer(peerISS + 1, payload: 1448))
        XCTAssertSegments(s.transmit(), [])
        s.now += 1 * ms
        s.receive(s.peer(peerISS + 1449, payload: 1448))
        XCTAssertSegments(s.transmit(), [segment(ourISS + 1, ack: peerISS + 2897, window: 62_639, options: .timestamp(s.ourTS(), first))],
                          "two full-sized segments: ACK now, echoing the earlier TSval (RFC 7323 4.3)")
    }

    func testDelayedAckRidesOnData() {
        var c = TCPConfiguration.plain
        c.quickAcks = 0
        var s = Socket.established(c)
        s.receive(s.peer(peerISS + 1, payload: 500), after: 1 * ms)
        XCTAssertSegments(s.transmit(), [])
        s.write(100)
        XCTAssertSegments(s.transmit(after: 5 * ms), [segment(ourISS + 1, ack: peerISS + 501, [.ack, .psh], window: 65_035, length: 100)],
                          "the ACK goes with the data")
        XCTAssertEqual(s.connection.nextDeadline.map { $0 > s.now + 100 * ms }, true, "no delayed ACK left: only the RTO")
    }

    func testFinBeyondAHoleWaitsForTheData() {
        var s = Socket.established()
        let a = s.receive(s.peer(peerISS + 101, flags: [.ack, .fin], payload: 100), after: 1 * ms)
        XCTAssertPlacement(a, 0, 100, 100)
        XCTAssertEqual(s.state, .established, "the FIN is not reached yet")
        XCTAssertSegments(s.transmit(), [segment(ourISS + 1, ack: peerISS + 1, window: 65_535)], "out of order: ACK at once")
        let b = s.receive(s.peer(peerISS + 1, payload: 100), after: 1 * ms)
        XCTAssertEqual(b.receivedUpTo, 200)
        XCTAssertEqual(b.events, [.readable, .peerFinished])
        XCTAssertEqual(s.state, .closeWait)
        XCTAssertSegments(s.transmit(), [segment(ourISS + 1, ack: peerISS + 202, window: 65_334)])
    }

    func testSenderSWSOverrideTimer() {
        var s = Socket.established()
        // The peer's window shrinks to 500 bytes while a large write waits.
        s.receive(s.peer(peerISS + 1, ack: ourISS + 1, window: 500), after: 1 * ms)
        s.write(5_000)
        XCTAssertSegments(s.transmit(), [], "500 bytes are neither a full segment nor half the largest window")
        let held = s.now
        XCTAssertEqual(s.connection.nextDeadline, held + 200 * ms, "RFC 9293 3.8.6.2.1: the override timeout")
        XCTAssertSegments(s.transmit(at: held + 200 * ms), [segment(ourISS + 1, ack: peerISS + 1, window: 65_535, length: 500)])
    }

    func testNagleHoldsSmallWriteWhileDataIsInFlight() {
        var s = Socket.established()
        s.write(100)
        XCTAssertSegments(s.transmit(after: 1 * ms), [segment(ourISS + 1, ack: peerISS + 1, [.ack, .psh], window: 65_535, length: 100)],
                          "nothing in flight: a small segment may go")
        s.write(100)
        XCTAssertSegments(s.transmit(after: 1 * ms), [], "RFC 9293 3.7.4: held while data is unacknowledged")
        s.receive(s.peer(peerISS + 1, ack: ourISS + 101), after: 10 * ms)
        XCTAssertSegments(s.transmit(), [segment(ourISS + 101, ack: peerISS + 1, [.ack, .psh], window: 65_535, offset: 100, length: 100)])
    }

    func testNoDelaySendsSmallWritesAtOnce() {
        var c = TCPConfiguration.plain
        c.noDelay = true
        var s = Socket.established(c)
        s.write(100)
        XCTAssertEqual(s.transmit(after: 1 * ms).map(\.payloadLength), [100])
        s.write(100)
        XCTAssertSegments(s.transmit(after: 1 * ms), [segment(ourISS + 101, ack: peerISS + 1, [.ack, .psh], window: 65_535, offset: 100, length: 100)])
    }

    func testSenderAvoidsSillyWindow() {
        var s = Socket.established()
        s.receive(s.peer(peerISS + 1, ack: ourISS + 1, window: 3_000), after: 1 * ms)
        s.write(10_000)
        XCTAssertEqual(s.transmit().map(\.payloadLength), [1460, 1460], "not 80 bytes into what is left of the window")
        s.receive(s.peer(peerISS + 1, ack: ourISS + 1461, window: 3_000), after: 10 * ms)
        XCTAssertSegments(s.transmit(), [segment(ourISS + 2921, ack: peerISS + 1, window: 65_535, offset: 2920, length: 1460)])
        XCTAssertEqual(s.connection.nextDeadline.map { $0 > s.now }, true, "nothing is due now")
    }

    func testReceiverDoesNotMoveTheEdgeForLessThanAnMSS() {
        var s = Socket.established()
        for i in 0..<10 { s.receive(s.peer(peerISS + 1 + i * 1460, payload: 1460), after: 1 * ms) }
        XCTAssertSegments(s.transmit(), [segment(ourISS + 1, ack: peerISS + 14_601, window: 50_935)])
        s.buffers.receiveHead = 500
        XCTAssertSegments(s.transmit(after: 1 * ms), [], "a 500-byte opening is no window update")
        s.receive(s.peer(peerISS + 14_601, payload: 100), after: 1 * ms)
        XCTAssertSegments(s.transmit(), [segment(ourISS + 1, ack: peerISS + 14_701, window: 50_835)],
                          "RFC 9293 3.8.6.2.2: the right edge stays for less than an MSS")
        s.buffers.receiveHead = 1_500
        s.receive(s.peer(peerISS + 14_701, payload: 100), after: 1 * ms)
        XCTAssertSegments(s.transmit(), [segment(ourISS + 1, ack: peerISS + 14_801, window: 52_235)], "1500 bytes freed: the edge moves")
    }

    func testWindowScaleAppliesToThePeersWindowButNotOnSYN() {
        var c = TCPConfiguration.plain
        c.windowScaling = true
        var (s, syn) = Socket.synSent(c, receiveCapacity: 262_144)
        XCTAssertEqual(syn.options.windowShift, 3)
        s.receive(TCPSegment(sequence: peerISS, acknowledgment: ourISS + 1, flags: [.syn, .ack], window: 1_000,
                             options: .peerSYN(shift: 4)), after: 10 * ms)
        XCTAssertEqual(s.connection.info.sendWindow, 1_000, "RFC 7323 2.2: a SYN's window is never scaled")
        XCTAssertSegments(s.transmit(), [segment(ourISS + 1, ack: peerISS + 1, window: 8_191)], "ours: 65535 >> 3")
        s.receive(s.peer(peerISS + 1, ack: ourISS + 1, window: 1_000), after: 1 * ms)
        XCTAssertEqual(s.connection.info.sendWindow, 16_000, "1000 << 4")
    }

    func testZeroWindowProbesBackOffAndResume() {
        var s = Socket.established()
        s.receive(s.peer(peerISS + 1, ack: ourISS + 1, window: 0), after: 1 * ms)
        s.write(100)
        XCTAssertSegments(s.transmit(), [], "the window is closed")
        let stopped = s.now
        XCTAssertEqual(s.connection.nextDeadline, stopped + 200 * ms, "the persist timer, at the RTO")
        let probe = segment(ourISS, ack: peerISS + 1, window: 65_535)
        XCTAssertSegments(s.transmit(at: stopped + 200 * ms), [probe], "SEQ=SND.UNA-1, no data")
        XCTAssertEqual(s.connection.nextDeadline, stopped + 600 * ms, "backed off: 400 ms")
        s.receive(s.peer(peerISS + 1, ack: ourISS + 1, window: 0), after: 1 * ms)
        XCTAssertSegments(s.transmit(), [])
        XCTAssertSegments(s.transmit(at: stopped + 600 * ms), [probe])
        XCTAssertEqual(s.connection.nextDeadline, stopped + 1_400 * ms, "800 ms")
        XCTAssertEqual(s.connection.counters.zeroWindowProbes, 2)
        s.receive(s.peer(peerISS + 1, ack: ourISS + 1, window: 65_535), after: 10 * ms)
        XCTAssertSegments(s.transmit(), [segment(ourISS + 1, ack: peerISS + 1, [.ack, .psh], window: 65_535, length: 100)], "opened: resume")
    }

    func testAnsweredZeroWindowProbesKeepTheConnectionOpen() {
        var c = TCPConfiguration.plain
        c.limits.abortDataAfter = 3
        c.maximumProbeInterval = 1 * seconds
        var s = Socket.established(c)
        s.receive(s.peer(peerISS + 1, ack: ourISS + 1, window: 0), after: 1 * ms)
        s.write(100)
        _ = s.transmit()
        for i in 0..<10 {
            guard let due = s.connection.nextDeadline else { return XCTFail("no persist timer") }
            XCTAssertSegments(s.transmit(at: due), [segment(ourISS, ack: peerISS + 1, window: 65_535)], "probe \(i)")
            s.receive(s.peer(peerISS + 1, ack: ourISS + 1, window: 0), after: 10 * ms)
            XCTAssertSegments(s.transmit(), [])
        }
        XCTAssertEqual(s.state, .established, "RFC 9293 3.8.6.1: answered probes never time out")
        XCTAssertEqual(s.connection.counters.zeroWindowProbes, 10)
        // Unanswered, they do.
        for _ in 0..<3 {
            _ = s.transmit(at: s.connection.nextDeadline!)
        }
        XCTAssertEqual(s.state, .established)
        _ = s.transmit(at: s.connection.nextDeadline!)
        XCTAssertEqual(s.state, .closed)
        XCTAssertEqual(s.connection.failure, .timedOut)
    }

    func testReceiverAnswersProbesAndUpdatesTheWindowAfterARead() {
        var s = Socket.established(receiveCapacity: 4_096)
        s.receive(s.peer(peerISS + 1, payload: 2_048), after: 1 * ms)
        s.receive(s.peer(peerISS + 2_049, payload: 2_048), after: 1 * ms)
        XCTAssertSegments(s.transmit(), [segment(ourISS + 1, ack: peerISS + 4_097, window: 0)], "the area is full")
        s.receive(s.peer(peerISS + 4_096), after: 200 * ms)
        XCTAssertSegments(s.transmit(), [segment(ourISS + 1, ack: peerISS + 4_097, window: 0)], "a probe SEQ=RCV.NXT-1 is answered")
        let a = s.receive(s.peer(peerISS + 4_097, payload: 1), after: 200 * ms)
        XCTAssertNil(a.placement, "a byte into a zero window is not taken")
        XCTAssertSegments(s.transmit(), [segment(ourISS + 1, ack: peerISS + 4_097, window: 0)])
        s.readAll()
        XCTAssertSegments(s.transmit(after: 1 * ms), [segment(ourISS + 1, ack: peerISS + 4_097, window: 4_096)], "a window update")
        XCTAssertEqual(s.connection.counters.windowUpdates, 1)
        XCTAssertSegments(s.transmit(after: 1 * ms), [], "once")
    }

    func testZeroReceiveWindowStillTakesTheAck() {
        var s = Socket.established(receiveCapacity: 4_096)
        s.write(100)
        _ = s.transmit(after: 1 * ms)
        s.receive(s.peer(peerISS + 1, ack: ourISS + 1, payload: 4_096), after: 10 * ms)
        XCTAssertSegments(s.transmit(), [segment(ourISS + 101, ack: peerISS + 4_097, window: 0)])
        // The peer probes our zero window with a byte, and acknowledges our data with it.
        let a = s.receive(s.peer(peerISS + 4_097, ack: ourISS + 101, payload: 1), after: 200 * ms)
        XCTAssertNil(a.placement, "no room: the byte is refused")
        XCTAssertEqual(a.acknowledgedUpTo, 100, "RFC 9293 3.10.7.4: \"special allowance should be made to accept valid ACKs\"")
        XCTAssertTrue(a.events.contains(.writable))
        XCTAssertSegments(s.transmit(), [segment(ourISS + 101, ack: peerISS + 4_097, window: 0)], "our window again")
        XCTAssertEqual(s.connection.info.unacknowledged, 0)
    }

    func testUrgentDataIsDeliveredInline() {
        var s = Socket.established()
        let a = s.receive(s.peer(peerISS + 1, flags: [.ack, .urg], payload: 100).withUrgentPointer(10), after: 1 * ms)
        XCTAssertPlacement(a, 0, 100, 0)
        XCTAssertEqual(a.receivedUpTo, 100)
        XCTAssertEqual(s.connection.counters.urgentIgnored, 1)
        XCTAssertSegments(s.transmit(), [segment(ourISS + 1, ack: peerISS + 101, window: 65_435)])
    }

    func testReceiveWindowAutoTunes() {
        var c = TCPConfiguration.plain
        c.windowScaling = true
        let capacity = 1 << 20
        var s = Socket.established(c, peer: .peerSYN(shift: 0), receiveCapacity: capacity)
        XCTAssertEqual(s.connection.options?.receiveShift, 5)
        var seq = peerISS + 1
        func deliver(_ n: Int, read: Bool) {
            for _ in 0..<n {
                s.receive(s.peer(seq, payload: 1460), after: 100_000)
                seq += 1460
                if read { s.readAll() }
            }
        }
        deliver(1, read: true)
        XCTAssertEqual(s.transmit().last.map { Int($0.window) << 5 }, 65_504, "starts at initialReceiveWindow (65535, scaled down)")
        deliver(30, read: true)   // 3 ms, SRTT 10 ms
        s.now += 10 * ms
        deliver(1, read: true)    // a round trip later: 45 KB drained in it
        let grown = s.transmit().last.map { Int($0.window) << 5 } ?? 0
        XCTAssertGreaterThan(grown, 65_535, "the application drains quickly: the window grows")
        XCTAssertLessThanOrEqual(grown, capacity)
        // Now the application stops reading: the window never offers more than the area holds.
        let readTo = s.buffers.receiveHead
        for _ in 0..<60 {
            deliver(1, read: false)
            for seg in s.transmit() {
                let unread = Int(s.connection.receivedOffset - readTo)
                XCTAssertLessThanOrEqual(Int(seg.window) << 5, capacity - unread)
            }
        }
    }
}

extension TCPSegment {
    func withUrgentPointer(_ p: UInt16) -> TCPSegment {
        var s = self
        s.urgentPointer = p
        return s
    }
}
