import ArgumentParser
import NewsSystem
import NewsWire

/// `newsbench udp`: UDP echo request/response against several echo servers, one after the
/// other in one run, from this process (a Linux UDP client): requests/s and round-trip
/// p50/p99 for each, at each number of requests in flight, with the ratio of each target to
/// the first. `scripts/bench-udp.sh` runs it against NEWS and against Linux, in both ipc
/// modes, inside namespaces it makes.
struct UDPBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "udp", abstract: "UDP echo request/response: requests/s and p50/p99 per target.")

    @Option(name: .customLong("target"), help: "NAME=A.B.C.D:PORT (repeat; the first is the reference for ratios).")
    var targets: [String] = []
    @Option(help: "Requests per measurement.") var requests: Int = 20000
    @Option(help: "Requests in flight, comma-separated.") var inFlight: String = "1,32"
    @Option(help: "Payload bytes (at least 16).") var size: Int = 64
    @Flag(help: "Print CSV instead of a table.") var csv = false

    typealias Target = BenchTarget
    struct Row { let target: String; let window: Int; let rps: Double; let p50: Double; let p99: Double; let lost: Int }

    func parsedTargets() throws -> [Target] { try Self.parse(targets) }

    /// `NAME=A.B.C.D:PORT` options (also `newsbench stalls`'s).
    static func parse(_ targets: [String]) throws -> [Target] {
        do { return try targets.map(BenchTarget.parse) } catch let e as BenchUsage { throw ValidationError(e.description) }
    }

    func windows() throws -> [Int] {
        let w = inFlight.split(separator: ",").compactMap { Int($0) }
        guard !w.isEmpty, w.allSatisfy({ (1...256).contains($0) }) else { throw ValidationError("--in-flight wants numbers 1...256") }
        return w
    }

    func validate() throws {
        guard !targets.isEmpty else { throw ValidationError("give at least one --target") }
        _ = try parsedTargets()
        _ = try windows()
        guard (16...1472).contains(size) else { throw ValidationError("--size must be 16...1472") }
        guard (100...10_000_000).contains(requests) else { throw ValidationError("--requests must be 100...10000000") }
    }

    func run() throws {
        var rows: [Row] = []
        for window in try windows() {
            for t in try parsedTargets() { rows.append(try measure(t, window: window)) }
        }
        print(csv ? Self.csv(rows) : Self.table(rows), terminator: "")
    }

    func measure(_ t: Target, window: Int) throws -> Row {
        let client = try LinuxUDPClient(address: t.address, port: t.port)
        let out = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 8)
        let inb = UnsafeMutableRawBufferPointer.allocate(byteCount: 2048, alignment: 8)
        defer { out.deallocate(); inb.deallocate() }
        out.initializeMemory(as: UInt8.self, repeating: 0x5A)
        var rtts = [UInt64]()
        rtts.reserveCapacity(requests)
        var sent = 0, lost = 0
        // Warm-up (ARP, caches), not measured.
        for _ in 0..<min(200, requests) {
            out.storeBytes(of: Clock.nanos(), toByteOffset: 8, as: UInt64.self)
            _ = client.send(UnsafeRawBufferPointer(out))
            _ = client.receive(into: inb)
        }
        let start = Clock.nanos()
        var outstanding = 0
        while sent < requests || outstanding > 0 {
            while sent < requests && outstanding < window {
                out.storeBytes(of: UInt64(sent), toByteOffset: 0, as: UInt64.self)
                out.storeBytes(of: Clock.nanos(), toByteOffset: 8, as: UInt64.self)
                if client.send(UnsafeRawBufferPointer(out)) { sent += 1; outstanding += 1 } else { break }
            }
            guard let n = client.receive(into: inb) else {
                lost += outstanding   // a second of silence: what is out is lost
                outstanding = 0
                continue
            }
            outstanding -= 1
            if n >= 16 {
                let ts = inb.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
                let now = Clock.nanos()
                if ts >= start && ts <= now { rtts.append(now - ts) }
            }
        }
        let seconds = Double(Clock.nanos() - start) / 1e9
        rtts.sort()
        func pct(_ p: Double) -> Double { rtts.isEmpty ? 0 : Double(rtts[min(rtts.count - 1, Int(Double(rtts.count) * p))]) / 1000 }
        return Row(target: t.name, window: window, rps: Double(rtts.count) / seconds, p50: pct(0.5), p99: pct(0.99), lost: lost)
    }

    static func table(_ rows: [Row]) -> String {
        func f(_ v: Double, _ d: Int) -> String { d == 0 ? String(Int(v.rounded())) : String((v * 10).rounded() / 10) }
        var out = "TARGET          IN FLIGHT  REQ/S      P50 µs    P99 µs    LOST  REQ/S RATIO\n"
        for r in rows {
            let ref = rows.first { $0.window == r.window }!
            out += r.target.padding(16) + String(r.window).padding(11) + f(r.rps, 0).padding(11) + f(r.p50, 1).padding(10)
                + f(r.p99, 1).padding(10) + String(r.lost).padding(6) + f(r.rps / ref.rps * 100, 0) + "%\n"
        }
        return out
    }

    static func csv(_ rows: [Row]) -> String {
        "target,in_flight,requests_per_s,p50_us,p99_us,lost\n" + rows.map { "\($0.target),\($0.window),\($0.rps),\($0.p50),\($0.p99),\($0.lost)" }.joined(separator: "\n") + "\n"
    }
}

/// `newsbench linux-echo`: a UDP echo server on the Linux stack, the reference that
/// `newsbench udp` compares NEWS against (same loop as newsecho: receive, send back).
struct LinuxEcho: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "linux-echo", abstract: "A UDP echo server on Linux sockets, for comparisons.")
    @Option(help: "UDP port.") var port: UInt16 = 7
    func run() throws {
        let s = try LinuxUDPSocket(port: port, anyAddress: true, blocking: true)
        FD.writeAllIgnoringErrors(1, "linux-echo: listening on UDP port \(port)\n")
        s.echoForever()
    }
}
