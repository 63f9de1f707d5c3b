import CNewsLinux

/// An exposed socket buffer (news_sock_header_t, then a channel layout): the application
/// is the upper end (it sends on the down ring), the transport server the lower end. The
/// header's second and third cache lines have the layout of a doorbell: the transport wakes
/// a sleeping application on the second exactly as servers wake each other, and the
/// application wakes a sleeping transport through the third and the socket's own eventfd
/// (its "kick"). Nothing of the transport's own is in the region or goes with it.
public enum SocketLayout {
    public static let capacity = 64
    /// A 9000-byte datagram with room to spare.
    public static let slot = 9216
    public static let headerSize = 4096
    public static var regionSize: Int { headerSize + ChannelLayout.regionSize(capacity: capacity, slot: slot) }

    public enum State: UInt32, Sendable { case open = 1, bound = 2, connected = 3, closed = 4 }

    /// newsd, when it creates a socket's region.
    public static func initialize(_ base: UnsafeMutableRawPointer, id: UInt32) {
        base.initializeMemory(as: UInt8.self, repeating: 0, count: headerSize)
        let h = base.assumingMemoryBound(to: news_sock_header_t.self)
        h.pointee.magic = NEWS_SOCK_MAGIC
        h.pointee.version = 1
        h.pointee.id = id
        news_store_release_u32(&h.pointee.state, State.open.rawValue)
        ChannelLayout.initialize(base + headerSize, capacity: capacity)
    }

    public static func channel(_ base: UnsafeMutableRawPointer) -> UnsafeMutableRawPointer { base + headerSize }
}

/// Typed access to a socket header. Both sides may write it, so each side reads only what
/// the other owns and checks it.
public struct SocketHeader: @unchecked Sendable {
    let h: UnsafeMutablePointer<news_sock_header_t>
    public init(_ base: UnsafeMutableRawPointer) { h = base.assumingMemoryBound(to: news_sock_header_t.self) }

    public var valid: Bool { h.pointee.magic == NEWS_SOCK_MAGIC && h.pointee.version == 1 }
    public var id: UInt32 { h.pointee.id }
    /// The application's wake-up word, shaped like a doorbell.
    public var appBell: Doorbell { Doorbell(at: UnsafeMutableRawPointer(h) + 64) }
    /// The application's way to wake the transport: the third line and the socket's kick
    /// eventfd. The transport marks the line "sleeps in poll" (2) before it sleeps; ringing
    /// then writes the kick. A scribbled line can only delay this socket's own wake-ups.
    public func stackBell(kick: Int32) -> Doorbell { Doorbell(at: UnsafeMutableRawPointer(h) + 128, eventFD: kick) }

    public var state: SocketLayout.State? { SocketLayout.State(rawValue: news_load_acquire_u32(&h.pointee.state)) }
    public var local: (address: UInt32, port: UInt16) { (h.pointee.local_addr, h.pointee.local_port) }
    public var remote: (address: UInt32, port: UInt16) { (h.pointee.remote_addr, h.pointee.remote_port) }
    public var controlDone: UInt32 { news_load_acquire_u32(&h.pointee.ctl_done) }
    public var controlResult: Int32 { h.pointee.ctl_result }
    public var error: Int32 { h.pointee.error }

    // ---- the transport writes these ----------------------------------------------------
    public func set(local address: UInt32, port: UInt16) { h.pointee.local_addr = address; h.pointee.local_port = port }
    public func set(remote address: UInt32, port: UInt16) { h.pointee.remote_addr = address; h.pointee.remote_port = port }
    public func set(state: SocketLayout.State) { news_store_release_u32(&h.pointee.state, state.rawValue) }
    public func set(error: Int32) { h.pointee.error = error }
    /// Before the transport sleeps: the application must kick it to be heard.
    public func armKick() { news_store_release_u32(&h.pointee.stack_sleeping, 2) }
    /// The same, with the number of this sleep (the line's otherwise unused `stack_seq`,
    /// stored first): an application that kicked the stack for this sleep through one of its
    /// sockets need not kick it again through another (`KickLedger`), since the stack, once
    /// awake, looks at every socket.
    public func armKick(generation: UInt32) {
        news_store_release_u32(&h.pointee.stack_seq, generation)
        news_store_release_u32(&h.pointee.stack_sleeping, 2)
    }
    public func disarmKick() { news_store_release_u32(&h.pointee.stack_sleeping, 0) }
    /// Answers control request `number` (after the fields it changed are written).
    public func answer(_ number: UInt32, result: Int32) {
        h.pointee.ctl_result = result
        news_store_release_u32(&h.pointee.ctl_done, number)
        appBell.ring()
    }
    /// Whether the stack sleeps in poll(2) and must be kicked, and the number of that sleep.
    public var stackSleepsInPoll: Bool { news_load_acquire_u32(&h.pointee.stack_sleeping) == 2 }
    public var kickGeneration: UInt32 { news_load_acquire_u32(&h.pointee.stack_seq) }
    // ---- the application writes this ---------------------------------------------------
    public func clearError() { h.pointee.error = 0 }
}

/// The sleep of the stack an application last kicked (`SocketHeader.armKick(generation:)`),
/// shared by all its sockets on that stack: a stack woken through one socket's kick looks at
/// every socket on its next pass, so appending to ten sockets while it wakes up costs one
/// kick, not ten. The word is recorded only after the kick was written, so whoever sees it
/// knows that kick is on its way. A scribbled line can only cost its own application wake-ups.
public final class KickLedger: @unchecked Sendable {
    private let word = UnsafeMutablePointer<UInt64>.allocate(capacity: 1)

    public init() { word.initialize(to: 0) }
    deinit { word.deallocate() }

    /// Whether the stack was kicked already for its sleep number `generation`.
    public func kicked(_ generation: UInt32) -> Bool {
        let w = news_load_acquire_u64(word)
        return w >> 32 == 1 && UInt32(truncatingIfNeeded: w) == generation
    }

    public func record(_ generation: UInt32) { news_store_release_u64(word, 1 << 32 | UInt64(generation)) }
}
