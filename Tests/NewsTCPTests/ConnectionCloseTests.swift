@testable import NewsTCP
import NewsWire
import XCTest

/// Closing (RFC 9293 3.6, 3.10.4, 3.10.7.4 eighth check): active, passive and simultaneous
/// close, TIME-WAIT, half-close.
final class ConnectionCloseTests: XCTestCase {
    func testActiveCloseThroughTimeWait() {
        var s = Socket.established()
        s.shutdown()
        XCTAssertSegments(s.transmit(after: 10 * ms), [segment(ourISS + 1, ack: peerISS + 1, [.ack, .fin], window: 65_535)])
        XCTAssertEqual(s.state, .finWait1)
        s.receive(s.peer(peerISS + 1, ack: ourISS + 2), after: 10 * ms)
        XCTAssertEqual(s.state, .finWait2, "our FIN acknowledged")
        XCTAssertSegments(s.transmit(), [], "an ACK is not acknowledged")
        XCTAssertNil(s.connection.nextDeadline, "FIN-WAIT-2 waits for the peer (the application has not closed)")
        let a = s.receive(s.peer(peerISS + 1, ack: ourISS + 2, flags: [.fin, .ack]), after: 10 * ms)
        XCTAssertEqual(a.events, [.readable, .peerFinished])
        XCTAssertEqual(s.state, .timeWait)
        XCTAssertSegments(s.transmit(), [segment(ourISS + 2, ack: peerISS + 2, window: 65_534)])
        let end = s.now + 2 * seconds
        XCTAssertEqual(s.connection.nextDeadline, end, "config.timeWait after the FIN")
        XCTAssertSegments(s.transmit(at: end - 1), [])
        XCTAssertEqual(s.state, .timeWait)
        XCTAssertSegments(s.transmit(at: end), [])
        XCTAssertEqual(s.state, .closed)
        XCTAssertTrue(s.events.contains(.closed))
        XCTAssertNil(s.connection.failure)
        XCTAssertNil(s.connection.nextDeadline)
    }

    func testPassiveCloseThroughLastAck() {
        var s = Socket.established()
        let a = s.receive(s.peer(peerISS + 1, flags: [.fin, .ack]), after: 10 * ms)
        XCTAssertEqual(a.events, [.readable, .peerFinished])
        XCTAssertEqual(s.state, .closeWait)
        XCTAssertTrue(s.connection.peerFinished)
        XCTAssertSegments(s.transmit(), [segment(ourISS + 1, ack: peerISS + 2, window: 65_534)], "the FIN acknowledged at once")
        s.shutdown()
        XCTAssertSegments(s.transmit(after: 5 * ms), [segment(ourISS + 1, ack: peerISS + 2, [.ack, .fin], window: 65_534)])
        XCTAssertEqual(s.state, .lastAck)
        let b = s.receive(s.peer(peerISS + 2, ack: ourISS + 2), after: 10 * ms)
        XCTAssertEqual(b.events, [.writable, .closed])
        XCTAssertEqual(s.state, .closed)
        XCTAssertNil(s.connection.failure)
        XCTAssertSegments(s.transmit(), [])
    }

    func testSimultaneousCloseThroughClosing() {
        var s = Socket.finWait1()
        // The peer's FIN crosses ours: it does not acknowledge it.
        s.receive(s.peer(peerISS + 1, ack: ourISS + 1, flags: [.fin, .ack]), after: 5 * ms)
        XCTAssertEqual(s.state, .closing)
        XCTAssertSegments(s.transmit(), [segment(ourISS + 2, ack: peerISS + 2, window: 65_534)])
        s.receive(s.peer(peerISS + 2, ack: ourISS + 2), after: 5 * ms)
        XCTAssertEqual(s.state, .timeWait)
        XCTAssertEqual(s.connection.nextDeadline, s.now + 2 * seconds)
        XCTAssertSegments(s.transmit(), [])
    }

    func testFinAcknowledgingOurFinGoesStraightToTimeWait() {
        var s = Socket.finWait1()
        s.receive(s.peer(peerISS + 1, ack: ourISS + 2, flags: [.fin, .ack]), after: 10 * ms)
        XCTAssertEqual(s.state, .timeWait)
        XCTAssertSegments(s.transmit(), [segment(ourISS + 2, ack: peerISS + 2, window: 65_534)])
        XCTAssertEqual(s.connection.nextDeadline, s.now + 2 * seconds)
    }

    func testRetransmittedFinInTimeWaitIsAcknowledgedAndRestartsTheTimer() {
        var s = Socket.timeWait()
        let entered = s.now
        s.receive(s.peer(peerISS + 1, ack: ourISS + 2, flags: [.fin, .ack]), after: 1 * seconds)
        XCTAssertEqual(s.state, .timeWait)
        XCTAssertSegments(s.transmit(), [segment(ourISS + 2, ack: peerISS + 2, window: 65_534)], "our last ACK was lost: again")
        XCTAssertEqual(s.connection.nextDeadline, s.now + 2 * seconds, "2 MSL from the retransmitted FIN")
        XCTAssertSegments(s.transmit(at: entered + 2 * seconds), [])
        XCTAssertEqual(s.state, .timeWait, "not the first deadline")
    }

    func testOurFinIsRetransmittedInFinWait1AndLastAck() {
        var s = Socket.finWait1()
        let sent = s.now
        XCTAssertSegments(s.transmit(at: sent + 200 * ms), [segment(ourISS + 1, ack: peerISS + 1, [.ack, .fin], window: 65_535,
                                                                    retransmission: true)])
        XCTAssertEqual(s.state, .finWait1)
        var l = Socket.lastAck()
        XCTAssertSegments(l.transmit(at: l.now + 200 * ms), [segment(ourISS + 1, ack: peerISS + 2, [.ack, .fin], window: 65_534,
                                                                     retransmission: true)])
        XCTAssertEqual(l.state, .lastAck)
    }

    func testDataThenFinInOneSegment() {
        var s = Socket.established()
        s.write(100)
        s.shutdown()
        XCTAssertSegments(s.transmit(after: 1 * ms), [segment(ourISS + 1, ack: peerISS + 1, [.ack, .psh, .fin], window: 65_535, length: 100)],
                          "the last data carries the FIN")
        XCTAssertEqual(s.state, .finWait1)
        let a = s.receive(s.peer(peerISS + 1, ack: ourISS + 101), after: 10 * ms)
        XCTAssertEqual(a.acknowledgedUpTo, 100)
        XCTAssertEqual(s.state, .finWait1, "the data, not the FIN")
        s.receive(s.peer(peerISS + 1, ack: ourISS + 102), after: 1 * ms)
        XCTAssertEqual(s.state, .finWait2)
        XCTAssertEqual(s.connection.acknowledgedOffset, 100, "the FIN is no byte of the stream")
    }

    func testFinWait1StillReceivesData() {
        var s = Socket.finWait1()
        let a = s.receive(s.peer(peerISS + 1, ack: ourISS + 1, payload: 100), after: 5 * ms)
        XCTAssertPlacement(a, 0, 100, 0)
        XCTAssertEqual(s.state, .finWait1)
        XCTAssertSegments(s.transmit(), [segment(ourISS + 2, ack: peerISS + 101, window: 65_435)])
    }

    func testFinWait2StillReceivesData() {
        var s = Socket.finWait2()
        let a = s.receive(s.peer(peerISS + 1, ack: ourISS + 2, payload: 100), after: 5 * ms)
        XCTAssertPlacement(a, 0, 100, 0)
        XCTAssertEqual(a.receivedUpTo, 100)
        XCTAssertEqual(a.events, [.readable])
        XCTAssertSegments(s.transmit(), [segment(ourISS + 2, ack: peerISS + 101, window: 65_435)])
        XCTAssertEqual(s.state, .finWait2)
    }

    func testCloseWaitStillSendsData() {
        var s = Socket.closeWait()
        s.write(100)
        XCTAssertSegments(s.transmit(after: 5 * ms), [segment(ourISS + 1, ack: peerISS + 2, [.ack, .psh], window: 65_534, length: 100)])
        let a = s.receive(s.peer(peerISS + 2, ack: ourISS + 101), after: 10 * ms)
        XCTAssertEqual(a.acknowledgedUpTo, 100)
        XCTAssertEqual(a.events, [.writable])
        XCTAssertEqual(s.state, .closeWait)
        XCTAssertSegments(s.transmit(), [], "nothing to acknowledge")
    }

    func testTimeWaitAcceptsOnlyANewerSyn() {
        let s = Socket.timeWait()
        XCTAssertTrue(s.connection.timeWaitAccepts(TCPSegment(sequence: peerISS + 100_000, flags: .syn)), "beyond RCV.NXT")
        XCTAssertFalse(s.connection.timeWaitAccepts(TCPSegment(sequence: peerISS + 1, flags: .syn)), "an old SYN")
        XCTAssertFalse(s.connection.timeWaitAccepts(TCPSegment(sequence: peerISS + 100_000, acknowledgment: ourISS, flags: [.syn, .ack])))
        XCTAssertFalse(Socket.established().connection.timeWaitAccepts(TCPSegment(sequence: peerISS + 100_000, flags: .syn)))
    }

    func testTimeWaitAcceptsSynByTimestamp() {
        let s = Socket.timeWait(.withTimestamps)
        let recent = s.connection.timestamps!.recent
        // RFC 6191: with timestamps, the TSval decides, not the sequence number.
        XCTAssertTrue(s.connection.timeWaitAccepts(TCPSegment(sequence: peerISS - 100, flags: .syn, options: .timestamp(recent + 1, 0))))
        XCTAssertFalse(s.connection.timeWaitAccepts(TCPSegment(sequence: peerISS + 100_000, flags: .syn, options: .timestamp(recent - 1, 0))))
    }

    func testFinWait2AndTimeWaitKeepShowingTheSendersFigures() {
        // ss shows rtt, rto, cwnd and the peer's window after our FIN was acknowledged, as
        // Linux's does; FIN-WAIT-2 has no sender any more, so they are what it last had.
        var s = Socket.established()
        s.write(1000)
        XCTAssertEqual(s.transmit(after: 1 * ms).count, 1)
        s.receive(s.peer(peerISS + 1, ack: ourISS + 1001, window: 40_000), after: 7 * ms)
        let sending = s.connection.info
        XCTAssertNotNil(sending.smoothedRoundTrip, "an RTT sample from the acknowledged data")
        s.shutdown()
        XCTAssertEqual(s.transmit(after: 1 * ms).map(\.flags), [[.ack, .fin]])
        s.receive(s.peer(peerISS + 1, ack: ourISS + 1002, window: 40_000), after: 7 * ms)
        XCTAssertEqual(s.state, .finWait2)
        func check(_ what: String) {
            let info = s.connection.info, block = s.connection.controlBlock
            XCTAssertNotNil(info.smoothedRoundTrip, what)
            XCTAssertEqual(info.smoothedRoundTrip, block.smoothedRoundTrip, what)
            XCTAssertGreaterThan(info.roundTripVariation, 0, what)
            XCTAssertLessThan(info.retransmissionTimeout, s.connection.configuration.retransmission.initialTimeout, "\(what): a measured RTO")
            XCTAssertGreaterThanOrEqual(info.congestionWindow, sending.congestionWindow, what)
            XCTAssertEqual(info.slowStartThreshold, sending.slowStartThreshold, what)
            XCTAssertEqual(info.sendWindow, 40_000, what)
            XCTAssertEqual(block.sendWindow, 40_000, what)
            XCTAssertEqual(info.unacknowledged, 0, what)
        }
        check("FIN-WAIT-2")
        s.receive(s.peer(peerISS + 1, ack: ourISS + 1002, flags: [.fin, .ack], window: 40_000), after: 1 * ms)
        XCTAssertEqual(s.state, .timeWait)
        check("TIME-WAIT")
    }

    func testOrphanedFinWait2EndsAfterTheTimeout() {
        var s = Socket.finWait2()
        s.connection.applicationClosed(at: s.now)
        let end = s.now + 2 * seconds
        XCTAssertEqual(s.connection.nextDeadline, end)
        XCTAssertSegments(s.transmit(at: end - 1), [])
        XCTAssertEqual(s.state, .finWait2)
        XCTAssertSegments(s.transmit(at: end), [])
        XCTAssertEqual(s.state, .closed)
        XCTAssertTrue(s.events.contains(.closed))
        XCTAssertNil(s.connection.failure)
    }

    func testOrphanedFinWait2TimeoutRunsFromFinWait2() {
        // Closed by the application in ESTABLISHED; our FIN takes long to be acknowledged.
        var s = Socket.established()
        s.shutdown()
        s.connection.applicationClosed(at: s.now)
        let closedAt = s.now
        XCTAssertEqual(s.transmit().map(\.flags), [[.ack, .fin]])
        s.receive(s.peer(peerISS + 1, ack: ourISS + 2), after: 5 * seconds)
        XCTAssertEqual(s.state, .finWait2)
        XCTAssertEqual(s.connection.nextDeadline, s.now + 2 * seconds,
                       "the peer gets the whole FIN-WAIT-2 timeout to send its FIN, not what is left since close (\(closedAt))")
        XCTAssertSegments(s.transmit(), [])
        XCTAssertEqual(s.state, .finWait2)
        s.receive(s.peer(peerISS + 1, ack: ourISS + 2, flags: [.fin, .ack]), after: 1 * seconds)
        XCTAssertEqual(s.state, .timeWait)
    }
}
