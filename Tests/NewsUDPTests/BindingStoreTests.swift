import XCTest
import NewsIPCore
@testable import NewsUDP

final class BindingStoreTests: XCTestCase {
    var memory: UnsafeMutableRawBufferPointer!
    override func setUp() { memory = .allocate(byteCount: 4096, alignment: 64); memory.initializeMemory(as: UInt8.self, repeating: 0xA5) }
    override func tearDown() { memory.deallocate() }

    func testBindingsSurviveARestart() throws {
        let store = try XCTUnwrap(BindingStore(region: memory))
        store.reset()
        XCTAssertTrue(store.save(Binding(socket: 7, uid: 1000, port: 5353)))
        XCTAssertTrue(store.save(Binding(socket: 9, uid: 0, port: 53, remoteAddress: 0xC612_0001, remotePort: 9000)))
        XCTAssertTrue(store.save(Binding(socket: 7, uid: 1000, port: 5354)), "an update rewrites the slot")
        store.remove(socket: 11)  // never saved: nothing happens

        let after = try XCTUnwrap(BindingStore(region: memory)).restore()
        XCTAssertTrue(after.headerIntact)
        XCTAssertEqual(after.damaged, 0)
        XCTAssertEqual(after.bindings, [7: Binding(socket: 7, uid: 1000, port: 5354),
                                        9: Binding(socket: 9, uid: 0, port: 53, remoteAddress: 0xC612_0001, remotePort: 9000)])
        XCTAssertTrue(after.bindings[9]!.connected)
    }

    func testRemovedBindingsStayRemoved() throws {
        let store = try XCTUnwrap(BindingStore(region: memory))
        store.reset()
        store.save(Binding(socket: 1, uid: 1, port: 1111))
        store.save(Binding(socket: 2, uid: 1, port: 2222))
        store.remove(socket: 1)
        let after = try XCTUnwrap(BindingStore(region: memory)).restore()
        XCTAssertEqual(Array(after.bindings.keys), [2])
    }

    func testATornSlotIsSkippedAndCountedAndTheRestAdopted() throws {
        let store = try XCTUnwrap(BindingStore(region: memory))
        store.reset()
        store.save(Binding(socket: 1, uid: 1, port: 1111))
        store.save(Binding(socket: 2, uid: 1, port: 2222))
        // Flip the port of the first slot without fixing its checksum.
        memory[PersistenceFormat.headerSize + 8] ^= 0xFF
        let again = try XCTUnwrap(BindingStore(region: memory))
        let after = again.restore()
        XCTAssertEqual(after.damaged, 1)
        XCTAssertEqual(Array(after.bindings.keys), [2])
        // The damaged slot was cleared and is usable again.
        XCTAssertEqual(again.count, 1)
        XCTAssertTrue(again.save(Binding(socket: 3, uid: 1, port: 3333)))
    }

    func testAScribbledHeaderMeansAFreshStore() throws {
        let store = try XCTUnwrap(BindingStore(region: memory))
        store.reset()
        store.save(Binding(socket: 1, uid: 1, port: 1111))
        memory[0] ^= 1
        let after = try XCTUnwrap(BindingStore(region: memory)).restore()
        XCTAssertFalse(after.headerIntact)
        XCTAssertTrue(after.bindings.isEmpty)
    }

    func testFullStoreRefuses() throws {
        let small = UnsafeMutableRawBufferPointer.allocate(byteCount: PersistenceFormat.headerSize + 2 * BindingStore.recordSize, alignment: 8)
        defer { small.deallocate() }
        let store = try XCTUnwrap(BindingStore(region: small))
        store.reset()
        XCTAssertEqual(store.capacity, 2)
        XCTAssertTrue(store.save(Binding(socket: 1, uid: 1, port: 1)))
        XCTAssertTrue(store.save(Binding(socket: 2, uid: 1, port: 2)))
        XCTAssertFalse(store.save(Binding(socket: 3, uid: 1, port: 3)))
        XCTAssertNil(BindingStore(region: UnsafeMutableRawBufferPointer(rebasing: small[0..<10])))
    }
}
