@testable import Kernel
import Glibc
import NewsConfig
import NewsIPC
import NewsSystem
import XCTest

/// The app broker against a UDP server that does not read (hung): newsd must never block,
/// the outbox stays bounded, applications get ENOBUFS once it is full, and everything waiting
/// reaches the UDP server, in order, once it reads again.
final class AppBrokerTests: XCTestCase {
    var dir = ""
    var control: (newsd: Int32, udp: Int32) = (-1, -1)
    /// The application's end of each connection -> the broker's end.
    var brokerEnd: [Int32: Int32] = [:]

    override func setUpWithError() throws {
        dir = "/tmp/news-broker-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        mkdir(dir, 0o700)
        control = try UnixSocket.seqpacketPair()
        try FD.setNonBlocking(control.udp)
        // A small buffer, so that the hung UDP server's socket fills after a few hand-offs.
        var size: Int32 = 4096
        setsockopt(control.newsd, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size))
    }

    override func tearDown() {
        FD.close(control.udp)
        unlink(dir + "/app.sock")
        rmdir(dir)
    }

    func makeBroker(_ limits: Config.Limits = Config.Limits()) throws -> AppBroker {
        try AppBroker(path: dir + "/app.sock", group: nil, limits: limits, udpControl: control.newsd)
    }

    /// Connects an application and lets the broker accept it; returns its descriptor.
    func connect(_ broker: AppBroker) throws -> Int32 {
        let fd = try UnixSocket.connect(path: dir + "/app.sock")
        try FD.setNonBlocking(fd)
        let before = Set(broker.apps.map(\.fd))
        broker.readable(broker.listenFD)
        brokerEnd[fd] = broker.apps.map(\.fd).first { !before.contains($0) }
        return fd
    }

    /// Everything the application has been sent so far: lines, and descriptors (closed).
    func lines(_ fd: Int32) -> [String] {
        var out: [String] = []
        while let got = try? UnixSocket.receive(fd, max: 65536, maxFDs: 8), !got.bytes.isEmpty {
            got.fds.forEach(FD.close)
            out += String(decoding: got.bytes, as: UTF8.self).split(separator: "\n").map(String.init)
        }
        return out
    }

    func ask(_ broker: AppBroker, _ app: Int32, _ text: String) {
        try? FD.writeAll(app, text)
        if let end = brokerEnd[app] { broker.readable(end) }
    }

    /// What the UDP server would read now: the hand-off lines, and how many descriptors came.
    func handOffs() -> [(String, Int)] {
        var out: [(String, Int)] = []
        while let got = try? UnixSocket.receive(control.udp, max: 256, maxFDs: 2), !got.bytes.isEmpty {
            got.fds.forEach(FD.close)
            out.append((String(decoding: got.bytes, as: UTF8.self), got.fds.count))
        }
        return out
    }

    func testHelloNamesTheApplicationCPUs() throws {
        let advising = try AppBroker(path: dir + "/app.sock", group: nil, limits: Config.Limits(), udpControl: control.newsd,
                                     appCPUs: [1, 3, 4, 5])
        let app = try connect(advising)
        let greeting = lines(app)
        XCTAssertEqual(greeting, ["hello 1 cpus=1,3-5"])
        FD.close(app)
    }

    func testAHungUDPServerNeverBlocksNewsdAndTheOutboxStaysBounded() throws {
        let limits = { var l = Config.Limits(); l.socketsPerUID = 2000; l.sockets = 2000; return l }()
        let broker = try makeBroker(limits)
        let app = try connect(broker)
        try FD.setNonBlocking(app)
        XCTAssertEqual(lines(app), ["hello 1"])

        // 400 sockets while nobody reads the UDP server's end: each call returns at once.
        var answers: [String] = []
        for _ in 0..<400 {
            ask(broker, app, "udp\n")
            answers += lines(app)
        }
        let ok = answers.filter { $0.hasPrefix("ok ") }
        let refused = answers.filter { $0.hasPrefix("error \(Errno.noBuffers) ") }
        XCTAssertEqual(ok.count + refused.count, 400, "\(answers.prefix(3))")
        XCTAssertGreaterThan(refused.count, 0, "ENOBUFS once the outbox is full")
        XCTAssertLessThanOrEqual(broker.outbox.count, AppBroker.maxPendingOpens)

        // Closing a socket whose open still waits cancels both: nothing to tell the server.
        let waiting = broker.outbox.count
        let last = try XCTUnwrap(ok.last?.split(separator: " ").last.flatMap { UInt32($0) })
        ask(broker, app, "close \(last)\n")
        XCTAssertEqual(lines(app), ["ok"])
        XCTAssertEqual(broker.outbox.count, waiting - 1)

        // The server reads again: every live socket arrives, once, with its two descriptors.
        var delivered: [(String, Int)] = []
        for _ in 0..<1000 where !broker.outbox.isEmpty || delivered.isEmpty {
            delivered += handOffs()
            broker.flush()
        }
        delivered += handOffs()
        XCTAssertTrue(broker.outbox.isEmpty)
        let opened = delivered.filter { $0.0.hasPrefix("open ") }
        XCTAssertEqual(opened.count, ok.count - 1)
        XCTAssertTrue(opened.allSatisfy { $0.1 == 2 })
        XCTAssertFalse(delivered.contains { $0.0 == "close \(last)" || $0.0.hasPrefix("open \(last) ") })
        XCTAssertEqual(Set(opened.map(\.0)).count, opened.count, "no socket handed over twice")
        FD.close(app)
        broker.shutdown()
    }

    func testPerUIDLimitsAndFreshIDs() throws {
        var limits = Config.Limits()
        limits.socketsPerUID = 3
        limits.appsPerUID = 2
        let broker = try makeBroker(limits)
        let a = try connect(broker), b = try connect(broker)
        let c = try connect(broker)
        XCTAssertEqual(lines(a), ["hello 1"])
        let refusal = lines(c)
        XCTAssertEqual(refusal.count, 1)
        XCTAssertTrue(refusal[0].hasPrefix("refused \(Errno.tooManyFiles) ") && refusal[0].contains("apps_per_uid"), refusal[0])

        for _ in 0..<3 { ask(broker, a, "udp\n") }
        ask(broker, b, "udp\n")  // the limit is the uid's, over all its connections
        let got = lines(a) + lines(b)
        XCTAssertEqual(got.filter { $0.hasPrefix("ok ") }.count, 3)
        XCTAssertEqual(got.filter { $0.hasPrefix("error \(Errno.tooManyFiles) ") }.count, 1, "\(got)")
        let ids = got.compactMap { $0.hasPrefix("ok ") ? UInt32($0.dropFirst(3)) : nil }
        XCTAssertEqual(Set(ids).count, 3, "ids are never reused while live")

        // Another's socket is no socket of yours.
        ask(broker, b, "close \(ids[0])\n")
        XCTAssertEqual(lines(b), ["error \(Errno.badDescriptor) no such socket"])
        // Bad requests get an answer and are counted; the connection stays.
        ask(broker, a, "bind 7\n")
        XCTAssertEqual(lines(a), ["error \(Errno.invalid) bad request"])
        XCTAssertEqual(broker.counters.badRequests, 2)
        [a, b, c].forEach(FD.close)
        broker.shutdown()
    }
}
