import NewsSystem

/// One line newsd sends a transport server over its control socketpair (AppBroker's
/// outbox): a socket region and its kick to take, or a socket to let go. Both transports
/// read it here, so the format has one reader.
///
///     open ID UID              + region, kick
///     spare LISTENER ID UID    + region, kick   (TCP: a region for a listener's next connection)
///     close ID
///     accepted ID                               (TCP: a spare newsd made the application's
///                                                own socket by `accept`: it is no longer
///                                                its listener's pool's)
public enum SocketHandoff: Equatable, Sendable {
    case open(id: UInt32, uid: UInt32, region: Int32, kick: Int32)
    case spare(listener: UInt32, id: UInt32, uid: UInt32, region: Int32, kick: Int32)
    case close(id: UInt32)
    case accepted(id: UInt32)
    /// Anything else; its descriptors are already closed.
    case malformed

    /// The hand-offs waiting on `control`, without blocking.
    public static func receiveAll(_ control: Int32) -> [SocketHandoff] {
        var out: [SocketHandoff] = []
        while let msg = try? UnixSocket.receive(control, max: 256, maxFDs: 2) {
            out.append(parse(String(decoding: msg.bytes, as: UTF8.self), fds: msg.fds))
        }
        return out
    }

    static func parse(_ line: String, fds: [Int32]) -> SocketHandoff {
        let w = line.split(separator: " ")
        switch (w.first, w.count, fds.count) {
        case ("open", 3, 2):
            if let id = UInt32(w[1]), let uid = UInt32(w[2]) { return .open(id: id, uid: uid, region: fds[0], kick: fds[1]) }
        case ("spare", 4, 2):
            if let l = UInt32(w[1]), let id = UInt32(w[2]), let uid = UInt32(w[3]) {
                return .spare(listener: l, id: id, uid: uid, region: fds[0], kick: fds[1])
            }
        case ("close", 2, 0):
            if let id = UInt32(w[1]) { return .close(id: id) }
        case ("accepted", 2, 0):
            if let id = UInt32(w[1]) { return .accepted(id: id) }
        default:
            break
        }
        fds.forEach(FD.close)
        return .malformed
    }
}
