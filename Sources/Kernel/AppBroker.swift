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
/// Protocol (one line each way): on connect newsd says `hello 1` or `refused ERRNO TEXT`;
/// then `udp` → `ok ID` (with the two descriptors) and `close ID` → `ok`, or `error ERRNO TEXT`.
final class AppBroker {
    struct Socket {
        let id: UInt32
        let region: Int32
        /// newsd keeps both kick ends for the socket's life: the stack's until the UDP server has
        /// it (the hand-off may wait, and is repeated after a restart), the application's so that
        /// an application closing its end cannot leave the UDP server a hung-up socket that
        /// polls readable forever.
        let appKick: Int32
        let stackKick: Int32
        let owner: Int32
        let uid: UInt32
    }

    final class App {
        let fd: Int32
        let uid: UInt32
        var buffer: [UInt8] = []
        var sockets: [UInt32] = []
        var broken = false
        init(fd: Int32, uid: UInt32) { self.fd = fd; self.uid = uid }
    }

    enum Handoff: Equatable { case open(UInt32), close(UInt32) }

    /// Opens that may wait for a UDP server that is down, hung or slow.
    static let maxPendingOpens = 256

    let log = Logger(label: "newsd")
    let path: String
    let listenFD: Int32
    let udpControl: Int32
    let group: (name: String, gid: UInt32)?
    let limits: Config.Limits
    private(set) var apps: [App] = []
    private(set) var sockets: [UInt32: Socket] = [:]
    private var socketsOfUID: [UInt32: Int] = [:]
    private var nextID: UInt32 = 1
    private(set) var outbox: [Handoff] = []
    private var pendingOpens = 0
    var counters = Counters()

    struct Counters {
        var appsRefused: UInt64 = 0
        var appsDisconnected: UInt64 = 0
        var socketsOpened: UInt64 = 0
        var socketsRefused: UInt64 = 0
        var handoffsDeferred: UInt64 = 0
        var badRequests: UInt64 = 0
    }

    init(path: String, group: (name: String, gid: UInt32)?, limits: Config.Limits, udpControl: Int32) throws {
        self.path = path
        self.group = group
        self.limits = limits
        // With app_group set the kernel already refuses others (0660); newsd checks the
        // peer's groups as well, so a connection passed on by a member is no way in.
        listenFD = try UnixSocket.listen(path: path, mode: group == nil ? 0o666 : 0o660, group: group?.gid ?? 0)
        self.udpControl = udpControl
        try FD.setNonBlocking(udpControl)
    }

    var descriptors: [Int32] { [listenFD] + apps.map(\.fd) }
    /// Whether newsd should wait for the UDP server's control socket to take more.
    var wantsToWrite: Bool { !outbox.isEmpty }

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
            send(app, "hello 1")
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
            if let refusal = refusalToOpen(for: app.uid) {
                counters.socketsRefused += 1
                send(app, "error \(refusal.errno) \(refusal.text)")
                return
            }
            do { try open(for: app) } catch {
                counters.socketsRefused += 1
                send(app, "error \(Errno.noBuffers) \(error)")
            }
        case ("close", 2):
            guard let id = UInt32(words[1]), app.sockets.contains(id) else {
                counters.badRequests += 1
                send(app, "error \(Errno.badDescriptor) no such socket")
                return
            }
            close(id)
            send(app, "ok")
        default:
            counters.badRequests += 1
            send(app, "error \(Errno.invalid) bad request")
        }
    }

    private func refusalToOpen(for uid: UInt32) -> (errno: Int32, text: String)? {
        if (socketsOfUID[uid] ?? 0) >= limits.socketsPerUID {
            return (Errno.tooManyFiles, "uid \(uid) holds \(limits.socketsPerUID) sockets already (limits.sockets_per_uid)")
        }
        if sockets.count >= limits.sockets {
            return (Errno.tooManyFilesInSystem, "newsd holds \(limits.sockets) sockets already (limits.sockets)")
        }
        if pendingOpens >= Self.maxPendingOpens {
            return (Errno.noBuffers, "the UDP server is not taking sockets now (\(pendingOpens) waiting); try again")
        }
        return nil
    }

    /// A socket number not in use: numbers wrap after 2^32 - 1 but never onto a live socket.
    private func freshID() -> UInt32 {
        while nextID == 0 || sockets[nextID] != nil { nextID &+= 1 }
        defer { nextID &+= 1 }
        return nextID
    }

    private func open(for app: App) throws {
        let id = freshID()
        let region = try SharedRegion.create(name: "socket-\(id)", size: SocketLayout.regionSize)
        SocketLayout.initialize(region.base, id: id)
        region.unmap()
        let kick: (Int32, Int32)
        do { kick = try UnixSocket.kickPair() } catch { region.closeDescriptor(); throw error }
        let socket = Socket(id: id, region: region.fd, appKick: kick.0, stackKick: kick.1, owner: app.fd, uid: app.uid)
        sockets[id] = socket
        socketsOfUID[app.uid, default: 0] += 1
        app.sockets.append(id)
        enqueue(.open(id))
        counters.socketsOpened += 1
        do { try UnixSocket.send(app.fd, Array("ok \(id)\n".utf8), fds: [region.fd, kick.0]) } catch {
            app.broken = true
        }
    }

    // MARK: - Hand-offs to the UDP server

    private func enqueue(_ h: Handoff) {
        switch h {
        case .open:
            pendingOpens += 1
            outbox.append(h)
        case .close(let id):
            // Never handed over yet: the UDP server need not hear of it at all.
            if let i = outbox.firstIndex(of: .open(id)) {
                outbox.remove(at: i)
                pendingOpens -= 1
            } else {
                outbox.append(h)
            }
        }
    }

    /// Sends what the UDP server's control socket takes now; the rest waits for POLLOUT.
    func flush() {
        while let h = outbox.first {
            let sent: Bool
            switch h {
            case .open(let id):
                guard let s = sockets[id] else { sent = true; break }
                sent = trySend("open \(id) \(s.uid)", fds: [s.region, s.stackKick])
                if sent { pendingOpens -= 1 }
            case .close(let id):
                sent = trySend("close \(id)", fds: [])
            }
            guard sent else { counters.handoffsDeferred += 1; return }
            outbox.removeFirst()
        }
    }

    private func trySend(_ text: String, fds: [Int32]) -> Bool {
        do {
            try UnixSocket.send(udpControl, Array(text.utf8), fds: fds)
            return true
        } catch {
            if error.isWouldBlock { return false }
            // The socketpair lives as long as newsd; any other error is a bug worth a line,
            // and dropping the hand-off is the only way not to retry it forever.
            log.error("cannot hand '\(text)' to udpserver: \(error)")
            return true
        }
    }

    /// After the UDP server restarted: it gets every live socket again (it takes their
    /// bindings back from its own state region, not from their headers). Anything still in
    /// the socketpair from before comes first, in order, so a stale open is always followed
    /// by its close.
    func resendAll() {
        for s in sockets.values.sorted(by: { $0.id < $1.id }) where !outbox.contains(.open(s.id)) { enqueue(.open(s.id)) }
        flush()
    }

    private func close(_ id: UInt32) {
        guard let s = sockets.removeValue(forKey: id) else { return }
        enqueue(.close(id))
        FD.close(s.region)
        FD.close(s.appKick)
        FD.close(s.stackKick)
        socketsOfUID[s.uid, default: 1] -= 1
        if socketsOfUID[s.uid] == 0 { socketsOfUID[s.uid] = nil }
        if let app = apps.first(where: { $0.fd == s.owner }) { app.sockets.removeAll { $0 == id } }
    }

    private func disconnect(_ app: App) {
        for id in app.sockets { close(id) }
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
