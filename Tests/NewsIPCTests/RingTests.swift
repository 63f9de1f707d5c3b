import CNewsLinux
import NewsIPC
import XCTest

/// Single-process tests of the ring logic over an ordinary allocation (the two-process runs
/// are `newsbench ringtest`, driven by the integration suite).
final class RingTests: XCTestCase {
    var memory: UnsafeMutableRawPointer!
    let capacity = 16

    override func setUp() {
        memory = UnsafeMutableRawPointer.allocate(byteCount: RingLayout.bytes(capacity: capacity), alignment: 64)
        RingLayout.initialize(memory, capacity: capacity)
    }

    override func tearDown() { memory.deallocate() }

    func messages(_ seqs: Range<UInt64>) -> [Message] { seqs.map { Message(kind: .probe, seq: $0) } }

    func send(_ p: inout RingProducer, _ ms: [Message]) throws -> Int {
        try ms.withUnsafeBufferPointer { try p.send($0) }
    }

    func receive(_ c: inout RingConsumer, max: Int) throws -> [Message] {
        var out = [Message](repeating: Message(), count: max)
        let n = try out.withUnsafeMutableBufferPointer { try c.receive(into: $0) }
        return Array(out[0..<n])
    }

    func testDeliversInOrderAndStopsWhenFull() throws {
        var p = try RingProducer(at: memory, capacity: capacity)
        var c = try RingConsumer(at: memory, capacity: capacity)
        XCTAssertEqual(try send(&p, messages(0..<10)), 10)
        XCTAssertEqual(try send(&p, messages(10..<30)), 6, "only the free slots are filled")
        XCTAssertEqual(try receive(&c, max: 7).map(\.seq), Array(0..<7))
        XCTAssertEqual(try send(&p, messages(16..<30)), 7)
        XCTAssertEqual(try receive(&c, max: 100).map(\.seq), Array(7..<23))
        XCTAssertEqual(try receive(&c, max: 100).count, 0)
        XCTAssertFalse(c.hasInput)
    }

    func testFreeRunningIndicesWrapPast64Bits() throws {
        RingLayout.initialize(memory, capacity: capacity, start: UInt64.max - 20)
        var p = try RingProducer(at: memory, capacity: capacity)
        var c = try RingConsumer(at: memory, capacity: capacity)
        var next: UInt64 = 0
        for round in 0..<50 {
            let n = 1 + round % capacity
            XCTAssertEqual(try send(&p, messages(next..<next + UInt64(n))), n)
            XCTAssertEqual(try receive(&c, max: capacity).map(\.seq), Array(next..<next + UInt64(n)))
            next += UInt64(n)
        }
        XCTAssertLessThan(p.sentIndex, 1000, "the head index wrapped through zero")
    }

    func testConsumerRefusesImpossibleHeadWithoutReadingSlots() throws {
        var p = try RingProducer(at: memory, capacity: capacity)
        var c = try RingConsumer(at: memory, capacity: capacity)
        _ = try send(&p, messages(0..<4))
        XCTAssertEqual(try receive(&c, max: 4).count, 4)
        let header = memory.assumingMemoryBound(to: news_ring_header_t.self)
        news_store_release_u64(&header.pointee.head, 1_000_000)  // a peer scribbles
        XCTAssertThrowsError(try receive(&c, max: 4)) { error in
            guard case RingError.corrupt(let head, let tail, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(head, 1_000_000)
            XCTAssertEqual(tail, 4)
        }
        XCTAssertThrowsError(try RingConsumer(at: memory, capacity: capacity), "attaching to it is refused too")
    }

    func testProducerRefusesTailAheadOfHead() throws {
        var p = try RingProducer(at: memory, capacity: capacity)
        _ = try send(&p, messages(0..<16))
        let header = memory.assumingMemoryBound(to: news_ring_header_t.self)
        news_store_release_u64(&header.pointee.tail, 500)
        XCTAssertThrowsError(try send(&p, messages(16..<17)))
    }

    func testHeaderMustMatchWhatTheAttacherKnows() {
        XCTAssertThrowsError(try RingConsumer(at: memory, capacity: 32), "capacity mismatch")
        memory.storeBytes(of: UInt32(0x1234), toByteOffset: 128, as: UInt32.self)
        XCTAssertThrowsError(try RingProducer(at: memory, capacity: capacity), "bad magic")
    }

    func testRepairRewritesOnlyTheOwnIndex() throws {
        let header = memory.assumingMemoryBound(to: news_ring_header_t.self)
        news_store_release_u64(&header.pointee.head, 9_999)
        XCTAssertTrue(try RingRepair.repairAsConsumer(at: memory, capacity: capacity))
        XCTAssertEqual(header.pointee.tail, 9_999)
        XCTAssertEqual(header.pointee.head, 9_999)
        XCTAssertFalse(try RingRepair.repairAsProducer(at: memory, capacity: capacity), "now consistent")
        var c = try RingConsumer(at: memory, capacity: capacity)
        XCTAssertEqual(try receive(&c, max: 4).count, 0)
    }
}
