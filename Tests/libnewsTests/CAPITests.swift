import Glibc
import NewsIPC
import XCTest
@testable import libnews

/// The C API (include/news.h) over TCP and UDP sockets in one descriptor table, through the
/// same functions a C program links.
final class CAPITests: XCTestCase {
    func testTheCAPIMirrorsTheSwiftOne() throws {
        let fake = try FakeNews()
        defer { fake.stop() }
        XCTAssertEqual(news_init(fake.path), 0)

        let s = news_tcp_socket()
        XCTAssertGreaterThanOrEqual(s, 0)
        XCTAssertEqual(news_setsockopt(s, SOL_SOCKET, SO_REUSEADDR, 1), 0)
        XCTAssertEqual(news_setsockopt(s, SOL_SOCKET, SO_RCVBUF, 10_000), 0)
        XCTAssertEqual(news_setsockopt(s, Int32(IPPROTO_TCP), TCP_NODELAY, 1), 0)
        XCTAssertEqual(news_setsockopt(s, SOL_SOCKET, SO_BROADCAST, 1), -1)
        XCTAssertEqual(Glibc.errno, ENOPROTOOPT)
        XCTAssertEqual(news_setsockopt(s, Int32(IPPROTO_TCP), TCP_KEEPCNT, 0), -1)
        XCTAssertEqual(Glibc.errno, EINVAL)
        XCTAssertEqual(news_bind(s, 0, 9000), 0)
        var addr: UInt32 = 0, port: UInt16 = 0
        XCTAssertEqual(news_getsockname(s, &addr, &port), 0)
        XCTAssertEqual(port, 9000)
        XCTAssertEqual(news_getpeername(s, &addr, &port), -1)
        XCTAssertEqual(Glibc.errno, ENOTCONN)
        XCTAssertEqual(news_connect(s, 0xC612_0001, 80), 0)
        XCTAssertEqual(news_getpeername(s, &addr, &port), 0)
        XCTAssertEqual(addr, 0xC612_0001)
        XCTAssertEqual(port, 80)
        XCTAssertEqual(news_socket_error(s), 0)
        XCTAssertEqual(news_setsockopt(s, SOL_SOCKET, SO_SNDBUF, 8192), -1, "after connect")
        XCTAssertEqual(Glibc.errno, EINVAL)

        // The socket newsd made last is this one (SO_RCVBUF re-created it).
        let id = try XCTUnwrap(fake.lines.last { $0.hasPrefix("open ") }.flatMap { UInt32($0.split(separator: " ")[1]) })
        XCTAssertEqual(news_send(s, "abc", 3, Int32(MSG_NOSIGNAL)), 3)
        XCTAssertEqual(news_send(s, "abc", 3, Int32(MSG_OOB)), -1)
        XCTAssertEqual(Glibc.errno, EOPNOTSUPP)
        var first: [UInt8] = [1, 2], second: [UInt8] = [3, 4, 5]
        let written = first.withUnsafeMutableBytes { a in second.withUnsafeMutableBytes { b in
            var iov = [iovec(iov_base: a.baseAddress, iov_len: 2), iovec(iov_base: b.baseAddress, iov_len: 3)]
            return news_writev(s, &iov, 2)
        } }
        XCTAssertEqual(written, 5)
        XCTAssertEqual(try fake.with(id) { $0.takeSent() }, Array("abc".utf8) + [1, 2, 3, 4, 5])

        // news_pollfd_t as C lays it out: int sock; short events; short revents.
        var pfd = PollFD(sock: s, events: Int16(POLLIN | POLLOUT))
        XCTAssertEqual(pfd.poll(timeoutMillis: 0), 1)
        XCTAssertEqual(pfd.revents, Int16(POLLOUT))
        XCTAssertEqual(news_fionread(s), 0)
        var info = [UInt32](repeating: 0, count: 13)  // news_tcp_info_t: 13 u32 words
        var published = StreamInfo()
        published.sendMSS = 1460
        published.rttMicros = 250
        try fake.with(id) { st in
            st.deliver(Array("xyz".utf8))
            st.end.publish(info: published)
        }
        XCTAssertEqual(pfd.poll(timeoutMillis: 1000), 1)
        XCTAssertEqual(pfd.revents, Int16(POLLIN | POLLOUT))
        XCTAssertEqual(news_fionread(s), 3)
        XCTAssertEqual(news_tcp_info(s, &info), 0)
        XCTAssertEqual(info[6], 1460, "snd_mss")
        XCTAssertEqual(info[1], 250, "rtt_us")
        XCTAssertEqual(info[12], 3, "unread")
        var buffer = [UInt8](repeating: 0, count: 8)
        XCTAssertEqual(news_recv(s, &buffer, 8, Int32(MSG_PEEK)), 3)
        var x = [UInt8](repeating: 0, count: 2), y = [UInt8](repeating: 0, count: 2)
        let got = x.withUnsafeMutableBytes { a in y.withUnsafeMutableBytes { b in
            var iov = [iovec(iov_base: a.baseAddress, iov_len: 2), iovec(iov_base: b.baseAddress, iov_len: 2)]
            return news_readv(s, &iov, 2)
        } }
        XCTAssertEqual(got, 3)
        XCTAssertEqual(x + [y[0]], Array("xyz".utf8))
        XCTAssertEqual(news_recv(s, &buffer, 8, Int32(MSG_DONTWAIT)), -1)
        XCTAssertEqual(Glibc.errno, EAGAIN)

        XCTAssertEqual(news_shutdown(s, Int32(SHUT_WR)), 0)
        XCTAssertEqual(news_send(s, "a", 1, 0), -1)
        XCTAssertEqual(Glibc.errno, EPIPE)
        XCTAssertEqual(news_shutdown(s, 7), -1)
        XCTAssertEqual(Glibc.errno, EINVAL)

        // UDP and TCP share the table and news_poll; TCP-only calls refuse a UDP socket.
        let u = news_udp_socket()
        XCTAssertGreaterThanOrEqual(u, 0)
        XCTAssertNotEqual(u, s)
        XCTAssertEqual(news_listen(u, 1), -1)
        XCTAssertEqual(Glibc.errno, EOPNOTSUPP)
        let l = news_tcp_socket()
        XCTAssertEqual(news_listen(l, 4), 0)
        XCTAssertEqual(news_set_nonblocking(l, 1), 0)
        XCTAssertEqual(news_accept(l, nil, nil), -1)
        XCTAssertEqual(Glibc.errno, EAGAIN)
        var socks = [u, s, l], ready = [Int32](repeating: 9, count: 3)
        XCTAssertEqual(news_poll(&socks, 3, &ready, 0), 0, "s has nothing left to read")
        XCTAssertEqual(ready, [0, 0, 0])

        XCTAssertEqual(news_close(s), 0)
        XCTAssertEqual(news_close(s), -1)
        XCTAssertEqual(Glibc.errno, EBADF)
        XCTAssertEqual(news_close(u), 0)
        XCTAssertEqual(news_close(l), 0)
    }
}

/// One news_pollfd_t, laid out as news.h declares it.
struct PollFD {
    var bytes = [UInt8](repeating: 0, count: 8)
    init(sock: Int32, events: Int16) {
        bytes.withUnsafeMutableBytes { b in
            b.storeBytes(of: sock, as: Int32.self)
            b.storeBytes(of: events, toByteOffset: 4, as: Int16.self)
        }
    }
    var revents: Int16 { bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 6, as: Int16.self) } }
    mutating func poll(timeoutMillis: Int32) -> Int32 {
        bytes.withUnsafeMutableBytes { news_poll_events($0.baseAddress, 1, timeoutMillis) }
    }
}
