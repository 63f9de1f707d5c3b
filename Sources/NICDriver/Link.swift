import NewsIPC
import NewsSystem

/// What the NIC driver drives: a TAP device (a descriptor newsd opened) or a shared-memory
/// cable (a file mapping joining two NEWS instances, or NEWS and a harness).
protocol Link: AnyObject {
    /// Descriptors to poll for incoming frames (the TAP); none for a cable.
    var descriptors: [Int32] { get }
    /// Whether a frame is waiting without a descriptor to say so (a cable's ring).
    var hasInput: Bool { get }
    /// Doorbells the driver must also sleep on (a cable's).
    var bells: [Doorbell] { get }
    /// Takes up to `max` frames, handing each to `body`; returns how many, or nil on error.
    func receive(max: Int, _ body: (UnsafeRawBufferPointer) -> Void) -> Int?
    /// Sends one frame; false if it could not.
    func transmit(_ frame: UnsafeRawBufferPointer) -> Bool
}

final class TAPLink: Link {
    let fd: Int32
    private let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: ChannelLayout.maxPayload, alignment: 64)
    init(fd: Int32) { self.fd = fd }
    var descriptors: [Int32] { [fd] }
    var hasInput: Bool { false }
    var bells: [Doorbell] { [] }

    func receive(max: Int, _ body: (UnsafeRawBufferPointer) -> Void) -> Int? {
        var n = 0
        while n < max {
            let (count, failed) = FD.read(fd, into: buffer)
            guard let count else { return failed && n == 0 ? nil : n }
            body(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
            n += 1
        }
        return n
    }

    func transmit(_ frame: UnsafeRawBufferPointer) -> Bool { FD.writeOnce(fd, frame) }
}

final class CableLink: Link {
    let region: SharedRegion
    let channel: ShmChannel
    let ownBell: Doorbell

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

    func receive(max: Int, _ body: (UnsafeRawBufferPointer) -> Void) -> Int? {
        // The far side is another program: a scribbled ring is an error, not a crash.
        try? channel.receive(max: max) { m, payload in
            if m.kind == MessageKind.frame.rawValue { body(payload) }
        }
    }

    func transmit(_ frame: UnsafeRawBufferPointer) -> Bool {
        (try? channel.send(Message(kind: .frame, seq: 0), payload: frame)) ?? false
    }
}
