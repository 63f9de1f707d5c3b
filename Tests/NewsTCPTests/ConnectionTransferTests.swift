import NewsTCP
import NewsWire
import XCTest

/// Whole transfers between two connections over a simulated link: the bytes that arrive
/// are the bytes written, in order, with and without loss.
final class ConnectionTransferTests: XCTestCase {
    func pattern(_ n: Int, seed: UInt64 = 7) -> [UInt8] {
        var x = seed
        return (0..<n).map { _ in x = x &* 6364136223846793005 &+ 1442695040888963407; return UInt8(truncatingIfNeeded: x >> 33) }
    }

    func testHandshakeNegotiatesEveryOption() {
        let link = establishedLink()
        XCTAssertEqual(link.a.connection.state, .established)
        XCTAssertEqual(link.b.connection.state, .established)
        let o = link.a.connection.options!
        XCTAssertTrue(o.timestamps)
        XCTAssertTrue(o.selectiveAcknowledgments)
        XCTAssertEqual(o.receiveShift, 3, "256 KiB needs a shift of 3 (65536 does not fit 16 bits)")
        XCTAssertEqual(o.sendMSS, 1460)
        XCTAssertEqual(link.log.map { $0.seg.flags }, [[.syn, .ack], .ack], "after the SYN: SYN-ACK, ACK")
    }

    func transfer(_ size: Int, drop: @escaping (Bool, OutgoingSegment, Int) -> Bool = { _, _, _ in false },
                  capacity: Int = 262_144, file: StaticString = #filePath, line: UInt = #line) -> Link {
        var link = establishedLink(capacity: capacity)
        link.drop = drop
        let data = pattern(size)
        var written = 0
        var got: [UInt8] = []
        link.run(until: link.now + 120_000_000_000, appA: { a in
            // Write as much as the (simulated) send area allows: 256 KiB unacknowledged.
            let room = 262_144 - (a.sendStream.count - Int(a.connection.acknowledgedOffset))
            let n = min(room, size - written)
            if n > 0 { a.sendStream += data[written..<written + n]; written += n }
            if written == size { a.shutdown = true }
        }, appB: { b in
            got += b.readAll()
            if b.connection.peerFinished && !b.shutdown { b.shutdown = true }
        })
        XCTAssertEqual(got.count, size, file: file, line: line)
        XCTAssertTrue(got == data, "bytes differ", file: file, line: line)
        return link
    }

    func testOneMegabyteCleanLink() {
        let link = transfer(1 << 20)
        XCTAssertEqual(link.a.connection.counters.segmentsRetransmitted, 0)
        XCTAssertEqual(link.a.connection.state, .closed, "A closed first: TIME-WAIT, which the test clock outlives")
        XCTAssertEqual(link.b.connection.state, .closed)
    }

    func testOneMegabyteWithOnePercentLoss() {
        var rng: UInt64 = 99
        let link = transfer(1 << 20, drop: { _, _, _ in
            rng = rng &* 6364136223846793005 &+ 1
            return (rng >> 33) % 100 == 0
        })
        XCTAssertGreaterThan(link.a.connection.counters.segmentsRetransmitted, 0)
    }

    /// 1% loss, 1% duplication and 1% reordering in both directions, as the integration
    /// tests inject in the driver, with each option set and each congestion controller.
    func testImpairedLinkEveryVariant() {
        for variant in 0..<6 {
            var c = TCPConfiguration.test
            c.congestion.algorithm = variant % 2 == 0 ? .cubic : .newReno
            if variant / 2 == 1 { c.selectiveAcknowledgments = false }
            if variant / 2 == 2 { c.timestamps = false; c.windowScaling = false }
            var link = establishedLink(c, c)
            var rng: UInt64 = UInt64(variant) &+ 12345
            link.mangle = { _, _, _ in
                rng = rng &* 6364136223846793005 &+ 1442695040888963407
                switch (rng >> 33) % 100 {
                case 0: return []                            // lost
                case 1: return [1_000_000, 1_000_000]        // duplicated
                case 2: return [4_000_000]                   // reordered behind later segments
                default: return [1_000_000]
                }
            }
            let size = 2 << 20
            let data = pattern(size, seed: UInt64(variant))
            var written = 0
            var got: [UInt8] = []
            var back: [UInt8] = []
            let reply = pattern(300_000, seed: 99)
            var replied = 0
            link.run(until: link.now + 300_000_000_000, appA: { a in
                let room = 262_144 - (a.sendStream.count - Int(a.connection.acknowledgedOffset))
                let n = min(room, size - written)
                if n > 0 { a.sendStream += data[written..<written + n]; written += n }
                if written == size { a.shutdown = true }
                back += a.readAll()
            }, appB: { b in
                got += b.readAll()
                // Data flows the other way at the same time.
                let room = 262_144 - (b.sendStream.count - Int(b.connection.acknowledgedOffset))
                let n = min(room, reply.count - replied)
                if n > 0 { b.sendStream += reply[replied..<replied + n]; replied += n }
                if b.connection.peerFinished && replied == reply.count { b.shutdown = true }
            })
            XCTAssertTrue(got == data, "variant \(variant): A to B differs (\(got.count) of \(size))")
            XCTAssertTrue(back == reply, "variant \(variant): B to A differs (\(back.count) of \(reply.count))")
            XCTAssertEqual(link.a.connection.state, .closed, "variant \(variant)")
            XCTAssertEqual(link.b.connection.state, .closed, "variant \(variant)")
            XCTAssertGreaterThan(link.a.connection.counters.segmentsRetransmitted, 0)
        }
    }

    /// A reader slower than the writer: the window closes, the writer waits (probing),
    /// and everything arrives once the reader catches up.
    func testSlowReaderClosesAndReopensTheWindow() {
        var link = establishedLink(capacity: 16_384)
        let data = pattern(200_000)
        var written = 0
        var got: [UInt8] = []
        var tick = 0
        link.appPeriod = 10_000_000
        var sawZeroWindow = false
        link.run(until: link.now + 600_000_000_000, appA: { a in
            if a.connection.info.sendWindow == 0 { sawZeroWindow = true }
            let room = 65_536 - (a.sendStream.count - Int(a.connection.acknowledgedOffset))
            let n = min(room, data.count - written)
            if n > 0 { a.sendStream += data[written..<written + n]; written += n }
            if written == data.count { a.shutdown = true }
        }, appB: { b in
            tick += 1
            // The reader wakes every 10 ms but reads only every 50th time: a window per
            // half second, far slower than the link.
            if tick % 50 == 0 { got += b.readAll() }
            if b.connection.peerFinished { got += b.readAll(); b.shutdown = true }
        })
        XCTAssertTrue(got == data, "\(got.count) of \(data.count)")
        XCTAssertTrue(sawZeroWindow, "the window closed")
        XCTAssertEqual(link.a.connection.state, .closed)
    }
}
