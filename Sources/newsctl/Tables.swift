import NewsControl
import NewsSystem

enum Output {
    static func print(_ s: String, terminator: String = "\n") { FD.writeAllIgnoringErrors(1, s + terminator) }
    static func error(_ s: String) { FD.writeAllIgnoringErrors(2, s + "\n") }
}

/// Plain-text tables for people; `--json` is for scripts.
enum Tables {
    static func table(_ header: [String], _ rows: [[String]]) -> String {
        var widths = header.map(\.count)
        for r in rows { for (i, c) in r.enumerated() { widths[i] = max(widths[i], c.count) } }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, c in c + String(repeating: " ", count: widths[i] - c.count) }
                .joined(separator: "  ").trailingSpacesRemoved()
        }
        return ([line(header)] + rows.map(line)).joined(separator: "\n")
    }

    static func seconds(_ s: Double?) -> String {
        guard let s else { return "-" }
        return s < 60 ? fixed(s, 1) + "s" : fixed(s / 60, 1) + "m"
    }

    static func fixed(_ v: Double, _ digits: Int) -> String {
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let r = (v * scale).rounded() / scale
        var s = String(r)
        if let dot = s.firstIndex(of: ".") {
            let decimals = s.distance(from: dot, to: s.endIndex) - 1
            if decimals < digits { s += String(repeating: "0", count: digits - decimals) }
        } else if digits > 0 { s += "." + String(repeating: "0", count: digits) }
        return s
    }

    static func status(_ s: SystemStatus) -> String {
        let head = "newsd pid \(s.pid), ipc \(s.ipc), up \(seconds(s.uptimeSeconds)), heartbeat \(s.heartbeatMillis) ms, fault injection \(s.faultInjection ? "on" : "off")\n"
        return head + table(["SERVER", "PID", "CORE", "STATE", "RESTARTS", "UPTIME", "LAST EXIT"], s.servers.map {
            [$0.name, $0.pid.map(String.init) ?? "-", String($0.core), $0.state, String($0.restarts), seconds($0.uptimeSeconds), $0.lastExit ?? "-"]
        })
    }

    /// `ss -tan`'s columns; with `info`, `ss -ti`'s figures on an indented line under each
    /// connection.
    static func sockets(_ list: [TCPSocketReport], info: Bool) -> String {
        let rows = list.map { [$0.state, String($0.receiveQueue), String($0.sendQueue), $0.local, $0.remote] }
        let lines = table(["State", "Recv-Q", "Send-Q", "Local Address:Port", "Peer Address:Port"], rows).split(separator: "\n").map(String.init)
        guard info else { return lines.joined(separator: "\n") }
        var out = [lines[0]]
        for (r, line) in zip(list, lines.dropFirst()) {
            out.append(line)
            guard r.state != "LISTEN" else { continue }
            out.append("\t" + (r.options + ["rto:\(fixed(r.rtoMillis, 0))", "rtt:\(fixed(r.rttMillis, 3))/\(fixed(r.rttvarMillis, 3))",
                                            "mss:\(r.mss)", "rcvmss:\(r.rcvmss)", "cwnd:\(r.cwnd)", "ssthresh:\(r.ssthresh)",
                                            "snd_wnd:\(r.sendWindow)", "rcv_wnd:\(r.receiveWindow)", "retrans:\(r.retransmissions)"]).joined(separator: " "))
        }
        return out.joined(separator: "\n")
    }

    static func stats(_ s: SystemStats) -> String {
        var rows: [[String]] = []
        for server in s.servers {
            for c in server.counters where !c.name.hasPrefix("rx.") && !c.name.hasPrefix("tx.") {
                rows.append([server.name, c.name, String(c.value)])
            }
            if server.invalidCounters > 0 { rows.append([server.name, "(invalid counter records)", String(server.invalidCounters)]) }
        }
        let channels = table(["CHANNEL", "UPPER", "LOWER", "DOWN SENT", "DOWN RECV", "UP SENT", "UP RECV"], s.channels.map {
            [$0.name, $0.upper, $0.lower, String($0.downSent), String($0.downReceived), String($0.upSent), String($0.upReceived)]
        })
        return table(["SERVER", "COUNTER", "VALUE"], rows) + "\n\n" + channels
    }

    static func filter(_ f: FilterReport) -> String {
        var rows = f.rules.map { [String($0.index), $0.rule, String($0.packets), String($0.bytes)] }
        rows.append(["-", "default in \(f.defaultIn)", String(f.defaultInPackets), "-"])
        rows.append(["-", "default out \(f.defaultOut)", String(f.defaultOutPackets), "-"])
        return table(["#", "RULE", "PACKETS", "BYTES"], rows) + "\n\(f.flows) tracked flows, rules generation \(f.generation)"
    }

    static func probe(_ p: ProbeResult) -> String {
        table(["SENT", "RECEIVED", "LOST", "OUT OF ORDER", "DUPLICATES", "BAD HOPS", "SECONDS", "RTT P50 µs", "RTT P99 µs"],
              [[String(p.sent), String(p.received), String(p.lost), String(p.outOfOrder), String(p.duplicates), String(p.badHops),
                fixed(p.seconds, 3), fixed(p.rttP50Micros, 1), fixed(p.rttP99Micros, 1)]])
    }
}

extension String {
    func trailingSpacesRemoved() -> String {
        var s = self
        while s.last == " " { s.removeLast() }
        return s
    }
}
