/// Which socket holds which UDP port: the UDP server's authority on bindings (RFC 768 names
/// ports; RFC 6335 §6 gives the dynamic range 49152–65535 that ephemeral ports come from).
/// Pure: the server maps the outcome to errno values and to the header it reports to the
/// application.
public struct PortTable: Sendable {
    public enum Refusal: Error, Equatable, Sendable {
        /// Another socket holds the port (EADDRINUSE).
        case inUse
        /// Ports below 1024 are for uid 0 only (EACCES), as on Linux without
        /// CAP_NET_BIND_SERVICE.
        case privileged
        /// Every dynamic port is taken (EADDRINUSE, as Linux reports it).
        case exhausted
    }

    public static let ephemeral: ClosedRange<UInt16> = 49152...65535
    public private(set) var holders: [UInt16: UInt32] = [:]
    private var portOf: [UInt32: UInt16] = [:]
    private var nextEphemeral = ephemeral.lowerBound

    public init() {}

    public func holder(of port: UInt16) -> UInt32? { holders[port] }
    public subscript(port: UInt16) -> UInt32? { holders[port] }
    public func port(of socket: UInt32) -> UInt16? { portOf[socket] }

    /// Binds `socket` (of `uid`) to `port`, or to a free ephemeral port when `port` is 0.
    /// A socket holds at most one port; rebinding to a new one releases the old.
    public mutating func claim(_ port: UInt16, socket: UInt32, uid: UInt32) -> Result<UInt16, Refusal> {
        var p = port
        if p == 0 {
            guard let free = freeEphemeral() else { return .failure(.exhausted) }
            p = free
        }
        if p < 1024 && uid != 0 { return .failure(.privileged) }
        if let h = holders[p], h != socket { return .failure(.inUse) }
        if let old = portOf[socket], old != p { holders[old] = nil }
        holders[p] = socket
        portOf[socket] = p
        return .success(p)
    }

    public mutating func release(socket: UInt32) {
        guard let p = portOf.removeValue(forKey: socket) else { return }
        if holders[p] == socket { holders[p] = nil }
    }

    private mutating func freeEphemeral() -> UInt16? {
        let count = Int(Self.ephemeral.upperBound) - Int(Self.ephemeral.lowerBound) + 1
        for _ in 0..<count {
            let p = nextEphemeral
            nextEphemeral = p == Self.ephemeral.upperBound ? Self.ephemeral.lowerBound : p + 1
            if holders[p] == nil { return p }
        }
        return nil
    }
}
