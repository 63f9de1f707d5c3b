import Logging
import NewsIPC
import NewsSystem

/// Where applications get their sockets. An application (libnews) keeps one connection to
/// newsd's app socket for its lifetime; on `udp` newsd creates a fresh exposed-buffer region
/// (never a recycled one, so no application can see another's memory), hands it to the UDP
/// server over their private control connection and to the application with what it needs
/// to wake the UDP server. When the connection ends, every socket it opened is closed.
final class AppBroker {
    struct Socket {
        let id: UInt32
        let region: Int32
        let owner: Int32
        let uid: UInt32
    }

    final class App {
        let fd: Int32
        let uid: UInt32
        var buffer: [UInt8] = []
        var sockets: [UInt32] = []
        init(fd: Int32, uid: UInt32) { self.fd = fd; self.uid = uid }
    }

    static let maxApps = 64
    static let maxSocketsPerApp = 32

    let log = Logger(label: "newsd")
    let path: String
    let listenFD: Int32
    let udpControl: Int32
    let udpBell: Int32
    let udpWake: Int32
    private(set) var apps: [App] = []
    private(set) var sockets: [UInt32: Socket] = [:]
    private var nextID: UInt32 = 1
    private(set) var opened: UInt64 = 0
    private(set) var refused: UInt64 = 0

    init(path: String, udpControl: Int32, udpBell: Int32, udpWake: Int32) throws {
        self.path = path
        listenFD = try UnixSocket.listen(path: path, mode: 0o666, group: 0)
        self.udpControl = udpControl
        self.udpBell = udpBell
        self.udpWake = udpWake
    }

    var descriptors: [Int32] { [listenFD] + apps.map(\.fd) }

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
        while let nl = app.buffer.firstIndex(of: UInt8(ascii: "\n")) {
            let line = String(decoding: app.buffer[..<nl], as: UTF8.self)
            app.buffer.removeSubrange(...nl)
            handle(line, from: app)
        }
        if app.buffer.count > 1024 { disconnect(app) }
    }

    private func accept() {
        while let fd = try? UnixSocket.accept(listenFD) {
            guard apps.count < Self.maxApps, let cred = try? UnixSocket.peerCredentials(fd) else {
                refused += 1
                FD.close(fd)
                continue
            }
            apps.append(App(fd: fd, uid: cred.uid))
        }
    }

    private func handle(_ line: String, from app: App) {
        let words = line.split(separator: " ")
        switch (words.first, words.count) {
        case ("udp", 1):
            guard app.sockets.count < Self.maxSocketsPerApp else { answer(app, "error too many sockets"); return }
            do { try open(for: app) } catch { answer(app, "error \(error)") }
        case ("close", 2):
            guard let id = UInt32(words[1]), app.sockets.contains(id) else { answer(app, "error no such socket"); return }
            close(id)
            answer(app, "ok")
        default:
            answer(app, "error bad request")
        }
    }

    private func open(for app: App) throws {
        let id = nextID
        nextID &+= 1
        let region = try SharedRegion.create(name: "socket-\(id)", size: SocketLayout.regionSize)
        SocketLayout.initialize(region.base, id: id)
        region.unmap()
        let socket = Socket(id: id, region: region.fd, owner: app.fd, uid: app.uid)
        sockets[id] = socket
        app.sockets.append(id)
        tellUDP(open: socket)
        try UnixSocket.send(app.fd, Array("ok \(id)\n".utf8), fds: [region.fd, udpBell, udpWake])
        opened += 1
    }

    func tellUDP(open s: Socket) {
        do { try UnixSocket.send(udpControl, Array("open \(s.id) \(s.uid)".utf8), fds: [s.region]) } catch {
            log.error("cannot hand socket \(s.id) to udpserver: \(error)")
        }
    }

    /// After the UDP server restarted: it gets every live socket again (it re-adopts their
    /// bindings from their headers, checking them).
    func resendAll() {
        for s in sockets.values.sorted(by: { $0.id < $1.id }) { tellUDP(open: s) }
    }

    private func close(_ id: UInt32) {
        guard let s = sockets.removeValue(forKey: id) else { return }
        try? UnixSocket.send(udpControl, Array("close \(id)".utf8), fds: [])
        FD.close(s.region)
        if let app = apps.first(where: { $0.fd == s.owner }) { app.sockets.removeAll { $0 == id } }
    }

    private func disconnect(_ app: App) {
        for id in app.sockets { close(id) }
        apps.removeAll { $0 === app }
        FD.close(app.fd)
    }

    private func answer(_ app: App, _ text: String) { try? FD.writeAll(app.fd, text + "\n") }

    func shutdown() {
        for app in apps { disconnect(app) }
        FD.close(listenFD)
        UnixSocket.unlinkPath(path)
    }
}
