import XCTest
import NewsConfig

final class UDPLimitsTests: XCTestCase {
    /// The maximum is what a udp-ip slot holds after the IPv4 and UDP headers, so a
    /// datagram of that size, built whole, fits the slot and one byte more does not.
    func testMaximumFillsTheUDPChannelSlot() {
        let slot = ChannelSpec.named("udp-ip")!.slot
        XCTAssertEqual(UDPLimits.maxPayload + 20 + 8, slot)
        XCTAssertEqual(UDPLimits.maxPayload, 9188)
        XCTAssertLessThan(UDPLimits.maxPayload, 65507, "Linux's maximum")
    }

    func testSizes() {
        let peer: (address: UInt32, port: UInt16) = (0xC612_0001, 7)
        XCTAssertNil(UDPLimits.check(destination: peer, payloadLength: 0))
        XCTAssertNil(UDPLimits.check(destination: peer, payloadLength: UDPLimits.maxPayload))
        XCTAssertEqual(UDPLimits.check(destination: peer, payloadLength: UDPLimits.maxPayload + 1), .tooLong)
        XCTAssertEqual(UDPLimits.check(destination: nil, payloadLength: 9216), .tooLong)
        XCTAssertNil(UDPLimits.check(destination: nil, payloadLength: 1))
    }

    /// Linux's udp_sendmsg refuses port 0 with EINVAL before it looks at the length.
    func testDestinations() {
        XCTAssertEqual(UDPLimits.check(destination: (0xC612_0001, 0), payloadLength: 1), .badDestination)
        XCTAssertEqual(UDPLimits.check(destination: (0, 7), payloadLength: 1), .badDestination)
        XCTAssertEqual(UDPLimits.check(destination: (0xC612_0001, 0), payloadLength: 70_000), .badDestination)
    }
}
