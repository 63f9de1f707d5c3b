import XCTest
import NewsTCP
@testable import NewsTCPState

/// The bind cases mirror what a Linux 6.x kernel answered for the same calls (Python
/// sockets on loopback, no SO_REUSEPORT).
final class ConnectionTableTests: XCTestCase {
    let secret: (UInt64, UInt64) = (0x0123_4567_89AB_CDEF, 0xFEDC_BA98_7654_3210)
    let wildcard: UInt32 = 0
    let a: UInt32 = 0xC612_0001       // 198.18.0.1
    let b: UInt32 = 0xC612_0002       // 198.18.0.2
    let peer: UInt32 = 0xC612_0009    // 198.18.0.9

    func table(_ range: ClosedRange<UInt16> = ConnectionTable.defaultEphemeralRange) -> ConnectionTable {
        ConnectionTable(secret: secret, ephemeralRange: range)
    }

    /// Binds and listens; fails the test if either is refused.
    func listener(_ t: inout ConnectionTable, _ socket: UInt32, _ address: UInt32, _ port: UInt16, reuse: Bool = false,
                  file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(t.bind(socket: socket, address: address, port: port, reuseAddress: reuse, uid: 0), .success(port), file: file, line: line)
        XCTAssertNoThrow(try t.listen(socket: socket).get(), file: file, line: line)
    }

    /// A connection accepted on `port` from peer:`remotePort`, then put in TIME-WAIT, its
    /// listener gone: a restarted server's leftover.
    func leftoverTimeWait(_ t: inout ConnectionTable, port: UInt16, reuse: Bool, file: StaticString = #filePath, line: UInt = #line) {
        listener(&t, 100, a, port, reuse: reuse, file: file, line: line)
        let tuple = FourTuple(localAddress: a, localPort: port, remoteAddress: peer, remotePort: 40000)
        XCTAssertNoThrow(try t.accept(socket: 101, listener: 100, tuple: tuple).get(), file: file, line: line)
        t.remove(socket: 100)
        XCTAssertTrue(t.enterTimeWait(socket: 101), file: file, line: line)
    }

    // MARK: - bind

    /// A TIME-WAIT connection whose region went back to a listener's pool goes on under a
    /// number of its own: same four-tuple, same port, the old number free for a new entry.
    func testRenameKeepsTheTupleAndPortUnderTheNewNumber() {
        var t = table()
        listener(&t, 1, wildcard, 80)
        let tuple = FourTuple(localAddress: b, localPort: 80, remoteAddress: peer, remotePort: 40000)
        XCTAssertNoThrow(try t.accept(socket: 2, listener: 1, tuple: tuple).get())
        XCTAssertTrue(t.enterTimeWait(socket: 2))
        XCTAssertTrue(t.rename(socket: 2, to: 0x8000_0001))
        XCTAssertNil(t.entry(of: 2))
        XCTAssertEqual(t.entry(of: 0x8000_0001)?.role, .timeWait)
        XCTAssertEqual(t.lookup(tuple), .timeWait(0x8000_0001))
        XCTAssertEqual(t.timeWaitCount, 1)
        XCTAssertThrowsError(try t.accept(socket: 2, listener: 1, tuple: tuple).get(), "the tuple is still held") {
            XCTAssertEqual($0 as? ConnectionTable.Refusal, .addressInUse)
        }
        let other = FourTuple(localAddress: b, localPort: 80, remoteAddress: peer, remotePort: 40001)
        XCTAssertNoThrow(try t.accept(socket: 2, listener: 1, tuple: other).get(), "the old number serves a new connection")
        XCTAssertFalse(t.rename(socket: 2, to: 0x8000_0001), "onto a number in use")
        XCTAssertFalse(t.rename(socket: 3, to: 0x8000_0002), "a number with no entry")
        t.remove(socket: 0x8000_0001)
        XCTAssertEqual(t.lookup(tuple), .listener(1), "the tuple is free: its segments go to the listener")
        XCTAssertEqual(t.timeWaitCount, 0)
        // The port is held by the renamed listener too.
        XCTAssertTrue(t.rename(socket: 1, to: 9))
        XCTAssertEqual(t.lookup(FourTuple(localAddress: b, localPort: 80, remoteAddress: peer, remotePort: 1)), .listener(9))
        XCTAssertEqual(t.bind(socket: 10, address: wildcard, port: 80, reuseAddress: false, uid: 0), .failure(.addressInUse))
    }

    func testWithoutReuseAnOverlappingAddressIsInUse() {
        var t = table()
        XCTAssertEqual(t.bind(socket: 1, address: a, port: 8080, reuseAddress: false, uid: 1000), .success(8080))
        XCTAssertEqual(t.bind(socket: 2, address: wildcard, port: 8080, reuseAddress: false, uid: 1000), .failure(.addressInUse),
                       "the wildcard overlaps the specific address")
        XCTAssertEqual(t.bind(socket: 3, address: a, port: 8080, reuseAddress: false, uid: 1000), .failure(.addressInUse))
        XCTAssertEqual(t.bind(socket: 4, address: b, port: 8080, reuseAddress: false, uid: 1000), .success(8080),
                       "distinct specific addresses do not overlap")

        var w = table()
        XCTAssertEqual(w.bind(socket: 1, address: wildcard, port: 8080, reuseAddress: false, uid: 1000), .success(8080))
        XCTAssertEqual(w.bind(socket: 2, address: a, port: 8080, reuseAddress: false, uid: 1000), .failure(.addressInUse),
                       "a specific address inside a wildcard bind")
        XCTAssertEqual(w.bind(socket: 3, address: wildcard, port: 8081, reuseAddress: false, uid: 1000), .success(8081))
    }

    func testReuseMustBeSetOnBothSockets() {
        var t = table()
        XCTAssertEqual(t.bind(socket: 1, address: a, port: 8080, reuseAddress: true, uid: 1), .success(8080))
        XCTAssertEqual(t.bind(socket: 2, address: a, port: 8080, reuseAddress: false, uid: 1), .failure(.addressInUse))
        XCTAssertEqual(t.bind(socket: 3, address: a, port: 8080, reuseAddress: true, uid: 1), .success(8080))
        XCTAssertEqual(t.bind(socket: 4, address: wildcard, port: 8080, reuseAddress: true, uid: 1), .success(8080),
                       "with the flag on both, bound (not listening) sockets share even wildcard and specific")

        var u = table()
        XCTAssertEqual(u.bind(socket: 1, address: a, port: 8080, reuseAddress: false, uid: 1), .success(8080))
        XCTAssertEqual(u.bind(socket: 2, address: a, port: 8080, reuseAddress: true, uid: 1), .failure(.addressInUse),
                       "the socket already there lacks the flag")
    }

    func testAListenerHoldsItsPortEvenAgainstReuse() {
        var t = table()
        listener(&t, 1, a, 80, reuse: true)
        XCTAssertEqual(t.bind(socket: 2, address: a, port: 80, reuseAddress: true, uid: 0), .failure(.addressInUse))
        XCTAssertEqual(t.bind(socket: 3, address: wildcard, port: 80, reuseAddress: true, uid: 0), .failure(.addressInUse))
        XCTAssertEqual(t.bind(socket: 4, address: b, port: 80, reuseAddress: true, uid: 0), .success(80))
        XCTAssertNoThrow(try t.listen(socket: 4).get(), "another specific address listens beside it")
        XCTAssertEqual(t.listenerCount, 2)
    }

    func testTwoSocketsThatShareAPortCannotBothListen() {
        var t = table()
        XCTAssertEqual(t.bind(socket: 1, address: wildcard, port: 80, reuseAddress: true, uid: 0), .success(80))
        XCTAssertEqual(t.bind(socket: 2, address: a, port: 80, reuseAddress: true, uid: 0), .success(80))
        XCTAssertNoThrow(try t.listen(socket: 1).get())
        XCTAssertEqual(t.listen(socket: 2).map { 0 }, .failure(.addressInUse))
        XCTAssertNoThrow(try t.listen(socket: 1).get(), "listening again is allowed")
        XCTAssertEqual(t.entry(of: 2)?.role, .bound)
    }

    func testWithReuseATimeWaitLeftoverDoesNotHoldThePort() {
        var t = table()
        leftoverTimeWait(&t, port: 80, reuse: true)
        XCTAssertEqual(t.timeWaitCount, 1)
        listener(&t, 2, a, 80, reuse: true)
        var wild = table()
        leftoverTimeWait(&wild, port: 80, reuse: true)
        listener(&wild, 2, wildcard, 80, reuse: true)
    }

    func testWithoutReuseATimeWaitConnectionHoldsThePort() {
        var t = table()
        leftoverTimeWait(&t, port: 80, reuse: true)
        XCTAssertEqual(t.bind(socket: 2, address: a, port: 80, reuseAddress: false, uid: 0), .failure(.addressInUse),
                       "the new socket lacks the flag")
        XCTAssertEqual(t.bind(socket: 3, address: wildcard, port: 80, reuseAddress: false, uid: 0), .failure(.addressInUse))

        var old = table()
        leftoverTimeWait(&old, port: 80, reuse: false)
        XCTAssertEqual(old.bind(socket: 2, address: a, port: 80, reuseAddress: true, uid: 0), .failure(.addressInUse),
                       "the TIME-WAIT connection keeps its socket's missing flag")
        XCTAssertEqual(old.bind(socket: 3, address: b, port: 80, reuseAddress: false, uid: 0), .success(80),
                       "the connection's local address is specific, so another address is free")
        old.remove(socket: 101)
        XCTAssertEqual(old.bind(socket: 2, address: a, port: 80, reuseAddress: false, uid: 0), .success(80),
                       "removing the TIME-WAIT connection frees the port")
    }

    func testAnEstablishedConnectionHoldsItsPortLikeTimeWait() {
        var t = table()
        listener(&t, 1, a, 80, reuse: true)
        XCTAssertNoThrow(try t.accept(socket: 2, listener: 1, tuple: FourTuple(localAddress: a, localPort: 80, remoteAddress: peer, remotePort: 5000)).get())
        t.remove(socket: 1)
        XCTAssertEqual(t.bind(socket: 3, address: a, port: 80, reuseAddress: false, uid: 0), .failure(.addressInUse))
        XCTAssertEqual(t.bind(socket: 4, address: a, port: 80, reuseAddress: true, uid: 0), .success(80))
    }

    func testBindRefusals() {
        var t = table()
        XCTAssertEqual(t.bind(socket: 1, address: a, port: 80, reuseAddress: false, uid: 1000), .failure(.privileged))
        XCTAssertEqual(t.bind(socket: 1, address: a, port: 80, reuseAddress: false, uid: 0), .success(80))
        XCTAssertEqual(t.bind(socket: 1, address: a, port: 81, reuseAddress: false, uid: 0), .failure(.invalid), "bind twice")
        XCTAssertEqual(ConnectionTable.Refusal.addressInUse.errno, 98)
        XCTAssertEqual(ConnectionTable.Refusal.addressNotAvailable.errno, 99)
        XCTAssertEqual(ConnectionTable.Refusal.invalid.errno, 22)
        XCTAssertEqual(ConnectionTable.Refusal.alreadyConnected.errno, 106)
        XCTAssertEqual(ConnectionTable.Refusal.privileged.errno, 13)
        XCTAssertEqual(t.listen(socket: 9).map { 0 }, .failure(.invalid), "listen of an unbound socket")
    }

    func testBindToPortZeroTakesAnUnusedEphemeralPortUntilNoneIsLeft() {
        var t = table(40000...40002)
        var ports = Set<UInt16>()
        for s in UInt32(1)...3 {
            guard case .success(let p) = t.bind(socket: s, address: a, port: 0, reuseAddress: true, uid: 1000) else { return XCTFail("bind \(s)") }
            XCTAssertTrue((40000...40002).contains(p))
            ports.insert(p)
        }
        XCTAssertEqual(ports.count, 3, "even with SO_REUSEADDR, port 0 never shares")
        XCTAssertEqual(t.bind(socket: 4, address: wildcard, port: 0, reuseAddress: true, uid: 1000), .failure(.addressInUse))
        XCTAssertEqual(t.bind(socket: 4, address: b, port: 0, reuseAddress: true, uid: 1000).map { _ in 0 }, .success(0),
                       "another specific address has the whole range")
        let freed = t.entry(of: 2)!.localPort
        t.remove(socket: 2)
        XCTAssertEqual(t.bind(socket: 5, address: a, port: 0, reuseAddress: false, uid: 1000), .success(freed), "removal frees")
    }

    // MARK: - lookup

    func testAnExactFourTupleComesBeforeAnyListener() {
        var t = table()
        listener(&t, 1, wildcard, 80)
        listener(&t, 2, b, 443)
        let onA = FourTuple(localAddress: a, localPort: 80, remoteAddress: peer, remotePort: 5000)
        XCTAssertEqual(t.lookup(onA), .listener(1), "the wildcard listener takes a SYN to any address")
        XCTAssertNoThrow(try t.accept(socket: 10, listener: 1, tuple: onA).get())
        XCTAssertEqual(t.lookup(onA), .connection(10))
        XCTAssertEqual(t.lookup(FourTuple(localAddress: a, localPort: 80, remoteAddress: peer, remotePort: 5001)), .listener(1),
                       "another remote port is another connection")

        let onB = FourTuple(localAddress: b, localPort: 443, remoteAddress: peer, remotePort: 6000)
        XCTAssertEqual(t.lookup(onB), .listener(2))
        XCTAssertNoThrow(try t.accept(socket: 11, listener: 2, tuple: onB).get())
        XCTAssertEqual(t.lookup(onB), .connection(11), "the exact tuple beats the specific listener too")
        XCTAssertTrue(t.enterTimeWait(socket: 11))
        XCTAssertEqual(t.lookup(onB), .timeWait(11))
        XCTAssertNil(t.lookup(FourTuple(localAddress: a, localPort: 443, remoteAddress: peer, remotePort: 6000)),
                     "a listener on 198.18.0.2 does not take segments to 198.18.0.1")
        XCTAssertNil(t.lookup(FourTuple(localAddress: a, localPort: 81, remoteAddress: peer, remotePort: 6000)))
    }

    func testASpecificListenerComesBeforeTheWildcard() {
        var t = table()
        listener(&t, 1, a, 80)
        // The bind rules keep a wildcard listener off a port a specific one holds (without
        // SO_REUSEPORT), so the pair is planted to pin the order lookups take, which is
        // Linux's (a listener on the exact address scores higher).
        t.listeners[ConnectionTable.Endpoint(address: 0, port: 80)] = 2
        XCTAssertEqual(t.lookup(FourTuple(localAddress: a, localPort: 80, remoteAddress: peer, remotePort: 5000)), .listener(1))
        XCTAssertEqual(t.lookup(FourTuple(localAddress: b, localPort: 80, remoteAddress: peer, remotePort: 5000)), .listener(2))
    }

    func testAcceptRefusals() {
        var t = table()
        listener(&t, 1, a, 80)
        XCTAssertEqual(t.bind(socket: 2, address: a, port: 81, reuseAddress: false, uid: 0), .success(81))
        let tuple = FourTuple(localAddress: a, localPort: 80, remoteAddress: peer, remotePort: 5000)
        XCTAssertEqual(t.accept(socket: 3, listener: 2, tuple: tuple).map { 0 }, .failure(.invalid), "not a listener")
        XCTAssertEqual(t.accept(socket: 3, listener: 1, tuple: FourTuple(localAddress: b, localPort: 80, remoteAddress: peer, remotePort: 5000)).map { 0 },
                       .failure(.invalid), "outside the listener's address")
        XCTAssertNoThrow(try t.accept(socket: 3, listener: 1, tuple: tuple).get())
        XCTAssertEqual(t.accept(socket: 4, listener: 1, tuple: tuple).map { 0 }, .failure(.addressInUse), "the tuple is taken")
        XCTAssertEqual(t.accept(socket: 3, listener: 1, tuple: FourTuple(localAddress: a, localPort: 80, remoteAddress: peer, remotePort: 5001)).map { 0 },
                       .failure(.invalid), "the socket is already in the table")
        XCTAssertEqual(t.connectionCount, 1)
        XCTAssertEqual(t.entry(of: 3)?.reuseAddress, false)
    }

    // MARK: - connect and ephemeral ports

    func testConnectGivesDistinctPortsToOneDestination() {
        var t = table()
        var ports = Set<UInt16>()
        for s in UInt32(1)...200 {
            guard case .success(let c) = t.connect(socket: s, localAddress: a, remoteAddress: peer, remotePort: 80) else { return XCTFail("connect \(s)") }
            XCTAssertNil(c.displaced)
            XCTAssertTrue(ConnectionTable.defaultEphemeralRange.contains(c.tuple.localPort))
            XCTAssertEqual(c.tuple, FourTuple(localAddress: a, localPort: c.tuple.localPort, remoteAddress: peer, remotePort: 80))
            XCTAssertEqual(t.lookup(c.tuple), .connection(s))
            ports.insert(c.tuple.localPort)
        }
        XCTAssertEqual(ports.count, 200)
        XCTAssertEqual(t.connectionCount, 200)
    }

    func testDifferentDestinationsStartAtUnrelatedPorts() {
        var t = table()
        var firsts: [Int] = []
        for i in UInt32(0)..<32 {
            guard case .success(let c) = t.connect(socket: i + 1, localAddress: a, remoteAddress: peer &+ i, remotePort: 80) else { return XCTFail() }
            firsts.append(Int(c.tuple.localPort))
        }
        let steps = zip(firsts, firsts.dropFirst()).map { abs($1 - $0) }
        XCTAssertFalse(steps.allSatisfy { $0 == 1 }, "not sequential from a fixed start")
        XCTAssertGreaterThan(firsts.max()! - firsts.min()!, 10_000, "spread over the range: \(firsts)")
        XCTAssertGreaterThan(Set(firsts).count, 28)

        // Another key, other ports: they cannot be predicted without it.
        var other = ConnectionTable(secret: (1, 2))
        var otherFirsts: [Int] = []
        for i in UInt32(0)..<32 {
            guard case .success(let c) = other.connect(socket: i + 1, localAddress: a, remoteAddress: peer &+ i, remotePort: 80) else { return XCTFail() }
            otherFirsts.append(Int(c.tuple.localPort))
        }
        XCTAssertNotEqual(firsts, otherFirsts)
        XCTAssertLessThan(zip(firsts, otherFirsts).filter { $0 == $1 }.count, 3)
    }

    func testEphemeralPortsRunOutPerDestination() {
        var t = table(50000...50002)
        for s in UInt32(1)...3 {
            XCTAssertNoThrow(try t.connect(socket: s, localAddress: a, remoteAddress: peer, remotePort: 80).get())
        }
        XCTAssertEqual(t.connect(socket: 4, localAddress: a, remoteAddress: peer, remotePort: 80).map { _ in 0 }, .failure(.addressNotAvailable))
        XCTAssertNil(t.entry(of: 4), "a refused connect leaves nothing behind")
        // A port is shared by connections whose four-tuples differ.
        guard case .success(let other) = t.connect(socket: 5, localAddress: a, remoteAddress: peer, remotePort: 443) else { return XCTFail() }
        XCTAssertTrue((50000...50002).contains(other.tuple.localPort))

        let freed = t.entry(of: 2)!.localPort
        t.remove(socket: 2)
        guard case .success(let again) = t.connect(socket: 6, localAddress: a, remoteAddress: peer, remotePort: 80) else { return XCTFail("removal frees") }
        XCTAssertEqual(again.tuple.localPort, freed)
        XCTAssertEqual(t.count, 4)
    }

    func testConnectLeavesExplicitlyBoundPortsAlone() {
        var t = table(50000...50002)
        XCTAssertEqual(t.bind(socket: 1, address: b, port: 50001, reuseAddress: true, uid: 1000), .success(50001))
        var ports = Set<UInt16>()
        for s in UInt32(2)...3 {
            guard case .success(let c) = t.connect(socket: s, localAddress: a, remoteAddress: peer, remotePort: 80) else { return XCTFail() }
            ports.insert(c.tuple.localPort)
        }
        XCTAssertEqual(ports, [50000, 50002])
        XCTAssertEqual(t.connect(socket: 4, localAddress: a, remoteAddress: peer, remotePort: 80).map { _ in 0 }, .failure(.addressNotAvailable))
        // And bind respects the connections' ports as any other user's.
        XCTAssertEqual(t.bind(socket: 5, address: a, port: 50000, reuseAddress: false, uid: 1000), .failure(.addressInUse))
    }

    func testATimeWaitTupleIsReusedOnlyWhenTheCallerAllows() {
        var t = table(50000...50000)
        guard case .success(let first) = t.connect(socket: 1, localAddress: a, remoteAddress: peer, remotePort: 80) else { return XCTFail() }
        XCTAssertTrue(t.enterTimeWait(socket: 1))
        XCTAssertEqual(t.connectionCount, 0)
        XCTAssertEqual(t.connect(socket: 2, localAddress: a, remoteAddress: peer, remotePort: 80).map { _ in 0 }, .failure(.addressNotAvailable))
        XCTAssertEqual(t.connect(socket: 2, localAddress: a, remoteAddress: peer, remotePort: 80, reuseTimeWait: true),
                       .success(ConnectionTable.Connection(tuple: first.tuple, displaced: 1)))
        XCTAssertNil(t.entry(of: 1))
        XCTAssertEqual(t.timeWaitCount, 0)
        XCTAssertEqual(t.lookup(first.tuple), .connection(2))
        XCTAssertEqual(t.connect(socket: 3, localAddress: a, remoteAddress: peer, remotePort: 80, reuseTimeWait: true).map { _ in 0 },
                       .failure(.addressNotAvailable), "a live connection is never displaced")
    }

    func testConnectFromABoundSocket() {
        var t = table()
        XCTAssertEqual(t.bind(socket: 1, address: wildcard, port: 7000, reuseAddress: true, uid: 1000), .success(7000))
        let tuple = FourTuple(localAddress: a, localPort: 7000, remoteAddress: peer, remotePort: 80)
        XCTAssertEqual(t.connect(socket: 1, localAddress: a, remoteAddress: peer, remotePort: 80), .success(.init(tuple: tuple, displaced: nil)))
        XCTAssertEqual(t.entry(of: 1)?.localAddress, a, "connecting fixes the wildcard to the source address")
        XCTAssertEqual(t.entry(of: 1)?.portFromConnect, false)
        XCTAssertEqual(t.connect(socket: 1, localAddress: a, remoteAddress: peer, remotePort: 81).map { _ in 0 }, .failure(.alreadyConnected))

        XCTAssertEqual(t.bind(socket: 2, address: a, port: 7000, reuseAddress: true, uid: 1000), .success(7000))
        XCTAssertEqual(t.connect(socket: 2, localAddress: a, remoteAddress: peer, remotePort: 80).map { _ in 0 }, .failure(.addressNotAvailable),
                       "the same four-tuple, as Linux answers")
        XCTAssertEqual(t.entry(of: 2)?.role, .bound, "a refused connect leaves the socket bound")
        XCTAssertNoThrow(try t.connect(socket: 2, localAddress: a, remoteAddress: peer, remotePort: 81).get())

        listener(&t, 3, b, 8000)
        XCTAssertEqual(t.connect(socket: 3, localAddress: b, remoteAddress: peer, remotePort: 80).map { _ in 0 }, .failure(.alreadyConnected),
                       "EISCONN for a listener, as Linux")
        XCTAssertEqual(t.connect(socket: 4, localAddress: a, remoteAddress: 0, remotePort: 80).map { _ in 0 }, .failure(.invalid))
        XCTAssertEqual(t.connect(socket: 4, localAddress: a, remoteAddress: peer, remotePort: 0).map { _ in 0 }, .failure(.invalid))
        XCTAssertEqual(t.connect(socket: 4, localAddress: 0, remoteAddress: peer, remotePort: 80).map { _ in 0 }, .failure(.invalid))
    }

    // MARK: - removal, counts, iteration

    func testRemovalFreesEverythingAndEntriesAreOrdered() {
        var t = table()
        listener(&t, 1, wildcard, 80)
        let tuple = FourTuple(localAddress: a, localPort: 80, remoteAddress: peer, remotePort: 5000)
        XCTAssertNoThrow(try t.accept(socket: 2, listener: 1, tuple: tuple).get())
        XCTAssertEqual(t.bind(socket: 3, address: b, port: 22, reuseAddress: false, uid: 0), .success(22))
        XCTAssertEqual(t.count, 3)
        XCTAssertEqual(t.entries.map(\.socket), [3, 1, 2], "by port, then address")
        XCTAssertEqual(t.entries.map(\.role), [.bound, .listening, .connected])
        XCTAssertEqual(t.entries[2].tuple, tuple)
        XCTAssertNil(t.entries[1].tuple)

        t.remove(socket: 1)
        XCTAssertEqual(t.listenerCount, 0)
        XCTAssertNil(t.lookup(FourTuple(localAddress: a, localPort: 80, remoteAddress: peer, remotePort: 5001)))
        XCTAssertEqual(t.lookup(tuple), .connection(2), "the accepted connection outlives its listener")
        t.remove(socket: 2)
        XCTAssertNil(t.lookup(tuple))
        XCTAssertEqual(t.connectionCount, 0)
        t.remove(socket: 2)  // twice: nothing happens
        XCTAssertEqual(t.bind(socket: 4, address: wildcard, port: 80, reuseAddress: false, uid: 0), .success(80), "port 80 is free again")
        XCTAssertEqual(t.count, 2)
        XCTAssertFalse(t.enterTimeWait(socket: 4), "a bound socket has no connection to wait on")
    }
}
