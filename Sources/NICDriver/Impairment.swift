/// Link impairments for one direction of the NIC driver (there is no netem here, and the TCP
/// tests need loss, duplication, reordering and delay): a pure core, given frames and the
/// time, that says which frames leave and when. Deterministic for a given seed.
struct Impairment {
    struct Config: Equatable {
        var lossPercent = 0
        var duplicatePercent = 0
        var reorderPercent = 0
        var delayNanos: UInt64 = 0
        var isActive: Bool { lossPercent > 0 || duplicatePercent > 0 || reorderPercent > 0 || delayNanos > 0 }

        /// From the driver's parameters `<prefix>.loss`, `.duplicate`, `.reorder` (percent)
        /// and `.delay_us`; nil (with the reason) if one is malformed.
        init(params: [String: String], prefix: String) throws(ConfigProblem) {
            func percent(_ key: String) throws(ConfigProblem) -> Int {
                guard let text = params["\(prefix).\(key)"] else { return 0 }
                guard let v = Int(text), (0...100).contains(v) else { throw ConfigProblem(description: "\(prefix).\(key)=\(text) is not a percentage 0...100") }
                return v
            }
            lossPercent = try percent("loss")
            duplicatePercent = try percent("duplicate")
            reorderPercent = try percent("reorder")
            if let text = params["\(prefix).delay_us"] {
                guard let v = UInt64(text), v <= 10_000_000 else { throw ConfigProblem(description: "\(prefix).delay_us=\(text) is not 0...10000000") }
                delayNanos = v * 1000
            }
        }

        init() {}
    }

    struct ConfigProblem: Error, CustomStringConvertible { let description: String }

    /// Frames held back at most (delay queue); beyond it frames are dropped and counted.
    static let maxDelayed = 4096
    /// A frame held for reordering leaves after the next frame, or after this long.
    static let maxHold: UInt64 = 10_000_000

    let config: Config
    private var state: UInt64
    private var delayed: [(due: UInt64, frame: [UInt8])] = []
    private var delayedHead = 0
    private var held: (frame: [UInt8], since: UInt64)?
    private(set) var lost: UInt64 = 0
    private(set) var duplicated: UInt64 = 0
    private(set) var reordered: UInt64 = 0
    private(set) var overflow: UInt64 = 0

    init(config: Config, seed: UInt64) {
        self.config = config
        state = seed | 1
    }

    private mutating func roll(_ percent: Int) -> Bool {
        guard percent > 0 else { return false }
        // xorshift64*: fast, and reproducible for a seed.
        state ^= state >> 12
        state ^= state << 25
        state ^= state >> 27
        return Int((state &* 2_685_821_657_736_338_717) >> 33) % 100 < percent
    }

    /// Offers one frame; `emit` is called for each frame that leaves now.
    mutating func admit(_ frame: UnsafeRawBufferPointer, now: UInt64, emit: (UnsafeRawBufferPointer) -> Void) {
        if roll(config.lossPercent) { lost &+= 1; return }
        let copies = roll(config.duplicatePercent) ? 2 : 1
        if copies == 2 { duplicated &+= 1 }
        for _ in 0..<copies {
            if held == nil && roll(config.reorderPercent) {
                held = (Array(frame), now)
                reordered &+= 1
                continue
            }
            send(frame, now: now, emit: emit)
            if let h = held {
                held = nil
                h.frame.withUnsafeBytes { send($0, now: now, emit: emit) }
            }
        }
    }

    /// Lets out what is due: delayed frames whose time has come, a frame held too long.
    mutating func release(now: UInt64, emit: (UnsafeRawBufferPointer) -> Void) {
        if let h = held, now &- h.since >= Self.maxHold {
            held = nil
            h.frame.withUnsafeBytes { send($0, now: now, emit: emit) }
        }
        while delayedHead < delayed.count, delayed[delayedHead].due <= now {
            delayed[delayedHead].frame.withUnsafeBytes { emit($0) }
            delayedHead += 1
        }
        if delayedHead > 256 && delayedHead * 2 > delayed.count {
            delayed.removeFirst(delayedHead)
            delayedHead = 0
        }
    }

    /// When something held or delayed must leave next.
    var nextDue: UInt64? {
        let d = delayedHead < delayed.count ? delayed[delayedHead].due : nil
        let h = held.map { $0.since &+ Self.maxHold }
        return [d, h].compactMap { $0 }.min()
    }

    private mutating func send(_ frame: UnsafeRawBufferPointer, now: UInt64, emit: (UnsafeRawBufferPointer) -> Void) {
        guard config.delayNanos > 0 else { emit(frame); return }
        guard delayed.count - delayedHead < Self.maxDelayed else { overflow &+= 1; return }
        // A constant delay keeps the queue in due order.
        delayed.append((now &+ config.delayNanos, Array(frame)))
    }
}
