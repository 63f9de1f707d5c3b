import NewsIPC
import XCTest

/// `send(_:building:)`: a payload written straight into the slot it travels in.
final class ChannelBuildTests: XCTestCase {
    func testBuiltPayloadArrivesAndAFullRingNeverCallsTheBuilder() throws {
        let capacity = 16, slot = 256
        let size = ChannelLayout.regionSize(capacity: capacity, slot: slot)
        let base = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 4096)
        let bells = UnsafeMutableRawPointer.allocate(byteCount: 2 * Doorbell.regionSize, alignment: 4096)
        defer { base.deallocate(); bells.deallocate() }
        base.initializeMemory(as: UInt8.self, repeating: 0, count: size)
        bells.initializeMemory(as: UInt8.self, repeating: 0, count: 2 * Doorbell.regionSize)
        ChannelLayout.initialize(base, capacity: capacity)
        let upper = try ShmChannel(name: "t", base: base, capacity: capacity, side: .upper, peerBell: Doorbell(at: bells), slot: slot)
        let lower = try ShmChannel(name: "t", base: base, capacity: capacity, side: .lower,
                                   peerBell: Doorbell(at: bells + Doorbell.regionSize), slot: slot)
        var seen = 0
        XCTAssertTrue(try upper.send(Message(kind: .frame, seq: 7)) { b in
            XCTAssertEqual(b.count, slot, "the whole slot to write in")
            for i in 0..<100 { b[i] = UInt8(i) }
            return 100
        })
        XCTAssertFalse(try upper.send(Message(kind: .frame, seq: 8)) { _ in nil }, "a builder that gives up sends nothing")
        XCTAssertFalse(try upper.send(Message(kind: .frame, seq: 9)) { _ in slot + 1 }, "nor one that claims too much")
        _ = try lower.receive(max: 8) { m, p in
            seen += 1
            XCTAssertEqual(m.seq, 7)
            XCTAssertEqual(Array(p), (0..<100).map { UInt8($0) })
        }
        XCTAssertEqual(seen, 1)
        for _ in 0..<capacity { XCTAssertTrue(try upper.send(Message(kind: .frame, seq: 1)) { _ in 0 }) }
        var called = false
        XCTAssertFalse(try upper.send(Message(kind: .frame, seq: 2)) { _ in called = true; return 0 })
        XCTAssertFalse(called, "no slot: the builder is not called")
    }
}
