/// What newsd tells a server on its command line. Descriptors are inherited at fixed
/// numbers: 3 is the status page, 4 the server's own doorbell (shared memory only), then one
/// or two per channel as listed. newsd is the only writer of these arguments, but a server
/// still rejects anything malformed with a clear message instead of guessing.
public struct LaunchArguments: Equatable, Sendable {
    public enum Start: String, Sendable { case fresh, restart }

    public struct ChannelEnd: Equatable, Sendable {
        public var name: String
        public var side: ChannelSide
        public var fd: Int32
        /// The peer's doorbell region (shared memory), or -1 on the kernel path.
        public var peerBellFD: Int32
        /// The peer's eventfd, written instead of a futex wake when the peer sleeps in poll;
        /// -1 if it has none.
        public var peerWakeFD: Int32
        public init(name: String, side: ChannelSide, fd: Int32, peerBellFD: Int32, peerWakeFD: Int32 = -1) {
            self.name = name; self.side = side; self.fd = fd; self.peerBellFD = peerBellFD; self.peerWakeFD = peerWakeFD
        }
    }

    public static let statusFD: Int32 = 3
    public static let doorbellFD: Int32 = 4

    public var server: String
    public var start: Start
    public var generation: UInt64
    public var shm: Bool
    public var ringCapacity: Int
    public var spin: Int
    public var heartbeatMillis: Int
    public var cpu: Int
    public var uid: UInt32
    public var gid: UInt32
    public var parentPID: Int32
    public var logLevel: String
    /// How long a server keeps polling after its last work before it sleeps.
    public var lingerMicros: Int = 0
    /// This server's own eventfd (see `Doorbell.sleepPolling`), or -1.
    public var wakeFD: Int32 = -1
    /// The device this server drives (the NIC driver's TAP), or -1.
    public var deviceFD: Int32 = -1
    /// Supervisor-owned memory for state that must survive a restart (ARP cache, routes,
    /// filter rules and flows), or -1; `stateSize` is its size in bytes.
    public var stateFD: Int32 = -1
    public var stateSize: Int = 0
    /// Server-specific settings from the config (e.g. `ip.address` for the IP server),
    /// each checked by the server that reads it.
    public var params: [String: String] = [:]
    public var channels: [ChannelEnd]

    public init(server: String, start: Start, generation: UInt64, shm: Bool, ringCapacity: Int, spin: Int,
                heartbeatMillis: Int, cpu: Int, uid: UInt32, gid: UInt32, parentPID: Int32, logLevel: String,
                channels: [ChannelEnd]) {
        self.server = server; self.start = start; self.generation = generation; self.shm = shm
        self.ringCapacity = ringCapacity; self.spin = spin; self.heartbeatMillis = heartbeatMillis
        self.cpu = cpu; self.uid = uid; self.gid = gid; self.parentPID = parentPID
        self.logLevel = logLevel; self.channels = channels
    }

    public func encode() -> [String] {
        var a = [
            "--server=\(server)", "--start=\(start.rawValue)", "--generation=\(generation)",
            "--ipc=\(shm ? "shm" : "kernel")", "--ring-capacity=\(ringCapacity)", "--spin=\(spin)",
            "--heartbeat-ms=\(heartbeatMillis)", "--cpu=\(cpu)", "--uid=\(uid)", "--gid=\(gid)",
            "--parent=\(parentPID)", "--log-level=\(logLevel)",
        ]
        if lingerMicros > 0 { a.append("--linger-us=\(lingerMicros)") }
        if wakeFD >= 0 { a.append("--wake-fd=\(wakeFD)") }
        if deviceFD >= 0 { a.append("--device-fd=\(deviceFD)") }
        if stateFD >= 0 { a.append("--state=\(stateFD):\(stateSize)") }
        for key in params.keys.sorted() { a.append("--param=\(key)=\(params[key]!)") }
        for c in channels { a.append("--channel=\(c.name):\(c.side.rawValue):\(c.fd):\(c.peerBellFD):\(c.peerWakeFD)") }
        return a
    }

    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
        public init(description: String) { self.description = description }
    }

    /// Parses `arguments` (without argv[0]).
    public static func decode(_ arguments: [String]) throws(Invalid) -> LaunchArguments {
        var kv: [String: String] = [:]
        var channels: [ChannelEnd] = []
        var params: [String: String] = [:]
        for arg in arguments {
            guard arg.hasPrefix("--"), let eq = arg.firstIndex(of: "=") else {
                throw Invalid(description: "unexpected argument '\(arg)' (servers are started by newsd)")
            }
            let key = String(arg[arg.index(arg.startIndex, offsetBy: 2)..<eq])
            let value = String(arg[arg.index(after: eq)...])
            if key == "param" {
                guard let eq2 = value.firstIndex(of: "="), eq2 != value.startIndex else { throw Invalid(description: "bad --param '\(value)'") }
                params[String(value[..<eq2])] = String(value[value.index(after: eq2)...])
                continue
            }
            if key == "channel" {
                let f = value.split(separator: ":", omittingEmptySubsequences: false)
                guard f.count == 5, let side = ChannelSide(rawValue: String(f[1])), let fd = Int32(f[2]),
                      let bell = Int32(f[3]), let wake = Int32(f[4]), fd > LaunchArguments.doorbellFD, !f[0].isEmpty
                else { throw Invalid(description: "bad --channel '\(value)'") }
                channels.append(ChannelEnd(name: String(f[0]), side: side, fd: fd, peerBellFD: bell, peerWakeFD: wake))
            } else {
                guard kv[key] == nil else { throw Invalid(description: "--\(key) given twice") }
                kv[key] = value
            }
        }
        func need(_ k: String) throws(Invalid) -> String {
            guard let v = kv.removeValue(forKey: k) else { throw Invalid(description: "missing --\(k)") }
            return v
        }
        func int<T: FixedWidthInteger>(_ k: String, _ range: ClosedRange<T>) throws(Invalid) -> T {
            let s = try need(k)
            guard let v = T(s), range.contains(v) else { throw Invalid(description: "--\(k)=\(s) is not in \(range)") }
            return v
        }
        let server = try need("server")
        guard let start = Start(rawValue: try need("start")) else { throw Invalid(description: "--start must be fresh or restart") }
        let generation: UInt64 = try int("generation", 0...UInt64.max)
        let ipc = try need("ipc")
        guard ipc == "shm" || ipc == "kernel" else { throw Invalid(description: "--ipc must be shm or kernel") }
        let cap: Int = try int("ring-capacity", 16...65536)
        guard cap & (cap - 1) == 0 else { throw Invalid(description: "--ring-capacity must be a power of two") }
        var result = LaunchArguments(
            server: server, start: start, generation: generation, shm: ipc == "shm", ringCapacity: cap,
            spin: try int("spin", 0...1_000_000), heartbeatMillis: try int("heartbeat-ms", 1...600_000),
            cpu: try int("cpu", 0...63), uid: try int("uid", 0...UInt32.max), gid: try int("gid", 0...UInt32.max),
            parentPID: try int("parent", 1...Int32.max), logLevel: try need("log-level"), channels: channels)
        if let l = kv.removeValue(forKey: "linger-us") {
            guard let v = Int(l), (0...1_000_000).contains(v) else { throw Invalid(description: "bad --linger-us=\(l)") }
            result.lingerMicros = v
        }
        if let w = kv.removeValue(forKey: "wake-fd") {
            guard let fd = Int32(w), fd > LaunchArguments.doorbellFD else { throw Invalid(description: "bad --wake-fd=\(w)") }
            result.wakeFD = fd
        }
        if let d = kv.removeValue(forKey: "device-fd") {
            guard let fd = Int32(d), fd > LaunchArguments.doorbellFD else { throw Invalid(description: "bad --device-fd=\(d)") }
            result.deviceFD = fd
        }
        result.params = params
        if let st = kv.removeValue(forKey: "state") {
            let f = st.split(separator: ":")
            guard f.count == 2, let fd = Int32(f[0]), let size = Int(f[1]), fd > LaunchArguments.doorbellFD, (1...(1 << 30)).contains(size)
            else { throw Invalid(description: "bad --state=\(st)") }
            result.stateFD = fd
            result.stateSize = size
        }
        if let extra = kv.keys.sorted().first { throw Invalid(description: "unknown argument --\(extra)") }
        return result
    }
}
