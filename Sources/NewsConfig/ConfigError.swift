/// An error in a configuration file: a TOML syntax error or a validation error.
///
/// `description` reads `config line 7, key 'period_ms': expected an integer in 20...60000, found "abc"`;
/// after `withPath(_:)` it reads `FILE:7: key 'period_ms': expected ...`. Parts that are unknown
/// (line 0, key nil) are left out.
public struct ConfigError: Error, CustomStringConvertible, Equatable, Sendable {
    /// 1-based line number, 0 if the error is not tied to a line.
    public var line: Int
    /// The key the error is about (the bare key, without its table), if any.
    public var key: String?
    /// What is wrong.
    public var message: String
    /// The file the text came from, if known (see `withPath(_:)`).
    public var path: String?

    public init(line: Int = 0, key: String? = nil, _ message: String, path: String? = nil) {
        self.line = line
        self.key = key
        self.message = message
        self.path = path
    }

    /// A copy of this error that names the file it came from.
    public func withPath(_ path: String) -> ConfigError {
        var copy = self
        copy.path = path
        return copy
    }

    public var description: String {
        let keyPart = key.map { "key '\($0)'" }
        if let path {
            var prefix = path
            if line > 0 { prefix += ":\(line)" }
            if let keyPart { return "\(prefix): \(keyPart): \(message)" }
            return "\(prefix): \(message)"
        }
        var prefix = "config"
        if line > 0 { prefix += " line \(line)" }
        if let keyPart { prefix += line > 0 ? ", \(keyPart)" : " \(keyPart)" }
        return "\(prefix): \(message)"
    }
}
