@testable import newsbench
import XCTest

final class HTTPResponseParserTests: XCTestCase {
    /// Feeds `text` in pieces of `piece` bytes; returns the outcome and the bytes taken.
    func feed(_ parser: inout HTTPResponseParser, _ text: [UInt8], piece: Int) -> (HTTPResponseParser.Outcome, Int) {
        var taken = 0
        var outcome = HTTPResponseParser.Outcome.needMore
        var i = 0
        while i < text.count {
            let end = min(text.count, i + piece)
            let (used, o) = text[i..<end].withUnsafeBytes { parser.feed($0) }
            taken += used
            outcome = o
            if o != .needMore { break }
            XCTAssertEqual(used, end - i, "a response not yet complete takes all it is given")
            i = end
        }
        return (outcome, taken)
    }

    let ok20 = Array("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 20\r\nConnection: keep-alive\r\n\r\n".utf8)
        + Array(repeating: UInt8(ascii: "a"), count: 20)

    func testAResponseSplitAnywhereIsReadTheSame() {
        for piece in [1, 2, 3, 7, 64, 1000] {
            var p = HTTPResponseParser()
            let (outcome, taken) = feed(&p, ok20, piece: piece)
            XCTAssertEqual(outcome, .complete, "piece \(piece)")
            XCTAssertEqual(taken, ok20.count)
            XCTAssertEqual(p.status, 200)
            XCTAssertEqual(p.contentLength, 20)
            XCTAssertEqual(p.bodyReceived, 20)
            XCTAssertEqual(p.headerBytes, ok20.count - 20)
            XCTAssertFalse(p.closes)
        }
    }

    func testBytesAfterTheResponseAreLeftForTheCaller() {
        var p = HTTPResponseParser()
        let two = ok20 + Array("HTTP/1.1 404 Not Found\r\n".utf8)
        let (used, outcome) = two.withUnsafeBytes { p.feed($0) }
        XCTAssertEqual(outcome, .complete)
        XCTAssertEqual(used, ok20.count)
        // The next response on the same connection, after a reset.
        p.reset()
        let next = Array("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".utf8)
        let (used2, outcome2) = next.withUnsafeBytes { p.feed($0) }
        XCTAssertEqual(outcome2, .complete)
        XCTAssertEqual(used2, next.count)
        XCTAssertEqual(p.status, 404)
        XCTAssertTrue(p.closes)
        XCTAssertEqual(p.bodyReceived, 0)
    }

    func testAShortBodyIsNotComplete() {
        var p = HTTPResponseParser()
        let (outcome, _) = feed(&p, Array(ok20.dropLast(1)), piece: 5)
        XCTAssertEqual(outcome, .needMore)
        XCTAssertTrue(p.inBody)
        XCTAssertEqual(p.bodyReceived, 19)
    }

    func testALargeBodyIsCountedNotStored() {
        var p = HTTPResponseParser()
        let head = Array("HTTP/1.1 200 OK\r\nContent-Length: 100000000\r\n\r\n".utf8)
        XCTAssertEqual(head.withUnsafeBytes { p.feed($0) }.outcome, .needMore)
        let block = [UInt8](repeating: 0, count: 1 << 20)
        var left = 100_000_000
        while left > 0 {
            let n = min(left, block.count)
            let (used, outcome) = block[0..<n].withUnsafeBytes { p.feed($0) }
            XCTAssertEqual(used, n)
            left -= n
            XCTAssertEqual(outcome, left == 0 ? .complete : .needMore)
        }
        XCTAssertEqual(p.bodyReceived, 100_000_000)
    }

    func testHeaderNamesAreCaseInsensitiveAndConnectionListsAreSearched() {
        var p = HTTPResponseParser()
        let r = Array("HTTP/1.0 200 OK\r\ncontent-LENGTH:   3  \r\nCONNECTION: Keep-Alive, Close\r\n\r\nabc".utf8)
        XCTAssertEqual(r.withUnsafeBytes { p.feed($0) }.outcome, .complete)
        XCTAssertEqual(p.contentLength, 3)
        XCTAssertTrue(p.closes)
        // A bare LF line end is accepted too.
        var q = HTTPResponseParser()
        let lf = Array("HTTP/1.1 204 No Content\nContent-Length: 0\n\n".utf8)
        XCTAssertEqual(lf.withUnsafeBytes { q.feed($0) }.outcome, .complete)
        XCTAssertEqual(q.status, 204)
    }

    func testMalformedResponsesFailWithTheirReason() {
        let cases: [(String, HTTPResponseParser.Failure)] = [
            ("HTTP/2 200 OK\r\n", .badStatusLine),
            ("HTTP/1.1 20 OK\r\n", .badStatusLine),
            ("HTTP/1.1 2000 OK\r\n", .badStatusLine),
            ("HTTP/1.1 099 Low\r\n", .badStatusLine),
            ("SSH-2.0-OpenSSH\r\n", .badStatusLine),
            ("HTTP/1.1 200 OK\r\nno colon here\r\n", .badHeader),
            ("HTTP/1.1 200 OK\r\n: empty name\r\n", .badHeader),
            ("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n", .badHeader),
            ("HTTP/1.1 200 OK\r\nContent-Length: 12x\r\n", .badHeader),
            ("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n", .badHeader),
            ("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n", .noContentLength),
            ("HTTP/1.1 200 OK\r\nX: " + String(repeating: "y", count: 2000) + "\r\n", .headerTooLong),
        ]
        for (text, want) in cases {
            var p = HTTPResponseParser()
            let (_, outcome) = Array(text.utf8).withUnsafeBytes { p.feed($0) }
            XCTAssertEqual(outcome, .failed(want), text.prefix(60).description)
            // Once failed, it stays failed and takes nothing more.
            let (used, again) = Array("HTTP/1.1 200 OK\r\n".utf8).withUnsafeBytes { p.feed($0) }
            XCTAssertEqual(again, .failed(want))
            XCTAssertEqual(used, 0)
        }
        // Many short header lines add up to too long a header.
        var p = HTTPResponseParser()
        let many = "HTTP/1.1 200 OK\r\n" + String(repeating: "X-A: b\r\n", count: 3000)
        XCTAssertEqual(Array(many.utf8).withUnsafeBytes { p.feed($0) }.outcome, .failed(.headerTooLong))
    }
}

final class TCPBenchModelTests: XCTestCase {
    func testCasesParseAndNameRoundTrip() throws {
        XCTAssertEqual(try TCPCase.parse("bulk-down"), .bulkDown)
        XCTAssertEqual(try TCPCase.parse("rr-k10-11k"), .rr(perConnection: 10, path: "/11k"))
        XCTAssertEqual(try TCPCase.parse("rr-k1-index.html"), .rr(perConnection: 1, path: "/index.html"))
        let all = try TCPCase.parseList("all")
        XCTAssertEqual(all.map(\.name), ["bulk-down", "bulk-up", "rr-k1-20b", "rr-k10-20b", "rr-k1-11k", "rr-k10-11k"])
        for c in all { XCTAssertEqual(try TCPCase.parse(c.name), c) }
        XCTAssertEqual(try TCPCase.parseList("bulk,rr-k2-x"), [.bulkDown, .bulkUp, .rr(perConnection: 2, path: "/x")])
        XCTAssertEqual(try TCPCase.parseList("rr").count, 4)
        for bad in ["", "bulk", "rr-k0-20b", "rr-k1001-20b", "rr-kx-20b", "rr-k1-", "rr-k1-../etc", "rr-k1-a/b", "rr-k1-.hidden", "rr-1-20b", "bulk-sideways"] {
            if bad == "bulk" { continue }  // a group in a list, not a case by itself
            XCTAssertThrowsError(try TCPCase.parse(bad), bad)
        }
        XCTAssertThrowsError(try TCPCase.parseList("bulk,,rr"))
        XCTAssertTrue(TCPCase.bulkUp.isBulk)
        XCTAssertFalse(TCPCase.rr(perConnection: 1, path: "/a").isBulk)
    }

    func testTargetsParse() throws {
        let t = try BenchTarget.parse("news-shm=198.18.0.2:80")
        XCTAssertEqual(t, BenchTarget(name: "news-shm", address: 0xC612_0002, port: 80))
        XCTAssertEqual(RequestBytes.hostHeader(t), "198.18.0.2:80")
        for bad in ["news", "=198.18.0.2:80", "a=198.18.0.2", "a=198.18.0.2:0", "a=198.18.0.2:70000", "a=198.18.0.256:80",
                    "a=b=198.18.0.2:80", "a=198.18.0.2:80:1", "a=198.18.00.2:80"] {
            XCTAssertThrowsError(try BenchTarget.parse(bad), bad)
        }
    }

    func testRequestsAreWhatTheServerParses() {
        let t = BenchTarget(name: "x", address: 0xC612_000A, port: 8080)
        let get = RequestBytes.get(t, path: "/11k", close: true)
        XCTAssertEqual(String(decoding: UnsafeRawBufferPointer(get.bytes), as: UTF8.self),
                       "GET /11k HTTP/1.1\r\nHost: 198.18.0.10:8080\r\nUser-Agent: newsbench\r\nConnection: close\r\n\r\n")
        let keep = RequestBytes.get(t, path: "/20b", close: false)
        XCTAssertFalse(String(decoding: UnsafeRawBufferPointer(keep.bytes), as: UTF8.self).contains("Connection"))
        let put = RequestBytes.put(t, path: "/upload", length: 100_000_000)
        let text = String(decoding: UnsafeRawBufferPointer(put.bytes), as: UTF8.self)
        XCTAssertTrue(text.hasPrefix("PUT /upload HTTP/1.1\r\n"))
        XCTAssertTrue(text.contains("\r\nContent-Length: 100000000\r\n"))
        XCTAssertTrue(text.hasSuffix("\r\n\r\n"))
        XCTAssertEqual(put.suffix(from: put.count - 4).count, 4)
    }

    func testPercentilesAreNearestRank() {
        XCTAssertEqual(TCPReport.percentile([], 0.5), 0)
        XCTAssertEqual(TCPReport.percentile([7], 0.99), 7)
        let hundred = (1...100).map(UInt64.init)
        XCTAssertEqual(TCPReport.percentile(hundred, 0.5), 50)
        XCTAssertEqual(TCPReport.percentile(hundred, 0.99), 99)
        XCTAssertEqual(TCPReport.percentile(hundred, 1.0), 100)
        XCTAssertEqual(TCPReport.percentile(hundred, 0.0), 1)
        XCTAssertEqual(TCPReport.percentile([10, 20, 30, 40], 0.5), 20)
        XCTAssertEqual(TCPReport.percentile([10, 20, 30, 40], 0.51), 30)
    }

    func testFixedFormatsWithoutFoundation() {
        XCTAssertEqual(TCPReport.fixed(3.14159, 2), "3.14")
        XCTAssertEqual(TCPReport.fixed(2.5, 0), "3")
        XCTAssertEqual(TCPReport.fixed(0.05, 1), "0.1")
        XCTAssertEqual(TCPReport.fixed(1.004, 2), "1.00")
        XCTAssertEqual(TCPReport.fixed(-1.25, 1), "-1.3")
        XCTAssertEqual(TCPReport.fixed(-0.001, 1), "0.0")
        XCTAssertEqual(TCPReport.fixed(12345.678, 1), "12345.7")
        XCTAssertEqual(TCPReport.fixed(.nan, 1), "0")
    }

    func row(_ target: String, _ c: String, rate: Double, bulk: Bool, errors: TCPErrors = TCPErrors()) -> TCPRow {
        TCPRow(target: target, testCase: c, connections: bulk ? 1 : 16, seconds: 2,
               completed: bulk ? 2 : Int(rate * 2), bytes: bulk ? Int(rate * 2e6) : Int(rate * 2) * 100,
               p50Nanos: 150_000, p99Nanos: 900_000, errors: errors, isBulk: bulk)
    }

    func testTableRatiosAreToTheCasesFirstTargetAndErrorsShow() {
        var e = TCPErrors()
        e.reset = 2; e.shortBody = 1
        let rows = [row("news", "bulk-down", rate: 50, bulk: true), row("linux", "bulk-down", rate: 200, bulk: true),
                    row("news", "rr-k1-20b", rate: 1000, bulk: false), row("linux", "rr-k1-20b", rate: 4000, bulk: false, errors: e)]
        let lines = TCPReport.table(rows).split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init) }
        XCTAssertEqual(lines[0], ["TARGET", "CASE", "CONNS", "REQ/S", "MB/S", "P50", "µs", "P99", "µs", "RATIO", "ERRORS"])
        XCTAssertEqual(lines[1], ["news", "bulk-down", "1", "-", "50.0", "150.0", "900.0", "100%", "0"])
        XCTAssertEqual(lines[2], ["linux", "bulk-down", "1", "-", "200.0", "150.0", "900.0", "400%", "0"])
        XCTAssertEqual(lines[3][0...3], ["news", "rr-k1-20b", "16", "1000"])
        XCTAssertEqual(lines[4], ["linux", "rr-k1-20b", "16", "4000", "0.4", "150.0", "900.0", "400%", "3", "(2", "reset,", "1", "short)"])
        XCTAssertEqual(e.total, 3)
    }

    func testCSVHasOneLinePerRowAndEveryErrorKind() {
        var e = TCPErrors()
        e.connect = 1; e.reset = 2; e.badStatus = 3; e.shortBody = 4; e.malformed = 5; e.timeout = 6
        var sum = TCPErrors()
        sum.add(e); sum.add(e)
        XCTAssertEqual(sum.total, 42)
        let csv = TCPReport.csv([row("linux", "rr-k10-11k", rate: 2500, bulk: false, errors: e)])
        let lines = csv.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        XCTAssertEqual(lines.count, 2)
        XCTAssertEqual(lines[0].count, lines[1].count)
        let r = Dictionary(uniqueKeysWithValues: zip(lines[0], lines[1]))
        XCTAssertEqual(r["target"], "linux")
        XCTAssertEqual(r["case"], "rr-k10-11k")
        XCTAssertEqual(r["requests_per_s"], "2500.0")
        XCTAssertEqual(r["mb_per_s"], "0.25")
        XCTAssertEqual(r["p50_us"], "150.0")
        XCTAssertEqual(r["errors"], "21")
        XCTAssertEqual([r["connect_errors"], r["resets"], r["bad_status"], r["short_bodies"], r["malformed"], r["timeouts"]],
                       ["1", "2", "3", "4", "5", "6"])
    }
}
