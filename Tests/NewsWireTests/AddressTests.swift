import XCTest
import NewsWire

final class AddressTests: XCTestCase {
    func testIPv4ParseAndDescribe() {
        let a = IPv4Address("198.18.0.1")
        XCTAssertEqual(a?.value, 0xC612_0001)
        XCTAssertEqual(a?.description, "198.18.0.1")
        XCTAssertEqual(IPv4Address("0.0.0.0"), .unspecified)
        XCTAssertEqual(IPv4Address("255.255.255.255"), .broadcast)
        XCTAssertEqual(IPv4Address(1, 2, 3, 4).description, "1.2.3.4")
    }

    func testIPv4ParseIsStrict() {
        for bad in ["", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.256", " 1.2.3.4", "1.2.3.4 ",
                    "1..2.3", ".1.2.3", "1.2.3.", "01.2.3.4", "1.2.3.04", "a.b.c.d", "1.2.3.4x",
                    "1234.1.1.1", "+1.2.3.4", "1.2.3.-4", "0x1.2.3.4", "1.2.3.4/8"] {
            XCTAssertNil(IPv4Address(bad), bad)
        }
    }

    func testIPv4Classification() {
        XCTAssertTrue(IPv4Address.broadcast.isBroadcast)
        XCTAssertFalse(IPv4Address(255, 255, 255, 254).isBroadcast)
        XCTAssertTrue(IPv4Address(224, 0, 0, 1).isMulticast)
        XCTAssertTrue(IPv4Address(239, 255, 255, 255).isMulticast)
        XCTAssertFalse(IPv4Address(223, 255, 255, 255).isMulticast)
        XCTAssertFalse(IPv4Address(240, 0, 0, 0).isMulticast)
        XCTAssertTrue(IPv4Address(127, 0, 0, 1).isLoopback)
        XCTAssertTrue(IPv4Address(127, 255, 0, 9).isLoopback)
        XCTAssertFalse(IPv4Address(128, 0, 0, 1).isLoopback)
        XCTAssertTrue(IPv4Address.unspecified.isUnspecified)
        XCTAssertFalse(IPv4Address(0, 0, 0, 1).isUnspecified)
    }

    func testSubnetMembership() {
        let net = IPv4Address(198, 18, 0, 0)
        XCTAssertTrue(IPv4Address(198, 18, 0, 200).isInSubnet(net, prefix: 24))
        XCTAssertFalse(IPv4Address(198, 18, 1, 0).isInSubnet(net, prefix: 24))
        XCTAssertTrue(IPv4Address(198, 19, 1, 0).isInSubnet(net, prefix: 15))
        XCTAssertTrue(IPv4Address(8, 8, 8, 8).isInSubnet(net, prefix: 0))
        XCTAssertTrue(net.isInSubnet(net, prefix: 32))
        XCTAssertFalse(IPv4Address(198, 18, 0, 1).isInSubnet(net, prefix: 32))
        XCTAssertFalse(net.isInSubnet(net, prefix: 33))
        XCTAssertFalse(net.isInSubnet(net, prefix: -1))
    }

    func testNetwork() throws {
        let net = try XCTUnwrap(IPv4Network("198.18.0.0/24"))
        XCTAssertEqual(net.prefix, 24)
        XCTAssertEqual(net.broadcast, IPv4Address(198, 18, 0, 255))
        XCTAssertEqual(net.netmask, IPv4Address(255, 255, 255, 0))
        XCTAssertTrue(net.contains(IPv4Address(198, 18, 0, 7)))
        XCTAssertFalse(net.contains(IPv4Address(198, 18, 1, 7)))
        XCTAssertEqual(IPv4Network("198.19.2.3/16")?.networkAddress, IPv4Address(198, 19, 0, 0))
        XCTAssertEqual(IPv4Network("198.19.2.3/16")?.description, "198.19.0.0/16")
        XCTAssertEqual(IPv4Network("0.0.0.0/0")?.broadcast, .broadcast)
        XCTAssertEqual(IPv4Network("198.19.0.5/32")?.broadcast, IPv4Address(198, 19, 0, 5))
        for bad in ["198.18.0.0", "198.18.0.0/", "198.18.0.0/33", "198.18.0.0/024", "198.18.0.0/-1",
                    "198.18.0/24", "198.18.0.0/24/1", "198.18.0.0/ 24", "/24"] {
            XCTAssertNil(IPv4Network(bad), bad)
        }
        XCTAssertNil(IPv4Network(address: net.address, prefix: 33))
    }

    func testMACParseAndDescribe() throws {
        let mac = try XCTUnwrap(MACAddress("02:00:00:00:00:01"))
        XCTAssertEqual(mac, MACAddress(0x02, 0, 0, 0, 0, 0x01))
        XCTAssertEqual(mac.description, "02:00:00:00:00:01")
        XCTAssertEqual(MACAddress("AA:bb:Cc:0D:e0:FF")?.description, "aa:bb:cc:0d:e0:ff")
        XCTAssertEqual(MACAddress("aa:bb:cc:0d:e0:ff")?.octets, [0xaa, 0xbb, 0xcc, 0x0d, 0xe0, 0xff])
        for bad in ["", "02:00:00:00:00", "02:00:00:00:00:01:02", "2:00:00:00:00:01", "02:00:00:00:00:001",
                    "02-00-00-00-00-01", "02:00:00:00:00:0g", "02:00:00:00:00:01 ", ":02:00:00:00:00:01",
                    "02::00:00:00:00:01"] {
            XCTAssertNil(MACAddress(bad), bad)
        }
    }

    func testMACClassification() {
        XCTAssertEqual(MACAddress("ff:ff:ff:ff:ff:ff"), .broadcast)
        XCTAssertTrue(MACAddress.broadcast.isBroadcast)
        XCTAssertTrue(MACAddress.broadcast.isMulticast)
        XCTAssertTrue(MACAddress(0x01, 0x00, 0x5e, 0, 0, 1).isMulticast)
        XCTAssertFalse(MACAddress(0x02, 0, 0, 0, 0, 1).isMulticast)
        XCTAssertFalse(MACAddress(0xfe, 0xff, 0xff, 0xff, 0xff, 0xff).isMulticast)
        XCTAssertFalse(MACAddress(0x02, 0, 0, 0, 0, 1).isBroadcast)
    }
}
