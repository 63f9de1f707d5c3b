import XCTest
import NewsFilter

final class FlowTrackingTests: XCTestCase {
    let dnsOnly = "default in deny\ndefault out deny\nallow out udp to 198.18.0.1 port 53\n"

    func testRepliesAllowedByStateUnderDefaultDenyThenExpire() throws {
        var h = try Harness(dnsOnly)
        let query = udp(.out, "198.19.0.2", 5000, "198.18.0.1", 53)
        XCTAssertEqual(h.decide(reply(query), at: 1000), .denyByDefault, "no state yet")
        XCTAssertEqual(h.decide(query, at: 1000), .allow(rule: 0))
        XCTAssertEqual(h.decide(reply(query), at: 1010), .allowedByState)   // refreshes to 1040
        XCTAssertEqual(h.decide(reply(query), at: 1039), .allowedByState)   // refreshes to 1069
        XCTAssertEqual(h.decide(reply(query), at: 1069), .denyByDefault, "30 s after the last packet")
        XCTAssertEqual(h.filter.counters.byState, 2)
        XCTAssertEqual(h.filter.counters.flowsExpired, 1)
        XCTAssertEqual(h.filter.flows.count, 0, "expired entry reclaimed")
    }

    func testStateIsPerFlowAndDirectional() throws {
        var h = try Harness(dnsOnly)
        let query = udp(.out, "198.19.0.2", 5000, "198.18.0.1", 53)
        _ = h.decide(query, at: 1)
        // Same server, another local port: a different flow.
        XCTAssertEqual(h.decide(udp(.in, "198.18.0.1", 53, "198.19.0.2", 5001), at: 2), .denyByDefault)
        // The originator's own 5-tuple arriving from the wire is not a reply.
        var spoof = query
        spoof.direction = .in
        XCTAssertEqual(h.decide(spoof, at: 2), .denyByDefault)
        // The reply's 5-tuple leaving the host is not a reply either: replies come from the wire.
        var inside = reply(query)
        inside.direction = .out
        XCTAssertEqual(h.decide(inside, at: 2), .denyByDefault)
        XCTAssertEqual(h.decide(reply(query), at: 2), .allowedByState)
    }

    func testFlowBetweenIdenticalEndpointsUsesDirection() throws {
        var h = try Harness("default in deny\ndefault out allow\n")
        let selfie = udp(.out, "198.19.0.2", 5000, "198.19.0.2", 5000)
        _ = h.decide(selfie, at: 1)
        XCTAssertEqual(h.decide(reply(selfie), at: 2), .allowedByState)
    }

    func testICMPEchoReplyByState() throws {
        var h = try Harness("default in deny\ndefault out allow\n")
        let ping = icmp(.out, "198.19.0.2", "198.18.0.1", type: 8, id: 77)
        XCTAssertEqual(h.decide(ping, at: 100), .allowByDefault)
        XCTAssertEqual(h.decide(reply(ping, type: 0), at: 101), .allowedByState)
        var otherID = reply(ping, type: 0)
        otherID.icmpID = 78
        XCTAssertEqual(h.decide(otherID, at: 101), .denyByDefault)
        // The peer's own echo request with the same id is not a reply.
        XCTAssertEqual(h.decide(reply(ping, type: 8), at: 101), .denyByDefault)
        XCTAssertEqual(h.decide(reply(ping, type: 0), at: 111), .denyByDefault, "icmp state lasts 10 s")
    }

    func testTCPLifecycleTimeouts() throws {
        var h = try Harness("default in deny\nallow out tcp to any port 80\n")
        let syn = tcp(.out, "198.19.0.2", 40000, "198.18.0.1", 80, .syn)
        let t: UInt64 = 5000
        XCTAssertEqual(h.decide(syn, at: t), .allow(rule: 0))
        XCTAssertEqual(h.filter.flows.entry(for: syn, now: t * second)?.expiry, (t + 30) * second)
        XCTAssertEqual(h.decide(reply(syn, flags: [.syn, .ack]), at: t + 1), .allowedByState)
        let half = h.filter.flows.entry(for: syn, now: (t + 1) * second)
        XCTAssertEqual(half?.tcp, [.originatorSYN, .responderSYN])
        XCTAssertEqual(half?.expiry, (t + 31) * second, "handshake not complete: still 30 s")
        XCTAssertEqual(h.decide(tcp(.out, "198.19.0.2", 40000, "198.18.0.1", 80, .ack), at: t + 2), .allow(rule: 0))
        XCTAssertEqual(h.filter.flows.entry(for: syn, now: (t + 2) * second)?.expiry, (t + 302) * second)
        // Idle for 250 s: only an established flow survives that.
        XCTAssertEqual(h.decide(reply(syn, flags: .ack), at: t + 252), .allowedByState)
        XCTAssertEqual(h.decide(tcp(.out, "198.19.0.2", 40000, "198.18.0.1", 80, [.fin, .ack]), at: t + 260), .allow(rule: 0))
        XCTAssertEqual(h.filter.flows.entry(for: syn, now: (t + 260) * second)?.expiry, (t + 270) * second)
        XCTAssertEqual(h.decide(reply(syn, flags: [.fin, .ack]), at: t + 269), .allowedByState)
        XCTAssertEqual(h.decide(reply(syn, flags: .ack), at: t + 279), .denyByDefault, "10 s after the last FIN")
    }

    func testUnansweredSYNExpiresAfter30s() throws {
        var h = try Harness("default in deny\nallow out tcp to any port 80\n")
        let syn = tcp(.out, "198.19.0.2", 40000, "198.18.0.1", 80, .syn)
        _ = h.decide(syn, at: 10)
        XCTAssertEqual(h.decide(reply(syn, flags: [.syn, .ack]), at: 40), .denyByDefault)
    }

    func testRSTFromPeerClosesWithin10s() throws {
        var h = try Harness("default in deny\nallow out tcp to any port 80\n")
        let syn = tcp(.out, "198.19.0.2", 40000, "198.18.0.1", 80, .syn)
        _ = h.decide(syn, at: 10)
        _ = h.decide(reply(syn, flags: [.syn, .ack]), at: 10)
        _ = h.decide(tcp(.out, "198.19.0.2", 40000, "198.18.0.1", 80, .ack), at: 10)
        XCTAssertEqual(h.decide(reply(syn, flags: .rst), at: 20), .allowedByState)
        XCTAssertEqual(h.decide(reply(syn, flags: .ack), at: 29), .allowedByState)
        XCTAssertEqual(h.decide(reply(syn, flags: .ack), at: 40), .denyByDefault)
    }

    func testFullTableEvictsEntryClosestToExpiry() throws {
        var h = try Harness(dnsOnly, flowCapacity: 2)
        let a = udp(.out, "198.19.0.2", 5001, "198.18.0.1", 53)
        let b = udp(.out, "198.19.0.2", 5002, "198.18.0.1", 53)
        let c = udp(.out, "198.19.0.2", 5003, "198.18.0.1", 53)
        _ = h.decide(a, at: 100)            // expires 130
        _ = h.decide(b, at: 105)            // expires 135
        XCTAssertEqual(h.decide(c, at: 110), .allow(rule: 0))
        XCTAssertEqual(h.filter.counters.flowTableFull, 1)
        XCTAssertEqual(h.filter.flows.stats.evicted, 1)
        XCTAssertEqual(h.decide(reply(a), at: 111), .denyByDefault, "a was evicted")
        XCTAssertEqual(h.decide(reply(b), at: 111), .allowedByState)
        XCTAssertEqual(h.decide(reply(c), at: 111), .allowedByState)
    }

    func testFullTableCanRefuseNewFlows() throws {
        var h = try Harness(dnsOnly, flowCapacity: 2, policy: .refuseNew)
        let a = udp(.out, "198.19.0.2", 5001, "198.18.0.1", 53)
        let b = udp(.out, "198.19.0.2", 5002, "198.18.0.1", 53)
        let c = udp(.out, "198.19.0.2", 5003, "198.18.0.1", 53)
        _ = h.decide(a, at: 100)
        _ = h.decide(b, at: 105)
        XCTAssertEqual(h.decide(c, at: 110), .allow(rule: 0), "the rule still allows it")
        XCTAssertEqual(h.filter.counters.flowTableFull, 1)
        XCTAssertEqual(h.decide(reply(c), at: 111), .denyByDefault, "but it got no state")
        XCTAssertEqual(h.decide(reply(a), at: 111), .allowedByState)
        XCTAssertEqual(h.decide(reply(b), at: 111), .allowedByState)
    }

    func testExpiredEntriesAreReclaimedBeforeTheTableCountsAsFull() throws {
        var h = try Harness(dnsOnly, flowCapacity: 2)
        _ = h.decide(udp(.out, "198.19.0.2", 5001, "198.18.0.1", 53), at: 100)
        _ = h.decide(udp(.out, "198.19.0.2", 5002, "198.18.0.1", 53), at: 100)
        let c = udp(.out, "198.19.0.2", 5003, "198.18.0.1", 53)
        _ = h.decide(c, at: 131)
        XCTAssertEqual(h.filter.counters.flowTableFull, 0)
        XCTAssertEqual(h.filter.counters.flowsExpired, 2)
        XCTAssertEqual(h.filter.flows.count, 1)
        XCTAssertEqual(h.decide(reply(c), at: 132), .allowedByState)
    }

    func testTimerSweepReclaims() throws {
        var h = try Harness(dnsOnly)
        _ = h.decide(udp(.out, "198.19.0.2", 5001, "198.18.0.1", 53), at: 100)
        XCTAssertEqual(h.filter.expireFlows(now: 129 * second), 0)
        XCTAssertEqual(h.filter.expireFlows(now: 130 * second), 1)
        XCTAssertEqual(h.filter.flows.count, 0)
    }
}
