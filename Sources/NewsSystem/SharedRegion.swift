import CNewsLinux
import Glibc

/// A shared-memory region backed by a memfd. newsd creates every region (so they outlive any
/// server) and hands the descriptor to the processes that map it.
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
        do {
            return try SharedRegion(fd: fd, size: rounded, name: name)
        } catch {
            Glibc.close(fd)
            throw error
        }
    }

    /// Maps an inherited region descriptor. The size is the caller's expectation; a memfd
    /// smaller than that is refused rather than mapped (touching past its end would SIGBUS).
    public init(fd: Int32, size: Int, name: String) throws(SystemError) {
        var st = stat()
        try sys(fstat(fd, &st), "fstat region \(name)")
        guard st.st_size >= size else { throw SystemError("region \(name) is \(st.st_size) bytes, need \(size)", errno: EINVAL) }
        guard let p = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), p != MAP_FAILED else {
            throw SystemError("mmap region \(name)")
        }
        self.fd = fd
        self.size = size
        self.base = p
        self.name = name
    }

    public func zero() { memset(base, 0, size) }

    /// Unmaps; the descriptor stays open (newsd keeps regions across server restarts).
    public func unmap() { munmap(base, size) }

    public func closeDescriptor() { Glibc.close(fd) }
}
