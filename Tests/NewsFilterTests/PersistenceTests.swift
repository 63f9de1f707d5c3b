// Restart survival and hostile regions. @testable only to reach `recordChecksum`, so tests can
// forge records that pass the checksum but lie in other ways (counts, slot numbers, expiries).
import XCTest
@testable import NewsFilter

final class PersistenceTests: XCTestCase {
    let rulesText = "default in deny\ndefault out deny\nallow out udp to 198.18.0.1 port 53\ndeny in udp to any port 9\nallow in icmp type 8\n"
    let queries = (5001 ... 5003).map { udp(.out, "198.19.0.2", UInt16($0), "198.18.0.1", 53, length: 60) }

    /// Runs a filter over fresh regions for the first three queries and a blocked packet.
    private func firstLife(_ ruleBytes: inout [UInt8], _ flowBytes: inout [UInt8]) throws -> FilterCounters {
        let rules = try RuleSet.parse(rulesText)
        return try ruleBytes.withUnsafeMutableBytes { rr in
            try flowBytes.withUnsafeMutableBytes { fr in
                var f = try Filter(rules: rules, ruleStore: RuleStore(region: rr),
                                   flows: FlowTable(region: fr, fresh: true))
                for q in queries { XCTAssertEqual(f.decide(q, now: 100 * second), .allow(rule: 0)) }
                XCTAssertEqual(f.decide(udp(.in, "203.0.113.1", 1, "198.19.0.2", 9), now: 100 * second), .deny(rule: 1))
                XCTAssertEqual(f.decide(reply(queries[0]), now: 101 * second), .allowedByState)
                return f.counters
            }
        }
    }

    func testRulesFlowsAndCountersSurviveRestart() throws {
        var ruleBytes = [UInt8](repeating: 0, count: RuleStore.regionSize)
        var flowBytes = [UInt8](repeating: 0, count: FlowTable.regionSize(capacity: 16))
        let before = try firstLife(&ruleBytes, &flowBytes)
        try ruleBytes.withUnsafeMutableBytes { rr in
            try flowBytes.withUnsafeMutableBytes { fr in
                let flows = try FlowTable(region: fr, fresh: false)
                XCTAssertEqual(flows.droppedInvalid, 0)
                XCTAssertEqual(flows.count, 3)
                var f = try Filter(restoringFrom: RuleStore(region: rr), flows: flows)
                XCTAssertEqual(f.rules, try RuleSet.parse(rulesText))
                XCTAssertEqual(f.counters, before)
                XCTAssertEqual(f.ruleStore.counter(rule: 0), RuleCounter(packets: 3, bytes: 180))
                XCTAssertEqual(f.ruleStore.counter(rule: 1), RuleCounter(packets: 1, bytes: 100))
                for q in queries { XCTAssertEqual(f.decide(reply(q), now: 102 * second), .allowedByState) }
                XCTAssertEqual(f.decide(udp(.in, "198.18.0.1", 53, "198.19.0.2", 6000), now: 102 * second), .denyByDefault)
                XCTAssertEqual(f.counters.byState, before.byState + 3)
                XCTAssertEqual(f.counters.denied, before.denied + 1)
            }
        }
    }

    func testFreshFlowTableForgetsFlows() throws {
        var ruleBytes = [UInt8](repeating: 0, count: RuleStore.regionSize)
        var flowBytes = [UInt8](repeating: 0, count: FlowTable.regionSize(capacity: 16))
        _ = try firstLife(&ruleBytes, &flowBytes)
        try ruleBytes.withUnsafeMutableBytes { rr in
            try flowBytes.withUnsafeMutableBytes { fr in
                var f = try Filter(restoringFrom: RuleStore(region: rr), flows: FlowTable(region: fr, fresh: true))
                XCTAssertEqual(f.decide(reply(queries[0]), now: 102 * second), .denyByDefault)
            }
        }
    }

    func testScribbledFlowRecordIsDroppedOthersKept() throws {
        var ruleBytes = [UInt8](repeating: 0, count: RuleStore.regionSize)
        var flowBytes = [UInt8](repeating: 0, count: FlowTable.regionSize(capacity: 16))
        _ = try firstLife(&ruleBytes, &flowBytes)
        flowBytes[FlowTable.headerSize + 1 * FlowTable.recordSize + 9] ^= 0x40   // slot 1's address
        try ruleBytes.withUnsafeMutableBytes { rr in
            try flowBytes.withUnsafeMutableBytes { fr in
                let flows = try FlowTable(region: fr, fresh: false)
                XCTAssertEqual(flows.droppedInvalid, 1)
                var f = try Filter(restoringFrom: RuleStore(region: rr), flows: flows)
                XCTAssertEqual(f.counters.invalidRecords, 1)
                XCTAssertEqual(f.decide(reply(queries[0]), now: 102 * second), .allowedByState)
                XCTAssertEqual(f.decide(reply(queries[1]), now: 102 * second), .denyByDefault)
                XCTAssertEqual(f.decide(reply(queries[2]), now: 102 * second), .allowedByState)
            }
        }
        XCTAssertTrue(flowBytes[(FlowTable.headerSize + FlowTable.recordSize)...].prefix(FlowTable.recordSize).allSatisfy { $0 == 0 },
                      "the bad record is cleared, not left to be trusted later")
    }

    func testForgedFlowRecordsAndHeaderAreNotTrusted() throws {
        var ruleBytes = [UInt8](repeating: 0, count: RuleStore.regionSize)
        var flowBytes = [UInt8](repeating: 0, count: FlowTable.regionSize(capacity: 16))
        _ = try firstLife(&ruleBytes, &flowBytes)
        // Slot 0: claims to be slot 0xFFFFFFFF, checksum recomputed to match that claim.
        var r0 = Array(flowBytes[80 ..< 120])
        r0.replaceSubrange(4 ..< 8, with: [0xFF, 0xFF, 0xFF, 0xFF])
        r0.replaceSubrange(32 ..< 36, with: le32(recordChecksum(r0, 0 ..< 32, slot: 0xFFFF_FFFF)))
        flowBytes.replaceSubrange(80 ..< 120, with: r0)
        // Slot 2: valid checksum but an expiry far beyond any timeout.
        var r2 = Array(flowBytes[160 ..< 200])
        r2.replaceSubrange(24 ..< 32, with: [0, 0, 0, 0, 0, 0, 0, 0x7F])
        r2.replaceSubrange(32 ..< 36, with: le32(recordChecksum(r2, 0 ..< 32, slot: 2)))
        flowBytes.replaceSubrange(160 ..< 200, with: r2)
        // Header: huge capacity and a truncated count, with a checksum that matches.
        var h = Array(flowBytes[0 ..< 32])
        h.replaceSubrange(8 ..< 12, with: le32(0xFFFF_FFF0))
        h.replaceSubrange(12 ..< 16, with: le32(1))
        h.replaceSubrange(24 ..< 28, with: le32(recordChecksum(h, 0 ..< 24, slot: 0xFFFF_FFFF)))
        flowBytes.replaceSubrange(0 ..< 32, with: h)
        try ruleBytes.withUnsafeMutableBytes { rr in
            try flowBytes.withUnsafeMutableBytes { fr in
                let flows = try FlowTable(region: fr, fresh: false)
                XCTAssertEqual(flows.capacity, 16, "capacity comes from the region size, not the header")
                XCTAssertEqual(flows.droppedInvalid, 2, "header and slot 0")
                XCTAssertEqual(flows.count, 2)
                var f = try Filter(restoringFrom: RuleStore(region: rr), flows: flows)
                XCTAssertEqual(f.decide(reply(queries[0]), now: 102 * second), .denyByDefault)
                XCTAssertEqual(f.decide(reply(queries[1]), now: 102 * second), .allowedByState)
                XCTAssertEqual(f.decide(reply(queries[2]), now: 102 * second), .denyByDefault, "implausible expiry")
                XCTAssertEqual(f.counters.invalidRecords, 3)
            }
        }
    }

    func testTruncatedFlowCountIsRecountedAndReported() throws {
        var ruleBytes = [UInt8](repeating: 0, count: RuleStore.regionSize)
        var flowBytes = [UInt8](repeating: 0, count: FlowTable.regionSize(capacity: 16))
        _ = try firstLife(&ruleBytes, &flowBytes)
        var h = Array(flowBytes[0 ..< 32])
        h.replaceSubrange(12 ..< 16, with: le32(0))
        h.replaceSubrange(24 ..< 28, with: le32(recordChecksum(h, 0 ..< 24, slot: 0xFFFF_FFFF)))
        flowBytes.replaceSubrange(0 ..< 32, with: h)
        try flowBytes.withUnsafeMutableBytes { fr in
            let flows = try FlowTable(region: fr, fresh: false)
            XCTAssertEqual(flows.count, 3, "records are found by scanning, not by trusting the count")
            XCTAssertEqual(flows.droppedInvalid, 1, "the lying header")
        }
        XCTAssertEqual(Array(flowBytes[12 ..< 16]), le32(3), "header rewritten with the real count")
    }

    func testRuleStoreRefusesDamagedRulesButResetsDamagedCounters() throws {
        var ruleBytes = [UInt8](repeating: 0, count: RuleStore.regionSize)
        var flowBytes = [UInt8](repeating: 0, count: FlowTable.regionSize(capacity: 16))
        _ = try firstLife(&ruleBytes, &flowBytes)
        let good = ruleBytes
        func load(_ bytes: [UInt8]) -> (Result<RuleSet, StoreError>, RuleStore?) {
            var copy = bytes
            return copy.withUnsafeMutableBytes { r in
                guard var store = try? RuleStore(region: r) else { return (.failure(.badMagic(0)), nil) }
                do throws(StoreError) { return (.success(try store.load()), store) } catch { return (.failure(error), store) }
            }
        }
        var bad = good
        bad[64 + 2 * 32 + 5] ^= 1                                   // rule 2's src address
        XCTAssertEqual(load(bad).0, .failure(.invalidRuleRecord(index: 2)))
        bad = good
        bad[64 + 17] = 1                                            // rule 0's reserved byte,
        bad.replaceSubrange(64 + 28 ..< 64 + 32,                    // checksum forged to match
                            with: le32(recordChecksum(Array(bad[64 ..< 96]), 0 ..< 28, slot: 0)))
        XCTAssertEqual(load(bad).0, .failure(.invalidRuleRecord(index: 0)))
        bad = good
        bad[0] = 0                                                  // torn save: header wiped first
        XCTAssertEqual(load(bad).0, .failure(.badMagic(0x4E46_5200)))
        bad = good
        bad[12] = 7                                                 // count changed, checksum not
        XCTAssertEqual(load(bad).0, .failure(.badHeaderChecksum))
        bad = good
        bad.replaceSubrange(12 ..< 16, with: le32(0xFFFF_FFFF))     // huge count, checksum forged
        bad.replaceSubrange(28 ..< 32, with: le32(recordChecksum(Array(bad[0 ..< 32]), 0 ..< 28, slot: 0xFFFF_FFFF)))
        XCTAssertEqual(load(bad).0, .failure(.badCount(0xFFFF_FFFF)))
        bad = good
        bad[RuleStore.countersOffset + 3] ^= 0xFF                   // rule 0's packet counter
        let (result, store) = load(bad)
        XCTAssertEqual(try result.get(), try RuleSet.parse(rulesText))
        XCTAssertEqual(store?.invalidRecords, 1)
        XCTAssertEqual(store?.counter(rule: 0), RuleCounter())
        XCTAssertEqual(store?.counter(rule: 1), RuleCounter(packets: 1, bytes: 100))
        XCTAssertEqual(load(good).1?.invalidRecords, 0)
    }

    func testRandomBytesNeverCrashAndAreCountedInvalid() throws {
        var rng = SplitMix64(state: 0x5EED)
        for round in 0 ..< 20 {
            var ruleBytes = (0 ..< RuleStore.regionSize).map { _ in UInt8.random(in: 0 ... 255, using: &rng) }
            let flowSize = FlowTable.regionSize(capacity: 32) - Int.random(in: 0 ... 39, using: &rng)
            var flowBytes = (0 ..< flowSize).map { _ in UInt8.random(in: 0 ... 255, using: &rng) }
            if round % 2 == 0 {   // keep a valid-looking magic so deeper checks run too
                flowBytes.replaceSubrange(0 ..< 4, with: le32(FlowTable.magic))
                ruleBytes.replaceSubrange(0 ..< 4, with: le32(RuleStore.magic))
            }
            try ruleBytes.withUnsafeMutableBytes { rr in
                try flowBytes.withUnsafeMutableBytes { fr in
                    var store = try RuleStore(region: rr)
                    XCTAssertThrowsError(try store.load(), "round \(round)")
                    let flows = try FlowTable(region: fr, fresh: false)
                    XCTAssertEqual(flows.count, 0)
                    XCTAssertGreaterThan(flows.droppedInvalid, 20, "round \(round)")
                    XCTAssertEqual(flows.capacity, flowSize >= FlowTable.regionSize(capacity: 32) ? 32 : 31)
                    store.incrementCounter(rule: Int.max, bytes: -5)
                    store.incrementCounter(rule: -1, bytes: 1)
                    var f = try Filter(rules: RuleSet.parse(rulesText), ruleStore: store, flows: flows)
                    XCTAssertEqual(f.decide(queries[0], now: 1), .allow(rule: 0))
                    XCTAssertEqual(f.decide(reply(queries[0]), now: 2), .allowedByState)
                }
            }
        }
    }

    func testTooSmallRegionsAreRejected() throws {
        var small = [UInt8](repeating: 0, count: 120)
        try small.withUnsafeMutableBytes { r in
            XCTAssertThrowsError(try RuleStore(region: r))
            XCTAssertThrowsError(try FlowTable(region: UnsafeMutableRawBufferPointer(rebasing: r[0 ..< 100]), fresh: false))
            XCTAssertNoThrow(try FlowTable(region: UnsafeMutableRawBufferPointer(rebasing: r[0 ..< 120]), fresh: false))
        }
    }
}

private func le32(_ v: UInt32) -> [UInt8] { (0 ..< 4).map { UInt8(truncatingIfNeeded: v >> ($0 * 8)) } }
