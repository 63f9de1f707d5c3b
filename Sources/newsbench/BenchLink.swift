import NewsIPC
import NewsSystem

/// A channel between newsbench and a peer process it spawns (newsbench itself, `peer`
/// subcommand), in either ipc mode. The peer inherits: 3 = channel region or socket, 4 = its
/// own doorbell, 5 = ours. newsbench is the upper end.
final class BenchLink {
    let shm: Bool
    let capacity: Int
    let channel: any Channel
    let bell: Doorbell?
    private var keep: [SharedRegion] = []
    private var peerFDs: [Int32] = []
    private var ownSocket: Int32 = -1

    init(shm: Bool, capacity: Int, startIndex: UInt64 = 0) throws {
        self.shm = shm
        self.capacity = capacity
        if shm {
            let region = try SharedRegion.create(name: "bench-channel", size: ChannelLayout.regionSize(capacity: capacity))
            ChannelLayout.initialize(region.base, capacity: capacity, start: startIndex)
            let peerBell = try SharedRegion.create(name: "bench-peer-bell", size: Doorbell.regionSize)
            let ownBell = try SharedRegion.create(name: "bench-bell", size: Doorbell.regionSize)
            keep = [region, peerBell, ownBell]
            channel = try ShmChannel(name: "bench", base: region.base, capacity: capacity, side: .upper, peerBell: Doorbell(at: peerBell.base))
            bell = Doorbell(at: ownBell.base)
            peerFDs = [region.fd, peerBell.fd, ownBell.fd]
        } else {
            let (a, b) = try UnixSocket.seqpacketPair()
            channel = KernelChannel(name: "bench", fd: a)
            bell = nil
            ownSocket = a
            peerFDs = [b]
        }
    }

    /// Starts the peer pinned to `cpu` in `role`.
    func spawnPeer(role: String, cpu: Int, messages: Int = 0, spin: Int = 0, batch: Int = 0) throws -> Child {
        guard let exe = Proc.executablePath() else { throw SystemError("cannot find newsbench's own path", errno: 2) }
        let args = ["newsbench", "peer", "--role", role, "--ipc", shm ? "shm" : "kernel", "--capacity", String(capacity),
                    "--cpu", String(cpu), "--messages", String(messages), "--spin", String(spin), "--batch", String(batch)]
        return try Child.spawn(path: exe, arguments: args, environment: ["SWIFT_BACKTRACE=enable=no"], descriptors: peerFDs)
    }

    /// Waits for the peer to exit and returns how.
    static func wait(_ child: Child, timeoutSeconds: Double = 60) -> ExitReason? {
        let deadline = Clock.nanos() + UInt64(timeoutSeconds * 1e9)
        while Clock.nanos() < deadline {
            if let r = child.reap() { child.closePidFD(); return r }
            Clock.sleep(nanos: 1_000_000)
        }
        child.kill()
        return nil
    }

    /// Waits for input on our end: spin then doorbell (shm), or poll (kernel).
    func waitForInput(spin: Int, timeoutNanos: UInt64 = 100_000_000) {
        Waiter(bell: bell, spin: spin).wait([channel], timeoutNanos: timeoutNanos)
    }
}
