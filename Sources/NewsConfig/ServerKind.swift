/// The six NEWS servers. The raw value is the name used everywhere: in the config file, on
/// the `newsctl` command line, in logs and as the executable's name.
public enum ServerKind: String, CaseIterable, Sendable, Codable, Comparable {
    case nicdriver, packetfilter, ipserver, udpserver, tcpserver, vfs

    /// The executable built from this server's target (Sources/<Target>).
    public var executable: String { rawValue }

    /// Bytes of supervisor-owned state memory the server gets, kept across its restarts:
    /// room for the filter's rules and flow table, the ARP cache and routes, and so on.
    public var stateRegionSize: Int {
        switch self {
        case .packetfilter, .tcpserver: 1 << 20
        case .ipserver: 256 << 10
        case .udpserver, .vfs: 64 << 10
        case .nicdriver: 4 << 10
        }
    }

    public static func < (a: ServerKind, b: ServerKind) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }

    /// Parses a user-supplied name; the error lists the valid names.
    public static func parse(_ name: String) throws(UnknownServer) -> ServerKind {
        guard let kind = ServerKind(rawValue: name.lowercased()) else { throw UnknownServer(name: name) }
        return kind
    }
}

public struct UnknownServer: Error, CustomStringConvertible {
    public let name: String
    public var description: String {
        "unknown server '\(name)'; servers are: " + ServerKind.allCases.map(\.rawValue).joined(separator: ", ")
    }
}

/// Either end of a channel: a server, or newsd itself (which injects probe traffic).
public enum Endpoint: Hashable, Sendable, CustomStringConvertible {
    case newsd
    case server(ServerKind)
    public var description: String {
        switch self {
        case .newsd: "newsd"
        case .server(let s): s.rawValue
        }
    }
}

/// The channel graph. Side A is the end nearer the application ("upper"), side B the end
/// nearer the wire ("lower"). Each channel carries one ring per direction.
public struct ChannelSpec: Hashable, Sendable {
    public let name: String
    public let upper: Endpoint
    public let lower: Endpoint
    /// Bytes of payload per message: 2 KB for control traffic; whole (reassembled)
    /// datagrams between the IP server and UDP; up to 64 KB TCP segments and frames where
    /// TSO and coalesced segments pass (`Topology.frameSlot`).
    public var slot: Int = 2048

    public init(name: String, upper: Endpoint, lower: Endpoint, slot: Int = 2048) {
        self.name = name; self.upper = upper; self.lower = lower; self.slot = slot
    }

    /// The ring capacity this channel uses when the configured one is `ring`: channels with
    /// 64 KB slots hold at most 512 messages (32 MB of slots a direction, mostly never
    /// touched when frames are small), the others `ring`.
    public func capacity(ring: Int) -> Int { slot > Topology.datagramSlot ? min(ring, 512) : ring }

    public static func named(_ name: String) -> ChannelSpec? { Topology.channels.first { $0.name == name } }
}

public enum Topology {
    /// Room for a reassembled 9000-byte datagram with its IP header.
    public static let datagramSlot = 9216
    /// Room for the largest IPv4 packet (65,535 bytes) with its Ethernet header, rounded up
    /// to a cache line: a TSO segment on its way down, a coalesced one on its way up.
    public static let frameSlot = 65_600

    public static let channels: [ChannelSpec] = [
        ChannelSpec(name: "newsd-vfs", upper: .newsd, lower: .server(.vfs)),
        ChannelSpec(name: "vfs-udp", upper: .server(.vfs), lower: .server(.udpserver)),
        ChannelSpec(name: "vfs-tcp", upper: .server(.vfs), lower: .server(.tcpserver)),
        ChannelSpec(name: "udp-ip", upper: .server(.udpserver), lower: .server(.ipserver), slot: Topology.datagramSlot),
        ChannelSpec(name: "tcp-ip", upper: .server(.tcpserver), lower: .server(.ipserver), slot: Topology.frameSlot),
        ChannelSpec(name: "ip-pf", upper: .server(.ipserver), lower: .server(.packetfilter), slot: Topology.frameSlot),
        ChannelSpec(name: "pf-nic", upper: .server(.packetfilter), lower: .server(.nicdriver), slot: Topology.frameSlot),
        // Frames the NIC driver mirrors to newsd while `newsctl capture` runs.
        ChannelSpec(name: "nic-capture", upper: .newsd, lower: .server(.nicdriver), slot: Topology.frameSlot),
    ]

    public static func channels(of endpoint: Endpoint) -> [ChannelSpec] {
        channels.filter { $0.upper == endpoint || $0.lower == endpoint }
    }
}
