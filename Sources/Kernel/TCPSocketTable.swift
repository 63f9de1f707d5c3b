import NewsControl
import NewsTCPState
import NewsWire

/// `newsctl ss`: tcpserver's sockets as its control blocks in its state region describe
/// them. newsd owns that memory and reads it without asking tcpserver anything, so the
/// answer comes even while tcpserver is hung or restarting (then it shows what was there).
enum TCPSocketTable {
    /// The control blocks start after the page of hash keys (TCPServer's StateSecret).
    static let blocksOffset = 4096

    static func report(_ state: UnsafeMutableRawBufferPointer) -> [TCPSocketReport] {
        guard state.count > blocksOffset else { return [] }
        let records = ControlBlockStore.snapshot(UnsafeRawBufferPointer(rebasing: state[blocksOffset...]))
        return records.sorted { ($0.tuple.localPort, $0.socket) < ($1.tuple.localPort, $1.socket) }.map(report)
    }

    static func report(_ r: ControlBlockRecord) -> TCPSocketReport {
        func endpoint(_ a: UInt32, _ p: UInt16) -> String { a == 0 && p == 0 ? "*:*" : "\(a == 0 ? "*" : IPv4Address(a).description):\(p)" }
        let listening = r.state == .listen
        var options: [String] = []
        if r.options.contains(.timestamps) { options.append("ts") }
        if r.options.contains(.sack) { options.append("sack") }
        if r.options.contains(.windowScaling) { options.append("wscale:\(r.sendWindowShift),\(r.receiveWindowShift)") }
        let ms = { (ns: UInt64) in Double(ns) / 1_000_000 }
        return TCPSocketReport(
            socket: r.socket, uid: r.uid, state: name(r.state),
            local: endpoint(r.tuple.localAddress, r.tuple.localPort), remote: listening ? "*:*" : endpoint(r.tuple.remoteAddress, r.tuple.remotePort),
            receiveQueue: listening ? 0 : r.receiveTail &- min(r.receiveHeadSeen, r.receiveTail),
            sendQueue: listening ? UInt64(r.rcvWnd) : r.sendTailSeen &- min(r.sendAcked, r.sendTailSeen),
            rttMillis: ms(r.srtt), rttvarMillis: ms(r.rttvar), rtoMillis: ms(r.rto), cwnd: r.cwnd, ssthresh: r.ssthresh,
            mss: Int(r.sendMSS), rcvmss: Int(r.receiveMSS),
            sendWindow: listening ? 0 : UInt64(r.sndWnd), receiveWindow: listening ? 0 : UInt64(r.rcvWnd),
            retransmissions: Int(r.retransmissions), options: options)
    }

    /// The names `ss` uses.
    static func name(_ s: RecordedState) -> String {
        switch s {
        case .closed: "CLOSED"
        case .listen: "LISTEN"
        case .synSent: "SYN-SENT"
        case .synReceived: "SYN-RECV"
        case .established: "ESTAB"
        case .finWait1: "FIN-WAIT-1"
        case .finWait2: "FIN-WAIT-2"
        case .closeWait: "CLOSE-WAIT"
        case .closing: "CLOSING"
        case .lastAck: "LAST-ACK"
        case .timeWait: "TIME-WAIT"
        }
    }
}
