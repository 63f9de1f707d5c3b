// ARP resolution cache (RFC 826, RFC 1122 2.3.2.1 and 2.3.2.2).
//
// The cache decides; the caller acts. `resolve` says whether to send, request or queue;
// `expire` (called from a timer, ~every retry interval) drives retries and expiry;
// `learned` merges an incoming ARP packet and hands back the packets waiting on it.

import NewsWire

public struct ARPCache<Packet: Sendable>: Sendable {
    public let configuration: ARPConfiguration
    public internal(set) var counters = ARPCounters()

    private struct Entry: Sendable {
        var state: ARPEntryState
        var queue: [Packet] = []
        var updatedAt: UInt64
    }

    private var entries: [IPv4Address: Entry] = [:]

    public init(configuration: ARPConfiguration = ARPConfiguration()) {
        self.configuration = configuration
    }

    public var count: Int { entries.count }

    /// The hardware address for `ip` if a fresh mapping is known; never starts a request.
    public func lookup(_ ip: IPv4Address, now: UInt64) -> MACAddress? {
        if case .reachable(let mac, let expiresAt)? = entries[ip]?.state, now < expiresAt { return mac }
        return nil
    }

    /// Decides how to get a packet to `ip` right now.
    public mutating func resolve(_ ip: IPv4Address, now: UInt64) -> ResolveAction {
        guard let entry = entries[ip] else {
            insert(ip, Entry(state: .incomplete(requestsSent: 1, lastRequestAt: now), updatedAt: now))
            counters.requestsSent += 1
            return .sendRequest
        }
        switch entry.state {
        case .reachable(let mac, let expiresAt) where now < expiresAt:
            return .known(mac)
        case .reachable:
            // Stale: ask again rather than keep sending to a possibly departed host.
            entries[ip] = Entry(state: .incomplete(requestsSent: 1, lastRequestAt: now), updatedAt: now)
            counters.requestsSent += 1
            return .sendRequest
        case .incomplete(let sent, let last):
            // RFC 1122 2.3.2.1: no more than one request per second per destination.
            guard now >= last, now - last >= configuration.retryInterval else { return .wait }
            if sent < configuration.maxRequests {
                entries[ip]!.state = .incomplete(requestsSent: sent + 1, lastRequestAt: now)
                counters.requestsSent += 1
                return .sendRequest
            }
            fail(ip)
            return .failed
        }
    }

    /// Holds a packet until `ip` resolves. RFC 1122 2.3.2.2: "SHOULD save at least one (the
    /// latest) packet", so when the queue is full the oldest packet is displaced (counted).
    /// Returns false, counted, when no resolution is in progress for `ip` (or queueing is off).
    @discardableResult
    public mutating func enqueue(_ ip: IPv4Address, packet: Packet) -> Bool {
        guard case .incomplete? = entries[ip]?.state, configuration.maxQueuedPerAddress > 0 else {
            counters.enqueueRejected += 1
            return false
        }
        if entries[ip]!.queue.count >= configuration.maxQueuedPerAddress {
            entries[ip]!.queue.removeFirst()
            counters.queueOverflows += 1
        }
        entries[ip]!.queue.append(packet)
        return true
    }

    /// Merges the sender of an incoming ARP request or reply and returns the packets that
    /// were waiting for it, oldest first.
    /// RFC 826: "If the pair <protocol type, sender protocol address> is already in my
    /// translation table, update the sender hardware address field ... ?Am I the target
    /// protocol address? ... If Merge_flag is false, add the triplet".
    public mutating func learned(_ ip: IPv4Address, mac: MACAddress, weAreTarget: Bool, now: UInt64) -> [Packet] {
        // 0.0.0.0 is an RFC 5227 probe, and no host owns a group address: learn neither.
        guard !ip.isUnspecified, !ip.isBroadcast, !mac.isMulticast else {
            counters.ignored += 1
            return []
        }
        let reachable = ARPEntryState.reachable(mac, expiresAt: now &+ configuration.reachableLifetime)
        if var entry = entries[ip] {
            let waiting = entry.queue
            entry = Entry(state: reachable, updatedAt: now)
            entries[ip] = entry
            counters.updated += 1
            return waiting
        }
        guard weAreTarget else {
            counters.ignored += 1
            return []
        }
        insert(ip, Entry(state: reachable, updatedAt: now))
        counters.added += 1
        return []
    }

    /// Timer work: drops expired mappings, schedules retries, fails exhausted resolutions.
    public mutating func expire(now: UInt64) -> ARPMaintenance {
        var result = ARPMaintenance()
        for (ip, entry) in entries {
            switch entry.state {
            case .reachable(_, let expiresAt):
                if now >= expiresAt {
                    entries[ip] = nil
                    counters.expired += 1
                }
            case .incomplete(let sent, let last):
                guard now >= last, now - last >= configuration.retryInterval else { continue }
                if sent < configuration.maxRequests {
                    entries[ip]!.state = .incomplete(requestsSent: sent + 1, lastRequestAt: now)
                    counters.requestsSent += 1
                    result.retry.append(ip)
                } else {
                    fail(ip)
                    result.failed.append(ip)
                }
            }
        }
        result.retry.sort()
        result.failed.sort()
        return result
    }

    /// Forgets `ip`, dropping anything queued for it. Returns whether it was present.
    @discardableResult
    public mutating func remove(_ ip: IPv4Address) -> Bool {
        guard let entry = entries.removeValue(forKey: ip) else { return false }
        counters.queuedPacketsDropped += UInt64(entry.queue.count)
        return true
    }

    /// Every entry, sorted by address.
    public var snapshot: [ARPEntrySnapshot] {
        entries.map { ARPEntrySnapshot(ip: $0.key, state: $0.value.state,
                                       queuedPackets: $0.value.queue.count, updatedAt: $0.value.updatedAt) }
            .sorted { $0.ip < $1.ip }
    }

    // MARK: - Internals

    /// Used by persistence: installs a mapping exactly as saved.
    mutating func restore(_ ip: IPv4Address, mac: MACAddress, expiresAt: UInt64, updatedAt: UInt64) {
        insert(ip, Entry(state: .reachable(mac, expiresAt: expiresAt), updatedAt: updatedAt))
    }

    private mutating func fail(_ ip: IPv4Address) {
        guard let entry = entries.removeValue(forKey: ip) else { return }
        counters.resolutionFailures += 1
        counters.queuedPacketsDropped += UInt64(entry.queue.count)
    }

    /// Adds or replaces an entry, evicting the least recently updated one if full.
    private mutating func insert(_ ip: IPv4Address, _ entry: Entry) {
        if entries[ip] == nil, entries.count >= configuration.capacity,
           let victim = entries.min(by: { ($0.value.updatedAt, $0.key) < ($1.value.updatedAt, $1.key) }) {
            entries[victim.key] = nil
            counters.evictions += 1
            counters.queuedPacketsDropped += UInt64(victim.value.queue.count)
        }
        entries[ip] = entry
    }
}
