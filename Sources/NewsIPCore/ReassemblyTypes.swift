// Types shared by the IPv4 fragment reassembler: the datagram key, limits, drop reasons
// and counters. The algorithm itself lives in Reassembler.swift.

import NewsWire

/// RFC 791: "The identification field is used ... together with the source and destination
/// address, and the protocol fields" to tell which fragments belong to one datagram.
public struct FragmentKey: Hashable, Sendable {
    public var source: IPv4Address
    public var destination: IPv4Address
    public var protocolNumber: UInt8
    public var identification: UInt16

    public init(source: IPv4Address, destination: IPv4Address, protocolNumber: UInt8, identification: UInt16) {
        self.source = source
        self.destination = destination
        self.protocolNumber = protocolNumber
        self.identification = identification
    }
}

/// Resource limits. Defaults are sized for a host, not a busy router.
public struct ReassemblyLimits: Sendable, Equatable {
    /// Datagrams in progress at once; the oldest is evicted to admit a new one.
    public var maxDatagrams: Int
    /// Payload bytes buffered across all datagrams in progress.
    public var maxBufferedBytes: Int
    /// Fragments accepted for one datagram; more cannot be legitimate at any sane MTU.
    public var maxFragmentsPerDatagram: Int
    /// RFC 1122 3.3.2: the reassembly timeout "is recommended to be between 15 and 120 seconds".
    public var timeoutNanoseconds: UInt64
    /// RFC 1858: a first fragment too small to hold the transport header lets an attacker
    /// split the header around a filter. 8 bytes covers UDP/ICMP port/type fields.
    public var minimumFirstFragment: Int
    /// Keys of datagrams dropped for overlap are remembered; this bounds that memory.
    public var maxPoisonedKeys: Int

    public init(maxDatagrams: Int = 64,
                maxBufferedBytes: Int = 256 * 1024,
                maxFragmentsPerDatagram: Int = 64,
                timeoutNanoseconds: UInt64 = 30_000_000_000,
                minimumFirstFragment: Int = 8,
                maxPoisonedKeys: Int = 256) {
        self.maxDatagrams = max(1, maxDatagrams)
        self.maxBufferedBytes = max(1, maxBufferedBytes)
        self.maxFragmentsPerDatagram = max(1, maxFragmentsPerDatagram)
        self.timeoutNanoseconds = timeoutNanoseconds
        self.minimumFirstFragment = max(0, minimumFirstFragment)
        self.maxPoisonedKeys = max(0, maxPoisonedKeys)
    }
}

/// Why a fragment (or a whole datagram in progress) was discarded.
public enum ReassemblyDrop: Int, CaseIterable, Sendable, Equatable {
    /// Some byte would be covered twice (RFC 5722 spirit): the whole datagram goes.
    case overlap
    /// A later fragment of a datagram already dropped for overlap or a conflicting end.
    case poisoned
    /// First fragment shorter than `minimumFirstFragment` (RFC 1858).
    case tiny
    /// offset + length exceeds the largest possible IPv4 payload (65535 - 20).
    case tooBig
    /// A datagram in progress outlived the reassembly timeout.
    case timeout
    /// A datagram in progress was evicted because too many datagrams were in progress.
    case limitDatagrams
    /// A datagram in progress (or a fragment) was dropped to stay under the byte budget.
    case limitBytes
    /// Negative/unaligned offset, or a non-last fragment whose length is not a multiple of 8.
    case badLength
    /// The datagram would need more than `maxFragmentsPerDatagram` fragments.
    case tooMany
    /// Two last fragments disagree on the end, or data lies past the known end.
    case conflictingEnd

    /// Stable names for counters exported to status pages; never rename.
    public var counterName: String {
        switch self {
        case .overlap: "frag_overlap"
        case .poisoned: "frag_poisoned"
        case .tiny: "frag_tiny"
        case .tooBig: "frag_too_big"
        case .timeout: "frag_timeout"
        case .limitDatagrams: "frag_limit_datagrams"
        case .limitBytes: "frag_limit_bytes"
        case .badLength: "frag_bad_length"
        case .tooMany: "frag_too_many"
        case .conflictingEnd: "frag_conflicting_end"
        }
    }
}

/// The outcome of offering one fragment to the reassembler.
public enum ReassemblyResult: Sendable, Equatable {
    /// The datagram is whole; this is its payload (IP header not included).
    case complete([UInt8])
    /// Accepted and buffered; more fragments are needed.
    case pending
    /// This fragment was discarded for the given reason.
    case dropped(ReassemblyDrop)
}

/// Event counters. A drop counter counts events: one per discarded fragment, or one per
/// datagram in progress that was evicted, timed out or killed by an overlap.
public struct ReassemblyCounters: Sendable, Equatable {
    public var fragmentsReceived: UInt64 = 0
    public var datagramsCompleted: UInt64 = 0
    private var drops = [UInt64](repeating: 0, count: ReassemblyDrop.allCases.count)

    public init() {}

    public subscript(reason: ReassemblyDrop) -> UInt64 {
        get { drops[reason.rawValue] }
        set { drops[reason.rawValue] = newValue }
    }

    /// All counters under their stable names, for export.
    public var named: [(name: String, value: UInt64)] {
        [("frag_received", fragmentsReceived), ("frag_reassembled", datagramsCompleted)]
            + ReassemblyDrop.allCases.map { ($0.counterName, self[$0]) }
    }
}
