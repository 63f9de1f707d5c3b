import NewsTCP

/// A connection's identity: the pair of endpoints every segment names (RFC 9293 3.1: "a
/// pair of sockets uniquely identifies each connection"). Addresses are IPv4 in host order.
public struct FourTuple: Hashable, Sendable, CustomStringConvertible {
    public var localAddress: UInt32
    public var localPort: UInt16
    public var remoteAddress: UInt32
    public var remotePort: UInt16

    public init(localAddress: UInt32, localPort: UInt16, remoteAddress: UInt32, remotePort: UInt16) {
        self.localAddress = localAddress; self.localPort = localPort
        self.remoteAddress = remoteAddress; self.remotePort = remotePort
    }

    public var description: String {
        "\(Self.dotted(localAddress)):\(localPort)-\(Self.dotted(remoteAddress)):\(remotePort)"
    }

    static func dotted(_ a: UInt32) -> String { "\(a >> 24).\(a >> 16 & 0xFF).\(a >> 8 & 0xFF).\(a & 0xFF)" }
}

/// The TCP server's demultiplexing and port ownership: which socket a segment belongs to,
/// and which (address, port) a socket may bind, listen on or connect from. Pure: the server
/// maps a refusal to its errno (`Refusal.errno`) and keeps the protocol state elsewhere.
///
/// Every socket the table knows is in one role: bound (bind() only), listening, connected
/// (any synchronized or synchronizing state from SYN-SENT on, which is when a connect()
/// takes its four-tuple) or in TIME-WAIT.
///
/// Bind rules, as Linux without SO_REUSEPORT (inet_csk_bind_conflict; checked against a
/// real kernel: bind, listen and TIME-WAIT cases alike):
///  - Two sockets' local addresses overlap when they are equal or either is the wildcard
///    0.0.0.0. Sockets on the same port whose addresses do not overlap never conflict
///    (198.18.0.1:80 and 198.18.0.2:80 coexist).
///  - Overlapping users of one port conflict (EADDRINUSE) unless both have SO_REUSEADDR and
///    the one already there is not listening. Connections count as users of their local
///    port, TIME-WAIT ones included, and they keep the SO_REUSEADDR flag of the socket they
///    were (an accepted connection inherits its listener's). So with SO_REUSEADDR a
///    restarted server may bind its port while its old connections linger in TIME-WAIT,
///    and without it (or when the old socket lacked it) that TIME-WAIT holds the port. A
///    listener always holds its port against every overlapping newcomer, with or without
///    the flag, which is why a wildcard and a specific listener never share a port here.
///  - listen() checks again, as Linux does: two sockets that shared a port while merely
///    bound cannot both listen on it.
///  - bind() twice is EINVAL; ports below 1024 are for uid 0 (EACCES), as without
///    CAP_NET_BIND_SERVICE.
///
/// Ephemeral ports for connect() follow RFC 6056 algorithm 4 ("double-hash port
/// selection", what Linux's __inet_hash_connect does): the search for a destination starts
/// at F(local address, remote address, remote port) plus a per-bucket counter, bucket
/// G(same), both keyed SipHash-2-4 with the server's secret. Different destinations start at
/// unrelated places an off-path attacker cannot guess; successive connects to one
/// destination move on from the last port used. A port is shared by any number of
/// connections to different destinations (the four-tuples differ); ports some socket bound
/// explicitly are left to their owners, as Linux leaves them.
public struct ConnectionTable: Sendable {
    /// Why the table refused; `errno` is the value the server reports.
    public enum Refusal: Error, Equatable, Sendable {
        /// The port is held by an overlapping socket (bind, listen), or no port is left for
        /// bind(port 0), or an accepted connection's four-tuple exists (EADDRINUSE).
        case addressInUse
        /// connect() found no usable port or its four-tuple is taken (EADDRNOTAVAIL).
        case addressNotAvailable
        /// bind() of a bound socket, listen() of an unbound or connected one, an address
        /// or port 0 where one is needed (EINVAL).
        case invalid
        /// connect() of a listening or connected socket (EISCONN, as Linux).
        case alreadyConnected
        /// A port below 1024 for a uid other than 0 (EACCES).
        case privileged

        public var errno: Int32 {
            switch self {
            case .addressInUse: 98
            case .addressNotAvailable: 99
            case .invalid: 22
            case .alreadyConnected: 106
            case .privileged: 13
            }
        }
    }

    public enum Role: UInt8, Sendable {
        case bound, listening, connected, timeWait
    }

    /// One socket's place in the table.
    public struct Entry: Equatable, Sendable {
        public var socket: UInt32
        /// 0.0.0.0 for a wildcard bind; a connection's is always specific.
        public var localAddress: UInt32
        public var localPort: UInt16
        /// 0 unless connected or in TIME-WAIT.
        public var remoteAddress: UInt32
        public var remotePort: UInt16
        public var role: Role
        public var reuseAddress: Bool
        /// Whether connect() chose the port (other connects may share it) rather than bind()
        /// or a listener.
        public var portFromConnect: Bool

        /// The four-tuple of a connection (also in TIME-WAIT); nil for bound and listening.
        public var tuple: FourTuple? {
            guard role == .connected || role == .timeWait else { return nil }
            return FourTuple(localAddress: localAddress, localPort: localPort, remoteAddress: remoteAddress, remotePort: remotePort)
        }
    }

    /// Where an arriving segment goes.
    public enum Delivery: Equatable, Sendable {
        case connection(UInt32)
        /// The four-tuple's connection is in TIME-WAIT (a SYN may reopen it, RFC 6191).
        case timeWait(UInt32)
        case listener(UInt32)
    }

    /// What connect() took.
    public struct Connection: Equatable, Sendable {
        public var tuple: FourTuple
        /// A TIME-WAIT connection with the same four-tuple that the caller allowed to be
        /// reused and that is now gone from the table: the server drops its control block.
        public var displaced: UInt32?
    }

    /// Linux's default net.ipv4.ip_local_port_range.
    public static let defaultEphemeralRange: ClosedRange<UInt16> = 32768...60999
    /// Ports below this are for uid 0 (Linux's ip_unprivileged_port_start).
    public static let firstUnprivilegedPort: UInt16 = 1024
    /// Buckets of RFC 6056 algorithm 4's counter table: 2^16 like Linux since 5.19, where a
    /// smaller table let a remote observer link connections of one host through shared
    /// buckets.
    static let perturbationBuckets = 1 << 16

    public let ephemeralRange: ClosedRange<UInt16>
    private let function: SipHash24
    private var perturbation: [UInt16]
    /// Successive bind(port 0) searches start at unrelated places.
    private var bindSearches: UInt32 = 0

    private var bySocket: [UInt32: Entry] = [:]
    /// Every socket using each local port, whatever its role.
    private var usersOf: [UInt16: Set<UInt32>] = [:]
    /// Listeners by their bound (address, port); address 0 is the wildcard. Internal, not
    /// private, only so tests can plant the wildcard-plus-specific pair the bind rules
    /// forbid, to pin the lookup order.
    var listeners: [Endpoint: UInt32] = [:]
    private var connections: [FourTuple: UInt32] = [:]
    public private(set) var timeWaitCount = 0

    struct Endpoint: Hashable, Sendable {
        var address: UInt32
        var port: UInt16
    }

    /// `secret`: the key of the ephemeral port hashes (RFC 6056's secret_key), random and
    /// never shown to applications. The per-bucket counters are not persisted: a restarted
    /// server re-enters its adopted connections, which keeps their four-tuples taken.
    /// `ephemeralRange` must not include port 0.
    public init(secret: (UInt64, UInt64), ephemeralRange: ClosedRange<UInt16> = defaultEphemeralRange) {
        precondition(ephemeralRange.lowerBound > 0, "port 0 is never an ephemeral port")
        self.ephemeralRange = ephemeralRange
        function = SipHash24(key: secret)
        perturbation = Array(repeating: 0, count: Self.perturbationBuckets)
    }

    // MARK: - Queries

    public func entry(of socket: UInt32) -> Entry? { bySocket[socket] }

    /// Where a segment from `remote` to `local` goes: the connection with exactly this
    /// four-tuple, else a listener bound to the exact local address, else a wildcard
    /// listener (Linux's order: __inet_lookup_established, then the listener lookup that
    /// scores a specific address above the wildcard). Nil: nobody (the server answers RST).
    public func lookup(_ t: FourTuple) -> Delivery? {
        if let s = connections[t] {
            return bySocket[s]?.role == .timeWait ? .timeWait(s) : .connection(s)
        }
        if let s = listeners[Endpoint(address: t.localAddress, port: t.localPort)] { return .listener(s) }
        if let s = listeners[Endpoint(address: 0, port: t.localPort)] { return .listener(s) }
        return nil
    }

    /// Every socket in the table.
    public var count: Int { bySocket.count }
    public var listenerCount: Int { listeners.count }
    /// Connections not in TIME-WAIT.
    public var connectionCount: Int { connections.count - timeWaitCount }

    /// Every entry, ordered by local port, local address, remote address, remote port and
    /// socket, so `newsctl ss` lists the same table the same way each time.
    public var entries: [Entry] {
        bySocket.values.sorted {
            ($0.localPort, $0.localAddress, $0.remoteAddress, $0.remotePort, $0.socket)
                < ($1.localPort, $1.localAddress, $1.remoteAddress, $1.remotePort, $1.socket)
        }
    }

    // MARK: - bind, listen

    /// bind(): `socket` takes (`address`, `port`); port 0 takes a free port of the ephemeral
    /// range (one no overlapping socket uses at all, SO_REUSEADDR or not, as Linux picks
    /// them). Returns the port.
    public mutating func bind(socket: UInt32, address: UInt32, port: UInt16, reuseAddress: Bool, uid: UInt32) -> Result<UInt16, Refusal> {
        guard bySocket[socket] == nil else { return .failure(.invalid) }
        var p = port
        if p == 0 {
            let found = freePortForBind(address: address)
            bindSearches &+= 1
            guard let free = found else { return .failure(.addressInUse) }
            p = free
        } else {
            if p < Self.firstUnprivilegedPort && uid != 0 { return .failure(.privileged) }
            if conflicts(address: address, port: p, reuseAddress: reuseAddress, except: socket) { return .failure(.addressInUse) }
        }
        insert(Entry(socket: socket, localAddress: address, localPort: p, remoteAddress: 0, remotePort: 0,
                     role: .bound, reuseAddress: reuseAddress, portFromConnect: false))
        return .success(p)
    }

    /// listen() of a bound socket. An unbound socket is refused: the server binds it to
    /// 0.0.0.0 port 0 first, which is what Linux's listen() does implicitly. Listening again
    /// is fine (only the backlog changes, which is not the table's business).
    public mutating func listen(socket: UInt32) -> Result<Void, Refusal> {
        guard var e = bySocket[socket] else { return .failure(.invalid) }
        switch e.role {
        case .listening: return .success(())
        case .connected, .timeWait: return .failure(.invalid)
        case .bound: break
        }
        if conflicts(address: e.localAddress, port: e.localPort, reuseAddress: e.reuseAddress, except: socket) {
            return .failure(.addressInUse)
        }
        e.role = .listening
        bySocket[socket] = e
        listeners[Endpoint(address: e.localAddress, port: e.localPort)] = socket
        return .success(())
    }

    // MARK: - Connections

    /// connect(): gives `socket` a four-tuple towards `remoteAddress`:`remotePort`.
    /// `localAddress` is the source address the route chose (used when the socket is
    /// unbound or bound to the wildcard). A bound socket keeps its port; an unbound one
    /// gets an ephemeral port (RFC 6056 algorithm 4, see the type's comment) with
    /// `reuseAddress` as its SO_REUSEADDR flag. A four-tuple already in use is refused, and
    /// one in TIME-WAIT too unless `reuseTimeWait` (the caller has decided that RFC 6191's
    /// or Linux's tcp_tw_reuse conditions hold); that TIME-WAIT connection is then removed
    /// and reported as `displaced`.
    public mutating func connect(socket: UInt32, localAddress: UInt32, remoteAddress: UInt32, remotePort: UInt16,
                                 reuseAddress: Bool = false, reuseTimeWait: Bool = false) -> Result<Connection, Refusal> {
        guard remoteAddress != 0, remotePort != 0 else { return .failure(.invalid) }
        if let e = bySocket[socket] {
            guard e.role == .bound else { return .failure(.alreadyConnected) }
            let local = e.localAddress != 0 ? e.localAddress : localAddress
            guard local != 0 else { return .failure(.invalid) }
            let t = FourTuple(localAddress: local, localPort: e.localPort, remoteAddress: remoteAddress, remotePort: remotePort)
            let c = claim(t, reuseTimeWait: reuseTimeWait)
            if case .taken = c { return .failure(.addressNotAvailable) }
            if let d = c.displaced { remove(socket: d) }
            var connected = e
            // Connecting fixes the local address, as Linux sets the bound address on connect.
            connected.localAddress = local
            connected.remoteAddress = remoteAddress
            connected.remotePort = remotePort
            connected.role = .connected
            bySocket[socket] = connected
            connections[t] = socket
            return .success(Connection(tuple: t, displaced: c.displaced))
        }
        guard localAddress != 0 else { return .failure(.invalid) }
        let n = Int(ephemeralRange.upperBound) - Int(ephemeralRange.lowerBound) + 1
        let offset = Int(hash(1, localAddress, remoteAddress, UInt32(remotePort)) % UInt64(n))
        let bucket = Int(hash(2, localAddress, remoteAddress, UInt32(remotePort)) % UInt64(Self.perturbationBuckets))
        let start = offset + Int(perturbation[bucket])
        for i in 0..<n {
            let port = UInt16(Int(ephemeralRange.lowerBound) + (start + i) % n)
            if hasExplicitUser(port) { continue }
            let t = FourTuple(localAddress: localAddress, localPort: port, remoteAddress: remoteAddress, remotePort: remotePort)
            let c = claim(t, reuseTimeWait: reuseTimeWait)
            if case .taken = c { continue }
            if let d = c.displaced { remove(socket: d) }
            // RFC 6056 advances the bucket's counter once per port tried, so the next
            // connect to this destination starts after this port.
            perturbation[bucket] = perturbation[bucket] &+ UInt16(truncatingIfNeeded: i + 1)
            insert(Entry(socket: socket, localAddress: localAddress, localPort: port, remoteAddress: remoteAddress, remotePort: remotePort,
                         role: .connected, reuseAddress: reuseAddress, portFromConnect: true))
            connections[t] = socket
            return .success(Connection(tuple: t, displaced: c.displaced))
        }
        return .failure(.addressNotAvailable)
    }

    /// A connection a listener accepted (its SYN arrived for `tuple`, which the listener's
    /// address and port cover). It inherits the listener's SO_REUSEADDR flag, as Linux's
    /// accepted sockets do. A TIME-WAIT holder of the tuple must have been removed first (the
    /// server decides whether a SYN may reopen it).
    public mutating func accept(socket: UInt32, listener: UInt32, tuple t: FourTuple) -> Result<Void, Refusal> {
        guard bySocket[socket] == nil, let l = bySocket[listener], l.role == .listening,
              l.localPort == t.localPort, l.localAddress == 0 || l.localAddress == t.localAddress,
              t.localAddress != 0, t.remoteAddress != 0, t.remotePort != 0 else { return .failure(.invalid) }
        guard connections[t] == nil else { return .failure(.addressInUse) }
        insert(Entry(socket: socket, localAddress: t.localAddress, localPort: t.localPort, remoteAddress: t.remoteAddress,
                     remotePort: t.remotePort, role: .connected, reuseAddress: l.reuseAddress, portFromConnect: false))
        connections[t] = socket
        return .success(())
    }

    /// The connection entered TIME-WAIT: it keeps its four-tuple and its port (the bind
    /// rules above) until removed. False when `socket` is no connection.
    @discardableResult
    public mutating func enterTimeWait(socket: UInt32) -> Bool {
        guard var e = bySocket[socket], e.role == .connected else { return false }
        e.role = .timeWait
        bySocket[socket] = e
        timeWaitCount += 1
        return true
    }

    /// The entry of `socket` goes on under the number `newSocket` (which must be unused):
    /// a TIME-WAIT connection that gave its region back to a listener's pool keeps its
    /// four-tuple and port under a number of its own, while the region's number serves the
    /// next connection. False when `socket` has no entry or `newSocket` has one.
    @discardableResult
    public mutating func rename(socket: UInt32, to newSocket: UInt32) -> Bool {
        guard socket != newSocket, bySocket[newSocket] == nil, var e = bySocket.removeValue(forKey: socket) else { return false }
        e.socket = newSocket
        bySocket[newSocket] = e
        usersOf[e.localPort]?.remove(socket)
        usersOf[e.localPort, default: []].insert(newSocket)
        switch e.role {
        case .bound: break
        case .listening:
            let key = Endpoint(address: e.localAddress, port: e.localPort)
            if listeners[key] == socket { listeners[key] = newSocket }
        case .connected, .timeWait:
            if let t = e.tuple, connections[t] == socket { connections[t] = newSocket }
        }
        return true
    }

    /// Forgets the socket: its port, listener or four-tuple is free again.
    public mutating func remove(socket: UInt32) {
        guard let e = bySocket.removeValue(forKey: socket) else { return }
        usersOf[e.localPort]?.remove(socket)
        if usersOf[e.localPort]?.isEmpty == true { usersOf[e.localPort] = nil }
        switch e.role {
        case .bound: break
        case .listening:
            let key = Endpoint(address: e.localAddress, port: e.localPort)
            if listeners[key] == socket { listeners[key] = nil }
        case .connected, .timeWait:
            if let t = e.tuple, connections[t] == socket { connections[t] = nil }
            if e.role == .timeWait { timeWaitCount -= 1 }
        }
    }

    // MARK: - Rules

    private static func overlap(_ a: UInt32, _ b: UInt32) -> Bool { a == 0 || b == 0 || a == b }

    /// Whether a socket with `reuseAddress` may not hold (`address`, `port`) beside the
    /// port's current users (the rules in the type's comment).
    private func conflicts(address: UInt32, port: UInt16, reuseAddress: Bool, except socket: UInt32) -> Bool {
        for id in usersOf[port] ?? [] where id != socket {
            guard let other = bySocket[id], Self.overlap(address, other.localAddress) else { continue }
            if reuseAddress && other.reuseAddress && other.role != .listening { continue }
            return true
        }
        return false
    }

    private func freePortForBind(address: UInt32) -> UInt16? {
        let n = Int(ephemeralRange.upperBound) - Int(ephemeralRange.lowerBound) + 1
        let start = Int(hash(3, address, bindSearches, 0) % UInt64(n))
        for i in 0..<n {
            let port = UInt16(Int(ephemeralRange.lowerBound) + (start + i) % n)
            let taken = (usersOf[port] ?? []).contains { id in bySocket[id].map { Self.overlap(address, $0.localAddress) } ?? false }
            if !taken { return port }
        }
        return nil
    }

    /// A port some socket holds by bind(), listen() or accept() rather than connect().
    private func hasExplicitUser(_ port: UInt16) -> Bool {
        (usersOf[port] ?? []).contains { bySocket[$0]?.portFromConnect == false }
    }

    /// Whether connect() may take a four-tuple.
    private enum Claim {
        case free
        /// The TIME-WAIT connection holding it may be displaced.
        case displacing(UInt32)
        case taken

        var displaced: UInt32? { if case .displacing(let s) = self { s } else { nil } }
    }

    private func claim(_ t: FourTuple, reuseTimeWait: Bool) -> Claim {
        guard let holder = connections[t] else { return .free }
        if reuseTimeWait && bySocket[holder]?.role == .timeWait { return .displacing(holder) }
        return .taken
    }

    private mutating func insert(_ e: Entry) {
        bySocket[e.socket] = e
        usersOf[e.localPort, default: []].insert(e.socket)
    }

    /// Keyed SipHash-2-4 of four words; `domain` keeps the three uses (RFC 6056's F and G,
    /// bind's start) independent of one another.
    private func hash(_ domain: UInt32, _ a: UInt32, _ b: UInt32, _ c: UInt32) -> UInt64 {
        var words: (UInt32, UInt32, UInt32, UInt32) = (domain, a, b, c)
        return withUnsafeBytes(of: &words) { function.hash($0) }
    }
}
