import XCTest
import NewsIPCore
import NewsTCP
@testable import NewsTCPState

final class ControlBlockStoreTests: XCTestCase {
    var memory: UnsafeMutableRawBufferPointer!
    override func setUp() {
        memory = .allocate(byteCount: PersistenceFormat.headerSize + 8 * ControlBlockStore.recordSize, alignment: 64)
        memory.initializeMemory(as: UInt8.self, repeating: 0xA5)
    }
    override func tearDown() { memory.deallocate() }

    /// A record whose every field holds a value no other field (or other record) holds, so
    /// a field stored at or read from the wrong offset shows.
    func record(_ socket: UInt32, state: RecordedState = .established) -> ControlBlockRecord {
        let k = UInt64(socket) << 40
        var c = ControlBlockRecord(socket: socket, uid: 1000 + socket, state: state,
                                   tuple: FourTuple(localAddress: 0x0A00_0000 | socket, localPort: UInt16(40000 + socket),
                                                    remoteAddress: 0xC612_0000 | socket, remotePort: UInt16(1000 + socket)))
        let w = socket << 24
        c.iss = SequenceNumber(w | 0x01); c.irs = SequenceNumber(w | 0x02)
        c.sndUna = SequenceNumber(w | 0x03); c.sndNxt = SequenceNumber(w | 0x04); c.sndWnd = w | 0x05
        c.sndWl1 = SequenceNumber(w | 0x06); c.sndWl2 = SequenceNumber(w | 0x07)
        c.rcvNxt = SequenceNumber(w | 0x08); c.rcvWnd = w | 0x09
        c.sendWindowShift = UInt8(socket % 8); c.receiveWindowShift = UInt8(socket % 8 + 6)
        c.sendMSS = UInt16(1400 + socket); c.receiveMSS = UInt16(1300 + socket)
        c.options = socket % 2 == 0 ? [.timestamps, .windowScaling] : [.sack, .timestamps, .windowScaling]
        c.timestampOffset = w | 0x0A; c.tsRecent = w | 0x0B
        c.tsRecentTime = k | 0x11; c.srtt = k | 0x12; c.rttvar = k | 0x13; c.rto = k | 0x14
        c.cwnd = k | 0x15; c.ssthresh = k | 0x16
        c.sendAcked = k | 0x17; c.sendTailSeen = k | 0x18; c.receiveTail = k | 0x19; c.receiveHeadSeen = k | 0x1F
        c.retransmissionDeadline = k | 0x1A; c.persistDeadline = k | 0x1B; c.keepAliveDeadline = k | 0x1C
        c.delayedAckDeadline = k | 0x1D; c.timeWaitDeadline = k | 0x1E
        c.retransmissions = UInt16(socket + 3)
        return c
    }

    func offset(ofSlot slot: Int) -> Int { PersistenceFormat.headerSize + slot * ControlBlockStore.recordSize }

    func testEveryFieldSurvivesARestart() throws {
        let store = try XCTUnwrap(ControlBlockStore(region: memory))
        store.reset()
        let saved = [record(1), record(2, state: .finWait2), record(3, state: .timeWait)]
        for c in saved { XCTAssertTrue(store.save(c)) }
        XCTAssertEqual(store.count, 3)

        let after = try XCTUnwrap(ControlBlockStore(region: memory)).restore()
        XCTAssertTrue(after.headerIntact)
        XCTAssertEqual(after.damaged, 0)
        XCTAssertEqual(after.records, Dictionary(uniqueKeysWithValues: saved.map { ($0.socket, $0) }))
    }

    func testEveryStateRoundTrips() throws {
        let store = try XCTUnwrap(ControlBlockStore(region: memory))
        store.reset()
        XCTAssertEqual(RecordedState.allCases.count, 11)
        for s in RecordedState.allCases {
            XCTAssertTrue(store.save(record(1, state: s)))
            XCTAssertEqual(try XCTUnwrap(ControlBlockStore(region: memory)).restore().records[1]?.state, s)
        }
    }

    func testAnUpdateRewritesTheSlotInPlace() throws {
        let store = try XCTUnwrap(ControlBlockStore(region: memory))
        store.reset()
        store.save(record(1))
        store.save(record(2))
        var changed = record(1, state: .closeWait)
        changed.sndUna = changed.sndUna + 1000
        changed.retransmissionDeadline = 0
        XCTAssertTrue(store.save(changed))
        XCTAssertEqual(store.count, 2)
        // Still the first slot: the record's socket id is there, and no third slot is used.
        XCTAssertEqual(PersistenceFormat.get32(at: offset(ofSlot: 0), in: UnsafeRawBufferPointer(memory)), 1)
        XCTAssertTrue(UnsafeRawBufferPointer(rebasing: memory[offset(ofSlot: 2)..<offset(ofSlot: 3)]).allSatisfy { $0 == 0 })

        let after = try XCTUnwrap(ControlBlockStore(region: memory)).restore()
        XCTAssertEqual(after.records, [1: changed, 2: record(2)])
    }

    func testRemovedRecordsStayRemovedAndTheirSlotIsReused() throws {
        let store = try XCTUnwrap(ControlBlockStore(region: memory))
        store.reset()
        store.save(record(1))
        store.save(record(2))
        store.remove(socket: 1)
        store.remove(socket: 9)  // never saved: nothing happens
        XCTAssertEqual(store.count, 1)
        let again = try XCTUnwrap(ControlBlockStore(region: memory))
        let after = again.restore()
        XCTAssertEqual(Array(after.records.keys), [2])
        XCTAssertEqual(after.damaged, 0)
        XCTAssertTrue(again.save(record(3)))
        XCTAssertEqual(PersistenceFormat.get32(at: offset(ofSlot: 0), in: UnsafeRawBufferPointer(memory)), 3, "the freed slot")
    }

    func testAFlippedByteSpoilsOnlyItsRecord() throws {
        let store = try XCTUnwrap(ControlBlockStore(region: memory))
        store.reset()
        for s in UInt32(1)...3 { store.save(record(s)) }
        // A byte deep in the second record (its cwnd), checksum untouched.
        memory[offset(ofSlot: 1) + 113] ^= 0x40
        let again = try XCTUnwrap(ControlBlockStore(region: memory))
        let after = again.restore()
        XCTAssertTrue(after.headerIntact)
        XCTAssertEqual(after.damaged, 1)
        XCTAssertEqual(after.records, [1: record(1), 3: record(3)])
        XCTAssertEqual(again.count, 2)
        XCTAssertTrue(UnsafeRawBufferPointer(rebasing: memory[offset(ofSlot: 1)..<offset(ofSlot: 2)]).allSatisfy { $0 == 0 },
                      "the damaged slot is cleared")
        XCTAssertEqual(try XCTUnwrap(ControlBlockStore(region: memory)).restore().damaged, 0, "and counted once")
    }

    func testATornRecordIsDamaged() throws {
        let store = try XCTUnwrap(ControlBlockStore(region: memory))
        store.reset()
        store.save(record(1))
        store.save(record(2))
        // A rewrite of slot 0 that stopped halfway: the first half is another record's.
        var scratch = [UInt8](repeating: 0, count: ControlBlockStore.recordSize)
        scratch.withUnsafeMutableBytes { ControlBlockStore.encode(record(1, state: .lastAck), into: $0) }
        for i in 0..<ControlBlockStore.recordSize / 2 { memory[offset(ofSlot: 0) + i] = scratch[i] }
        let after = try XCTUnwrap(ControlBlockStore(region: memory)).restore()
        XCTAssertEqual(after.damaged, 1)
        XCTAssertEqual(after.records, [2: record(2)])
    }

    /// Sets one byte of slot 0 and seals the record again, so only the value is wrong.
    func resealed(byte: Int, to value: UInt8) throws -> ControlBlockStore.Restored {
        let store = try XCTUnwrap(ControlBlockStore(region: memory))
        store.reset()
        store.save(record(1))
        store.save(record(2))
        memory[offset(ofSlot: 0) + byte] = value
        PersistenceFormat.sealRecord(UnsafeMutableRawBufferPointer(rebasing: memory[offset(ofSlot: 0)..<offset(ofSlot: 1)]))
        return try XCTUnwrap(ControlBlockStore(region: memory)).restore()
    }

    func testValuesVersionOneNeverWritesAreDamaged() throws {
        for (byte, value, what) in [(8, UInt8(2), "record version 2"), (8, 0, "record version 0"),
                                    (9, 11, "state 11"), (9, 0xFF, "state 255"),
                                    (10, 1 << 3, "an undefined option bit"),
                                    (11, 15, "send shift 15"), (12, 200, "receive shift 200")] {
            let after = try resealed(byte: byte, to: value)
            XCTAssertEqual(after.damaged, 1, what)
            XCTAssertEqual(Array(after.records.keys), [2], what)
        }
        // The control: resealing a value version 1 does write is accepted.
        let fine = try resealed(byte: 9, to: RecordedState.closing.rawValue)
        XCTAssertEqual(fine.damaged, 0)
        XCTAssertEqual(fine.records[1]?.state, .closing)
    }

    func testARepeatedSocketIdIsDamaged() throws {
        let store = try XCTUnwrap(ControlBlockStore(region: memory))
        store.reset()
        store.save(record(1))
        store.save(record(2))
        // Slot 1 becomes a second, sealed copy of socket 1.
        for i in 0..<ControlBlockStore.recordSize { memory[offset(ofSlot: 1) + i] = memory[offset(ofSlot: 0) + i] }
        let after = try XCTUnwrap(ControlBlockStore(region: memory)).restore()
        XCTAssertEqual(after.damaged, 1)
        XCTAssertEqual(Array(after.records.keys), [1])
    }

    func testABadHeaderMeansAFreshStore() throws {
        let store = try XCTUnwrap(ControlBlockStore(region: memory))
        store.reset()
        store.save(record(1))
        memory[0] ^= 1
        let again = try XCTUnwrap(ControlBlockStore(region: memory))
        let after = again.restore()
        XCTAssertFalse(after.headerIntact)
        XCTAssertTrue(after.records.isEmpty)
        XCTAssertEqual(again.count, 0)
        XCTAssertTrue(try XCTUnwrap(ControlBlockStore(region: memory)).restore().headerIntact, "laid out afresh")

        // Uninitialized memory (never reset) is no store either.
        memory.initializeMemory(as: UInt8.self, repeating: 0xA5)
        XCTAssertFalse(try XCTUnwrap(ControlBlockStore(region: memory)).restore().headerIntact)

        // Another store's header (the UDP server's magic) is not this one's.
        store.reset()
        PersistenceFormat.writeHeader(.init(magic: 0x5044_554E, recordSize: ControlBlockStore.recordSize, count: store.capacity, clockEpoch: 0), into: memory)
        XCTAssertFalse(try XCTUnwrap(ControlBlockStore(region: memory)).restore().headerIntact)
    }

    func testAHeaderForAnotherCapacityMeansAFreshStore() throws {
        let store = try XCTUnwrap(ControlBlockStore(region: memory))
        store.reset()
        store.save(record(1))
        let smaller = try XCTUnwrap(ControlBlockStore(region: UnsafeMutableRawBufferPointer(rebasing: memory[0..<offset(ofSlot: 4)])))
        XCTAssertEqual(smaller.capacity, 4)
        XCTAssertFalse(smaller.restore().headerIntact)
    }

    func testTooSmallARegionAndAFullStore() throws {
        XCTAssertNil(ControlBlockStore(region: UnsafeMutableRawBufferPointer(rebasing: memory[0..<offset(ofSlot: 1) - 1])))
        let two = try XCTUnwrap(ControlBlockStore(region: UnsafeMutableRawBufferPointer(rebasing: memory[0..<offset(ofSlot: 2) + 100])))
        XCTAssertEqual(two.capacity, 2)
        two.reset()
        XCTAssertTrue(two.save(record(1)))
        XCTAssertTrue(two.save(record(2)))
        XCTAssertFalse(two.save(record(3)))
        XCTAssertTrue(two.save(record(2, state: .closeWait)), "an update needs no new slot")
        XCTAssertFalse(two.save(ControlBlockRecord(socket: 0, uid: 0, state: .closed,
                                                   tuple: FourTuple(localAddress: 0, localPort: 0, remoteAddress: 0, remotePort: 0))),
                       "socket 0 marks a free slot")
        two.remove(socket: 1)
        XCTAssertTrue(two.save(record(3)))
        XCTAssertEqual(two.count, 2)
    }

    func testTheLayoutIsTheDocumentedOne() throws {
        let store = try XCTUnwrap(ControlBlockStore(region: memory))
        store.reset()
        XCTAssertEqual(ControlBlockStore.recordSize % 8, 0)
        XCTAssertEqual(Array(memory[0..<4]), Array("NTCP".utf8))
        store.save(record(5))
        let r = UnsafeRawBufferPointer(rebasing: memory[offset(ofSlot: 0)..<offset(ofSlot: 1)])
        XCTAssertEqual(PersistenceFormat.get32(at: 0, in: r), 5)
        XCTAssertEqual(r[8], 1, "record version")
        XCTAssertEqual(r[9], RecordedState.established.rawValue)
        XCTAssertEqual(PersistenceFormat.get16(at: 20, in: r), 40005)
        XCTAssertEqual(PersistenceFormat.get32(at: 32, in: r), record(5).iss.rawValue)
        XCTAssertEqual(PersistenceFormat.get64(at: 184, in: r), record(5).timeWaitDeadline)
        XCTAssertEqual(PersistenceFormat.get64(at: 192, in: r), record(5).receiveHeadSeen)
        XCTAssertTrue(r[200..<252].allSatisfy { $0 == 0 })
        XCTAssertTrue(PersistenceFormat.recordIsIntact(r))
    }
}
