// The virtio-net header a TAP opened with IFF_VNET_HDR puts in front of every frame.
//
// The layout is `struct virtio_net_hdr` of the virtio 1.x spec, section 5.1.6 ("Device
// Operation"), legacy form without num_buffers: 10 bytes, fields in the host's byte order
// (little-endian here; the TAP's TUNSETVNETLE is not needed on x86-64):
//
//     u8  flags         VIRTIO_NET_HDR_F_NEEDS_CSUM (1), VIRTIO_NET_HDR_F_DATA_VALID (2)
//     u8  gso_type      NONE (0), TCPV4 (1), UDP (3), TCPV6 (4); ECN (0x80) may be or-ed in
//     u16 hdr_len       bytes of headers (Ethernet + IP + TCP) before the payload
//     u16 gso_size      the MSS to cut the payload into
//     u16 csum_start    where the checksummed range starts (from the Ethernet header)
//     u16 csum_offset   where, from csum_start, the 16-bit checksum is stored
//
// NEEDS_CSUM means the checksum field holds only the pseudo-header sum: the range from
// csum_start to the end still has to be summed (by the device, or by whoever receives it).
// The kernel sets it on frames from local sockets, which never had a full checksum.

public struct VirtioNetHeader: Equatable, Sendable {
    public static let length = 10

    public struct Flags: OptionSet, Sendable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        /// The checksum at csum_start + csum_offset is partial (pseudo-header only).
        public static let needsChecksum = Flags(rawValue: 1)
        /// The device checked the checksum already.
        public static let dataValid = Flags(rawValue: 2)
    }

    public enum GSOType: UInt8, Sendable {
        case none = 0, tcpv4 = 1, udp = 3, tcpv6 = 4
    }

    public var flags: Flags
    public var gsoType: GSOType
    /// Whether the ECN bit was or-ed into gso_type (the segments carry CWR as the first did).
    public var ecn: Bool
    public var headerLength: UInt16
    public var gsoSize: UInt16
    public var checksumStart: UInt16
    public var checksumOffset: UInt16

    public init(flags: Flags = [], gsoType: GSOType = .none, ecn: Bool = false, headerLength: UInt16 = 0,
                gsoSize: UInt16 = 0, checksumStart: UInt16 = 0, checksumOffset: UInt16 = 0) {
        self.flags = flags; self.gsoType = gsoType; self.ecn = ecn; self.headerLength = headerLength
        self.gsoSize = gsoSize; self.checksumStart = checksumStart; self.checksumOffset = checksumOffset
    }

    /// A header for a frame that needs nothing done: no checksum to finish, no segmentation.
    public static let plain = VirtioNetHeader()

    /// Reads the header at the start of `bytes`; nil if it is short or names an unknown GSO
    /// type (such a frame is dropped and counted, as the kernel's virtio driver does).
    public init?(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count >= Self.length else { return nil }
        func u16(_ o: Int) -> UInt16 { UInt16(bytes[o]) | UInt16(bytes[o + 1]) << 8 }
        guard let type = GSOType(rawValue: bytes[1] & 0x7F) else { return nil }
        flags = Flags(rawValue: bytes[0])
        gsoType = type
        ecn = bytes[1] & 0x80 != 0
        headerLength = u16(2); gsoSize = u16(4); checksumStart = u16(6); checksumOffset = u16(8)
    }

    /// Writes the 10 bytes at the start of `out` (which has room for them).
    public func emit(into out: UnsafeMutableRawBufferPointer) {
        func put(_ v: UInt16, _ o: Int) { out[o] = UInt8(truncatingIfNeeded: v); out[o + 1] = UInt8(truncatingIfNeeded: v >> 8) }
        out[0] = flags.rawValue
        out[1] = gsoType.rawValue | (ecn ? 0x80 : 0)
        put(headerLength, 2); put(gsoSize, 4); put(checksumStart, 6); put(checksumOffset, 8)
    }
}
