import XCTest
@testable import NewsConfig

/// Parses `text` as a Config, expecting failure, and checks the error's line, key and that its
/// description names the key (and contains `contains`).
func assertConfigError(
    _ text: String, line: Int, key: String?, contains: String? = nil,
    file: StaticString = #filePath, sourceLine: UInt = #line
) {
    do throws(ConfigError) {
        let config = try Config.parse(text)
        XCTFail("expected an error, got \(config)", file: file, line: sourceLine)
    } catch {
        XCTAssertEqual(error.line, line, "\(error)", file: file, line: sourceLine)
        XCTAssertEqual(error.key, key, "\(error)", file: file, line: sourceLine)
        if let key {
            XCTAssertTrue(error.description.contains("key '\(key)'"), "\(error)", file: file, line: sourceLine)
        }
        if let contains {
            XCTAssertTrue(error.description.contains(contains), "\(error)", file: file, line: sourceLine)
        }
    }
}

final class ConfigTests: XCTestCase {
    static let fullFile = """
        # every key, none at its default
        ipc = "kernel"
        uid_base = 70_000
        control_socket = "/tmp/news/ctl.sock"
        control_group = "wheel"
        fault_injection = true
        ring_capacity = 4_096
        spin = 0
        log_level = "debug"

        [heartbeat]
        period_ms = 100

        [restart]
        backoff_initial_ms = 50
        backoff_max_ms = 5000
        intensity = 3
        window_s = 60
        stable_s = 0
        startup_timeout_ms = 1500

        [cores]
        nicdriver = 1
        vfs = 0
        tcpserver = 63

        [users]
        ipserver = 'news-ip'
        vfs = "70100"
        """

    static let fullConfig: Config = {
        var c = Config(
            ipc: .kernel, controlSocket: "/tmp/news/ctl.sock", controlGroup: "wheel",
            faultInjection: true, ringCapacity: 4096, spin: 0, logLevel: "debug",
            heartbeat: .init(periodMs: 100),
            restart: .init(backoffInitialMs: 50, backoffMaxMs: 5000, intensity: 3, windowS: 60, stableS: 0,
                           startupTimeoutMs: 1500),
            cores: [.nicdriver: 1, .vfs: 0, .tcpserver: 63])
        c.uidBase = 70000
        c.users = [.ipserver: .name("news-ip"), .vfs: .uid(70100)]
        return c
    }()

    func testDefaults() throws {
        let d = Config.default
        XCTAssertEqual(d.ipc, .shm)
        XCTAssertEqual(d.uidBase, 61000)
        XCTAssertEqual(d.users, [:])
        XCTAssertEqual(d.controlSocket, "/run/news/newsd.sock")
        XCTAssertEqual(d.controlGroup, "root")
        XCTAssertFalse(d.faultInjection)
        XCTAssertEqual(d.ringCapacity, 1024)
        XCTAssertEqual(d.spin, 2000)
        XCTAssertEqual(d.logLevel, "info")
        XCTAssertEqual(d.heartbeat.periodMs, 250)
        XCTAssertEqual(d.restart, Config.Restart(backoffInitialMs: 10, backoffMaxMs: 1000, intensity: 5,
                                                 windowS: 10, stableS: 2, startupTimeoutMs: 3000))
        XCTAssertEqual(d.restart.backoffInitialMs, 10)
        XCTAssertEqual(d.restart.backoffMaxMs, 1000)
        XCTAssertEqual(d.restart.intensity, 5)
        XCTAssertEqual(d.restart.windowS, 10)
        XCTAssertEqual(d.restart.stableS, 2)
        XCTAssertEqual(d.restart.startupTimeoutMs, 3000)
        XCTAssertEqual(d.cores, [:])
        try d.validate()
    }

    func testEmptyTextIsDefault() throws {
        XCTAssertEqual(try Config.parse(""), Config.default)
        XCTAssertEqual(try Config.parse("\n  # only a comment\n\n[heartbeat]\n[cores]\n"), Config.default)
    }

    func testFullFile() throws {
        let config = try Config.parse(Self.fullFile)
        XCTAssertEqual(config, Self.fullConfig)
        XCTAssertNotEqual(config, Config.default)
        try config.validate()
    }

    func testRoundTrip() throws {
        var odd = Self.fullConfig
        odd.users = [.nicdriver: .name("we\"ird\\name$"), .packetfilter: .uid(4_294_967_294)]
        odd.controlGroup = "'single'"
        odd.cores = Dictionary(uniqueKeysWithValues: ServerKind.allCases.enumerated().map { ($1, $0 * 2) })
        odd.appCores = [1, 3, 4, 5, 63]
        var link = Config.default
        link.nic.backend = "tap"
        link.nic.netns = "news-test"
        link.ip.gateway = "198.18.0.1"
        link.ip.mtu = 1280
        for config in [Config.default, Self.fullConfig, odd, link] {
            let text = config.rendered()
            XCTAssertEqual(try Config.parse(text), config, text)
        }
    }

    func testRenderedCommentsEveryKey() {
        let lines = Config.default.rendered().split(separator: "\n", omittingEmptySubsequences: false)
        var keys: [String] = []
        for (i, line) in lines.enumerated() where line.contains(" = ") && !line.hasPrefix("#") {
            keys.append(String(line.split(separator: " ")[0]))
            XCTAssertTrue(i > 0 && lines[i - 1].hasPrefix("# "), "no comment above \(line)")
        }
        XCTAssertEqual(keys, ["ipc", "uid_base", "control_socket", "app_socket", "app_group", "control_group", "fault_injection", "ring_capacity",
                              "spin", "linger_us", "log_level", "period_ms", "backoff_initial_ms", "backoff_max_ms", "intensity",
                              "window_s", "stable_s", "startup_timeout_ms", "backend", "cable", "cable_side", "tap", "netns", "mac", "offloads",
                              "in_loss", "in_duplicate", "in_reorder", "in_delay_us",
                              "out_loss", "out_duplicate", "out_reorder", "out_delay_us",
                              "address", "gateway", "mtu", "congestion", "time_wait_s", "delayed_ack_ms", "rules", "apps_per_uid", "sockets_per_uid", "apps", "sockets"])
        XCTAssertTrue(lines.contains("[heartbeat]") && lines.contains("[restart]") && lines.contains("[cores]")
                      && lines.contains("[users]"))
        XCTAssertTrue(lines.contains("[nic]") && lines.contains("[ip]"))
    }

    func testAdmissionAndLimits() throws {
        let c = try Config.parse("app_group = \"newsapps\"\n[limits]\napps_per_uid = 2\nsockets_per_uid = 8\napps = 10\nsockets = 100")
        XCTAssertEqual(c.appGroup, "newsapps")
        XCTAssertEqual(c.limits.appsPerUID, 2)
        XCTAssertEqual(c.limits.socketsPerUID, 8)
        XCTAssertEqual(c.limits.apps, 10)
        XCTAssertEqual(c.limits.sockets, 100)
        XCTAssertEqual(Config.default.appGroup, "", "by default any local user may open sockets")
        assertConfigError("[limits]\nsockets_per_uid = 0", line: 2, key: "sockets_per_uid", contains: "1...2000")
        assertConfigError("[limits]\nsockets = 5000", line: 2, key: "sockets", contains: "1...2000")
        assertConfigError("app_group = \"a b\"", line: 1, key: "app_group", contains: "name")
    }

    func testUnknownKey() {
        assertConfigError("spin = 1\nspn = 2", line: 2, key: "spn", contains: "unknown key")
        assertConfigError("[heartbeat]\n\nperiod = 5", line: 3, key: "period", contains: "period_ms")
        // A key valid in one table is unknown in another.
        assertConfigError("[restart]\nperiod_ms = 100", line: 2, key: "period_ms", contains: "[restart]")
    }

    func testUnknownTable() {
        assertConfigError("spin = 1\n\n[hartbeat]\nperiod_ms = 1", line: 3, key: nil, contains: "[hartbeat]")
        assertConfigError("[heartbeat.extra]", line: 1, key: nil, contains: "heartbeat.extra")
    }

    func testUnknownServerInCores() {
        assertConfigError("[cores]\nvfs = 1\nwebserver = 2", line: 3, key: "webserver",
                          contains: UnknownServer(name: "webserver").description)
        assertConfigError("[cores]\nvfs = 1\nVFS = 2", line: 3, key: "VFS", contains: "already given on line 2")
    }

    func testApplicationCPUsInCores() throws {
        XCTAssertEqual(try Config.parse("[cores]\napps = \"1\"").appCores, [1])
        XCTAssertEqual(try Config.parse("[cores]\napps = 2").appCores, [2])
        let both = try Config.parse("[cores]\nvfs = 0\napps = \"5,1-3\"")
        XCTAssertEqual(both.appCores, [1, 2, 3, 5])
        XCTAssertEqual(both.cores, [.vfs: 0])
        XCTAssertEqual(Config.default.appCores, [])
        assertConfigError("[cores]\napps = \"1\"\napps = \"0\"", line: 3, key: "apps", contains: "duplicate key")
        assertConfigError("[cores]\napps = \"1-\"", line: 2, key: "apps", contains: "'' is not a CPU number")
        assertConfigError("[cores]\napps = \"3-1\"", line: 2, key: "apps", contains: "runs backwards")
        assertConfigError("[cores]\napps = \"1,1\"", line: 2, key: "apps", contains: "cpu 1 given twice")
        assertConfigError("[cores]\napps = \"64\"", line: 2, key: "apps", contains: "'64' is not a CPU number")
        assertConfigError("[cores]\napps = \"01\"", line: 2, key: "apps", contains: "'01' is not a CPU number")
        assertConfigError("[cores]\napps = \" 1\"", line: 2, key: "apps", contains: "is not a CPU number")
        assertConfigError("[cores]\napps = 64", line: 2, key: "apps", contains: "expected a CPU list")
        assertConfigError("[cores]\napps = true", line: 2, key: "apps", contains: "expected a CPU list")
        assertConfigError("[cores]\napp = 1", line: 2, key: "app", contains: "or 'apps' for the applications' CPUs")
        var c = Config.default
        c.appCores = [2, 1]
        XCTAssertThrowsError(try c.validate())
        c.appCores = [1, 2]
        XCTAssertNoThrow(try c.validate())
    }

    func testCPUListsRoundTrip() throws {
        for cpus in [[0], [1, 2], [0, 2, 3, 4, 7], Array(0...63)] {
            XCTAssertEqual(try Config.parseCPUList(Config.renderCPUList(cpus)), cpus)
        }
        XCTAssertEqual(Config.renderCPUList([0, 2, 3, 4, 7]), "0,2-4,7")
    }

    func testWrongType() {
        assertConfigError("[heartbeat]\nperiod_ms = \"abc\"", line: 2, key: "period_ms",
                          contains: "expected an integer in 20...60000, found \"abc\"")
        assertConfigError("fault_injection = 1", line: 1, key: "fault_injection", contains: "true or false")
        assertConfigError("control_group = 5", line: 1, key: "control_group", contains: "string")
        assertConfigError("ipc = shm", line: 1, key: "ipc", contains: "expected a value")
        assertConfigError("spin = [1]", line: 1, key: "spin", contains: "found [1]")
        assertConfigError("[cores]\nvfs = \"1\"", line: 2, key: "vfs", contains: "CPU number in 0...63")
    }

    func testOutOfRange() {
        assertConfigError("\n[heartbeat]\nperiod_ms = 19", line: 3, key: "period_ms", contains: "20...60000, found 19")
        assertConfigError("spin = 1_000_001", line: 1, key: "spin", contains: "0...1000000")
        assertConfigError("[restart]\nwindow_s = 0", line: 2, key: "window_s", contains: "1...3600")
        assertConfigError("[restart]\nstartup_timeout_ms = 99", line: 2, key: "startup_timeout_ms", contains: "100...60000")
        assertConfigError("[cores]\nipserver = 64", line: 2, key: "ipserver", contains: "0...63")
        assertConfigError("[cores]\nipserver = -1", line: 2, key: "ipserver", contains: "0...63")
        assertConfigError("log_level = \"verbose\"", line: 1, key: "log_level", contains: "\"critical\"")
        assertConfigError("ipc = \"pipe\"", line: 1, key: "ipc", contains: "\"shm\", \"kernel\"")
        assertConfigError("control_socket = \"relative.sock\"", line: 1, key: "control_socket", contains: "absolute")
        assertConfigError("control_group = ''", line: 1, key: "control_group", contains: "non-empty")
        // Bounds themselves are accepted.
        XCTAssertEqual(try Config.parse("[heartbeat]\nperiod_ms = 20").heartbeat.periodMs, 20)
        XCTAssertEqual(try Config.parse("spin = 1_000_000").spin, 1_000_000)
    }

    func testRingCapacityPowerOfTwo() throws {
        assertConfigError("ring_capacity = 1000", line: 1, key: "ring_capacity", contains: "power of two")
        assertConfigError("ring_capacity = 8", line: 1, key: "ring_capacity", contains: "16...65536")
        assertConfigError("ring_capacity = 131072", line: 1, key: "ring_capacity", contains: "16...65536")
        XCTAssertEqual(try Config.parse("ring_capacity = 16").ringCapacity, 16)
        XCTAssertEqual(try Config.parse("ring_capacity = 65536").ringCapacity, 65536)
    }

    func testBackoffMaxBelowInitial() {
        assertConfigError("[restart]\nbackoff_initial_ms = 500\nbackoff_max_ms = 100", line: 3, key: "backoff_max_ms",
                          contains: "backoff_initial_ms (500)")
        assertConfigError("[restart]\nbackoff_max_ms = 100\nbackoff_initial_ms = 500", line: 2, key: "backoff_max_ms")
        // Only the initial delay given: it is the one at fault (default max is 1000).
        assertConfigError("[restart]\n\nbackoff_initial_ms = 5000", line: 3, key: "backoff_initial_ms",
                          contains: "backoff_max_ms (1000)")
    }

    func testDuplicateKey() {
        assertConfigError("[restart]\nintensity = 3\n\nintensity = 4", line: 4, key: "intensity", contains: "line 2")
    }

    func testUnterminatedString() {
        assertConfigError("control_group = \"news", line: 1, key: "control_group", contains: "unterminated")
    }

    func testGarbageLine() {
        assertConfigError("spin = 5\nthis is not toml", line: 2, key: nil, contains: "this is not toml")
    }

    func testIntegerOverflow() {
        assertConfigError("\n\nspin = 99999999999999999999", line: 3, key: "spin", contains: "overflows")
    }

    func testParseWithPath() {
        do throws(ConfigError) {
            _ = try Config.parse("spin = -1", path: "/etc/news/newsd.toml")
            XCTFail("expected an error")
        } catch {
            XCTAssertEqual(error.path, "/etc/news/newsd.toml")
            XCTAssertTrue(error.description.hasPrefix("/etc/news/newsd.toml:1: key 'spin': "), error.description)
        }
    }

    func testValidateInCode() {
        var c = Config.default
        c.ringCapacity = 100
        XCTAssertThrowsError(try c.validate()) { XCTAssertEqual(($0 as? ConfigError)?.key, "ring_capacity") }
        c = Config(restart: .init(backoffInitialMs: 100, backoffMaxMs: 50))
        XCTAssertThrowsError(try c.validate()) { XCTAssertEqual(($0 as? ConfigError)?.key, "backoff_max_ms") }
        c = Config(cores: [.vfs: 64])
        XCTAssertThrowsError(try c.validate()) { XCTAssertEqual(($0 as? ConfigError)?.key, "vfs") }
    }

    func testLinkSettingsAreChecked() {
        assertConfigError("[nic]\nbackend = \"pcap\"\n", line: 2, key: "backend")
        assertConfigError("[nic]\ntap = \"much-too-long-name0\"\n", line: 2, key: "tap")
        assertConfigError("[nic]\nmac = \"03:00:00:00:00:01\"\n", line: 2, key: "mac", contains: "unicast")
        assertConfigError("[ip]\naddress = \"198.18.0.0/24\"\n", line: 2, key: "address")
        assertConfigError("[ip]\naddress = \"198.18.0.2\"\n", line: 2, key: "address")
        assertConfigError("[ip]\ngateway = \"198.18.0.256\"\n", line: 2, key: "gateway")
        assertConfigError("[ip]\nmtu = 9000\n", line: 2, key: "mtu")
        // Address errors say what rule the text breaks (NewsWire's explanation).
        assertConfigError("[ip]\naddress = \"198.18.0.2/024\"\n", line: 2, key: "address", contains: "prefix length must be")
        assertConfigError("[nic]\nmac = \"+2:4e:57:53:00:02\"\n", line: 2, key: "mac", contains: "six two-digit hex groups")
        assertConfigError("[ip]\ngateway = \"198.19.0.1\"\n", line: 2, key: "gateway", contains: "not on the connected network 198.18.0.0/24")
        assertConfigError("[ip]\ngateway = \"198.19.0.1\"\naddress = \"198.18.0.2/24\"\n", line: 2, key: "gateway")
        XCTAssertEqual(try Config.parse("[ip]\naddress = \"198.18.0.2/24\"\ngateway = \"198.18.0.1\"\n").ip.gateway, "198.18.0.1")
    }
}
