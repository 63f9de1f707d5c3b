import CNewsLinux
import NewsIPC
import XCTest

final class StatusPageTests: XCTestCase {
    func withPage(_ body: (StatusPage, UnsafeMutableRawPointer) throws -> Void) rethrows {
        let memory = UnsafeMutableRawPointer.allocate(byteCount: StatusPage.regionSize, alignment: 64)
        defer { memory.deallocate() }
        memory.initializeMemory(as: UInt8.self, repeating: 0, count: StatusPage.regionSize)
        try body(StatusPage(at: memory), memory)
    }

    func testCountersSurviveARestartButNotAFreshStart() {
        withPage { page, _ in
            page.prepare(generation: 1, fresh: true)
            let slot = page.counter(named: "messages_in")!
            page.add(slot, 41)
            page.add(slot)
            page.prepare(generation: 2, fresh: false)
            XCTAssertEqual(page.counter(named: "messages_in"), slot, "a restarted server finds its slot")
            XCTAssertEqual(page.counters().valid.first?.1, 42)
            XCTAssertEqual(page.generation, 2)
            page.prepare(generation: 3, fresh: true)
            XCTAssertTrue(page.counters().valid.isEmpty)
        }
    }

    func testGarbageCounterRecordsAreNotTrusted() {
        withPage { page, memory in
            page.prepare(generation: 1, fresh: true)
            _ = page.counter(named: "good")
            _ = page.counter(named: "bad")
            // A hostile server: a name with control bytes, and a counter count far too big.
            memory.storeBytes(of: UInt8(7), toByteOffset: 64 + 48, as: UInt8.self)
            memory.storeBytes(of: UInt32(100_000), toByteOffset: 12, as: UInt32.self)
            let (valid, invalid) = page.counters()
            XCTAssertEqual(valid.map(\.0), ["good"])
            XCTAssertGreaterThanOrEqual(invalid, 2)
        }
    }

    func testHeartbeatAndCommands() {
        withPage { page, _ in
            page.prepare(generation: 1, fresh: true)
            XCTAssertEqual(page.state, .starting)
            page.beat(); page.beat()
            XCTAssertEqual(page.heartbeat, 2)
            page.post(command: FaultCommand.hang.rawValue)
            XCTAssertEqual(FaultCommand(rawValue: page.command), .hang)
            page.clearCommand()
            XCTAssertEqual(page.command, 0)
        }
    }
}
