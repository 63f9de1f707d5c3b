/// newsd's answer to a control request, encoded as JSON (`newsctl --json` prints it as is).
public struct Reply: Codable, Sendable, Equatable {
    public var ok: Bool
    public var error: String?
    public var message: String?
    public var status: SystemStatus?
    public var stats: SystemStats?
    public var probe: ProbeResult?
    public var pf: FilterReport?
    public var sockets: [TCPSocketReport]?

    public init(ok: Bool = true, error: String? = nil, message: String? = nil, status: SystemStatus? = nil,
                stats: SystemStats? = nil, probe: ProbeResult? = nil, pf: FilterReport? = nil, sockets: [TCPSocketReport]? = nil) {
        self.ok = ok; self.error = error; self.message = message
        self.status = status; self.stats = stats; self.probe = probe; self.pf = pf; self.sockets = sockets
    }

    public static func failure(_ error: String) -> Reply { Reply(ok: false, error: error) }
}

public struct SystemStatus: Codable, Sendable, Equatable {
    public var ipc: String
    public var pid: Int32
    public var uptimeSeconds: Double
    public var faultInjection: Bool
    public var heartbeatMillis: Int
    public var servers: [ServerStatus]
    public init(ipc: String, pid: Int32, uptimeSeconds: Double, faultInjection: Bool, heartbeatMillis: Int, servers: [ServerStatus]) {
        self.ipc = ipc; self.pid = pid; self.uptimeSeconds = uptimeSeconds; self.faultInjection = faultInjection
        self.heartbeatMillis = heartbeatMillis; self.servers = servers
    }
}

public struct ServerStatus: Codable, Sendable, Equatable {
    public var name: String
    public var pid: Int32?
    public var core: Int
    /// starting, running, backoff, failed, stopped
    public var state: String
    public var restarts: Int
    public var uptimeSeconds: Double?
    public var lastExit: String?
    public var generation: UInt64
    /// The most recent exits, oldest first (newsd keeps a bounded history per server).
    public var exits: [ExitRecord]
    /// Optional fields are written as null rather than left out, so scripts can rely on
    /// every key being there.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(pid, forKey: .pid)
        try c.encode(core, forKey: .core)
        try c.encode(state, forKey: .state)
        try c.encode(restarts, forKey: .restarts)
        try c.encode(uptimeSeconds, forKey: .uptimeSeconds)
        try c.encode(lastExit, forKey: .lastExit)
        try c.encode(generation, forKey: .generation)
        try c.encode(exits, forKey: .exits)
    }

    public init(name: String, pid: Int32?, core: Int, state: String, restarts: Int, uptimeSeconds: Double?, lastExit: String?,
                generation: UInt64, exits: [ExitRecord]) {
        self.name = name; self.pid = pid; self.core = core; self.state = state; self.restarts = restarts
        self.uptimeSeconds = uptimeSeconds; self.lastExit = lastExit; self.generation = generation; self.exits = exits
    }
}

public struct ExitRecord: Codable, Sendable, Equatable {
    public var pid: Int32
    public var generation: UInt64
    /// Seconds since newsd started.
    public var at: Double
    public var uptimeSeconds: Double
    public var reason: String
    public init(pid: Int32, generation: UInt64, at: Double, uptimeSeconds: Double, reason: String) {
        self.pid = pid; self.generation = generation; self.at = at; self.uptimeSeconds = uptimeSeconds; self.reason = reason
    }
}

public struct Counter: Codable, Sendable, Equatable {
    public var name: String
    public var value: UInt64
    public init(name: String, value: UInt64) { self.name = name; self.value = value }
}

public struct SystemStats: Codable, Sendable, Equatable {
    public struct Server: Codable, Sendable, Equatable {
        public var name: String
        public var counters: [Counter]
        /// Counter records that failed validation (the server wrote garbage there).
        public var invalidCounters: Int
        public init(name: String, counters: [Counter], invalidCounters: Int) {
            self.name = name; self.counters = counters; self.invalidCounters = invalidCounters
        }
    }
    public struct Channel: Codable, Sendable, Equatable {
        public var name: String
        public var upper: String
        public var lower: String
        public var downSent: UInt64
        public var downReceived: UInt64
        public var upSent: UInt64
        public var upReceived: UInt64
        public init(name: String, upper: String, lower: String, downSent: UInt64, downReceived: UInt64, upSent: UInt64, upReceived: UInt64) {
            self.name = name; self.upper = upper; self.lower = lower
            self.downSent = downSent; self.downReceived = downReceived; self.upSent = upSent; self.upReceived = upReceived
        }
    }
    public var servers: [Server]
    public var channels: [Channel]
    public init(servers: [Server], channels: [Channel]) { self.servers = servers; self.channels = channels }
}

public struct ProbeResult: Codable, Sendable, Equatable {
    public var sent: Int
    public var received: Int
    public var lost: Int
    public var outOfOrder: Int
    public var duplicates: Int
    public var badHops: Int
    public var seconds: Double
    public var rttP50Micros: Double
    public var rttP99Micros: Double
    public init(sent: Int, received: Int, lost: Int, outOfOrder: Int, duplicates: Int, badHops: Int, seconds: Double, rttP50Micros: Double, rttP99Micros: Double) {
        self.sent = sent; self.received = received; self.lost = lost; self.outOfOrder = outOfOrder
        self.duplicates = duplicates; self.badHops = badHops; self.seconds = seconds
        self.rttP50Micros = rttP50Micros; self.rttP99Micros = rttP99Micros
    }
}

/// `newsctl pf show`: the rules in force, first match wins, each with its counters.
public struct FilterReport: Codable, Sendable, Equatable {
    public struct Rule: Codable, Sendable, Equatable {
        public var index: Int
        public var rule: String
        public var packets: UInt64
        public var bytes: UInt64
        public init(index: Int, rule: String, packets: UInt64, bytes: UInt64) {
            self.index = index; self.rule = rule; self.packets = packets; self.bytes = bytes
        }
    }
    public var rules: [Rule]
    public var defaultIn: String
    public var defaultOut: String
    public var defaultInPackets: UInt64
    public var defaultOutPackets: UInt64
    public var generation: UInt64
    /// Connections tracked now (valid, unexpired entries of the flow table).
    public var flows: Int
    public init(rules: [Rule], defaultIn: String, defaultOut: String, defaultInPackets: UInt64, defaultOutPackets: UInt64,
                generation: UInt64, flows: Int) {
        self.rules = rules; self.defaultIn = defaultIn; self.defaultOut = defaultOut
        self.defaultInPackets = defaultInPackets; self.defaultOutPackets = defaultOutPackets; self.generation = generation
        self.flows = flows
    }
}

/// One TCP socket as `newsctl ss` shows it (the fields `ss -tan` and `ss -ti` show), from
/// tcpserver's control block for it (refreshed on every state change and at least every
/// 100 ms while the connection is busy).
public struct TCPSocketReport: Codable, Sendable, Equatable {
    public var socket: UInt32
    public var uid: UInt32
    public var state: String
    public var local: String
    public var remote: String
    /// Bytes received and not yet read by the application (Recv-Q).
    public var receiveQueue: UInt64
    /// Bytes written and not yet acknowledged (Send-Q); for a listener ss shows the
    /// backlog here, and so does this.
    public var sendQueue: UInt64
    public var rttMillis: Double
    public var rttvarMillis: Double
    public var rtoMillis: Double
    public var cwnd: UInt64
    public var ssthresh: UInt64
    public var mss: Int
    public var rcvmss: Int
    public var sendWindow: UInt64
    public var receiveWindow: UInt64
    public var retransmissions: Int
    public var options: [String]

    public init(socket: UInt32, uid: UInt32, state: String, local: String, remote: String, receiveQueue: UInt64, sendQueue: UInt64,
                rttMillis: Double, rttvarMillis: Double, rtoMillis: Double, cwnd: UInt64, ssthresh: UInt64, mss: Int,
                rcvmss: Int, sendWindow: UInt64, receiveWindow: UInt64, retransmissions: Int, options: [String]) {
        self.socket = socket; self.uid = uid; self.state = state; self.local = local; self.remote = remote
        self.receiveQueue = receiveQueue; self.sendQueue = sendQueue; self.rttMillis = rttMillis; self.rttvarMillis = rttvarMillis
        self.rtoMillis = rtoMillis; self.cwnd = cwnd; self.ssthresh = ssthresh; self.mss = mss; self.rcvmss = rcvmss
        self.sendWindow = sendWindow; self.receiveWindow = receiveWindow; self.retransmissions = retransmissions; self.options = options
    }
}
