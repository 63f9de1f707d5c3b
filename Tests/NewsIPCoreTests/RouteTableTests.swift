import XCTest
@testable import NewsIPCore
import NewsWire

final class RouteTableTests: XCTestCase {
    private func hostTable() throws -> RouteTable {
        var t = RouteTable()
        try t.add(Route(network: ip(192, 168, 1, 0), prefixLength: 24, interface: 1))
        try t.add(.defaultRoute(via: ip(192, 168, 1, 1), interface: 1))
        return t
    }

    func testConnectedAndDefaultGateway() throws {
        let t = try hostTable()
        let local = try XCTUnwrap(t.route(to: ip(192, 168, 1, 42)))
        XCTAssertEqual(local.nextHop, ip(192, 168, 1, 42))
        XCTAssertTrue(local.route.isConnected)
        let remote = try XCTUnwrap(t.route(to: ip(8, 8, 8, 8)))
        XCTAssertEqual(remote.nextHop, ip(192, 168, 1, 1))
        XCTAssertEqual(remote.route.prefixLength, 0)
    }

    func testNoRouteWithoutDefault() throws {
        var t = RouteTable()
        try t.add(Route(network: ip(10, 0, 0, 0), prefixLength: 8, interface: 0))
        XCTAssertNil(t.route(to: ip(11, 0, 0, 1)))
    }

    func testLongestPrefixWins() throws {
        var t = try hostTable()
        try t.add(Route(network: ip(10, 0, 0, 0), prefixLength: 8, gateway: ip(192, 168, 1, 2), interface: 1))
        try t.add(Route(network: ip(10, 1, 0, 0), prefixLength: 16, gateway: ip(192, 168, 1, 3), interface: 1))
        try t.add(Route(network: ip(10, 1, 2, 3), prefixLength: 32, gateway: ip(192, 168, 1, 4), interface: 1))
        XCTAssertEqual(t.route(to: ip(10, 9, 9, 9))?.nextHop, ip(192, 168, 1, 2))
        XCTAssertEqual(t.route(to: ip(10, 1, 9, 9))?.nextHop, ip(192, 168, 1, 3))
        XCTAssertEqual(t.route(to: ip(10, 1, 2, 3))?.nextHop, ip(192, 168, 1, 4))
        XCTAssertEqual(t.route(to: ip(10, 1, 2, 4))?.nextHop, ip(192, 168, 1, 3))
        XCTAssertEqual(t.route(to: ip(11, 0, 0, 0))?.nextHop, ip(192, 168, 1, 1))
    }

    func testLowerMetricWinsOnEqualPrefix() throws {
        var t = try hostTable()
        try t.add(.defaultRoute(via: ip(192, 168, 1, 9), interface: 1, metric: 0))
        try t.add(.defaultRoute(via: ip(192, 168, 1, 8), interface: 1, metric: 5))
        // The original default (metric 0) was added first and keeps winning the tie.
        XCTAssertEqual(t.route(to: ip(1, 1, 1, 1))?.nextHop, ip(192, 168, 1, 1))
        try t.remove(.defaultRoute(via: ip(192, 168, 1, 1), interface: 1))
        XCTAssertEqual(t.route(to: ip(1, 1, 1, 1))?.nextHop, ip(192, 168, 1, 9))
        try t.remove(.defaultRoute(via: ip(192, 168, 1, 9), interface: 1))
        XCTAssertEqual(t.route(to: ip(1, 1, 1, 1))?.nextHop, ip(192, 168, 1, 8))
    }

    func testInvalidRoutesAreRejected() throws {
        var t = try hostTable()
        func rejects(_ r: Route, _ expected: RouteError, line: UInt = #line) {
            XCTAssertThrowsError(try t.add(r), line: line) { XCTAssertEqual($0 as? RouteError, expected, line: line) }
        }
        rejects(Route(network: ip(10, 0, 0, 1), prefixLength: 8, interface: 1),
                .hostBitsSet(network: ip(10, 0, 0, 1), prefixLength: 8))
        rejects(Route(network: .unspecified, prefixLength: 33, interface: 1), .invalidPrefixLength(33))
        rejects(Route(network: .unspecified, prefixLength: -1, interface: 1), .invalidPrefixLength(-1))
        rejects(Route(network: ip(10, 0, 0, 0), prefixLength: 8, interface: -1), .invalidInterface(-1))
        rejects(Route(network: ip(10, 0, 0, 0), prefixLength: 8, gateway: ip(172, 16, 0, 1), interface: 1),
                .gatewayNotOnConnectedNetwork(ip(172, 16, 0, 1)))
        rejects(Route(network: ip(10, 0, 0, 0), prefixLength: 8, gateway: ip(192, 168, 1, 5), interface: 2),
                .gatewayInterfaceMismatch(gateway: ip(192, 168, 1, 5), routeInterface: 2, connectedInterface: 1))
        rejects(Route(network: ip(10, 0, 0, 0), prefixLength: 8, gateway: ip(192, 168, 1, 255), interface: 1),
                .gatewayNotAHost(ip(192, 168, 1, 255)))
        rejects(.defaultRoute(via: ip(192, 168, 1, 1), interface: 1, metric: 7),
                .duplicate(.defaultRoute(via: ip(192, 168, 1, 1), interface: 1)))
        XCTAssertEqual(t.routes.count, 2)
        XCTAssertTrue(RouteError.hostBitsSet(network: ip(198, 19, 0, 1), prefixLength: 16).description
            .contains("198.19.0.1/16"))
    }

    func testCannotRemoveConnectedRouteAGatewayNeeds() throws {
        var t = try hostTable()
        let connected = Route(network: ip(192, 168, 1, 0), prefixLength: 24, interface: 1)
        XCTAssertThrowsError(try t.remove(connected)) {
            XCTAssertEqual($0 as? RouteError, .inUse(by: .defaultRoute(via: ip(192, 168, 1, 1), interface: 1)))
        }
        XCTAssertThrowsError(try t.remove(Route(network: ip(1, 0, 0, 0), prefixLength: 8, interface: 1)))
        try t.remove(.defaultRoute(via: ip(192, 168, 1, 1), interface: 1))
        try t.remove(connected)
        XCTAssertTrue(t.routes.isEmpty)
    }

    func testHostRoutesAndPointToPointGateways() throws {
        var t = RouteTable()
        try t.add(Route(network: ip(10, 0, 0, 0), prefixLength: 31, interface: 3))
        try t.add(.defaultRoute(via: ip(10, 0, 0, 0), interface: 3))   // RFC 3021: both are hosts
        XCTAssertEqual(t.route(to: ip(9, 9, 9, 9))?.nextHop, ip(10, 0, 0, 0))
        XCTAssertEqual(t.route(to: ip(10, 0, 0, 1))?.route.interface, 3)
    }
}
