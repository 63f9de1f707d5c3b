import ArgumentParser
import NewsIPC
import NewsSystem

/// The other process of a channel benchmark or ring test (started by newsbench itself).
struct Peer: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Internal: the peer process newsbench spawns.", shouldDisplay: false)

    @Option var role: String
    @Option var ipc: String
    @Option var capacity: Int
    @Option var cpu: Int
    @Option var messages: Int = 0
    @Option var spin: Int = 0
    @Option(help: "Receive batch size; 0 rotates through several (the ring test).") var batch: Int = 0

    static let stopKind: UInt16 = 0xFFFF

    func run() throws {
        try CPU.pin(to: cpu)
        let shm = ipc == "shm"
        let channel: any Channel
        var bell: Doorbell? = nil
        var region: SharedRegion? = nil
        if shm {
            let r = try SharedRegion(fd: 3, size: ChannelLayout.regionSize(capacity: capacity), name: "bench-channel")
            let own = try SharedRegion(fd: 4, size: Doorbell.regionSize, name: "bell")
            let peer = try SharedRegion(fd: 5, size: Doorbell.regionSize, name: "peer bell")
            channel = try ShmChannel(name: "bench", base: r.base, capacity: capacity, side: .lower, peerBell: Doorbell(at: peer.base))
            bell = Doorbell(at: own.base)
            region = r
        } else {
            channel = KernelChannel(name: "bench", fd: 3)
        }
        let waiter = Waiter(bell: bell, spin: spin)
        switch role {
        case "echo": try echo(channel, waiter)
        case "sink": try sink(channel, waiter)
        case "corrupt-head": try corruptHead(channel, region!)
        case "corrupt-tail": try corruptTail(channel, waiter, region!)
        case "garbage-datagrams": try garbageDatagrams(channel as! KernelChannel)
        default: throw ValidationError("unknown role \(role)")
        }
    }

    /// Sends every message straight back until a stop message arrives.
    func echo(_ channel: any Channel, _ waiter: Waiter) throws {
        let buf = UnsafeMutableBufferPointer<Message>.allocate(capacity: 64)
        if let k = channel as? KernelChannel {
            while true {
                try k.receiveBlocking(into: buf.baseAddress!)
                if buf[0].kind == Peer.stopKind { return }
                try k.sendBlocking(buf[0])
            }
        }
        while true {
            let n = try channel.receive(into: buf)
            if n == 0 { waiter.wait([channel], timeoutNanos: 100_000_000); continue }
            for i in 0..<n where buf[i].kind == Peer.stopKind { return }
            var done = 0
            while done < n { done += try channel.send(UnsafeBufferPointer(rebasing: buf[done..<n])) }
        }
    }

    /// Receives `messages` messages with rotating batch sizes and checks each one: the
    /// sequence number and a pattern derived from it. Acknowledges with one message whose
    /// seq is the count received and arg.0 the number of errors.
    func sink(_ channel: any Channel, _ waiter: Waiter) throws {
        let sizes = batch > 0 ? [min(batch, 64)] : [64, 1, 5, 32, 17, 2]
        let buf = UnsafeMutableBufferPointer<Message>.allocate(capacity: 64)
        var expected: UInt64 = 0
        var errors: UInt64 = 0
        var round = 0
        while expected < UInt64(messages) {
            let want = sizes[round % sizes.count]
            round += 1
            let n = try channel.receive(into: UnsafeMutableBufferPointer(rebasing: buf[0..<want]))
            if n == 0 { waiter.wait([channel], timeoutNanos: 100_000_000); continue }
            for i in 0..<n {
                if buf[i].seq != expected || buf[i].arg.0 != RingPattern.value(buf[i].seq) { errors += 1 }
                expected += 1
            }
        }
        var ack = Message(kind: .probe, seq: expected, args: (errors, 0, 0, 0, 0, 0))
        ack.kind = Peer.stopKind
        while try !channel.send(ack) { Clock.sleep(nanos: 10_000) }
    }

    /// A producer that sends 100 good messages, then writes an impossible head.
    func corruptHead(_ channel: any Channel, _ region: SharedRegion) throws {
        for seq in 0..<100 { _ = try channel.send(Message(kind: .probe, seq: UInt64(seq), args: (RingPattern.value(UInt64(seq)), 0, 0, 0, 0, 0))) }
        // We are the lower end, so we produce on the up ring (the second one). Wait until the
        // other side has taken the good messages, so that what it must catch is the scribble.
        let up = region.base + ChannelLayout.ringStride(capacity: capacity)
        let deadline = Clock.nanos() + 5_000_000_000
        while RingScribbler.tail(at: up) != RingScribbler.head(at: up) && Clock.nanos() < deadline { Clock.sleep(nanos: 100_000) }
        RingScribbler.setHead(at: up, to: 0xDEAD_BEEF_0000)
        Clock.sleep(nanos: 5_000_000_000)
    }

    /// A consumer that takes 10 messages, then writes a tail that is ahead of the head.
    func corruptTail(_ channel: any Channel, _ waiter: Waiter, _ region: SharedRegion) throws {
        let buf = UnsafeMutableBufferPointer<Message>.allocate(capacity: 10)
        var got = 0
        while got < 10 {
            let n = try channel.receive(into: UnsafeMutableBufferPointer(rebasing: buf[0..<(10 - got)]))
            if n == 0 { waiter.wait([channel], timeoutNanos: 100_000_000) }
            got += n
        }
        RingScribbler.setTail(at: region.base, to: RingScribbler.head(at: region.base) &+ 12345)
        Clock.sleep(nanos: 5_000_000_000)
    }

    /// Kernel path: 10 good messages, 5 datagrams of the wrong size, 10 good messages.
    func garbageDatagrams(_ channel: KernelChannel) throws {
        for seq in 0..<10 { try channel.sendBlocking(Message(kind: .probe, seq: UInt64(seq), args: (RingPattern.value(UInt64(seq)), 0, 0, 0, 0, 0))) }
        for _ in 0..<5 { RingScribbler.sendRaw(fd: channel.fd, bytes: 13) }
        for seq in 10..<20 { try channel.sendBlocking(Message(kind: .probe, seq: UInt64(seq), args: (RingPattern.value(UInt64(seq)), 0, 0, 0, 0, 0))) }
        Clock.sleep(nanos: 2_000_000_000)
    }
}

enum RingPattern {
    /// A value no off-by-one or stale slot reproduces by accident.
    static func value(_ seq: UInt64) -> UInt64 { (seq &+ 1) &* 0x9E37_79B9_7F4A_7C15 }
}
