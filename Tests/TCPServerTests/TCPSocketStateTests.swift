import CNewsLinux
import NewsIPC
import NewsSystem
import NewsTCP
import XCTest

@testable import TCPServer

/// What keeps tcpserver from sleeping is the application's to write: a hostile application
/// (tests/integration/test_tcp_hostile.py) moved the indices of sockets nothing takes them
/// for and scribbled its control rings, and tcpserver spun on them, reporting the same broken
/// ring on every pass. Only input tcpserver will act on may count as waiting.
final class TCPSocketStateTests: XCTestCase {
    var region: SharedRegion!
    var kick: (Int32, Int32) = (-1, -1)
    var socket: TCPSocketState!

    override func setUpWithError() throws {
        // As newsd makes a TCP socket: a sealed region with newsd's header, and a kick pair.
        region = try SharedRegion.create(name: "tcp-socket-state-test", size: StreamLayout.regionSize())
        StreamLayout.initialize(region.base, id: 7)
        kick = try UnixSocket.kickPair()
        socket = try TCPSocketState(id: 7, uid: 1000, fd: region.fd, kick: kick.1, recovering: false)
    }

    override func tearDown() {
        socket.release()  // closes the region descriptor and our kick end
        region.unmap()
        FD.close(kick.0)
    }

    /// The application's words, written through our own mapping as an application would.
    var stream: UnsafeMutablePointer<news_stream_header_t> {
        (region.base + StreamLayout.streamHeaderOffset).assumingMemoryBound(to: news_stream_header_t.self)
    }

    func connect() {
        socket.connection = TCPConnection(connecting: TCPConfiguration(), iss: SequenceNumber(1),
                                          receiveCapacity: StreamLayout.defaultReceiveSize, at: 0)
    }

    func testMovedIndicesCountOnlyOnAConnectionTheApplicationHolds() {
        news_store_release_u64(&stream.pointee.send_tail, 12_345)
        news_store_release_u64(&stream.pointee.recv_head, 777)
        XCTAssertTrue(socket.stream.appMoved, "the region says the application moved")
        XCTAssertFalse(socket.appMoved, "but a socket without a connection takes no indices")
        connect()
        XCTAssertTrue(socket.appMoved, "a connection takes them (and refuses these)")
        socket.applicationClosed = true
        XCTAssertFalse(socket.appMoved, "after close the connection no longer reads the application's words")
    }

    func testTheShutdownBitAloneCountsOnAConnection() {
        connect()
        XCTAssertFalse(socket.appMoved)
        news_store_release_u32(&stream.pointee.app_flags, StreamAppFlags.writeShutdown.rawValue)
        XCTAssertTrue(socket.appMoved)
    }

    func testABrokenControlRingIsNotWaitingInput() {
        XCTAssertFalse(socket.controlWaiting)
        // An impossible head on the down ring (the application's index).
        let down = StreamLayout.controlChannel(region.base).assumingMemoryBound(to: news_ring_header_t.self)
        news_store_release_u64(&down.pointee.head, 1 << 40)
        XCTAssertTrue(socket.controlWaiting, "it looks like input")
        XCTAssertThrowsError(try socket.control.receive(max: 8) { _, _ in XCTFail("no message from a corrupt ring") })
        socket.controlBroken = true
        XCTAssertFalse(socket.controlWaiting, "once found broken it is not looked at again")
    }

    func testRequestsAfterTheApplicationClosedAreNotWaiting() {
        let down = StreamLayout.controlChannel(region.base).assumingMemoryBound(to: news_ring_header_t.self)
        news_store_release_u64(&down.pointee.head, 1)
        XCTAssertTrue(socket.controlWaiting)
        socket.applicationClosed = true
        XCTAssertFalse(socket.controlWaiting, "serveControl reads nothing from a socket its application closed")
    }

    // MARK: - Pooled regions (docs/TCP-SOCKETS.md)

    func testAReleaseCountsOnlyForAPooledSocketTheApplicationHolds() {
        news_store_release_u32(&stream.pointee.app_flags, StreamAppFlags.released.rawValue)
        XCTAssertTrue(socket.stream.applicationReleased)
        XCTAssertFalse(socket.releasePending, "not from a pool: closed through newsd only")
        socket.pool = 3
        socket.role = .spare(of: 3)
        XCTAssertFalse(socket.releasePending, "a free spare is tcpserver's: nothing to release")
        socket.role = .connection
        XCTAssertTrue(socket.releasePending)
        socket.role = .bound
        XCTAssertTrue(socket.releasePending, "a connection that ended before the application let go")
        socket.applicationClosed = true
        XCTAssertFalse(socket.releasePending, "heard once")
    }

    func testARecycledRegionIsLaidOutAfreshWithNothingOfTheLastConnection() throws {
        socket.pool = 3
        connect()
        socket.stream.setEstablished()
        socket.header.set(remote: 0xC612_0009, port: 5555)
        news_store_release_u64(&stream.pointee.send_tail, 100)
        news_store_release_u32(&stream.pointee.app_flags, StreamAppFlags([.released, .writeShutdown]).rawValue)
        XCTAssertFalse(socket.stream.looksUnused)
        let fresh = try TCPSocketState(recycling: socket)
        XCTAssertEqual(fresh.id, 7)
        XCTAssertEqual(fresh.uid, 1000)
        XCTAssertEqual(fresh.pool, 3)
        XCTAssertEqual(fresh.kick, socket.kick)
        XCTAssertNil(fresh.connection)
        XCTAssertFalse(fresh.applicationClosed)
        XCTAssertEqual(fresh.stream.state, StreamStackState())
        XCTAssertEqual(news_load_acquire_u64(&stream.pointee.send_tail), 0)
        XCTAssertEqual(news_load_acquire_u32(&stream.pointee.app_flags), 0)
        XCTAssertEqual(news_load_acquire_u32(&stream.pointee.stack_flags), 0)
        XCTAssertEqual(fresh.header.remote.port, 0)
        XCTAssertEqual(fresh.header.state, .open)
        XCTAssertTrue(fresh.stream.looksUnused, "what a restarted tcpserver may put back among the free spares")
        XCTAssertFalse(fresh.controlWaiting)
    }

    func testAReleasedRegionDoesNotLookUnused() {
        XCTAssertTrue(socket.stream.looksUnused)
        news_store_release_u32(&stream.pointee.app_flags, StreamAppFlags.released.rawValue)
        XCTAssertFalse(socket.stream.looksUnused)
        news_store_release_u32(&stream.pointee.app_flags, 0)
        socket.header.set(remote: 1, port: 2)
        XCTAssertFalse(socket.stream.looksUnused, "attached to a peer")
    }
}
