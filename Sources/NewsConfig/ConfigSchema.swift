import NewsWire

/// One key of the configuration file: where it lives, what it may hold, and what it means.
/// The single source of truth for `Config.parse`, `Config.validate` and `Config.rendered`.
struct ConfigField {
    enum Rule {
        case nonEmpty
        case choice([String])
        case socketPath
        case interfaceName
        case optionalName
        /// A station's own MAC address (`MACAddress.parseStation`).
        case stationMAC
        /// This host's address/prefix (`IPv4Interface.parse`).
        case ipv4Interface
        /// An IPv4 address (`IPv4Address.parse`), or "".
        case optionalIPv4
        case optionalPath
    }

    enum Kind {
        case int(WritableKeyPath<Config, Int>, ClosedRange<Int>, powerOfTwo: Bool)
        case bool(WritableKeyPath<Config, Bool>)
        case string(WritableKeyPath<Config, String>, Rule)
    }

    /// "" for the top level, otherwise the table name.
    let table: String
    let key: String
    let kind: Kind
    /// One line saying what the key means (written as a comment by `rendered()`).
    let doc: String

    static let tables = ["heartbeat", "restart", "nic", "ip", "tcp", "pf", "limits"]

    /// Top-level keys that no longer exist, with what replaced them.
    static let removed = [
        "user": "no longer exists: every server runs as a uid and gid of its own, uid_base+i or the user [users] names for it; servers may not share one user",
    ]

    /// Longest path that fits in `sockaddr_un.sun_path` with its terminating NUL.
    static let maxSocketPathBytes = 107

    static var all: [ConfigField] {
        [
            ConfigField(table: "", key: "ipc", kind: .string(\.ipcName, .choice(IPCMode.allCases.map(\.rawValue))),
                        doc: "How servers exchange messages: \"shm\" (shared-memory rings, no system call when busy) or \"kernel\" (one SOCK_SEQPACKET send/recv per message)."),
            ConfigField(table: "", key: "uid_base", kind: .int(\.uidBase, Config.uidBaseRange, powerOfTwo: false),
                        doc: "Each server runs as a uid and gid of its own: server i (" + ServerKind.allCases.map(\.rawValue).joined(separator: ", ") + ") as uid_base+i, unless [users] names its user (\(Config.uidBaseRange); no account may already use these ids)."),
            ConfigField(table: "", key: "control_socket", kind: .string(\.controlSocket, .socketPath),
                        doc: "Absolute path of the control socket that newsctl connects to."),
            ConfigField(table: "", key: "app_socket", kind: .string(\.appSocket, .socketPath),
                        doc: "Absolute path of the socket applications (libnews) open sockets through."),
            ConfigField(table: "", key: "app_group", kind: .string(\.appGroup, .optionalName),
                        doc: "Group whose members (and root) may use the app socket, which is then mode 0660; empty: any local user may (mode 0666)."),
            ConfigField(table: "", key: "control_group", kind: .string(\.controlGroup, .nonEmpty),
                        doc: "Group whose members may use the control socket."),
            ConfigField(table: "", key: "fault_injection", kind: .bool(\.faultInjection),
                        doc: "Allow `newsctl crash` fault injection (for tests; off in production)."),
            ConfigField(table: "", key: "ring_capacity", kind: .int(\.ringCapacity, 16...65536, powerOfTwo: true),
                        doc: "Slots in each IPC ring; a power of two in 16...65536."),
            ConfigField(table: "", key: "spin", kind: .int(\.spin, 0...1_000_000, powerOfTwo: false),
                        doc: "PAUSE iterations a server on a core of its own polls its rings before it sleeps on its futex (0...1000000); servers that share a core never spin."),
            ConfigField(table: "", key: "linger_us", kind: .int(\.lingerMicros, 0...100_000, powerOfTwo: false),
                        doc: "Microseconds a server keeps polling after its last work before it sleeps (0...100000): peers and applications then rarely need to wake it."),
            ConfigField(table: "", key: "log_level", kind: .string(\.logLevel, .choice(Config.logLevels)),
                        doc: "Least severe message logged: " + Config.logLevels.joined(separator: ", ") + "."),
            ConfigField(table: "heartbeat", key: "period_ms", kind: .int(\.heartbeat.periodMs, 20...60000, powerOfTwo: false),
                        doc: "Supervision period in milliseconds (20...60000): servers beat at least four times per period; two periods without a beat means hung (killed and restarted)."),
            ConfigField(table: "restart", key: "backoff_initial_ms",
                        kind: .int(\.restart.backoffInitialMs, 1...60000, powerOfTwo: false),
                        doc: "Delay before restarting a failed server the first time, in milliseconds (1...60000)."),
            ConfigField(table: "restart", key: "backoff_max_ms",
                        kind: .int(\.restart.backoffMaxMs, 1...600_000, powerOfTwo: false),
                        doc: "Longest restart delay, in milliseconds (backoff_initial_ms...600000)."),
            ConfigField(table: "restart", key: "intensity", kind: .int(\.restart.intensity, 1...1000, powerOfTwo: false),
                        doc: "Restarts of a server allowed within window_s seconds (1...1000)."),
            ConfigField(table: "restart", key: "window_s", kind: .int(\.restart.windowS, 1...3600, powerOfTwo: false),
                        doc: "Length of the window in which intensity restarts are allowed, in seconds (1...3600)."),
            ConfigField(table: "restart", key: "stable_s", kind: .int(\.restart.stableS, 0...3600, powerOfTwo: false),
                        doc: "Uptime in seconds after which a server's restart backoff resets (0...3600)."),
            ConfigField(table: "restart", key: "startup_timeout_ms",
                        kind: .int(\.restart.startupTimeoutMs, 100...60000, powerOfTwo: false),
                        doc: "Time a starting server has to come up, in milliseconds (100...60000)."),
            ConfigField(table: "nic", key: "backend", kind: .string(\.nic.backend, .choice(["none", "tap", "cable"])),
                        doc: "The NIC driver's device: \"none\" (probes only), \"tap\" (a TAP device newsd creates and keeps) or \"cable\" (a shared-memory file joining two NEWS instances)."),
            ConfigField(table: "nic", key: "cable", kind: .string(\.nic.cable, .optionalPath),
                        doc: "The cable file (backend \"cable\"), e.g. in /dev/shm; created (or reset to) mode 0600, root only: a file cannot be sealed, so nobody else may be able to truncate it."),
            ConfigField(table: "nic", key: "cable_side", kind: .string(\.nic.cableSide, .choice(["a", "b"])),
                        doc: "This NEWS's end of the cable: \"a\" lays the cable out, \"b\" joins it."),
            ConfigField(table: "nic", key: "tap", kind: .string(\.nic.tap, .interfaceName),
                        doc: "Name of the TAP device (at most 15 characters)."),
            ConfigField(table: "nic", key: "netns", kind: .string(\.nic.netns, .optionalName),
                        doc: "Network namespace (ip netns add NAME) to create the TAP in; empty: newsd's own."),
            ConfigField(table: "nic", key: "mac", kind: .string(\.nic.mac, .stationMAC),
                        doc: "NEWS's Ethernet address on the link."),
            ConfigField(table: "nic", key: "offloads", kind: .bool(\.nic.offloads),
                        doc: "Open the TAP with the virtio-net header, checksum offload and TSO: TCP sends and receives segments of up to 64 KB that the kernel cuts and coalesces. Off while any impairment is set (impairments act per wire frame)."),
            ConfigField(table: "nic", key: "in_loss", kind: .int(\.nic.impair[0].loss, 0...100, powerOfTwo: false),
                        doc: "Percent of frames toward the stack the NIC driver drops (0...100)."),
            ConfigField(table: "nic", key: "in_duplicate", kind: .int(\.nic.impair[0].duplicate, 0...100, powerOfTwo: false),
                        doc: "Percent of frames toward the stack sent twice (0...100)."),
            ConfigField(table: "nic", key: "in_reorder", kind: .int(\.nic.impair[0].reorder, 0...100, powerOfTwo: false),
                        doc: "Percent of frames toward the stack held back behind the next one (0...100)."),
            ConfigField(table: "nic", key: "in_delay_us", kind: .int(\.nic.impair[0].delayMicros, 0...10_000_000, powerOfTwo: false),
                        doc: "Microseconds every frame toward the stack is delayed (0...10000000)."),
            ConfigField(table: "nic", key: "out_loss", kind: .int(\.nic.impair[1].loss, 0...100, powerOfTwo: false),
                        doc: "Percent of frames toward the wire the NIC driver drops (0...100)."),
            ConfigField(table: "nic", key: "out_duplicate", kind: .int(\.nic.impair[1].duplicate, 0...100, powerOfTwo: false),
                        doc: "Percent of frames toward the wire sent twice (0...100)."),
            ConfigField(table: "nic", key: "out_reorder", kind: .int(\.nic.impair[1].reorder, 0...100, powerOfTwo: false),
                        doc: "Percent of frames toward the wire held back behind the next one (0...100)."),
            ConfigField(table: "nic", key: "out_delay_us", kind: .int(\.nic.impair[1].delayMicros, 0...10_000_000, powerOfTwo: false),
                        doc: "Microseconds every frame toward the wire is delayed (0...10000000)."),
            ConfigField(table: "ip", key: "address", kind: .string(\.ip.address, .ipv4Interface),
                        doc: "NEWS's IPv4 address and connected network, as address/prefix (prefix 1...30; a host address, not the network's own or its broadcast)."),
            ConfigField(table: "ip", key: "gateway", kind: .string(\.ip.gateway, .optionalIPv4),
                        doc: "Default gateway, a host on the connected network other than NEWS itself; empty: none."),
            ConfigField(table: "ip", key: "mtu", kind: .int(\.ip.mtu, 576...1500, powerOfTwo: false),
                        doc: "Link MTU in bytes (576...1500)."),
            ConfigField(table: "tcp", key: "congestion", kind: .string(\.tcp.congestion, .choice(Config.TCP.congestionAlgorithms)),
                        doc: "Congestion control: cubic (RFC 9438) or newreno (RFC 6582)."),
            ConfigField(table: "tcp", key: "time_wait_s", kind: .int(\.tcp.timeWaitSeconds, 1...240, powerOfTwo: false),
                        doc: "Seconds a connection stays in TIME-WAIT, 2 x MSL (1...240; Linux: 60)."),
            ConfigField(table: "tcp", key: "delayed_ack_ms", kind: .int(\.tcp.delayedAckMillis, 1...500, powerOfTwo: false),
                        doc: "Delayed-ACK timeout in milliseconds (1...500, RFC 9293: under 500)."),
            ConfigField(table: "pf", key: "rules", kind: .string(\.pf.rules, .optionalPath),
                        doc: "Packet filter rules file loaded at start (newsctl pf load replaces it); empty: everything passes."),
            ConfigField(table: "limits", key: "apps_per_uid", kind: .int(\.limits.appsPerUID, 1...4096, powerOfTwo: false),
                        doc: "Connections to the app socket one uid may hold at once (1...4096); more are refused (EMFILE)."),
            ConfigField(table: "limits", key: "sockets_per_uid", kind: .int(\.limits.socketsPerUID, 1...2000, powerOfTwo: false),
                        doc: "Sockets one uid may hold at once, over all its connections (1...2000); more are refused (EMFILE)."),
            ConfigField(table: "limits", key: "apps", kind: .int(\.limits.apps, 1...4096, powerOfTwo: false),
                        doc: "Connections to the app socket in all (1...4096); more are refused (ENFILE)."),
            ConfigField(table: "limits", key: "sockets", kind: .int(\.limits.sockets, 1...2000, powerOfTwo: false),
                        doc: "Sockets in all (1...2000, the UDP server's binding store holds 2047); more are refused (ENFILE)."),
        ]
    }

    /// The field's current value in `config`, as a TOML value.
    func value(in config: Config) -> TOMLValue {
        switch kind {
        case .int(let kp, _, _): .integer(config[keyPath: kp])
        case .bool(let kp): .boolean(config[keyPath: kp])
        case .string(let kp, _): .string(config[keyPath: kp])
        }
    }

    /// Checks `value` and stores it into `config`; errors name `line` and the key.
    func assign(_ value: TOMLValue, to config: inout Config, line: Int) throws(ConfigError) {
        func fail(_ expected: String, because detail: String = "") -> ConfigError {
            ConfigError(line: line, key: key, "expected \(expected), found \(value)" + (detail.isEmpty ? "" : ": " + detail))
        }
        /// Addresses are checked by NewsWire's parsers, the very ones the servers run on the
        /// same text at start-up, so a value accepted here is one the servers accept.
        func addressProblem(_ parse: () throws(AddressError) -> Void) -> String? {
            do throws(AddressError) { try parse(); return nil } catch { return error.explanation }
        }
        switch kind {
        case .int(let kp, let range, let powerOfTwo):
            let expected = (powerOfTwo ? "a power of two" : "an integer") + " in \(range)"
            guard case .integer(let v) = value, range.contains(v), !powerOfTwo || v & (v - 1) == 0 else {
                throw fail(expected)
            }
            config[keyPath: kp] = v
        case .bool(let kp):
            guard case .boolean(let b) = value else { throw fail("true or false") }
            config[keyPath: kp] = b
        case .string(let kp, let rule):
            let expected: String
            var ok: (String) -> Bool = { _ in true }
            /// Why an address value is wrong, nil if it is fine (address rules only).
            var problem: (String) -> String? = { _ in nil }
            switch rule {
            case .nonEmpty:
                expected = "a non-empty string"
                ok = { !$0.isEmpty }
            case .choice(let choices):
                expected = "one of " + choices.map(TOML.quote).joined(separator: ", ")
                ok = { choices.contains($0) }
            case .socketPath:
                expected = "an absolute path (a string starting with '/') of at most \(Self.maxSocketPathBytes) bytes"
                ok = { $0.hasPrefix("/") && $0.utf8.count <= Self.maxSocketPathBytes && !$0.utf8.contains(0) }
            case .interfaceName:
                expected = "an interface name of 1 to 15 letters, digits, '-', '_' or '.'"
                ok = { (1...15).contains($0.utf8.count) && Self.isName($0) }
            case .optionalName:
                expected = "a name of letters, digits, '-', '_' or '.' (at most 64), or \"\""
                ok = { $0.isEmpty || ($0.utf8.count <= 64 && Self.isName($0)) }
            case .stationMAC:
                expected = "an Ethernet address like \"02:4e:57:53:00:02\" (unicast)"
                problem = { text in addressProblem { () throws(AddressError) in _ = try MACAddress.parseStation(text) } }
            case .ipv4Interface:
                expected = "an IPv4 address with prefix like \"198.18.0.2/24\""
                problem = { text in addressProblem { () throws(AddressError) in _ = try IPv4Interface.parse(text) } }
            case .optionalIPv4:
                expected = "an IPv4 address like \"198.18.0.1\", or \"\""
                problem = { text in text.isEmpty ? nil : addressProblem { () throws(AddressError) in _ = try IPv4Address.parse(text) } }
            case .optionalPath:
                expected = "an absolute path, or \"\""
                ok = { $0.isEmpty || ($0.hasPrefix("/") && !$0.utf8.contains(0)) }
            }
            guard case .string(let s) = value, ok(s) else { throw fail(expected) }
            if let detail = problem(s) { throw fail(expected, because: detail) }
            config[keyPath: kp] = s
        }
    }
}

extension ConfigField {
    static func isName(_ s: String) -> Bool {
        !s.hasPrefix(".") && s.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c == 0x2d || c == 0x5f || c == 0x2e
        }
    }
}

extension Config {
    /// `ipc` as its file spelling; only ever set to a validated name.
    var ipcName: String {
        get { ipc.rawValue }
        set { ipc = IPCMode(rawValue: newValue) ?? ipc }
    }

    /// The configuration as TOML, every key present with a comment saying what it means.
    /// `Config.parse(c.rendered()) == c` for every valid `c`.
    public func rendered() -> String {
        var out = "# NEWS supervisor (newsd) configuration.\n"
        var table: String? = nil
        for field in ConfigField.all {
            if field.table != table {
                if !field.table.isEmpty { out += "\n[\(field.table)]\n" }
                table = field.table
            }
            out += "# \(field.doc)\n\(field.key) = \(field.value(in: self))\n"
        }
        out += "\n[cores]\n"
        out += "# CPU (\(Config.cpuRange)) to pin each server to, by server name: "
            + ServerKind.allCases.map(\.rawValue).joined(separator: ", ")
            + ". A server not named is placed by newsd: with fewer CPUs than servers + 2, the servers and newsd"
            + " share the first CPUs and the applications get the last; with enough, each server its own CPU.\n"
            + "# \(Config.appsKey) = \"1\" (a CPU list, e.g. \"1,3\" or \"2-5\"): the CPUs applications run on; newsd tells"
            + " libnews, which sets their affinity unless NEWS_AFFINITY=0. Not given: newsd chooses.\n"
        for server in ServerKind.allCases {
            if let cpu = cores[server] { out += "\(server.rawValue) = \(cpu)\n" }
        }
        if !appCores.isEmpty { out += "\(Config.appsKey) = \(TOML.quote(Config.renderCPUList(appCores)))\n" }
        out += "\n[users]\n"
        out += "# The user a server runs as instead of uid_base+i, by server name: a user name (its uid and primary gid)"
            + " or a uid (with its password entry's gid, else the same number). No two servers may share a uid or gid,"
            + " none may be root, and none may have control_group's gid. Empty: every server's ids come from uid_base.\n"
        for server in ServerKind.allCases {
            if let user = users[server] { out += "\(server.rawValue) = \(user.tomlValue)\n" }
        }
        return out
    }
}
