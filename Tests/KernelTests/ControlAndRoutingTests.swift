import NewsConfig
import NewsControl
import NewsIPC
import NewsServer
import NewsSystem
import XCTest

final class ControlRequestTests: XCTestCase {
    func testParsesWhatNewsctlSends() throws {
        let all: [ControlRequest] = [.status, .stats, .stop, .restart(.vfs), .crash(.ipserver, .hang), .probe(count: 10)]
        for r in all { XCTAssertEqual(try ControlRequest.parse(r.line), r) }
    }

    func testRejectsBadRequestsWithAReason() {
        let cases = ["", "reboot", "restart", "restart nosuch", "crash vfs explode", "probe -1", "probe x", "status now"]
        for line in cases {
            XCTAssertThrowsError(try ControlRequest.parse(line), line) { XCTAssertFalse("\($0)".isEmpty) }
        }
        XCTAssertThrowsError(try ControlRequest.parse("restart nosuch")) { XCTAssertTrue("\($0)".contains("ipserver")) }
    }
}

final class ProbeRouterTests: XCTestCase {
    func router(_ kind: ServerKind) throws -> ProbeRouter {
        let ends = Topology.channels(of: .server(kind)).map { spec in
            (name: spec.name, side: spec.upper == .server(kind) ? ChannelSide.upper : .lower)
        }
        return try ProbeRouter(server: kind, channels: ends)
    }

    func port(_ r: ProbeRouter, _ name: String) -> Int { r.ports.firstIndex { $0.name == name }! }

    func testAProbeWalksTheWholeChainAndBack() throws {
        for route in [ProbeRoute.udp, .tcp] {
            let transport = route == .udp ? "udp" : "tcp"
            let m = Message.probe(seq: 1, route: route, sentAt: 0)
            let vfs = try router(.vfs), ip = try router(.ipserver), nic = try router(.nicdriver)
            XCTAssertEqual(vfs.next(for: m, arrivedOn: port(vfs, "newsd-vfs")), port(vfs, "vfs-\(transport)"))
            XCTAssertEqual(ip.next(for: m, arrivedOn: port(ip, "\(transport)-ip")), port(ip, "ip-pf"))
            XCTAssertEqual(nic.next(for: m, arrivedOn: port(nic, "pf-nic")), port(nic, "pf-nic"), "the bottom reflects")
            XCTAssertEqual(ip.next(for: m, arrivedOn: port(ip, "ip-pf")), port(ip, "\(transport)-ip"), "back up the same branch")
            XCTAssertEqual(vfs.next(for: m, arrivedOn: port(vfs, "vfs-\(transport)")), port(vfs, "newsd-vfs"))
        }
    }

    func testBadRoutesAndWrongChannelsAreRefused() throws {
        let vfs = try router(.vfs)
        var m = Message.probe(seq: 1, route: .udp, sentAt: 0)
        m.arg.0 = 77
        XCTAssertNil(vfs.next(for: m, arrivedOn: 0))
        XCTAssertNil(vfs.next(for: Message.probe(seq: 1, route: .udp, sentAt: 0), arrivedOn: 99))
        XCTAssertThrowsError(try ProbeRouter(server: .vfs, channels: [(name: "ip-pf", side: .upper)]))
        XCTAssertThrowsError(try ProbeRouter(server: .vfs, channels: [(name: "nope", side: .upper)]))
    }
}

final class ProcStatusTests: XCTestCase {
    let confined = """
        Name:\tipserver
        State:\tS (sleeping)
        Uid:\t61002\t61002\t61002\t61002
        Gid:\t61002\t61002\t61002\t61002
        Groups:\t
        CapEff:\t0000000000000000
        NoNewPrivs:\t1
        Seccomp:\t2
        Cpus_allowed_list:\t1
        """

    func testAConfinedServerPasses() {
        let s = ProcStatus.parse(confined)
        XCTAssertEqual(s.uid, 61002)
        XCTAssertEqual(s.gids, [61002, 61002, 61002, 61002])
        XCTAssertEqual(s.groups, [])
        XCTAssertNil(s.confinementProblem(expectedCPU: 1, uid: 61002, gid: 61002))
        XCTAssertNotNil(s.confinementProblem(expectedCPU: 0, uid: 61002, gid: 61002), "wrong core")
    }

    func testEachMissingStepIsNamed() {
        let cases = [("Uid:\t61002", "Uid:\t0"), ("CapEff:\t0000000000000000", "CapEff:\t000001ffffffffff"),
                     ("Seccomp:\t2", "Seccomp:\t0"), ("NoNewPrivs:\t1", "NoNewPrivs:\t0"),
                     ("Groups:\t", "Groups:\t27"), ("Groups:\t\n", "")]
        for (good, bad) in cases {
            let text = confined.replacingOccurrences(of: good, with: bad)
            XCTAssertNotNil(ProcStatus.parse(text).confinementProblem(expectedCPU: 1, uid: 61002, gid: 61002), bad)
        }
    }

    /// Each of the four ids must be the server's own: another server's uid in any of them
    /// (the saved one, say) is refused as surely as root's.
    func testEveryIdMustBeTheServersOwn() {
        for field in ["Uid", "Gid"] {
            for position in 0..<4 {
                var ids = Array(repeating: "61002", count: 4)
                ids[position] = "61003"
                let line = "\(field):\t" + ids.joined(separator: "\t")
                let text = confined.replacingOccurrences(of: "\(field):\t61002\t61002\t61002\t61002", with: line)
                let problem = ProcStatus.parse(text).confinementProblem(expectedCPU: 1, uid: 61002, gid: 61002)
                XCTAssertTrue(problem?.contains("not its own") == true, "\(line): \(problem ?? "passed")")
            }
        }
        let s = ProcStatus.parse(confined)
        XCTAssertNotNil(s.confinementProblem(expectedCPU: 1, uid: 61003, gid: 61002), "another server's uid")
        XCTAssertNotNil(s.confinementProblem(expectedCPU: 1, uid: 61002, gid: 61003), "another server's gid")
        let root = confined.replacingOccurrences(of: "61002", with: "0")
        XCTAssertNotNil(ProcStatus.parse(root).confinementProblem(expectedCPU: 1, uid: 0, gid: 0), "root is never a server's own")
    }
}

final class SeccompProfileTests: XCTestCase {
    /// The signal and execute rules of every server's filter: the calls that could reach
    /// another process or load code are absent or tied to conditions.
    func testSignalsOnlyToSelfAndNoExecutableMemory() {
        for kind in ServerKind.allCases {
            let rules = SeccompProfile.rules(for: kind, pid: 4242)
            let names = rules.map(\.name)
            XCTAssertEqual(Set(names).count, names.count, "\(kind): a call listed twice would allow it unconditionally")
            for forbidden in ["kill", "tkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo", "pidfd_send_signal", "pkey_mprotect",
                              "ptrace", "process_vm_writev", "execve", "execveat", "socket", "open", "openat"] {
                XCTAssertFalse(names.contains(forbidden), "\(kind) allows \(forbidden)")
            }
            XCTAssertEqual(rules.first { $0.name == "tgkill" }?.conditions, [.equals(argument: 0, value: 4242)], "\(kind)")
            for call in ["mmap", "mprotect"] {
                XCTAssertEqual(rules.first { $0.name == call }?.conditions,
                               [.maskedEquals(argument: 2, mask: 4 /* PROT_EXEC */, value: 0)], "\(kind) \(call)")
            }
            // Only the transports check seals at run time (socket regions arrive while they
            // run), and of fcntl they may do only that.
            let sealChecker = kind == .udpserver || kind == .tcpserver
            if sealChecker {
                XCTAssertEqual(rules.first { $0.name == "fcntl" }?.conditions, [.equals(argument: 1, value: 1034 /* F_GET_SEALS */)])
            } else {
                XCTAssertFalse(names.contains("fcntl"), "\(kind)")
            }
            // Every other rule is unconditional, so these are the only conditional ones.
            XCTAssertEqual(rules.filter { !$0.conditions.isEmpty }.map(\.name).sorted(),
                           (sealChecker ? ["fcntl"] : []) + ["mmap", "mprotect", "tgkill"], "\(kind)")
        }
    }
}
