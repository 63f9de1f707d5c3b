import CNewsLinux

/// A shared-memory "cable": a file (in /dev/shm) that joins the NIC drivers of two NEWS
/// instances, or a NIC driver and a test harness, without a TAP device. Layout: side a's
/// doorbell, side b's doorbell (one cache line each), then at 4096 a channel layout in
/// which side a is the upper end. Each side sends into its ring and rings the other's bell.
public enum CableLayout {
    public static let capacity = 1024
    public static let headerSize = 4096
    public static let magic: UInt64 = 0x4E45_5753_4341_424C  // "NEWSCABL"
    public static var size: Int { headerSize + ChannelLayout.regionSize(capacity: capacity) }

    public static func bell(_ base: UnsafeMutableRawPointer, side: ChannelSide) -> Doorbell {
        Doorbell(at: base + (side == .upper ? 0 : 64))
    }

    /// Side a makes a fresh cable; side b waits for the magic word.
    public static func initialize(_ base: UnsafeMutableRawPointer) {
        news_store_release_u64((base + 256).assumingMemoryBound(to: UInt64.self), 0)
        base.initializeMemory(as: UInt8.self, repeating: 0, count: headerSize)
        ChannelLayout.initialize(base + headerSize, capacity: capacity)
        news_store_release_u64((base + 256).assumingMemoryBound(to: UInt64.self), magic)
    }

    public static func ready(_ base: UnsafeMutableRawPointer) -> Bool {
        news_load_acquire_u64((base + 256).assumingMemoryBound(to: UInt64.self)) == magic
    }

    public static func channel(_ base: UnsafeMutableRawPointer, side: ChannelSide) throws(RingError) -> ShmChannel {
        try ShmChannel(name: "cable", base: base + headerSize, capacity: capacity, side: side,
                       peerBell: bell(base, side: side == .upper ? .lower : .upper))
    }
}
