import NewsIPC
import NewsServer
import NewsSystem

/// The NIC driver's core: frames from the link go up to the packet filter, frames from the
/// packet filter go out on the link. The link's descriptor belongs to newsd (a restarted
/// driver gets the same one back), so the driver never opens or configures anything.
final class NICCore: ServerCore {
    let link: any Link
    let up: Int
    let capture: Int?
    let context: ServerContext
    let captured, captureDropped: CounterHandle
    let rxFrames, rxBytes, txFrames, txBytes, txErrors, rxErrors, txTooBig: CounterHandle
    /// The TAP's offloads at work: frames larger than the MTU the kernel coalesced for us,
    /// frames whose checksum it vouched for, TSO frames it cut for us, partial checksums it
    /// finished, and headers we refused.
    let rxCoalesced, rxChecksumVouched, rxRejected, txSegmentation, txChecksumOffloaded: CounterHandle
    let txBadOffload, upFull: CounterHandle
    private var rejectedSeen: UInt64 = 0
    /// Impairments toward the stack (in) and toward the wire (out); inactive by default.
    var inbound: Impairment
    var outbound: Impairment
    let impairedLost, impairedDuplicated, impairedReordered, impairedOverflow: CounterHandle
    /// Frames taken from the device per wake-up, so one busy direction cannot starve the other.
    static let burst = 64

    init(_ context: ServerContext) throws {
        guard context.args.deviceFD >= 0 else { throw LaunchArguments.Invalid(description: "nicdriver started without a device") }
        guard let up = context.ports.index(of: "pf-nic") else { throw LaunchArguments.Invalid(description: "nicdriver has no pf-nic channel") }
        if context.args.params["nic.backend"] == "cable" {
            guard let side = context.args.params["nic.cable_side"], side == "a" || side == "b" else {
                throw LaunchArguments.Invalid(description: "nicdriver: cable side must be a or b")
            }
            link = try CableLink(fd: context.args.deviceFD, side: side == "a" ? .upper : .lower)
        } else {
            link = TAPLink(fd: context.args.deviceFD, offloads: context.args.params["nic.offloads"] == "1")
        }
        self.up = up
        self.context = context
        capture = context.ports.index(of: "nic-capture")
        captured = context.counter("captured_frames")
        captureDropped = context.counter("capture_dropped")
        rxFrames = context.counter("rx_frames"); rxBytes = context.counter("rx_bytes")
        txFrames = context.counter("tx_frames"); txBytes = context.counter("tx_bytes")
        txErrors = context.counter("tx_errors"); rxErrors = context.counter("rx_errors")
        txTooBig = context.counter("tx_too_big")
        txBadOffload = context.counter("tx_bad_offload"); upFull = context.counter("rx_dropped_up_full")
        rxCoalesced = context.counter("rx_coalesced_frames"); rxChecksumVouched = context.counter("rx_checksum_offloaded")
        rxRejected = context.counter("rx_bad_vnet_header")
        txSegmentation = context.counter("tx_tso_frames"); txChecksumOffloaded = context.counter("tx_checksum_offloaded")
        do {
            inbound = Impairment(config: try .init(params: context.args.params, prefix: "in"), seed: 0x4E45_5753)
            outbound = Impairment(config: try .init(params: context.args.params, prefix: "out"), seed: 0x5753_4E45)
        } catch { throw LaunchArguments.Invalid(description: "nicdriver: \(error)") }
        impairedLost = context.counter("impair_lost")
        impairedDuplicated = context.counter("impair_duplicated")
        impairedReordered = context.counter("impair_reordered")
        impairedOverflow = context.counter("impair_delay_overflow")
        if inbound.config.isActive || outbound.config.isActive {
            context.log.notice("impairments in \(inbound.config), out \(outbound.config)")
        }
        if link.offloads { context.log.info("TAP offloads: virtio-net header, checksum, TSO") }
    }

    var descriptors: [Int32] { link.descriptors }
    var pendingInput: Bool { link.hasInput }
    var extraBells: [Doorbell] { link.bells }

    /// Delayed and held frames leave when due; the impairments' counts are published.
    func tick(now: UInt64, ports: Ports) -> Bool {
        var released = false
        if link.descriptors.isEmpty { released = receiveFrames(ports: ports) }
        guard inbound.config.isActive || outbound.config.isActive else { return released }
        inbound.release(now: now) { released = true; ports.send(up, Message(kind: .frame, seq: 0), payload: $0) }
        outbound.release(now: now) { released = true; transmit($0, offload: .none, ports: ports) }
        publish()
        return released
    }

    var wakeAt: UInt64? {
        var due = [inbound.nextDue, outbound.nextDue].compactMap { $0 }
        // On the kernel path the driver sleeps in poll, which a cable's doorbell cannot
        // interrupt: it looks at the cable every millisecond instead.
        if link.descriptors.isEmpty && !context.args.shm { due.append(Clock.nanos() + 1_000_000) }
        return due.min()
    }

    private var published = (lost: UInt64(0), duplicated: UInt64(0), reordered: UInt64(0), overflow: UInt64(0))
    private func publish() {
        let now = (inbound.lost + outbound.lost, inbound.duplicated + outbound.duplicated,
                   inbound.reordered + outbound.reordered, inbound.overflow + outbound.overflow)
        impairedLost.add(now.0 - published.lost)
        impairedDuplicated.add(now.1 - published.duplicated)
        impairedReordered.add(now.2 - published.reordered)
        impairedOverflow.add(now.3 - published.overflow)
        published = (now.0, now.1, now.2, now.3)
    }

    func descriptorReady(_ fd: Int32, ports: Ports) -> Bool { receiveFrames(ports: ports) }

    func receiveFrames(ports: Ports) -> Bool {
        let n = link.receive(max: Self.burst) { frame, offload in
            rxFrames.add()
            rxBytes.add(UInt64(frame.count))
            if frame.count > 1514 { rxCoalesced.add() }
            if offload.checksumValid { rxChecksumVouched.add() }
            mirror(frame, outbound: false, ports: ports)
            if inbound.config.isActive {
                // newsd turns offloads off while impairments are on (they act per wire frame).
                inbound.admit(frame, now: Clock.nanos()) { ports.send(up, Message(kind: .frame, seq: 0), payload: $0) }
            } else {
                var m = Message(kind: .frame, seq: 0)
                m.offload = offload
                if !ports.send(up, m, payload: frame) { upFull.add() }
            }
        }
        if link.rejected != rejectedSeen { rxRejected.add(link.rejected - rejectedSeen); rejectedSeen = link.rejected }
        guard let n else { rxErrors.add(); return false }
        return n > 0
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
        let offload = message.offload
        if offload != .none {
            // packetfilter's word is checked, not trusted: offsets inside the frame, a
            // segment size only on a TCP/IPv4 frame whose headers it names.
            guard Self.plausible(offload, frameLength: payload.count, frame: payload) else { txBadOffload.add(); return }
        }
        if outbound.config.isActive {
            outbound.admit(payload, now: Clock.nanos()) { transmit($0, offload: .none, ports: ports) }
        } else {
            transmit(payload, offload: offload, ports: ports)
        }
    }

    static func plausible(_ o: PacketOffload, frameLength: Int, frame: UnsafeRawBufferPointer) -> Bool {
        if o.checksumPartial {
            guard o.checksumStart >= 14 + 20, Int(o.checksumStart) + Int(o.checksumOffset) + 2 <= frameLength else { return false }
        }
        if o.segmentSize > 0 {
            // IPv4 (EtherType 0x0800), protocol TCP (6) at byte 14 + 9, headers inside the frame.
            guard o.checksumPartial, frameLength > 14 + 20, frame[12] == 0x08, frame[13] == 0x00, frame[23] == 6,
                  Int(o.headerLength) < frameLength, o.headerLength > o.checksumStart else { return false }
        }
        return true
    }

    func transmit(_ payload: UnsafeRawBufferPointer, offload: PacketOffload, ports: Ports) {
        mirror(payload, outbound: true, ports: ports)
        if link.transmit(payload, offload: offload) {
            txFrames.add()
            txBytes.add(UInt64(payload.count))
            if offload.segmentSize > 0 { txSegmentation.add() }
            if offload.checksumPartial { txChecksumOffloaded.add() }
        } else {
            txErrors.add()
        }
    }
}
