// Types for the ARP cache (RFC 826, RFC 1122 2.3.2): configuration, states, actions, counters.

import NewsWire

public struct ARPConfiguration: Sendable, Equatable {
    /// How long a learned mapping is trusted. RFC 1122 2.3.2.1 requires some timeout
    /// mechanism so stale entries are flushed; 60 s is a common host default.
    public var reachableLifetime: UInt64
    /// RFC 1122 2.3.2.1: "The recommended maximum rate is 1 per second per destination."
    public var retryInterval: UInt64
    /// Requests sent for one address before it is declared unreachable.
    public var maxRequests: Int
    /// RFC 1122 2.3.2.2: packets held per unresolved address (the latest are kept).
    public var maxQueuedPerAddress: Int
    /// Entries held at once; the least recently updated is evicted to admit a new one.
    public var capacity: Int

    public init(reachableLifetime: UInt64 = 60_000_000_000,
                retryInterval: UInt64 = 1_000_000_000,
                maxRequests: Int = 3,
                maxQueuedPerAddress: Int = 4,
                capacity: Int = 256) {
        self.reachableLifetime = reachableLifetime
        self.retryInterval = retryInterval
        self.maxRequests = max(1, maxRequests)
        self.maxQueuedPerAddress = max(0, maxQueuedPerAddress)
        self.capacity = max(1, capacity)
    }
}

public enum ARPEntryState: Sendable, Equatable {
    /// A request is outstanding; `requestsSent` counts them, the last at `lastRequestAt`.
    case incomplete(requestsSent: Int, lastRequestAt: UInt64)
    /// The mapping is known and trusted until `expiresAt` (monotonic ns).
    case reachable(MACAddress, expiresAt: UInt64)
}

/// What the caller should do to send a packet to an address.
public enum ResolveAction: Sendable, Equatable {
    /// Send now to this hardware address.
    case known(MACAddress)
    /// Broadcast an ARP request now (then enqueue the packet).
    case sendRequest
    /// A request is outstanding and it is too early to repeat it: enqueue the packet.
    case wait
    /// All requests went unanswered: the entry is gone and its queue was dropped.
    /// The caller may report ICMP host unreachable for the packet in hand.
    case failed
}

/// What timer-driven maintenance (`expire(now:)`) wants done.
public struct ARPMaintenance: Sendable, Equatable {
    /// Addresses to send another ARP request for, now.
    public var retry: [IPv4Address] = []
    /// Addresses that gave up; their queued packets were dropped.
    public var failed: [IPv4Address] = []
    public init(retry: [IPv4Address] = [], failed: [IPv4Address] = []) {
        self.retry = retry
        self.failed = failed
    }
}

/// A read-only view of one entry, for status pages and tests.
public struct ARPEntrySnapshot: Sendable, Equatable {
    public var ip: IPv4Address
    public var state: ARPEntryState
    public var queuedPackets: Int
    public var updatedAt: UInt64
}

public struct ARPCounters: Sendable, Equatable {
    public var requestsSent: UInt64 = 0
    /// Addresses that exhausted their requests.
    public var resolutionFailures: UInt64 = 0
    /// Queued packets discarded because resolution failed or the entry was evicted.
    public var queuedPacketsDropped: UInt64 = 0
    /// Older queued packets displaced by newer ones (RFC 1122 keeps the latest).
    public var queueOverflows: UInt64 = 0
    /// Packets offered to `enqueue` with no resolution in progress for their address.
    public var enqueueRejected: UInt64 = 0
    public var evictions: UInt64 = 0
    public var expired: UInt64 = 0
    /// RFC 826 merge: an existing entry was refreshed from an ARP packet.
    public var updated: UInt64 = 0
    /// RFC 826: a new entry was added because we were the target.
    public var added: UInt64 = 0
    /// ARP packets ignored: unspecified sender, group MAC, or not for us and not known.
    public var ignored: UInt64 = 0
    public init() {}

    public var named: [(name: String, value: UInt64)] {
        [("arp_requests_sent", requestsSent), ("arp_resolution_failures", resolutionFailures),
         ("arp_queued_dropped", queuedPacketsDropped), ("arp_queue_overflow", queueOverflows),
         ("arp_enqueue_rejected", enqueueRejected), ("arp_evictions", evictions),
         ("arp_expired", expired), ("arp_updated", updated), ("arp_added", added),
         ("arp_ignored", ignored)]
    }
}
