import Logging
import NewsConfig
import NewsIPC
import NewsServer
import NewsSystem
import NewsUDP
import NewsWire

/// The UDP server's core (RFC 768, RFC 1122 4.1). Datagrams from the IP server are checked
/// (length, checksum) and put straight into the receive ring of the socket bound to their
/// port; a datagram for a port nobody holds is answered with ICMP port unreachable (RFC 1122
/// 4.1.3.1). Applications' requests and datagrams arrive in their sockets' transmit rings.
///
/// What the server knows of a socket (owner, port, peer) it keeps itself: in memory, and in
/// its state region (`BindingStore`) so that a restarted server takes its sockets back from
/// its own records. The socket header is a report for the application, never read back.
final class UDPCore: ServerCore {
    let ip: Int
    let address: IPv4Address
    let control: Int32
    var sockets: [UInt32: UDPSocketState] = [:]
    var portTable = PortTable()
    /// Our ends of the per-socket kick sockets (the application's way to wake us), by descriptor.
    var kicks: [Int32: UInt32] = [:]
    let store: BindingStore?
    /// Bindings found in the state region after a restart, waiting for newsd to hand their
    /// sockets over again; what is still here `restoreGrace` after the start is dropped.
    var restored: [UInt32: Binding] = [:]
    let restoredUntil: UInt64
    static let restoreGrace: UInt64 = 5_000_000_000
    let counters: NamedCounters
    let log: Logger
    /// Where a datagram going down is built: a whole IP packet, as large as a udp-ip slot.
    let segment = UnsafeMutableRawBufferPointer.allocate(byteCount: Topology.datagramSlot, alignment: 64)

    init(_ context: ServerContext) throws {
        guard let ip = context.ports.index(of: "udp-ip") else { throw LaunchArguments.Invalid(description: "udpserver needs udp-ip") }
        self.ip = ip
        address = try Self.localAddress(parameters: context.args.params)
        control = context.args.deviceFD
        counters = NamedCounters(context)
        log = context.log
        store = context.state.flatMap { BindingStore(region: $0) }
        restoredUntil = Clock.nanos() &+ Self.restoreGrace
        if let store {
            if context.isRestart {
                let r = store.restore()
                restored = r.bindings
                if r.damaged > 0 { counters.bump("bindings_damaged", UInt64(r.damaged)) }
                if !r.headerIntact { counters.bump("binding_store_reset") }
                log.info("restart: \(r.bindings.count) bindings in the state region\(r.damaged > 0 ? ", \(r.damaged) damaged" : "")")
            } else {
                store.reset()
            }
        }
    }

    /// This host's address, from `ip.address` read with the NewsWire parser that
    /// `Config.parse` and ipserver use for it, so all three accept the same texts.
    static func localAddress(parameters: [String: String]) throws(LaunchArguments.Invalid) -> IPv4Address {
        do { return try IPv4Interface.parse(parameters["ip.address"] ?? "").address } catch {
            throw LaunchArguments.Invalid(description: "udpserver: bad ip.address \(error)")
        }
    }

    var descriptors: [Int32] { control >= 0 ? [control] : [] }
    var sleepDescriptors: [Int32] { Array(kicks.keys) }

    // MARK: - Sockets arriving from newsd

    func descriptorReady(_ fd: Int32, ports: Ports) -> Bool {
        if fd != control {
            // A kick: the application woke us. Emptying our end of its kick socket (never
            // blocking, whatever the application did to its own end) is all it asks; its
            // ring is served on the next pass like every other.
            if kicks[fd] != nil { counters.bump("socket_kicks", UInt64(UnixSocket.drainKicks(fd))) }
            return false
        }
        let handoffs = SocketHandoff.receiveAll(control)
        for h in handoffs {
            switch h {
            case let .open(id, uid, region, kick): adopt(id: id, uid: uid, region: region, kick: kick)
            case let .close(id): closeAfterSending(id, ports: ports)
            case let .spare(_, _, _, region, kick):
                FD.close(region); FD.close(kick)  // a TCP word: UDP sockets have no spares
                counters.bump("control_malformed")
            case .accepted, .malformed: counters.bump("control_malformed")  // accepted: a TCP word too
            }
        }
        return !handoffs.isEmpty
    }

    func adopt(id: UInt32, uid: UInt32, region: Int32, kick: Int32) {
        guard id != 0, sockets[id] == nil else {  // a re-send after our restart, or nonsense
            FD.close(region); FD.close(kick)
            if id == 0 { counters.bump("control_malformed") }
            return
        }
        let s: UDPSocketState
        do { s = try UDPSocketState(id: id, uid: uid, fd: region, kick: kick) } catch {
            FD.close(region); FD.close(kick)
            log.warning("socket \(id): \(error)")
            counters.bump("socket_region_invalid")
            return
        }
        sockets[id] = s
        kicks[kick] = id
        counters.bump("sockets_opened")
        // A socket bound before we restarted: take its port back from our own record, if
        // newsd vouches for the same owner and the port is still lawful for it.
        if let b = restored.removeValue(forKey: id) {
            if b.uid == uid, b.port != 0, claim(b.port, for: s) == 0 {
                if b.connected { connect(s, to: (b.remoteAddress, b.remotePort)) }
                counters.bump("sockets_readopted")
            } else {
                store?.remove(socket: id)
                counters.bump("bindings_refused")
            }
        }
    }

    /// Whether a binding restored from our records for `port` still waits for its socket.
    func awaitingHandOver(port: UInt16) -> Bool {
        !restored.isEmpty && restored.values.contains { $0.port == port }
    }

    /// The application closed its socket (or exited). Datagrams its sends already queued
    /// were accepted, as on Linux, where a successful sendto is on its way whatever the
    /// application does next: send them first. At most one ring's worth, so an application
    /// that keeps writing into a socket it closed cannot keep us here.
    func closeAfterSending(_ id: UInt32, ports: Ports) {
        var passes = SocketLayout.capacity / 32 + 1
        while passes > 0, let s = sockets[id], serve(s, ports: ports) { passes -= 1 }
        close(id)
    }

    func close(_ id: UInt32) {
        restored[id] = nil
        store?.remove(socket: id)
        guard let s = sockets.removeValue(forKey: id) else { return }
        portTable.release(socket: id)
        kicks[s.kick] = nil
        s.header.set(state: .closed)
        s.release()
        counters.bump("sockets_closed")
    }

    /// Binds `port` (0: an ephemeral one) for `s`; returns 0 or -errno.
    func claim(_ port: UInt16, for s: UDPSocketState) -> Int32 {
        switch portTable.claim(port, socket: s.id, uid: s.uid) {
        case .failure(.privileged): return -Errno.access
        case .failure(.inUse), .failure(.exhausted): return -Errno.addressInUse
        case .success(let p):
            guard persist(s, port: p) else { portTable.release(socket: s.id); return -Errno.noBuffers }
            s.header.set(local: address.value, port: p)
            if s.remote == nil { s.header.set(state: .bound) }
            return 0
        }
    }

    /// The port `s` holds, binding an ephemeral one first if it holds none (a connect or a
    /// first send on an unbound socket, as on Linux); nil when none is free.
    func localPort(of s: UDPSocketState) -> UInt16? {
        if let p = portTable.port(of: s.id) { return p }
        return claim(0, for: s) == 0 ? portTable.port(of: s.id) : nil
    }

    /// Connects `s` (already bound) to `peer`.
    func connect(_ s: UDPSocketState, to peer: (address: UInt32, port: UInt16)) {
        s.remote = peer
        _ = persist(s, port: portTable.port(of: s.id) ?? 0)
        s.header.set(remote: peer.address, port: peer.port)
        s.header.set(state: .connected)
    }

    private func persist(_ s: UDPSocketState, port: UInt16) -> Bool {
        guard let store else { return true }
        let ok = store.save(Binding(socket: s.id, uid: s.uid, port: port, remoteAddress: s.remote?.address ?? 0, remotePort: s.remote?.port ?? 0))
        if !ok { counters.bump("binding_store_full") }
        return ok
    }

    var pendingInput: Bool { sockets.values.contains { $0.channel.hasInput } }

    func willSleep() { for s in sockets.values { s.header.armKick() } }
    func didWake() { for s in sockets.values { s.header.disarmKick() } }

    func tick(now: UInt64, ports: Ports) -> Bool {
        if !restored.isEmpty, now > restoredUntil {
            // newsd hands every live socket over right after a restart; these were closed
            // while we were down.
            for id in restored.keys { store?.remove(socket: id) }
            counters.bump("bindings_expired", UInt64(restored.count))
            restored = [:]
        }
        var worked = false
        for s in sockets.values where serve(s, ports: ports) { worked = true }
        return worked
    }
}
