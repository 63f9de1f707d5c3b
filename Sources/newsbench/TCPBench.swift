import ArgumentParser
import NewsSystem

/// `newsbench tcp`: HTTP/1.1 over TCP against several servers, one after the other in one
/// run, from this process (a Linux TCP client; `scripts/bench-tcp.sh` runs it inside the
/// client's namespace): bulk throughput each way (a GET of a large file, a PUT of
/// `--upload-bytes` that the server discards) and request/response with K requests per
/// connection over C concurrent connections. For each case and target: requests/s (or MB/s),
/// p50/p99 latency of a request (its send to the last byte of its response), errors by
/// kind, and the ratio to the first target. Cases are run in order, each against every
/// target before the next case, so targets see the same moment of a shared machine.
///
/// One thread drives all connections with poll(2) over non-blocking sockets; the hot path
/// is system calls on preallocated buffers and `HTTPResponseParser`, which allocates nothing.
struct TCPBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tcp", abstract: "HTTP over TCP: bulk MB/s each way, request/response rate and p50/p99, per target.")

    @Option(name: .customLong("target"), help: "NAME=A.B.C.D:PORT (repeat; the first is the reference for ratios).")
    var targets: [String] = []
    @Option(help: "Comma-separated cases: bulk-down, bulk-up, rr-kK-FILE (K requests per connection, GET /FILE); groups all, bulk, rr.")
    var cases: String = "all"
    @Option(help: "Concurrent connections for request/response.") var conns: Int = 16
    @Option(help: "Seconds each case runs against each target (bulk: transfers back to back until then, at least one).")
    var seconds: Double = 5
    @Option(help: "Seconds of unmeasured request/response before each measurement.") var warmup: Double = 0.2
    @Option(help: "The large file bulk-down GETs.") var downloadPath: String = "/100m"
    @Option(help: "Where bulk-up PUTs its body.") var uploadPath: String = "/upload"
    @Option(help: "Bytes bulk-up sends per transfer.") var uploadBytes: Int = 100_000_000
    @Option(help: "A request or transfer without progress for this many milliseconds is a timeout error.")
    var timeoutMs: Int = 3000
    @Flag(help: "Print CSV instead of a table.") var csv = false

    func validate() throws {
        guard !targets.isEmpty else { throw ValidationError("give at least one --target") }
        do {
            for t in targets { _ = try BenchTarget.parse(t) }
            _ = try TCPCase.parseList(cases)
        } catch let e as BenchUsage { throw ValidationError(e.description) }
        guard (1...1000).contains(conns) else { throw ValidationError("--conns must be 1...1000") }
        guard seconds > 0 && seconds <= 600 else { throw ValidationError("--seconds must be in (0, 600]") }
        guard warmup >= 0 && warmup <= 10 else { throw ValidationError("--warmup must be 0...10") }
        guard (1...10_000_000_000).contains(uploadBytes) else { throw ValidationError("--upload-bytes must be 1...10^10") }
        guard (100...600_000).contains(timeoutMs) else { throw ValidationError("--timeout-ms must be 100...600000") }
        for p in [downloadPath, uploadPath] where !p.hasPrefix("/") || p.contains(" ") || p.contains("\r") || p.contains("\n") {
            throw ValidationError("a path starts with / and has no spaces: \(p)")
        }
    }

    func run() throws {
        let parsed = try targets.map(BenchTarget.parse)
        var rows: [TCPRow] = []
        for c in try TCPCase.parseList(cases) {
            for t in parsed { rows.append(measure(c, on: t)) }
        }
        print(csv ? TCPReport.csv(rows) : TCPReport.table(rows), terminator: "")
    }

    func measure(_ c: TCPCase, on t: BenchTarget) -> TCPRow {
        let timeout = UInt64(timeoutMs) * 1_000_000
        switch c {
        case .rr(let k, let path):
            let load = RequestResponseLoad(target: t, path: path, perConnection: k, connections: conns, timeoutNanos: timeout)
            // Errors in the warm-up count too: they would hide behind it otherwise.
            let warm = warmup > 0 ? load.run(seconds: warmup, recording: false).errors : TCPErrors()
            var r = load.run(seconds: seconds, recording: true)
            r.errors.add(warm)
            return TCPRow(target: t.name, testCase: c.name, connections: conns, seconds: r.seconds, completed: r.completed,
                          bytes: r.bytes, p50Nanos: TCPReport.percentile(r.latencies, 0.5),
                          p99Nanos: TCPReport.percentile(r.latencies, 0.99), errors: r.errors, isBulk: false)
        case .bulkDown, .bulkUp:
            let bulk = BulkTransfer(target: t, timeoutNanos: timeout)
            let r = c == .bulkDown ? bulk.downloads(path: downloadPath, seconds: seconds)
                                   : bulk.uploads(path: uploadPath, bytes: uploadBytes, seconds: seconds)
            return TCPRow(target: t.name, testCase: c.name, connections: 1, seconds: r.seconds, completed: r.completed,
                          bytes: r.bytes, p50Nanos: TCPReport.percentile(r.latencies, 0.5),
                          p99Nanos: TCPReport.percentile(r.latencies, 0.99), errors: r.errors, isBulk: true)
        }
    }
}

/// What one measured stretch gave.
struct LoadResult {
    var completed = 0
    var bytes = 0
    var seconds = 0.0
    /// Ascending, nanoseconds.
    var latencies: [UInt64] = []
    var errors = TCPErrors()
}

/// Request bytes kept outside Swift arrays, so sends take a pointer without bridging.
final class RequestBytes {
    let bytes: UnsafeMutableRawBufferPointer
    init(_ text: String) {
        let utf8 = Array(text.utf8)
        bytes = .allocate(byteCount: utf8.count, alignment: 8)
        bytes.copyBytes(from: utf8)
    }
    deinit { bytes.deallocate() }
    func suffix(from offset: Int) -> UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: bytes[offset...]) }
    var count: Int { bytes.count }

    static func get(_ t: BenchTarget, path: String, close: Bool) -> RequestBytes {
        RequestBytes("GET \(path) HTTP/1.1\r\nHost: \(hostHeader(t))\r\nUser-Agent: newsbench\r\n"
                     + (close ? "Connection: close\r\n" : "") + "\r\n")
    }

    static func put(_ t: BenchTarget, path: String, length: Int) -> RequestBytes {
        RequestBytes("PUT \(path) HTTP/1.1\r\nHost: \(hostHeader(t))\r\nUser-Agent: newsbench\r\n"
                     + "Content-Type: application/octet-stream\r\nContent-Length: \(length)\r\nConnection: close\r\n\r\n")
    }

    static func hostHeader(_ t: BenchTarget) -> String {
        let a = t.address
        return "\(a >> 24).\((a >> 16) & 0xFF).\((a >> 8) & 0xFF).\(a & 0xFF):\(t.port)"
    }
}

/// C connections, each doing K GET requests one after the other (the K-th with
/// `Connection: close`, so the server closes and holds the TIME-WAIT, as a server does
/// under HTTP load; the client closes once it has seen the end of the stream), then a new
/// connection in its place, until the time is up.
final class RequestResponseLoad {
    enum Phase { case idle, connecting, sending, receiving, closing }

    struct Slot {
        var fd: Int32 = -1
        var phase = Phase.idle
        /// Requests completed on this connection.
        var done = 0
        /// Bytes of the current request sent.
        var sent = 0
        /// When the current request's first byte was sent.
        var started: UInt64 = 0
        var lastProgress: UInt64 = 0
        var parser = HTTPResponseParser()
    }

    let target: BenchTarget
    let perConnection: Int
    let timeoutNanos: UInt64
    let keepAlive: RequestBytes
    let last: RequestBytes
    private var slots: [Slot]
    private let poll: PollSet
    private let buffer: UnsafeMutableRawBufferPointer
    private var result = LoadResult()
    private var recording = false
    /// When the measured stretch ends: no new connections or requests after it.
    private var deadline: UInt64 = 0

    init(target: BenchTarget, path: String, perConnection: Int, connections: Int, timeoutNanos: UInt64) {
        self.target = target
        self.perConnection = perConnection
        self.timeoutNanos = timeoutNanos
        keepAlive = .get(target, path: path, close: false)
        last = .get(target, path: path, close: true)
        slots = Array(repeating: Slot(), count: connections)
        poll = PollSet(capacity: connections)
        buffer = .allocate(byteCount: 1 << 16, alignment: 64)
    }

    deinit { buffer.deallocate() }

    /// Runs for `seconds`, then drains: requests in flight then are finished (within the
    /// timeout; they are not counted, but their errors are) and their connections closed
    /// in order, so that neither the next measurement nor the server sees a burst of resets.
    func run(seconds: Double, recording: Bool) -> LoadResult {
        self.recording = recording
        result = LoadResult()
        result.latencies.reserveCapacity(1 << 18)
        let start = Clock.nanos()
        deadline = start + UInt64(seconds * 1e9)
        let drainEnd = deadline + timeoutNanos
        var now = start
        while true {
            let draining = now >= deadline
            if draining && (now >= drainEnd || slots.allSatisfy({ $0.phase == .idle })) { break }
            if !draining {
                for i in slots.indices where slots[i].phase == .idle { open(i, now: now) }
            }
            for i in slots.indices {
                let s = slots[i]
                let events: Int16 = switch s.phase {
                case .connecting, .sending: PollSet.writable
                case .receiving, .closing: PollSet.readable
                case .idle: 0
                }
                poll.set(i, fd: s.phase == .idle ? -1 : s.fd, events: events)
            }
            let waitMillis = Int32(draining ? 10 : min(50, max(1, (deadline - now) / 1_000_000)))
            poll.wait(count: slots.count, timeoutMillis: waitMillis)
            now = Clock.nanos()
            for i in slots.indices {
                let ev = poll.revents(i)
                if ev != 0 && slots[i].phase != .idle { handle(i, events: ev, now: now) }
                if slots[i].phase != .idle && now - slots[i].lastProgress > timeoutNanos {
                    result.errors.timeout += 1
                    abort(i)
                }
            }
        }
        for i in slots.indices where slots[i].phase != .idle {
            result.errors.timeout += 1
            abort(i)
        }
        result.seconds = Double(deadline - start) / 1e9
        result.latencies.sort()
        return result
    }

    private func open(_ i: Int, now: UInt64) {
        let fd = LinuxTCP.connect(address: target.address, port: target.port)
        slots[i].lastProgress = now
        if fd < 0 {
            count(.connect)
            return
        }
        slots[i].fd = fd
        slots[i].phase = .connecting
        slots[i].done = 0
    }

    private enum Kind { case connect, reset, badStatus, shortBody, malformed }

    private func count(_ k: Kind) {
        switch k {
        case .connect: result.errors.connect += 1
        case .reset: result.errors.reset += 1
        case .badStatus: result.errors.badStatus += 1
        case .shortBody: result.errors.shortBody += 1
        case .malformed: result.errors.malformed += 1
        }
    }

    private func abort(_ i: Int) {
        if slots[i].fd >= 0 { LinuxTCP.close(slots[i].fd) }
        slots[i].fd = -1
        slots[i].phase = .idle
        slots[i].done = 0
        slots[i].parser.reset()
    }

    private func handle(_ i: Int, events: Int16, now: UInt64) {
        switch slots[i].phase {
        case .connecting:
            let err = LinuxTCP.pendingError(slots[i].fd)
            if err != 0 { count(.connect); abort(i); return }
            if now >= deadline { abort(i); return }  // draining: an established connection closes with a FIN
            startRequest(i, now: now)
        case .sending:
            sendSome(i, now: now)
        case .receiving, .closing:
            receive(i, now: now)
        case .idle:
            break
        }
    }

    private func startRequest(_ i: Int, now: UInt64) {
        slots[i].phase = .sending
        slots[i].sent = 0
        slots[i].started = now
        slots[i].lastProgress = now
        slots[i].parser.reset()
        sendSome(i, now: now)
    }

    private func sendSome(_ i: Int, now: UInt64) {
        let request = slots[i].done == perConnection - 1 ? last : keepAlive
        while slots[i].sent < request.count {
            let n = LinuxTCP.send(slots[i].fd, request.suffix(from: slots[i].sent))
            if n == -Int(Errno.again) { return }
            if n <= 0 { count(.reset); abort(i); return }
            slots[i].sent += n
            slots[i].lastProgress = now
        }
        slots[i].phase = .receiving
    }

    private func receive(_ i: Int, now: UInt64) {
        while slots[i].phase == .receiving || slots[i].phase == .closing {
            let n = LinuxTCP.receive(slots[i].fd, into: buffer)
            if n == -Int(Errno.again) { return }
            if n < 0 { count(.reset); abort(i); return }
            if n == 0 {
                if slots[i].phase == .closing {  // the server closed after the last response: done
                    abort(i)
                } else {
                    count(.shortBody); abort(i)
                }
                return
            }
            slots[i].lastProgress = now
            if slots[i].phase == .closing { count(.malformed); abort(i); return }  // bytes after the last response
            let (used, outcome) = slots[i].parser.feed(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            switch outcome {
            case .needMore:
                continue
            case .failed:
                count(.malformed); abort(i); return
            case .complete:
                // Nothing was pipelined, so nothing may follow the response.
                if used < n { count(.malformed); abort(i); return }
                if slots[i].parser.status != 200 { count(.badStatus); abort(i); return }
                if recording && now < deadline {
                    result.completed += 1
                    result.bytes += slots[i].parser.headerBytes + slots[i].parser.bodyReceived
                    result.latencies.append(now - slots[i].started)
                }
                slots[i].done += 1
                if slots[i].done < perConnection && now >= deadline {
                    abort(i)  // draining: no more requests; nothing is unread, so close sends a FIN
                    return
                }
                if slots[i].done < perConnection {
                    startRequest(i, now: now)
                    return
                }
                if slots[i].parser.closes {
                    slots[i].phase = .closing
                } else {  // the server keeps it open though asked to close: the client closes
                    abort(i)
                    return
                }
            }
        }
    }
}

/// One connection at a time, one transfer on each: a GET of a large file (the body counted
/// as it comes), or a PUT of a body the server discards (timed to the server's answer, so
/// the figure is what the server took in, not what the client's send buffer swallowed).
final class BulkTransfer {
    let target: BenchTarget
    let timeoutNanos: UInt64
    private let poll = PollSet(capacity: 1)
    private let buffer: UnsafeMutableRawBufferPointer
    private let pattern: UnsafeMutableRawBufferPointer

    init(target: BenchTarget, timeoutNanos: UInt64) {
        self.target = target
        self.timeoutNanos = timeoutNanos
        buffer = .allocate(byteCount: 1 << 18, alignment: 64)
        // The upload's body: printable bytes, not zeros, in case a path on the way treats
        // runs of zeros specially.
        pattern = .allocate(byteCount: 1 << 18, alignment: 64)
        for i in 0..<pattern.count { pattern[i] = UInt8(ascii: "a") + UInt8(i % 26) }
    }

    deinit { buffer.deallocate(); pattern.deallocate() }

    func downloads(path: String, seconds: Double) -> LoadResult {
        let request = RequestBytes.get(target, path: path, close: true)
        return repeated(seconds: seconds) { fd, r in self.transfer(fd, request: request, body: 0, into: &r) }
    }

    func uploads(path: String, bytes: Int, seconds: Double) -> LoadResult {
        let request = RequestBytes.put(target, path: path, length: bytes)
        return repeated(seconds: seconds) { fd, r in self.transfer(fd, request: request, body: bytes, into: &r) }
    }

    /// Transfers back to back until `seconds` have passed (at least one), each on a new
    /// connection; stops at the first that fails. The figure is the bytes over the time
    /// spent transferring (connection setup and teardown excluded).
    private func repeated(seconds: Double, _ one: (Int32, inout LoadResult) -> Bool) -> LoadResult {
        var r = LoadResult()
        let deadline = Clock.nanos() + UInt64(seconds * 1e9)
        repeat {
            guard let fd = connected(&r) else { break }
            let ok = one(fd, &r)
            if ok { awaitEnd(fd) }
            LinuxTCP.close(fd)
            if !ok { break }
        } while Clock.nanos() < deadline
        r.latencies.sort()
        r.seconds = Double(r.latencies.reduce(0, +)) / 1e9
        return r
    }

    /// Waits for `events` on `fd` until something happens or `timeoutNanos` pass; false on timeout.
    private func wait(_ fd: Int32, _ events: Int16) -> Bool {
        poll.set(0, fd: fd, events: events)
        return poll.wait(count: 1, timeoutMillis: Int32(timeoutNanos / 1_000_000)) > 0
    }

    private func connected(_ r: inout LoadResult) -> Int32? {
        let fd = LinuxTCP.connect(address: target.address, port: target.port)
        if fd < 0 { r.errors.connect += 1; return nil }
        if !wait(fd, PollSet.writable) { r.errors.timeout += 1; LinuxTCP.close(fd); return nil }
        if LinuxTCP.pendingError(fd) != 0 { r.errors.connect += 1; LinuxTCP.close(fd); return nil }
        return fd
    }

    /// After a Connection: close response the server ends the stream; wait for that (briefly)
    /// so the server, not this client, holds the TIME-WAIT.
    private func awaitEnd(_ fd: Int32) {
        let deadline = Clock.nanos() + 1_000_000_000
        while Clock.nanos() < deadline, wait(fd, PollSet.readable) {
            let n = LinuxTCP.receive(fd, into: buffer)
            if n == -Int(Errno.again) { continue }
            return
        }
    }

    /// Sends the request and `body` bytes (from `pattern`), reads the response,
    /// and books it in `r`: the body bytes of a GET, or the `body` of a PUT, and the time
    /// from the first byte sent to the last byte of the response.
    private func transfer(_ fd: Int32, request: RequestBytes, body: Int, into r: inout LoadResult) -> Bool {
        var parser = HTTPResponseParser()
        let started = Clock.nanos()
        var headSent = 0, bodySent = 0
        while headSent < request.count || bodySent < body {
            let n: Int
            if headSent < request.count {
                n = LinuxTCP.send(fd, request.suffix(from: headSent))
                if n > 0 { headSent += n }
            } else {
                let chunk = min(pattern.count, body - bodySent)
                n = LinuxTCP.send(fd, UnsafeRawBufferPointer(rebasing: pattern[0..<chunk]))
                if n > 0 { bodySent += n }
            }
            if n == -Int(Errno.again) {
                // Poll for input too: a server that answers early (an error) would stall us otherwise.
                if !wait(fd, PollSet.writable | PollSet.readable) { r.errors.timeout += 1; return false }
                if poll.revents(0) & PollSet.readable != 0 && poll.revents(0) & PollSet.writable == 0 { break }
                continue
            }
            if n <= 0 { r.errors.reset += 1; return false }
        }
        while true {
            let n = LinuxTCP.receive(fd, into: buffer)
            if n == -Int(Errno.again) {
                if !wait(fd, PollSet.readable) { r.errors.timeout += 1; return false }
                continue
            }
            if n < 0 { r.errors.reset += 1; return false }
            if n == 0 { r.errors.shortBody += 1; return false }
            let (used, outcome) = parser.feed(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            switch outcome {
            case .needMore: continue
            case .failed: r.errors.malformed += 1; return false
            case .complete:
                if used < n { r.errors.malformed += 1; return false }
                if parser.status != 200 { r.errors.badStatus += 1; return false }
                if bodySent < body { r.errors.malformed += 1; return false }  // answered before the whole body came
                r.completed += 1
                r.bytes += body > 0 ? body : parser.bodyReceived
                r.latencies.append(Clock.nanos() - started)
                return true
            }
        }
    }
}
