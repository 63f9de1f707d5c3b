import NewsIPC
import NewsSystem

/// `newsctl capture`: frames the NIC driver mirrors to newsd are written, as a pcap stream
/// (libpcap format, Ethernet link type), straight to the newsctl connection, which writes
/// the file. newsd never opens a path on anyone's behalf, and never waits for the client:
/// the connection is non-blocking, what it cannot take yet waits in a bounded buffer, and
/// frames that would overflow it are dropped and counted (`capture_dropped`).
final class CaptureEngine {
    let channel: any Channel
    private(set) var client: Int32?
    private var remaining = 0
    private var deadline: UInt64 = 0
    private(set) var written = 0
    private(set) var framesTotal: UInt64 = 0
    private(set) var writeFailed = false
    private var pending: [UInt8] = []
    private var overAt: UInt64? = nil
    private(set) var dropped: UInt64 = 0

    static let maxCount = 1_000_000
    /// What may wait for a slow reader; beyond it frames are dropped.
    static let maxPending = 4 << 20
    /// How long a finished capture waits for its reader to take the rest.
    static let drainGrace: UInt64 = 2_000_000_000
    static let snapLength = 65535

    init(channel: any Channel) { self.channel = channel }

    var active: Bool { client != nil }

    /// Starts a capture of `count` frames (or until `seconds` pass) to `client`.
    func start(client fd: Int32, count: Int, seconds: Int, now: UInt64) {
        // Discard whatever an earlier capture left queued.
        _ = try? channel.receive(max: 1 << 20) { _, _ in }
        client = fd
        remaining = count
        written = 0
        writeFailed = false
        pending = []
        overAt = nil
        deadline = now + UInt64(seconds) * 1_000_000_000
        var header: [UInt8] = []
        header += le32(0xA1B2_C3D4) + le16(2) + le16(4) + le32(0) + le32(0) + le32(UInt32(Self.snapLength)) + le32(1)
        send(header)
    }

    /// Drains mirrored frames into the stream; returns true once the capture is over.
    func step(now: UInt64) -> Bool {
        guard active else { return false }
        while remaining > 0 {
            let n = (try? channel.receive(max: 64) { m, frame in record(m, frame) }) ?? 0
            if n == 0 { break }
        }
        flush()
        if writeFailed { return true }
        guard remaining <= 0 || now >= deadline else { return false }
        if overAt == nil { overAt = now }
        return pending.isEmpty || now &- overAt! >= Self.drainGrace
    }

    private func record(_ m: Message, _ frame: UnsafeRawBufferPointer) {
        guard remaining > 0, m.kind == MessageKind.frame.rawValue else { return }
        let ns = m.arg.1
        var rec = le32(UInt32(truncatingIfNeeded: ns / 1_000_000_000)) + le32(UInt32((ns % 1_000_000_000) / 1000))
        rec += le32(UInt32(frame.count)) + le32(UInt32(frame.count))
        rec += Array(frame)
        send(rec)
        remaining -= 1
        written += 1
        framesTotal &+= 1
    }

    /// Ends the capture; returns the client descriptor to close.
    func finish() -> Int32? {
        defer { client = nil }
        return client
    }

    private func send(_ bytes: [UInt8]) {
        guard client != nil, !writeFailed else { return }
        guard pending.count + bytes.count <= Self.maxPending else { dropped &+= 1; return }
        pending += bytes
        flush()
    }

    private func flush() {
        guard let client, !writeFailed, !pending.isEmpty else { return }
        do {
            let n = try FD.writeSome(client, pending)
            pending.removeFirst(n)
        } catch { writeFailed = true }
    }

    private func le16(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8)] }
    private func le32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8((v >> (8 * UInt32($0))) & 0xFF) } }
}
