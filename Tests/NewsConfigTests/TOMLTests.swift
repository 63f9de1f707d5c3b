import XCTest
@testable import NewsConfig

/// Parses `text`, expecting failure; returns the error (or fails the test).
func tomlError(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> ConfigError? {
    do throws(ConfigError) {
        let doc = try TOMLDocument.parse(text)
        XCTFail("expected an error, got \(doc)", file: file, line: line)
        return nil
    } catch {
        return error
    }
}

final class TOMLTests: XCTestCase {
    func testValuesTablesAndOrder() throws {
        let text = """
            # leading comment
            a = "x\\"y\\\\z\\n\\t\\u00e9"   # trailing comment
            'lit key' = 'C:\\path "q"'
            "quoted.key" = -9_223_372_036_854_775_808

            [t]
            z = true
            y = false
            x = [1, "two", 'three', [false], ]
            e = []
            [t.sub]
            big = +9_223_372_036_854_775_807
            zero = 0
            """
        let doc = try TOMLDocument.parse(text)
        XCTAssertEqual(doc.tables.map(\.path), [[], ["t"], ["t", "sub"]])
        XCTAssertEqual(doc.tables.map(\.line), [0, 6, 11])
        XCTAssertEqual(doc.root.entries, [
            TOMLEntry(key: "a", value: .string("x\"y\\z\n\té"), line: 2),
            TOMLEntry(key: "lit key", value: .string("C:\\path \"q\""), line: 3),
            TOMLEntry(key: "quoted.key", value: .integer(Int.min), line: 4),
        ])
        XCTAssertEqual(doc.table(["t"])?.entries, [
            TOMLEntry(key: "z", value: .boolean(true), line: 7),
            TOMLEntry(key: "y", value: .boolean(false), line: 8),
            TOMLEntry(key: "x", value: .array([.integer(1), .string("two"), .string("three"), .array([.boolean(false)])]), line: 9),
            TOMLEntry(key: "e", value: .array([]), line: 10),
        ])
        XCTAssertEqual(doc.table(["t", "sub"])?.entries.map(\.value), [.integer(Int.max), .integer(0)])
    }

    func testCRLFLineNumbers() {
        let err = tomlError("a = 1\r\n\r\nb = ?\r\n")
        XCTAssertEqual(err?.line, 3)
        XCTAssertEqual(err?.key, "b")
    }

    func testQuoteRoundTrips() throws {
        let nasty = "q\"b\\n\nt\tr\r\u{1}\u{7F}é ✓ '"
        let doc = try TOMLDocument.parse("k = " + TOML.quote(nasty))
        XCTAssertEqual(doc.root["k"]?.value, .string(nasty))
    }

    func testSyntaxErrors() {
        let cases: [(text: String, line: Int, key: String?, contains: String)] = [
            ("a = 1\nb = \"open", 2, "b", "unterminated string"),
            ("a = 'open", 1, "a", "unterminated string"),
            ("\n\nthis is garbage", 3, nil, "expected 'key = value'"),
            ("!!!", 1, nil, "expected 'key = value'"),
            ("= 5", 1, nil, "expected 'key = value'"),
            ("a = 1\na = 2", 2, "a", "duplicate key (first defined on line 1)"),
            ("[t]\nx = 1\n[t]", 3, nil, "duplicate table [t] (first defined on line 1)"),
            ("n = 9223372036854775808", 1, "n", "overflows"),
            ("n = -9_223_372_036_854_775_809", 1, "n", "overflows"),
            ("n = 1__0", 1, "n", "invalid integer"),
            ("n = _1", 1, "n", "expected a value"),
            ("n = 1_", 1, "n", "invalid integer"),
            ("n = 012", 1, "n", "leading zeros"),
            ("n = 1.5", 1, "n", "floating-point"),
            ("n = 0x10", 1, "n", "invalid integer"),
            ("n = 1 2", 1, "n", "unexpected text"),
            ("n =", 1, "n", "missing value"),
            ("n = [1, 2", 1, "n", "unterminated array"),
            ("n = [1 2]", 1, "n", "expected ',' or ']'"),
            ("n = [,]", 1, "n", "expected a value"),
            ("s = \"bad \\q\"", 1, "s", "invalid escape"),
            ("s = \"\"\"x\"\"\"", 1, "s", "multi-line"),
            ("a.b = 1", 1, "a", "dotted keys"),
            ("[[t]]", 1, nil, "arrays of tables"),
            ("[t", 1, nil, "expected ']'"),
            ("[t] x", 1, nil, "unexpected text"),
            ("x = tru", 1, "x", "expected a value"),
            ("[t]\nsub = 1\n[t.sub]", 3, nil, "conflicts with key 'sub'"),
        ]
        for c in cases {
            guard let err = tomlError(c.text) else { continue }
            XCTAssertEqual(err.line, c.line, "\(c.text): \(err)")
            XCTAssertEqual(err.key, c.key, "\(c.text): \(err)")
            XCTAssertTrue(err.message.contains(c.contains), "\(c.text): \(err)")
        }
    }

    func testErrorDescription() {
        let e = ConfigError(line: 7, key: "period_ms", "expected an integer, found \"abc\"")
        XCTAssertEqual(e.description, "config line 7, key 'period_ms': expected an integer, found \"abc\"")
        XCTAssertEqual(e.withPath("/etc/news.toml").description,
                       "/etc/news.toml:7: key 'period_ms': expected an integer, found \"abc\"")
        XCTAssertEqual(e.withPath("f").path, "f")
        XCTAssertEqual(ConfigError(line: 3, "bad").description, "config line 3: bad")
        XCTAssertEqual(ConfigError(key: "k", "bad").description, "config key 'k': bad")
        XCTAssertEqual(ConfigError("bad").description, "config: bad")
        XCTAssertEqual(ConfigError("bad").withPath("f").description, "f: bad")
        XCTAssertEqual(ConfigError(line: 2, "bad").withPath("f").description, "f:2: bad")
    }
}
