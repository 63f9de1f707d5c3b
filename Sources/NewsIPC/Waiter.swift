import NewsSystem

/// How a process waits for input on its channels. Shared memory: spin a bounded number of
/// PAUSEs (catches a peer on another core), then advertise sleep on the doorbell and futex-
/// wait. Kernel path: poll(2) on the channel sockets. Either way an idle process sleeps.
public final class Waiter {
    public let bell: Doorbell?
    public let spin: Int
    public let ownEventFD: Int32
    public private(set) var sleeps: UInt64 = 0

    /// `bell` is this process's own doorbell (nil on the kernel path). `spin` is the number
    /// of PAUSE iterations before sleeping: 0 for a process that shares its core.
    /// `ownEventFD` is where producers knock when this process sleeps in poll (it has a
    /// device to watch as well).
    public init(bell: Doorbell?, spin: Int, ownEventFD: Int32 = -1) {
        self.bell = bell
        self.spin = spin
        self.ownEventFD = ownEventFD
    }

    /// Like `wait`, but also watches `devices`; returns those that are readable.
    public func wait(_ channels: [any Channel], devices: [Int32], timeoutNanos: UInt64, extra: () -> Bool = { false }) -> [Int32] {
        guard !devices.isEmpty else {
            wait(channels, timeoutNanos: timeoutNanos, extra: extra)
            return []
        }
        sleeps &+= 1
        if let bell, ownEventFD >= 0 {
            let entries = bell.sleepPolling(devices, ownEventFD: ownEventFD, timeoutNanos: timeoutNanos) {
                for c in channels where c.hasInput { return true }
                return extra()
            }
            return entries.filter(\.readable).map(\.fd)
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
            bell.sleep(timeoutNanos: timeoutNanos, ready: ready)
        } else {
            if extra() { return }
            var entries = channels.compactMap { $0.pollDescriptor }.map { Poll.Entry(fd: $0) }
            sleeps &+= 1
            Poll.wait(&entries, timeoutMillis: Int32(clamping: (timeoutNanos + 999_999) / 1_000_000))
        }
    }
}
