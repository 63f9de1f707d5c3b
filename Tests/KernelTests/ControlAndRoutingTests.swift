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
        Uid:\t65534\t65534\t65534\t65534
        CapEff:\t0000000000000000
        NoNewPrivs:\t1
        Seccomp:\t2
        Cpus_allowed_list:\t1
        """

    func testAConfinedServerPasses() {
        let s = ProcStatus.parse(confined)
        XCTAssertEqual(s.uid, 65534)
        XCTAssertNil(s.confinementProblem(expectedCPU: 1))
        XCTAssertNotNil(s.confinementProblem(expectedCPU: 0), "wrong core")
    }

    func testEachMissingStepIsNamed() {
        let cases = [("Uid:\t65534", "Uid:\t0"), ("CapEff:\t0000000000000000", "CapEff:\t000001ffffffffff"),
                     ("Seccomp:\t2", "Seccomp:\t0"), ("NoNewPrivs:\t1", "NoNewPrivs:\t0")]
        for (good, bad) in cases {
            let text = confined.replacingOccurrences(of: good, with: bad)
            XCTAssertNotNil(ProcStatus.parse(text).confinementProblem(expectedCPU: 1), bad)
        }
    }
}
