import NewsIPC
import XCTest

final class LaunchArgumentsTests: XCTestCase {
    let sample = LaunchArguments(
        server: "ipserver", start: .restart, generation: 7, shm: true, ringCapacity: 1024, spin: 0,
        heartbeatMillis: 250, cpu: 1, uid: 65534, gid: 65534, parentPID: 42, logLevel: "info",
        channels: [.init(name: "udp-ip", side: .lower, fd: 5, peerBellFD: 6), .init(name: "ip-pf", side: .upper, fd: 7, peerBellFD: 8)])

    func testRoundTrip() throws {
        XCTAssertEqual(try LaunchArguments.decode(sample.encode()), sample)
        var full = sample
        full.wakeFD = 5
        full.deviceFD = 9
        full.stateFD = 6
        full.stateSize = 65536
        full.channels[0].peerWakeFD = 11
        full.params = ["ip.address": "198.18.0.2/24", "ip.gateway": ""]
        XCTAssertEqual(try LaunchArguments.decode(full.encode()), full)
    }

    func testRejectsMalformedArguments() {
        var args = sample.encode()
        for bad in [["--ring-capacity=1000"], ["--cpu=99"], ["--channel=x:middle:5:6:-1"], ["--channel=x:upper:2:6:-1"], ["--channel=x:upper:7:6"], ["--state=6:0"], ["stray"], ["--what=1"]] {
            var a = args.filter { !$0.hasPrefix(bad[0].split(separator: "=")[0] + "=") || bad[0].hasPrefix("--channel") }
            a += bad
            XCTAssertThrowsError(try LaunchArguments.decode(a), "\(bad)")
        }
        args.removeAll { $0.hasPrefix("--uid=") }
        XCTAssertThrowsError(try LaunchArguments.decode(args)) { XCTAssertTrue("\($0)".contains("--uid")) }
    }
}
