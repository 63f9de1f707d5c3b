import CNewsLinux
import Dispatch
import Glibc
import NewsIPC
import NewsSystem
import XCTest

/// A deterministic generator, so a failing run can be repeated.
private struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// One memfd mapped twice, as newsd hands it to an application and to tcpserver: the app end
/// works on the first mapping, the stack end on the second.
private final class MappedStream {
    let id: UInt32
    let size: Int
    let appMap: SharedRegion
    let stackMap: SharedRegion

    /// `extra` bytes past the region are mapped too (and not handed to the ends): a canary
    /// that out-of-bounds writes would hit.
    init(id: UInt32 = 7, send: Int = 4096, receive: Int = 4096, extra: Int = 0) throws {
        self.id = id
        size = StreamLayout.regionSize(send: send, receive: receive)
        appMap = try SharedRegion.create(name: "stream-test", size: size + extra)
        StreamLayout.initialize(appMap.base, id: id, send: send, receive: receive)
        stackMap = try SharedRegion(fd: appMap.fd, size: size + extra, name: "stream-test stack")
    }

    deinit {
        appMap.unmap()
        stackMap.unmap()
        appMap.closeDescriptor()
    }

    func app() throws -> StreamAppEnd { try StreamAppEnd(base: appMap.base, mappedSize: size, id: id) }
    func stack(adopting state: StreamStackState = StreamStackState()) throws -> StreamStackEnd {
        try StreamStackEnd(base: stackMap.base, mappedSize: size, id: id, adopting: state)
    }

    /// The stream header as anyone holding the region can write it.
    var words: UnsafeMutablePointer<news_stream_header_t> {
        (appMap.base + StreamLayout.streamHeaderOffset).assumingMemoryBound(to: news_stream_header_t.self)
    }
    var sockHeader: UnsafeMutablePointer<news_sock_header_t> { appMap.base.assumingMemoryBound(to: news_sock_header_t.self) }
    /// The doorbell lines of the socket header: the app's wake word and the stack's kick line.
    var appLine: UnsafeMutablePointer<news_doorbell_t> { (appMap.base + 64).assumingMemoryBound(to: news_doorbell_t.self) }
    var stackLine: UnsafeMutablePointer<news_doorbell_t> { (appMap.base + 128).assumingMemoryBound(to: news_doorbell_t.self) }
}

private func bytes(_ b: UnsafeMutableRawBufferPointer, _ range: Range<Int>) -> [UInt8] {
    Array(UnsafeRawBufferPointer(rebasing: b[range]))
}

final class StreamRegionTests: XCTestCase {
    // MARK: layout

    func testLayoutMatchesTheCHeader() {
        typealias H = news_stream_header_t
        XCTAssertEqual(MemoryLayout<H>.size, 256)
        XCTAssertEqual(MemoryLayout<H>.offset(of: \H.info_rtt_us), StreamLayout.infoLineOffset - StreamLayout.streamHeaderOffset)
        XCTAssertEqual(MemoryLayout<H>.offset(of: \H.info_rcv_wnd), 232)
        XCTAssertLessThanOrEqual(StreamLayout.streamHeaderOffset + MemoryLayout<H>.size, StreamLayout.controlOffset)
        XCTAssertEqual(MemoryLayout<H>.offset(of: \H.send_size), StreamLayout.constantsLineOffset - StreamLayout.streamHeaderOffset)
        XCTAssertEqual(MemoryLayout<H>.offset(of: \H.recv_size), 4)
        XCTAssertEqual(MemoryLayout<H>.offset(of: \H.ctl_capacity), 8)
        XCTAssertEqual(MemoryLayout<H>.offset(of: \H.ctl_slot), 12)
        XCTAssertEqual(MemoryLayout<H>.offset(of: \H.send_tail), StreamLayout.appLineOffset - StreamLayout.streamHeaderOffset)
        XCTAssertEqual(MemoryLayout<H>.offset(of: \H.recv_head), 72)
        XCTAssertEqual(MemoryLayout<H>.offset(of: \H.app_flags), 80)
        XCTAssertEqual(MemoryLayout<H>.offset(of: \H.recv_low_water), 84)
        XCTAssertEqual(MemoryLayout<H>.offset(of: \H.send_acked), StreamLayout.stackLineOffset - StreamLayout.streamHeaderOffset)
        XCTAssertEqual(MemoryLayout<H>.offset(of: \H.recv_tail), 136)
        XCTAssertEqual(MemoryLayout<H>.offset(of: \H.stack_flags), 144)
        XCTAssertEqual(MemoryLayout<H>.offset(of: \H.tcp_state), 148)
        XCTAssertEqual(MemoryLayout<H>.offset(of: \H.stack_events), 152)
        // The wake word and the kick line sit where a UDP socket has them.
        XCTAssertEqual(MemoryLayout<news_sock_header_t>.offset(of: \news_sock_header_t.app_seq), 64)
        XCTAssertEqual(MemoryLayout<news_sock_header_t>.offset(of: \news_sock_header_t.stack_seq), 128)
        XCTAssertLessThanOrEqual(MemoryLayout<news_sock_header_t>.size, StreamLayout.streamHeaderOffset)

        XCTAssertEqual(StreamLayout.streamHeaderOffset, Int(NEWS_STREAM_HEADER_OFFSET))
        XCTAssertEqual(StreamLayout.controlOffset, Int(NEWS_STREAM_CTL_OFFSET))
        XCTAssertEqual(StreamLayout.controlCapacity, Int(NEWS_STREAM_CTL_CAPACITY))
        XCTAssertEqual(StreamLayout.controlSlot, Int(NEWS_STREAM_CTL_SLOT))
        XCTAssertEqual(StreamLayout.sendAreaOffset, Int(NEWS_STREAM_SEND_OFFSET))
        XCTAssertEqual(StreamLayout.minAreaSize, Int(NEWS_STREAM_MIN_AREA))
        XCTAssertEqual(StreamLayout.maxAreaSize, 16 * 1024 * 1024)
        XCTAssertGreaterThanOrEqual(StreamLayout.sendAreaOffset, StreamLayout.controlOffset + StreamLayout.controlSize)
        XCTAssertEqual(StreamLayout.sendAreaOffset % 4096, 0)
        XCTAssertEqual(StreamLayout.receiveAreaOffset(send: 8192) % 4096, 0)
        XCTAssertEqual(StreamLayout.regionSize(), 16384 + 2 * 1024 * 1024, "1 MB send and 1 MB receive areas by default")
        XCTAssertNotEqual(NEWS_STREAM_MAGIC, NEWS_SOCK_MAGIC)
    }

    func testAreaSizesMustBePowersOfTwoWithinLimits() {
        XCTAssertTrue(StreamLayout.isValidAreaSize(4096))
        XCTAssertTrue(StreamLayout.isValidAreaSize(16 << 20))
        XCTAssertFalse(StreamLayout.isValidAreaSize(2048))
        XCTAssertFalse(StreamLayout.isValidAreaSize(12288))
        XCTAssertFalse(StreamLayout.isValidAreaSize(32 << 20))
        XCTAssertFalse(StreamLayout.isValidAreaSize(0))
        XCTAssertFalse(StreamLayout.isValidAreaSize(-4096))
    }

    // MARK: map-time checks

    func testMappingRefusesWrongRegions() throws {
        let size = StreamLayout.regionSize(send: 4096, receive: 4096)
        let base = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 4096)
        defer { base.deallocate() }
        let words = (base + StreamLayout.streamHeaderOffset).assumingMemoryBound(to: news_stream_header_t.self)
        let sock = base.assumingMemoryBound(to: news_sock_header_t.self)

        func refusal(mapped: Int = size, id: UInt32 = 3) -> StreamLayoutError? {
            var appError: StreamLayoutError?, stackError: StreamLayoutError?
            do { _ = try StreamAppEnd(base: base, mappedSize: mapped, id: id) } catch { appError = error }
            do { _ = try StreamStackEnd(base: base, mappedSize: mapped, id: id) } catch { stackError = error }
            XCTAssertEqual(appError, stackError, "both ends judge a region alike")
            return appError
        }
        func fresh() { StreamLayout.initialize(base, id: 3, send: 4096, receive: 4096) }

        fresh()
        XCTAssertNil(refusal())
        XCTAssertEqual(refusal(mapped: size - 1), .regionTooSmall(mapped: size - 1, needed: size))
        XCTAssertEqual(refusal(mapped: 100), .regionTooSmall(mapped: 100, needed: 4096))
        XCTAssertEqual(refusal(id: 4), .badHeader(magic: NEWS_STREAM_MAGIC, version: 1, id: 3))

        // A UDP socket's region is never taken for a TCP one, nor the other way round.
        SocketLayout.initialize(base, id: 3)
        XCTAssertEqual(refusal(), .badHeader(magic: NEWS_SOCK_MAGIC, version: 1, id: 3))
        fresh()
        XCTAssertFalse(SocketHeader(base).valid)

        sock.pointee.version = 2
        XCTAssertEqual(refusal(), .badHeader(magic: NEWS_STREAM_MAGIC, version: 2, id: 3))

        let geometries: [(UInt32, UInt32, UInt32, UInt32)] = [
            (5000, 4096, 16, 256), (2048, 4096, 16, 256), (4096, 0, 16, 256), (32 << 20, 4096, 16, 256),
            (4096, 4096, 64, 256), (4096, 4096, 16, 9216),
        ]
        for (s, r, c, sl) in geometries {
            fresh()
            words.pointee.send_size = s
            words.pointee.recv_size = r
            words.pointee.ctl_capacity = c
            words.pointee.ctl_slot = sl
            XCTAssertEqual(refusal(), .badGeometry(send: s, receive: r, controlCapacity: c, controlSlot: sl))
        }
        // Valid sizes whose areas would run past the mapping.
        fresh()
        words.pointee.recv_size = 8192
        XCTAssertEqual(refusal(), .regionTooSmall(mapped: size, needed: size + 4096))
    }

    func testAttachRefusesImpossibleIndices() throws {
        let m = try MappedStream()
        m.words.pointee.send_acked = 10
        m.words.pointee.send_tail = 5
        XCTAssertThrowsError(try m.app()) { XCTAssertTrue("\($0)".contains("send_acked 10"), "\($0)") }
        m.words.pointee.send_acked = 0
        m.words.pointee.send_tail = 4097
        XCTAssertThrowsError(try m.app())
        m.words.pointee.send_tail = 4096
        m.words.pointee.recv_head = 1
        XCTAssertThrowsError(try m.app(), "the app consumed bytes never delivered")
        m.words.pointee.recv_tail = 4097
        XCTAssertNoThrow(try m.app())

        // A restarted stack's own record must be consistent too.
        XCTAssertThrowsError(try m.stack(adopting: StreamStackState(sendAcked: 1, sendTail: 0)))
        XCTAssertThrowsError(try m.stack(adopting: StreamStackState(sendTail: 4097)))
        XCTAssertThrowsError(try m.stack(adopting: StreamStackState(receiveHead: 5, receiveTail: 4)))
        XCTAssertThrowsError(try m.stack(adopting: StreamStackState(sendTail: 10, finalSendTail: 9)))
        XCTAssertThrowsError(try m.stack(adopting: StreamStackState(flags: StreamStackFlags(rawValue: 1 << 9))))
    }

    /// Closing a pooled socket is a bit (`StreamAppEnd.release`): after the indices, with
    /// the waiting bits cleared, and the stack's kick line rung if it sleeps.
    func testReleaseIsTheLastWordOfTheApplication() throws {
        let m = try MappedStream()
        var app = try m.app()
        let stack = try m.stack()
        XCTAssertFalse(stack.applicationReleased)
        XCTAssertTrue(stack.looksUnused)
        XCTAssertEqual(try [UInt8](repeating: 2, count: 10).withUnsafeBytes { try app.append($0) }, 10)
        app.beginWaiting([.readerWaits, .writerWaits])
        app.shutdownWrite()
        news_store_release_u32(&m.stackLine.pointee.sleeping, 1)  // the stack sleeps (a futex sleeper here)
        let seq = news_load_acquire_u32(&m.stackLine.pointee.seq)
        app.release()
        XCTAssertTrue(stack.applicationReleased)
        XCTAssertEqual(stack.takeAppFlags(), [.writeShutdown, .released], "no waiting bit outlives the close")
        XCTAssertEqual(news_load_acquire_u32(&m.stackLine.pointee.seq), seq &+ 1, "the stack was woken")
        XCTAssertFalse(stack.looksUnused)
    }

    /// Appending to several sockets while the stack wakes up kicks it once per sleep
    /// (`KickLedger`): a second socket's kick line with the same sleep number is not kicked,
    /// one armed for the next sleep is.
    func testOneKickPerSleepOfTheStackAcrossSockets() throws {
        let m1 = try MappedStream(id: 7), m2 = try MappedStream(id: 8)
        let k1 = try UnixSocket.kickPair(), k2 = try UnixSocket.kickPair()
        defer { [k1.0, k1.1, k2.0, k2.1].forEach(FD.close) }
        let ledger = KickLedger()
        var a1 = try StreamAppEnd(base: m1.appMap.base, mappedSize: m1.size, id: 7, kick: k1.0)
        var a2 = try StreamAppEnd(base: m2.appMap.base, mappedSize: m2.size, id: 8, kick: k2.0)
        a1.kickLedger = ledger
        a2.kickLedger = ledger
        func append(_ a: inout StreamAppEnd) { _ = try? [UInt8](repeating: 1, count: 10).withUnsafeBytes { try a.append($0) } }

        append(&a1)
        XCTAssertEqual(UnixSocket.drainKicks(k1.1), 0, "the stack is awake: no kick")
        SocketHeader(m1.appMap.base).armKick(generation: 41)
        SocketHeader(m2.appMap.base).armKick(generation: 41)
        append(&a1)
        append(&a2)
        append(&a1)
        XCTAssertEqual(UnixSocket.drainKicks(k1.1) + UnixSocket.drainKicks(k2.1), 1, "one kick for sleep 41")
        SocketHeader(m2.appMap.base).armKick(generation: 42)
        append(&a2)
        XCTAssertEqual(UnixSocket.drainKicks(k2.1), 1, "the next sleep is kicked again")
        XCTAssertTrue(ledger.kicked(42))
        XCTAssertFalse(ledger.kicked(41))
        XCTAssertFalse(KickLedger().kicked(0), "a fresh ledger kicked nothing, not even sleep 0")
    }

    func testRestartedStackRepublishesTheStateItKept() throws {
        let m = try MappedStream()
        var app = try m.app()
        var stack = try m.stack()
        XCTAssertEqual(try [UInt8](repeating: 1, count: 3000).withUnsafeBytes { try app.append($0) }, 3000)
        XCTAssertEqual(stack.takeSendTail(), .ok(3000))
        stack.release(sendUpTo: 1000)
        stack.set(tcpState: 4)
        let kept = stack.state
        // The application scribbles the stack's words while the stack is gone.
        m.words.pointee.send_acked = 99_999
        m.words.pointee.stack_flags = 0xFFFF
        let restarted = try m.stack(adopting: kept)
        XCTAssertEqual(restarted.state, kept)
        XCTAssertEqual(m.words.pointee.send_acked, 1000)
        XCTAssertEqual(m.words.pointee.stack_flags, 0)
        XCTAssertEqual(m.words.pointee.tcp_state, 4)
        XCTAssertEqual(try app.sendSpace(), 4096 - 2000)
    }

    func testRestartedStackRecoversTheIndicesItDidNotKeep() throws {
        // tcpserver keeps no exact copy of a connection's indices: after a crash it takes
        // them from the region, where the application has seen no more than they say.
        let m = try MappedStream()
        var app = try m.app()
        var stack = try m.stack()
        XCTAssertEqual(try [UInt8](repeating: 1, count: 3000).withUnsafeBytes { try app.append($0) }, 3000)
        XCTAssertEqual(stack.takeSendTail(), .ok(3000))
        stack.release(sendUpTo: 1000)
        XCTAssertTrue([UInt8](repeating: 2, count: 700).withUnsafeBytes { stack.place($0, atStreamOffset: 0) })
        stack.advanceReceiveTail(to: 700)
        stack.setEstablished()
        stack.set(tcpState: 4)
        var out = [UInt8](repeating: 0, count: 200)
        XCTAssertEqual(try out.withUnsafeMutableBytes { try app.read(into: $0) }, 200)
        XCTAssertEqual(try app.sendSpace(), 4096 - 2000)
        let events = app.stackEvents

        let recovered = try StreamStackEnd.recoveredState(base: m.stackMap.base, mappedSize: m.size, id: m.id)
        XCTAssertEqual(recovered, StreamStackState(sendAcked: 1000, sendTail: 3000, receiveHead: 200, receiveTail: 700,
                                                   flags: .established, tcpState: 4, events: events))
        var restarted = try m.stack(adopting: recovered)
        restarted.setReset(errno: ECONNRESET)
        // Nothing went back: the application's next calls see the reset, not corruption.
        XCTAssertEqual(try app.readable(), 500)
        XCTAssertEqual(try app.sendSpace(), 4096 - 2000)
        XCTAssertNil(app.corruption)
        XCTAssertTrue(app.stackFlags.isSuperset(of: [.reset, .established]))
        XCTAssertEqual(app.header.error, -ECONNRESET)
        XCTAssertEqual(app.stackEvents, events &+ 1)
        // The all-zero state a fresh stack would publish is what the application must refuse.
        _ = try m.stack()
        XCTAssertThrowsError(try app.readable())
    }

    func testRecoveredStateGivesUpStackWordsThatDoNotFitTheApplications() throws {
        let m = try MappedStream()
        var app = try m.app()
        XCTAssertEqual(try [UInt8](repeating: 1, count: 100).withUnsafeBytes { try app.append($0) }, 100)
        m.words.pointee.recv_head = 50
        m.words.pointee.send_acked = 101          // past what the application appended
        m.words.pointee.recv_tail = 50 + 4097     // more than the area past its head
        m.words.pointee.stack_flags = 0xFFFF_FFFF
        let r = try StreamStackEnd.recoveredState(base: m.stackMap.base, mappedSize: m.size, id: m.id)
        XCTAssertEqual(r.sendAcked, 100)
        XCTAssertEqual(r.sendTail, 100)
        XCTAssertEqual(r.receiveHead, 50)
        XCTAssertEqual(r.receiveTail, 50)
        XCTAssertEqual(r.flags, .known)
        XCTAssertNoThrow(try m.stack(adopting: r), "consistent by construction")
        m.words.pointee.recv_tail = 10            // behind the head
        m.words.pointee.send_acked = 0
        let r2 = try StreamStackEnd.recoveredState(base: m.stackMap.base, mappedSize: m.size, id: m.id)
        XCTAssertEqual(r2.receiveTail, 50)
        XCTAssertEqual(r2.sendAcked, 0, "anything from the tail back by at most the area is possible")
    }

    // MARK: data paths

    func testRoundTripThroughBothAreasWithWrapAgainstAModel() throws {
        var rng = SplitMix64(seed: 0x7C9_5EED)
        for (send, receive) in [(4096, 4096), (4096, 16384), (16384, 4096), (8192, 8192)] {
            let m = try MappedStream(send: send, receive: receive)
            var app = try m.app()
            var stack = try m.stack()
            let total = 100_000
            let data = (0..<total).map { _ in UInt8.random(in: 0...255, using: &rng) }
            var appended = 0
            var transmitted: UInt64 = 0   // the stack's next byte to send, and where it lands
            var acknowledged: UInt64 = 0
            var delivered: [UInt8] = []
            delivered.reserveCapacity(total)
            let wire = UnsafeMutableRawBufferPointer.allocate(byteCount: 8192, alignment: 8)
            let user = UnsafeMutableRawBufferPointer.allocate(byteCount: 8192, alignment: 8)
            defer { wire.deallocate(); user.deallocate() }
            var round = 0
            while delivered.count < total {
                round += 1
                guard round < 1_000_000 else { return XCTFail("no progress") }
                // The application writes a random amount.
                if appended < total {
                    let space = try app.sendSpace()
                    XCTAssertEqual(space, send - (appended - Int(acknowledged)))
                    let want = min(Int.random(in: 1...3000, using: &rng), total - appended)
                    let n = try data.withUnsafeBytes { try app.append(UnsafeRawBufferPointer(rebasing: $0[appended..<appended + want])) }
                    XCTAssertEqual(n, min(want, space))
                    appended += n
                }
                // The stack transmits some, and the "peer" echoes it into the receive stream in
                // two pieces, the later one first.
                XCTAssertEqual(stack.takeSendTail(), .ok(UInt64(appended)))
                XCTAssertEqual(stack.takeReceiveHead(), .ok(UInt64(delivered.count)))
                let burst = min(Int(UInt64(appended) - transmitted), stack.receiveSpace, Int.random(in: 0...4000, using: &rng))
                XCTAssertTrue(stack.copyOut(streamOffset: transmitted, count: burst, into: wire))
                XCTAssertEqual(bytes(wire, 0..<burst), Array(data[Int(transmitted)..<Int(transmitted) + burst]))
                let cut = Int.random(in: 0...burst, using: &rng)
                XCTAssertTrue(stack.place(UnsafeRawBufferPointer(rebasing: wire[cut..<burst]), atStreamOffset: transmitted + UInt64(cut)))
                XCTAssertTrue(stack.place(UnsafeRawBufferPointer(rebasing: wire[0..<cut]), atStreamOffset: transmitted))
                transmitted += UInt64(burst)
                XCTAssertTrue(stack.advanceReceiveTail(to: transmitted))
                acknowledged += UInt64.random(in: 0...(transmitted - acknowledged), using: &rng)
                XCTAssertTrue(stack.release(sendUpTo: acknowledged))
                // The application reads a random amount, each of the three ways in turn.
                let readable = try app.readable()
                XCTAssertEqual(readable, Int(transmitted) - delivered.count)
                let want = min(Int.random(in: 0...5000, using: &rng), readable)
                switch round % 3 {
                case 0:
                    XCTAssertEqual(try app.read(into: UnsafeMutableRawBufferPointer(rebasing: user[0..<want])), want)
                    delivered += bytes(user, 0..<want)
                case 1:
                    XCTAssertEqual(try app.peek(into: UnsafeMutableRawBufferPointer(rebasing: user[0..<want])), want)
                    XCTAssertEqual(try app.readable(), readable, "peek consumes nothing")
                    app.consume(want)
                    delivered += bytes(user, 0..<want)
                default:
                    let view = try app.contiguousReadable()
                    let n = min(view.count, want)
                    delivered += Array(view[0..<n])
                    app.consume(n)
                }
            }
            XCTAssertEqual(delivered, data, "send \(send), receive \(receive)")
            XCTAssertGreaterThanOrEqual(appended / send, 6, "the send area wrapped many times")
        }
    }

    func testSpaceAndReadableAccounting() throws {
        let m = try MappedStream()
        var app = try m.app()
        var stack = try m.stack()
        let chunk = [UInt8](repeating: 0x42, count: 5000)
        XCTAssertEqual(try app.sendSpace(), 4096)
        XCTAssertEqual(try app.readable(), 0)
        XCTAssertEqual(try chunk.withUnsafeBytes { try app.append(UnsafeRawBufferPointer(rebasing: $0[0..<1000])) }, 1000)
        XCTAssertEqual(try app.sendSpace(), 3096)
        XCTAssertEqual(stack.takeSendTail(), .ok(1000))
        XCTAssertEqual(stack.unacknowledged, 1000)
        XCTAssertEqual(try chunk.withUnsafeBytes { try app.append($0) }, 3096, "only what fits is taken")
        XCTAssertEqual(try app.sendSpace(), 0)
        XCTAssertEqual(try chunk.withUnsafeBytes { try app.append($0) }, 0)
        XCTAssertEqual(try app.append(UnsafeRawBufferPointer(start: nil, count: 0)), 0)
        XCTAssertEqual(stack.takeSendTail(), .ok(4096))
        XCTAssertTrue(stack.release(sendUpTo: 600))
        XCTAssertEqual(try app.sendSpace(), 600)
        XCTAssertFalse(stack.release(sendUpTo: 500), "acknowledgements only move forward")
        XCTAssertFalse(stack.release(sendUpTo: 4097), "nor past the validated tail")
        XCTAssertTrue(stack.release(sendUpTo: 600), "the same point again changes nothing")
        XCTAssertEqual(stack.state.sendAcked, 600)
        XCTAssertEqual(app.sendAcked, 600)

        XCTAssertEqual(stack.receiveSpace, 4096)
        XCTAssertTrue(chunk.withUnsafeBytes { stack.place(UnsafeRawBufferPointer(rebasing: $0[0..<100]), atStreamOffset: 0) })
        XCTAssertEqual(try app.readable(), 0, "placed is not yet readable")
        XCTAssertTrue(stack.advanceReceiveTail(to: 100))
        XCTAssertEqual(try app.readable(), 100)
        XCTAssertEqual(stack.receiveSpace, 3996)
        var out = [UInt8](repeating: 0, count: 40)
        XCTAssertEqual(try out.withUnsafeMutableBytes { try app.read(into: $0) }, 40)
        XCTAssertEqual(try app.readable(), 60)
        XCTAssertEqual(stack.receiveSpace, 3996, "until the stack looks at recv_head again")
        XCTAssertEqual(stack.takeReceiveHead(), .ok(40))
        XCTAssertEqual(stack.receiveSpace, 4036)
        XCTAssertFalse(stack.advanceReceiveTail(to: 99), "the tail only moves forward")
        XCTAssertFalse(stack.advanceReceiveTail(to: 40 + 4097), "nor beyond an area past the head")
        XCTAssertTrue(stack.advanceReceiveTail(to: 40 + 4096))
        XCTAssertEqual(try app.readable(), 4096)
        XCTAssertEqual(stack.receiveSpace, 0)
    }

    func testRetransmissionCopiesSentButUnacknowledgedBytesAfterWrap() throws {
        let m = try MappedStream()
        var app = try m.app()
        var stack = try m.stack()
        let stream = (0..<8000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 8) }
        let wire = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 8)
        defer { wire.deallocate() }
        XCTAssertEqual(try stream.withUnsafeBytes { try app.append(UnsafeRawBufferPointer(rebasing: $0[0..<3000])) }, 3000)
        XCTAssertEqual(stack.takeSendTail(), .ok(3000))
        XCTAssertTrue(stack.copyOut(streamOffset: 0, count: 3000, into: wire))
        XCTAssertTrue(stack.release(sendUpTo: 3000))
        // These 3000 bytes wrap: area 3000..<4096, then 0..<1904.
        XCTAssertEqual(try stream.withUnsafeBytes { try app.append(UnsafeRawBufferPointer(rebasing: $0[3000..<6000])) }, 3000)
        XCTAssertEqual(stack.takeSendTail(), .ok(6000))
        XCTAssertTrue(stack.copyOut(streamOffset: 3000, count: 3000, into: wire))
        XCTAssertEqual(bytes(wire, 0..<3000), Array(stream[3000..<6000]))
        // The first transmission is lost; meanwhile the app fills the rest of the area.
        XCTAssertEqual(try stream.withUnsafeBytes { try app.append(UnsafeRawBufferPointer(rebasing: $0[6000..<8000])) }, 1096)
        XCTAssertEqual(stack.takeSendTail(), .ok(7096))
        wire.initializeMemory(as: UInt8.self, repeating: 0)
        XCTAssertTrue(stack.copyOut(streamOffset: 3500, count: 2000, into: wire), "a retransmission across the wrap")
        XCTAssertEqual(bytes(wire, 0..<2000), Array(stream[3500..<5500]))
        XCTAssertTrue(stack.copyOut(streamOffset: 3000, count: 4096, into: wire), "everything unacknowledged")
        XCTAssertEqual(bytes(wire, 0..<4096), Array(stream[3000..<7096]))

        XCTAssertFalse(stack.copyOut(streamOffset: 2999, count: 1, into: wire), "acknowledged bytes are the app's again")
        XCTAssertFalse(stack.copyOut(streamOffset: 7000, count: 97, into: wire), "past the tail")
        XCTAssertFalse(stack.copyOut(streamOffset: 7097, count: 0, into: wire))
        XCTAssertTrue(stack.copyOut(streamOffset: 7096, count: 0, into: wire))
        XCTAssertFalse(stack.copyOut(streamOffset: 3000, count: 100, into: UnsafeMutableRawBufferPointer(rebasing: wire[0..<99])), "longer than the buffer")
        XCTAssertFalse(stack.copyOut(streamOffset: 3000, count: -1, into: wire))
        XCTAssertFalse(stack.copyOut(streamOffset: UInt64.max, count: 1, into: wire))
    }

    func testOutOfOrderPlacementIsDeliveredInOrderOnceTheTailAdvances() throws {
        let m = try MappedStream()
        var app = try m.app()
        var stack = try m.stack()
        let stream = (0..<8000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
        func place(_ r: Range<Int>) -> Bool {
            stream.withUnsafeBytes { stack.place(UnsafeRawBufferPointer(rebasing: $0[r]), atStreamOffset: UInt64(r.lowerBound)) }
        }
        func readAll() throws -> [UInt8] {
            var out = [UInt8](repeating: 0, count: 4096)
            let n = try out.withUnsafeMutableBytes { try app.read(into: $0) }
            return Array(out[0..<n])
        }
        XCTAssertTrue(place(2000..<3000))
        XCTAssertTrue(place(1000..<2000))
        XCTAssertEqual(try app.readable(), 0, "a hole at the front: nothing readable")
        XCTAssertTrue(place(0..<1000))
        XCTAssertTrue(stack.advanceReceiveTail(to: 3000))
        XCTAssertEqual(try readAll(), Array(stream[0..<3000]))
        XCTAssertEqual(stack.takeReceiveHead(), .ok(3000))
        // Now across the area's end: 5000..<7000 sits at area 904..<2904, 3000..<5000 wraps.
        XCTAssertTrue(place(5000..<7000))
        XCTAssertTrue(place(3000..<5000))
        XCTAssertTrue(stack.advanceReceiveTail(to: 7000))
        XCTAssertEqual(try app.contiguousReadable().count, 1096, "in place, up to the area's end")
        XCTAssertEqual(try readAll(), Array(stream[3000..<7000]))

        XCTAssertFalse(place(6999..<7001), "below recv_tail: the app may be reading it")
        XCTAssertEqual(stack.receiveSpace, 4096 - 4000, "the stack has not seen the new head yet")
        XCTAssertFalse(place(7000..<8000), "beyond the validated head + size")
        XCTAssertEqual(stack.takeReceiveHead(), .ok(7000))
        XCTAssertTrue(place(7000..<8000))
        XCTAssertFalse(stream.withUnsafeBytes { stack.place(UnsafeRawBufferPointer(rebasing: $0[0..<2]), atStreamOffset: 7000 + 4095) })
        XCTAssertTrue(stream.withUnsafeBytes { stack.place(UnsafeRawBufferPointer(rebasing: $0[0..<1]), atStreamOffset: 7000 + 4095) })
        XCTAssertFalse(stream.withUnsafeBytes { stack.place(UnsafeRawBufferPointer(rebasing: $0[0..<1]), atStreamOffset: UInt64.max) })
    }

    // MARK: a hostile application

    func testSendTailMayNotGoBackOrBeyondTheArea() throws {
        let m = try MappedStream()
        var app = try m.app()
        var stack = try m.stack()
        XCTAssertEqual(try [UInt8](repeating: 9, count: 100).withUnsafeBytes { try app.append($0) }, 100)
        XCTAssertEqual(stack.takeSendTail(), .ok(100))
        m.words.pointee.send_tail = 50
        XCTAssertEqual(stack.takeSendTail(), .violation(.sendTailBackwards(seen: 100, now: 50)))
        XCTAssertEqual(stack.state.sendTail, 100, "a violation changes nothing")
        stack.release(sendUpTo: 80)
        m.words.pointee.send_tail = 80 + 4097
        XCTAssertEqual(stack.takeSendTail(), .violation(.sendTailBeyondArea(tail: 80 + 4097, acknowledged: 80, size: 4096)))
        m.words.pointee.send_tail = UInt64.max
        XCTAssertEqual(stack.takeSendTail(), .violation(.sendTailBeyondArea(tail: UInt64.max, acknowledged: 80, size: 4096)))
        m.words.pointee.send_tail = 80 + 4096
        XCTAssertEqual(stack.takeSendTail(), .ok(80 + 4096), "exactly a full area is fine")
    }

    func testSendTailIsFixedOnceTheWriteSideIsShut() throws {
        let m = try MappedStream()
        var app = try m.app()
        var stack = try m.stack()
        XCTAssertEqual(try [UInt8](repeating: 9, count: 10).withUnsafeBytes { try app.append($0) }, 10)
        app.shutdownWrite()
        XCTAssertThrowsError(try [UInt8](repeating: 9, count: 10).withUnsafeBytes { try app.append($0) }) {
            XCTAssertEqual($0 as? StreamAppError, .writeShutDown)
        }
        XCTAssertEqual(stack.takeSendTail(), .ok(10))
        XCTAssertEqual(stack.state.finalSendTail, 10)
        m.words.pointee.send_tail = 20
        XCTAssertEqual(stack.takeSendTail(), .violation(.sendAfterShutdown(final: 10, now: 20)))
        m.words.pointee.app_flags = 0
        m.words.pointee.send_tail = 10
        XCTAssertEqual(stack.takeSendTail(), .ok(10))
        XCTAssertEqual(stack.state.finalSendTail, 10, "clearing the bit does not take the FIN back")
    }

    func testReceiveHeadMayNotPassTheTailOrGoBack() throws {
        let m = try MappedStream()
        var stack = try m.stack()
        XCTAssertTrue([UInt8](repeating: 1, count: 100).withUnsafeBytes { stack.place($0, atStreamOffset: 0) })
        XCTAssertTrue(stack.advanceReceiveTail(to: 100))
        m.words.pointee.recv_head = 101
        XCTAssertEqual(stack.takeReceiveHead(), .violation(.receiveHeadBeyondTail(head: 101, tail: 100)))
        XCTAssertEqual(stack.receiveSpace, 3996)
        m.words.pointee.recv_head = 60
        XCTAssertEqual(stack.takeReceiveHead(), .ok(60))
        m.words.pointee.recv_head = 50
        XCTAssertEqual(stack.takeReceiveHead(), .violation(.receiveHeadBackwards(seen: 60, now: 50)))
        m.words.pointee.recv_head = UInt64.max
        XCTAssertEqual(stack.takeReceiveHead(), .violation(.receiveHeadBeyondTail(head: UInt64.max, tail: 100)))
        XCTAssertEqual(stack.state.receiveHead, 60)
        m.words.pointee.recv_low_water = 0
        XCTAssertEqual(stack.takeReceiveLowWater(), 1)
        m.words.pointee.recv_low_water = UInt32.max
        XCTAssertEqual(stack.takeReceiveLowWater(), 4096)
        m.words.pointee.app_flags = UInt32.max
        XCTAssertEqual(stack.takeAppFlags(), .known)
    }

    /// The application writes anything anywhere in its header words while the stack works
    /// with arguments that are often wrong: every result agrees with the validated state,
    /// the state keeps its invariants and only moves forward, and nothing outside the receive
    /// area (a canary page past the region, the send area, the control channel) is written.
    func testScribblingApplicationNeverTakesTheStackOutOfBounds() throws {
        let m = try MappedStream(extra: 4096)
        let canary = m.appMap.base + m.size
        canary.initializeMemory(as: UInt8.self, repeating: 0xA5, count: 4096)
        let sendArea = m.appMap.base + StreamLayout.sendAreaOffset
        for i in 0..<4096 { sendArea.storeBytes(of: UInt8(truncatingIfNeeded: i &* 13), toByteOffset: i, as: UInt8.self) }
        let untouched = Array(UnsafeRawBufferPointer(start: m.appMap.base + StreamLayout.controlOffset,
                                                     count: StreamLayout.sendAreaOffset + 4096 - StreamLayout.controlOffset))
        var stack = try m.stack()
        let geometry = stack.geometry
        var rng = SplitMix64(seed: 0xBAD_A99)
        let out = UnsafeMutableRawBufferPointer.allocate(byteCount: 6200, alignment: 8)
        defer { out.deallocate() }
        let payload = [UInt8](repeating: 0x5C, count: 9000)

        func near(_ x: UInt64) -> UInt64 {
            switch rng.next() % 6 {
            case 0: return rng.next()
            case 1: return [0, UInt64.max, UInt64.max - 4096, 1 << 63][Int(rng.next() % 4)]
            case 2: return x &+ 4096 &+ rng.next() % 3 &- 1
            default: return x &+ rng.next() % 10_000 &- 5000
            }
        }
        var before = stack.state
        var okTails = 0, okHeads = 0, copies = 0, places = 0
        for round in 0..<30_000 {
            let s = stack.state
            switch rng.next() % 8 {
            case 0: m.words.pointee.send_tail = near(s.sendTail)
            case 1: m.words.pointee.send_tail = s.sendAcked + rng.next() % 4097  // sometimes fair
            case 2: m.words.pointee.recv_head = near(s.receiveHead)
            case 3: m.words.pointee.recv_head = s.receiveHead + rng.next() % (s.receiveTail - s.receiveHead + 1)
            case 4:
                // Shutting the write side fixes the send stream's end: only late in the run.
                let shut = round > 27_000 ? UInt32(0) : NEWS_STREAM_APP_SHUT_WR
                m.words.pointee.app_flags = UInt32(truncatingIfNeeded: rng.next()) & ~shut
            case 5: m.words.pointee.recv_low_water = UInt32(truncatingIfNeeded: rng.next())
            case 6:
                // Newsd's constants and the stack's own words are read once or never.
                m.words.pointee.send_size = UInt32(truncatingIfNeeded: rng.next())
                m.words.pointee.recv_size = UInt32(truncatingIfNeeded: rng.next())
                m.words.pointee.send_acked = rng.next()
                m.words.pointee.recv_tail = rng.next()
            default: break
            }
            switch rng.next() % 9 {
            case 0:
                if case .ok(let t) = stack.takeSendTail() { XCTAssertEqual(t, stack.state.sendTail); okTails += 1 }
            case 1:
                if case .ok(let h) = stack.takeReceiveHead() { XCTAssertEqual(h, stack.state.receiveHead); okHeads += 1 }
            case 2, 3:
                let offset = near(rng.next() % 2 == 0 ? s.sendAcked : s.sendTail)
                // Often exactly at the end of what may be copied, or one past it.
                let edge = offset >= s.sendTail ? 0 : min(s.sendTail - offset, 6000)
                let count = rng.next() % 2 == 0 ? Int(edge) + Int(rng.next() % 2) : Int(rng.next() % 6000) - 100
                let room = rng.next() % 4 == 0 ? max(count - Int(rng.next() % 2), 0) : Int(rng.next() % 6200)
                memset(out.baseAddress!, 0xEE, out.count)
                let expected = count >= 0 && count <= room && offset >= s.sendAcked && offset <= s.sendTail
                    && UInt64(count) <= s.sendTail - offset
                let got = stack.copyOut(streamOffset: offset, count: count, into: UnsafeMutableRawBufferPointer(rebasing: out[0..<room]))
                XCTAssertEqual(got, expected)
                if got { copies += 1 }
                // Past the copied bytes and past the buffer handed in, nothing changed.
                let written = got ? min(max(count, 0), room) : 0
                XCTAssertTrue(out[written..<min(written + 64, out.count)].allSatisfy { $0 == 0xEE }, "nothing written past what was copied")
            case 4:
                let offset = near(rng.next() % 2 == 0 ? s.sendAcked : s.sendTail)
                XCTAssertEqual(stack.release(sendUpTo: offset), offset >= s.sendAcked && offset <= s.sendTail)
            case 5, 6:
                let offset = near(s.receiveTail)
                let space = UInt64(geometry.receiveSize) - (s.receiveTail - s.receiveHead)
                let gap = offset &- s.receiveTail
                let count = rng.next() % 2 == 0 && gap <= space ? Int(space - gap) + Int(rng.next() % 2) : Int(rng.next() % 5000)
                let expected = offset >= s.receiveTail && offset - s.receiveTail <= space && UInt64(count) <= space - (offset - s.receiveTail)
                let got = payload.withUnsafeBytes { stack.place(UnsafeRawBufferPointer(rebasing: $0[0..<count]), atStreamOffset: offset) }
                XCTAssertEqual(got, expected)
                if got { places += 1 }
            case 7:
                let offset = near(s.receiveTail)
                let space = UInt64(geometry.receiveSize) - (s.receiveTail - s.receiveHead)
                XCTAssertEqual(stack.advanceReceiveTail(to: offset), offset >= s.receiveTail && offset - s.receiveTail <= space)
            default:
                XCTAssertTrue(stack.takeAppFlags().isSubset(of: .known))
                XCTAssertTrue((1...geometry.receiveSize).contains(stack.takeReceiveLowWater()))
                switch rng.next() % 200 {
                case 0: stack.setEstablished()
                case 1: stack.setPeerFinished()
                case 2: stack.setSendClosed()
                case 3: stack.setReset(errno: ECONNRESET)
                case 4: stack.set(tcpState: UInt32(truncatingIfNeeded: rng.next()))
                default: break
                }
            }
            let now = stack.state
            XCTAssertTrue(now.isConsistent(with: geometry), "\(now)")
            XCTAssertTrue(now.sendAcked >= before.sendAcked && now.sendTail >= before.sendTail
                          && now.receiveHead >= before.receiveHead && now.receiveTail >= before.receiveTail, "only forward")
            XCTAssertEqual(stack.geometry, geometry)
            before = now
        }
        XCTAssertGreaterThan(okTails, 100, "the fair moves got through")
        XCTAssertGreaterThan(okHeads, 100)
        XCTAssertGreaterThan(copies, 100)
        XCTAssertGreaterThan(places, 100)
        XCTAssertGreaterThan(stack.state.sendAcked, 4096, "the send stream moved on")
        XCTAssertGreaterThan(stack.state.receiveTail, 4096, "the receive stream moved on")
        XCTAssertNotNil(stack.state.finalSendTail, "the write side was shut late in the run")
        XCTAssertTrue(UnsafeRawBufferPointer(start: canary, count: 4096).allSatisfy { $0 == 0xA5 }, "nothing past the region")
        XCTAssertEqual(Array(UnsafeRawBufferPointer(start: m.appMap.base + StreamLayout.controlOffset, count: untouched.count)), untouched,
                       "the control channel and the send area are not the stack's to write")
    }

    // MARK: a stack the application does not trust blindly

    func testApplicationRefusesImpossibleStackWords() throws {
        func corruption(_ scribble: (MappedStream) -> Void) throws -> StreamCorruption? {
            let m = try MappedStream()
            var app = try m.app()
            var stack = try m.stack()
            XCTAssertEqual(try [UInt8](repeating: 3, count: 2000).withUnsafeBytes { try app.append($0) }, 2000)
            XCTAssertEqual(stack.takeSendTail(), .ok(2000))
            stack.release(sendUpTo: 1000)
            XCTAssertTrue([UInt8](repeating: 4, count: 3000).withUnsafeBytes { stack.place($0, atStreamOffset: 0) })
            stack.advanceReceiveTail(to: 3000)
            XCTAssertEqual(try app.sendSpace(), 3096)
            app.consume(try app.readable() - 500)
            scribble(m)
            var first: StreamAppError?
            do { _ = try app.sendSpace(); _ = try app.readable() } catch { first = error }
            guard let first else { return nil }
            // Latched: every data call now says the same, and nothing is read.
            var out = [UInt8](repeating: 0, count: 10)
            XCTAssertThrowsError(try out.withUnsafeMutableBytes { try app.read(into: $0) }) { XCTAssertEqual($0 as? StreamAppError, first) }
            XCTAssertThrowsError(try app.contiguousReadable()) { XCTAssertEqual($0 as? StreamAppError, first) }
            XCTAssertThrowsError(try out.withUnsafeBytes { try app.append($0) }) { XCTAssertEqual($0 as? StreamAppError, first) }
            XCTAssertEqual(out, [UInt8](repeating: 0, count: 10))
            guard case .corrupt(let c) = first else { XCTFail("\(first)"); return nil }
            XCTAssertEqual(app.corruption, c)
            return c
        }
        XCTAssertEqual(try corruption { $0.words.pointee.send_acked = 999 }, .acknowledgedBackwards(seen: 1000, now: 999))
        XCTAssertEqual(try corruption { $0.words.pointee.send_acked = 2001 }, .acknowledgedBeyondTail(acknowledged: 2001, tail: 2000))
        XCTAssertEqual(try corruption { $0.words.pointee.recv_tail = 2999 }, .receiveTailBackwards(seen: 3000, now: 2999))
        XCTAssertEqual(try corruption { $0.words.pointee.recv_tail = 2500 + 4097 }, .receiveTailBeyondArea(tail: 2500 + 4097, head: 2500, size: 4096))
        XCTAssertEqual(try corruption { $0.words.pointee.recv_tail = UInt64.max }, .receiveTailBeyondArea(tail: UInt64.max, head: 2500, size: 4096))
        XCTAssertNil(try corruption { $0.words.pointee.recv_tail = 2500 + 4096 }, "a full area is fine")
        XCTAssertNil(try corruption { $0.words.pointee.stack_flags = UInt32.max }, "flags are only reports")
    }

    /// The stack's words take any value while the application works: what it reports stays
    /// within its areas, and once refused, always refused.
    func testScribblingStackNeverTakesTheApplicationOutOfBounds() throws {
        var rng = SplitMix64(seed: 0xF00D)
        let m = try MappedStream()
        let receiveArea = UnsafeRawPointer(m.appMap.base + StreamLayout.receiveAreaOffset(send: 4096))
        let user = UnsafeMutableRawBufferPointer.allocate(byteCount: 8192, alignment: 8)
        defer { user.deallocate() }
        var refused = 0
        for _ in 0..<300 {
            StreamLayout.initialize(m.appMap.base, id: m.id, send: 4096, receive: 4096)
            var app = try m.app()
            var known: StreamCorruption?
            for _ in 0..<50 {
                let a = app
                switch rng.next() % 5 {
                case 0: m.words.pointee.send_acked = a.sendAcked &+ rng.next() % 3000 &- 100
                case 1: m.words.pointee.recv_tail = a.receiveTail &+ rng.next() % 5000 &- 100
                case 2: m.words.pointee.send_acked = rng.next()
                case 3: m.words.pointee.recv_tail = rng.next()
                default: break
                }
                do {
                    let space = try app.sendSpace()
                    XCTAssertTrue((0...4096).contains(space))
                    let n = try [UInt8](repeating: 1, count: Int(rng.next() % 3000)).withUnsafeBytes { try app.append($0) }
                    XCTAssertLessThanOrEqual(n, space)
                    let readable = try app.readable()
                    XCTAssertTrue((0...4096).contains(readable))
                    let view = try app.contiguousReadable()
                    if view.count > 0 {
                        XCTAssertGreaterThanOrEqual(view.baseAddress!, receiveArea)
                        XCTAssertLessThanOrEqual(view.baseAddress! + view.count, receiveArea + 4096)
                    }
                    let got = try app.read(into: UnsafeMutableRawBufferPointer(rebasing: user[0..<Int(rng.next() % 8192)]))
                    XCTAssertLessThanOrEqual(got, readable)
                    XCTAssertNil(known)
                } catch {
                    guard case .corrupt(let c)? = error as? StreamAppError else { return XCTFail("\(error)") }
                    if let known { XCTAssertEqual(c, known, "latched") } else { known = c; refused += 1 }
                }
            }
        }
        XCTAssertGreaterThan(refused, 100)
    }

    // MARK: two threads

    /// The two ends on two threads, as an application and tcpserver run: the stack echoes
    /// the send stream into the receive stream and ends it after the app's FIN, while the app
    /// sleeps on its wake word whenever it can neither write nor read. A lost wake-up would
    /// show as a sleep that ran into its timeout.
    func testConcurrentEndsDeliverTheStreamInOrder() throws {
        final class StackThread: @unchecked Sendable {
            var stack: StreamStackEnd
            var failure: String?
            init(_ stack: StreamStackEnd) { self.stack = stack }
        }
        let m = try MappedStream(send: 8192, receive: 8192)
        var app = try m.app()
        let worker = StackThread(try m.stack())
        let total = 1 << 20
        var rng = SplitMix64(seed: 42)
        let data = (0..<total).map { _ in UInt8.random(in: 0...255, using: &rng) }
        let deadline = Clock.nanos() + 20_000_000_000
        let finished = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            defer { finished.signal() }
            let wire = UnsafeMutableRawBufferPointer.allocate(byteCount: 3000, alignment: 8)
            defer { wire.deallocate() }
            var sent: UInt64 = 0
            while Clock.nanos() < deadline {
                guard case .ok(let tail) = worker.stack.takeSendTail(), case .ok = worker.stack.takeReceiveHead() else {
                    worker.failure = "violation from a fair application"
                    return
                }
                let burst = min(Int(tail - sent), worker.stack.receiveSpace, wire.count)
                if burst > 0 {
                    guard worker.stack.copyOut(streamOffset: sent, count: burst, into: wire),
                          worker.stack.place(UnsafeRawBufferPointer(rebasing: wire[0..<burst]), atStreamOffset: sent)
                    else { worker.failure = "copy or place refused at \(sent)"; return }
                    sent += UInt64(burst)
                    worker.stack.advanceReceiveTail(to: sent)
                    worker.stack.release(sendUpTo: sent)
                } else if let end = worker.stack.state.finalSendTail, sent == end {
                    worker.stack.setPeerFinished()
                    return
                } else {
                    Clock.yield()
                }
            }
            worker.failure = "stack timed out at \(sent)"
        }
        var appended = 0
        var delivered: [UInt8] = []
        delivered.reserveCapacity(total)
        let user = UnsafeMutableRawBufferPointer.allocate(byteCount: 5000, alignment: 8)
        defer { user.deallocate() }
        var sleeps = 0, lostWakes = 0
        while Clock.nanos() < deadline {
            var progress = false
            if appended < total {
                let n = try data.withUnsafeBytes { try app.append(UnsafeRawBufferPointer(rebasing: $0[appended..<min(total, appended + 4000)])) }
                appended += n
                if appended == total { app.shutdownWrite() }
                progress = progress || n > 0
            }
            let got = try app.read(into: user)
            delivered += bytes(user, 0..<got)
            progress = progress || got > 0
            if try app.atEndOfStream() { break }
            if progress { continue }
            let wanted: StreamAppFlags = appended < total ? [.readerWaits, .writerWaits] : .readerWaits
            func ready() -> Bool {
                let readable = (try? app.readable()) ?? 1
                let writable = appended < total ? ((try? app.sendSpace()) ?? 1) : 0
                return readable > 0 || writable > 0 || app.stackFlags.contains(.peerFinished)
            }
            app.beginWaiting(wanted)
            let start = Clock.nanos()
            app.bell.sleep(timeoutNanos: 2_000_000_000) { ready() }
            if Clock.nanos() - start >= 2_000_000_000 && ready() { lostWakes += 1 }
            app.endWaiting(wanted)
            sleeps += 1
        }
        XCTAssertEqual(finished.wait(timeout: .now() + 10), .success)
        XCTAssertNil(worker.failure)
        XCTAssertEqual(delivered.count, total)
        XCTAssertTrue(delivered == data, "the stream arrived whole and in order")
        XCTAssertEqual(lostWakes, 0, "of \(sleeps) sleeps")
    }

    // MARK: flags, events and wake-ups

    func testConnectionEventsReachTheApplication() throws {
        let m = try MappedStream()
        var app = try m.app()
        var stack = try m.stack()
        XCTAssertEqual(app.stackFlags, [])
        let events = app.stackEvents
        stack.setEstablished()
        XCTAssertEqual(app.stackFlags, .established)
        XCTAssertEqual(app.stackEvents, events &+ 1)
        stack.setEstablished()
        XCTAssertEqual(app.stackEvents, events &+ 1, "no change, no event")
        stack.set(tcpState: 4)
        XCTAssertEqual(app.tcpState, 4)

        XCTAssertTrue([UInt8](repeating: 8, count: 5).withUnsafeBytes { stack.place($0, atStreamOffset: 0) })
        stack.advanceReceiveTail(to: 5)
        stack.setPeerFinished()
        XCTAssertFalse(try app.atEndOfStream(), "data before the FIN is read first")
        var out = [UInt8](repeating: 0, count: 10)
        XCTAssertEqual(try out.withUnsafeMutableBytes { try app.read(into: $0) }, 5)
        XCTAssertTrue(try app.atEndOfStream())

        stack.setReset(errno: ECONNRESET)
        XCTAssertTrue(app.stackFlags.isSuperset(of: [.reset, .sendClosed, .peerFinished, .established]))
        XCTAssertEqual(app.header.error, -ECONNRESET)
        XCTAssertEqual(app.stackEvents, events &+ 4)
    }

    func testOnlyAWaitingWriterOrReaderIsWoken() throws {
        let m = try MappedStream()
        var app = try m.app()
        var stack = try m.stack()
        // As if the application slept on its wake word: every ring is then counted.
        m.appLine.pointee.sleeping = 1
        XCTAssertEqual(try [UInt8](repeating: 1, count: 1000).withUnsafeBytes { try app.append($0) }, 1000)
        XCTAssertEqual(stack.takeSendTail(), .ok(1000))
        stack.release(sendUpTo: 100)
        XCTAssertEqual(app.bell.wakes, 0, "nobody waits for space")
        app.beginWaiting(.writerWaits)
        stack.release(sendUpTo: 200)
        XCTAssertEqual(app.bell.wakes, 1)
        app.endWaiting(.writerWaits)
        stack.release(sendUpTo: 300)
        XCTAssertEqual(app.bell.wakes, 1)

        let data = [UInt8](repeating: 2, count: 200)
        XCTAssertTrue(data.withUnsafeBytes { stack.place($0, atStreamOffset: 0) })
        stack.advanceReceiveTail(to: 10)
        XCTAssertEqual(app.bell.wakes, 1, "nobody waits for data")
        app.setReceiveLowWater(100)
        app.beginWaiting(.readerWaits)
        stack.advanceReceiveTail(to: 50)
        XCTAssertEqual(app.bell.wakes, 1, "below the low-water mark")
        stack.advanceReceiveTail(to: 120)
        XCTAssertEqual(app.bell.wakes, 2)
        stack.release(sendUpTo: 400)
        XCTAssertEqual(app.bell.wakes, 2, "a reader is not woken for space")
        app.endWaiting(.readerWaits)
        stack.setPeerFinished()
        XCTAssertEqual(app.bell.wakes, 3, "the end of the stream wakes whoever sleeps")
    }

    func testApplicationKicksTheStackForDataAndWhenItFreesHalfTheReceiveArea() throws {
        let m = try MappedStream()
        var app = try m.app()
        var stack = try m.stack()
        let kicks = Doorbell(at: m.appMap.base + 128)
        m.stackLine.pointee.sleeping = 1
        XCTAssertEqual(try [UInt8](repeating: 1, count: 10).withUnsafeBytes { try app.append($0) }, 10)
        XCTAssertEqual(kicks.wakes, 1)
        XCTAssertTrue([UInt8](repeating: 2, count: 4096).withUnsafeBytes { stack.place($0, atStreamOffset: 0) })
        stack.advanceReceiveTail(to: 4096)
        XCTAssertEqual(try app.readable(), 4096)
        app.consume(1000)
        XCTAssertEqual(kicks.wakes, 1, "more than half the area still held")
        app.consume(1048)
        XCTAssertEqual(kicks.wakes, 2, "half the area free: the window may open")
        app.consume(100)
        XCTAssertEqual(kicks.wakes, 2, "small reads after that do not kick")
        app.shutdownWrite()
        XCTAssertEqual(kicks.wakes, 3)
    }

    func testControlChannelCarriesMessagesBothWays() throws {
        let m = try MappedStream()
        let app = try m.app()
        let stack = try m.stack()
        let down = try app.controlChannel(name: "ctl-app")
        let up = try stack.controlChannel(name: "ctl-stack")
        XCTAssertEqual(down.maxPayload, StreamLayout.controlSlot)
        let option = [UInt8](repeating: 0x33, count: StreamLayout.controlSlot)
        XCTAssertTrue(try option.withUnsafeBytes { try down.send(Message(kind: .probe, seq: 1), payload: $0) })
        XCTAssertFalse(try [UInt8](repeating: 0, count: StreamLayout.controlSlot + 1).withUnsafeBytes {
            try down.send(Message(kind: .probe, seq: 2), payload: $0)
        }, "a slot holds 256 bytes")
        var seen: [(UInt64, [UInt8])] = []
        XCTAssertEqual(try up.receive(max: 16) { msg, payload in seen.append((msg.seq, Array(payload))) }, 1)
        XCTAssertEqual(seen.map(\.0), [1])
        XCTAssertEqual(seen.first?.1, option)
        // A listener's new connections come up as socket ids; the ring holds 16.
        for id in 0..<20 { _ = try up.send(Message(kind: .probe, seq: UInt64(100 + id))) }
        var ids: [UInt64] = []
        _ = try down.receive(max: 64) { msg, _ in ids.append(msg.seq) }
        XCTAssertEqual(ids, Array(100..<116))
    }
}
