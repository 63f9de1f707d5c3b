import NewsIPC
import NewsServer
import NewsSystem
import NewsTCP
import NewsTCPState

/// tcpserver's view of one socket region newsd handed it: the mapping, the stack's end of
/// the stream indices (with the validated truth kept here, not in the region), the control
/// channel, our end of the application's kick, the owner, and what the socket is now.
final class TCPSocketState {
    enum Role {
        /// Made by `tcp`, not bound, listening or connected yet.
        case fresh
        case bound
        case listening
        /// A region newsd made ready for the next connection listener `of` accepts.
        case spare(of: UInt32)
        case connection
    }

    let id: UInt32
    let uid: UInt32
    let region: SharedRegion
    var stream: StreamStackEnd
    let control: ShmChannel
    let kick: Int32
    var role: Role = .fresh
    var connection: TCPConnection?
    var tuple: FourTuple?
    /// Socket options that outlive a connection attempt (applied to each connection).
    var noDelay = false
    var keepAlive = false
    var keepIdle: UInt64?
    var keepInterval: UInt64?
    var keepCount: Int?
    /// SO_LINGER: nil off, 0 abort on close.
    var linger: UInt64?
    var reuseAddress = false
    /// newsd said `close`: the application is gone from this socket. What it wrote still
    /// goes out (its send side ends where it was); the region is ours until the connection ends.
    var applicationClosed = false
    /// The application broke its control ring (either ring's indices): we read it, and post
    /// to it, no more (its socket was reset), so the same garbage is neither reported again
    /// on every pass nor keeps tcpserver awake. The socket stays the application's to close.
    var controlBroken = false
    var lastState: TCPState?
    var lastSaved: UInt64 = 0
    /// The listener whose pool this region belongs to (it came as a spare): when the
    /// application releases it and the connection is over, the region is re-initialized and
    /// becomes one of that listener's spares again, instead of being let go. Nil once newsd
    /// closed the socket itself (then it goes as any other).
    var pool: UInt32?

    /// The application closed this pooled socket by a flag in its region (no word to newsd):
    /// one load, only for a region the application may hold (not a free spare) and not yet
    /// closed.
    var releasePending: Bool {
        guard pool != nil, !applicationClosed else { return false }
        if case .spare = role { return false }
        return stream.applicationReleased
    }

    /// Requests to read on the next pass: from an application that still holds the socket,
    /// on a channel that is not broken.
    var controlWaiting: Bool { !applicationClosed && !controlBroken && control.hasInput }

    /// The application moved its stream indices since they were last taken, where that
    /// matters: on a connection it still holds. It can move them on any socket; on the others
    /// nothing takes them, so they must not keep tcpserver from sleeping.
    var appMoved: Bool { connection != nil && !applicationClosed && stream.appMoved }

    /// `recovering`: a restarted tcpserver takes the region's indices and flags over from
    /// the region (`StreamStackEnd.recoveredState`) instead of starting them at zero.
    init(id: UInt32, uid: UInt32, fd: Int32, kick: Int32, recovering: Bool) throws {
        let size = try SharedRegion.sealedSize(of: fd)
        guard size >= StreamLayout.regionSize(send: StreamLayout.minAreaSize, receive: StreamLayout.minAreaSize),
              size <= StreamLayout.regionSize(send: StreamLayout.maxAreaSize, receive: StreamLayout.maxAreaSize) else {
            throw LaunchArguments.Invalid(description: "socket \(id): region of \(size) bytes")
        }
        region = try SharedRegion(fd: fd, size: size, name: "socket \(id)")
        do {
            let adopted = recovering ? try StreamStackEnd.recoveredState(base: region.base, mappedSize: region.size, id: id) : StreamStackState()
            stream = try StreamStackEnd(base: region.base, mappedSize: region.size, id: id, adopting: adopted)
            control = try stream.controlChannel(name: "socket-\(id)")
        } catch {
            region.unmap()
            throw LaunchArguments.Invalid(description: "socket \(id): \(error)")
        }
        self.id = id
        self.uid = uid
        self.kick = kick
    }

    /// The same region, numbered and owned as before, laid out afresh (`StreamLayout.initialize`:
    /// zero indices and flags, an empty control channel) for the next connection of the
    /// listener's pool: a fresh state with nothing of the last connection's. The geometry is
    /// read back and checked like any region's (the application can write the header at any
    /// time), so a region it spoiled fails here and is let go.
    init(recycling old: TCPSocketState) throws {
        let g = old.stream.geometry
        StreamLayout.initialize(old.region.base, id: old.id, send: g.sendSize, receive: g.receiveSize)
        region = old.region
        stream = try StreamStackEnd(base: region.base, mappedSize: region.size, id: old.id)
        guard stream.geometry.sendSize == g.sendSize, stream.geometry.receiveSize == g.receiveSize else {
            throw LaunchArguments.Invalid(description: "socket \(old.id): geometry changed while recycled")
        }
        control = try stream.controlChannel(name: "socket-\(old.id)")
        id = old.id
        uid = old.uid
        kick = old.kick
        pool = old.pool
    }

    /// What the connection is told about the application's side, read once and validated.
    /// Nil when the application broke the stream's rules (it then loses the connection).
    func takeBuffers() -> Result<StreamBuffers, Violation> {
        if !applicationClosed {
            if case .violation(let v) = stream.takeSendTail() { return .failure(Violation(v)) }
            if case .violation(let v) = stream.takeReceiveHead() { return .failure(Violation(v)) }
        }
        let st = stream.state
        return .success(StreamBuffers(sendTail: st.sendTail, sendShutdown: applicationClosed || st.finalSendTail != nil,
                                      receiveHead: applicationClosed ? st.receiveTail : st.receiveHead,
                                      receiveCapacity: stream.geometry.receiveSize))
    }

    struct Violation: Error, CustomStringConvertible {
        let what: StreamViolation
        init(_ what: StreamViolation) { self.what = what }
        var description: String { what.description }
    }

    func configure(_ c: inout TCPConfiguration) {
        c.noDelay = noDelay
        c.keepAlive = keepAlive
        if let v = keepIdle { c.keepAliveIdle = v }
        if let v = keepInterval { c.keepAliveInterval = v }
        if let v = keepCount { c.keepAliveProbes = v }
    }

    func release() {
        region.unmap()
        region.closeDescriptor()
        FD.close(kick)
    }
}
