@testable import Kernel
import CNewsLinux
import Foundation
import Glibc
import NewsConfig
import NewsIPC
import NewsSystem
import XCTest

/// newsd's real app broker on a thread of its own, and the test's stand-in for tcpserver on
/// another: it takes the stream regions newsd hands over (as `StreamStackEnd`s), answers
/// control requests, and lets a test act as the stack on any socket (`with`). Everything the
/// stand-in holds is behind one lock; application calls run outside it.
final class FakeNews: @unchecked Sendable {
    enum ConnectOutcome { case establish, reset(Int32), nothing }

    final class StackSocket {
        let id: UInt32
        let listener: UInt32?
        let region: SharedRegion
        var end: StreamStackEnd
        let channel: ShmChannel
        var requests: [Message] = []
        init(id: UInt32, listener: UInt32?, region: SharedRegion, end: StreamStackEnd, channel: ShmChannel) {
            self.id = id; self.listener = listener; self.region = region; self.end = end; self.channel = channel
        }
    }

    let dir: String
    let path: String
    let broker: AppBroker
    let udp: (Int32, Int32)
    let tcp: (Int32, Int32)
    private let lock = NSLock()
    private var running = true
    private let done = DispatchSemaphore(value: 0)
    private var sockets: [UInt32: StackSocket] = [:]
    private var closedSockets: [StackSocket] = []
    private var handOffs: [String] = []
    /// What tcpserver answers for each request kind (0 if not here).
    var results: [UInt16: Int32] = [:]
    var connectOutcome = ConnectOutcome.establish
    static let localAddress: UInt32 = 0xC612_0002  // 198.18.0.2

    init(limits: Config.Limits = Config.Limits()) throws {
        dir = "/tmp/news-libnews-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        mkdir(dir, 0o700)
        path = dir + "/app.sock"
        udp = try UnixSocket.seqpacketPair()
        tcp = try UnixSocket.seqpacketPair()
        try FD.setNonBlocking(tcp.1)
        try FD.setNonBlocking(udp.1)
        broker = try AppBroker(path: path, group: nil, limits: limits, udpControl: udp.0, tcpControl: tcp.0)
        Thread.detachNewThread { [self] in runBroker() }
        Thread.detachNewThread { [self] in runStack() }
    }

    func stop() {
        lock.withLock { running = false }
        done.wait()
        done.wait()
        broker.shutdown()
        for s in sockets.values { s.region.unmap() }
        for s in closedSockets { s.region.unmap() }
        [udp.0, udp.1, tcp.0, tcp.1].forEach(FD.close)
        rmdir(dir)
    }

    private var isRunning: Bool { lock.withLock { running } }

    private func runBroker() {
        while isRunning {
            let fds = broker.descriptors
            let writers = broker.controlsWantingWrite
            var entries = fds.map { Poll.Entry(fd: $0) } + writers.map { Poll.Entry(fd: $0, wantsWrite: true) }
            Poll.wait(&entries, timeoutMillis: 2)
            for e in entries.prefix(fds.count) where e.readable || e.hangup { broker.readable(e.fd) }
            broker.flush()
        }
        // Drain UDP hand-offs so nothing leaks; nobody plays udpserver here.
        while let got = try? UnixSocket.receive(udp.1, max: 256, maxFDs: 2), !got.bytes.isEmpty { got.fds.forEach(FD.close) }
        done.signal()
    }

    private func runStack() {
        while isRunning {
            lock.withLock {
                takeHandOffs()
                for s in sockets.values { serve(s) }
            }
            // UDP sockets' hand-offs: only their descriptors matter (closed here).
            while let got = try? UnixSocket.receive(udp.1, max: 256, maxFDs: 2), !got.bytes.isEmpty { got.fds.forEach(FD.close) }
            usleep(100)
        }
        done.signal()
    }

    private func takeHandOffs() {
        while let got = try? UnixSocket.receive(tcp.1, max: 256, maxFDs: 2), !got.bytes.isEmpty {
            let line = String(decoding: got.bytes, as: UTF8.self)
            handOffs.append(line)
            let w = line.split(separator: " ")
            defer { got.fds.forEach(FD.close) }
            switch (w.first, w.count) {
            case ("open", 3): attach(id: UInt32(w[1])!, listener: nil, fd: got.fds[0])
            case ("spare", 4): attach(id: UInt32(w[2])!, listener: UInt32(w[1])!, fd: got.fds[0])
            case ("close", 2):
                // Kept mapped until the end, as tcpserver finishes a closing connection from it.
                if let s = sockets.removeValue(forKey: UInt32(w[1])!) { closedSockets.append(s) }
            default: XCTFail("tcpserver got '\(line)'")
            }
        }
    }

    private func attach(id: UInt32, listener: UInt32?, fd: Int32) {
        var st = stat()
        fstat(fd, &st)
        do {
            let region = try SharedRegion(fd: fd, size: Int(st.st_size), name: "stack \(id)")
            let end = try StreamStackEnd(base: region.base, mappedSize: region.size, id: id)
            let channel = try end.controlChannel(name: "stack-\(id)")
            sockets[id] = StackSocket(id: id, listener: listener, region: region, end: end, channel: channel)
        } catch {
            XCTFail("tcpserver cannot attach \(id): \(error)")
        }
    }

    /// Answers the socket's control requests as a well-behaved tcpserver would.
    private func serve(_ s: StackSocket) {
        var got: [Message] = []
        _ = try? s.channel.receive(max: 16) { m, _ in got.append(m) }
        for m in got {
            s.requests.append(m)
            let result = results[m.kind] ?? 0
            if result == 0 {
                switch MessageKind(rawValue: m.kind) {
                case .socketBind?:
                    let port = m.arg.1 == 0 ? UInt16(40000 + s.id % 1000) : UInt16(truncatingIfNeeded: m.arg.1)
                    s.end.header.set(local: m.arg.0 == 0 ? Self.localAddress : UInt32(truncatingIfNeeded: m.arg.0), port: port)
                case .socketConnect?:
                    s.end.header.set(remote: UInt32(truncatingIfNeeded: m.arg.0), port: UInt16(truncatingIfNeeded: m.arg.1))
                    if s.end.header.local.port == 0 { s.end.header.set(local: Self.localAddress, port: 50000) }
                default: break
                }
            }
            s.end.header.answer(UInt32(truncatingIfNeeded: m.seq), result: result)
            if m.kind == MessageKind.socketConnect.rawValue, result == 0 {
                switch connectOutcome {
                case .establish: s.end.setEstablished()
                case .reset(let e): s.end.setReset(errno: e)
                case .nothing: break
                }
            }
        }
    }

    // ---- for tests ------------------------------------------------------------------------

    /// Acts as the stack on socket `id` (waiting up to 5 s for newsd to hand it over).
    @discardableResult
    func with<T>(_ id: UInt32, _ body: (StackSocket) throws -> T) throws -> T {
        let deadline = Clock.nanos() + 5_000_000_000
        while true {
            let r: T? = try lock.withLock { try sockets[id].map(body) }
            if let r { return r }
            guard Clock.nanos() < deadline else { throw Missing(id: id) }
            usleep(200)
        }
    }

    struct Missing: Error { let id: UInt32 }

    var lines: [String] { lock.withLock { handOffs } }
    func holds(_ id: UInt32) -> Bool { lock.withLock { sockets[id] != nil } }
    /// The stack's end of a socket newsd closed.
    func closed(_ id: UInt32) -> StackSocket? { lock.withLock { closedSockets.first { $0.id == id } } }
    func spares(of listener: UInt32) -> [UInt32] {
        lock.withLock { sockets.values.filter { $0.listener == listener }.map(\.id).sorted() }
    }

    /// Waits until `condition` holds (up to 5 s: the machine may be busy).
    func eventually(_ condition: () -> Bool) -> Bool {
        let deadline = Clock.nanos() + 5_000_000_000
        while Clock.nanos() < deadline {
            if condition() { return true }
            usleep(200)
        }
        return condition()
    }
}

extension FakeNews.StackSocket {
    /// Places `bytes` at the receive tail and makes them readable; false if they do not fit.
    @discardableResult
    func deliver(_ bytes: [UInt8]) -> Bool {
        _ = end.takeReceiveHead()
        let at = end.state.receiveTail
        let ok = bytes.withUnsafeBytes { end.place($0, atStreamOffset: at) }
        guard ok else { return false }
        return end.advanceReceiveTail(to: at + UInt64(bytes.count))
    }

    /// Everything the application appended and the peer has not acknowledged; acknowledges it.
    func takeSent() -> [UInt8] {
        guard case .ok = end.takeSendTail() else { return [] }
        let n = end.unacknowledged
        var out = [UInt8](repeating: 0, count: n)
        let from = end.state.sendAcked
        _ = out.withUnsafeMutableBytes { end.copyOut(streamOffset: from, count: n, into: $0) }
        end.release(sendUpTo: from + UInt64(n))
        return out
    }

    func requests(_ kind: MessageKind) -> [Message] { requests.filter { $0.kind == kind.rawValue } }

    /// Announces a connection on this listener's up ring, as tcpserver does.
    func announce(_ id: UInt32, peer: UInt32, port: UInt16) -> Bool {
        (try? channel.send(Message(kind: .socketAccepted, seq: 0, args: (UInt64(id), UInt64(peer), UInt64(port), 0, 0, 0)),
                           payload: UnsafeRawBufferPointer(start: nil, count: 0))) ?? false
    }
}
