import CNewsLinux
import Glibc

/// A shared-memory region backed by a memfd. newsd creates every region (so they outlive any
/// server) and hands the descriptor to the processes that map it.
///
/// Every region newsd creates is sealed against shrinking and growing, and against further
/// seals, before anyone else sees it: whoever holds the descriptor (a server, an application)
/// can neither truncate it under another process's mapping (SIGBUS) nor freeze it with
/// F_SEAL_WRITE. Every receiver checks the size and the seals before it maps.
public final class SharedRegion: @unchecked Sendable {
    public let fd: Int32
    public let size: Int
    public let base: UnsafeMutableRawPointer
    public let name: String

    /// Creates a zero-filled region of `size` bytes (rounded up to a page).
    public static func create(name: String, size: Int) throws(SystemError) -> SharedRegion {
        let fd = try shim(news_memfd_create("news:" + name), "memfd_create \(name)")
        let rounded = (size + 4095) & ~4095
        if ftruncate(fd, off_t(rounded)) < 0 {
            let e = SystemError("ftruncate \(name)")
            Glibc.close(fd)
            throw e
        }
        let sealed = news_seal_size(fd)
        if sealed < 0 {
            Glibc.close(fd)
            throw SystemError("seal \(name)", errno: -sealed)
        }
        do {
            return try SharedRegion(fd: fd, size: rounded, name: name)
        } catch {
            Glibc.close(fd)
            throw error
        }
    }

    /// Maps a region descriptor someone handed over. The size is the caller's expectation; a
    /// memfd smaller than that is refused rather than mapped (touching past its end would
    /// SIGBUS), and so is one whose size is not sealed (whoever else holds it could shrink it
    /// later). `sealed: false` is for the one region that is a file rather than a memfd (the
    /// cable, root-only): tmpfs files cannot be sealed.
    public init(fd: Int32, size: Int, name: String, sealed: Bool = true) throws(SystemError) {
        var st = stat()
        try sys(fstat(fd, &st), "fstat region \(name)")
        guard st.st_size >= size else { throw SystemError("region \(name) is \(st.st_size) bytes, need \(size)", errno: EINVAL) }
        if sealed {
            let seals = news_get_seals(fd)
            guard seals >= 0, news_seals_fix_size(seals) == 1 else {
                throw SystemError("region \(name) is not sealed against resizing (seals \(seals))", errno: EPERM)
            }
        }
        guard let p = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), p != MAP_FAILED else {
            throw SystemError("mmap region \(name)")
        }
        self.fd = fd
        self.size = size
        self.base = p
        self.name = name
    }

    /// The size of a sealed memfd, for regions whose size their header states (a TCP
    /// socket's): the caller maps this much and checks the header against it.
    public static func sealedSize(of fd: Int32) throws(SystemError) -> Int {
        var st = stat()
        try sys(fstat(fd, &st), "fstat region")
        let seals = news_get_seals(fd)
        guard seals >= 0, news_seals_fix_size(seals) == 1 else {
            throw SystemError("region is not sealed against resizing (seals \(seals))", errno: EPERM)
        }
        return Int(st.st_size)
    }

    public func zero() { memset(base, 0, size) }

    /// Unmaps; the descriptor stays open (newsd keeps regions across server restarts).
    public func unmap() { munmap(base, size) }

    public func closeDescriptor() { Glibc.close(fd) }
}
