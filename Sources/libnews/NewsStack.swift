import NewsConfig
import NewsIPC
import NewsSystem

/// An application's connection to NEWS: one unix-socket connection to newsd's app socket,
/// held for the application's lifetime (its end closes every socket it opened). It is used
/// only to create and close sockets; data never goes through it.
public final class NewsStack {
    public static let defaultSocket = "/run/news/app.sock"
    let fd: Int32
    /// Which sleep of tcpserver this application kicked last, for all its TCP sockets.
    let kickLedger = KickLedger()
    /// A `pool` answer carries two descriptors for each of up to 32 spares (newsd's batch).
    static let maxDescriptorsPerAnswer = 64

    public init(socketPath: String = NewsStack.defaultSocket) throws(SocketError) {
        do { fd = try UnixSocket.connect(path: socketPath) } catch {
            if error.errno == Errno.access {
                throw SocketError(errno: error.errno, "newsd at \(socketPath) refuses this user: the app socket admits only root and members of newsd's app_group")
            }
            throw SocketError(errno: error.errno, "cannot reach newsd at \(socketPath): \(error)")
        }
        UnixSocket.setReceiveTimeout(fd, seconds: 5)
        // newsd greets every connection, or says why it refuses it (app_group, limits).
        let (words, fds) = try receiveLine()
        fds.forEach(FD.close)
        guard let hello = Hello(words) else {
            FD.close(fd)
            throw Self.refusal(words, from: socketPath)
        }
        self.hello = hello
        // Run where newsd says, away from the stack's servers, unless told not to. A failure
        // is no reason to refuse the application its sockets (a cpuset may forbid the CPUs).
        if let cpus = hello.cpus, Self.affinityWanted(environment: Proc.environment("NEWS_AFFINITY")) {
            placedApart = (try? CPU.setProcessAffinity(cpus)) != nil
        }
    }

    /// Whether the application runs on CPUs newsd keeps apart from the stack's servers (the
    /// hello's advice, taken). Only then may a poll look for long before it sleeps: on a CPU
    /// it shares with the servers, its look would keep them from the very work it waits for.
    public private(set) var placedApart = false

    /// What newsd said on connect (set once, in init, before anything else may look).
    public private(set) var hello = Hello(version: 1, cpus: nil)

    /// newsd's greeting, `hello VERSION [KEY=VALUE...]`. Words it does not know are skipped,
    /// so newsd may add more.
    public struct Hello: Equatable, Sendable {
        public let version: Int
        /// `cpus=LIST`: the CPUs newsd advises the application to run on; nil without advice
        /// (or if the list does not parse: advice, not a reason to fail).
        public let cpus: [Int]?

        init(version: Int, cpus: [Int]?) {
            self.version = version
            self.cpus = cpus
        }

        public init?(_ words: [Substring]) {
            guard words.first == "hello", words.count >= 2, let version = Int(words[1]), version >= 1 else { return nil }
            self.version = version
            var cpus: [Int]? = nil
            for word in words.dropFirst(2) where word.hasPrefix("cpus=") {
                cpus = try? Config.parseCPUList(String(word.dropFirst("cpus=".count)))
            }
            self.cpus = cpus
        }
    }

    /// `NEWS_AFFINITY=0` leaves the application's affinity alone (it places itself).
    static func affinityWanted(environment value: String?) -> Bool { value != "0" }

    deinit { FD.close(fd) }

    /// One request line; returns the answer's words and any descriptors sent with it.
    func request(_ line: String) throws(SocketError) -> ([Substring], [Int32]) {
        do { try FD.writeAll(fd, line + "\n") } catch { throw SocketError(errno: error.errno, "newsd: \(error)") }
        let (words, fds) = try receiveLine()
        guard words.first == "ok" else {
            fds.forEach(FD.close)
            throw Self.refusal(words, from: nil)
        }
        return (Array(words.dropFirst()), fds)
    }

    /// `refused|error ERRNO TEXT` as the SocketError a POSIX call would give.
    static func refusal(_ words: [Substring], from path: String?) -> SocketError {
        let code = words.count > 1 ? Int32(words[1]) : nil
        let text = words.dropFirst(code == nil ? 1 : 2).joined(separator: " ")
        let prefix = path.map { "newsd at \($0) refused the connection: " } ?? "newsd: "
        return SocketError(errno: code ?? Errno.invalid, prefix + (text.isEmpty ? "unexpected answer" : text))
    }

    /// The answer is one line; descriptors come with it. Blocks until it arrives.
    private func receiveLine() throws(SocketError) -> ([Substring], [Int32]) {
        var bytes: [UInt8] = []
        var fds: [Int32] = []
        let deadline = Clock.nanos() + 5_000_000_000
        while !bytes.contains(UInt8(ascii: "\n")) {
            let got: (bytes: [UInt8], fds: [Int32])?
            do { got = try UnixSocket.receive(fd, max: 1024, maxFDs: Self.maxDescriptorsPerAnswer) } catch {
                fds.forEach(FD.close)
                throw SocketError(errno: error.errno, "newsd: \(error)")
            }
            if let got {
                if got.bytes.isEmpty && got.fds.isEmpty {
                    throw SocketError(errno: Errno.notConnected, "newsd closed the connection")
                }
                bytes += got.bytes
                fds += got.fds
            } else {
                guard Clock.nanos() < deadline else {
                    fds.forEach(FD.close)
                    throw SocketError(errno: Errno.timedOut, "newsd did not answer")
                }
                Clock.sleep(nanos: 100_000)
            }
        }
        let words = String(decoding: bytes, as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\n" })
        return (words, fds)
    }
}

/// A socket call that failed: the errno a POSIX call would have set, and what happened.
public struct SocketError: Error, CustomStringConvertible, Equatable {
    public let errno: Int32
    public let detail: String
    public init(errno: Int32, _ detail: String = "") { self.errno = errno; self.detail = detail }
    public var description: String { detail.isEmpty ? Errno.describe(errno) : "\(detail) (\(Errno.describe(errno)))" }
    public var wouldBlock: Bool { errno == Errno.again }
    static let again = SocketError(errno: Errno.again)
}
