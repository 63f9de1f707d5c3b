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
}
