import Glibc

/// A failed system call: which operation and the errno it returned.
public struct SystemError: Error, CustomStringConvertible, Equatable, Sendable {
    public let operation: String
    public let errno: Int32

    public init(_ operation: String, errno: Int32 = Glibc.errno) {
        self.operation = operation
        self.errno = errno
    }

    public var description: String { "\(operation): \(String(cString: strerror(errno))) (errno \(errno))" }
    public var isWouldBlock: Bool { errno == EAGAIN || errno == EWOULDBLOCK }
}

/// Checks a libc-style return (-1 and errno on failure).
@inline(__always) @discardableResult
public func sys(_ result: Int32, _ operation: @autoclosure () -> String) throws(SystemError) -> Int32 {
    if result < 0 { throw SystemError(operation()) }
    return result
}

/// Checks a shim-style return (-errno on failure).
@inline(__always) @discardableResult
public func shim(_ result: Int32, _ operation: @autoclosure () -> String) throws(SystemError) -> Int32 {
    if result < 0 { throw SystemError(operation(), errno: -result) }
    return result
}

/// The errno values the socket layer reports, so that servers and libnews need not import
/// Glibc for them.
public enum Errno {
    @inlinable public static var again: Int32 { EAGAIN }
    public static let addressInUse = EADDRINUSE
    public static let addressNotAvailable = EADDRNOTAVAIL
    public static let access = EACCES
    public static let invalid = EINVAL
    public static let destinationRequired = EDESTADDRREQ
    public static let messageTooLong = EMSGSIZE
    public static let notConnected = ENOTCONN
    public static let badDescriptor = EBADF
    public static let timedOut = ETIMEDOUT
    public static let connectionRefused = ECONNREFUSED
    public static let noBuffers = ENOBUFS
    public static let tooManyFiles = EMFILE
    public static let tooManyFilesInSystem = ENFILE
    public static let permission = EPERM
    public static let isConnected = EISCONN
    public static let alreadyInProgress = EALREADY
    public static let inProgress = EINPROGRESS
    public static let noProtocolOption = ENOPROTOOPT
    public static let protocolError = EPROTO
    public static let connectionReset = ECONNRESET
    public static let brokenPipe = EPIPE

    public static func describe(_ code: Int32) -> String { String(cString: strerror(code)) }
}
