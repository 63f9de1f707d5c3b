@testable import NewsTCP
import NewsWire
import XCTest

/// RST, SYN and bad ACKs in the synchronized states (RFC 9293 3.10.7.4 with RFC 5961),
/// segments outside the window, PAWS (RFC 7323 5), and CLOSED (RFC 9293 3.10.7.1).
final class ConnectionStateTests: XCTestCase {
    /// Each synchronized state, with RCV.NXT, SND.NXT and the window its ACKs carry.
    var synchronizedStates: [(name: TCPState, make: () -> Socket, rcvNxt: SequenceNumber, sndNxt: SequenceNumber, window: UInt16)] {
        [
            (.established, { Socket.established() }, peerISS + 1, ourISS + 1, 65_535),
            (.finWait1, { Socket.finWait1() }, peerISS + 1, ourISS + 2, 65_535),
            (.finWait2, { Socket.finWait2() }, peerISS + 1, ourISS + 2, 65_535),
            // Past the peer's FIN the right edge stays where it was: one less for the FIN.
            (.closeWait, { Socket.closeWait() }, peerISS + 2, ourISS + 1, 65_534),
            (.closing, { Socket.closing() }, peerISS + 2, ourISS + 2, 65_534),
            (.lastAck, { Socket.lastAck() }, peerISS + 2, ourISS + 2, 65_534),
            (.timeWait, { Socket.timeWait() }, peerISS + 2, ourISS + 2, 65_534),
        ]
    }

    func testExactResetInEverySynchronizedState() {
        for st in synchronizedStates {
            var s = st.make()
            XCTAssertEqual(s.state, st.name)
            let a = s.receive(TCPSegment(sequence: st.rcvNxt, flags: .rst, window: 0), after: 1 * ms)
            XCTAssertEqual(s.state, .closed, "\(st.name)")
            switch st.name {
            case .established, .finWait1, .finWait2, .closeWait:
                XCTAssertEqual(s.connection.failure, .reset, "\(st.name): ECONNRESET")
                XCTAssertEqual(a.events, [.failed, .closed], "\(st.name)")
            default:
                XCTAssertNil(s.connection.failure, "\(st.name): the application already closed; nothing to report")
                XCTAssertEqual(a.events, [.closed], "\(st.name)")
            }
            XCTAssertEqual(s.connection.counters.resetsReceived, 1)
            XCTAssertSegments(s.transmit(), [], "\(st.name): never a RST for a RST")
            XCTAssertNil(s.connection.nextDeadline, "\(st.name)")
        }
    }

    func testInWindowResetGetsOneChallengeAck() {
        for st in synchronizedStates {
            var s = st.make()
            s.receive(TCPSegment(sequence: st.rcvNxt + 100, flags: .rst, window: 0), after: 1 * ms)
            XCTAssertEqual(s.state, st.name, "RFC 5961 3.2: the connection lives")
            XCTAssertSegments(s.transmit(), [segment(st.sndNxt, ack: st.rcvNxt, window: st.window)], "\(st.name): a challenge ACK")
            XCTAssertEqual(s.connection.counters.challengeAcksSent, 1, "\(st.name)")
            XCTAssertNil(s.connection.failure)
        }
    }

    func testOutOfWindowResetIsDroppedSilently() {
        for st in synchronizedStates {
            var s = st.make()
            s.receive(TCPSegment(sequence: st.rcvNxt + 70_000, flags: .rst, window: 0), after: 1 * ms)
            s.receive(TCPSegment(sequence: st.rcvNxt - 1, flags: [.rst, .ack], window: 0), after: 1 * ms)
            XCTAssertEqual(s.state, st.name)
            XCTAssertSegments(s.transmit(), [], "\(st.name)")
            XCTAssertEqual(s.connection.counters.challengeAcksSent, 0)
        }
    }

    func testSynInSynchronizedStateGetsChallengeAck() {
        for st in synchronizedStates {
            var s = st.make()
            // In the window or not: RFC 5961 4.2 answers every SYN the same way.
            for seq in [st.rcvNxt, st.rcvNxt + 1_000, st.rcvNxt - 10_000] {
                s.receive(TCPSegment(sequence: seq, flags: .syn, options: .peerSYN()), after: 1 * ms)
                XCTAssertSegments(s.transmit(), [segment(st.sndNxt, ack: st.rcvNxt, window: st.window)], "\(st.name) SYN at \(seq)")
            }
            XCTAssertEqual(s.state, st.name)
            XCTAssertEqual(s.connection.counters.challengeAcksSent, 3)
        }
    }

    func testChallengeAcksAreRateLimited() {
        var c = TCPConfiguration.plain
        c.challengeAcksPerSecond = 2
        var s = Socket.established(c)
        let challenge = segment(ourISS + 1, ack: peerISS + 1, window: 65_535)
        let second = (s.now / seconds + 1) * seconds
        s.now = second
        s.receive(TCPSegment(sequence: peerISS + 5, flags: .rst, window: 0))
        XCTAssertSegments(s.transmit(), [challenge])
        s.receive(TCPSegment(sequence: peerISS + 6, flags: .rst, window: 0), after: 100 * ms)
        XCTAssertSegments(s.transmit(), [challenge])
        s.receive(TCPSegment(sequence: peerISS + 7, flags: .rst, window: 0), after: 100 * ms)
        XCTAssertSegments(s.transmit(), [], "the third in this second is suppressed")
        XCTAssertEqual(s.connection.counters.challengeAcksSent, 2)
        XCTAssertEqual(s.connection.counters.challengeAcksSuppressed, 1)
        s.now = second + 1 * seconds
        s.receive(TCPSegment(sequence: peerISS + 8, flags: .syn))
        XCTAssertSegments(s.transmit(), [challenge], "a new second, a new budget")
        XCTAssertEqual(s.state, .established)
    }

    func testAckOlderThanMaxWindowGetsChallengeAck() {
        var s = Socket.established()
        // SND.UNA = ISS+1, MAX.SND.WND = 65535: anything below ISS+1-65535 is a blind guess.
        let a = s.receive(s.peer(peerISS + 1, ack: ourISS + 1 - 70_000, payload: 100), after: 1 * ms)
        XCTAssertNil(a.placement, "RFC 5961 5.2: the segment is dropped")
        XCTAssertSegments(s.transmit(), [segment(ourISS + 1, ack: peerISS + 1, window: 65_535)])
        XCTAssertEqual(s.connection.counters.challengeAcksSent, 1)
        // Old but within MAX.SND.WND: the ACK is ignored, the data is taken.
        let b = s.receive(s.peer(peerISS + 1, ack: ourISS + 1 - 1_000, payload: 100), after: 1 * ms)
        XCTAssertEqual(b.placement?.length, 100)
        XCTAssertEqual(s.connection.counters.challengeAcksSent, 1)
    }

    func testAckOfUnsentDataIsAnsweredAndDropped() {
        var s = Socket.established()
        let a = s.receive(s.peer(peerISS + 1, ack: ourISS + 100, payload: 10), after: 1 * ms)
        XCTAssertNil(a.placement)
        XCTAssertEqual(a.receivedUpTo, 0)
        XCTAssertSegments(s.transmit(), [segment(ourISS + 1, ack: peerISS + 1, window: 65_535)])
        XCTAssertEqual(s.connection.counters.acksOfUnsentData, 1)
        XCTAssertEqual(s.state, .established)
    }

    func testOutOfWindowSegmentGetsDuplicateAck() {
        var s = Socket.established()
        s.receive(s.peer(peerISS + 1, payload: 500), after: 1 * ms)
        XCTAssertSegments(s.transmit(), [segment(ourISS + 1, ack: peerISS + 501, window: 65_035)], "a quick ACK")
        // Beyond the right edge, and wholly before RCV.NXT (a retransmission).
        for seq in [peerISS + 501 + 65_035, peerISS + 1] {
            let a = s.receive(s.peer(seq, payload: 100), after: 1 * ms)
            XCTAssertNil(a.placement)
            XCTAssertSegments(s.transmit(), [segment(ourISS + 1, ack: peerISS + 501, window: 65_035)], "the current ACK and window")
        }
        XCTAssertEqual(s.connection.counters.outOfWindow, 2)
    }

    func testPAWSRejectsOlderTimestamp() {
        var s = Socket.established(.withTimestamps, peer: .peerSYN(timestamp: (0, 0)))
        s.now += 5 * ms
        let recent = s.peerTSval()
        s.receive(s.peer(peerISS + 1, payload: 100, options: .timestamp(recent, s.ourTS())))
        XCTAssertSegments(s.transmit(), [segment(ourISS + 1, ack: peerISS + 101, window: 65_435, options: .timestamp(s.ourTS(), recent))])
        // The next segment in sequence but with an older TSval: a wrapped old duplicate.
        let a = s.receive(s.peer(peerISS + 101, payload: 100, options: .timestamp(recent - 1, s.ourTS())), after: 1 * ms)
        XCTAssertNil(a.placement, "RFC 7323 5.3 R1: not acceptable")
        XCTAssertEqual(s.connection.counters.pawsRejected, 1)
        XCTAssertSegments(s.transmit(), [segment(ourISS + 1, ack: peerISS + 101, window: 65_435, options: .timestamp(s.ourTS(), recent))],
                          "answered with an ACK; TS.Recent unchanged")
        // A RST is exempt from PAWS.
        s.receive(TCPSegment(sequence: peerISS + 101, flags: .rst, window: 0, options: .timestamp(recent - 5, 0)), after: 1 * ms)
        XCTAssertEqual(s.connection.failure, .reset)
    }

    func testTimestampRecentUpdatesOnlyForSegmentsAtTheLeftEdge() {
        var c = TCPConfiguration.withTimestamps
        c.selectiveAcknowledgments = false
        var s = Socket.established(c, peer: .peerSYN(timestamp: (0, 0)))
        s.now += 5 * ms
        let first = s.peerTSval()
        // Out of order (SEG.SEQ > Last.ACK.sent): a newer TSval is not taken.
        s.receive(s.peer(peerISS + 101, payload: 100, options: .timestamp(first + 10, s.ourTS())))
        XCTAssertSegments(s.transmit(), [segment(ourISS + 1, ack: peerISS + 1, window: 65_535, options: .timestamp(s.ourTS(), peerTS0))],
                          "RFC 7323 4.3 (2): SEG.SEQ > Last.ACK.sent, TS.Recent stays")
        // The hole filled (SEG.SEQ = Last.ACK.sent): its TSval becomes TS.Recent.
        s.receive(s.peer(peerISS + 1, payload: 100, options: .timestamp(first, s.ourTS())), after: 1 * ms)
        XCTAssertSegments(s.transmit(), [segment(ourISS + 1, ack: peerISS + 201, window: 65_335, options: .timestamp(s.ourTS(), first))])
        // An older TSval than TS.Recent but not older than... is PAWS-rejected, covered
        // above; an equal one is accepted and keeps TS.Recent.
        s.receive(s.peer(peerISS + 201, payload: 100, options: .timestamp(first, s.ourTS())), after: 1 * ms)
        XCTAssertSegments(s.transmit(), [segment(ourISS + 1, ack: peerISS + 301, window: 65_235, options: .timestamp(s.ourTS(), first))])
    }

    func testAbortResetsFromSndNxtInSynchronizedStatesOnly() {
        var s = Socket.established()
        s.write(100)
        _ = s.transmit(after: 1 * ms)
        s.connection.abort()
        XCTAssertSegments(s.transmit(), [reset(ourISS + 101)], "RFC 9293 3.10.5: <SEQ=SND.NXT><CTL=RST>")
        XCTAssertEqual(s.state, .closed)
        XCTAssertNil(s.connection.failure, "the application asked for it")
        var (r, _) = Socket.synReceived()
        r.connection.abort()
        XCTAssertSegments(r.transmit(), [reset(ourISS + 1)])
        var (o, _) = Socket.synSent()
        o.connection.abort()
        XCTAssertSegments(o.transmit(), [], "SYN-SENT: nothing synchronized to reset")
        var t = Socket.timeWait()
        t.connection.abort()
        XCTAssertSegments(t.transmit(), [], "TIME-WAIT: the TCB is just deleted")
        XCTAssertEqual(t.state, .closed)
    }

    // MARK: - CLOSED

    func testResetReplyForSegmentsToNoConnection() {
        XCTAssertEqual(ResetReply.to(TCPSegment(sequence: SequenceNumber(5), acknowledgment: SequenceNumber(77), flags: .ack, payloadLength: 10)),
                       reset(SequenceNumber(77)), "with ACK: <SEQ=SEG.ACK><CTL=RST>")
        XCTAssertEqual(ResetReply.to(TCPSegment(sequence: SequenceNumber(5), flags: .syn)),
                       segment(SequenceNumber(0), ack: SequenceNumber(6), [.rst, .ack], window: 0),
                       "without: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>")
        XCTAssertEqual(ResetReply.to(TCPSegment(sequence: SequenceNumber(5), flags: [.fin, .psh], payloadLength: 10)),
                       segment(SequenceNumber(0), ack: SequenceNumber(16), [.rst, .ack], window: 0))
        XCTAssertNil(ResetReply.to(TCPSegment(sequence: SequenceNumber(5), flags: .rst)))
        XCTAssertNil(ResetReply.to(TCPSegment(sequence: SequenceNumber(5), acknowledgment: SequenceNumber(9), flags: [.rst, .ack])))
    }

    func testClosedConnectionAnswersWithReset() {
        var s = Socket.established()
        s.connection.abort()
        XCTAssertSegments(s.transmit(), [reset(ourISS + 1)], "ABORT: <SEQ=SND.NXT><CTL=RST>")
        XCTAssertEqual(s.state, .closed)
        s.receive(s.peer(peerISS + 1, ack: ourISS + 1, payload: 10), after: 1 * ms)
        XCTAssertSegments(s.transmit(), [reset(ourISS + 1)])
        s.receive(TCPSegment(sequence: peerISS + 1, flags: .rst, window: 0))
        XCTAssertSegments(s.transmit(), [])
        XCTAssertNil(s.connection.nextDeadline)
    }
}
