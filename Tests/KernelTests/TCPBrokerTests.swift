@testable import Kernel
import Glibc
import NewsConfig
import NewsIPC
import NewsSystem
import XCTest

/// The app broker's TCP paths (docs/TCP-SOCKETS.md), with the test reading both servers'
/// control sockets: stream regions, listeners and their spares, accept, close, limits, the
/// outbox of a hung tcpserver, and the hand-over again after a tcpserver restart.
final class TCPBrokerTests: XCTestCase {
    var dir = ""
    var udp: (newsd: Int32, server: Int32) = (-1, -1)
    var tcp: (newsd: Int32, server: Int32) = (-1, -1)
    var brokerEnd: [Int32: Int32] = [:]

    override func setUpWithError() throws {
        dir = "/tmp/news-tcpbroker-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        mkdir(dir, 0o700)
        let u = try UnixSocket.seqpacketPair(), t = try UnixSocket.seqpacketPair()
        udp = (u.0, u.1)
        tcp = (t.0, t.1)
        try FD.setNonBlocking(udp.server)
        try FD.setNonBlocking(tcp.server)
    }

    override func tearDown() {
        [udp.newsd, udp.server, tcp.newsd, tcp.server].forEach(FD.close)
        unlink(dir + "/app.sock")
        rmdir(dir)
    }

    func makeBroker(_ limits: Config.Limits = Config.Limits(), withTCP: Bool = true) throws -> AppBroker {
        try AppBroker(path: dir + "/app.sock", group: nil, limits: limits, udpControl: udp.newsd, tcpControl: withTCP ? tcp.newsd : nil)
    }

    func connect(_ broker: AppBroker) throws -> Int32 {
        let fd = try UnixSocket.connect(path: dir + "/app.sock")
        try FD.setNonBlocking(fd)
        let before = Set(broker.apps.map(\.fd))
        broker.readable(broker.listenFD)
        brokerEnd[fd] = broker.apps.map(\.fd).first { !before.contains($0) }
        XCTAssertEqual(answers(fd).map(\.line), ["hello 1"])
        return fd
    }

    struct Answer { let line: String; let fds: [Int32] }

    /// What the application was sent: each line with the descriptors that came with it.
    func answers(_ fd: Int32) -> [Answer] {
        var out: [Answer] = []
        while let got = try? UnixSocket.receive(fd, max: 65536, maxFDs: 8), !got.bytes.isEmpty {
            let lines = String(decoding: got.bytes, as: UTF8.self).split(separator: "\n").map(String.init)
            for (i, l) in lines.enumerated() { out.append(Answer(line: l, fds: i == 0 ? got.fds : [])) }
        }
        return out
    }

    func ask(_ broker: AppBroker, _ app: Int32, _ text: String) -> [Answer] {
        try? FD.writeAll(app, text + "\n")
        if let end = brokerEnd[app] { broker.readable(end) }
        return answers(app)
    }

    /// One `ok ID` answer with its region and kick: checks them and returns the id and region.
    func opened(_ a: [Answer], file: StaticString = #filePath, line: UInt = #line) throws -> (id: UInt32, region: Int32) {
        XCTAssertEqual(a.count, 1, "\(a.map(\.line))", file: file, line: line)
        let first = try XCTUnwrap(a.first, file: file, line: line)
        XCTAssertTrue(first.line.hasPrefix("ok "), first.line, file: file, line: line)
        XCTAssertEqual(first.fds.count, 2, file: file, line: line)
        let id = try XCTUnwrap(UInt32(first.line.dropFirst(3)), file: file, line: line)
        if first.fds.count == 2 { FD.close(first.fds[1]) }
        return (id, first.fds.first ?? -1)
    }

    /// The area sizes (send, receive) of a region descriptor, checked as an application would (and closes it).
    func geometry(_ fd: Int32, id: UInt32) throws -> [Int] {
        defer { FD.close(fd) }
        var st = stat()
        XCTAssertEqual(fstat(fd, &st), 0)
        let r = try SharedRegion(fd: fd, size: Int(st.st_size), name: "test")
        defer { r.unmap() }
        let g = try StreamGeometry.read(r.base, mappedSize: r.size, id: id)
        return [g.sendSize, g.receiveSize]
    }

    struct HandOff { let line: String; let fds: [Int32] }

    /// What a server reads now from its control socket.
    func handOffs(_ fd: Int32) -> [HandOff] {
        var out: [HandOff] = []
        while let got = try? UnixSocket.receive(fd, max: 256, maxFDs: 2), !got.bytes.isEmpty {
            out.append(HandOff(line: String(decoding: got.bytes, as: UTF8.self), fds: got.fds))
        }
        return out
    }

    func closeAll(_ h: [HandOff]) { h.forEach { $0.fds.forEach(FD.close) } }

    func testTCPSocketsGetStreamRegionsOfTheSizesAsked() throws {
        let broker = try makeBroker()
        let app = try connect(broker)
        let plain = try opened(ask(broker, app, "tcp"))
        XCTAssertEqual(try geometry(plain.region, id: plain.id),
                       [StreamLayout.defaultSendSize, StreamLayout.defaultReceiveSize])
        let sized = try opened(ask(broker, app, "tcp 8192 65536"))
        XCTAssertEqual(try geometry(sized.region, id: sized.id), [8192, 65536])

        // tcpserver hears of both, with the region and its own kick; udpserver of neither.
        let h = handOffs(tcp.server)
        XCTAssertEqual(h.map(\.line), ["open \(plain.id) \(getuid())", "open \(sized.id) \(getuid())"])
        XCTAssertTrue(h.allSatisfy { $0.fds.count == 2 })
        let stackRegion = try XCTUnwrap(h.last?.fds.first)
        XCTAssertEqual(try geometry(stackRegion, id: sized.id), [8192, 65536])
        FD.close(h.last!.fds[1]); FD.close(h.first!.fds[0]); FD.close(h.first!.fds[1])
        XCTAssertTrue(handOffs(udp.server).isEmpty)

        for bad in ["tcp 1000 4096", "tcp 4096 0", "tcp 2048 4096", "tcp 4096 33554432", "tcp x 4096", "tcp -4096 4096"] {
            let a = ask(broker, app, bad)
            XCTAssertEqual(a.count, 1)
            XCTAssertTrue(a.first?.line.hasPrefix("error \(EINVAL) tcp SEND RECV: area sizes") == true, "\(bad): \(a.map(\.line))")
            XCTAssertEqual(a.first?.fds.count, 0)
        }
        XCTAssertEqual(ask(broker, app, "tcp 4096").map(\.line), ["error \(EINVAL) bad request"])
        XCTAssertEqual(broker.tcpSocketsLive, 2)
        XCTAssertEqual(broker.sockets.count, 2)
        FD.close(app)
        broker.shutdown()
    }

    func testListenMakesSparesThatAcceptHandsToTheApplication() throws {
        let broker = try makeBroker()
        let app = try connect(broker)
        let listener = try opened(ask(broker, app, "tcp 8192 16384"))
        FD.close(listener.region)
        closeAll(handOffs(tcp.server))

        XCTAssertEqual(ask(broker, app, "listen \(listener.id) 3").map(\.line), ["ok"])
        let spares = handOffs(tcp.server)
        XCTAssertEqual(spares.count, 3)
        var spareIDs: [UInt32] = []
        for s in spares {
            let w = s.line.split(separator: " ")
            XCTAssertEqual(w.count, 4, s.line)
            XCTAssertEqual(w.first, "spare")
            XCTAssertEqual(w.dropFirst().first.flatMap { UInt32($0) }, listener.id)
            XCTAssertEqual(w.last.flatMap { UInt32($0) }, getuid())
            XCTAssertEqual(s.fds.count, 2)
            let id = try XCTUnwrap(UInt32(w[2]))
            spareIDs.append(id)
            // A spare's areas are its listener's, as an accepted Linux socket inherits them.
            XCTAssertEqual(try geometry(s.fds[0], id: id), [8192, 16384])
            FD.close(s.fds[1])
        }
        XCTAssertEqual(Set(spareIDs).count, 3)
        XCTAssertFalse(spareIDs.contains(listener.id))
        XCTAssertEqual(broker.tcpSpares, 3)
        XCTAssertEqual(broker.listeners[listener.id], spareIDs)

        // The application holds no spare: it cannot close one, nor accept a stranger.
        XCTAssertEqual(ask(broker, app, "close \(spareIDs[0])").map(\.line), ["error \(EBADF) no such socket"])
        XCTAssertTrue(ask(broker, app, "accept \(listener.id) 999999").first?.line.hasPrefix("error \(EINVAL) ") == true)
        XCTAssertTrue(ask(broker, app, "accept \(spareIDs[0]) \(spareIDs[1])").first?.line.hasPrefix("error \(EINVAL) ") == true)

        // Accepting moves the spare to the application, and a fresh spare replaces it.
        let accepted = try opened(ask(broker, app, "accept \(listener.id) \(spareIDs[1])"))
        XCTAssertEqual(accepted.id, spareIDs[1])
        XCTAssertEqual(try geometry(accepted.region, id: accepted.id), [8192, 16384])
        // tcpserver hears that it is no longer the pool's (docs/TCP-SOCKETS.md), then of the replacement.
        let replacement = handOffs(tcp.server)
        XCTAssertEqual(replacement.count, 2)
        XCTAssertEqual(replacement.first?.line, "accepted \(accepted.id)")
        XCTAssertTrue(replacement.last?.line.hasPrefix("spare \(listener.id) ") == true, "\(replacement.map(\.line))")
        closeAll(replacement)
        XCTAssertEqual(broker.tcpSpares, 3)
        XCTAssertEqual(broker.tcpSocketsLive, 2)
        XCTAssertEqual(broker.counters.tcpAccepts, 1)
        XCTAssertTrue(ask(broker, app, "accept \(listener.id) \(spareIDs[1])").first?.line.hasPrefix("error \(EINVAL) ") == true,
                      "a spare is accepted once")

        // Another application can accept nothing of this listener's.
        let other = try connect(broker)
        XCTAssertTrue(ask(broker, other, "accept \(listener.id) \(spareIDs[0])").first?.line.hasPrefix("error \(EINVAL) ") == true)

        // Closing the listener closes its spares; the accepted connection stays.
        XCTAssertEqual(ask(broker, app, "close \(listener.id)").map(\.line), ["ok"])
        let closes = handOffs(tcp.server).map(\.line)
        let remaining = Set(broker.listeners.values.joined())
        XCTAssertTrue(remaining.isEmpty)
        XCTAssertEqual(closes.first, "close \(listener.id)")
        XCTAssertEqual(closes.count, 4, "\(closes)")
        XCTAssertTrue(closes.contains("close \(spareIDs[0])") && closes.contains("close \(spareIDs[2])"))
        XCTAssertFalse(closes.contains("close \(accepted.id)"))
        XCTAssertEqual(broker.tcpSpares, 0)
        XCTAssertEqual(broker.tcpSocketsLive, 1)
        [app, other].forEach(FD.close)
        broker.shutdown()
    }

    func testBacklogIsBoundedAndListenAgainTopsUp() throws {
        let limits = { var l = Config.Limits(); l.socketsPerUID = 200; l.sockets = 200; return l }()
        let broker = try makeBroker(limits)
        let app = try connect(broker)
        let a = try opened(ask(broker, app, "tcp")), b = try opened(ask(broker, app, "tcp")), c = try opened(ask(broker, app, "tcp"))
        [a, b, c].forEach { FD.close($0.region) }
        closeAll(handOffs(tcp.server))
        XCTAssertEqual(ask(broker, app, "listen \(a.id) 1000").map(\.line), ["ok"])
        XCTAssertEqual(broker.listeners[a.id]?.count, AppBroker.maxSpares)
        XCTAssertEqual(ask(broker, app, "listen \(b.id) 0").map(\.line), ["ok"])
        XCTAssertEqual(broker.listeners[b.id]?.count, 1, "listen(fd, 0) still takes a connection")
        XCTAssertEqual(ask(broker, app, "listen \(c.id) -1").map(\.line), ["ok"])
        XCTAssertEqual(broker.listeners[c.id]?.count, AppBroker.maxSpares, "a negative backlog is the maximum, as Linux's")
        XCTAssertEqual(ask(broker, app, "listen \(b.id) 4").map(\.line), ["ok"])
        XCTAssertEqual(broker.listeners[b.id]?.count, 4)
        XCTAssertEqual(ask(broker, app, "listen \(b.id) 2").map(\.line), ["ok"])
        XCTAssertEqual(broker.listeners[b.id]?.count, 4, "a smaller backlog keeps the spares there are")
        XCTAssertEqual(ask(broker, app, "listen \(b.id) many").map(\.line).first?.hasPrefix("error \(EINVAL) "), true)
        closeAll(handOffs(tcp.server))

        let u = try opened(ask(broker, app, "udp"))
        FD.close(u.region)
        closeAll(handOffs(udp.server))
        XCTAssertEqual(ask(broker, app, "listen \(u.id) 4").map(\.line), ["error \(EOPNOTSUPP) listen: not a TCP socket"])
        XCTAssertEqual(ask(broker, app, "listen 77777 4").map(\.line), ["error \(EBADF) no such socket"])
        FD.close(app)
        broker.readable(try XCTUnwrap(brokerEnd[app]))  // the broker sees the connection end
        XCTAssertTrue(broker.sockets.isEmpty, "a disconnected application's sockets and spares are all closed")
        let closes = handOffs(tcp.server).map(\.line)
        XCTAssertEqual(closes.count, 3 + 2 * AppBroker.maxSpares + 4)
        XCTAssertTrue(closes.allSatisfy { $0.hasPrefix("close ") })
        broker.shutdown()
    }

    func testSparesCountAgainstTheUIDsLimits() throws {
        var limits = Config.Limits()
        limits.socketsPerUID = 4
        let broker = try makeBroker(limits)
        let app = try connect(broker)
        let l = try opened(ask(broker, app, "tcp"))
        FD.close(l.region)
        // 1 socket + 5 spares > 4: refused whole, nothing made.
        let refused = ask(broker, app, "listen \(l.id) 5").map(\.line)
        XCTAssertEqual(refused.count, 1)
        XCTAssertTrue(refused[0].hasPrefix("error \(EMFILE) listen: 5 spare sockets: "), refused[0])
        XCTAssertNil(broker.listeners[l.id])
        XCTAssertEqual(broker.sockets.count, 1)
        XCTAssertTrue(ask(broker, app, "accept \(l.id) 2").first?.line.hasPrefix("error \(EINVAL) ") == true, "not a listener")

        XCTAssertEqual(ask(broker, app, "listen \(l.id) 3").map(\.line), ["ok"])
        XCTAssertEqual(broker.sockets.count, 4)
        XCTAssertTrue(ask(broker, app, "tcp").first?.line.hasPrefix("error \(EMFILE) ") == true)
        XCTAssertTrue(ask(broker, app, "udp").first?.line.hasPrefix("error \(EMFILE) ") == true, "one limit for both kinds")

        // Accepting keeps the count (the spare becomes the socket) but there is no room for a
        // replacement: the listener keeps fewer spares, and says so in a counter.
        let spare = try XCTUnwrap(broker.listeners[l.id]?.first)
        _ = try opened(ask(broker, app, "accept \(l.id) \(spare)"))
        XCTAssertEqual(broker.listeners[l.id]?.count, 2)
        XCTAssertEqual(broker.counters.sparesShort, 1)
        XCTAssertEqual(broker.sockets.count, 4)
        // Closing the accepted connection makes room: the next accept tops the spares up.
        XCTAssertEqual(ask(broker, app, "close \(spare)").map(\.line), ["ok"])
        let next = try XCTUnwrap(broker.listeners[l.id]?.first)
        _ = try opened(ask(broker, app, "accept \(l.id) \(next)"))
        XCTAssertEqual(broker.listeners[l.id]?.count, 2)
        XCTAssertEqual(broker.sockets.count, 4)
        closeAll(handOffs(tcp.server))
        FD.close(app)
        broker.shutdown()
    }

    func testAHungTCPServerHoldsUpNeitherNewsdNorUDP() throws {
        var size: Int32 = 4096
        setsockopt(tcp.newsd, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        let limits = { var l = Config.Limits(); l.socketsPerUID = 2000; l.sockets = 2000; return l }()
        let broker = try makeBroker(limits)
        let app = try connect(broker)
        var ok: [UInt32] = []
        var refused = 0
        for _ in 0..<300 {
            for a in ask(broker, app, "tcp 4096 4096") {
                if a.line.hasPrefix("ok "), let id = UInt32(a.line.dropFirst(3)) { ok.append(id) }
                if a.line.hasPrefix("error \(ENOBUFS) the TCP server") { refused += 1 }
                a.fds.forEach(FD.close)
            }
        }
        XCTAssertEqual(ok.count + refused, 300)
        XCTAssertGreaterThan(refused, 0, "ENOBUFS once the TCP outbox is full")
        XCTAssertLessThanOrEqual(broker.outbox(.tcp).count, AppBroker.maxPendingOpens)
        XCTAssertGreaterThan(broker.deferredHandoffs(.tcp), 0)
        XCTAssertEqual(broker.controlsWantingWrite, [tcp.newsd])

        // UDP sockets still reach udpserver at once.
        let u = try opened(ask(broker, app, "udp"))
        FD.close(u.region)
        let udpHandOffs = handOffs(udp.server)
        XCTAssertEqual(udpHandOffs.map(\.line), ["open \(u.id) \(getuid())"])
        closeAll(udpHandOffs)

        // A listener whose spares still wait, closed: neither it nor they reach tcpserver.
        let waitingListener = try XCTUnwrap(ok.last)
        XCTAssertEqual(ask(broker, app, "close \(waitingListener)").map(\.line), ["ok"])

        var delivered: [HandOff] = []
        for _ in 0..<1000 where !broker.outbox(.tcp).isEmpty {
            delivered += handOffs(tcp.server)
            broker.flush()
        }
        delivered += handOffs(tcp.server)
        closeAll(delivered)
        XCTAssertTrue(broker.outbox(.tcp).isEmpty)
        XCTAssertEqual(delivered.filter { $0.line.hasPrefix("open ") }.count, ok.count - 1)
        XCTAssertFalse(delivered.contains { $0.line.hasPrefix("open \(waitingListener) ") || $0.line == "close \(waitingListener)" })
        FD.close(app)
        broker.shutdown()
    }

    func testATCPServerRestartGetsEverySocketAndSpareAgain() throws {
        let broker = try makeBroker()
        let app = try connect(broker)
        let plain = try opened(ask(broker, app, "tcp")), listener = try opened(ask(broker, app, "tcp"))
        let u = try opened(ask(broker, app, "udp"))
        [plain, listener, u].forEach { FD.close($0.region) }
        XCTAssertEqual(ask(broker, app, "listen \(listener.id) 2").map(\.line), ["ok"])
        let first = try XCTUnwrap(broker.listeners[listener.id]?.first)
        let accepted = try opened(ask(broker, app, "accept \(listener.id) \(first)"))
        FD.close(accepted.region)
        let spares = try XCTUnwrap(broker.listeners[listener.id])
        XCTAssertEqual(spares.count, 2)
        closeAll(handOffs(tcp.server))
        closeAll(handOffs(udp.server))

        // Application sockets (an accepted one is one now) come first, then the spares.
        broker.resendAll(.tcp)
        let again = handOffs(tcp.server)
        XCTAssertEqual(again.map(\.line), [plain.id, listener.id, accepted.id].map { "open \($0) \(getuid())" }
                       + spares.map { "spare \(listener.id) \($0) \(getuid())" })
        XCTAssertTrue(again.allSatisfy { $0.fds.count == 2 })
        closeAll(again)
        XCTAssertTrue(handOffs(udp.server).isEmpty, "a tcpserver restart is nothing to udpserver")

        broker.resendAll(.udp)
        let udpAgain = handOffs(udp.server)
        XCTAssertEqual(udpAgain.map(\.line), ["open \(u.id) \(getuid())"])
        closeAll(udpAgain)
        XCTAssertTrue(handOffs(tcp.server).isEmpty)
        FD.close(app)
        broker.shutdown()
    }

    /// `pool ID [more]` (docs/TCP-SOCKETS.md): the listener's spares handed to the
    /// application in advance, a batch more on `more`, and what a listener's close does
    /// with them.
    func testPoolHandsTheSparesOverInAdvance() throws {
        let limits = { var l = Config.Limits(); l.socketsPerUID = 40; l.sockets = 200; return l }()
        let broker = try makeBroker(limits)
        let app = try connect(broker)
        let listener = try opened(ask(broker, app, "tcp 8192 8192"))
        FD.close(listener.region)
        closeAll(handOffs(tcp.server))
        XCTAssertEqual(ask(broker, app, "listen \(listener.id) 3").map(\.line), ["ok"])
        closeAll(handOffs(tcp.server))
        let spares = try XCTUnwrap(broker.listeners[listener.id])

        func pool(_ more: Bool) -> (ids: [UInt32], fds: [Int32], line: String) {
            try? FD.writeAll(app, "pool \(listener.id)\(more ? " more" : "")\n")
            if let end = brokerEnd[app] { broker.readable(end) }
            guard let got = try? UnixSocket.receive(app, max: 4096, maxFDs: 64) else { return ([], [], "") }
            let line = String(decoding: got.bytes, as: UTF8.self).trimmingCharacters(in: .newlines)
            let w = line.split(separator: " ")
            return (w.dropFirst(2).compactMap { UInt32($0) }, got.fds, line)
        }

        let first = pool(false)
        XCTAssertEqual(first.line, "ok 3 " + spares.map(String.init).joined(separator: " "))
        XCTAssertEqual(first.fds.count, 6, "a region and an app kick for each")
        XCTAssertEqual(try geometry(dup(first.fds[0]), id: spares[0]), [8192, 8192])
        first.fds.forEach(FD.close)
        XCTAssertTrue(handOffs(tcp.server).isEmpty, "tcpserver has them already")

        let none = pool(false)
        XCTAssertEqual(none.line, "ok 0", "all handed over, none made without more")
        let batch = pool(true)
        XCTAssertEqual(batch.ids.count, 32, batch.line)
        XCTAssertEqual(batch.fds.count, 64)
        batch.fds.forEach(FD.close)
        let made = handOffs(tcp.server)
        XCTAssertEqual(made.count, 32)
        XCTAssertTrue(made.allSatisfy { $0.line.hasPrefix("spare \(listener.id) ") })
        closeAll(made)
        XCTAssertTrue((spares + batch.ids).allSatisfy { $0 <= AppBroker.maxID }, "newsd's numbers leave tcpserver the upper half")

        // The uid holds 36 of its 40: the next batch is what the limits allow.
        let rest = pool(true)
        XCTAssertEqual(rest.ids.count, 4, rest.line)
        rest.fds.forEach(FD.close)
        closeAll(handOffs(tcp.server))
        XCTAssertTrue(pool(true).line.hasPrefix("error \(EMFILE) "))
        XCTAssertTrue(ask(broker, app, "pool \(listener.id) less").first?.line.hasPrefix("error \(EINVAL) ") == true)
        let other = try connect(broker)
        XCTAssertTrue(ask(broker, other, "pool \(listener.id)").first?.line.hasPrefix("error \(EINVAL) ") == true,
                      "another application gets nothing of this listener's")

        // Closing the listener: tcpserver hears only of the listener; every handed spare is
        // now one of the application's sockets, which it closes (or keeps) as any other.
        XCTAssertEqual(ask(broker, app, "close \(listener.id)").map(\.line), ["ok"])
        XCTAssertEqual(handOffs(tcp.server).map(\.line), ["close \(listener.id)"])
        XCTAssertEqual(broker.tcpSpares, 0)
        XCTAssertEqual(broker.tcpSocketsLive, 39)
        XCTAssertEqual(ask(broker, app, "close \(spares[0])").map(\.line), ["ok"])
        XCTAssertEqual(handOffs(tcp.server).map(\.line), ["close \(spares[0])"])
        // The application's end closes the rest.
        FD.close(app)
        broker.readable(brokerEnd[app]!)
        XCTAssertEqual(handOffs(tcp.server).count, 38)
        XCTAssertEqual(broker.tcpSocketsLive, 0)
        FD.close(other)
        broker.shutdown()
    }

    func testWithoutATCPServerTCPIsRefused() throws {
        let broker = try makeBroker(withTCP: false)
        let app = try connect(broker)
        let a = ask(broker, app, "tcp").map(\.line)
        XCTAssertEqual(a.count, 1)
        XCTAssertTrue(a[0].hasPrefix("error \(EAFNOSUPPORT) "), a[0])
        _ = try opened(ask(broker, app, "udp"))
        FD.close(app)
        broker.shutdown()
    }
}
