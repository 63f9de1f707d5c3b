import ArgumentParser
import NewsSystem
import NewsWire

/// `newsbench tap-relay`: joins two TAP devices (each in its own namespace) by copying
/// frames between them in user space, so that a Linux peer can be reached over the same kind
/// of link NEWS is reached over (a TAP driven by a process), for `scripts/bench-udp.sh` and
/// `scripts/bench-tcp.sh`.
///
/// By default both TAPs are opened with offloads (`TAP.open(..., offloads: true)`: the
/// 10-byte virtio-net header, TUN_F_CSUM | TUN_F_TSO4), because NEWS's NIC driver opens its
/// TAP that way: the kernels on both sides then hand the relay TCP segments of up to 64 KB
/// with their checksums left to the receiver, as they hand them to NEWS, and the Linux
/// reference is measured over the same kind of link. Frames are copied verbatim, header
/// included: both ends use the same header, so the far kernel takes a segment exactly as the
/// near one gave it (and cuts it to MSS itself, should it forward it). `--no-offloads` gives
/// plain Ethernet frames of at most the MTU, as a TAP without offloads (and the relay before
/// offloads) carries.
struct TapRelay: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "tap-relay", abstract: "Copy frames between two TAP devices (for comparisons).")
    @Option(help: "NETNS:TAP of the first device.") var a: String
    @Option(help: "NETNS:TAP of the second device.") var b: String
    @Option(help: "Stop after this many seconds.") var seconds: Int = 600
    @Flag(help: "Open the TAPs without the virtio-net header and offloads (plain frames).") var noOffloads = false

    /// The largest frame a TAP with offloads gives: the virtio-net header, an Ethernet
    /// header and a 64 KB IP packet; a read into less would truncate a TSO segment.
    static let bufferSize = VirtioNetHeader.length + 14 + 65536 + 64

    func open(_ spec: String) throws -> Int32 {
        let parts = spec.split(separator: ":", maxSplits: 1).map(String.init)
        guard parts.count == 2, !parts[1].isEmpty else { throw ValidationError("want NETNS:TAP, got \(spec)") }
        return try TAP.open(name: parts[1], netns: parts[0], offloads: !noOffloads)
    }

    func run() throws {
        let fa = try open(a), fb = try open(b)
        FD.writeAllIgnoringErrors(1, "tap-relay: ready (offloads \(noOffloads ? "off" : "on"))\n")
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.bufferSize, alignment: 64)
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
