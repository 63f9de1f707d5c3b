import NewsWire

/// A segment as the connection sees it: the header fields and options the shell parsed
/// (NewsWire's views checked every length), and how many payload bytes follow. The bytes
/// themselves stay in the shell's frame; the connection answers where they go.
public struct TCPSegment: Sendable, Equatable {
    public var sequence: SequenceNumber
    public var acknowledgment: SequenceNumber
    public var flags: TCPFlags
    /// The window field as received (unscaled).
    public var window: UInt16
    public var urgentPointer: UInt16
    public var options: TCPOptions
    public var payloadLength: Int

    public init(sequence: SequenceNumber, acknowledgment: SequenceNumber = SequenceNumber(0), flags: TCPFlags,
                window: UInt16 = 65535, urgentPointer: UInt16 = 0, options: TCPOptions = TCPOptions(), payloadLength: Int = 0) {
        self.sequence = sequence; self.acknowledgment = acknowledgment; self.flags = flags
        self.window = window; self.urgentPointer = urgentPointer; self.options = options
        self.payloadLength = max(0, payloadLength)
    }

    public var syn: Bool { flags.contains(.syn) }
    public var fin: Bool { flags.contains(.fin) }
    public var rst: Bool { flags.contains(.rst) }
    public var hasAck: Bool { flags.contains(.ack) }

    /// SEG.LEN: "the number of octets occupied by the data in the segment (counting SYN and
    /// FIN)" (RFC 9293 3.3.1).
    public var length: Int { payloadLength + (syn ? 1 : 0) + (fin ? 1 : 0) }

    /// The SACK blocks as sequence ranges.
    var sackRanges: [SequenceRange] {
        options.sackBlocks.map { SequenceRange(start: SequenceNumber($0.left), end: SequenceNumber($0.right)) }
    }
}

/// A segment the connection wants sent. Its payload is named, not copied: bytes of the send
/// stream starting at `payloadOffset` (the send area is the retransmission queue, so a
/// retransmission names the same bytes again).
public struct OutgoingSegment: Sendable, Equatable {
    public var sequence: SequenceNumber
    public var acknowledgment: SequenceNumber
    public var flags: TCPFlags
    public var window: UInt16
    public var options: TCPOptions
    /// Offset in the send stream (0 is the first byte after the SYN).
    public var payloadOffset: UInt64
    public var payloadLength: Int
    /// Whether this sends sequence space a second time (for counters and captures).
    public var isRetransmission: Bool
    /// 0 for a segment that goes on the wire as it is; else the payload bytes of each of the
    /// segments the link cuts this one into (TSO, `TCPConfiguration.segmentationOffload`).
    public var segmentSize: Int = 0

    public init(sequence: SequenceNumber, acknowledgment: SequenceNumber, flags: TCPFlags, window: UInt16,
                options: TCPOptions = TCPOptions(), payloadOffset: UInt64 = 0, payloadLength: Int = 0, isRetransmission: Bool = false) {
        self.sequence = sequence; self.acknowledgment = acknowledgment; self.flags = flags; self.window = window
        self.options = options; self.payloadOffset = payloadOffset; self.payloadLength = payloadLength
        self.isRetransmission = isRetransmission
    }

    public var length: Int {
        payloadLength + (flags.contains(.syn) ? 1 : 0) + (flags.contains(.fin) ? 1 : 0)
    }

    /// What the peer receives, for tests that loop two connections together.
    public var asReceived: TCPSegment {
        TCPSegment(sequence: sequence, acknowledgment: acknowledgment, flags: flags, window: window,
                   options: options, payloadLength: payloadLength)
    }
}

/// RFC 9293 3.10.7.1, a segment for a connection that does not exist (CLOSED): "If the
/// state is CLOSED ... all data in the incoming segment is discarded. An incoming segment
/// containing a RST is discarded. An incoming segment not containing a RST causes a RST to
/// be sent in response." Also the answer of a LISTEN socket to an ACK (3.10.7.2).
public enum ResetReply {
    public static func to(_ seg: TCPSegment) -> OutgoingSegment? {
        if seg.rst { return nil }
        // "If the ACK bit is off, sequence number zero is used, <SEQ=0><ACK=SEG.SEQ+SEG.LEN>
        // <CTL=RST,ACK>. If the ACK bit is on, <SEQ=SEG.ACK><CTL=RST>".
        if seg.hasAck {
            return OutgoingSegment(sequence: seg.acknowledgment, acknowledgment: SequenceNumber(0), flags: .rst, window: 0)
        }
        return OutgoingSegment(sequence: SequenceNumber(0), acknowledgment: seg.sequence + seg.length,
                               flags: [.rst, .ack], window: 0)
    }
}

/// What the application has done to its socket's stream areas, as the shell read (once,
/// validated) from shared memory before calling the connection.
public struct StreamBuffers: Sendable, Equatable {
    /// Total bytes the application has appended to the send stream.
    public var sendTail: UInt64
    /// The application shut its write side: a FIN follows `sendTail`.
    public var sendShutdown: Bool
    /// Total bytes the application has consumed from the receive stream.
    public var receiveHead: UInt64
    /// Size of the receive area: the most that can be unread at once.
    public var receiveCapacity: Int

    public init(sendTail: UInt64 = 0, sendShutdown: Bool = false, receiveHead: UInt64 = 0, receiveCapacity: Int = 262_144) {
        self.sendTail = sendTail; self.sendShutdown = sendShutdown
        self.receiveHead = receiveHead; self.receiveCapacity = receiveCapacity
    }
}
