@testable import IPServer
@testable import Kernel
import NewsConfig
import NewsWire
@testable import UDPServer
import XCTest

/// `newsd --check-config` must reject exactly the address texts that would stop a server at
/// start-up, and accept exactly the others: otherwise a checked config can crash-loop
/// ipserver until it is marked failed. Every text below goes through all the paths a value
/// takes: `Config.parse` (what --check-config runs, on a config file holding the text),
/// `Config.validate` (what newsd runs after its command-line overrides), and the launch
/// parameters newsd builds from the config (`Supervisor.parameters`), read the way ipserver
/// (`IPSettings`) and udpserver (`UDPCore.localAddress`) read them when they start.
final class AddressAgreementTests: XCTestCase {
    /// `[ip] address`, and whether it is a valid host address with prefix.
    static let interfaces: [(String, Bool)] = [
        ("198.18.0.2/24", true), ("198.18.0.254/24", true), ("198.18.0.1/30", true), ("198.19.200.7/15", true),
        ("198.18.0.2/1", true),
        ("198.18.0.2/024", false), ("198.18.0.2/+24", false), ("198.18.0.2/-24", false), ("198.18.0.2/ 24", false),
        ("198.18.0.2/24 ", false), ("198.18.0.2/33", false), ("198.18.0.2/", false), ("198.18.0.2//24", false),
        ("198.18.0.2/24/8", false), ("198.18.0.2/0x18", false), ("198.18.0.02/24", false), ("198.18.0.256/24", false),
        (" 198.18.0.2/24", false), ("+198.18.0.2/24", false), ("198.18.0/24", false), ("198.18.0.2.1/24", false),
        ("198.18..2/24", false), ("198.18.0.2", false), ("/24", false), ("", false),
        ("198.18.0.0/24", false), ("198.18.0.255/24", false), ("198.18.0.2/31", false), ("198.18.0.2/32", false),
        ("198.18.0.2/0", false), ("127.0.0.2/8", false), ("224.0.0.2/24", false), ("0.0.0.2/24", false),
    ]
    /// Prefixes after a good address: "+24" and friends must fail the same way everywhere.
    static let prefixes: [(String, Bool)] = [
        ("24", true), ("8", true), ("30", true), ("024", false), ("+24", false), ("-24", false), (" 24", false),
        ("24 ", false), ("33", false), ("", false), ("2 4", false), ("٢٤", false), ("24.0", false),
    ]
    /// `[ip] gateway`, with the default address 198.18.0.2/24.
    static let gateways: [(String, Bool)] = [
        ("", true), ("198.18.0.1", true), ("198.18.0.254", true),
        ("198.18.0.01", false), ("+198.18.0.1", false), ("198.18.0.1 ", false), ("198.18.0.1/24", false),
        ("198.19.0.1", false), ("198.18.0.0", false), ("198.18.0.255", false), ("198.18.0.2", false),
        ("198.18.0.256", false), ("198.18.0", false),
    ]
    /// `[nic] mac`.
    static let macs: [(String, Bool)] = [
        ("02:4e:57:53:00:02", true), ("02:4E:57:53:00:0A", true), ("fe:ff:ff:ff:ff:ff", true),
        ("+2:4e:57:53:00:02", false), ("02:4e:57:53:00:+2", false), ("02:4e:57:53:00:2", false),
        ("2:4e:57:53:00:02", false), ("02:4e:57:53:00:02:03", false), ("02:4e:57:53:00", false),
        ("02-4e-57-53-00-02", false), ("02:4e:57:53:00:02 ", false), (" 02:4e:57:53:00:02", false),
        ("02:4e:57:53:00:0g", false), ("02::4e:57:53:00:02", false), ("", false),
        ("03:4e:57:53:00:02", false), ("ff:ff:ff:ff:ff:ff", false), ("00:00:00:00:00:00", false),
    ]

    /// Whether `Config.parse` accepts a file setting `key` in `[table]` to `value`; a
    /// rejection must name line 2 and the key.
    func configFileAccepts(_ table: String, _ key: String, _ value: String,
                           file: StaticString = #filePath, line: UInt = #line) -> Bool {
        let text = "[\(table)]\n\(key) = \(TOMLValue.string(value))\n"
        do throws(ConfigError) {
            _ = try Config.parse(text)
            return true
        } catch {
            XCTAssertEqual(error.line, 2, "\(value): \(error)", file: file, line: line)
            XCTAssertEqual(error.key, key, "\(value): \(error)", file: file, line: line)
            return false
        }
    }

    func validateAccepts(_ config: Config) -> Bool { (try? config.validate()) != nil }

    func ipserverAccepts(_ config: Config) -> Bool {
        (try? IPSettings(parameters: Supervisor.parameters(for: .ipserver, config: config))) != nil
    }

    func udpserverAccepts(_ config: Config) -> Bool {
        (try? UDPCore.localAddress(parameters: Supervisor.parameters(for: .udpserver, config: config))) != nil
    }

    func testDefaultConfigStartsBothServers() {
        XCTAssertTrue(ipserverAccepts(.default))
        XCTAssertTrue(udpserverAccepts(.default))
    }

    func testIPAddressAgreement() {
        let prefixed = Self.prefixes.map { ("198.18.0.2/" + $0.0, $0.1) }
        for (text, valid) in Self.interfaces + prefixed {
            var config = Config.default
            config.ip.address = text
            let verdicts = ["parse": configFileAccepts("ip", "address", text), "validate": validateAccepts(config),
                            "ipserver": ipserverAccepts(config), "udpserver": udpserverAccepts(config)]
            XCTAssertEqual(Set(verdicts.values), [valid], "ip.address \(TOMLValue.string(text)): \(verdicts)")
        }
    }

    func testGatewayAgreement() {
        for (text, valid) in Self.gateways {
            var config = Config.default
            config.ip.gateway = text
            let verdicts = ["parse": configFileAccepts("ip", "gateway", text), "validate": validateAccepts(config),
                            "ipserver": ipserverAccepts(config)]
            XCTAssertEqual(Set(verdicts.values), [valid], "ip.gateway \(TOMLValue.string(text)): \(verdicts)")
        }
    }

    func testMACAgreement() {
        for (text, valid) in Self.macs {
            var config = Config.default
            config.nic.mac = text
            let verdicts = ["parse": configFileAccepts("nic", "mac", text), "validate": validateAccepts(config),
                            "ipserver": ipserverAccepts(config)]
            XCTAssertEqual(Set(verdicts.values), [valid], "nic.mac \(TOMLValue.string(text)): \(verdicts)")
        }
    }

    /// What the servers take from an accepted config is what the file says.
    func testServersReadTheConfiguredValues() throws {
        let config = try Config.parse("[ip]\naddress = \"198.19.3.4/16\"\ngateway = \"198.19.0.1\"\nmtu = 1280\n[nic]\nmac = \"02:4E:57:53:00:0A\"\n")
        let ip = try IPSettings(parameters: Supervisor.parameters(for: .ipserver, config: config))
        XCTAssertEqual(ip.interface.address, IPv4Address(198, 19, 3, 4))
        XCTAssertEqual(ip.interface.network, IPv4Network("198.19.0.0/16"))
        XCTAssertEqual(ip.gateway, IPv4Address(198, 19, 0, 1))
        XCTAssertEqual(ip.mac, MACAddress(0x02, 0x4e, 0x57, 0x53, 0x00, 0x0a))
        XCTAssertEqual(ip.mtu, 1280)
        XCTAssertEqual(try UDPCore.localAddress(parameters: Supervisor.parameters(for: .udpserver, config: config)),
                       IPv4Address(198, 19, 3, 4))
    }

    /// A gateway must fit the address it is configured with, not just the default one.
    func testGatewayIsCheckedAgainstTheConfiguredAddress() {
        for (address, gateway, valid) in [("198.19.3.4/16", "198.19.0.1", true), ("198.19.3.4/24", "198.19.0.1", false),
                                           ("198.18.0.2/24", "198.19.0.1", false)] {
            let text = "[ip]\naddress = \"\(address)\"\ngateway = \"\(gateway)\"\n"
            var config = Config.default
            config.ip.address = address
            config.ip.gateway = gateway
            let parsed: Bool
            do throws(ConfigError) { _ = try Config.parse(text); parsed = true } catch {
                XCTAssertEqual(error.line, 3, "\(error)")
                XCTAssertEqual(error.key, "gateway", "\(error)")
                parsed = false
            }
            let verdicts = ["parse": parsed, "validate": validateAccepts(config), "ipserver": ipserverAccepts(config)]
            XCTAssertEqual(Set(verdicts.values), [valid], "\(address) via \(gateway): \(verdicts)")
        }
    }
}
