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
    /// ipserver. arg.0: capture flags (see `FrameFlags`).
    case frame = 2
    /// An IPv4 datagram, between ipserver and a transport server; the payload is the whole
    /// IP packet both ways. Upward arg.0 is the source address, arg.1 the destination,
    /// arg.2 the IP protocol and arg.3 the header length (a transport parses the packet
    /// again all the same). Downward ipserver reads nothing but the packet: it must be of
    /// the channel's protocol, from ipserver's address, without options or fragmentation.
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
