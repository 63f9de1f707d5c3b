import NewsSystem

/// How a process waits for input on its channels. Shared memory: spin a bounded number of
/// PAUSEs (catches a peer on another core), then advertise sleep on the doorbell and futex-
/// wait. Kernel path: poll(2) on the channel sockets. Either way an idle process sleeps.
public final class Waiter {
    public let bell: Doorbell?
    public let spin: Int
    public let ownEventFD: Int32
    /// The doorbell used when sleeping in poll. It is kept on the kernel path too, so that a
    /// server with a device sleeps the same way in both modes; applications never hold it
    /// (they wake the UDP server through their sockets' own kicks).
    public let pollBell: Doorbell?
    public private(set) var sleeps: UInt64 = 0
    /// More doorbells this process answers to (the NIC driver's end of a shared-memory
    /// cable): it then sleeps on all of them at once (futex_waitv).
    public var extraBells: [Doorbell] = []

    /// `bell` is this process's own doorbell (nil on the kernel path). `spin` is the number
    /// of PAUSE iterations before sleeping: 0 for a process that shares its core.
    /// `ownEventFD` is where producers knock when this process sleeps in poll (it has a
    /// device to watch as well).
    public init(bell: Doorbell?, spin: Int, ownEventFD: Int32 = -1, pollBell: Doorbell? = nil) {
        self.bell = bell
        self.spin = spin
        self.ownEventFD = ownEventFD
        self.pollBell = pollBell ?? bell
    }

    /// Like `wait`, but also watches `devices`; returns those that are readable.
    public func wait(_ channels: [any Channel], devices: [Int32], timeoutNanos: UInt64, extra: () -> Bool = { false }) -> [Int32] {
        guard !devices.isEmpty else {
            wait(channels, timeoutNanos: timeoutNanos, extra: extra)
            return []
        }
        sleeps &+= 1
        if let pollBell, ownEventFD >= 0 {
            // Kernel-path channels are watched by their descriptors; shared-memory ones by a
            // look at their rings before sleeping.
            let sockets = channels.compactMap { $0.pollDescriptor }
            let entries = pollBell.sleepPolling(devices + sockets, ownEventFD: ownEventFD, timeoutNanos: timeoutNanos) {
                for c in channels where c.pollDescriptor == nil && c.hasInput { return true }
                return extra()
            }
            return entries.prefix(devices.count).filter(\.readable).map(\.fd)
        }
        var entries = (devices + channels.compactMap { $0.pollDescriptor }).map { Poll.Entry(fd: $0) }
        if extra() { return Poll.readable(devices) }
        Poll.wait(&entries, timeoutMillis: Int32(clamping: (timeoutNanos + 999_999) / 1_000_000))
        return entries.prefix(devices.count).filter(\.readable).map(\.fd)
    }

    /// Returns when some channel may have input, `extra()` is true, or the timeout passes.
    public func wait(_ channels: [any Channel], timeoutNanos: UInt64, extra: () -> Bool = { false }) {
        if let bell {
            func ready() -> Bool {
                for c in channels where c.hasInput { return true }
                return extra()
            }
            var i = 0
            while i < spin {
                if ready() { return }
                CPU.relax()
                i += 1
            }
            sleeps &+= 1
            if extraBells.isEmpty {
                bell.sleep(timeoutNanos: timeoutNanos, ready: ready)
            } else {
                let all = [bell] + extraBells
                let prepared = all.map { $0.prepareSleep() }
                if !ready() { Futex.waitAny(prepared.map(\.word), expected: prepared.map(\.value), timeoutNanos: timeoutNanos) }
                all.forEach { $0.endSleep() }
            }
        } else {
            if extra() { return }
            var entries = channels.compactMap { $0.pollDescriptor }.map { Poll.Entry(fd: $0) }
            sleeps &+= 1
            Poll.wait(&entries, timeoutMillis: Int32(clamping: (timeoutNanos + 999_999) / 1_000_000))
        }
    }
}
