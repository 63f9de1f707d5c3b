@testable import NewsTCP
import NewsWire
import XCTest

/// The three-way handshake, one segment at a time (RFC 9293 3.5, 3.10.7.3; RFC 7323 2-3).
final class ConnectionHandshakeTests: XCTestCase {
    func testActiveOpenOffersEveryOption() {
        let (s, syn) = Socket.synSent(TCPConfiguration(), receiveCapacity: 262_144)
        XCTAssertEqual(s.state, .synSent)
        XCTAssertSegments([syn], [segment(ourISS, ack: SequenceNumber(0), .syn, window: 65_535,
                                          options: .peerSYN(mss: 1460, shift: 3, sack: true, timestamp: (s.ourTS(at: t0), 0)))],
                          "a SYN's window is never scaled; 256 KiB needs shift 3")
        XCTAssertEqual(s.connection.nextDeadline, t0 + 1 * seconds, "RFC 6298 2.1: the initial RTO is 1 s")
    }

    func testSynAckAnswersOnlyTheOptionsTheSynOffered() {
        // A SYN with MSS and nothing else: no WS, no SACK-permitted, no timestamps back.
        var (s, synAck) = Socket.synReceived(TCPConfiguration(), peer: .peerSYN(mss: 1400), receiveCapacity: 262_144)
        XCTAssertSegments([synAck], [segment(ourISS, ack: peerISS + 1, [.syn, .ack], window: 65_535, options: .peerSYN(mss: 1460))])
        s.receive(TCPSegment(sequence: peerISS + 1, acknowledgment: ourISS + 1, flags: .ack, window: 1_000), after: 10 * ms)
        XCTAssertEqual(s.state, .established)
        XCTAssertEqual(s.connection.options, NegotiatedOptions(sendMSS: 1400, receiveMSS: 1460, sendShift: 0, receiveShift: 0,
                                                               timestamps: false, selectiveAcknowledgments: false))
        XCTAssertEqual(s.connection.info.sendWindow, 1_000, "no shift: the peer's window is taken as it is")
        s.write(100)
        XCTAssertSegments(s.transmit(), [segment(ourISS + 1, ack: peerISS + 1, [.ack, .psh], window: 65_535, length: 100)],
                          "our window is not scaled either")
    }

    func testSynAckAnswersWindowScaleAndTimestamps() {
        let (s, synAck) = Socket.synReceived(TCPConfiguration(), peer: .peerSYN(mss: 1460, shift: 2, timestamp: (peerTS0, 0)),
                                             receiveCapacity: 262_144)
        XCTAssertSegments([synAck], [segment(ourISS, ack: peerISS + 1, [.syn, .ack], window: 65_535,
                                             options: .peerSYN(mss: 1460, shift: 3, timestamp: (s.ourTS(at: t0), peerTS0)))])
        XCTAssertEqual(s.connection.options?.sendShift, 2)
        XCTAssertEqual(s.connection.options?.receiveShift, 3)
        XCTAssertEqual(s.connection.options?.selectiveAcknowledgments, false)
    }

    func testSynIsRetransmittedWithBackoffThenTimesOut() {
        var c = TCPConfiguration.plain
        c.limits.abortSynAfter = 3
        var (s, syn) = Socket.synSent(c)
        XCTAssertSegments(s.transmit(at: t0 + 1 * seconds - 1), [], "not before the RTO")
        XCTAssertSegments(s.transmit(at: t0 + 1 * seconds), [syn], "the SYN again after 1 s")
        XCTAssertEqual(s.connection.nextDeadline, t0 + 3 * seconds, "then 2 s")
        XCTAssertSegments(s.transmit(at: t0 + 3 * seconds), [syn])
        XCTAssertEqual(s.connection.nextDeadline, t0 + 7 * seconds, "then 4 s")
        XCTAssertSegments(s.transmit(at: t0 + 7 * seconds), [syn])
        XCTAssertEqual(s.connection.nextDeadline, t0 + 15 * seconds)
        XCTAssertEqual(s.connection.counters.synRetransmits, 3)
        XCTAssertSegments(s.transmit(at: t0 + 15 * seconds), [], "the limit reached: give up")
        XCTAssertEqual(s.state, .closed)
        XCTAssertEqual(s.connection.failure, .timedOut)
        XCTAssertTrue(s.events.contains(.failed))
        XCTAssertNil(s.connection.nextDeadline)
    }

    func testSynSentAnswersBadAckWithReset() {
        var (s, _) = Socket.synSent()
        s.receive(TCPSegment(sequence: peerISS, acknowledgment: ourISS + 5, flags: .ack))
        XCTAssertSegments(s.transmit(), [reset(ourISS + 5)], "SEG.ACK > SND.NXT: <SEQ=SEG.ACK><CTL=RST>")
        s.receive(TCPSegment(sequence: peerISS, acknowledgment: ourISS, flags: [.syn, .ack]))
        XCTAssertSegments(s.transmit(), [reset(ourISS)], "SEG.ACK =< ISS")
        s.receive(TCPSegment(sequence: peerISS, acknowledgment: ourISS + 5, flags: [.rst, .ack]))
        XCTAssertSegments(s.transmit(), [], "never a RST for a RST")
        XCTAssertEqual(s.state, .synSent)
        XCTAssertNil(s.connection.failure)
    }

    func testSynSentResetWithAcceptableAckIsRefused() {
        var (s, _) = Socket.synSent()
        let a = s.receive(TCPSegment(sequence: SequenceNumber(0), acknowledgment: ourISS + 1, flags: [.rst, .ack], window: 0))
        XCTAssertEqual(a.events, [.failed, .closed])
        XCTAssertEqual(s.state, .closed)
        XCTAssertEqual(s.connection.failure, .refused)
        XCTAssertSegments(s.transmit(), [])
    }

    func testSynSentIgnoresResetWithoutAck() {
        var (s, _) = Socket.synSent()
        let a = s.receive(TCPSegment(sequence: peerISS, flags: .rst, window: 0))
        XCTAssertEqual(a.events, [])
        XCTAssertEqual(s.state, .synSent)
        XCTAssertNil(s.connection.failure)
        XCTAssertSegments(s.transmit(), [])
    }

    func testSimultaneousOpen() {
        var (s, _) = Socket.synSent()
        s.receive(TCPSegment(sequence: peerISS, flags: .syn, options: .peerSYN(mss: 1460)), after: 5 * ms)
        XCTAssertEqual(s.state, .synReceived)
        XCTAssertSegments(s.transmit(), [segment(ourISS, ack: peerISS + 1, [.syn, .ack], window: 65_535, options: .peerSYN(mss: 1460))],
                          "<SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>: the same ISS")
        let a = s.receive(TCPSegment(sequence: peerISS, acknowledgment: ourISS + 1, flags: [.syn, .ack], options: .peerSYN(mss: 1460)),
                          after: 5 * ms)
        XCTAssertTrue(a.events.contains(.established))
        XCTAssertEqual(s.state, .established)
        XCTAssertSegments(s.transmit(), [segment(ourISS + 1, ack: peerISS + 1, window: 65_535)])
    }

    func testSimultaneousOpenSynAckOffersOnlyWhatThePeersSynOffered() {
        var (s, syn) = Socket.synSent(TCPConfiguration(), receiveCapacity: 262_144)
        XCTAssertEqual(syn.options.windowShift, 3)
        s.receive(TCPSegment(sequence: peerISS, flags: .syn, options: .peerSYN(mss: 1460)), after: 5 * ms)
        XCTAssertSegments(s.transmit(), [segment(ourISS, ack: peerISS + 1, [.syn, .ack], window: 65_535, options: .peerSYN(mss: 1460))],
                          "RFC 7323 2.2, 3.2 and RFC 2018 2: a <SYN,ACK> carries WS, TS and SACK-permitted only if the <SYN> did")
        XCTAssertEqual(s.connection.options?.timestamps, false)
        XCTAssertEqual(s.connection.options?.receiveShift, 0)
    }

    func testSimultaneousOpenResetIsRefused() {
        var (s, _) = Socket.synSent()
        s.receive(TCPSegment(sequence: peerISS, flags: .syn, options: .peerSYN()), after: 5 * ms)
        _ = s.transmit()
        s.receive(TCPSegment(sequence: peerISS + 1, flags: .rst, window: 0), after: 5 * ms)
        XCTAssertEqual(s.state, .closed)
        XCTAssertEqual(s.connection.failure, .refused, "RFC 9293 3.10.7.4: from SYN-SENT, the connection was refused")
    }

    func testSynAckRetransmittedThenPassiveOpenGivesUpQuietly() {
        var c = TCPConfiguration.plain
        c.limits.abortSynAfter = 2
        var (s, synAck) = Socket.synReceived(c)
        XCTAssertSegments(s.transmit(at: t0 + 1 * seconds), [synAck])
        XCTAssertSegments(s.transmit(at: t0 + 3 * seconds), [synAck])
        XCTAssertEqual(s.connection.nextDeadline, t0 + 7 * seconds)
        XCTAssertSegments(s.transmit(at: t0 + 7 * seconds), [])
        XCTAssertEqual(s.state, .closed)
        XCTAssertNil(s.connection.failure, "nobody accepted it: nothing to report")
        XCTAssertTrue(s.events.contains(.closed))
    }

    func testHandshakeAckMayCarryDataAndFin() {
        var (s, _) = Socket.synReceived()
        let a = s.receive(TCPSegment(sequence: peerISS + 1, acknowledgment: ourISS + 1, flags: [.ack, .psh, .fin], payloadLength: 100),
                          after: 10 * ms)
        XCTAssertEqual(a.events, [.established, .writable, .readable, .peerFinished])
        XCTAssertPlacement(a, 0, 100, 0)
        XCTAssertEqual(a.receivedUpTo, 100)
        XCTAssertEqual(s.state, .closeWait)
        XCTAssertSegments(s.transmit(), [segment(ourISS + 1, ack: peerISS + 102, window: 65_434)])
    }

    func testSynAckMayCarryData() {
        var (s, _) = Socket.synSent()
        let a = s.receive(TCPSegment(sequence: peerISS, acknowledgment: ourISS + 1, flags: [.syn, .ack, .psh], options: .peerSYN(),
                                     payloadLength: 100), after: 10 * ms)
        XCTAssertEqual(s.state, .established)
        XCTAssertPlacement(a, 0, 100, 0, "RFC 9293 3.10.7.3: text in the SYN-ACK is processed")
        XCTAssertEqual(a.receivedUpTo, 100)
        XCTAssertTrue(a.events.contains(.readable))
        XCTAssertSegments(s.transmit(), [segment(ourISS + 1, ack: peerISS + 101, window: 65_435)])
    }

    func testSynAckMayCarryFin() {
        var (s, _) = Socket.synSent()
        let a = s.receive(TCPSegment(sequence: peerISS, acknowledgment: ourISS + 1, flags: [.syn, .ack, .fin], options: .peerSYN()),
                          after: 10 * ms)
        XCTAssertEqual(s.state, .closeWait)
        XCTAssertTrue(a.events.contains(.peerFinished))
        XCTAssertSegments(s.transmit(), [segment(ourISS + 1, ack: peerISS + 2, window: 65_534)])
    }

    func testCookieConnectionAcceptsDataInTheSynAckWindow() {
        let c = TCPConfiguration.plain
        // The listener answered the SYN <SEQ=IRS> statelessly with <SEQ=ISS><ACK=IRS+1>,
        // window synAckWindow; the peer's ACK carries data at once.
        XCTAssertEqual(TCPConnection.synAckWindow(configuration: c, receiveCapacity: 65_535), 65_535)
        let ack = TCPSegment(sequence: peerISS + 1, acknowledgment: ourISS + 1, flags: [.ack, .psh], window: 65_535, payloadLength: 100)
        var s = Socket(connecting: c)
        s.connection = TCPConnection(cookieAcknowledgment: ack, mss: 1460, configuration: c, receiveCapacity: 65_535, at: t0)
        XCTAssertEqual(s.state, .established)
        let a = s.receive(ack)
        XCTAssertPlacement(a, 0, 100, 0, "data in the cookie ACK is in the window the SYN-ACK offered")
        let b = s.receive(TCPSegment(sequence: peerISS + 101, acknowledgment: ourISS + 1, flags: .ack, window: 65_535, payloadLength: 1000),
                          after: 1 * ms)
        XCTAssertPlacement(b, 0, 1000, 100)
        XCTAssertSegments(s.transmit(), [segment(ourISS + 1, ack: peerISS + 1101, window: 64_435)])
    }

    func testSynAckRTTSetsTheRetransmissionTimeout() {
        let s = Socket.established()
        XCTAssertEqual(s.connection.info.smoothedRoundTrip, 10 * ms, "RFC 6298 2.2: the SYN's round trip is the first sample")
        XCTAssertEqual(s.connection.info.retransmissionTimeout, 200 * ms, "10 + 4 x 5 ms, raised to the 200 ms floor")
    }

    func testRetransmittedSynGivesNoSampleAndThreeSecondRTO() {
        var (s, _) = Socket.synSent()
        _ = s.transmit(at: t0 + 1 * seconds)
        s.receive(TCPSegment(sequence: peerISS, acknowledgment: ourISS + 1, flags: [.syn, .ack], options: .peerSYN()), after: 10 * ms)
        XCTAssertNil(s.connection.info.smoothedRoundTrip, "Karn: which SYN does the SYN-ACK answer?")
        XCTAssertEqual(s.connection.info.retransmissionTimeout, 3 * seconds, "RFC 6298 5.7")
    }

    func testSynReceivedAnswersBadAckWithReset() {
        var (s, _) = Socket.synReceived()
        s.receive(TCPSegment(sequence: peerISS + 1, acknowledgment: ourISS + 7, flags: .ack), after: 10 * ms)
        XCTAssertSegments(s.transmit(), [reset(ourISS + 7)])
        XCTAssertEqual(s.state, .synReceived)
    }

    func testSynReceivedAnswersRetransmittedSynWithSynAck() {
        var (s, synAck) = Socket.synReceived()
        s.receive(TCPSegment(sequence: peerISS, flags: .syn, options: .peerSYN()), after: 300 * ms)
        XCTAssertSegments(s.transmit(), [synAck], "our SYN-ACK was lost: send it again now")
        XCTAssertEqual(s.state, .synReceived)
    }

    func testSynReceivedResetClosesPassiveOpenWithoutFailure() {
        var (s, _) = Socket.synReceived()
        let a = s.receive(TCPSegment(sequence: peerISS + 1, flags: .rst, window: 0), after: 10 * ms)
        XCTAssertEqual(a.events, [.closed])
        XCTAssertEqual(s.state, .closed)
        XCTAssertNil(s.connection.failure, "a listener's embryo goes back to LISTEN: nobody to tell")
        XCTAssertSegments(s.transmit(), [])
    }

    func testSynReceivedAnswersOutOfWindowSegmentWithAck() {
        var (s, _) = Socket.synReceived()
        s.receive(TCPSegment(sequence: peerISS + 100_000, acknowledgment: ourISS + 1, flags: .ack), after: 10 * ms)
        XCTAssertSegments(s.transmit(), [segment(ourISS + 1, ack: peerISS + 1, window: 65_535)],
                          "RFC 9293 3.10.7.4: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>")
        XCTAssertEqual(s.state, .synReceived)
        XCTAssertEqual(s.connection.nextDeadline, t0 + 1 * seconds, "only the SYN-ACK's timer is left")
    }

    func testPeerMSSIsClampedToOurMTU() {
        var c = TCPConfiguration.withTimestamps
        c.noDelay = true  // so that the short last segment goes at once
        var s = Socket.established(c, peer: .peerSYN(mss: 9000, timestamp: (0, 0)))
        XCTAssertEqual(s.connection.options?.sendMSS, 1460)
        s.write(3_000)
        let out = s.transmit()
        XCTAssertEqual(out.map(\.payloadLength), [1448, 1448, 104], "1460 less the 12 bytes of timestamps")
        XCTAssertEqual(out.map { $0.options.emittedLength }, [12, 12, 12])
    }

    func testPeerMSSClampWithoutTimestamps() {
        var c = TCPConfiguration.plain
        c.noDelay = true
        var s = Socket.established(c, peer: .peerSYN(mss: 9000))
        s.write(3_000)
        XCTAssertEqual(s.transmit().map(\.payloadLength), [1460, 1460, 80])
    }

    func testNoMSSOptionMeans536() {
        var c = TCPConfiguration.plain
        c.noDelay = true
        var s = Socket.established(c, peer: .peerSYN(mss: nil))
        XCTAssertEqual(s.connection.info.sendMSS, 536)
        s.write(1_200)
        XCTAssertEqual(s.transmit().map(\.payloadLength), [536, 536, 128])
    }
}
