// IPv4 routing table with longest-prefix match (RFC 1812 5.2.4.3 style; for a host,
// RFC 1122 3.3.1 reduces this to "connected network, else default gateway").

import NewsWire

public struct Route: Hashable, Sendable, CustomStringConvertible {
    public var network: IPv4Address
    public var prefixLength: Int
    /// nil: the network is directly connected and the destination itself is the next hop.
    public var gateway: IPv4Address?
    public var interface: Int
    /// Lower wins among routes with equal prefix length.
    public var metric: UInt32

    public init(network: IPv4Address, prefixLength: Int, gateway: IPv4Address? = nil, interface: Int, metric: UInt32 = 0) {
        self.network = network
        self.prefixLength = prefixLength
        self.gateway = gateway
        self.interface = interface
        self.metric = metric
    }

    /// 0.0.0.0/0 via `gateway`.
    public static func defaultRoute(via gateway: IPv4Address, interface: Int, metric: UInt32 = 0) -> Route {
        Route(network: .unspecified, prefixLength: 0, gateway: gateway, interface: interface, metric: metric)
    }

    public var isConnected: Bool { gateway == nil }

    /// Only meaningful for a validated route (prefix 0...32).
    public func contains(_ ip: IPv4Address) -> Bool {
        ip.isInSubnet(network, prefix: prefixLength)
    }

    public var description: String {
        let via = gateway.map { " via \($0)" } ?? " connected"
        return "\(network)/\(prefixLength)\(via) if\(interface) metric \(metric)"
    }
}

public enum RouteError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalidPrefixLength(Int)
    case hostBitsSet(network: IPv4Address, prefixLength: Int)
    case invalidInterface(Int)
    /// RFC 1122 3.3.1.1: a gateway must be "on a connected network"; we can only reach it there.
    case gatewayNotOnConnectedNetwork(IPv4Address)
    /// The gateway's connected network is on a different interface than the route names.
    case gatewayInterfaceMismatch(gateway: IPv4Address, routeInterface: Int, connectedInterface: Int)
    /// The gateway is the network or broadcast address of its connected network.
    case gatewayNotAHost(IPv4Address)
    case duplicate(Route)
    case notFound(Route)
    /// Removing this connected route would strand a gateway route that depends on it.
    case inUse(by: Route)

    public var description: String {
        switch self {
        case .invalidPrefixLength(let p): "prefix length \(p) is not in 0...32"
        case .hostBitsSet(let n, let p): "\(n)/\(p) has host bits set"
        case .invalidInterface(let i): "interface index \(i) is out of range"
        case .gatewayNotOnConnectedNetwork(let g): "gateway \(g) is not on a connected network"
        case .gatewayInterfaceMismatch(let g, let r, let c):
            "gateway \(g) is connected on if\(c), not if\(r)"
        case .gatewayNotAHost(let g): "gateway \(g) is a network or broadcast address"
        case .duplicate(let r): "route \(r) already exists"
        case .notFound(let r): "route \(r) does not exist"
        case .inUse(let r): "route \(r) depends on it"
        }
    }
}

public struct RouteTable: Sendable, Equatable {
    /// Kept sorted: longest prefix first, then lowest metric, then insertion order, so the
    /// first matching route is the answer. Tables here are small; a linear scan is fine.
    public private(set) var routes: [Route] = []

    public init() {}

    /// Adds a route after validating it. Connected routes must be added before the gateway
    /// routes that rely on them.
    public mutating func add(_ route: Route) throws(RouteError) {
        try add(route, gatewaysCheckedAgainst: routes)
    }

    /// `add`, with gateways validated against `connectedRoutes` instead of this table.
    mutating func add(_ route: Route, gatewaysCheckedAgainst connectedRoutes: [Route]) throws(RouteError) {
        try Self.validate(route, against: connectedRoutes)
        if let same = routes.first(where: { Self.sameIdentity($0, route) }) { throw .duplicate(same) }
        let index = routes.firstIndex { Self.ranksAfter($0, route) } ?? routes.endIndex
        routes.insert(route, at: index)
    }

    /// Removes a route (matched on network, prefix, gateway and interface; metric ignored).
    public mutating func remove(_ route: Route) throws(RouteError) {
        guard let index = routes.firstIndex(where: { Self.sameIdentity($0, route) }) else {
            throw .notFound(route)
        }
        var remaining = routes
        remaining.remove(at: index)
        for other in remaining where !other.isConnected {
            do { try Self.validateGateway(of: other, against: remaining) } catch { throw .inUse(by: other) }
        }
        routes = remaining
    }

    /// Longest-prefix match. The next hop is the gateway, or the destination itself when
    /// the matching network is directly connected (RFC 1122 3.3.1.1).
    public func route(to destination: IPv4Address) -> (nextHop: IPv4Address, route: Route)? {
        guard let match = routes.first(where: { $0.contains(destination) }) else { return nil }
        return (nextHop: match.gateway ?? destination, route: match)
    }

    // MARK: - Validation

    static func validate(_ route: Route, against existing: [Route]) throws(RouteError) {
        guard (0...32).contains(route.prefixLength) else { throw .invalidPrefixLength(route.prefixLength) }
        guard IPv4Network(address: route.network, prefix: route.prefixLength)?.address == route.network else {
            throw .hostBitsSet(network: route.network, prefixLength: route.prefixLength)
        }
        guard route.interface >= 0, route.interface <= Int(UInt32.max) else {
            throw .invalidInterface(route.interface)
        }
        if !route.isConnected { try validateGateway(of: route, against: existing) }
    }

    /// The gateway must lie in a connected network on the route's interface and be a host
    /// address there. Gateways reached via other gateways are not allowed (no recursion).
    static func validateGateway(of route: Route, against existing: [Route]) throws(RouteError) {
        guard let gateway = route.gateway else { return }
        let connected = existing.filter { $0.isConnected && $0.contains(gateway) }
        guard let best = connected.first(where: { $0.interface == route.interface }) else {
            if let other = connected.first {
                throw .gatewayInterfaceMismatch(gateway: gateway, routeInterface: route.interface,
                                                connectedInterface: other.interface)
            }
            throw .gatewayNotOnConnectedNetwork(gateway)
        }
        // On /31 and /32 links every address is a host (RFC 3021); otherwise the all-zeros
        // and all-ones host parts are the network and broadcast addresses.
        if best.prefixLength < 31, let net = IPv4Network(address: best.network, prefix: best.prefixLength),
           gateway == net.address || gateway == net.broadcast {
            throw .gatewayNotAHost(gateway)
        }
    }

    private static func sameIdentity(_ a: Route, _ b: Route) -> Bool {
        a.network == b.network && a.prefixLength == b.prefixLength
            && a.gateway == b.gateway && a.interface == b.interface
    }

    /// Whether `existing` belongs after `new` in lookup order (strictly, so ties keep
    /// insertion order).
    private static func ranksAfter(_ existing: Route, _ new: Route) -> Bool {
        if existing.prefixLength != new.prefixLength { return existing.prefixLength < new.prefixLength }
        return existing.metric > new.metric
    }
}
