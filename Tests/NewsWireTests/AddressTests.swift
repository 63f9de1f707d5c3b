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
                    "198.18.0/24", "198.18.0.0/24/1", "198.18.0.0/ 24", "/24", "198.18.0.0/+24",
                    "198.18.0.0/24 ", " 198.18.0.0/24", "198.18.0.00/24", "198.18.0.0 /24", "198.18.0.0/2x",
                    "198.18.0.0/100", "198.18.0.0//24"] {
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
                    "02::00:00:00:00:01", "+2:4e:57:53:00:02", "02:4e:57:53:00:2", "02:4e:57:53:00:02:03",
                    "02:4e:57:53:00:+2", "0x2:4e:57:53:00:02", "02:4e:57:53:00:02:", "024e.5753.0002"] {
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

    func testNetworkClearsHostBitsAndRoundTrips() throws {
        let net = try IPv4Network.parse("198.18.0.77/24")
        XCTAssertEqual(net.address, IPv4Address(198, 18, 0, 0))
        XCTAssertEqual(net, try IPv4Network.parse("198.18.0.0/24"))
        XCTAssertEqual(try IPv4Network.parse(net.description), net)
        XCTAssertEqual(IPv4Network.all.description, "0.0.0.0/0")
        XCTAssertTrue(IPv4Network.all.contains(.broadcast))
        XCTAssertEqual(IPv4Network(address: IPv4Address(198, 18, 0, 9), prefix: 30)?.description, "198.18.0.8/30")
    }

    func testErrorsSayWhy() {
        func reason(_ body: () throws(AddressError) -> Void) -> AddressError.Reason? {
            do throws(AddressError) { try body(); return nil } catch { return error.reason }
        }
        XCTAssertEqual(reason { () throws(AddressError) in _ = try IPv4Network.parse("198.18.0.0/024") }, .badPrefix)
        XCTAssertEqual(reason { () throws(AddressError) in _ = try IPv4Network.parse("198.18.0.0/") }, .badPrefix)
        XCTAssertEqual(reason { () throws(AddressError) in _ = try IPv4Network.parse("198.18.0.0") }, .missingPrefix)
        XCTAssertEqual(reason { () throws(AddressError) in _ = try IPv4Network.parse("198.18.0.256/24") }, .notDottedQuad)
        XCTAssertEqual(reason { () throws(AddressError) in _ = try IPv4Network.parse("198.18.0") }, .notDottedQuad)
        XCTAssertEqual(reason { () throws(AddressError) in _ = try MACAddress.parse("+2:4e:57:53:00:02") }, .notMAC)
        XCTAssertEqual(reason { () throws(AddressError) in _ = try MACAddress.parseStation("03:4e:57:53:00:02") }, .groupMAC)
        XCTAssertEqual(reason { () throws(AddressError) in _ = try MACAddress.parseStation("00:00:00:00:00:00") }, .zeroMAC)
        do {
            _ = try IPv4Interface.parse("198.18.0.2/024")
            XCTFail("accepted /024")
        } catch {
            XCTAssertEqual(error.text, "198.18.0.2/024")
            XCTAssertTrue(error.description.hasPrefix("\"198.18.0.2/024\": the prefix length"), error.description)
        }
    }

    func testInterfaceKeepsHostBits() throws {
        let i = try IPv4Interface.parse("198.18.0.2/24")
        XCTAssertEqual(i.address, IPv4Address(198, 18, 0, 2))
        XCTAssertEqual(i.network, IPv4Network("198.18.0.0/24"))
        XCTAssertEqual(i.prefix, 24)
        XCTAssertEqual(i.description, "198.18.0.2/24")
        XCTAssertEqual(try IPv4Interface.parse(i.description), i)
        XCTAssertEqual(IPv4Interface(address: IPv4Address(198, 19, 255, 254), prefix: 15)?.network.description, "198.18.0.0/15")
        XCTAssertNotNil(IPv4Interface("198.18.0.1/30"))
        XCTAssertNotNil(IPv4Interface("198.18.0.2/1"))
    }

    func testInterfaceMustBeAHostAddress() {
        let cases: [(String, AddressError.Reason)] = [
            ("198.18.0.0/24", .networkAddress), ("198.18.0.255/24", .broadcastAddress),
            ("198.18.0.3/30", .broadcastAddress), ("198.18.0.4/30", .networkAddress),
            ("198.18.0.2/31", .unsupportedHostPrefix), ("198.18.0.2/32", .unsupportedHostPrefix),
            ("198.18.0.2/0", .unsupportedHostPrefix), ("198.18.0.2/33", .badPrefix),
            ("127.0.0.2/8", .notAHostAddress), ("0.1.2.3/8", .notAHostAddress),
            ("224.0.0.2/24", .notAHostAddress), ("240.0.0.2/24", .notAHostAddress),
            ("198.18.0.2", .missingPrefix), ("198.18.0.2/+24", .badPrefix), ("198.18.0.2/ 24", .badPrefix),
            (" 198.18.0.2/24", .notDottedQuad), ("198.18.0.02/24", .notDottedQuad),
        ]
        for (text, expected) in cases {
            XCTAssertThrowsError(try IPv4Interface.parse(text), text) { error in
                XCTAssertEqual((error as? AddressError)?.reason, expected, text)
                XCTAssertEqual((error as? AddressError)?.text, text)
            }
            XCTAssertNil(IPv4Interface(text), text)
        }
    }

    func testGatewayOnTheConnectedNetwork() throws {
        let i = try IPv4Interface.parse("198.18.0.2/24")
        XCTAssertEqual(try i.gateway("198.18.0.1"), IPv4Address(198, 18, 0, 1))
        XCTAssertEqual(try i.gateway("198.18.0.254"), IPv4Address(198, 18, 0, 254))
        let cases: [(String, AddressError.Reason)] = [
            ("198.19.0.1", .gatewayNotOnNetwork(i.network)), ("198.18.0.0", .networkAddress),
            ("198.18.0.255", .broadcastAddress), ("198.18.0.2", .gatewayIsOwnAddress),
            ("198.18.0.01", .notDottedQuad), ("198.18.0.1 ", .notDottedQuad), ("198.18.0.1/24", .notDottedQuad),
        ]
        for (text, expected) in cases {
            XCTAssertThrowsError(try i.gateway(text), text) { XCTAssertEqual(($0 as? AddressError)?.reason, expected, text) }
        }
    }

    func testStationMAC() throws {
        XCTAssertEqual(try MACAddress.parseStation("02:4e:57:53:00:02"), MACAddress(0x02, 0x4e, 0x57, 0x53, 0, 0x02))
        XCTAssertThrowsError(try MACAddress.parseStation("ff:ff:ff:ff:ff:ff"))
        XCTAssertThrowsError(try MACAddress.parseStation("01:00:5e:00:00:01"))
        XCTAssertEqual(MACAddress(bytes: [0x02, 0x4e, 0x57, 0x53, 0, 0x02]), MACAddress("02:4e:57:53:00:02"))
        XCTAssertNil(MACAddress(bytes: [0x02, 0x4e, 0x57, 0x53, 0]))
    }

    /// Whatever is printed parses back to the same value, over 2000 values from a fixed-seed LCG.
    func testPrintedAddressesParseBack() throws {
        var seed = UInt64(0x4E45_5753)
        for _ in 0..<2000 {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            let a = IPv4Address(UInt32(truncatingIfNeeded: seed >> 16))
            XCTAssertEqual(try IPv4Address.parse(a.description), a)
            let prefix = Int(seed >> 58) % 33
            let net = try XCTUnwrap(IPv4Network(address: a, prefix: prefix))
            XCTAssertEqual(try IPv4Network.parse(net.description), net)
            if let i = IPv4Interface(address: a, prefix: prefix) {
                XCTAssertEqual(try IPv4Interface.parse(i.description), i)
            }
            let m = MACAddress(rawValue: seed)
            XCTAssertEqual(try MACAddress.parse(m.description), m)
            XCTAssertEqual(try MACAddress.parse(m.description.uppercased()), m)
        }
    }
}
