import XCTest
import NewsFilter
import struct NewsWire.IPv4Network

final class RuleParsingTests: XCTestCase {
    func testParsesExampleFile() throws {
        let set = try RuleSet.parse(exampleRules)
        XCTAssertEqual(set.defaultIn, .deny)
        XCTAssertEqual(set.defaultOut, .allow)
        XCTAssertEqual(set.rules.count, 5)
        let r0 = set.rules[0]
        XCTAssertEqual(r0.action, .allow)
        XCTAssertEqual(r0.direction, .in)
        XCTAssertEqual(r0.proto, .udp)
        XCTAssertEqual(r0.src, IPv4Net(address: ip("198.18.0.0"), prefix: 24))
        XCTAssertEqual(r0.dst, .any)
        XCTAssertEqual(r0.dstPorts, PortRange(7))
        XCTAssertNil(r0.srcPorts)
        XCTAssertEqual(set.rules[2].icmp, ICMPMatch(type: 8))
        let r3 = set.rules[3]
        XCTAssertEqual(r3.srcPorts, PortRange(1024, 65535))
        XCTAssertEqual(r3.dst, IPv4Net(address: ip("198.18.0.1"), prefix: 32))
        XCTAssertEqual(r3.dstPorts, PortRange(80))
        XCTAssertEqual(set.rules[4].direction, .any)
        XCTAssertEqual(set.rules[4].action, .allow)
    }

    func testCommentsBlankLinesTabsAndCRLF() throws {
        let text = "# header comment\r\n\r\n\tdeny\tin tcp   # trailing\r\n   \r\nallow out icmp type 3 code 4\r\n"
        let set = try RuleSet.parse(text)
        XCTAssertEqual(set.rules.count, 2)
        XCTAssertEqual(set.rules[0].action, .deny)
        XCTAssertEqual(set.rules[1].icmp, ICMPMatch(type: 3, code: 4))
    }

    func testMissingDefaultsFailClosedInboundOnly() throws {
        let set = try RuleSet.parse("allow in tcp\n")
        XCTAssertEqual(set.defaultIn, .deny)
        XCTAssertEqual(set.defaultOut, .allow)
    }

    func testRenderedIsCanonicalAndRoundTrips() throws {
        let set = try RuleSet.parse(exampleRules + "\nallow in tcp from 198.19.2.3/16 port 5-5 to any port 1-2\n")
        let text = set.rendered()
        XCTAssertEqual(text, """
            default in deny
            default out allow
            allow in udp from 198.18.0.0/24 to any port 7
            deny in udp to any port 9
            allow in icmp type 8
            allow out tcp from any port 1024-65535 to 198.18.0.1 port 80
            allow any udp
            allow in tcp from 198.19.0.0/16 port 5 to any port 1-2

            """)
        XCTAssertEqual(try RuleSet.parse(text), set)
    }

    func testEveryErrorKindNamesTheLine() {
        let cases: [(String, RuleError.Kind)] = [
            ("permit in tcp", .unknownAction("permit")),
            ("allow sideways tcp", .unknownDirection("sideways")),
            ("allow in udpp", .unknownProtocol("udpp")),
            ("allow in", .missing("protocol")),
            ("allow", .missing("direction")),
            ("allow in tcp from 1.2.3", .badAddress("1.2.3")),
            ("allow in tcp from 01.2.3.4", .badAddress("01.2.3.4")),
            ("allow in tcp to 1.2.3.4/33", .badAddress("1.2.3.4/33")),
            ("allow in tcp from 198.18.0.0/024", .badAddress("198.18.0.0/024")),
            ("allow in tcp from 198.18.0.0/+24", .badAddress("198.18.0.0/+24")),
            ("allow in tcp to any port 70000", .badPort("70000")),
            ("allow in tcp to any port 9-8", .badPort("9-8")),
            ("allow in tcp to any port", .missingValue(after: "port")),
            ("allow in tcp from", .missingValue(after: "from")),
            ("allow in icmp to any port 7", .portNeedsTCPOrUDP("icmp")),
            ("allow in any from any port 7", .portNeedsTCPOrUDP("any")),
            ("allow in udp type 8", .typeNeedsICMP("udp")),
            ("allow in icmp type 256", .badICMPType("256")),
            ("allow in icmp type 3 code x", .badICMPCode("x")),
            ("allow in icmp code 3", .unexpectedToken("code")),
            ("allow in tcp to any from any", .unexpectedToken("from")),
            ("allow in tcp port 80", .unexpectedToken("port")),
            ("default sideways deny", .unknownDefaultDirection("sideways")),
            ("default any deny", .unknownDefaultDirection("any")),
            ("default in maybe", .unknownDefaultAction("maybe")),
            ("default in deny now", .unexpectedToken("now")),
            ("default in deny\ndefault in allow", .duplicateDefault("in")),
        ]
        for (bad, kind) in cases {
            // Two good lines and a comment first, so the reported line must be counted.
            let text = "default out allow\n# comment\nallow in tcp\n" + bad + "\n"
            let expectedLine = 4 + bad.split(separator: "\n").count - 1
            do {
                _ = try RuleSet.parse(text)
                XCTFail("accepted: \(bad)")
            } catch {
                XCTAssertEqual(error.kind, kind, bad)
                XCTAssertEqual(error.line, expectedLine, bad)
                XCTAssertTrue(error.description.hasPrefix("rules line \(expectedLine): "), error.description)
            }
        }
    }

    func testErrorMessageNamesTheToken() {
        XCTAssertThrowsError(try RuleSet.parse("default in deny\n\n\nallow in udpp to any port 7\n")) { error in
            XCTAssertEqual("\(error)", "rules line 4: unknown protocol 'udpp'; expected tcp, udp, icmp or any")
        }
    }

    func testAtMost256Rules() throws {
        let line = "allow in tcp\n"
        let ok = try RuleSet.parse("default in deny\n" + String(repeating: line, count: 256))
        XCTAssertEqual(ok.rules.count, 256)
        XCTAssertThrowsError(try RuleSet.parse("default in deny\n" + String(repeating: line, count: 257))) { error in
            XCTAssertEqual(error as? RuleError, RuleError(line: 258, .tooManyRules(limit: 256)))
        }
    }

    func testBadAddressSaysWhy() {
        for (line, why) in [("allow in tcp from 198.18.0.0/024", "prefix length must be a decimal number 0-32"),
                            ("allow in tcp to 198.18.0.02", "four decimal numbers 0-255")] {
            XCTAssertThrowsError(try RuleSet.parse(line)) { error in
                let message = (error as? RuleError)?.message ?? ""
                XCTAssertTrue(message.contains(why), message)
            }
        }
    }

    func testIPv4NetParsing() throws {
        let net = try XCTUnwrap(IPv4Net("198.18.0.0/24"))
        XCTAssertTrue(net.contains(ip("198.18.0.255")))
        XCTAssertFalse(net.contains(ip("198.18.1.0")))
        XCTAssertEqual(IPv4Net("198.18.0.2")?.prefix, 32)
        XCTAssertEqual(IPv4Net("198.18.0.2")?.contains(ip("198.18.0.3")), false)
        XCTAssertEqual(IPv4Net("any"), .any)
        XCTAssertTrue(IPv4Net.any.contains(ip("255.255.255.255")))
        XCTAssertEqual(IPv4Net("198.19.8.7/16")?.description, "198.19.0.0/16")
        XCTAssertEqual(IPv4Net("0.0.0.0/0"), .any)
        for bad in ["", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.-4", "1.2.3.4/", "1.2.3.4/033",
                    " 1.2.3.4", "1..2.3", "1.2.3.4/24/1", "a.b.c.d", "ANY", "1.2.3.4 ", "198.18.0.0/024",
                    "198.18.0.0/+24", "+198.18.0.0/24", "198.18.0.0/ 24", "198.18.00.0/24", "/24"] {
            XCTAssertNil(IPv4Net(bad), bad)
        }
        XCTAssertEqual(IPv4Net("192.0.2.1")?.description, "192.0.2.1")
        XCTAssertEqual(IPv4Net("192.0.2.1")?.network, IPv4Network("192.0.2.1/32"))
    }
}
