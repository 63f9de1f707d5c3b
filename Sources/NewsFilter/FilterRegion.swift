/// How the packet filter's state region (supervisor-owned, kept across restarts) is laid out:
/// the rule store, then the mailbox through which newsd hands over new rules, then the flow
/// table, which takes the rest.
public enum FilterRegion {
    public static let mailboxOffset = (RuleStore.regionSize + 4095) & ~4095
    public static let flowsOffset = mailboxOffset + RulesMailbox.size

    public static func rules(_ region: UnsafeMutableRawBufferPointer) -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(rebasing: region[0..<RuleStore.regionSize])
    }
    public static func mailbox(_ region: UnsafeMutableRawBufferPointer) -> RulesMailbox {
        RulesMailbox(UnsafeMutableRawBufferPointer(rebasing: region[mailboxOffset..<flowsOffset]))
    }
    public static func flows(_ region: UnsafeMutableRawBufferPointer) -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(rebasing: region[flowsOffset...])
    }
}

/// A one-slot mailbox: newsd writes a rules text and bumps `request`; the packet filter
/// parses it (it trusts nothing it did not parse itself), applies it, and answers by setting
/// `ack` to the same number with a status and a message. Offsets:
///   0 request u64 · 8 length u32 · 16 ack u64 · 24 status u32 (0 ok, 1 refused) · 28 message length u32
///   64 rules text (up to `maxText`) · 64 + maxText message (up to `maxMessage`)
public struct RulesMailbox: @unchecked Sendable {
    public static let maxText = 32 * 1024
    public static let maxMessage = 1024
    public static let size = 64 + maxText + maxMessage
    let bytes: UnsafeMutableRawBufferPointer

    public init(_ bytes: UnsafeMutableRawBufferPointer) { self.bytes = bytes }

    private func u64(_ at: Int) -> UInt64 { bytes.loadUnaligned(fromByteOffset: at, as: UInt64.self) }
    private func u32(_ at: Int) -> UInt32 { bytes.loadUnaligned(fromByteOffset: at, as: UInt32.self) }
    private func text(at: Int, count: Int, max: Int) -> String {
        String(decoding: UnsafeRawBufferPointer(rebasing: bytes[at..<(at + min(count, max))]), as: UTF8.self)
    }

    public var request: UInt64 { u64(0) }
    public var ack: UInt64 { u64(16) }

    /// newsd: posts `text` as request number `request + 1`; returns that number, or nil if
    /// the text does not fit.
    public func post(_ text: String) -> UInt64? {
        let utf8 = Array(text.utf8)
        guard utf8.count <= Self.maxText else { return nil }
        UnsafeMutableRawBufferPointer(rebasing: bytes[64..<(64 + utf8.count)]).copyBytes(from: utf8)
        bytes.storeBytes(of: UInt32(utf8.count), toByteOffset: 8, as: UInt32.self)
        let next = request &+ 1
        bytes.storeBytes(of: next, toByteOffset: 0, as: UInt64.self)
        return next
    }

    /// The packet filter: the pending request, if there is one it has not answered. The
    /// length is checked; the text may still be anything.
    public func pending() -> (number: UInt64, text: String)? {
        let r = request
        guard r != ack, r != 0 else { return nil }
        return (r, text(at: 64, count: Int(u32(8)), max: Self.maxText))
    }

    public func answer(_ number: UInt64, ok: Bool, message: String) {
        let utf8 = Array(message.utf8.prefix(Self.maxMessage))
        UnsafeMutableRawBufferPointer(rebasing: bytes[(64 + Self.maxText)..<(64 + Self.maxText + utf8.count)]).copyBytes(from: utf8)
        bytes.storeBytes(of: UInt32(utf8.count), toByteOffset: 28, as: UInt32.self)
        bytes.storeBytes(of: ok ? UInt32(0) : 1, toByteOffset: 24, as: UInt32.self)
        bytes.storeBytes(of: number, toByteOffset: 16, as: UInt64.self)
    }

    /// newsd: the answer to `number`, once there is one.
    public func answer(to number: UInt64) -> (ok: Bool, message: String)? {
        guard ack == number else { return nil }
        return (u32(24) == 0, text(at: 64 + Self.maxText, count: Int(u32(28)), max: Self.maxMessage))
    }
}
