import CNewsLinux
import Foundation
import Glibc
import NewsIPC
import NewsSystem
import XCTest
@testable import Kernel
@testable import libnews

/// TCPSocket against newsd's broker and a stand-in for tcpserver (`FakeNews`) that plays the
/// stack's end of each real stream region.
final class TCPSocketTests: XCTestCase {
    var fake: FakeNews!
    var stack: NewsStack!

    override func setUpWithError() throws {
        fake = try FakeNews()
        stack = try NewsStack(socketPath: fake.path)
    }

    override func tearDown() {
        stack = nil
        fake.stop()
    }

    /// The errno a call failed with (nil: it did not fail).
    func errno(_ body: () throws -> Void) -> Int32? {
        do { try body(); return nil } catch let e as SocketError { return e.errno } catch {
            XCTFail("not a SocketError: \(error)")
            return -1
        }
    }

    func connected(_ send: Int? = nil, _ receive: Int? = nil) throws -> TCPSocket {
        let s = try TCPSocket(stack: stack)
        if let send { try s.setOption(.sendBuffer(send)) }
        if let receive { try s.setOption(.receiveBuffer(receive)) }
        try s.connect(address: 0xC612_0001, port: 80)
        return s
    }

    func pattern(_ n: Int, seed: Int = 0) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ seed) } }

    func read(_ s: TCPSocket, max: Int, flags: TCPSocket.MessageFlags = []) throws -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: max)
        let n = try buffer.withUnsafeMutableBytes { b throws(SocketError) in try s.receive(into: b, flags: flags) }
        return Array(buffer[..<n])
    }

    // MARK: - Control requests

    func testBindListenAndAcceptAnnouncedConnections() throws {
        let l = try TCPSocket(stack: stack)
        try l.setOption(.reuseAddress(true))
        try l.bind(port: 8080)
        XCTAssertEqual(l.localAddress?.port, 8080)
        XCTAssertEqual(l.localAddress?.address, FakeNews.localAddress)
        XCTAssertEqual(errno { try l.bind(port: 8081) }, EINVAL, "bound once")
        try l.listen(backlog: 2)
        let bind = try fake.with(l.id) { $0.requests(.socketBind) }
        XCTAssertEqual(bind.count, 1)
        XCTAssertEqual(bind.first.map { [$0.arg.0, $0.arg.1, $0.arg.2] }, [0, 8080, 1], "SO_REUSEADDR travels with bind")
        XCTAssertEqual(try fake.with(l.id) { $0.requests(.socketListen).map(\.arg.0) }, [2])
        XCTAssertTrue(fake.eventually { self.fake.spares(of: l.id).count == 2 })

        l.nonBlocking = true
        XCTAssertEqual(errno { _ = try l.accept() }, EAGAIN)
        XCTAssertFalse(l.readable)

        // tcpserver completes a handshake on a spare and announces it; the data that came with
        // it is there at once.
        let spare = try XCTUnwrap(fake.spares(of: l.id).first)
        try fake.with(spare) { s in
            s.end.header.set(local: FakeNews.localAddress, port: 8080)
            s.end.header.set(remote: 0xC612_0009, port: 33333)
            s.end.setEstablished()
            XCTAssertTrue(s.deliver(Array("hello".utf8)))
        }
        // A malformed announcement (id 0) and one for a socket newsd never made are skipped.
        XCTAssertTrue(try fake.with(l.id) { $0.announce(0, peer: 1, port: 1) })
        XCTAssertTrue(try fake.with(l.id) { $0.announce(999_999, peer: 1, port: 1) })
        XCTAssertTrue(try fake.with(l.id) { $0.announce(spare, peer: 0xC612_0009, port: 33333) })
        XCTAssertTrue(l.readable)
        let c = try l.accept()
        XCTAssertEqual(c.id, spare)
        XCTAssertEqual(c.peerAddress?.address, 0xC612_0009)
        XCTAssertEqual(c.peerAddress?.port, 33333)
        XCTAssertEqual(c.localAddress?.port, 8080)
        XCTAssertEqual(try read(c, max: 100), Array("hello".utf8))
        XCTAssertEqual(errno { _ = try l.accept() }, EAGAIN)
        // The region came from the listener's pool, mapped at listen: newsd heard no accept.
        XCTAssertEqual(fake.broker.counters.tcpAccepts, 0)
        XCTAssertEqual(fake.broker.counters.poolHandOvers, 2, "one at listen, one for the unknown announcement")
        XCTAssertEqual(errno { _ = try c.accept() }, EINVAL)
        XCTAssertEqual(errno { try l.connect(address: 1, port: 1) }, EISCONN)
        XCTAssertEqual(errno { _ = try l.send([1]) }, EPIPE)
        XCTAssertEqual(errno { _ = try self.read(l, max: 1) }, ENOTCONN)
    }

    func testBlockingAcceptSleepsUntilAConnectionIsAnnounced() throws {
        let l = try TCPSocket(stack: stack)
        try l.listen(backlog: 1)
        XCTAssertTrue(fake.eventually { self.fake.spares(of: l.id).count == 1 })
        let spare = fake.spares(of: l.id)[0]
        XCTAssertTrue(try fake.with(l.id) { $0.announce(0, peer: 1, port: 1) })
        XCTAssertFalse(l.readable, "garbage on the up ring is dropped, not a connection")
        let fake = self.fake!, lid = l.id
        DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(50)) {
            _ = try? fake.with(spare) { $0.end.setEstablished() }
            _ = try? fake.with(lid) { $0.announce(spare, peer: 7, port: 7) }
        }
        let started = Clock.nanos()
        let c = try l.accept()
        XCTAssertEqual(c.id, spare)
        XCTAssertGreaterThan(Clock.nanos() - started, 30_000_000, "it waited for the announcement")
    }

    func testBlockingConnectWaitsForTheHandshake() throws {
        fake.connectOutcome = .nothing
        let s = try TCPSocket(stack: stack)
        let fake = self.fake!, id = s.id
        DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(50)) {
            _ = try? fake.with(id) { $0.end.setEstablished() }
        }
        let started = Clock.nanos()
        try s.connect(address: 0xC612_0001, port: 443)
        XCTAssertGreaterThan(Clock.nanos() - started, 30_000_000)
        XCTAssertEqual(s.peerAddress?.address, 0xC612_0001)
        XCTAssertEqual(s.peerAddress?.port, 443)
        XCTAssertTrue(s.writable)
        XCTAssertEqual(errno { try s.connect(address: 1, port: 1) }, EISCONN)
        XCTAssertEqual(errno { try s.listen() }, EINVAL)
    }

    func testConnectFailuresAreTheStacksErrno() throws {
        fake.connectOutcome = .reset(ECONNREFUSED)
        let refused = try TCPSocket(stack: stack)
        XCTAssertEqual(errno { try refused.connect(address: 1, port: 9) }, ECONNREFUSED)
        XCTAssertEqual(errno { _ = try refused.send([1]) }, EPIPE, "reported once, then EPIPE")
        XCTAssertEqual(try read(refused, max: 4), [])
        XCTAssertEqual(errno { try refused.connect(address: 1, port: 9) }, EINVAL)

        fake.connectOutcome = .reset(ETIMEDOUT)
        let timedOut = try TCPSocket(stack: stack)
        XCTAssertEqual(errno { try timedOut.connect(address: 1, port: 9) }, ETIMEDOUT)

        // A refusal in the answer itself (before any SYN).
        fake.results[MessageKind.socketConnect.rawValue] = -ENETUNREACH
        let unreachable = try TCPSocket(stack: stack)
        XCTAssertEqual(errno { try unreachable.connect(address: 1, port: 9) }, ENETUNREACH)
        // A stack answering nonsense is EIO, not a crash or a strange errno.
        fake.results[MessageKind.socketConnect.rawValue] = 12345
        XCTAssertEqual(errno { try TCPSocket(stack: self.stack).connect(address: 1, port: 9) }, EIO)
    }

    func testNonBlockingConnectIsInProgressThenWritable() throws {
        fake.connectOutcome = .nothing
        let s = try TCPSocket(stack: stack)
        s.nonBlocking = true
        XCTAssertEqual(errno { try s.connect(address: 0xC612_0001, port: 80) }, EINPROGRESS)
        XCTAssertEqual(errno { try s.connect(address: 0xC612_0001, port: 80) }, EALREADY)
        XCTAssertFalse(s.writable)
        XCTAssertEqual(errno { _ = try s.send([1]) }, EAGAIN)
        XCTAssertEqual(errno { _ = try self.read(s, max: 1) }, EAGAIN)
        XCTAssertEqual(NewsPoll.wait([NewsPoll.Entry(s, .writable)], timeoutNanos: 0), [[]])
        try fake.with(s.id) { $0.end.setEstablished() }
        XCTAssertEqual(NewsPoll.wait([NewsPoll.Entry(s, .writable)], timeoutNanos: 1_000_000_000), [.writable])
        XCTAssertEqual(s.connectResult(), 0)
        XCTAssertEqual(try s.send([1, 2, 3]), 3)

        let failing = try TCPSocket(stack: stack)
        failing.nonBlocking = true
        XCTAssertEqual(errno { try failing.connect(address: 1, port: 1) }, EINPROGRESS)
        try fake.with(failing.id) { $0.end.setReset(errno: ECONNREFUSED) }
        XCTAssertTrue(failing.writable)
        XCTAssertEqual(failing.connectResult(), ECONNREFUSED)
        XCTAssertEqual(failing.connectResult(), 0, "SO_ERROR clears it")
    }

    // MARK: - Data

    func testSendAndReceiveCopyThroughTheAreasAcrossTheWrap() throws {
        let s = try connected(4096, 4096)
        XCTAssertEqual(s.sendBufferSize, 4096)
        XCTAssertEqual(s.receiveBufferSize, 4096)
        s.nonBlocking = true
        var sent: [UInt8] = []
        for round in 0..<5 {  // 5 × 3000 bytes through 4096-byte areas: every round after the first wraps
            let out = pattern(3000, seed: round)
            XCTAssertEqual(try s.send(out), 3000)
            sent += try fake.with(s.id) { $0.takeSent() }
            let incoming = pattern(3000, seed: 100 + round)
            XCTAssertTrue(try fake.with(s.id) { $0.deliver(incoming) })
            XCTAssertEqual(s.availableBytes, 3000)
            XCTAssertEqual(try read(s, max: 1000, flags: .peek), Array(incoming[..<1000]))
            XCTAssertEqual(s.availableBytes, 3000, "a peek consumes nothing")
            XCTAssertEqual(try read(s, max: 3000), incoming)
            XCTAssertEqual(s.availableBytes, 0)
        }
        var expected: [UInt8] = []
        for round in 0..<5 { expected += pattern(3000, seed: round) }
        XCTAssertEqual(sent, expected)

        // writev gathers, readv scatters (across the wrap too).
        let parts = [pattern(100, seed: 1), pattern(2000, seed: 2), pattern(900, seed: 3)]
        let n = try parts[0].withUnsafeBytes { a in try parts[1].withUnsafeBytes { b in try parts[2].withUnsafeBytes { c in
            try s.writev([a, b, c])
        } } }
        XCTAssertEqual(n, 3000)
        XCTAssertEqual(try fake.with(s.id) { $0.takeSent() }, parts.flatMap { $0 })
        let incoming = pattern(2500, seed: 9)
        XCTAssertTrue(try fake.with(s.id) { $0.deliver(incoming) })
        var x = [UInt8](repeating: 0, count: 1000), y = [UInt8](repeating: 0, count: 1000), z = [UInt8](repeating: 0, count: 1000)
        let got = try x.withUnsafeMutableBytes { a in try y.withUnsafeMutableBytes { b in try z.withUnsafeMutableBytes { c in
            try s.readv([a, b, c])
        } } }
        XCTAssertEqual(got, 2500)
        XCTAssertEqual(x + y + Array(z[..<500]), incoming)
    }

    func testNonBlockingCallsFailWithEAGAINAndSendsArePartial() throws {
        let s = try connected(4096, 4096)
        XCTAssertEqual(errno { _ = try self.read(s, max: 10, flags: .dontWait) }, EAGAIN)
        s.nonBlocking = true
        XCTAssertEqual(errno { _ = try self.read(s, max: 10) }, EAGAIN)
        XCTAssertEqual(try s.send(pattern(5000)), 4096, "as much as fits")
        XCTAssertEqual(errno { _ = try s.send([1]) }, EAGAIN)
        XCTAssertFalse(s.writable)
        XCTAssertEqual(try fake.with(s.id) { $0.takeSent() }, pattern(4096))
        XCTAssertTrue(s.writable)
        s.nonBlocking = false
        XCTAssertEqual(try s.send([1, 2], flags: .dontWait), 2)
    }

    func testBlockingSendWaitsForAcknowledgements() throws {
        let s = try connected(4096, 4096)
        let data = pattern(20_000, seed: 5)
        let fake = self.fake!, id = s.id
        let collected = LockedBytes()
        DispatchQueue.global().async {
            let deadline = Clock.nanos() + 5_000_000_000
            while collected.count < 20_000 && Clock.nanos() < deadline {
                if let part = try? fake.with(id, { $0.takeSent() }) { collected.append(part) }
                usleep(500)
            }
        }
        XCTAssertEqual(try s.send(data), 20_000)
        XCTAssertTrue(fake.eventually { collected.count == 20_000 })
        XCTAssertEqual(collected.bytes, data)
    }

    func testWaitAllWaitsForTheWholeBuffer() throws {
        let s = try connected(4096, 4096)
        let data = pattern(10_000, seed: 3)
        let fake = self.fake!, id = s.id
        DispatchQueue.global().async {
            var at = 0
            let deadline = Clock.nanos() + 5_000_000_000
            while at < data.count && Clock.nanos() < deadline {
                let chunk = Array(data[at..<min(at + 700, data.count)])
                if (try? fake.with(id, { $0.deliver(chunk) })) == true { at += chunk.count }
                usleep(300)
            }
        }
        XCTAssertEqual(try read(s, max: 10_000, flags: .waitAll), data)
    }

    func testEndOfStreamAfterThePeersFIN() throws {
        let s = try connected()
        try fake.with(s.id) { s in
            s.deliver(Array("bye".utf8))
            s.end.setPeerFinished()
        }
        XCTAssertTrue(s.readable)
        XCTAssertEqual(try read(s, max: 100, flags: .waitAll), Array("bye".utf8), "the stream ends before the buffer fills")
        XCTAssertEqual(try read(s, max: 100), [])
        XCTAssertEqual(try read(s, max: 100), [])
        XCTAssertTrue(s.readable)
        XCTAssertEqual(try s.send([1]), 1, "the other direction stays open")
    }

    func testResetIsReportedOnceAfterTheDataThenEOFAndEPIPE() throws {
        let s = try connected()
        try fake.with(s.id) { s in
            s.deliver([1, 2, 3])
            s.end.setReset(errno: ECONNRESET)
        }
        XCTAssertTrue(s.readable)
        XCTAssertTrue(s.writable)
        XCTAssertEqual(try read(s, max: 10), [1, 2, 3])
        XCTAssertEqual(errno { _ = try self.read(s, max: 10) }, ECONNRESET)
        XCTAssertEqual(try read(s, max: 10), [])
        XCTAssertEqual(errno { _ = try s.send([1]) }, EPIPE)

        let t = try connected()
        try fake.with(t.id) { $0.end.setReset(errno: ECONNRESET) }
        XCTAssertEqual(errno { _ = try t.send([1]) }, ECONNRESET, "whichever call comes first reports it")
        XCTAssertEqual(errno { _ = try t.send([1]) }, EPIPE)
        XCTAssertEqual(try read(t, max: 10), [])
    }

    func testShutdown() throws {
        let fresh = try TCPSocket(stack: stack)
        XCTAssertEqual(errno { try fresh.shutdown(.write) }, ENOTCONN)
        let s = try connected()
        XCTAssertEqual(try s.send([1, 2]), 2)
        try s.shutdown(.write)
        XCTAssertEqual(errno { _ = try s.send([3]) }, EPIPE)
        try fake.with(s.id) { st in
            XCTAssertEqual(st.takeSent(), [1, 2])
            XCTAssertEqual(st.end.state.finalSendTail, 2, "the FIN follows the last byte")
        }
        try s.shutdown(.read)
        XCTAssertEqual(try read(s, max: 4), [], "a shut read side returns 0, it does not wait")
        try fake.with(s.id) { $0.deliver([9]) }
        XCTAssertEqual(try read(s, max: 4), [9], "what still arrives is kept, as on Linux")
    }

    func testImpossibleStackWordsGiveEIONotACrash() throws {
        let s = try connected(4096, 4096)
        try fake.with(s.id) { st in
            // recv_tail far beyond the area: reading it would run past the region.
            let recvTail = (st.region.base + StreamLayout.stackLineOffset + 8).assumingMemoryBound(to: UInt64.self)
            news_store_release_u64(recvTail, 1 << 40)
        }
        XCTAssertEqual(errno { _ = try self.read(s, max: 10) }, EIO)
        XCTAssertEqual(errno { _ = try self.read(s, max: 10) }, EIO, "latched")
        XCTAssertEqual(errno { _ = try s.send([1]) }, EIO)
        XCTAssertTrue(s.readable, "poll says ready, so the call reports it")
        XCTAssertEqual(s.availableBytes, 0)
        s.close()
    }

    // MARK: - Options, sizes, info

    func testOptionsTravelToTheStack() throws {
        let s = try TCPSocket(stack: stack)
        try s.setOption(.noDelay(true))
        try s.setOption(.keepAlive(true))
        try s.setOption(.keepIdle(30))
        try s.setOption(.keepInterval(5))
        try s.setOption(.keepCount(4))
        try s.setOption(.linger(nil))
        try s.setOption(.linger(0))
        XCTAssertEqual(errno { try s.setOption(.keepCount(0)) }, EINVAL)
        XCTAssertEqual(errno { try s.setOption(.keepIdle(40000)) }, EINVAL)
        XCTAssertEqual(errno { try s.setOption(.linger(-2)) }, EINVAL)
        let sent = try fake.with(s.id) { $0.requests(.socketOption).map { [$0.arg.0, $0.arg.1] } }
        XCTAssertEqual(sent, [[1, 1], [2, 1], [3, 30], [4, 5], [5, 4], [6, UInt64.max], [6, 0]])
        fake.results[MessageKind.socketOption.rawValue] = -ENOPROTOOPT
        XCTAssertEqual(errno { try s.setOption(.keepCount(3)) }, ENOPROTOOPT)
        // TCP_NODELAY and SO_KEEPALIVE are posted without waiting for the answer (tcpserver
        // answers them with 0 whatever the value): they still travel, in order.
        try s.setOption(.noDelay(false))
        XCTAssertTrue(fake.eventually { ((try? self.fake.with(s.id) { $0.requests(.socketOption).last?.arg.0 }) ?? nil) == 1 })
    }

    /// A listener's connections come from its pool (docs/TCP-SOCKETS.md): accepting one and
    /// closing it are no request to newsd; the close is the region's released bit, after the
    /// FIN's shutdown bit, and the region stays mapped for its next connection.
    func testPooledConnectionsAreAcceptedAndClosedWithoutNewsd() throws {
        let l = try TCPSocket(stack: stack)
        try l.listen(backlog: 4)
        XCTAssertTrue(fake.eventually { self.fake.spares(of: l.id).count == 4 })
        XCTAssertEqual(fake.broker.counters.poolHandOvers, 1)
        l.nonBlocking = true
        let spare = try XCTUnwrap(fake.spares(of: l.id).first)
        try fake.with(spare) { s in
            s.end.header.set(remote: 0xC612_0009, port: 4444)
            s.end.setEstablished()
            XCTAssertTrue(s.deliver(Array("GET".utf8)))
        }
        XCTAssertTrue(try fake.with(l.id) { $0.announce(spare, peer: 0xC612_0009, port: 4444) })
        let linesBefore = fake.lines
        let c = try l.accept()
        XCTAssertEqual(c.id, spare)
        XCTAssertEqual(try read(c, max: 10), Array("GET".utf8))
        XCTAssertEqual(try c.send(Array("200".utf8)), 3)
        c.close()
        XCTAssertEqual(errno { _ = try c.send([1]) }, EBADF)
        let flags = try fake.with(spare) { $0.end.takeAppFlags() }
        XCTAssertTrue(flags.contains(.released), "\(flags)")
        XCTAssertTrue(flags.contains(.writeShutdown), "a FIN follows what was sent")
        XCTAssertEqual(try fake.with(spare) { $0.takeSent() }, Array("200".utf8))
        usleep(20_000)
        XCTAssertEqual(fake.lines, linesBefore, "tcpserver heard nothing from newsd: no close, no new spare")
        XCTAssertEqual(fake.broker.counters.tcpAccepts, 0)
        XCTAssertEqual(fake.broker.counters.poolHandOvers, 1)

        // Closing the listener: the free regions are closed through newsd (they are the
        // application's sockets once their listener is gone), and so is the listener.
        let others = fake.spares(of: l.id).filter { $0 != spare }
        l.close()
        XCTAssertTrue(fake.eventually { others.allSatisfy { id in self.fake.lines.contains("close \(id)") } }, "\(fake.lines)")
        XCTAssertTrue(fake.lines.contains("close \(l.id)"))
    }

    func testTheListenerPoolAsksForMoreWhenFewAreFree() {
        XCTAssertFalse(ListenerPool.wantsRefill(free: 8, total: 32))
        XCTAssertTrue(ListenerPool.wantsRefill(free: 7, total: 32), "fewer than 8 free of 32")
        XCTAssertFalse(ListenerPool.wantsRefill(free: 2, total: 8))
        XCTAssertTrue(ListenerPool.wantsRefill(free: 1, total: 8), "fewer than a quarter")
        XCTAssertTrue(ListenerPool.wantsRefill(free: 0, total: 1), "none left")
        XCTAssertFalse(ListenerPool.wantsRefill(free: 1, total: 1))
        XCTAssertFalse(ListenerPool.wantsRefill(free: 20, total: 200), "a big pool with room need not grow")
    }

    func testARefusedRefillIsNotAskedAgainForASecond() {
        let pool = ListenerPool()
        XCTAssertFalse(pool.refillRefused(now: 5))
        pool.refused(at: 1_000)
        XCTAssertTrue(pool.refillRefused(now: 1_000 + ListenerPool.refillBackoff - 1))
        XCTAssertFalse(pool.refillRefused(now: 1_000 + ListenerPool.refillBackoff))
        XCTAssertFalse(pool.refillRefused(now: 1_000 + ListenerPool.refillBackoff + 1), "and it is forgotten")
    }

    func testBufferSizesRecreateTheRegionAndKeepTheBindingAndOptions() throws {
        let s = try TCPSocket(stack: stack)
        try s.bind(port: 0)
        let port = try XCTUnwrap(s.localAddress?.port)
        try s.setOption(.keepAlive(true))
        let old = s.id
        try s.setOption(.receiveBuffer(100_000))
        XCTAssertNotEqual(s.id, old)
        XCTAssertEqual(s.receiveBufferSize, 131_072, "rounded up to a power of two")
        XCTAssertEqual(s.sendBufferSize, StreamLayout.defaultSendSize)
        XCTAssertTrue(fake.eventually { self.fake.lines.contains("close \(old)") })
        XCTAssertEqual(s.localAddress?.port, port, "the ephemeral port is asked for again")
        let replayed = try fake.with(s.id) { st in (st.requests(.socketBind).map(\.arg.1), st.requests(.socketOption).map(\.arg.0)) }
        XCTAssertEqual(replayed.0, [UInt64(port)])
        XCTAssertEqual(replayed.1, [SocketOption.keepAlive.rawValue])
        try s.setOption(.sendBuffer(1))
        XCTAssertEqual(s.sendBufferSize, StreamLayout.minAreaSize)
        try s.setOption(.sendBuffer(1 << 30))
        XCTAssertEqual(s.sendBufferSize, StreamLayout.maxAreaSize)
        let id = s.id
        try s.setOption(.sendBuffer(StreamLayout.maxAreaSize))
        XCTAssertEqual(s.id, id, "the same size needs no new region")

        let c = try connected()
        XCTAssertEqual(errno { try c.setOption(.sendBuffer(8192)) }, EINVAL, "after connect: EINVAL in NEWS")
    }

    func testInfoComesFromTheStacksInfoLine() throws {
        let s = try connected()
        var info = StreamInfo()
        info.rttMicros = 1200; info.rttVarianceMicros = 300; info.rtoMicros = 201_000
        info.sendCongestionWindow = 14_600; info.sendSlowStartThreshold = UInt32.max
        info.sendMSS = 1460; info.receiveMSS = 1400; info.totalRetransmissions = 3
        info.unacknowledged = 2; info.sendWindow = 65_535; info.receiveWindow = 262_144
        try fake.with(s.id) { st in
            st.end.publish(info: info)
            st.end.set(tcpState: 4)
            st.deliver([1, 2, 3])
        }
        XCTAssertEqual(try s.send([1, 2, 3, 4, 5]), 5)
        let got = s.info
        XCTAssertEqual(got.stack, info)
        XCTAssertEqual(got.state, 4)
        XCTAssertEqual(got.unreadBytes, 3)
        XCTAssertEqual(got.unacknowledgedBytes, 5)
    }

    // MARK: - Poll and close

    func testPollAcrossUDPAndTCP() throws {
        let u = try UDPSocket(stack: stack)
        let t = try connected()
        let l = try TCPSocket(stack: stack)
        try l.listen(backlog: 1)
        XCTAssertTrue(fake.eventually { self.fake.spares(of: l.id).count == 1 })
        let entries = [NewsPoll.Entry(u), NewsPoll.Entry(t, [.readable, .writable]), NewsPoll.Entry(l), NewsPoll.Entry(t)]
        XCTAssertEqual(NewsPoll.wait(entries, timeoutNanos: 0), [[], .writable, [], []])
        XCTAssertEqual(NewsPoll.wait(Array(entries[2...]), timeoutNanos: 20_000_000), [[], []], "times out")

        let fake = self.fake!, tid = t.id, lid = l.id, spare = fake.spares(of: l.id)[0]
        DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(40)) { _ = try? fake.with(tid) { $0.deliver([7]) } }
        let started = Clock.nanos()
        XCTAssertEqual(NewsPoll.wait(Array(entries[2...]), timeoutNanos: 2_000_000_000), [[], .readable])
        XCTAssertGreaterThan(Clock.nanos() - started, 20_000_000, "it slept until the data came")
        XCTAssertEqual(try read(t, max: 4), [7])

        DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(40)) { _ = try? fake.with(lid) { $0.announce(spare, peer: 1, port: 2) } }
        XCTAssertEqual(NewsPoll.wait([NewsPoll.Entry(l), NewsPoll.Entry(t)], timeoutNanos: 2_000_000_000), [.readable, []])
        XCTAssertEqual(try l.accept().id, spare)
    }

    func testCloseSendsFINThenClosesAndLingerZeroAborts() throws {
        let s = try connected()
        let id = s.id
        XCTAssertEqual(try s.send([1, 2, 3]), 3)
        s.close()
        XCTAssertEqual(errno { _ = try s.send([1]) }, EBADF)
        XCTAssertEqual(errno { _ = try self.read(s, max: 1) }, EBADF)
        XCTAssertEqual(s.info.stack, StreamInfo(), "nothing of the unmapped region is read")
        XCTAssertEqual(NewsPoll.wait([NewsPoll.Entry(s, [])], timeoutNanos: nil), [.readable], "a closed socket is ready (POLLNVAL)")
        XCTAssertTrue(fake.eventually { self.fake.lines.contains("close \(id)") })

        XCTAssertTrue(fake.eventually { self.fake.closed(id) != nil })
        let closedEnd = try XCTUnwrap(fake.closed(id))
        XCTAssertEqual(closedEnd.takeSent(), [1, 2, 3], "what was sent is still there for the stack")
        XCTAssertEqual(closedEnd.end.state.finalSendTail, 3, "and a FIN follows it")

        let a = try connected()
        try a.setOption(.linger(0))
        let aid = a.id
        a.close()
        XCTAssertTrue(fake.eventually { self.fake.closed(aid) != nil })
        let aborted = try XCTUnwrap(fake.closed(aid))
        _ = aborted.takeSent()
        XCTAssertNil(aborted.end.state.finalSendTail, "SO_LINGER 0: close aborts, it does not finish the stream")
        XCTAssertTrue(fake.eventually { self.fake.lines.contains("close \(aid)") })
    }
}

/// Bytes collected on another thread.
final class LockedBytes: @unchecked Sendable {
    private let lock = NSLock()
    private var data: [UInt8] = []
    func append(_ b: [UInt8]) { lock.withLock { data += b } }
    var count: Int { lock.withLock { data.count } }
    var bytes: [UInt8] { lock.withLock { data } }
}
