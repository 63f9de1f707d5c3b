@testable import NewsTCP
import NewsWire
import XCTest

/// Loss recovery and the timers of a synchronized connection: fast retransmit (RFC 5681,
/// 6582), SACK recovery (RFC 6675), the RTO (RFC 6298), tail loss probes (RFC 8985 7),
/// keep-alive (RFC 9293 3.8.4).
final class ConnectionRecoveryTests: XCTestCase {
    /// ESTABLISHED (SRTT 10 ms, RTO 200 ms) with `count` full segments of 1460 sent at once.
    func sending(_ count: Int, _ c: TCPConfiguration = .plain) -> Socket {
        var s = Socket.established(c)
        s.write(count * 1460)
        let out = s.transmit(after: 1 * ms)
        precondition(out.count == count, "all \(count) in the initial window")
        return s
    }

    /// Full segment `index` of the data written; `last` carries PSH (the end of what was written).
    func data(_ index: Int, last: Bool = false, retransmission: Bool = true, window: UInt16 = 65_535,
              options: TCPOptions = TCPOptions()) -> OutgoingSegment {
        segment(ourISS + 1 + index * 1460, ack: peerISS + 1, last ? [.ack, .psh] : .ack, window: window, options: options,
                offset: UInt64(index * 1460),
                length: 1460, retransmission: retransmission)
    }

    func testThreeDuplicateAcksWithoutSACKFastRetransmitThenPartialAck() {
        var s = sending(5)
        XCTAssertEqual(s.connection.options?.selectiveAcknowledgments, false)
        // Segments 0 and 2 are lost: 1, 3 and 4 each bring a duplicate ACK.
        for i in 1...3 {
            s.receive(s.peer(peerISS + 1, ack: ourISS + 1), after: i == 1 ? 10 * ms : 100_000)
            XCTAssertSegments(s.transmit(), i < 3 ? [] : [data(0)], "duplicate ACK \(i)")
        }
        XCTAssertEqual(s.connection.counters.fastRecoveries, 1)
        XCTAssertEqual(s.connection.counters.duplicateAcksReceived, 3)
        // The retransmission fills the first hole; the ACK stops at the second.
        s.receive(s.peer(peerISS + 1, ack: ourISS + 1 + 2 * 1460), after: 10 * ms)
        XCTAssertSegments(s.transmit(), [data(2)], "RFC 6582: a partial ACK retransmits the next unacknowledged segment")
        XCTAssertEqual(s.connection.counters.retransmissionTimeouts, 0)
    }

    func testSACKRetransmitsOnlyTheHole() {
        var s = sending(5, .withSACK)
        var out: [OutgoingSegment] = []
        // Segment 0 is lost; 1, 2 and 3 are SACKed one after the other.
        for i in 1...3 {
            let block = ((ourISS + 1 + 1460).rawValue, (ourISS + 1 + (i + 1) * 1460).rawValue)
            s.receive(s.peer(peerISS + 1, ack: ourISS + 1, options: .sack([block])), after: i == 1 ? 10 * ms : 100_000)
            out += s.transmit()
        }
        XCTAssertSegments(out, [data(0)], "RFC 6675: the hole, and nothing SACKed")
        XCTAssertEqual(s.connection.counters.retransmissionTimeouts, 0, "not RTO-driven")
        XCTAssertEqual(s.connection.counters.fastRecoveries, 1)
        s.receive(s.peer(peerISS + 1, ack: ourISS + 1 + 5 * 1460), after: 10 * ms)
        XCTAssertEqual(s.connection.info.unacknowledged, 0)
        XCTAssertSegments(s.transmit(), [])
    }

    func testRACKReorderingTimerRetransmitsAfterOneSACK() {
        var s = sending(5, .withSACK)
        let sent = s.now
        // Only segment 1 is SACKed: too few for DupThresh, but RACK (RFC 8985 6.2) marks
        // segment 0 lost once it is older than the RTT plus the reordering window.
        let block = ((ourISS + 1 + 1460).rawValue, (ourISS + 1 + 2 * 1460).rawValue)
        s.receive(s.peer(peerISS + 1, ack: ourISS + 1, options: .sack([block])), after: 10 * ms)
        XCTAssertSegments(s.transmit(), [], "not lost yet: it may be reordered")
        guard let timer = s.connection.nextDeadline else { return XCTFail("the RACK timer") }
        XCTAssertGreaterThan(timer, s.now)
        XCTAssertLessThan(timer, sent + 200 * ms, "before the RTO")
        XCTAssertSegments(s.transmit(at: timer), [data(0)])
        XCTAssertEqual(s.connection.counters.retransmissionTimeouts, 0)
    }

    func testRetransmissionTimeoutGoesBackToSndUna() {
        var s = sending(3)
        let sent = s.now
        XCTAssertEqual(s.connection.info.retransmissionTimeout, 200 * ms)
        // Straight to the RTO (a tail loss probe would have gone at 20 ms).
        XCTAssertSegments(s.transmit(at: sent + 200 * ms), [data(0)], "go-back-N from SND.UNA, one segment: cwnd is 1 MSS")
        XCTAssertEqual(s.connection.counters.retransmissionTimeouts, 1)
        XCTAssertEqual(s.connection.info.congestionWindow, 1460, "RFC 5681 3.1: LW = 1 SMSS")
        XCTAssertEqual(s.connection.info.retransmissionTimeout, 400 * ms, "RFC 6298 5.5: doubled")
        XCTAssertEqual(s.connection.nextDeadline, sent + 600 * ms)
        s.receive(s.peer(peerISS + 1, ack: ourISS + 1 + 1460), after: 10 * ms)
        XCTAssertEqual(s.connection.info.retransmissionTimeout, 400 * ms, "Karn: no sample from a retransmission")
        XCTAssertSegments(s.transmit(), [data(1), data(2, last: true)], "slow start resumes the go-back-N")
        s.receive(s.peer(peerISS + 1, ack: ourISS + 1 + 3 * 1460), after: 10 * ms)
        XCTAssertEqual(s.connection.info.retransmissionTimeout, 400 * ms, "still none")
        XCTAssertNil(s.connection.nextDeadline, "everything acknowledged")
    }

    func testNoTailLossProbeWithoutSACK() {
        var s = sending(3)
        let sent = s.now
        XCTAssertEqual(s.connection.nextDeadline, sent + 200 * ms, "RFC 8985 7.2: a PTO only if the connection supports SACK")
        XCTAssertSegments(s.transmit(at: sent + 20 * ms), [])
        XCTAssertEqual(s.connection.counters.tailLossProbes, 0)
    }

    func testNoTailLossProbeAfterRetransmissionTimeout() {
        var s = sending(1, .withSACK)
        let sent = s.now
        XCTAssertEqual(s.connection.nextDeadline, sent + 200 * ms, "one segment: PTO = 2 SRTT + 200 ms, capped by the RTO")
        XCTAssertSegments(s.transmit(at: sent + 200 * ms), [data(0, last: true)], "the RTO")
        XCTAssertEqual(s.connection.counters.retransmissionTimeouts, 1)
        XCTAssertEqual(s.connection.nextDeadline, sent + 600 * ms, "only the backed-off RTO: no probe in loss recovery")
        XCTAssertSegments(s.transmit(at: sent + 420 * ms), [])
        XCTAssertEqual(s.connection.counters.tailLossProbes, 0)
        // The retransmission acknowledged: recovery is over, probes are allowed again.
        s.receive(s.peer(peerISS + 1, ack: ourISS + 1461), at: sent + 610 * ms)
        s.write(2 * 1460)
        XCTAssertEqual(s.transmit().count, 2)
        XCTAssertEqual(s.connection.nextDeadline, s.now + 20 * ms, "a PTO again (2 SRTT)")
    }

    func testRetransmissionLimitTimesOut() {
        var c = TCPConfiguration.plain
        c.limits.abortDataAfter = 2
        var s = sending(1, c)
        let sent = s.now
        XCTAssertSegments(s.transmit(at: sent + 200 * ms), [data(0, last: true)])
        XCTAssertSegments(s.transmit(at: sent + 600 * ms), [data(0, last: true)])
        XCTAssertEqual(s.connection.nextDeadline, sent + 1_400 * ms)
        XCTAssertSegments(s.transmit(at: sent + 1_400 * ms), [], "R2: give up")
        XCTAssertEqual(s.state, .closed)
        XCTAssertEqual(s.connection.failure, .timedOut)
        XCTAssertTrue(s.events.contains(.failed))
    }

    func testTailLossProbeResendsTheLastSegment() {
        var s = sending(3, .withSACK)
        let sent = s.now
        XCTAssertEqual(s.connection.nextDeadline, sent + 20 * ms, "RFC 8985 7.2: PTO = 2 SRTT")
        XCTAssertSegments(s.transmit(at: sent + 20 * ms), [data(2, last: true)], "the highest segment sent")
        XCTAssertEqual(s.connection.counters.tailLossProbes, 1)
        XCTAssertEqual(s.connection.counters.retransmissionTimeouts, 0)
        XCTAssertEqual(s.connection.nextDeadline, sent + 220 * ms, "the RTO, restarted by the probe")
    }

    func testKeepAliveProbesThenTimesOut() {
        var c = TCPConfiguration.plain
        c.keepAlive = true
        c.keepAliveIdle = 10 * seconds
        c.keepAliveInterval = 1 * seconds
        c.keepAliveProbes = 3
        var s = Socket.established(c)
        let heard = s.now
        XCTAssertEqual(s.connection.nextDeadline, heard + 10 * seconds)
        let probe = segment(ourISS, ack: peerISS + 1, window: 65_535)
        XCTAssertSegments(s.transmit(at: heard + 10 * seconds - 1), [])
        XCTAssertSegments(s.transmit(at: heard + 10 * seconds), [probe], "SEQ=SND.NXT-1, no data")
        XCTAssertEqual(s.connection.nextDeadline, heard + 11 * seconds)
        XCTAssertSegments(s.transmit(at: heard + 11 * seconds), [probe])
        XCTAssertSegments(s.transmit(at: heard + 12 * seconds), [probe])
        XCTAssertEqual(s.connection.counters.keepAlivesSent, 3)
        XCTAssertEqual(s.state, .established)
        XCTAssertSegments(s.transmit(at: heard + 13 * seconds), [], "three unanswered")
        XCTAssertEqual(s.state, .closed)
        XCTAssertEqual(s.connection.failure, .timedOut)
    }

    func testKeepAliveIsResetByAnyArrival() {
        var c = TCPConfiguration.plain
        c.keepAlive = true
        c.keepAliveIdle = 10 * seconds
        c.keepAliveInterval = 1 * seconds
        c.keepAliveProbes = 3
        var s = Socket.established(c)
        let heard = s.now
        _ = s.transmit(at: heard + 10 * seconds)
        _ = s.transmit(at: heard + 11 * seconds)
        s.receive(s.peer(peerISS + 1, ack: ourISS + 1), after: 10 * ms)
        XCTAssertEqual(s.connection.nextDeadline, s.now + 10 * seconds, "the probe was answered: idle again")
        XCTAssertSegments(s.transmit(), [])
        XCTAssertSegments(s.transmit(at: s.now + 10 * seconds), [segment(ourISS, ack: peerISS + 1, window: 65_535)])
        XCTAssertEqual(s.state, .established)
    }
}
