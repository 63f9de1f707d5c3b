import Glibc
import NewsSystem
import XCTest

/// LinuxTCP and PollSet (the load generator's sockets and event loop) on loopback.
final class LinuxTCPTests: XCTestCase {
    /// A listening socket on 127.0.0.1 at a port the kernel picks: (fd, port).
    func listener() throws -> (Int32, UInt16) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        XCTAssertGreaterThanOrEqual(fd, 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, len) == 0 && listen(fd, 8) == 0 && getsockname(fd, $0, &len) == 0
            }
        }
        XCTAssertTrue(ok, "bind/listen: errno \(errno)")
        return (fd, UInt16(bigEndian: addr.sin_port))
    }

    func testConnectSendReceiveAndEndOfStream() throws {
        let (ls, port) = try listener()
        defer { close(ls) }
        let c = LinuxTCP.connect(address: 0x7F00_0001, port: port)
        XCTAssertGreaterThanOrEqual(c, 0)
        defer { LinuxTCP.close(c) }
        let poll = PollSet(capacity: 2)
        poll.set(0, fd: c, events: PollSet.writable)
        poll.set(1, fd: -1, events: PollSet.readable)  // unused slots are skipped
        XCTAssertEqual(poll.wait(count: 2, timeoutMillis: 2000), 1)
        XCTAssertNotEqual(poll.revents(0) & PollSet.writable, 0)
        XCTAssertEqual(poll.revents(1), 0)
        XCTAssertEqual(LinuxTCP.pendingError(c), 0)
        let s = accept(ls, nil, nil)
        XCTAssertGreaterThanOrEqual(s, 0)

        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64, alignment: 8)
        defer { buffer.deallocate() }
        XCTAssertEqual(LinuxTCP.receive(c, into: buffer), -Int(EAGAIN), "non-blocking: nothing there yet")
        let hello = Array("hello".utf8)
        XCTAssertEqual(hello.withUnsafeBytes { LinuxTCP.send(c, $0) }, 5)
        XCTAssertEqual(recv(s, buffer.baseAddress, 64, 0), 5)
        XCTAssertEqual(Array(buffer[0..<5]), hello)
        XCTAssertEqual(send(s, "ok", 2, 0), 2)
        close(s)
        poll.set(0, fd: c, events: PollSet.readable)
        XCTAssertEqual(poll.wait(count: 1, timeoutMillis: 2000), 1)
        XCTAssertEqual(LinuxTCP.receive(c, into: buffer), 2)
        XCTAssertEqual(LinuxTCP.receive(c, into: buffer), 0, "end of stream")
        // Writing to a peer that closed: EPIPE or ECONNRESET, and no SIGPIPE kills the test.
        var failed = false
        for _ in 0..<10 where !failed {
            failed = hello.withUnsafeBytes { LinuxTCP.send(c, $0) } < 0
            usleep(10_000)
        }
        XCTAssertTrue(failed)
    }

    func testARefusedConnectIsReportedByPendingError() throws {
        let (ls, port) = try listener()
        close(ls)  // nobody listens there now
        let c = LinuxTCP.connect(address: 0x7F00_0001, port: port)
        if c < 0 {
            XCTAssertEqual(c, -ECONNREFUSED)
            return
        }
        defer { LinuxTCP.close(c) }
        let poll = PollSet(capacity: 1)
        poll.set(0, fd: c, events: PollSet.writable)
        XCTAssertEqual(poll.wait(count: 1, timeoutMillis: 2000), 1)
        XCTAssertNotEqual(poll.revents(0) & (PollSet.writable | PollSet.failed), 0)
        XCTAssertEqual(LinuxTCP.pendingError(c), ECONNREFUSED)
        XCTAssertEqual(LinuxTCP.pendingError(c), 0, "reading SO_ERROR clears it")
    }
}
