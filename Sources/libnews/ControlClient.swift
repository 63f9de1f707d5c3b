import NewsControl
import NewsSystem

/// The client side of newsd's control socket, used by newsctl (and by applications that
/// need to talk to the supervisor). One request per connection.
public struct ControlClient: Sendable {
    public static let defaultSocket = "/run/news/newsd.sock"
    public let socketPath: String

    public init(socketPath: String = ControlClient.defaultSocket) { self.socketPath = socketPath }

    /// Sends `request` and returns newsd's raw JSON reply. `timeoutSeconds` bounds the wait
    /// (a probe of many messages can take a while).
    public func send(_ request: ControlRequest, timeoutSeconds: Int = 30) throws(SystemError) -> [UInt8] {
        let fd = try UnixSocket.connect(path: socketPath)
        defer { FD.close(fd) }
        UnixSocket.setReceiveTimeout(fd, seconds: timeoutSeconds)
        try FD.writeAll(fd, request.line + "\n")
        var reply: [UInt8] = []
        while true {
            let chunk = try FD.read(fd)
            if chunk.isEmpty { break }
            reply += chunk
        }
        return reply
    }
}
