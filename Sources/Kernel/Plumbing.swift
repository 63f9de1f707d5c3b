import NewsConfig
import NewsIPC
import NewsSystem

/// Everything newsd creates before any server starts and keeps for its whole life, so that a
/// restarted server finds the same memory: one status page and one doorbell per process, and
/// per channel either a shared-memory region (two rings) or a SOCK_SEQPACKET socketpair.
final class Plumbing {
    let shm: Bool
    let capacity: Int
    private(set) var statusPages: [ServerKind: SharedRegion] = [:]
    private(set) var doorbells: [Endpoint: SharedRegion] = [:]
    private(set) var regions: [String: SharedRegion] = [:]
    private(set) var socketPairs: [String: (upper: Int32, lower: Int32)] = [:]
    /// One eventfd per server: its doorbell when it sleeps in poll (a server with a device).
    private(set) var wakeFDs: [ServerKind: Int32] = [:]
    private(set) var stateRegions: [ServerKind: SharedRegion] = [:]
    /// newsd's private connection to the UDP server, for handing over socket regions.
    let udpControl: (newsd: Int32, udp: Int32)
    /// The same for the TCP server (stream regions and spares; docs/TCP-SOCKETS.md).
    let tcpControl: (newsd: Int32, tcp: Int32)

    init(config: Config, cores: CoreMap) throws(SystemError) {
        shm = config.ipc == .shm
        capacity = config.ringCapacity
        let (a, b) = try UnixSocket.seqpacketPair()
        udpControl = (a, b)
        let (c, d) = try UnixSocket.seqpacketPair()
        tcpControl = (c, d)
        for server in ServerKind.allCases {
            let page = try SharedRegion.create(name: "status-\(server.rawValue)", size: StatusPage.regionSize)
            Confinement.placeRegion(page.base, size: page.size, nearCPU: cores[server])
            statusPages[server] = page
        }
        for server in ServerKind.allCases {
            wakeFDs[server] = try EventFD.create()
            let state = try SharedRegion.create(name: "state-\(server.rawValue)", size: server.stateRegionSize)
            Confinement.placeRegion(state.base, size: state.size, nearCPU: cores[server])
            stateRegions[server] = state
        }
        for endpoint in [Endpoint.newsd] + ServerKind.allCases.map(Endpoint.server) {
            doorbells[endpoint] = try SharedRegion.create(name: "doorbell-\(endpoint)", size: Doorbell.regionSize)
        }
        for spec in Topology.channels {
            if shm {
                let region = try SharedRegion.create(name: "chan-\(spec.name)", size: ChannelLayout.regionSize(capacity: spec.capacity(ring: capacity), slot: spec.slot))
                if case .server(let lower) = spec.lower {
                    Confinement.placeRegion(region.base, size: region.size, nearCPU: cores[lower])
                }
                ChannelLayout.initialize(region.base, capacity: spec.capacity(ring: capacity))
                regions[spec.name] = region
            } else {
                let (a, b) = try UnixSocket.seqpacketPair()
                if spec.slot > Topology.datagramSlot {
                    // Room for a ring's worth of large segments, as the shared-memory ring has.
                    for fd in [a, b] { UnixSocket.setSendBuffer(fd, bytes: 8 << 20) }
                }
                socketPairs[spec.name] = (a, b)
            }
        }
    }

    func doorbellFD(_ server: ServerKind) -> Int32 { doorbells[.server(server)]!.fd }
    func wakeFD(_ server: ServerKind) -> Int32 { wakeFDs[server]! }

    func stateRegion(_ server: ServerKind) -> UnsafeMutableRawBufferPointer {
        let r = stateRegions[server]!
        return UnsafeMutableRawBufferPointer(start: r.base, count: r.size)
    }

    func status(_ server: ServerKind) -> StatusPage { StatusPage(at: statusPages[server]!.base) }
    func doorbell(_ endpoint: Endpoint) -> Doorbell {
        var wake: Int32 = -1
        if case .server(let s) = endpoint { wake = wakeFDs[s]! }
        return Doorbell(at: doorbells[endpoint]!.base, eventFD: wake)
    }

    /// The descriptors a server inherits (in order, from 3 up) and the channel ends that
    /// describe them on its command line.
    func handOver(to server: ServerKind, device: Int32?) -> (descriptors: [Int32], channels: [LaunchArguments.ChannelEnd], wakeFD: Int32, deviceFD: Int32, state: (fd: Int32, size: Int)) {
        var fds: [Int32] = [statusPages[server]!.fd, doorbells[.server(server)]!.fd, wakeFDs[server]!, stateRegions[server]!.fd]
        let wakeFD: Int32 = 5
        let state = (fd: Int32(6), size: stateRegions[server]!.size)
        var deviceFD: Int32 = -1
        if let device {
            deviceFD = 3 + Int32(fds.count)
            fds.append(device)
        }
        var ends: [LaunchArguments.ChannelEnd] = []
        for spec in Topology.channels(of: .server(server)) {
            let side: ChannelSide = spec.upper == .server(server) ? .upper : .lower
            let peer = side == .upper ? spec.lower : spec.upper
            let fd = 3 + Int32(fds.count)
            if shm {
                fds += [regions[spec.name]!.fd, doorbells[peer]!.fd]
                var peerWake: Int32 = -1
                if case .server(let p) = peer {
                    peerWake = fd + 2
                    fds.append(wakeFDs[p]!)
                }
                ends.append(.init(name: spec.name, side: side, fd: fd, peerBellFD: fd + 1, peerWakeFD: peerWake))
            } else {
                let pair = socketPairs[spec.name]!
                fds.append(side == .upper ? pair.upper : pair.lower)
                ends.append(.init(name: spec.name, side: side, fd: fd, peerBellFD: -1))
            }
        }
        return (fds, ends, wakeFD, deviceFD, state)
    }

    /// newsd's own end of one of its channels: `newsd-vfs` (the probe path) or
    /// `nic-capture` (mirrored frames).
    func newsdChannel(_ name: String) throws(RingError) -> any Channel {
        let spec = Topology.channels.first { $0.name == name }!
        if shm {
            return try ShmChannel(name: name, base: regions[name]!.base, capacity: spec.capacity(ring: capacity), side: .upper,
                                  peerBell: doorbell(spec.lower), slot: spec.slot)
        }
        return KernelChannel(name: name, fd: socketPairs[name]!.upper, slot: spec.slot)
    }

    /// Releases every region and socket: with the servers gone, nothing of NEWS remains.
    func close() {
        for r in statusPages.values { r.unmap(); r.closeDescriptor() }
        for r in doorbells.values { r.unmap(); r.closeDescriptor() }
        for r in regions.values { r.unmap(); r.closeDescriptor() }
        for r in stateRegions.values { r.unmap(); r.closeDescriptor() }
        stateRegions = [:]
        for p in socketPairs.values { FD.close(p.upper); FD.close(p.lower) }
        for fd in wakeFDs.values { FD.close(fd) }
        FD.close(udpControl.newsd)
        FD.close(udpControl.udp)
        FD.close(tcpControl.newsd)
        FD.close(tcpControl.tcp)
        wakeFDs = [:]
        statusPages = [:]; doorbells = [:]; regions = [:]; socketPairs = [:]
    }
}
