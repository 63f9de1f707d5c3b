import NewsIPCore
import NewsTCP

/// A connection's state as the record stores it: the eleven states of RFC 9293 3.3.2. The
/// raw values are the stored format: never renumber them.
public enum RecordedState: UInt8, Sendable, CaseIterable {
    case closed = 0
    case listen = 1
    case synSent = 2
    case synReceived = 3
    case established = 4
    case finWait1 = 5
    case finWait2 = 6
    case closeWait = 7
    case closing = 8
    case lastAck = 9
    case timeWait = 10
}

/// The TCP options a connection negotiated in its handshake.
public struct RecordedOptions: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// RFC 7323 timestamps (and with them PAWS).
    public static let timestamps = RecordedOptions(rawValue: 1 << 0)
    /// RFC 2018 selective acknowledgments.
    public static let sack = RecordedOptions(rawValue: 1 << 1)
    /// RFC 7323 window scaling (the shifts below mean something only with it).
    public static let windowScaling = RecordedOptions(rawValue: 1 << 2)
    /// Every bit record version 1 defines; a record with any other set is damaged.
    public static let all: RecordedOptions = [.timestamps, .sack, .windowScaling]
}

/// What the TCP server must know of a connection to carry it on after a restart: the
/// RFC 9293 variables, what was negotiated, the RTT and congestion state, how far the
/// socket region's streams have been consumed, and the running timers. Times are
/// nanoseconds on the monotonic clock; a deadline of 0 means the timer is not running.
public struct ControlBlockRecord: Equatable, Sendable {
    public var socket: UInt32
    /// The uid newsd vouched for when the socket was made.
    public var uid: UInt32
    public var state: RecordedState
    public var tuple: FourTuple

    /// Initial send and receive sequence numbers.
    public var iss = SequenceNumber(0)
    public var irs = SequenceNumber(0)
    public var sndUna = SequenceNumber(0)
    public var sndNxt = SequenceNumber(0)
    /// The peer's window, scaled (bytes).
    public var sndWnd: UInt32 = 0
    public var sndWl1 = SequenceNumber(0)
    public var sndWl2 = SequenceNumber(0)
    public var rcvNxt = SequenceNumber(0)
    /// The window we advertise, scaled (bytes).
    public var rcvWnd: UInt32 = 0
    /// RFC 7323 shift counts (0...14).
    public var sendWindowShift: UInt8 = 0
    public var receiveWindowShift: UInt8 = 0
    /// The largest segment we send, and the one we told the peer we take.
    public var sendMSS: UInt16 = 0
    public var receiveMSS: UInt16 = 0
    public var options: RecordedOptions = []
    /// Added to the clock for our TSval (RFC 7323 5.4 allows a per-connection offset).
    public var timestampOffset: UInt32 = 0
    /// RFC 7323 TS.Recent and when it was set (5.5: it goes stale after 24 days idle).
    public var tsRecent: UInt32 = 0
    public var tsRecentTime: UInt64 = 0
    /// RFC 6298 SRTT, RTTVAR and RTO (nanoseconds).
    public var srtt: UInt64 = 0
    public var rttvar: UInt64 = 0
    public var rto: UInt64 = 0
    /// Congestion window and slow start threshold (bytes).
    public var cwnd: UInt64 = 0
    public var ssthresh: UInt64 = 0
    /// Offsets in the socket region's streams: send bytes the peer acknowledged (and the
    /// application may reuse), the send tail the server has seen the application write up
    /// to, and the receive tail the server has delivered up to.
    public var sendAcked: UInt64 = 0
    public var sendTailSeen: UInt64 = 0
    public var receiveTail: UInt64 = 0
    public var retransmissionDeadline: UInt64 = 0
    public var persistDeadline: UInt64 = 0
    public var keepAliveDeadline: UInt64 = 0
    public var delayedAckDeadline: UInt64 = 0
    public var timeWaitDeadline: UInt64 = 0
    /// Segments retransmitted so far (saturating), as `ss -ti` shows them.
    public var retransmissions: UInt16 = 0
    /// The application's read position as last validated: receive tail less this is the
    /// receive queue `ss` shows.
    public var receiveHeadSeen: UInt64 = 0

    public init(socket: UInt32, uid: UInt32, state: RecordedState, tuple: FourTuple) {
        self.socket = socket; self.uid = uid; self.state = state; self.tuple = tuple
    }
}

/// The TCP server's control blocks, kept in its state region: memory newsd owns and no
/// application can map, so a restarted server adopts only what it wrote itself.
///
/// Layout (PersistenceFormat, little-endian): the common 24-byte header ("NTCP", record size
/// 256, count = number of slots), then fixed slots of 256 bytes:
///     0 u32 socket id (0: free)      4 u32 uid
///     8 u8  record version (1)       9 u8  state (RecordedState)
///    10 u8  options (RecordedOptions)  11 u8 send window shift  12 u8 receive window shift
///    13 u8  zero                    14 u16 retransmissions
///    16 u16 send MSS                18 u16 receive MSS
///    20 u16 local port              22 u16 remote port
///    24 u32 local address           28 u32 remote address
///    32 u32 ISS     36 u32 IRS      40 u32 SND.UNA   44 u32 SND.NXT   48 u32 SND.WND
///    52 u32 SND.WL1 56 u32 SND.WL2  60 u32 RCV.NXT   64 u32 RCV.WND
///    68 u32 timestamp offset        72 u32 TS.Recent  76 u32 zero
///    80 u64 TS.Recent time   88 u64 SRTT   96 u64 RTTVAR  104 u64 RTO
///   112 u64 cwnd            120 u64 ssthresh
///   128 u64 send acked      136 u64 send tail seen  144 u64 receive tail
///   152 u64 retransmission deadline  160 persist  168 keep-alive  176 delayed ACK
///   184 time-wait deadline (u64 each)   192 u64 receive head seen (the application's read position)
///   200..<252 zero (room for later versions)   252 u32 CRC-32C of bytes 0..<252
/// A slot is rewritten in place, so a torn write spoils one connection, which is skipped and
/// counted, never followed. The record version is separate from the header's: a later
/// server may write new records beside old ones and still read these.
public final class ControlBlockStore {
    public static let magic: UInt32 = 0x5043_544E  // "NTCP" read as little-endian bytes
    public static let recordSize = 256
    public static let recordVersion: UInt8 = 1
    static let checksumOffset = recordSize - 4

    let slots: RecordSlots
    public var capacity: Int { slots.capacity }

    /// What `restore` found.
    public struct Restored: Equatable, Sendable {
        public var records: [UInt32: ControlBlockRecord] = [:]
        /// Slots in use that failed their checksum, repeated a socket id, or held a version,
        /// state, option bit or shift that version 1 never writes.
        public var damaged = 0
        /// Whether the header was intact (false: the store was laid out afresh).
        public var headerIntact = false
    }

    /// `region` must hold at least the header and one slot.
    public init?(region: UnsafeMutableRawBufferPointer) {
        guard let slots = RecordSlots(region: region, magic: Self.magic, recordSize: Self.recordSize) else { return nil }
        self.slots = slots
    }

    /// A fresh start: no control blocks.
    public func reset() { slots.reset() }

    /// Every intact record in `region`, read without changing it: what newsd shows for
    /// `newsctl ss` from tcpserver's state region while tcpserver runs (a record being
    /// rewritten at that moment fails its checksum and is left out).
    public static func snapshot(_ region: UnsafeRawBufferPointer) -> [ControlBlockRecord] {
        RecordSlots.snapshot(region, magic: magic, recordSize: recordSize, decode)
    }

    /// A restart: takes back every intact record. Damaged slots are cleared for reuse.
    public func restore() -> Restored {
        let r = slots.restore { bytes in Self.decode(bytes).map { ($0.socket, $0) } }
        return Restored(records: r.records, damaged: r.damaged, headerIntact: r.headerIntact)
    }

    /// Records (or updates in place) a control block. False when every slot is taken, or
    /// for socket id 0 (which marks a free slot).
    @discardableResult
    public func save(_ record: ControlBlockRecord) -> Bool {
        guard let slot = slots.slot(for: record.socket) else { return false }
        Self.encode(record, into: slot)
        return true
    }

    public func remove(socket: UInt32) { slots.remove(socket) }

    public var count: Int { slots.count }

    /// `r` is exactly one slot.
    static func encode(_ c: ControlBlockRecord, into r: UnsafeMutableRawBufferPointer) {
        precondition(r.count == recordSize)
        r.initializeMemory(as: UInt8.self, repeating: 0)
        PersistenceFormat.put32(c.socket, at: 0, in: r)
        PersistenceFormat.put32(c.uid, at: 4, in: r)
        r[8] = recordVersion
        r[9] = c.state.rawValue
        r[10] = c.options.rawValue
        r[11] = c.sendWindowShift
        r[12] = c.receiveWindowShift
        PersistenceFormat.put16(c.retransmissions, at: 14, in: r)
        PersistenceFormat.put16(c.sendMSS, at: 16, in: r)
        PersistenceFormat.put16(c.receiveMSS, at: 18, in: r)
        PersistenceFormat.put16(c.tuple.localPort, at: 20, in: r)
        PersistenceFormat.put16(c.tuple.remotePort, at: 22, in: r)
        PersistenceFormat.put32(c.tuple.localAddress, at: 24, in: r)
        PersistenceFormat.put32(c.tuple.remoteAddress, at: 28, in: r)
        let words: [UInt32] = [c.iss.rawValue, c.irs.rawValue, c.sndUna.rawValue, c.sndNxt.rawValue, c.sndWnd,
                               c.sndWl1.rawValue, c.sndWl2.rawValue, c.rcvNxt.rawValue, c.rcvWnd,
                               c.timestampOffset, c.tsRecent]
        for (i, w) in words.enumerated() { PersistenceFormat.put32(w, at: 32 + 4 * i, in: r) }
        let longs: [UInt64] = [c.tsRecentTime, c.srtt, c.rttvar, c.rto, c.cwnd, c.ssthresh,
                               c.sendAcked, c.sendTailSeen, c.receiveTail,
                               c.retransmissionDeadline, c.persistDeadline, c.keepAliveDeadline,
                               c.delayedAckDeadline, c.timeWaitDeadline, c.receiveHeadSeen]
        for (i, l) in longs.enumerated() { PersistenceFormat.put64(l, at: 80 + 8 * i, in: r) }
        PersistenceFormat.sealRecord(r)
    }

    /// The record in one slot, or nil when it is not a whole, checksummed version 1 record.
    static func decode(_ r: UnsafeRawBufferPointer) -> ControlBlockRecord? {
        guard r.count == recordSize, PersistenceFormat.recordIsIntact(r) else { return nil }
        let socket = PersistenceFormat.get32(at: 0, in: r)
        // RFC 7323 2.3: a shift above 14 is never used, so version 1 never writes one.
        guard socket != 0, r[8] == recordVersion, let state = RecordedState(rawValue: r[9]),
              r[10] & ~RecordedOptions.all.rawValue == 0, r[11] <= 14, r[12] <= 14 else { return nil }
        let tuple = FourTuple(localAddress: PersistenceFormat.get32(at: 24, in: r), localPort: PersistenceFormat.get16(at: 20, in: r),
                              remoteAddress: PersistenceFormat.get32(at: 28, in: r), remotePort: PersistenceFormat.get16(at: 22, in: r))
        var c = ControlBlockRecord(socket: socket, uid: PersistenceFormat.get32(at: 4, in: r), state: state, tuple: tuple)
        c.options = RecordedOptions(rawValue: r[10])
        c.sendWindowShift = r[11]
        c.receiveWindowShift = r[12]
        c.retransmissions = PersistenceFormat.get16(at: 14, in: r)
        c.sendMSS = PersistenceFormat.get16(at: 16, in: r)
        c.receiveMSS = PersistenceFormat.get16(at: 18, in: r)
        func word(_ i: Int) -> UInt32 { PersistenceFormat.get32(at: 32 + 4 * i, in: r) }
        func sequence(_ i: Int) -> SequenceNumber { SequenceNumber(word(i)) }
        c.iss = sequence(0); c.irs = sequence(1); c.sndUna = sequence(2); c.sndNxt = sequence(3)
        c.sndWnd = word(4); c.sndWl1 = sequence(5); c.sndWl2 = sequence(6); c.rcvNxt = sequence(7)
        c.rcvWnd = word(8); c.timestampOffset = word(9); c.tsRecent = word(10)
        func long(_ i: Int) -> UInt64 { PersistenceFormat.get64(at: 80 + 8 * i, in: r) }
        c.tsRecentTime = long(0); c.srtt = long(1); c.rttvar = long(2); c.rto = long(3)
        c.cwnd = long(4); c.ssthresh = long(5)
        c.sendAcked = long(6); c.sendTailSeen = long(7); c.receiveTail = long(8)
        c.retransmissionDeadline = long(9); c.persistDeadline = long(10); c.keepAliveDeadline = long(11)
        c.delayedAckDeadline = long(12); c.timeWaitDeadline = long(13); c.receiveHeadSeen = long(14)
        return c
    }
}
