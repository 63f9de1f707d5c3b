import NewsIPC
import NewsSystem

/// The cable backend's file: newsd opens (or creates) it and hands the descriptor to the NIC
/// driver as its device. Side a lays the cable out afresh; side b only makes sure the file
/// is big enough, then its driver waits for side a.
enum Cable {
    static func open(path: String, layOut: Bool) throws -> Int32 {
        guard !path.isEmpty else { throw StartupError("nic.cable is empty") }
        // Root only (0600): a tmpfs file cannot be sealed, so no one but the two newsds may hold
        // it (anyone who could truncate it would SIGBUS both NIC drivers).
        let fd = try FD.openShared(path, size: CableLayout.size, mode: 0o600)
        if layOut {
            let region = try SharedRegion(fd: fd, size: CableLayout.size, name: "cable", sealed: false)
            CableLayout.initialize(region.base)
            region.unmap()
        }
        return fd
    }
}
