@testable import NICDriver
import NewsIPC
import NewsWire
import XCTest

/// What nicdriver accepts of a virtio-net header from the kernel and of an offload request
/// from packetfilter.
final class OffloadTests: XCTestCase {
    func testReceivedPartialChecksumIsVouchedForWhenItsOffsetsFit() {
        let v = VirtioNetHeader(flags: .needsChecksum, checksumStart: 34, checksumOffset: 16)
        XCTAssertEqual(TAPLink.offload(v, frameLength: 100)?.checksumValid, true)
        XCTAssertNil(TAPLink.offload(v, frameLength: 51), "the checksum field beyond the frame")
        XCTAssertEqual(TAPLink.offload(.plain, frameLength: 60), PacketOffload.none)
        XCTAssertEqual(TAPLink.offload(VirtioNetHeader(flags: .dataValid), frameLength: 60)?.checksumValid, true)
    }

    func frame(length: Int, proto: UInt8 = 6) -> [UInt8] {
        var f = [UInt8](repeating: 0, count: length)
        f[12] = 0x08; f[13] = 0x00; f[14] = 0x45; f[23] = proto
        return f
    }

    func request(start: UInt16 = 34, offset: UInt8 = 16, gso: UInt16 = 0, header: UInt8 = 54) -> PacketOffload {
        var o = PacketOffload()
        o.checksumPartial = true
        o.checksumStart = start
        o.checksumOffset = offset
        o.segmentSize = gso
        o.headerLength = gso > 0 ? header : 0
        return o
    }

    func testOffloadRequestsFromAboveAreChecked() {
        let f = frame(length: 3000)
        func ok(_ o: PacketOffload, _ f: [UInt8]) -> Bool { f.withUnsafeBytes { NICCore.plausible(o, frameLength: f.count, frame: $0) } }
        XCTAssertTrue(ok(request(), f))
        XCTAssertTrue(ok(request(gso: 1460), f))
        XCTAssertFalse(ok(request(start: 2990), f), "checksum field past the end")
        XCTAssertFalse(ok(request(start: 10), f), "inside the Ethernet or IP header")
        XCTAssertFalse(ok(request(gso: 1460), frame(length: 3000, proto: 17)), "TSO only for TCP")
        XCTAssertFalse(ok(request(gso: 1460, header: 20), f), "headers ending before the checksum")
        var noSum = request(gso: 1460)
        noSum.checksumPartial = false
        XCTAssertFalse(ok(noSum, f), "TSO without a partial checksum")
    }
}
