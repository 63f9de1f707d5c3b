import Logging
import NewsConfig
import NewsIPC
import NewsServer
import NewsSystem
import NewsWire

/// The UDP server's core (RFC 768, RFC 1122 4.1). Datagrams from the IP server are checked
/// (length, checksum) and put straight into the receive ring of the socket bound to their
/// port; a datagram for a port nobody holds is answered with ICMP port unreachable (RFC 1122
/// 4.1.3.1). Applications' requests and datagrams arrive in their sockets' transmit rings.
final class UDPCore: ServerCore {
    let ip: Int
    let address: IPv4Address
    let control: Int32
    var sockets: [UInt32: UDPSocketState] = [:]
    var ports: [UInt16: UInt32] = [:]
    var nextEphemeral: UInt16 = 49152
    let counters: NamedCounters
    let log: Logger
    /// Where a datagram going down is built: a whole IP packet, as large as a udp-ip slot.
    let segment = UnsafeMutableRawBufferPointer.allocate(byteCount: Topology.datagramSlot, alignment: 64)

    init(_ context: ServerContext) throws {
        guard let ip = context.ports.index(of: "udp-ip") else { throw LaunchArguments.Invalid(description: "udpserver needs udp-ip") }
        guard let text = context.args.params["ip.address"]?.split(separator: "/").first, let addr = IPv4Address(String(text)) else {
            throw LaunchArguments.Invalid(description: "udpserver needs ip.address")
        }
        self.ip = ip
        address = addr
        control = context.args.deviceFD
        counters = NamedCounters(context)
        log = context.log
    }

    var descriptors: [Int32] { control >= 0 ? [control] : [] }

    // MARK: - Sockets arriving from newsd

    func descriptorReady(_ fd: Int32, ports: Ports) -> Bool {
        var worked = false
        while let msg = try? UnixSocket.receive(control, max: 256, maxFDs: 2) {
            worked = true
            let words = String(decoding: msg.bytes, as: UTF8.self).split(separator: " ")
            if words.count == 3, words[0] == "open", let id = UInt32(words[1]), let uid = UInt32(words[2]), msg.fds.count == 1 {
                adopt(id: id, uid: uid, fd: msg.fds[0])
            } else if words.count == 2, words[0] == "close", let id = UInt32(words[1]) {
                msg.fds.forEach(FD.close)
                close(id)
            } else {
                msg.fds.forEach(FD.close)
                counters.bump("control_malformed")
            }
        }
        return worked
    }

    func adopt(id: UInt32, uid: UInt32, fd: Int32) {
        guard sockets[id] == nil else { FD.close(fd); return }  // a re-send after our restart
        do {
            let s = try UDPSocketState(id: id, uid: uid, fd: fd)
            sockets[id] = s
            counters.bump("sockets_opened")
            // A socket bound before we restarted: take its port back if that is still lawful.
            let (_, port) = s.header.local
            if s.header.state == .bound || s.header.state == .connected, port != 0 {
                if claim(port, for: s) == 0 { counters.bump("sockets_readopted") } else { s.header.set(state: .open) }
            }
        } catch {
            FD.close(fd)
            counters.bump("socket_region_invalid")
        }
    }

    func close(_ id: UInt32) {
        guard let s = sockets.removeValue(forKey: id) else { return }
        if let port = s.port, ports[port] == id { ports[port] = nil }
        s.header.set(state: .closed)
        s.release()
        counters.bump("sockets_closed")
    }

    /// Binds `port` (0: an ephemeral one) for `s`; returns 0 or -errno.
    func claim(_ port: UInt16, for s: UDPSocketState) -> Int32 {
        var p = port
        if p == 0 {
            guard let free = ephemeralPort() else { return -Errno.addressInUse }
            p = free
        }
        if p < 1024 && s.uid != 0 { return -Errno.access }
        if let holder = ports[p], holder != s.id { return -Errno.addressInUse }
        if let old = s.port, old != p { ports[old] = nil }
        ports[p] = s.id
        s.port = p
        s.header.set(local: address.value, port: p)
        if s.header.state != .connected { s.header.set(state: .bound) }
        return 0
    }

    func ephemeralPort() -> UInt16? {
        for _ in 0..<16384 {
            let p = nextEphemeral
            nextEphemeral = nextEphemeral == 65535 ? 49152 : nextEphemeral + 1
            if ports[p] == nil { return p }
        }
        return nil
    }

    var pendingInput: Bool { sockets.values.contains { $0.channel.hasInput } }

    func tick(now: UInt64, ports: Ports) -> Bool {
        var worked = false
        for s in sockets.values where serve(s, ports: ports) { worked = true }
        return worked
    }
}
