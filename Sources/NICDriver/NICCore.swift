import NewsIPC
import NewsServer
import NewsSystem

/// The NIC driver's core: frames from the device go up to the packet filter, frames from the
/// packet filter go out of the device. The device descriptor belongs to newsd (a restarted
/// driver gets the same one back), so the driver never opens or configures anything.
final class NICCore: ServerCore {
    let device: Int32
    let up: Int
    let capture: Int?
    let context: ServerContext
    let captured, captureDropped: CounterHandle
    let rxFrames, rxBytes, txFrames, txBytes, txErrors, rxErrors, txTooBig: CounterHandle
    private let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: ChannelLayout.maxPayload, alignment: 64)
    /// Frames taken from the device per wake-up, so one busy direction cannot starve the other.
    static let burst = 64

    init(_ context: ServerContext) throws {
        guard context.args.deviceFD >= 0 else { throw LaunchArguments.Invalid(description: "nicdriver started without a device") }
        guard let up = context.ports.index(of: "pf-nic") else { throw LaunchArguments.Invalid(description: "nicdriver has no pf-nic channel") }
        device = context.args.deviceFD
        self.up = up
        self.context = context
        capture = context.ports.index(of: "nic-capture")
        captured = context.counter("captured_frames")
        captureDropped = context.counter("capture_dropped")
        rxFrames = context.counter("rx_frames"); rxBytes = context.counter("rx_bytes")
        txFrames = context.counter("tx_frames"); txBytes = context.counter("tx_bytes")
        txErrors = context.counter("tx_errors"); rxErrors = context.counter("rx_errors")
        txTooBig = context.counter("tx_too_big")
    }

    var descriptors: [Int32] { [device] }

    func descriptorReady(_ fd: Int32, ports: Ports) -> Bool {
        var worked = false
        for _ in 0..<Self.burst {
            let (n, failed) = FD.read(device, into: buffer)
            guard let n else { if failed { rxErrors.add() }; break }
            worked = true
            rxFrames.add()
            rxBytes.add(UInt64(n))
            let frame = UnsafeRawBufferPointer(rebasing: buffer[0..<n])
            mirror(frame, outbound: false, ports: ports)
            ports.send(up, Message(kind: .frame, seq: 0), payload: frame)
        }
        return worked
    }

    /// While newsd captures, every frame is copied to it with its direction and wall-clock
    /// time. A full capture ring drops the copy (counted), never the frame itself.
    @inline(__always)
    func mirror(_ frame: UnsafeRawBufferPointer, outbound: Bool, ports: Ports) {
        guard let capture, context.captureRequested else { return }
        let (s, ns) = Clock.wall()
        let m = Message(kind: .frame, seq: 0, args: (outbound ? 1 : 0, UInt64(s) * 1_000_000_000 + UInt64(ns), 0, 0, 0, 0))
        if ports.send(capture, m, payload: frame) { captured.add() } else { captureDropped.add() }
    }

    func handle(_ message: Message, payload: UnsafeRawBufferPointer, from port: Int, ports: Ports) {
        guard message.kind == MessageKind.frame.rawValue, port == up else { return }
        // 14 bytes of Ethernet header at least; the MTU bound is the IP server's business.
        guard payload.count >= 14 else { txTooBig.add(); return }
        mirror(payload, outbound: true, ports: ports)
        if FD.writeOnce(device, payload) {
            txFrames.add()
            txBytes.add(UInt64(payload.count))
        } else {
            txErrors.add()
        }
    }
}
