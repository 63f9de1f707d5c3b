import NewsSystem

/// An application's connection to NEWS: one unix-socket connection to newsd's app socket,
/// held for the application's lifetime (its end closes every socket it opened). It is used
/// only to create and close sockets; data never goes through it.
public final class NewsStack {
    public static let defaultSocket = "/run/news/app.sock"
    let fd: Int32

    public init(socketPath: String = NewsStack.defaultSocket) throws(SocketError) {
        do { fd = try UnixSocket.connect(path: socketPath) } catch {
            throw SocketError(errno: error.errno, "cannot reach newsd at \(socketPath): \(error)")
        }
        UnixSocket.setReceiveTimeout(fd, seconds: 5)
    }

    deinit { FD.close(fd) }

    /// One request line; returns the answer's words and any descriptors sent with it.
    func request(_ line: String) throws(SocketError) -> ([Substring], [Int32]) {
        do { try FD.writeAll(fd, line + "\n") } catch { throw SocketError(errno: error.errno, "newsd: \(error)") }
        // The answer is one line; descriptors come with it. Blocking until it arrives.
        var bytes: [UInt8] = []
        var fds: [Int32] = []
        let deadline = Clock.nanos() + 5_000_000_000
        while !bytes.contains(UInt8(ascii: "\n")) {
            let got: (bytes: [UInt8], fds: [Int32])?
            do { got = try UnixSocket.receive(fd, max: 256, maxFDs: 4) } catch { throw SocketError(errno: error.errno, "newsd: \(error)") }
            if let got {
                if got.bytes.isEmpty && got.fds.isEmpty { throw SocketError(errno: Errno.notConnected, "newsd closed the connection") }
                bytes += got.bytes
                fds += got.fds
            } else {
                guard Clock.nanos() < deadline else { throw SocketError(errno: Errno.timedOut, "newsd did not answer") }
                Clock.sleep(nanos: 100_000)
            }
        }
        let words = String(decoding: bytes, as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\n" })
        guard words.first == "ok" else {
            fds.forEach(FD.close)
            throw SocketError(errno: Errno.invalid, "newsd: " + words.joined(separator: " "))
        }
        return (Array(words.dropFirst()), fds)
    }
}

/// A socket call that failed: the errno a POSIX call would have set, and what happened.
public struct SocketError: Error, CustomStringConvertible, Equatable {
    public let errno: Int32
    public let detail: String
    public init(errno: Int32, _ detail: String = "") { self.errno = errno; self.detail = detail }
    public var description: String { detail.isEmpty ? Errno.describe(errno) : "\(detail) (\(Errno.describe(errno)))" }
    public var wouldBlock: Bool { errno == Errno.again }
    static let again = SocketError(errno: Errno.again)
}
