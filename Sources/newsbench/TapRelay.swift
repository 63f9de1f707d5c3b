import ArgumentParser
import NewsSystem

/// `newsbench tap-relay`: joins two TAP devices (each in its own namespace) by copying
/// frames between them in user space, so that a Linux peer can be reached over the same kind
/// of link NEWS is reached over (a TAP driven by a process), for `scripts/bench-udp.sh`.
struct TapRelay: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "tap-relay", abstract: "Copy frames between two TAP devices (for comparisons).")
    @Option(help: "NETNS:TAP of the first device.") var a: String
    @Option(help: "NETNS:TAP of the second device.") var b: String
    @Option(help: "Stop after this many seconds.") var seconds: Int = 600

    func open(_ spec: String) throws -> Int32 {
        let parts = spec.split(separator: ":", maxSplits: 1).map(String.init)
        guard parts.count == 2, !parts[1].isEmpty else { throw ValidationError("want NETNS:TAP, got \(spec)") }
        return try TAP.open(name: parts[1], netns: parts[0])
    }

    func run() throws {
        let fa = try open(a), fb = try open(b)
        FD.writeAllIgnoringErrors(1, "tap-relay: ready\n")
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 64)
        let deadline = Clock.nanos() + UInt64(seconds) * 1_000_000_000
        while Clock.nanos() < deadline {
            var entries = [Poll.Entry(fd: fa), Poll.Entry(fd: fb)]
            Poll.wait(&entries, timeoutMillis: 100)
            for (from, to) in [(fa, fb), (fb, fa)] where entries[from == fa ? 0 : 1].readable {
                for _ in 0..<64 {
                    guard let n = FD.read(from, into: buffer).count else { break }
                    _ = FD.writeOnce(to, UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
                }
            }
        }
    }
}
