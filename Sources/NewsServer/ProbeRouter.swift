import NewsConfig
import NewsIPC

/// The pure core every server shares in the foundation: where a probe goes next. A probe
/// arriving from above continues down; one arriving from below continues up; at a fork (vfs
/// going down, ipserver going up) the probe's route picks the udp or tcp branch; at the
/// bottom (nicdriver) it is reflected back up the channel it came on.
public struct ProbeRouter: Sendable {
    public struct Port: Sendable, Equatable {
        public let name: String
        public let side: ChannelSide      // our side of the channel
        public let peer: Endpoint
        public init(name: String, side: ChannelSide, peer: Endpoint) { self.name = name; self.side = side; self.peer = peer }
    }

    public let ports: [Port]

    /// Builds the ports of `server` from its channel names, checking each against the
    /// topology; an unknown channel, or one that does not touch this server, is an error.
    public init(server: ServerKind, channels: [(name: String, side: ChannelSide)]) throws(LaunchArguments.Invalid) {
        var ports: [Port] = []
        for c in channels {
            guard let spec = Topology.channels.first(where: { $0.name == c.name }) else {
                throw LaunchArguments.Invalid(description: "unknown channel '\(c.name)'")
            }
            let me: Endpoint = .server(server)
            guard (c.side == .upper ? spec.upper : spec.lower) == me else {
                throw LaunchArguments.Invalid(description: "channel '\(c.name)' does not have \(server.rawValue) as its \(c.side) end")
            }
            ports.append(Port(name: c.name, side: c.side, peer: c.side == .upper ? spec.lower : spec.upper))
        }
        self.ports = ports
    }

    /// The port a probe that arrived on `port` leaves by, or nil if it cannot be routed
    /// (bad route value, or no channel in that direction).
    public func next(for message: Message, arrivedOn port: Int) -> Int? {
        guard ports.indices.contains(port), let route = message.probeRoute else { return nil }
        // Arrived on a channel where we are the lower end: it came from above, goes down.
        let goingDown = ports[port].side == .lower
        let candidates = ports.indices.filter { ports[$0].side == (goingDown ? .upper : .lower) }
        if candidates.isEmpty { return goingDown ? port : nil }
        if candidates.count == 1 { return candidates[0] }
        let wanted: Endpoint = .server(route == .udp ? .udpserver : .tcpserver)
        return candidates.first { ports[$0].peer == wanted }
    }
}
