import Glibc
import Logging
import NewsConfig
import NewsIPC
import NewsSystem

/// Where applications get their sockets. An application (libnews) keeps one connection to
/// newsd's app socket for its lifetime. On `udp`, newsd creates a fresh exposed-buffer region
/// (sealed against resizing; never a recycled one, so no application can see another's
/// memory) and a kick socketpair, hands the region and one kick end to the UDP server, and
/// the region and the other kick end to the application. That is all an application ever
/// receives: nothing of a server's own (doorbell, eventfd, region). When the connection
/// ends, every socket it opened is closed.
///
/// newsd never blocks here. Application connections and the UDP server's control socket are
/// non-blocking; hand-offs to the UDP server wait in a bounded outbox (at most one per socket,
/// `maxPendingOpens` opens) that is flushed as the socket drains. An application whose answer
/// cannot be written (it stopped reading) is disconnected; one that asks while the outbox is
/// full gets ENOBUFS.
///
/// Protocol (one line each way): on connect newsd says `hello 1 cpus=LIST` or `refused ERRNO
/// TEXT`. LIST (a cpulist: "1", "2-5,7") names the CPUs the application should run on, away
/// from the stack's servers (libnews sets its affinity; `cpus=` is absent when newsd has no
/// advice); a client ignores words after `hello 1` it does not know, so more may be added;
/// then `udp` → `ok ID` (with the two descriptors) and `close ID` → `ok`, or `error ERRNO TEXT`.
///
/// TCP sockets (docs/TCP-SOCKETS.md) go the same way to tcpserver, over a control socket of
/// their own with an outbox of its own, so a hung tcpserver never holds up UDP sockets:
/// `tcp [SEND RECV]` → `ok ID`; `listen ID N` → `ok` (newsd hands tcpserver up to
/// `maxSpares` *spare* sockets for the listener's new connections); `accept ID NEWID` →
/// `ok NEWID` with the spare's descriptors (and a fresh spare replaces it); `pool ID` →
/// `ok K ID1 … IDK` with each spare's region and app kick: the listener's spares handed to
/// the application in advance (a batch of up to `maxSpares` more is made first when it holds
/// them all), so that accepting and closing their connections needs no word to newsd.
final class AppBroker {
    enum Transport: String, CaseIterable, Sendable { case udp, tcp }

    /// What a socket is to newsd: the application's UDP or TCP socket, or a spare that
    /// tcpserver holds for a listener's next connection (the application has nothing of it
    /// until it accepts it).
    enum Role: Equatable {
        case udp
        case tcp
        case spare(listener: UInt32)
    }

    struct Socket {
        let id: UInt32
        let region: Int32
        /// newsd keeps both kick ends for the socket's life: the stack's until the server has
        /// it (the hand-off may wait, and is repeated after a restart), the application's so that
        /// an application closing its end cannot leave the server a hung-up socket that polls
        /// readable forever.
        let appKick: Int32
        let stackKick: Int32
        let owner: Int32
        let uid: UInt32
        var role: Role
        /// A TCP socket's area sizes (0 for UDP): a listener's spares get the same, as an
        /// accepted Linux socket inherits its listener's buffer sizes.
        let sendSize: Int
        let receiveSize: Int
        /// A spare whose region and app kick the application holds already (`pool`): its
        /// connections are accepted and closed between the application and tcpserver.
        var handed = false

        var transport: Transport { role == .udp ? .udp : .tcp }
    }

    final class App {
        let fd: Int32
        let uid: UInt32
        var buffer: [UInt8] = []
        /// The sockets the application holds (never its listeners' spares).
        var sockets: [UInt32] = []
        var broken = false
        init(fd: Int32, uid: UInt32) { self.fd = fd; self.uid = uid }
    }

    enum Handoff: Equatable {
        case open(UInt32), spare(listener: UInt32, id: UInt32), close(UInt32)
        /// A spare `accept` made the application's own socket: tcpserver no longer takes it
        /// back into its listener's pool when the application sets its released bit.
        case accepted(UInt32)

        /// Whether this hands socket `id` over (as an application's socket or as a spare).
        func opens(_ id: UInt32) -> Bool {
            switch self {
            case .open(let i), .spare(_, let i): i == id
            case .close, .accepted: false
            }
        }
    }

    /// The hand-offs waiting for one server's control socket. Never blocks: what the socket
    /// does not take now waits for POLLOUT, bounded by `maxPendingOpens` opens.
    struct Outbox {
        let control: Int32
        var queue: [Handoff] = []
        var pendingOpens = 0
        var deferred: UInt64 = 0

        init(control: Int32) { self.control = control }

        func holdsOpen(of id: UInt32) -> Bool { queue.contains { $0.opens(id) } }
    }

    /// Opens that may wait for a server that is down, hung or slow (per server).
    static let maxPendingOpens = 256
    /// The most spares one listener gets, whatever backlog it asks for.
    static let maxSpares = 32

    let log = Logger(label: "newsd")
    let path: String
    let listenFD: Int32
    let udpControl: Int32
    let tcpControl: Int32?
    let group: (name: String, gid: UInt32)?
    let limits: Config.Limits
    /// The greeting every admitted application gets.
    let hello: String
    private(set) var apps: [App] = []
    private(set) var sockets: [UInt32: Socket] = [:]
    /// Each listener's spares, oldest first.
    private(set) var listeners: [UInt32: [UInt32]] = [:]
    /// How many spares each listener keeps (min(backlog, maxSpares), at least 1).
    private var spareTarget: [UInt32: Int] = [:]
    private var socketsOfUID: [UInt32: Int] = [:]
    private var nextID: UInt32 = 1
    private var outboxes: [Transport: Outbox] = [:]
    var counters = Counters()

    struct Counters {
        var appsRefused: UInt64 = 0
        var appsDisconnected: UInt64 = 0
        var socketsOpened: UInt64 = 0
        var socketsRefused: UInt64 = 0
        var badRequests: UInt64 = 0
        var tcpAccepts: UInt64 = 0
        /// Replacement spares that could not be made (the uid at its limits, the outbox full):
        /// the listener keeps fewer until a later accept or listen tops it up.
        var sparesShort: UInt64 = 0
        /// `pool` answers: a batch of spares handed to an application in advance.
        var poolHandOvers: UInt64 = 0
    }

    /// `tcpControl` nil: no TCP server (TCP requests are refused with EAFNOSUPPORT).
    /// `appCPUs`: the CPUs every hello tells applications to use (empty: no advice).
    init(path: String, group: (name: String, gid: UInt32)?, limits: Config.Limits, udpControl: Int32, tcpControl: Int32? = nil,
         appCPUs: [Int] = []) throws {
        hello = appCPUs.isEmpty ? "hello 1" : "hello 1 cpus=\(Config.renderCPUList(appCPUs))"
        self.path = path
        self.group = group
        self.limits = limits
        // With app_group set the kernel already refuses others (0660); newsd checks the
        // peer's groups as well, so a connection passed on by a member is no way in.
        listenFD = try UnixSocket.listen(path: path, mode: group == nil ? 0o666 : 0o660, group: group?.gid ?? 0)
        self.udpControl = udpControl
        self.tcpControl = tcpControl
        try FD.setNonBlocking(udpControl)
        outboxes[.udp] = Outbox(control: udpControl)
        if let tcpControl {
            try FD.setNonBlocking(tcpControl)
            outboxes[.tcp] = Outbox(control: tcpControl)
        }
    }

    var descriptors: [Int32] { [listenFD] + apps.map(\.fd) }
    /// The UDP server's waiting hand-offs.
    var outbox: [Handoff] { outboxes[.udp]?.queue ?? [] }
    func outbox(_ t: Transport) -> [Handoff] { outboxes[t]?.queue ?? [] }
    func deferredHandoffs(_ t: Transport) -> UInt64 { outboxes[t]?.deferred ?? 0 }
    /// The control sockets newsd should wait on for POLLOUT (their outboxes hold hand-offs).
    var controlsWantingWrite: [Int32] {
        Transport.allCases.compactMap { t in outboxes[t].flatMap { $0.queue.isEmpty ? nil : $0.control } }
    }
    var tcpSocketsLive: Int { sockets.values.lazy.filter { $0.role == .tcp }.count }
    var tcpSpares: Int { sockets.values.lazy.filter { if case .spare = $0.role { return true } else { return false } }.count }

    func readable(_ fd: Int32) {
        if fd == listenFD { accept(); return }
        guard let app = apps.first(where: { $0.fd == fd }) else { return }
        let chunk: [UInt8]
        do { chunk = try FD.read(fd, max: 1024) } catch {
            if error.isWouldBlock { return }
            disconnect(app); return
        }
        if chunk.isEmpty { disconnect(app); return }
        app.buffer += chunk
        while !app.broken, let nl = app.buffer.firstIndex(of: UInt8(ascii: "\n")) {
            let line = String(decoding: app.buffer[..<nl], as: UTF8.self)
            app.buffer.removeSubrange(...nl)
            handle(line, from: app)
        }
        if app.buffer.count > 1024 { counters.badRequests += 1; app.broken = true }
        if app.broken { disconnect(app) }
        flush()
    }

    private func accept() {
        while let fd = try? UnixSocket.accept(listenFD) {
            guard let cred = try? UnixSocket.peerCredentials(fd) else { FD.close(fd); continue }
            if let refusal = admission(cred, fd) {
                counters.appsRefused += 1
                log.notice("app socket: refused pid \(cred.pid) uid \(cred.uid): \(refusal.text)")
                _ = try? FD.writeAll(fd, "refused \(refusal.errno) \(refusal.text)\n")
                FD.close(fd)
                continue
            }
            let app = App(fd: fd, uid: cred.uid)
            apps.append(app)
            send(app, hello)
            if app.broken { disconnect(app) }
        }
    }

    private func admission(_ cred: UnixSocket.Credentials, _ fd: Int32) -> (errno: Int32, text: String)? {
        if let group, cred.uid != 0, cred.gid != group.gid, !UnixSocket.peerGroups(fd).contains(group.gid) {
            return (Errno.access, "uid \(cred.uid) is not in app_group '\(group.name)'")
        }
        if apps.count >= limits.apps {
            return (Errno.tooManyFilesInSystem, "newsd serves at most \(limits.apps) applications (limits.apps)")
        }
        if apps.lazy.filter({ $0.uid == cred.uid }).count >= limits.appsPerUID {
            return (Errno.tooManyFiles, "uid \(cred.uid) holds \(limits.appsPerUID) connections already (limits.apps_per_uid)")
        }
        return nil
    }

    private func handle(_ line: String, from app: App) {
        let words = line.split(separator: " ")
        switch (words.first, words.count) {
        case ("udp", 1):
            openRequest(.udp, send: 0, receive: 0, from: app)
        case ("tcp", 1):
            openRequest(.tcp, send: StreamLayout.defaultSendSize, receive: StreamLayout.defaultReceiveSize, from: app)
        case ("tcp", 3):
            guard let send = Int(words[1]), let receive = Int(words[2]),
                  StreamLayout.isValidAreaSize(send), StreamLayout.isValidAreaSize(receive) else {
                counters.badRequests += 1
                self.send(app, "error \(Errno.invalid) tcp SEND RECV: area sizes must be powers of two from \(StreamLayout.minAreaSize) to \(StreamLayout.maxAreaSize) bytes")
                return
            }
            openRequest(.tcp, send: send, receive: receive, from: app)
        case ("close", 2):
            guard let id = UInt32(words[1]), app.sockets.contains(id) else {
                counters.badRequests += 1
                send(app, "error \(Errno.badDescriptor) no such socket")
                return
            }
            close(id)
            send(app, "ok")
        case ("listen", 3):
            guard let id = UInt32(words[1]), app.sockets.contains(id), let s = sockets[id] else {
                counters.badRequests += 1
                send(app, "error \(Errno.badDescriptor) no such socket")
                return
            }
            guard s.role == .tcp else {
                counters.badRequests += 1
                send(app, "error \(EOPNOTSUPP) listen: not a TCP socket")
                return
            }
            guard let backlog = Int(words[2]) else {
                counters.badRequests += 1
                send(app, "error \(Errno.invalid) listen ID N: N is a number")
                return
            }
            listen(s, backlog: backlog, app: app)
        case ("accept", 3):
            guard let id = UInt32(words[1]), app.sockets.contains(id), listeners[id] != nil else {
                counters.badRequests += 1
                send(app, "error \(Errno.invalid) accept: not a listening socket of this application")
                return
            }
            guard let newID = UInt32(words[2]), let spare = sockets[newID], spare.role == .spare(listener: id) else {
                counters.badRequests += 1
                send(app, "error \(Errno.invalid) accept: \(words[2]) is not a connection of listener \(id)")
                return
            }
            acceptSpare(spare, of: id, app: app)
        case ("pool", 2), ("pool", 3):
            guard let id = UInt32(words[1]), app.sockets.contains(id), listeners[id] != nil else {
                counters.badRequests += 1
                send(app, "error \(Errno.invalid) pool: not a listening socket of this application")
                return
            }
            guard words.count == 2 || words[2] == "more" else {
                counters.badRequests += 1
                send(app, "error \(Errno.invalid) pool ID [more]")
                return
            }
            handOverPool(of: id, more: words.count == 3, app: app)
        default:
            counters.badRequests += 1
            send(app, "error \(Errno.invalid) bad request")
        }
    }

    private func openRequest(_ transport: Transport, send sendSize: Int, receive receiveSize: Int, from app: App) {
        if let refusal = refusalToOpen(transport, for: app.uid, count: 1) {
            counters.socketsRefused += 1
            send(app, "error \(refusal.errno) \(refusal.text)")
            return
        }
        do {
            let s = try makeSocket(transport == .udp ? .udp : .tcp, owner: app, send: sendSize, receive: receiveSize)
            app.sockets.append(s.id)
            do { try UnixSocket.send(app.fd, Array("ok \(s.id)\n".utf8), fds: [s.region, s.appKick]) } catch {
                app.broken = true
            }
        } catch {
            counters.socketsRefused += 1
            send(app, "error \(Errno.noBuffers) \(error)")
        }
    }

    /// Why `count` more sockets for `uid` cannot be made now, if they cannot.
    private func refusalToOpen(_ transport: Transport, for uid: UInt32, count: Int) -> (errno: Int32, text: String)? {
        guard let box = outboxes[transport] else {
            return (EAFNOSUPPORT, "newsd has no \(transport.rawValue) server")
        }
        if (socketsOfUID[uid] ?? 0) + count > limits.socketsPerUID {
            return (Errno.tooManyFiles, "uid \(uid) holds \(socketsOfUID[uid] ?? 0) sockets and spares; limits.sockets_per_uid is \(limits.socketsPerUID)")
        }
        if sockets.count + count > limits.sockets {
            return (Errno.tooManyFilesInSystem, "newsd holds \(sockets.count) sockets and spares; limits.sockets is \(limits.sockets)")
        }
        if box.pendingOpens + count > Self.maxPendingOpens {
            let server = transport == .udp ? "UDP" : "TCP"
            return (Errno.noBuffers, "the \(server) server is not taking sockets now (\(box.pendingOpens) waiting); try again")
        }
        return nil
    }

    /// A socket number not in use: numbers wrap after `maxID` but never onto a live socket.
    /// The upper half is tcpserver's own (TIME-WAIT connections that gave their region back
    /// to a pool go on under numbers from there).
    private func freshID() -> UInt32 {
        while nextID == 0 || nextID > Self.maxID || sockets[nextID] != nil { nextID = nextID >= Self.maxID ? 1 : nextID + 1 }
        defer { nextID = nextID >= Self.maxID ? 1 : nextID + 1 }
        return nextID
    }

    static let maxID: UInt32 = 0x7FFF_FFFF

    /// Creates a socket's region and kick pair, records it and queues its hand-off to its
    /// server. The caller checked the limits.
    private func makeSocket(_ role: Role, owner app: App, send sendSize: Int, receive receiveSize: Int) throws -> Socket {
        let id = freshID()
        let region: SharedRegion
        if role == .udp {
            region = try SharedRegion.create(name: "socket-\(id)", size: SocketLayout.regionSize)
            SocketLayout.initialize(region.base, id: id)
        } else {
            region = try SharedRegion.create(name: "stream-\(id)", size: StreamLayout.regionSize(send: sendSize, receive: receiveSize))
            StreamLayout.initialize(region.base, id: id, send: sendSize, receive: receiveSize)
        }
        region.unmap()
        let kick: (Int32, Int32)
        do { kick = try UnixSocket.kickPair() } catch { region.closeDescriptor(); throw error }
        let socket = Socket(id: id, region: region.fd, appKick: kick.0, stackKick: kick.1, owner: app.fd, uid: app.uid, role: role,
                            sendSize: role == .udp ? 0 : sendSize, receiveSize: role == .udp ? 0 : receiveSize)
        sockets[id] = socket
        socketsOfUID[app.uid, default: 0] += 1
        if case .spare(let listener) = role {
            enqueue(.spare(listener: listener, id: id), .tcp)
        } else {
            enqueue(.open(id), socket.transport)
        }
        counters.socketsOpened += 1
        return socket
    }

    // MARK: - Listeners

    /// Makes `s` a listener with min(backlog, maxSpares) spares (at least one: Linux's
    /// listen(fd, 0) still accepts a connection); listening again only tops the spares up.
    /// All the spares it needs fit the limits, or none is made.
    private func listen(_ s: Socket, backlog: Int, app: App) {
        let target = backlog < 0 ? Self.maxSpares : max(1, min(backlog, Self.maxSpares))
        spareTarget[s.id] = max(target, spareTarget[s.id] ?? 0)
        let have = listeners[s.id]?.count ?? 0
        let need = max(0, spareTarget[s.id]! - have)
        if let refusal = refusalToOpen(.tcp, for: app.uid, count: need) {
            counters.socketsRefused += 1
            if have == 0 { spareTarget[s.id] = nil }
            send(app, "error \(refusal.errno) listen: \(need) spare sockets: \(refusal.text)")
            return
        }
        if listeners[s.id] == nil { listeners[s.id] = [] }
        do {
            for _ in 0..<need { try addSpare(to: s, app: app) }
        } catch {
            counters.socketsRefused += 1
            send(app, "error \(Errno.noBuffers) listen: \(error)")
            return
        }
        send(app, "ok")
    }

    private func addSpare(to listener: Socket, app: App) throws {
        let spare = try makeSocket(.spare(listener: listener.id), owner: app, send: listener.sendSize, receive: listener.receiveSize)
        listeners[listener.id, default: []].append(spare.id)
    }

    /// The spare becomes the application's socket: it gets the region and the app kick,
    /// tcpserver keeps serving the same region (nothing to tell it), and a fresh spare takes
    /// its place if the limits allow.
    private func acceptSpare(_ spare: Socket, of listener: UInt32, app: App) {
        sockets[spare.id]?.role = .tcp
        listeners[listener]?.removeAll { $0 == spare.id }
        app.sockets.append(spare.id)
        counters.tcpAccepts += 1
        enqueue(.accepted(spare.id), .tcp)
        do { try UnixSocket.send(app.fd, Array("ok \(spare.id)\n".utf8), fds: [spare.region, spare.appKick]) } catch {
            app.broken = true
        }
        topUpSpares(of: listener, app: app)
    }

    /// `pool ID [more]`: the spares of listener `id` the application does not hold yet, at
    /// most `maxSpares` in one answer (`ok 0` if none). With `more`, when it holds them all,
    /// a batch of up to `maxSpares` new ones is made first (as many as the limits allow;
    /// none: the refusal's errno).
    private func handOverPool(of id: UInt32, more: Bool, app: App) {
        guard let l = sockets[id] else { return }
        var fresh = (listeners[id] ?? []).filter { sockets[$0]?.handed == false }
        if fresh.isEmpty && more {
            var refusal: (errno: Int32, text: String)?
            for _ in 0..<Self.maxSpares {
                if let r = refusalToOpen(.tcp, for: app.uid, count: 1) { refusal = r; break }
                do { try addSpare(to: l, app: app) } catch { refusal = (Errno.noBuffers, "\(error)"); break }
                fresh.append(listeners[id]!.last!)
            }
            if fresh.isEmpty {
                counters.socketsRefused += 1
                let r = refusal ?? (Errno.noBuffers, "no spare sockets")
                send(app, "error \(r.errno) pool: \(r.text)")
                return
            }
        }
        let batch = Array(fresh.prefix(Self.maxSpares))
        var fds: [Int32] = []
        for spare in batch {
            sockets[spare]?.handed = true
            fds += [sockets[spare]!.region, sockets[spare]!.appKick]
        }
        counters.poolHandOvers += 1
        let line = (["ok", "\(batch.count)"] + batch.map(String.init)).joined(separator: " ") + "\n"
        do { try UnixSocket.send(app.fd, Array(line.utf8), fds: fds) } catch { app.broken = true }
    }

    private func topUpSpares(of listener: UInt32, app: App) {
        guard let l = sockets[listener], let target = spareTarget[listener] else { return }
        while (listeners[listener]?.count ?? 0) < target {
            guard refusalToOpen(.tcp, for: app.uid, count: 1) == nil, (try? addSpare(to: l, app: app)) != nil else {
                counters.sparesShort += 1
                return
            }
        }
    }

    // MARK: - Hand-offs to the servers

    private func enqueue(_ h: Handoff, _ t: Transport) {
        guard var box = outboxes[t] else { return }
        switch h {
        case .open, .spare:
            box.pendingOpens += 1
            box.queue.append(h)
        case .accepted:
            box.queue.append(h)
        case .close(let id):
            // Never handed over yet: the server need not hear of it at all.
            if let i = box.queue.firstIndex(where: { $0.opens(id) }) {
                box.queue.remove(at: i)
                box.pendingOpens -= 1
            } else {
                box.queue.append(h)
            }
        }
        outboxes[t] = box
    }

    /// Sends what each server's control socket takes now; the rest waits for POLLOUT.
    func flush() {
        for t in Transport.allCases where outboxes[t] != nil { flush(t) }
    }

    private func flush(_ t: Transport) {
        guard var box = outboxes[t] else { return }
        defer { outboxes[t] = box }
        let server = t == .udp ? "udpserver" : "tcpserver"
        while let h = box.queue.first {
            let sent: Bool
            switch h {
            case .open(let id):
                guard let s = sockets[id] else { sent = true; box.pendingOpens -= 1; break }
                sent = trySend("open \(id) \(s.uid)", fds: [s.region, s.stackKick], on: box.control, to: server)
                if sent { box.pendingOpens -= 1 }
            case .spare(let listener, let id):
                guard let s = sockets[id] else { sent = true; box.pendingOpens -= 1; break }
                sent = trySend("spare \(listener) \(id) \(s.uid)", fds: [s.region, s.stackKick], on: box.control, to: server)
                if sent { box.pendingOpens -= 1 }
            case .close(let id):
                sent = trySend("close \(id)", fds: [], on: box.control, to: server)
            case .accepted(let id):
                sent = trySend("accepted \(id)", fds: [], on: box.control, to: server)
            }
            guard sent else { box.deferred += 1; return }
            box.queue.removeFirst()
        }
    }

    private func trySend(_ text: String, fds: [Int32], on control: Int32, to server: String) -> Bool {
        do {
            try UnixSocket.send(control, Array(text.utf8), fds: fds)
            return true
        } catch {
            if error.isWouldBlock { return false }
            // The socketpair lives as long as newsd; any other error is a bug worth a line,
            // and dropping the hand-off is the only way not to retry it forever.
            log.error("cannot hand '\(text)' to \(server): \(error)")
            return true
        }
    }

    /// After a server restarted: it gets every live socket of its transport again (it takes
    /// their state back from its own state region, not from their headers); for tcpserver
    /// that includes every spare, as `spare LISTENER ID UID`, after its listener. Anything
    /// still in the socketpair from before comes first, in order, so a stale open is always
    /// followed by its close.
    func resendAll(_ t: Transport = .udp) {
        guard let box = outboxes[t] else { return }
        let live = sockets.values.filter { $0.transport == t && !box.holdsOpen(of: $0.id) }.sorted { $0.id < $1.id }
        // Every application socket first, so that each spare's listener is known when its
        // spare arrives (ids wrap, so id order alone would not say that).
        for s in live where s.role == .udp || s.role == .tcp { enqueue(.open(s.id), t) }
        for s in live { if case .spare(let listener) = s.role { enqueue(.spare(listener: listener, id: s.id), t) } }
        flush(t)
    }

    private func close(_ id: UInt32) {
        guard let s = sockets.removeValue(forKey: id) else { return }
        // A listener's spares go with it (closed after it, so tcpserver never sees a spare
        // outlive its listener).
        let spares = listeners.removeValue(forKey: id) ?? []
        spareTarget[id] = nil
        enqueue(.close(id), s.transport)
        FD.close(s.region)
        FD.close(s.appKick)
        FD.close(s.stackKick)
        socketsOfUID[s.uid, default: 1] -= 1
        if socketsOfUID[s.uid] == 0 { socketsOfUID[s.uid] = nil }
        if case .spare(let listener) = s.role { listeners[listener]?.removeAll { $0 == id } }
        let owner = apps.first(where: { $0.fd == s.owner })
        owner?.sockets.removeAll { $0 == id }
        for spare in spares {
            if let h = sockets[spare], h.handed, let owner {
                // The application holds it: an accepted connection goes on without its
                // listener, as on Linux, and a free one is the application's to close. Either
                // way it is one of its sockets now (tcpserver heard the listener's close and
                // lets the region go when the socket is closed, not back to a pool).
                sockets[spare]?.role = .tcp
                owner.sockets.append(spare)
            } else {
                close(spare)
            }
        }
    }

    private func disconnect(_ app: App) {
        // Closing a listener makes its handed spares the application's sockets: closed too.
        while let id = app.sockets.first {
            app.sockets.removeFirst()
            close(id)
        }
        apps.removeAll { $0 === app }
        FD.close(app.fd)
        counters.appsDisconnected += 1
        flush()
    }

    /// One answer line. The connection is non-blocking: an application that does not read
    /// its answers fills its own socket buffer and is disconnected, newsd does not wait.
    private func send(_ app: App, _ text: String) {
        guard !app.broken else { return }
        do { try FD.writeAll(app.fd, text + "\n") } catch { app.broken = true }
    }

    func shutdown() {
        for app in apps { disconnect(app) }
        FD.close(listenFD)
        UnixSocket.unlinkPath(path)
    }
}
