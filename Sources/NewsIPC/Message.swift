import CNewsLinux

/// One 64-byte channel message (layout in news_linux.h). Messages carry indices into buffer
/// pools, never pointers; receivers validate every field they use.
public typealias Message = news_msg_t

public enum MessageKind: UInt16, Sendable {
    /// A probe travels newsd → vfs → udp|tcp → ip → pf → nic and back, each server adding a
    /// hop; newsd checks order and hop count. It proves every channel on the path carries
    /// traffic (and is what `newsctl probe` and the restart tests use).
    case probe = 1
    /// An Ethernet frame in the payload, travelling between nicdriver, packetfilter and
    /// ipserver. arg.0: capture flags (see `FrameFlags`); arg.5: its `PacketOffload`.
    case frame = 2
    /// An IPv4 datagram, between ipserver and a transport server; the payload is the whole
    /// IP packet both ways. Upward arg.0 is the source address, arg.1 the destination,
    /// arg.2 the IP protocol and arg.3 the header length (a transport parses the packet
    /// again all the same). Downward ipserver reads nothing but the packet (and arg.5): it
    /// must be of the channel's protocol, from ipserver's address, without options or
    /// fragmentation. arg.5 both ways: the packet's `PacketOffload`.
    case datagram = 3
    /// ICMP destination unreachable, arg.0 the code. Downward a transport asks ipserver to
    /// send port unreachable about the IP packet in the payload, which must be one that
    /// ipserver delivered to it lately. Upward ipserver passes on one that arrived about a
    /// datagram the transport sent: the payload is the quote (IP header and 8 bytes).
    case unreachable = 4
    // Exposed socket buffers: the app's transmit ring carries these to the transport...
    /// arg.0 address (0 = any), arg.1 port (0 = an ephemeral one); seq numbers the request.
    case socketBind = 10
    /// arg.0 address, arg.1 port; seq numbers the request.
    case socketConnect = 11
    /// A datagram to send: arg.0 address, arg.1 port (both 0 = the connected peer).
    case socketSend = 12
    /// ...and the transport's receive ring carries this back: arg.0 source address, arg.1 port.
    case socketData = 13
    // TCP sockets' control channels (docs/TCP-SOCKETS.md).
    /// arg.0 backlog; seq numbers the request.
    case socketListen = 14
    /// arg.0 option (`SocketOption`), arg.1 value; seq numbers the request.
    case socketOption = 15
    /// Up a listener's control channel: a connection is ready. arg.0 its socket id, arg.1
    /// the peer's address, arg.2 its port.
    case socketAccepted = 16
}

/// The options a TCP socket's `socketOption` request sets (docs/TCP-SOCKETS.md).
public enum SocketOption: UInt64, Sendable {
    case noDelay = 1, keepAlive = 2, keepIdle = 3, keepInterval = 4, keepCount = 5
    /// value: UInt64.max off, else seconds (0: close aborts with a RST).
    case linger = 6
}

public enum ProbeRoute: UInt64, Sendable { case udp = 0, tcp = 1 }

extension Message {
    public init(kind: MessageKind, seq: UInt64, args: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0)) {
        self.init()
        self.kind = kind.rawValue
        self.seq = seq
        self.arg = args
    }

    /// Probe fields: arg.0 route, arg.1 hops so far, arg.2 send timestamp (ns).
    public static func probe(seq: UInt64, route: ProbeRoute, sentAt: UInt64) -> Message {
        Message(kind: .probe, seq: seq, args: (route.rawValue, 0, sentAt, 0, 0, 0))
    }

    public var probeRoute: ProbeRoute? { ProbeRoute(rawValue: arg.0) }
    public var probeHops: UInt64 {
        get { arg.1 }
        set { arg.1 = newValue }
    }
}

/// Number of servers a probe passes through, down and back up (nic reflects it once).
public let probeHopsRoundTrip: UInt64 = 9

/// What the TAP's offloads (virtio-net header, `NewsWire.VirtioNetHeader`) say about a packet,
/// carried in arg.5 of `frame` and `datagram` messages so that nicdriver can speak virtio
/// while the servers above it see plain Ethernet and IP. Offsets count from the start of the
/// message's payload (the Ethernet header of a frame, the IP header of a datagram); each
/// server that adds or removes a header moves them. Zero: nothing offloaded.
///
/// Bits: 0 checksum partial (the transport checksum holds only the pseudo-header sum; the
/// device finishes it), 1 checksum valid (the device or kernel vouches for it: the frame
/// never left this host), 8-23 segment size (nonzero: a TCP segment to be cut into segments
/// of this many payload bytes, TSO), 24-39 checksum start, 40-47 checksum offset from the
/// start, 48-55 header bytes before the payload.
public struct PacketOffload: Equatable, Sendable {
    public var checksumPartial = false
    public var checksumValid = false
    public var segmentSize: UInt16 = 0
    public var checksumStart: UInt16 = 0
    public var checksumOffset: UInt8 = 0
    public var headerLength: UInt8 = 0

    public init() {}

    public static let none = PacketOffload()

    public init(word: UInt64) {
        checksumPartial = word & 1 != 0
        checksumValid = word & 2 != 0
        segmentSize = UInt16(truncatingIfNeeded: word >> 8)
        checksumStart = UInt16(truncatingIfNeeded: word >> 24)
        checksumOffset = UInt8(truncatingIfNeeded: word >> 40)
        headerLength = UInt8(truncatingIfNeeded: word >> 48)
    }

    public var word: UInt64 {
        (checksumPartial ? 1 : 0) | (checksumValid ? 2 : 0) | UInt64(segmentSize) << 8 | UInt64(checksumStart) << 24
            | UInt64(checksumOffset) << 40 | UInt64(headerLength) << 48
    }

    /// The same packet under `bytes` more (positive) or fewer (negative) header bytes; nil
    /// if the offsets would leave the packet's start.
    public func shifted(by bytes: Int) -> PacketOffload? {
        guard checksumPartial || segmentSize > 0 else { return self }
        let start = Int(checksumStart) + bytes, header = Int(headerLength) + bytes
        guard start >= 0, start <= Int(UInt16.max), header >= 0, header <= Int(UInt8.max) else { return nil }
        var o = self
        o.checksumStart = UInt16(start); o.headerLength = UInt8(header)
        return o
    }
}

extension Message {
    /// arg.5 of a frame or datagram message.
    public var offload: PacketOffload {
        get { PacketOffload(word: arg.5) }
        set { arg.5 = newValue.word }
    }
}
