import NewsTCP
import NewsWire
import XCTest

/// The listening socket's decisions: passive opens, resets, drops, and SYN cookies under a
/// flood, with the connections it makes driven through the harness's link.
final class ListenerTests: XCTestCase {
    typealias Tuple = (localAddress: UInt32, localPort: UInt16, remoteAddress: UInt32, remotePort: UInt16)

    let isn = InitialSequenceNumbers(secret: (0x1111_2222_3333_4444, 0x5555_6666_7777_8888))
    let cookies = SYNCookies(secret: (0x0123_4567_89ab_cdef, 0xfedc_ba98_7654_3210))
    // 198.18.0.2:80 listening, 198.18.0.1:40000 connecting.
    let tuple: Tuple = (0xC612_0002, 80, 0xC612_0001, 40000)
    let t0: UInt64 = 5 * SYNCookies.period + 1_000_000_000
    let capacity = 262_144

    func makeListener(backlog: Int = 128, halfOpenLimit: Int = 256, configuration: TCPConfiguration = .test) -> TCPListener {
        TCPListener(backlog: backlog, halfOpenLimit: halfOpenLimit, configuration: configuration, isn: isn, cookies: cookies)
    }

    func handshake(_ t: Tuple, remoteISN: SequenceNumber) -> SYNCookies.Handshake {
        SYNCookies.Handshake(localAddress: t.localAddress, localPort: t.localPort, remoteAddress: t.remoteAddress,
                             remotePort: t.remotePort, remoteISN: remoteISN)
    }

    /// A SYN as Linux sends one: MSS, window scale, SACK permitted, timestamps.
    func syn(_ sequence: UInt32, mss: UInt16? = 1460) -> TCPSegment {
        var o = TCPOptions()
        o.maxSegmentSize = mss
        o.windowShift = 7
        o.sackPermitted = true
        o.timestamp = (0xAAAA_0000, 0)
        return TCPSegment(sequence: SequenceNumber(sequence), flags: .syn, window: 64_240, options: o)
    }

    /// The options of a cookie's SYN-ACK: our MSS and nothing else.
    func mssOnly(_ mss: Int) -> TCPOptions {
        var o = TCPOptions()
        o.maxSegmentSize = UInt16(mss)
        return o
    }

    func reset(at sequence: SequenceNumber) -> OutgoingSegment {
        OutgoingSegment(sequence: sequence, acknowledgment: SequenceNumber(0), flags: .rst, window: 0)
    }

    func opened(_ d: TCPListener.Decision, file: StaticString = #filePath, line: UInt = #line) -> TCPConnection? {
        if case .open(let c) = d { return c }
        XCTFail("expected .open, got \(d)", file: file, line: line)
        return nil
    }

    func replied(_ d: TCPListener.Decision, file: StaticString = #filePath, line: UInt = #line) -> OutgoingSegment? {
        if case .reply(let s) = d { return s }
        XCTFail("expected .reply, got \(d)", file: file, line: line)
        return nil
    }

    func established(_ d: TCPListener.Decision, file: StaticString = #filePath, line: UInt = #line) -> TCPConnection? {
        if case .established(let c) = d { return c }
        XCTFail("expected .established, got \(d)", file: file, line: line)
        return nil
    }

    func dropReason(_ d: TCPListener.Decision) -> TCPListener.DropReason? {
        if case .drop(let r) = d { return r }
        return nil
    }

    func pattern(_ n: Int, seed: UInt64) -> [UInt8] {
        var x = seed
        return (0..<n).map { _ in x = x &* 6364136223846793005 &+ 1442695040888963407; return UInt8(truncatingIfNeeded: x >> 33) }
    }

    /// Both ends write, both read: what each reads is what the other wrote.
    func exchange(_ link: inout Link, file: StaticString = #filePath, line: UInt = #line) {
        let up = pattern(100_000, seed: 1), down = pattern(60_000, seed: 2)
        link.a.sendStream += up
        link.b.sendStream += down
        var gotByA: [UInt8] = [], gotByB: [UInt8] = []
        link.run(until: link.now + 10_000_000_000, appA: { gotByA += $0.readAll() }, appB: { gotByB += $0.readAll() })
        XCTAssertEqual(gotByB.count, up.count, file: file, line: line)
        XCTAssertTrue(gotByB == up, "client-to-server bytes differ", file: file, line: line)
        XCTAssertEqual(gotByA.count, down.count, file: file, line: line)
        XCTAssertTrue(gotByA == down, "server-to-client bytes differ", file: file, line: line)
    }

    /// A client that sends its SYN at `now` through a listener that answers it with a cookie;
    /// returns the client after it took the cookie's SYN-ACK, and that SYN-ACK.
    func clientThroughCookie(_ listener: inout TCPListener, tuple t: Tuple, at now: UInt64, file: StaticString = #filePath, line: UInt = #line)
        -> (Endpoint, OutgoingSegment)? {
        var client = Endpoint(TCPConnection(connecting: .test, iss: SequenceNumber(7_000_000), receiveCapacity: capacity, at: now),
                              receiveCapacity: capacity)
        let synOut = client.transmit(at: now)
        XCTAssertEqual(synOut.map(\.flags), [.syn], file: file, line: line)
        guard let synAck = replied(listener.segmentArrived(synOut[0].asReceived, tuple: t, receiveCapacity: capacity, at: now), file: file, line: line)
        else { return nil }
        _ = client.deliver(synAck.asReceived, payload: [], at: now + 1_000_000)
        XCTAssertEqual(client.connection.state, .established, file: file, line: line)
        return (client, synAck)
    }

    // MARK: - Passive open

    func testASynOpensAConnectionWhoseSynAckCarriesTheISNOfRFC6528() {
        var listener = makeListener()
        let s = syn(1_000_000)
        guard var server = opened(listener.segmentArrived(s, tuple: tuple, receiveCapacity: capacity, at: t0)) else { return }
        let expectedISS = isn.isn(localAddress: tuple.localAddress, localPort: tuple.localPort, remoteAddress: tuple.remoteAddress,
                                  remotePort: tuple.remotePort, now: t0)
        XCTAssertEqual(server.state, .synReceived)
        XCTAssertEqual(server.iss, expectedISS)
        XCTAssertEqual(listener.halfOpen, 1)
        XCTAssertEqual(listener.acceptQueue, 0)
        XCTAssertEqual(listener.counters.synsReceived, 1)
        XCTAssertEqual(listener.counters.cookiesSent, 0)

        var out: [OutgoingSegment] = []
        _ = server.transmit(buffers: StreamBuffers(receiveCapacity: capacity), at: t0, into: &out)
        XCTAssertEqual(out.count, 1)
        guard let synAck = out.first, let tsval = synAck.options.timestamp?.value else { return XCTFail("no SYN-ACK with a timestamp") }
        var offered = TCPOptions()
        offered.maxSegmentSize = 1460
        offered.windowShift = 3             // 256 KiB in 16 bits
        offered.sackPermitted = true
        offered.timestamp = (tsval, 0xAAAA_0000)
        XCTAssertEqual(synAck, OutgoingSegment(sequence: expectedISS, acknowledgment: SequenceNumber(1_000_001), flags: [.syn, .ack],
                                               window: 65_535, options: offered))
    }

    func testAFullHandshakeThroughTheListenerThenDataBothWays() {
        var listener = makeListener()
        let now = t0
        var client = Endpoint(TCPConnection(connecting: .test, iss: SequenceNumber(1000), receiveCapacity: capacity, at: now),
                              receiveCapacity: capacity)
        let synOut = client.transmit(at: now)
        guard let server = opened(listener.segmentArrived(synOut[0].asReceived, tuple: tuple, receiveCapacity: capacity, at: now)) else { return }
        var link = Link(a: client, b: Endpoint(server, receiveCapacity: capacity))
        link.now = now
        link.run(until: now + 10_000_000)
        XCTAssertEqual(link.log.map(\.seg.flags), [[.syn, .ack], .ack])
        XCTAssertEqual(link.log.first?.seg.sequence, server.iss)
        XCTAssertEqual(link.a.connection.state, .established)
        XCTAssertEqual(link.b.connection.state, .established)
        XCTAssertTrue(link.b.events.contains(.established))
        XCTAssertEqual(link.a.connection.options?.timestamps, true, "a connection from a SYN keeps every option")
        XCTAssertEqual(link.a.connection.options?.selectiveAcknowledgments, true)

        // The shell reports what the listener cannot see.
        listener.connectionEstablished()
        XCTAssertEqual(listener.halfOpen, 0)
        XCTAssertEqual(listener.acceptQueue, 1)
        listener.connectionAccepted()
        XCTAssertEqual(listener.acceptQueue, 0)
        exchange(&link)
    }

    func testAHalfOpenConnectionThatEndsFreesItsPlace() {
        var listener = makeListener(halfOpenLimit: 1)
        XCTAssertNotNil(opened(listener.segmentArrived(syn(1), tuple: tuple, receiveCapacity: capacity, at: t0)))
        var other = tuple
        other.remotePort += 1
        XCTAssertEqual(replied(listener.segmentArrived(syn(2), tuple: other, receiveCapacity: capacity, at: t0))?.flags, [.syn, .ack],
                       "the half-open queue is full: a cookie")
        listener.halfOpenEnded()
        XCTAssertEqual(listener.halfOpen, 0)
        XCTAssertNotNil(opened(listener.segmentArrived(syn(3), tuple: other, receiveCapacity: capacity, at: t0)))
        XCTAssertEqual(listener.counters.cookiesSent, 1)
    }

    func testBacklogIsClampedAsListenDoes() {
        XCTAssertEqual(makeListener(backlog: 0).backlog, 1)
        XCTAssertEqual(makeListener(backlog: -5).backlog, 1)
        XCTAssertEqual(makeListener(backlog: 100_000).backlog, 4096)
        XCTAssertEqual(makeListener(backlog: 511).backlog, 511)
    }

    // MARK: - Resets and drops

    func testAResetIsIgnored() {
        var listener = makeListener()
        let rst = TCPSegment(sequence: SequenceNumber(5), flags: .rst)
        let rstAck = TCPSegment(sequence: SequenceNumber(5), acknowledgment: SequenceNumber(99), flags: [.rst, .ack])
        let synRst = TCPSegment(sequence: SequenceNumber(5), flags: [.syn, .rst])
        for s in [rst, rstAck, synRst] {
            XCTAssertEqual(dropReason(listener.segmentArrived(s, tuple: tuple, receiveCapacity: capacity, at: t0)), .reset, "\(s.flags)")
        }
        XCTAssertEqual(listener.counters.dropped.reset, 3)
        XCTAssertEqual(listener.counters.dropped.total, 3)
        XCTAssertEqual(listener.counters.resetsSent, 0)
        XCTAssertEqual(listener.counters.synsReceived, 0)
        XCTAssertEqual(listener.halfOpen, 0)
    }

    func testAnAckIsAnsweredWithAResetAtItsAcknowledgmentNumber() {
        var listener = makeListener()
        let ack = TCPSegment(sequence: SequenceNumber(777), acknowledgment: SequenceNumber(12_345), flags: .ack)
        XCTAssertEqual(replied(listener.segmentArrived(ack, tuple: tuple, receiveCapacity: capacity, at: t0)), reset(at: SequenceNumber(12_345)))
        // With data and FIN too: any ACK-bearing segment (RFC 9293 3.10.7.2).
        let data = TCPSegment(sequence: SequenceNumber(777), acknowledgment: SequenceNumber(0xFFFF_FFF0), flags: [.ack, .psh, .fin], payloadLength: 100)
        XCTAssertEqual(replied(listener.segmentArrived(data, tuple: tuple, receiveCapacity: capacity, at: t0)), reset(at: SequenceNumber(0xFFFF_FFF0)))
        // A SYN-ACK is an ACK-bearing segment as well (Linux resets it too).
        let synAck = TCPSegment(sequence: SequenceNumber(1), acknowledgment: SequenceNumber(42), flags: [.syn, .ack])
        XCTAssertEqual(replied(listener.segmentArrived(synAck, tuple: tuple, receiveCapacity: capacity, at: t0)), reset(at: SequenceNumber(42)))
        XCTAssertEqual(listener.counters.resetsSent, 3)
        XCTAssertEqual(listener.counters.cookiesRejected, 0, "no cookie was sent: ACKs are not checked as cookies")
        XCTAssertEqual(listener.counters.synsReceived, 0)
        XCTAssertEqual(listener.acceptQueue, 0)
    }

    func testSegmentsWithNeitherSynNorAckAndSynFinAreDropped() {
        var listener = makeListener()
        let bare = TCPSegment(sequence: SequenceNumber(9), flags: [], payloadLength: 10)
        let fin = TCPSegment(sequence: SequenceNumber(9), flags: .fin)
        var synFin = syn(9)
        synFin.flags.insert(.fin)
        XCTAssertEqual(dropReason(listener.segmentArrived(bare, tuple: tuple, receiveCapacity: capacity, at: t0)), .noSynOrAck)
        XCTAssertEqual(dropReason(listener.segmentArrived(fin, tuple: tuple, receiveCapacity: capacity, at: t0)), .noSynOrAck)
        XCTAssertEqual(dropReason(listener.segmentArrived(synFin, tuple: tuple, receiveCapacity: capacity, at: t0)), .synAndFin)
        XCTAssertEqual(listener.counters.dropped, {
            var d = TCPListener.DropCounts()
            d.noSynOrAck = 2
            d.synAndFin = 1
            return d
        }())
        XCTAssertEqual(listener.counters.synsReceived, 1)
        XCTAssertEqual(listener.halfOpen, 0)
    }

    func testAFullAcceptQueueDropsSynsAndCookieAcks() {
        var listener = makeListener(backlog: 1, halfOpenLimit: 1)
        XCTAssertNotNil(opened(listener.segmentArrived(syn(1), tuple: tuple, receiveCapacity: capacity, at: t0)))
        // A second SYN while the first is half-open: answered with a cookie.
        var second = tuple
        second.remotePort = 40001
        guard let (client, _) = clientThroughCookie(&listener, tuple: second, at: t0) else { return }
        // The first connection is established and waits to be accepted: the queue is full.
        listener.connectionEstablished()
        XCTAssertTrue(listener.acceptQueueIsFull)
        var third = tuple
        third.remotePort = 40002
        XCTAssertEqual(dropReason(listener.segmentArrived(syn(3), tuple: third, receiveCapacity: capacity, at: t0)), .acceptQueueFull)
        XCTAssertEqual(listener.halfOpen, 0, "the dropped SYN left nothing behind")

        // The cookie's ACK is valid, but there is no room for its connection either.
        var c = client
        let ack = c.transmit(at: t0 + 1_000_000)
        XCTAssertEqual(ack.map(\.flags), [.ack])
        XCTAssertEqual(dropReason(listener.segmentArrived(ack[0].asReceived, tuple: second, receiveCapacity: capacity, at: t0 + 2_000_000)),
                       .acceptQueueFull)
        XCTAssertEqual(listener.counters.acceptQueueOverflows, 2)
        XCTAssertEqual(listener.counters.dropped.acceptQueueFull, 2)
        XCTAssertEqual(listener.counters.cookiesAccepted, 0)

        // Once the application accepts, the same ACK (sent again, as the client will with its
        // data) makes the connection.
        listener.connectionAccepted()
        XCTAssertNotNil(established(listener.segmentArrived(ack[0].asReceived, tuple: second, receiveCapacity: capacity, at: t0 + 3_000_000)))
        XCTAssertEqual(listener.acceptQueue, 1)
        XCTAssertEqual(listener.counters.cookiesAccepted, 1)
        XCTAssertEqual(listener.counters.synsReceived, 3)
    }

    // MARK: - SYN cookies

    func testASynFloodKeepsNoStateAndARealClientStillConnectsThroughACookie() {
        var listener = makeListener(backlog: 128, halfOpenLimit: 256)
        // The listener holds no reference: its inline size is all the memory it has, so no
        // number of SYNs can make it grow.
        XCTAssertTrue(_isPOD(TCPListener.self), "the listener must keep no heap storage")
        let expectedMSS: [UInt16?: UInt16] = [nil: 536, 536: 536, 1400: 1360, 1460: 1460, 9000: 8960]
        let peerMSSes = Array(expectedMSS.keys)
        var rng: UInt64 = 0x5EED
        func next() -> UInt32 {
            rng = rng &* 6364136223846793005 &+ 1442695040888963407
            return UInt32(truncatingIfNeeded: rng >> 32)
        }
        var opens = 0, cookieReplies = 0, badReplies = 0
        var now = t0
        for _ in 0..<10_000 {
            let t: Tuple = (tuple.localAddress, tuple.localPort, next(), UInt16(truncatingIfNeeded: next()))
            let peerMSS = peerMSSes[Int(next() % UInt32(peerMSSes.count))]
            let s = syn(next(), mss: peerMSS)
            now += 10_000  // 100,000 SYNs a second
            switch listener.segmentArrived(s, tuple: t, receiveCapacity: capacity, at: now) {
            case .open:
                opens += 1
            case .reply(let r):
                cookieReplies += 1
                // The whole SYN-ACK, and its ISS is a cookie for this very SYN.
                let expected = OutgoingSegment(sequence: r.sequence, acknowledgment: s.sequence + 1, flags: [.syn, .ack], window: 65_535,
                                               options: mssOnly(1460))
                if r != expected || cookies.check(handshake(t, remoteISN: s.sequence), acknowledgment: r.sequence + 1, now: now) != expectedMSS[peerMSS] {
                    badReplies += 1
                }
            default:
                XCTFail("a SYN under flood is opened or answered with a cookie")
            }
        }
        XCTAssertEqual(opens, 256)
        XCTAssertEqual(cookieReplies, 10_000 - 256)
        XCTAssertEqual(badReplies, 0)
        XCTAssertEqual(listener.halfOpen, 256)
        XCTAssertEqual(listener.acceptQueue, 0)
        XCTAssertEqual(listener.counters.synsReceived, 10_000)
        XCTAssertEqual(listener.counters.cookiesSent, 10_000 - 256)
        XCTAssertEqual(listener.counters.dropped.total, 0)

        // A real client, in the middle of the flood.
        now += 1_000_000
        var real = tuple
        real.remoteAddress = 0x0A00_0001
        real.remotePort = 55_555
        guard let handshaken = clientThroughCookie(&listener, tuple: real, at: now) else { return }
        var client = handshaken.0
        let synAck = handshaken.1
        XCTAssertEqual(synAck, OutgoingSegment(sequence: synAck.sequence, acknowledgment: SequenceNumber(7_000_001), flags: [.syn, .ack],
                                               window: 65_535, options: mssOnly(1460)))
        let ackOut = client.transmit(at: now + 1_000_000)
        XCTAssertEqual(ackOut, [OutgoingSegment(sequence: SequenceNumber(7_000_001), acknowledgment: synAck.sequence + 1, flags: .ack, window: 65_535)],
                       "no window scaling: the client's window is unscaled")
        guard let server = established(listener.segmentArrived(ackOut[0].asReceived, tuple: real, receiveCapacity: capacity, at: now + 2_000_000))
        else { return }
        XCTAssertEqual(server.state, .established)
        XCTAssertEqual(server.iss, synAck.sequence)
        XCTAssertEqual(server.irs, SequenceNumber(7_000_000))
        XCTAssertEqual(server.options, NegotiatedOptions(sendMSS: 1460, receiveMSS: 1460, sendShift: 0, receiveShift: 0,
                                                         timestamps: false, selectiveAcknowledgments: false))
        XCTAssertEqual(client.connection.options, server.options, "both ends agree on what the cookie's SYN-ACK offered")
        XCTAssertEqual(listener.counters.cookiesAccepted, 1)
        XCTAssertEqual(listener.acceptQueue, 1)
        XCTAssertEqual(listener.halfOpen, 256)

        // The shell stores the connection and gives it the same ACK: a pure ACK of what it
        // already knows is acknowledged, so nothing happens and nothing is sent.
        var serverEnd = Endpoint(server, receiveCapacity: capacity)
        let arrival = serverEnd.deliver(ackOut[0].asReceived, payload: [], at: now + 2_000_000)
        XCTAssertNil(arrival.placement)
        XCTAssertEqual(arrival.events, [])
        XCTAssertEqual(serverEnd.transmit(at: now + 2_000_000), [])
        listener.connectionAccepted()
        var link = Link(a: client, b: serverEnd)
        link.now = now + 2_000_000
        exchange(&link)
        XCTAssertEqual(link.b.connection.counters.outOfWindow, 0)
        XCTAssertEqual(link.a.connection.counters.outOfWindow, 0)
    }

    /// The client's pure ACK is lost; its first data segment carries the cookie back. The
    /// shell passes that segment to the new connection, which takes its data at once.
    func testDataOnTheCookiesAckReachesTheNewConnection() {
        var listener = makeListener(halfOpenLimit: 0)
        guard let handshaken = clientThroughCookie(&listener, tuple: tuple, at: t0) else { return }
        var client = handshaken.0
        let synAck = handshaken.1
        let request = Array("GET / HTTP/1.0\r\n\r\n".utf8)
        client.sendStream += request
        let out = client.transmit(at: t0 + 1_000_000)
        guard let dataSegment = out.first(where: { $0.payloadLength > 0 }) else { return XCTFail("no data sent: \(out)") }
        XCTAssertEqual(dataSegment.sequence, SequenceNumber(7_000_001))
        XCTAssertEqual(dataSegment.acknowledgment, synAck.sequence + 1)
        XCTAssertEqual(dataSegment.payloadLength, request.count)

        guard let server = established(listener.segmentArrived(dataSegment.asReceived, tuple: tuple, receiveCapacity: capacity, at: t0 + 2_000_000))
        else { return }
        var serverEnd = Endpoint(server, receiveCapacity: capacity)
        let arrival = serverEnd.deliver(dataSegment.asReceived, payload: client.payload(of: dataSegment), at: t0 + 2_000_000)
        XCTAssertEqual(arrival.receivedUpTo, UInt64(request.count))
        XCTAssertTrue(arrival.events.contains(.readable))
        XCTAssertEqual(serverEnd.readAll(), request)
        XCTAssertEqual(serverEnd.connection.counters.outOfWindow, 0, "the data fits the window the cookie's SYN-ACK offered")
        // The first segment the server sends acknowledges the request.
        serverEnd.sendStream += Array("HTTP/1.0 200 OK\r\n\r\n".utf8)
        let reply = serverEnd.transmit(at: t0 + 2_000_000)
        XCTAssertEqual(reply.first?.sequence, synAck.sequence + 1)
        XCTAssertEqual(reply.first?.acknowledgment, SequenceNumber(7_000_001) + request.count)
        XCTAssertTrue(reply.first?.flags.contains(.ack) == true)
        XCTAssertEqual(reply.first?.options, TCPOptions(), "no timestamps or SACK on a cookie's connection")
    }

    func testAForgedAckWithAWrongCookieIsReset() {
        var listener = makeListener(halfOpenLimit: 0)
        let s = syn(1_000_000)
        guard let synAck = replied(listener.segmentArrived(s, tuple: tuple, receiveCapacity: capacity, at: t0)) else { return }
        XCTAssertEqual(listener.counters.cookiesSent, 1)
        // A wrong cookie; the right cookie from another port; the right cookie with a
        // sequence number that is not the SYN's + 1.
        var otherPort = tuple
        otherPort.remotePort = 40001
        let forgeries: [(TCPSegment, Tuple)] = [
            (TCPSegment(sequence: s.sequence + 1, acknowledgment: synAck.sequence + 2, flags: .ack), tuple),
            (TCPSegment(sequence: s.sequence + 1, acknowledgment: synAck.sequence + 1, flags: .ack), otherPort),
            (TCPSegment(sequence: s.sequence + 2, acknowledgment: synAck.sequence + 1, flags: .ack), tuple),
        ]
        for (i, (forged, t)) in forgeries.enumerated() {
            XCTAssertEqual(replied(listener.segmentArrived(forged, tuple: t, receiveCapacity: capacity, at: t0 + 1_000_000)),
                           reset(at: forged.acknowledgment), "forgery \(i)")
        }
        XCTAssertEqual(listener.counters.cookiesRejected, 3)
        XCTAssertEqual(listener.counters.resetsSent, 3)
        XCTAssertEqual(listener.counters.cookiesAccepted, 0)
        XCTAssertEqual(listener.acceptQueue, 0)
        // The genuine ACK still works.
        let genuine = TCPSegment(sequence: s.sequence + 1, acknowledgment: synAck.sequence + 1, flags: .ack)
        XCTAssertNotNil(established(listener.segmentArrived(genuine, tuple: tuple, receiveCapacity: capacity, at: t0 + 1_000_000)))
    }

    func testASynAckCarryingAValidCookieIsStillReset() {
        var listener = makeListener(halfOpenLimit: 0)
        let s = syn(1_000_000)
        guard let synAck = replied(listener.segmentArrived(s, tuple: tuple, receiveCapacity: capacity, at: t0)) else { return }
        // The fields of the cookie's genuine ACK, with SYN set too: no handshake ends that way.
        let forged = TCPSegment(sequence: s.sequence + 1, acknowledgment: synAck.sequence + 1, flags: [.syn, .ack])
        XCTAssertEqual(replied(listener.segmentArrived(forged, tuple: tuple, receiveCapacity: capacity, at: t0 + 1_000_000)),
                       reset(at: forged.acknowledgment))
        XCTAssertEqual(listener.counters.cookiesAccepted, 0)
        XCTAssertEqual(listener.counters.cookiesRejected, 0, "a SYN-ACK is not checked as a cookie")
        XCTAssertEqual(listener.acceptQueue, 0)
    }

    func testACookieSynAckDoesNotAcknowledgeDataOnTheSyn() {
        var listener = makeListener(halfOpenLimit: 0)
        var s = syn(1_000_000)
        s.payloadLength = 100  // TCP Fast Open style data, which a cookie cannot keep
        XCTAssertEqual(replied(listener.segmentArrived(s, tuple: tuple, receiveCapacity: capacity, at: t0))?.acknowledgment,
                       SequenceNumber(1_000_001), "ACK = SEG.SEQ + 1: the peer sends the data again")
    }

    func testACookieFromAnExpiredPeriodIsRejected() {
        var listener = makeListener(halfOpenLimit: 0)
        let s = syn(1_000_000)
        guard let synAck = replied(listener.segmentArrived(s, tuple: tuple, receiveCapacity: capacity, at: t0)) else { return }
        let ack = TCPSegment(sequence: s.sequence + 1, acknowledgment: synAck.sequence + 1, flags: .ack)

        // Three periods on, with the flood still going (another cookie just went out), the
        // old cookie is checked and found too old.
        let later = t0 + 3 * SYNCookies.period
        var other = tuple
        other.remotePort = 40001
        XCTAssertNotNil(replied(listener.segmentArrived(syn(5), tuple: other, receiveCapacity: capacity, at: later)))
        XCTAssertEqual(replied(listener.segmentArrived(ack, tuple: tuple, receiveCapacity: capacity, at: later)), reset(at: ack.acknowledgment))
        XCTAssertEqual(listener.counters.cookiesRejected, 1)
        XCTAssertEqual(listener.counters.cookiesAccepted, 0)

        // In the next period the same cookie was still good.
        var fresh = makeListener(halfOpenLimit: 0)
        _ = fresh.segmentArrived(s, tuple: tuple, receiveCapacity: capacity, at: t0)
        XCTAssertNotNil(established(fresh.segmentArrived(ack, tuple: tuple, receiveCapacity: capacity, at: t0 + SYNCookies.period)))
    }

    func testAcksAreCheckedAsCookiesOnlyWhileCookiesAreInUse() {
        var listener = makeListener(halfOpenLimit: 0)
        let s = syn(1_000_000)
        guard let synAck = replied(listener.segmentArrived(s, tuple: tuple, receiveCapacity: capacity, at: t0)) else { return }
        XCTAssertEqual(listener.lastCookieSent, t0)
        let ack = TCPSegment(sequence: s.sequence + 1, acknowledgment: synAck.sequence + 1, flags: .ack)
        // Two periods later no cookie sent since could still be valid: a plain reset, and no
        // cookie was looked at.
        let later = t0 + 2 * SYNCookies.period
        XCTAssertEqual(replied(listener.segmentArrived(ack, tuple: tuple, receiveCapacity: capacity, at: later)), reset(at: ack.acknowledgment))
        XCTAssertEqual(listener.counters.cookiesRejected, 0)
        XCTAssertEqual(listener.counters.resetsSent, 1)

        // A listener that never sent a cookie does not honour one (here made with its
        // secret for the test) unless told to use cookies always.
        var quiet = makeListener()
        XCTAssertEqual(replied(quiet.segmentArrived(ack, tuple: tuple, receiveCapacity: capacity, at: t0)), reset(at: ack.acknowledgment))
        quiet.alwaysCookies = true
        XCTAssertNotNil(established(quiet.segmentArrived(ack, tuple: tuple, receiveCapacity: capacity, at: t0)))
    }

    func testAlwaysCookiesAnswersEverySynStatelessly() {
        var listener = makeListener()
        listener.alwaysCookies = true
        let s = syn(1_000_000)
        guard let synAck = replied(listener.segmentArrived(s, tuple: tuple, receiveCapacity: 4096, at: t0)) else { return }
        XCTAssertEqual(synAck, OutgoingSegment(sequence: cookies.cookie(for: handshake(tuple, remoteISN: s.sequence), peerMSS: 1460, now: t0),
                                               acknowledgment: SequenceNumber(1_000_001), flags: [.syn, .ack], window: 4096,
                                               options: mssOnly(1460)),
                       "the window is the receive area's size when that is below 65535")
        XCTAssertEqual(listener.halfOpen, 0)
        XCTAssertEqual(listener.counters.cookiesSent, 1)
    }

    func testTheCookieCarriesThePeersMSSRoundedDownToTheTable() {
        var jumbo = TCPConfiguration.test
        jumbo.mtu = 9000  // we announce 8960, so the peer's MSS is what limits the connection
        var listener = makeListener(halfOpenLimit: 0, configuration: jumbo)
        let cases: [(UInt16?, Int)] = [(nil, 536), (100, 536), (536, 536), (1023, 536), (1024, 1024), (1300, 1220), (1400, 1360),
                                       (1459, 1440), (1460, 1460), (4000, 1460), (8960, 8960), (65_535, 8960)]
        for (i, (peer, expected)) in cases.enumerated() {
            var t = tuple
            t.remotePort = UInt16(41_000 + i)
            let s = syn(UInt32(1_000 * i), mss: peer)
            guard let synAck = replied(listener.segmentArrived(s, tuple: t, receiveCapacity: capacity, at: t0)) else { return }
            XCTAssertEqual(synAck.options, mssOnly(8960), "our MSS, not the peer's")
            let ack = TCPSegment(sequence: s.sequence + 1, acknowledgment: synAck.sequence + 1, flags: .ack)
            guard let c = established(listener.segmentArrived(ack, tuple: t, receiveCapacity: capacity, at: t0 + 1_000_000)) else { return }
            XCTAssertEqual(c.options?.sendMSS, expected, "peer MSS \(peer.map(String.init) ?? "none")")
            XCTAssertEqual(c.options?.receiveMSS, 8960)
        }
        XCTAssertEqual(listener.counters.cookiesAccepted, cases.count)
    }
}
