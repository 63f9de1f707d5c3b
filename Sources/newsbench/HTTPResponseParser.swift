/// An incremental HTTP/1.x response reader for the load generator (`newsbench tcp`): it is
/// fed whatever each recv returned, splits anywhere, and keeps only the little it needs
/// (the status, Content-Length, Connection: close, how much of the body has come). The
/// body is counted, never stored, so a 100 MB download costs no memory; nothing is
/// allocated per byte or per response once the parser exists.
///
/// A response must carry Content-Length: the benchmark's servers always send it, and a
/// response without it could only end with the connection, which would make a short body
/// look complete.
struct HTTPResponseParser {
    enum Failure: Equatable, CustomStringConvertible {
        /// Not "HTTP/1.x NNN ..." on the first line.
        case badStatusLine
        /// A header line without a colon, or a Content-Length that is not a number (or two that differ).
        case badHeader
        /// The header ended without Content-Length.
        case noContentLength
        /// A status line or header line longer than `maxLine`, or more header bytes than `maxHeader`.
        case headerTooLong

        var description: String {
            switch self {
            case .badStatusLine: return "bad status line"
            case .badHeader: return "bad header line"
            case .noContentLength: return "no Content-Length"
            case .headerTooLong: return "header too long"
            }
        }
    }

    enum Outcome: Equatable {
        /// The response is not complete yet: feed more.
        case needMore
        /// The whole response (header and Content-Length bytes of body) has been read.
        case complete
        case failed(Failure)
    }

    static let maxLine = 1024
    static let maxHeader = 16384

    /// The status code (0 until the status line has been read).
    private(set) var status = 0
    private(set) var contentLength: Int?
    /// Body bytes read so far.
    private(set) var bodyReceived = 0
    /// The server said Connection: close (it will end the connection after this response).
    private(set) var closes = false
    /// Header bytes read so far (status line and header lines with their CRLFs).
    private(set) var headerBytes = 0

    private enum Phase { case header, body, done, failed }
    private var phase = Phase.header
    private var sawStatusLine = false
    /// The current header line, without its line end (reused: capacity kept across responses).
    private var line: [UInt8] = []

    init() { line.reserveCapacity(Self.maxLine) }

    /// Ready for the next response on the same connection.
    mutating func reset() {
        status = 0; contentLength = nil; bodyReceived = 0; closes = false; headerBytes = 0
        phase = .header; sawStatusLine = false
        line.removeAll(keepingCapacity: true)
    }

    /// Whether the header has been read and the body is being counted.
    var inBody: Bool { phase == .body }

    /// Reads from `bytes` up to the end of this response at most; returns how many bytes it
    /// took (the rest belongs to whatever follows the response) and where it stands.
    mutating func feed(_ bytes: UnsafeRawBufferPointer) -> (consumed: Int, outcome: Outcome) {
        var i = 0
        while i < bytes.count {
            switch phase {
            case .done:
                return (i, .complete)
            case .failed:
                return (i, .failed(failure ?? .badHeader))
            case .body:
                let want = (contentLength ?? 0) - bodyReceived
                let take = min(want, bytes.count - i)
                bodyReceived += take
                i += take
                if bodyReceived == contentLength { phase = .done }
            case .header:
                let b = bytes[i]
                i += 1
                headerBytes += 1
                if headerBytes > Self.maxHeader { return fail(.headerTooLong, consumed: i) }
                if b == UInt8(ascii: "\n") {
                    if line.last == UInt8(ascii: "\r") { line.removeLast() }
                    if let f = endOfLine() { return fail(f, consumed: i) }
                    line.removeAll(keepingCapacity: true)
                } else {
                    if line.count == Self.maxLine { return fail(.headerTooLong, consumed: i) }
                    line.append(b)
                }
            }
        }
        switch phase {
        case .done: return (i, .complete)
        case .failed: return (i, .failed(failure ?? .badHeader))
        default: return (i, .needMore)
        }
    }

    private var failure: Failure?

    private mutating func fail(_ f: Failure, consumed: Int) -> (consumed: Int, outcome: Outcome) {
        failure = f
        phase = .failed
        return (consumed, .failed(f))
    }

    /// One whole line of the header has been read into `line`.
    private mutating func endOfLine() -> Failure? {
        if !sawStatusLine {
            sawStatusLine = true
            guard let code = Self.statusCode(line) else { return .badStatusLine }
            status = code
            return nil
        }
        if line.isEmpty {  // the blank line: the body follows
            guard let length = contentLength else { return .noContentLength }
            phase = length == 0 ? .done : .body
            return nil
        }
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > 0 else { return .badHeader }
        let name = line[..<colon]
        var v = colon + 1
        while v < line.count && (line[v] == UInt8(ascii: " ") || line[v] == UInt8(ascii: "\t")) { v += 1 }
        var end = line.count
        while end > v && (line[end - 1] == UInt8(ascii: " ") || line[end - 1] == UInt8(ascii: "\t")) { end -= 1 }
        let value = line[v..<end]
        if Self.equalsIgnoringCase(name, "content-length") {
            guard let n = Self.decimal(value) else { return .badHeader }
            if let earlier = contentLength, earlier != n { return .badHeader }
            contentLength = n
        } else if Self.equalsIgnoringCase(name, "connection") {
            // "close" anywhere in the list of connection options.
            closes = closes || Self.containsIgnoringCase(value, "close")
        }
        return nil
    }

    /// "HTTP/1.x NNN[ reason]" -> NNN.
    static func statusCode(_ l: [UInt8]) -> Int? {
        let prefix = Array("HTTP/1.".utf8)
        guard l.count >= 12, Array(l[0..<7]) == prefix, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(l[7]),
              l[8] == UInt8(ascii: " "), l.count == 12 || l[12] == UInt8(ascii: " ") else { return nil }
        guard let code = decimal(l[9..<12]), code >= 100 else { return nil }
        return code
    }

    /// A non-negative decimal of at most 18 digits (no sign, no spaces).
    static func decimal(_ digits: ArraySlice<UInt8>) -> Int? {
        guard !digits.isEmpty, digits.count <= 18 else { return nil }
        var n = 0
        for d in digits {
            guard d >= UInt8(ascii: "0") && d <= UInt8(ascii: "9") else { return nil }
            n = n * 10 + Int(d - UInt8(ascii: "0"))
        }
        return n
    }

    static func lower(_ b: UInt8) -> UInt8 { b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z") ? b + 32 : b }

    static func equalsIgnoringCase(_ s: ArraySlice<UInt8>, _ word: StaticString) -> Bool {
        guard s.count == word.utf8CodeUnitCount else { return false }
        var p = word.utf8Start
        for b in s {
            if lower(b) != p.pointee { return false }
            p += 1
        }
        return true
    }

    static func containsIgnoringCase(_ s: ArraySlice<UInt8>, _ word: StaticString) -> Bool {
        let n = word.utf8CodeUnitCount
        guard s.count >= n else { return false }
        var start = s.startIndex
        while start + n <= s.endIndex {
            if equalsIgnoringCase(s[start..<start + n], word) { return true }
            start += 1
        }
        return false
    }
}
