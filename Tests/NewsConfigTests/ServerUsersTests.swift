import XCTest
@testable import NewsConfig

/// `uid_base`, `[users]` and the resolution of every server's uid and gid against an
/// account database (a table here; the system's in newsd).
final class ServerUsersTests: XCTestCase {
    /// A password database with root, nobody, a user "news-ip" (uid 5000, group 5000) and two
    /// users sharing primary group 6000, and a group database with root, nogroup, 5000,
    /// 6000 and "wheel" (10).
    let accounts = AccountDatabase(
        userNamed: { name in
            ["root": ServerIDs(uid: 0, gid: 0), "nobody": ServerIDs(uid: 65534, gid: 65534), "news-ip": ServerIDs(uid: 5000, gid: 5000),
             "news-a": ServerIDs(uid: 6001, gid: 6000), "news-b": ServerIDs(uid: 6002, gid: 6000)][name]
        },
        userWithUID: { uid in
            [0: ("root", 0), 65534: ("nobody", 65534), 5000: ("news-ip", 5000), 6001: ("news-a", 6000),
             6002: ("news-b", 6000)][uid].map { (name: $0.0, gid: UInt32($0.1)) }
        },
        groupWithGID: { gid in [0: "root", 65534: "nogroup", 5000: "news-ip", 6000: "news", 10: "wheel"][gid] })

    func resolve(_ text: String, controlGroup: UInt32 = 0) throws(ConfigError) -> [ServerKind: ServerIDs] {
        try Config.parse(text).serverIDs(accounts: accounts, controlGroup: controlGroup)
    }

    /// Resolution fails with an error naming `line`, `key` and containing `contains`.
    func assertRefused(_ text: String, line: Int, key: String, contains: String, controlGroup: UInt32 = 0,
                       file: StaticString = #filePath, sourceLine: UInt = #line) {
        do throws(ConfigError) {
            let ids = try resolve(text, controlGroup: controlGroup)
            XCTFail("expected an error, got \(ids)", file: file, line: sourceLine)
        } catch {
            XCTAssertEqual(error.line, line, "\(error)", file: file, line: sourceLine)
            XCTAssertEqual(error.key, key, "\(error)", file: file, line: sourceLine)
            XCTAssertTrue(error.description.contains(contains), "\(error)", file: file, line: sourceLine)
        }
    }

    func testEachServerGetsItsOwnIDsFromTheBase() throws {
        let ids = try resolve("")
        for (i, kind) in ServerKind.allCases.enumerated() {
            XCTAssertEqual(ids[kind], ServerIDs(uid: UInt32(61000 + i), gid: UInt32(61000 + i)), "\(kind)")
        }
        XCTAssertEqual(try resolve("uid_base = 1")[.vfs], ServerIDs(uid: 6, gid: 6))
        XCTAssertEqual(Set(ids.values.map(\.uid)).count, 6)
    }

    func testUidBaseRange() throws {
        assertConfigError("uid_base = 0", line: 1, key: "uid_base", contains: "1...2147483642")
        assertConfigError("\nuid_base = 2147483643", line: 2, key: "uid_base", contains: "1...2147483642")
        assertConfigError("uid_base = -61000", line: 1, key: "uid_base", contains: "1...2147483642")
        assertConfigError("uid_base = \"61000\"", line: 1, key: "uid_base", contains: "an integer")
        XCTAssertEqual(try resolve("uid_base = 2147483642")[.vfs], ServerIDs(uid: UInt32(Int32.max), gid: UInt32(Int32.max)))
    }

    func testTheOldUserKeyIsRefusedWithWhatReplacedIt() {
        assertConfigError("ipc = \"shm\"\nuser = \"nobody\"", line: 2, key: "user", contains: "uid_base")
        assertConfigError("user = \"nobody\"", line: 1, key: "user", contains: "[users]")
        // Only at top level: in another table it is just unknown.
        assertConfigError("[nic]\nuser = \"nobody\"", line: 2, key: "user", contains: "unknown key")
    }

    func testUsersValues() throws {
        let c = try Config.parse("[users]\nipserver = \"news-ip\"\nvfs = 70100\nudpserver = \"70200\"\nnicdriver = 'a.b_c-d$'")
        XCTAssertEqual(c.users, [.ipserver: .name("news-ip"), .vfs: .uid(70100), .udpserver: .uid(70200), .nicdriver: .name("a.b_c-d$")])
        for bad in ["0", "-1", "4294967295", "\"\"", "\"a b\"", "\"a:b\"", "\"../x\"", "\"-x\"", "\"0\"", "true", "[5000]",
                    "\"" + String(repeating: "x", count: 33) + "\""] {
            assertConfigError("[users]\n\nvfs = \(bad)", line: 3, key: "vfs", contains: "a user name")
        }
        assertConfigError("[users]\nwebserver = 5", line: 2, key: "webserver", contains: UnknownServer(name: "webserver").description)
        assertConfigError("[users]\nvfs = 5\nVFS = 6", line: 3, key: "VFS", contains: "already given on line 2")
        XCTAssertEqual(try Config.parse("[users]\nvfs = 4294967294").users[.vfs], .uid(4_294_967_294))
    }

    func testUsersOverrideTheBase() throws {
        let ids = try resolve("[users]\nipserver = \"news-ip\"\nvfs = 70100\ntcpserver = 6001")
        XCTAssertEqual(ids[.ipserver], ServerIDs(uid: 5000, gid: 5000), "a name: its uid and primary gid")
        XCTAssertEqual(ids[.vfs], ServerIDs(uid: 70100, gid: 70100), "a uid without an entry: a gid of the same number")
        XCTAssertEqual(ids[.tcpserver], ServerIDs(uid: 6001, gid: 6000), "a uid with an entry: its primary gid")
        XCTAssertEqual(ids[.nicdriver], ServerIDs(uid: 61000, gid: 61000), "the others keep the base")
    }

    func testUnknownUserNamesItsLine() {
        assertRefused("[users]\nvfs = 1\n\nipserver = \"nosuch\"", line: 4, key: "ipserver", contains: "unknown user 'nosuch'")
    }

    func testRootIsRefused() {
        assertRefused("[users]\nvfs = \"root\"", line: 2, key: "vfs", contains: "root")
    }

    func testBaseIDsOfAnExistingAccountAreRefused() {
        // 65534 is nobody's: a base that hands it to a server (packetfilter, base + 1) is refused.
        assertRefused("spin = 0\nuid_base = 65533", line: 2, key: "uid_base", contains: "belongs to user 'nobody'")
        // A group alone is enough: group 6000 (no user has uid 6000) would be ipserver's (base + 2).
        assertRefused("uid_base = 5998", line: 1, key: "uid_base", contains: "belongs to group 'news'")
        // Naming that server's user explicitly is the way out.
        XCTAssertNoThrow(try resolve("uid_base = 65533\n[users]\npacketfilter = 70001"))
    }

    func testTwoServersNeverShareAUidOrGid() {
        // vfs named nicdriver's base uid.
        assertRefused("[users]\nvfs = 61000", line: 2, key: "vfs", contains: "share uid 61000 with nicdriver")
        assertRefused("[users]\nnicdriver = 70000\nvfs = 70000", line: 3, key: "vfs", contains: "share uid 70000 with nicdriver")
        // Two users with one primary group.
        assertRefused("[users]\nudpserver = \"news-a\"\ntcpserver = \"news-b\"", line: 3, key: "tcpserver", contains: "share gid 6000 with udpserver")
        // A base that collides with a named server's ids, reported at uid_base.
        assertRefused("uid_base = 69999\n[users]\nnicdriver = 70001", line: 1, key: "uid_base", contains: "share uid 70001 with nicdriver")
    }

    func testTheControlGroupIsRefused() {
        assertRefused("[users]\nvfs = 10", line: 2, key: "vfs", contains: "control_group", controlGroup: 10)
        // From the base, the control group (which exists) is already an existing group's gid.
        assertRefused("uid_base = 7", line: 1, key: "uid_base", contains: "belongs to group 'wheel'", controlGroup: 10)
    }

    func testValidateChecksUsersBuiltInCode() {
        var c = Config.default
        c.users[.vfs] = .uid(0)
        XCTAssertThrowsError(try c.validate()) { XCTAssertEqual(($0 as? ConfigError)?.key, "vfs") }
        c.users[.vfs] = .name("has space")
        XCTAssertThrowsError(try c.validate()) { XCTAssertEqual(($0 as? ConfigError)?.key, "vfs") }
        c.users[.vfs] = .name("news-vfs")
        XCTAssertNoThrow(try c.validate())
        c.uidBase = 0
        XCTAssertThrowsError(try c.validate()) { XCTAssertEqual(($0 as? ConfigError)?.key, "uid_base") }
    }

    func testRenderedUsersRoundTrip() throws {
        var c = Config.default
        c.uidBase = 123_456
        c.users = [.ipserver: .name("news-ip"), .vfs: .uid(70100)]
        let text = c.rendered()
        XCTAssertTrue(text.contains("\n[users]\n"), text)
        XCTAssertTrue(text.contains("ipserver = \"news-ip\"\nvfs = 70100\n"), text)
        XCTAssertEqual(try Config.parse(text), c)
    }
}
