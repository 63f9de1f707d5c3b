import Glibc
import Logging

/// A swift-log handler that writes one line per record straight to a descriptor with
/// write(2): no stdio locks, no time-zone files (UTC only), so it keeps working under a
/// server's seccomp filter.
public struct NewsLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    private let label: String
    private let fd: Int32

    public init(label: String, level: Logger.Level = .info, fd: Int32 = 2) {
        self.label = label
        self.logLevel = level
        self.fd = fd
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var line = Self.timestamp() + " " + label + "[\(getpid())] " + event.level.rawValue + ": " + event.message.description
        let all = metadata.merging(event.metadata ?? [:]) { _, new in new }
        for key in all.keys.sorted() { line += " \(key)=\(all[key]!)" }
        line += "\n"
        var bytes = Array(line.utf8)
        bytes.withUnsafeMutableBytes { _ = write(fd, $0.baseAddress, $0.count) }
    }

    static func timestamp() -> String {
        let (sec, ns) = Clock.wall()
        var t = time_t(sec)
        var tm = tm()
        gmtime_r(&t, &tm)
        func pad(_ v: Int32, _ w: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, w - s.count)) + s
        }
        return "\(pad(tm.tm_year + 1900, 4))-\(pad(tm.tm_mon + 1, 2))-\(pad(tm.tm_mday, 2))T"
            + "\(pad(tm.tm_hour, 2)):\(pad(tm.tm_min, 2)):\(pad(tm.tm_sec, 2)).\(pad(Int32(ns / 1_000_000), 3))Z"
    }

    /// Sets swift-log up once per process.
    public static func bootstrap(level: Logger.Level) {
        LoggingSystem.bootstrap { label in NewsLogHandler(label: label, level: level) }
    }
}
