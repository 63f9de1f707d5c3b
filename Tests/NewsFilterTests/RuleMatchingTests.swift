import XCTest
import NewsFilter

final class RuleMatchingTests: XCTestCase {
    func testFirstMatchWins() throws {
        var h = try Harness(exampleRules)
        // Port 9 matches both `deny in udp to any port 9` (1) and `allow any udp` (4).
        XCTAssertEqual(h.decide(udp(.in, "198.18.0.5", 4000, "198.19.0.2", 9), at: 1), .deny(rule: 1))
        // From the /24 to port 7 matches rule 0 before rule 4.
        XCTAssertEqual(h.decide(udp(.in, "198.18.0.5", 4000, "198.19.0.2", 7), at: 1), .allow(rule: 0))
        // Outside the /24, port 7 falls through to rule 4.
        XCTAssertEqual(h.decide(udp(.in, "203.0.113.1", 4000, "198.19.0.2", 7), at: 1), .allow(rule: 4))
    }

    func testReorderedRulesChangeTheWinner() throws {
        var h = try Harness("allow any udp\ndeny in udp to any port 9\n")
        XCTAssertEqual(h.decide(udp(.in, "198.18.0.5", 4000, "198.19.0.2", 9), at: 1), .allow(rule: 0))
    }

    func testDefaultPolicies() throws {
        var h = try Harness(exampleRules)
        XCTAssertEqual(h.decide(tcp(.in, "203.0.113.1", 4000, "198.19.0.2", 22, .syn), at: 1), .denyByDefault)
        XCTAssertEqual(h.decide(tcp(.out, "198.19.0.2", 4000, "203.0.113.1", 22, .syn), at: 1), .allowByDefault)
        var closed = try Harness("default in allow\ndefault out deny\n")
        XCTAssertEqual(closed.decide(tcp(.in, "203.0.113.1", 4000, "198.19.0.2", 22, .syn), at: 1), .allowByDefault)
        XCTAssertEqual(closed.decide(tcp(.out, "198.19.0.2", 4000, "203.0.113.1", 22, .syn), at: 1), .denyByDefault)
    }

    func testPortRangeBoundaries() throws {
        var h = try Harness("default out deny\nallow out tcp from any port 1024-65535 to 198.18.0.1 port 80\n")
        XCTAssertEqual(h.decide(tcp(.out, "198.19.0.2", 1023, "198.18.0.1", 80, .syn), at: 1), .denyByDefault)
        XCTAssertEqual(h.decide(tcp(.out, "198.19.0.2", 1024, "198.18.0.1", 80, .syn), at: 1), .allow(rule: 0))
        XCTAssertEqual(h.decide(tcp(.out, "198.19.0.2", 65535, "198.18.0.1", 80, .syn), at: 1), .allow(rule: 0))
        XCTAssertEqual(h.decide(tcp(.out, "198.19.0.2", 2000, "198.18.0.1", 81, .syn), at: 1), .denyByDefault)
        XCTAssertEqual(h.decide(tcp(.out, "198.19.0.2", 2000, "198.18.0.2", 80, .syn), at: 1), .denyByDefault)
        // A udp packet with the same ports does not match a tcp rule.
        XCTAssertEqual(h.decide(udp(.out, "198.19.0.2", 2000, "198.18.0.1", 80), at: 1), .denyByDefault)
    }

    func testICMPTypeAndCode() throws {
        var h = try Harness(exampleRules)
        XCTAssertEqual(h.decide(icmp(.in, "203.0.113.1", "198.19.0.2", type: 8, id: 1), at: 1), .allow(rule: 2))
        XCTAssertEqual(h.decide(icmp(.in, "203.0.113.1", "198.19.0.2", type: 13), at: 1), .denyByDefault)
        var coded = try Harness("allow in icmp type 3 code 4\n")
        XCTAssertEqual(coded.decide(icmp(.in, "203.0.113.1", "198.19.0.2", type: 3, code: 4), at: 1), .allow(rule: 0))
        XCTAssertEqual(coded.decide(icmp(.in, "203.0.113.1", "198.19.0.2", type: 3, code: 1), at: 1), .denyByDefault)
    }

    func testBlockedPortAndAllowedPort() throws {
        var h = try Harness(exampleRules)
        let blocked = h.decide(udp(.in, "203.0.113.1", 4000, "198.19.0.2", 9), at: 1)
        let allowed = h.decide(udp(.in, "203.0.113.1", 4000, "198.19.0.2", 53), at: 1)
        XCTAssertEqual(blocked, .deny(rule: 1))
        XCTAssertFalse(blocked.isAllowed)
        XCTAssertEqual(allowed, .allow(rule: 4))
        XCTAssertTrue(allowed.isAllowed)
    }

    func testProtocolAnyAlsoMatchesUnknownProtocols() throws {
        var h = try Harness("default in allow\ndeny in any from 192.0.2.0/24\n")
        let gre = PacketSummary(direction: .in, proto: .other(47), src: ip("192.0.2.9"), dst: ip("198.19.0.2"))
        XCTAssertEqual(h.decide(gre, at: 1), .deny(rule: 0))
        // other(6) is TCP by number, so tcp rules apply to it.
        var t = try Harness("allow in tcp to any port 22\n")
        let hand = PacketSummary(direction: .in, proto: .other(6), src: ip("192.0.2.9"), dst: ip("198.19.0.2"), dstPort: 22)
        XCTAssertEqual(t.decide(hand, at: 1), .allow(rule: 0))
    }

    func testCountersPerRuleAndTotals() throws {
        var h = try Harness(exampleRules)
        _ = h.decide(udp(.in, "203.0.113.1", 4000, "198.19.0.2", 9, length: 100), at: 1)
        _ = h.decide(udp(.in, "203.0.113.1", 4000, "198.19.0.2", 9, length: 50), at: 1)
        _ = h.decide(udp(.in, "203.0.113.1", 4000, "198.19.0.2", 53, length: 70), at: 1)
        _ = h.decide(tcp(.in, "203.0.113.1", 4000, "198.19.0.2", 22, .syn, length: 40), at: 1)
        XCTAssertEqual(h.filter.ruleStore.counter(rule: 1), RuleCounter(packets: 2, bytes: 150))
        XCTAssertEqual(h.filter.ruleStore.counter(rule: 4), RuleCounter(packets: 1, bytes: 70))
        XCTAssertEqual(h.filter.ruleStore.counter(rule: 0), RuleCounter())
        XCTAssertEqual(h.filter.ruleStore.defaultCounter(.in), RuleCounter(packets: 1, bytes: 40))
        XCTAssertNil(h.filter.ruleStore.counter(rule: 5))
        let c = h.filter.counters
        XCTAssertEqual(c.allowed, 1)
        XCTAssertEqual(c.denied, 3)
        XCTAssertEqual(c.byState, 0)
        XCTAssertEqual(c.flowsCreated, 1)
    }
}
