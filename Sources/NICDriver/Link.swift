import NewsConfig
import NewsIPC
import NewsSystem
import NewsWire

/// What the NIC driver drives: a TAP device (a descriptor newsd opened) or a shared-memory
/// cable (a file mapping joining two NEWS instances, or NEWS and a harness).
protocol Link: AnyObject {
    /// Descriptors to poll for incoming frames (the TAP); none for a cable.
    var descriptors: [Int32] { get }
    /// Whether a frame is waiting without a descriptor to say so (a cable's ring).
    var hasInput: Bool { get }
    /// Doorbells the driver must also sleep on (a cable's).
    var bells: [Doorbell] { get }
    /// Whether the link takes partial checksums and TSO segments (`PacketOffload`).
    var offloads: Bool { get }
    /// Takes up to `max` frames, handing each to `body` with what the device said of it;
    /// returns how many, or nil on error. Frames the device mislabelled are counted in
    /// `rejected` and not handed on.
    func receive(max: Int, _ body: (UnsafeRawBufferPointer, PacketOffload) -> Void) -> Int?
    /// Sends one frame; false if it could not.
    func transmit(_ frame: UnsafeRawBufferPointer, offload: PacketOffload) -> Bool
    /// Frames received with a virtio-net header we could not accept.
    var rejected: UInt64 { get }
}

/// A TAP. With offloads (newsd opened it with IFF_VNET_HDR and TUN_F_CSUM | TUN_F_TSO4),
/// every frame read or written has a virtio-net header in front: the kernel hands us TCP
/// segments of up to 64 KB whose checksum it vouches for or left partial, and cuts ours
/// to the MSS itself.
final class TAPLink: Link {
    let fd: Int32
    let offloads: Bool
    private(set) var rejected: UInt64 = 0
    private let buffer: UnsafeMutableRawBufferPointer
    private let header = UnsafeMutableRawBufferPointer.allocate(byteCount: VirtioNetHeader.length, alignment: 16)

    init(fd: Int32, offloads: Bool) {
        self.fd = fd
        self.offloads = offloads
        buffer = .allocate(byteCount: VirtioNetHeader.length + Topology.frameSlot, alignment: 64)
    }
    var descriptors: [Int32] { [fd] }
    var hasInput: Bool { false }
    var bells: [Doorbell] { [] }

    func receive(max: Int, _ body: (UnsafeRawBufferPointer, PacketOffload) -> Void) -> Int? {
        var n = 0
        while n < max {
            let (count, failed) = FD.read(fd, into: buffer)
            guard let count else { return failed && n == 0 ? nil : n }
            n += 1
            guard offloads else {
                body(UnsafeRawBufferPointer(rebasing: buffer[0..<count]), .none)
                continue
            }
            let bytes = UnsafeRawBufferPointer(buffer)
            guard let v = VirtioNetHeader(UnsafeRawBufferPointer(rebasing: bytes[0..<min(count, VirtioNetHeader.length)])) else {
                rejected += 1; continue
            }
            let frame = UnsafeRawBufferPointer(rebasing: bytes[VirtioNetHeader.length..<count])
            guard let offload = Self.offload(v, frameLength: frame.count) else { rejected += 1; continue }
            body(frame, offload)
        }
        return n
    }

    /// What a received header says, for the servers above; nil if its offsets do not fit
    /// the frame (the kernel never does that, but the header is read, not trusted).
    static func offload(_ v: VirtioNetHeader, frameLength: Int) -> PacketOffload? {
        var o = PacketOffload()
        if v.flags.contains(.needsChecksum) {
            guard Int(v.checksumStart) + Int(v.checksumOffset) + 2 <= frameLength else { return nil }
            // The frame came from this host's own kernel and never crossed a wire: a partial
            // checksum is one nobody has to finish (Linux's virtio receive path does the same).
            o.checksumValid = true
        }
        if v.flags.contains(.dataValid) { o.checksumValid = true }
        return o
    }

    func transmit(_ frame: UnsafeRawBufferPointer, offload: PacketOffload) -> Bool {
        guard offloads else {
            guard !offload.checksumPartial, offload.segmentSize == 0 else { return false }
            return FD.writeOnce(fd, frame)
        }
        var v = VirtioNetHeader.plain
        if offload.checksumPartial {
            v.flags = .needsChecksum
            v.checksumStart = offload.checksumStart
            v.checksumOffset = UInt16(offload.checksumOffset)
        }
        if offload.segmentSize > 0 {
            v.gsoType = .tcpv4
            v.gsoSize = offload.segmentSize
            v.headerLength = UInt16(offload.headerLength)
        }
        v.emit(into: header)
        return FD.writeOnce(fd, UnsafeRawBufferPointer(header), frame)
    }
}

final class CableLink: Link {
    let region: SharedRegion
    let channel: ShmChannel
    let ownBell: Doorbell
    var offloads: Bool { false }
    var rejected: UInt64 { 0 }

    /// Maps the cable newsd handed over; side b waits (bounded) for side a to lay it out.
    init(fd: Int32, side: ChannelSide) throws {
        region = try SharedRegion(fd: fd, size: CableLayout.size, name: "cable", sealed: false)
        let deadline = Clock.nanos() + 10_000_000_000
        while !CableLayout.ready(region.base) {
            guard Clock.nanos() < deadline else { throw LaunchArguments.Invalid(description: "cable not initialized by side a") }
            Clock.sleep(nanos: 10_000_000)
        }
        channel = try CableLayout.channel(region.base, side: side)
        ownBell = CableLayout.bell(region.base, side: side)
    }

    var descriptors: [Int32] { [] }
    var hasInput: Bool { channel.hasInput }
    var bells: [Doorbell] { [ownBell] }

    func receive(max: Int, _ body: (UnsafeRawBufferPointer, PacketOffload) -> Void) -> Int? {
        // The far side is another program: a scribbled ring is an error, not a crash.
        try? channel.receive(max: max) { m, payload in
            if m.kind == MessageKind.frame.rawValue { body(payload, .none) }
        }
    }

    func transmit(_ frame: UnsafeRawBufferPointer, offload: PacketOffload) -> Bool {
        guard !offload.checksumPartial, offload.segmentSize == 0 else { return false }
        return (try? channel.send(Message(kind: .frame, seq: 0), payload: frame)) ?? false
    }
}
