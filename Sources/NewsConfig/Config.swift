import NewsWire

/// How the servers exchange messages.
public enum IPCMode: String, Sendable, CaseIterable, Equatable {
    case shm, kernel
}

/// The validated configuration of the supervisor (newsd).
///
/// `Config.default` is the built-in configuration; parsing an empty file gives exactly it.
/// Field names are the Swift spelling of the file's keys (`control_socket` → `controlSocket`,
/// `[restart] backoff_max_ms` → `restart.backoffMaxMs`). A value built in code can be checked
/// with `validate()`; `parse` and `validate` enforce the same rules.
public struct Config: Sendable, Equatable {
    /// `[heartbeat]`
    public struct Heartbeat: Sendable, Equatable {
        /// Interval between heartbeats, in milliseconds (20...60000).
        public var periodMs: Int

        public init(periodMs: Int = 250) {
            self.periodMs = periodMs
        }
    }

    /// `[restart]`
    public struct Restart: Sendable, Equatable {
        /// Delay before the first restart, in milliseconds (1...60000).
        public var backoffInitialMs: Int
        /// Upper bound on the restart delay, in milliseconds (backoffInitialMs...600000).
        public var backoffMaxMs: Int
        /// Restarts allowed (1...1000) ...
        public var intensity: Int
        /// ... within this many seconds (1...3600).
        public var windowS: Int
        /// Uptime in seconds after which the backoff resets (0...3600).
        public var stableS: Int
        /// Time a starting server has to come up, in milliseconds (100...60000).
        public var startupTimeoutMs: Int

        public init(
            backoffInitialMs: Int = 10, backoffMaxMs: Int = 1000, intensity: Int = 5,
            windowS: Int = 10, stableS: Int = 2, startupTimeoutMs: Int = 3000
        ) {
            self.backoffInitialMs = backoffInitialMs
            self.backoffMaxMs = backoffMaxMs
            self.intensity = intensity
            self.windowS = windowS
            self.stableS = stableS
            self.startupTimeoutMs = startupTimeoutMs
        }
    }

    /// `ipc`
    public var ipc: IPCMode
    /// `uid_base`: server i (in `ServerKind.allCases` order) runs as uid and gid
    /// `uid_base + i`, unless `users` names another user for it (see `serverIDs`).
    public var uidBase = 61000
    /// `[users]`: the user a server runs as instead of its `uid_base` ids.
    public var users: [ServerKind: ServerUser] = [:]
    /// `control_socket`: absolute path of the control socket (at most 107 bytes).
    public var controlSocket: String
    /// `control_group`: group allowed to use the control socket (non-empty).
    public var controlGroup: String
    /// `fault_injection`
    public var faultInjection: Bool
    /// `ring_capacity`: a power of two in 16...65536.
    public var ringCapacity: Int
    /// `spin`: bounded spin iterations before sleeping (0...1_000_000).
    public var spin: Int
    /// `log_level`: one of `Config.logLevels`.
    public var logLevel: String
    public var heartbeat: Heartbeat
    public var restart: Restart
    /// `[cores]`: CPU (0...63) per server; a server not named is placed by newsd (see
    /// CoreMap: with fewer CPUs than processes, servers apart from applications).
    public var cores: [ServerKind: Int]
    /// `[cores] apps`: the CPUs applications run on (newsd tells libnews, which sets the
    /// affinity); empty means newsd chooses them. Sorted, without repeats.
    public var appCores: [Int] = []
    /// `linger_us`: how long a server keeps polling after its last work before it sleeps.
    public var lingerMicros = 200
    /// `app_socket`: where applications (libnews) ask newsd for sockets.
    public var appSocket = "/run/news/app.sock"
    /// `[nic]`: the network device the NIC driver drives.
    public var nic = NIC()
    /// `[ip]`: NEWS's own IPv4 configuration.
    public var ip = IP()
    public var tcp = TCP()
    /// `[pf]`: the packet filter.
    public var pf = PF()
    /// Where the parsed file had each key (for errors found later); not part of the value.
    public var sourceLines = SourceLines()
    /// `app_group`: group allowed to use the app socket; "" = any local user.
    public var appGroup = ""
    /// `[limits]`: what applications may hold.
    public var limits = Limits()

    /// Per-uid and global limits on applications. Each socket is a fresh region of about
    /// 1.2 MB (memory only as it is touched), so the per-uid socket limit bounds what one user
    /// can make newsd and the UDP server map.
    public struct Limits: Sendable, Equatable {
        public var appsPerUID = 16
        public var socketsPerUID = 1024
        public var apps = 256
        public var sockets = 2000
        public init() {}
    }

    public struct PF: Sendable, Equatable {
        /// Rules file loaded at start-up; "" = no rules (everything passes).
        public var rules = ""
        public init() {}
    }

    public struct NIC: Sendable, Equatable {
        /// "none" (no device: the stack only carries probes), "tap", or "cable".
        public var backend = "none"
        /// The cable file (backend "cable") and which end of it this NEWS is.
        public var cable = "/dev/shm/news-cable"
        public var cableSide = "a"
        /// Name of the TAP device newsd creates.
        public var tap = "news0"
        /// Network namespace (under /run/netns) to create the TAP in; "" = newsd's own.
        public var netns = ""
        /// NEWS's Ethernet address on the link.
        public var mac = "02:4e:57:53:00:02"
        /// Impairments toward the stack (`in`) and toward the wire (`out`), applied by the
        /// NIC driver: percentages of frames lost, duplicated, reordered, and a delay.
        public var impair = [Impairment(), Impairment()]
        /// Use the TAP's virtio-net header with checksum offload and TSO both ways.
        public var offloads = true
        public init() {}

        /// Whether the link really runs with offloads: a TAP, asked for, and no impairments
        /// (those act on wire frames, which a 64 KB TSO segment is not).
        public var offloadsActive: Bool {
            backend == "tap" && offloads && !impair.contains { $0 != Impairment() }
        }

        public struct Impairment: Sendable, Equatable {
            public var loss = 0
            public var duplicate = 0
            public var reorder = 0
            public var delayMicros = 0
            public init() {}
        }
    }

    /// tcpserver's policy (the protocol itself has no knobs here).
    public struct TCP: Sendable, Equatable {
        /// "cubic" (RFC 9438) or "newreno" (RFC 6582).
        public var congestion = "cubic"
        /// TIME-WAIT lasts this long (2 x MSL; Linux: 60 s).
        public var timeWaitSeconds = 60
        /// Delayed-ACK timeout (RFC 9293 3.8.6.3: under 500 ms; Linux's minimum: 40 ms).
        public var delayedAckMillis = 40
        public static let congestionAlgorithms = ["cubic", "newreno"]
        public init() {}
    }

    public struct IP: Sendable, Equatable {
        /// NEWS's address and the connected network, as address/prefix.
        public var address = "198.18.0.2/24"
        /// Default gateway on the connected network; "" = none.
        public var gateway = ""
        /// Link MTU in bytes.
        public var mtu = 1500
        public init() {}
    }

    public init(
        ipc: IPCMode = .shm, controlSocket: String = "/run/news/newsd.sock",
        controlGroup: String = "root", faultInjection: Bool = false, ringCapacity: Int = 1024,
        spin: Int = 2000, logLevel: String = "info", heartbeat: Heartbeat = Heartbeat(),
        restart: Restart = Restart(), cores: [ServerKind: Int] = [:]
    ) {
        self.ipc = ipc
        self.controlSocket = controlSocket
        self.controlGroup = controlGroup
        self.faultInjection = faultInjection
        self.ringCapacity = ringCapacity
        self.spin = spin
        self.logLevel = logLevel
        self.heartbeat = heartbeat
        self.restart = restart
        self.cores = cores
    }

    /// The built-in configuration.
    public static let `default` = Config()

    /// The accepted values of `log_level`, most verbose first.
    public static let logLevels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]

    /// The accepted CPU numbers under `[cores]`.
    public static let cpuRange = 0...63

    /// Parses and validates a configuration file. Keys that are absent keep their defaults.
    public static func parse(_ text: String) throws(ConfigError) -> Config {
        let document = try TOMLDocument.parse(text)
        var config = Config()
        var lines: [String: Int] = [:]  // "table.key" -> line, for cross-field errors
        for table in document.tables {
            let name = table.path.count == 1 ? table.path[0] : table.path.isEmpty ? "" : table.name
            if name == "cores" {
                (config.cores, config.appCores) = try parseCores(table)
                continue
            }
            if name == "users" {
                config.users = try parseUsers(table, lines: &lines)
                continue
            }
            guard name.isEmpty || ConfigField.tables.contains(name) else {
                let valid = (ConfigField.tables + ["cores", "users"]).map { "[\($0)]" }.joined(separator: ", ")
                throw ConfigError(line: table.line, "unknown table [\(table.name)]; tables are: \(valid)")
            }
            let fields = ConfigField.all.filter { $0.table == name }
            for entry in table.entries {
                guard let field = fields.first(where: { $0.key == entry.key }) else {
                    if name.isEmpty, let why = ConfigField.removed[entry.key] {
                        throw ConfigError(line: entry.line, key: entry.key, why)
                    }
                    let place = name.isEmpty ? "at top level" : "in [\(name)]"
                    let valid = fields.map(\.key).joined(separator: ", ")
                    throw ConfigError(line: entry.line, key: entry.key, "unknown key \(place); keys are: \(valid)")
                }
                try field.assign(entry.value, to: &config, line: entry.line)
                lines[name + "." + entry.key] = entry.line
            }
        }
        try config.checkRelations(lines: lines)
        config.sourceLines.lines = lines
        return config
    }

    /// `parse(_:)`, with errors naming `path` (see `ConfigError.withPath(_:)`).
    public static func parse(_ text: String, path: String) throws(ConfigError) -> Config {
        do {
            return try parse(text)
        } catch {
            throw error.withPath(path)
        }
    }

    /// Checks a configuration built in code against the rules `parse` enforces (errors have line 0).
    public func validate() throws(ConfigError) {
        var scratch = self
        for field in ConfigField.all {
            try field.assign(field.value(in: self), to: &scratch, line: 0)
        }
        for (server, cpu) in cores where !Config.cpuRange.contains(cpu) {
            throw ConfigError(key: server.rawValue, Config.cpuMessage(found: .integer(cpu)))
        }
        if !appCores.isEmpty, appCores != (try? Config.parseCPUList(Config.renderCPUList(appCores))) {
            throw ConfigError(key: "apps", "expected CPUs in \(Config.cpuRange), ascending without repeats, found \(appCores)")
        }
        for (server, user) in users where !user.isValid {
            throw ConfigError(key: server.rawValue, "expected \(ServerUser.expected), found \(user.tomlValue)")
        }
        try checkRelations(lines: [:])
    }

    private static func cpuMessage(found: TOMLValue) -> String {
        "expected a CPU number in \(cpuRange), found \(found)"
    }

    private static func parseCores(_ table: TOMLTable) throws(ConfigError) -> ([ServerKind: Int], [Int]) {
        var cores: [ServerKind: Int] = [:]
        var apps: [Int] = []
        var seen: [ServerKind: Int] = [:]
        for entry in table.entries {
            if entry.key == appsKey {  // given twice: the TOML reader's duplicate-key error
                switch entry.value {
                case .integer(let cpu) where cpuRange.contains(cpu): apps = [cpu]
                case .string(let list):
                    do { apps = try parseCPUList(list) } catch {
                        throw ConfigError(line: entry.line, key: entry.key, error.description)
                    }
                default:
                    throw ConfigError(line: entry.line, key: entry.key,
                                      "expected a CPU list such as \"1\" or \"1,3\" or \"2-5\" (CPUs in \(cpuRange)), found \(entry.value)")
                }
                continue
            }
            guard let server = try? ServerKind.parse(entry.key) else {
                throw ConfigError(line: entry.line, key: entry.key,
                                  UnknownServer(name: entry.key).description + ", or '\(appsKey)' for the applications' CPUs")
            }
            if let first = seen[server] {
                throw ConfigError(line: entry.line, key: entry.key,
                                  "server '\(server.rawValue)' already given on line \(first)")
            }
            guard case .integer(let cpu) = entry.value, cpuRange.contains(cpu) else {
                throw ConfigError(line: entry.line, key: entry.key, cpuMessage(found: entry.value))
            }
            seen[server] = entry.line
            cores[server] = cpu
        }
        return (cores, apps)
    }

    /// The `[cores]` key that names the applications' CPUs rather than a server's.
    public static let appsKey = "apps"

    public struct CPUListError: Error, CustomStringConvertible, Equatable {
        public let description: String
    }

    /// Parses a CPU list in the kernel's cpulist form ("1", "0,2", "2-5,7"): the CPUs,
    /// ascending. Each CPU in `cpuRange`; none given twice; not empty.
    public static func parseCPUList(_ text: String) throws(CPUListError) -> [Int] {
        func fail(_ why: String) -> CPUListError {
            CPUListError(description: "\(why) in CPU list \(TOML.quote(text)) (expected e.g. \"1\", \"1,3\" or \"2-5\", CPUs in \(cpuRange))")
        }
        func number(_ s: Substring) throws(CPUListError) -> Int {
            // Digits only: no sign, no spaces, no leading zeros (as in `[cores]` integers).
            guard !s.isEmpty, s.allSatisfy({ $0.isASCII && $0.isNumber }), s == "0" || s.first != "0",
                  s.count <= 2, let n = Int(s), cpuRange.contains(n) else {
                throw fail("'\(s)' is not a CPU number")
            }
            return n
        }
        var cpus: Set<Int> = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let ends = part.split(separator: "-", omittingEmptySubsequences: false)
            guard ends.count <= 2 else { throw fail("'\(part)' is not a CPU or a range") }
            let low = try number(ends[0])
            let high = ends.count == 2 ? try number(ends[1]) : low
            guard low <= high else { throw fail("range '\(part)' runs backwards") }
            for cpu in low...high {
                guard cpus.insert(cpu).inserted else { throw fail("cpu \(cpu) given twice") }
            }
        }
        return cpus.sorted()
    }

    /// The CPUs as a cpulist ("0,2-5"), the form `parseCPUList` reads and /proc shows.
    public static func renderCPUList(_ cpus: [Int]) -> String {
        var parts: [String] = []
        var i = 0
        while i < cpus.count {
            var j = i
            while j + 1 < cpus.count, cpus[j + 1] == cpus[j] + 1 { j += 1 }
            parts.append(j == i ? "\(cpus[i])" : "\(cpus[i])-\(cpus[j])")
            i = j + 1
        }
        return parts.joined(separator: ",")
    }

    /// Rules that involve more than one key.
    private func checkRelations(lines: [String: Int]) throws(ConfigError) {
        // The gateway is checked against the interface exactly as ipserver checks it at start.
        if !ip.gateway.isEmpty, let interface = try? IPv4Interface.parse(ip.address) {
            do throws(AddressError) { _ = try interface.gateway(ip.gateway) } catch {
                throw ConfigError(line: lines["ip.gateway"] ?? 0, key: "gateway",
                                  "expected a host on the network of address \(TOMLValue.string(ip.address)), found \(TOMLValue.string(ip.gateway)): \(error.explanation)")
            }
        }
        if restart.backoffMaxMs < restart.backoffInitialMs {
            if let line = lines["restart.backoff_max_ms"] ?? (lines["restart.backoff_initial_ms"] == nil ? 0 : nil) {
                throw ConfigError(line: line, key: "backoff_max_ms",
                                  "must be >= backoff_initial_ms (\(restart.backoffInitialMs)), found \(restart.backoffMaxMs)")
            }
            throw ConfigError(line: lines["restart.backoff_initial_ms"] ?? 0, key: "backoff_initial_ms",
                              "must be <= backoff_max_ms (\(restart.backoffMaxMs)), found \(restart.backoffInitialMs)")
        }
    }
}
