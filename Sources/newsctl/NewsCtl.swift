import ArgumentParser
import FoundationEssentials
import NewsConfig
import NewsControl
import NewsIPC
import NewsSystem
import libnews
import NewsFilter

/// Options every subcommand shares.
struct Common: ParsableArguments {
    @Option(name: .long, help: "newsd's control socket.")
    var socket: String = ControlClient.defaultSocket

    @Flag(name: .long, help: "Print newsd's JSON reply instead of a table.")
    var json = false

    /// Sends the request; prints JSON or hands the decoded reply to `render`. Exits 1 when
    /// newsd cannot be reached or answers with an error.
    func call(_ request: ControlRequest, timeout: Int = 30, render: (Reply) -> String) throws {
        let raw: [UInt8]
        do { raw = try ControlClient(socketPath: socket).send(request, timeoutSeconds: timeout) } catch {
            Output.error("newsctl: cannot reach newsd at \(socket): \(error)")
            throw ExitCode(1)
        }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        guard let reply = try? decoder.decode(Reply.self, from: Data(raw)) else {
            Output.error("newsctl: malformed reply from newsd (\(raw.count) bytes)")
            throw ExitCode(1)
        }
        if json {
            Output.print(String(decoding: raw, as: UTF8.self), terminator: "")
        } else if reply.ok {
            Output.print(render(reply))
        }
        if !reply.ok {
            if !json { Output.error("newsctl: \(reply.error ?? "request failed")") }
            throw ExitCode(1)
        }
    }
}

struct ServerName: ExpressibleByArgument {
    let kind: ServerKind
    init?(argument: String) {
        guard let k = try? ServerKind.parse(argument) else { return nil }
        kind = k
    }
    static var allValueStrings: [String] { ServerKind.allCases.map(\.rawValue) }
}

extension FaultCommand: ExpressibleByArgument {
    public init?(argument: String) { self.init(name: argument) }
    public static var allValueStrings: [String] { allCases.map(\.name) }
}

@main
struct NewsCtl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "newsctl",
        abstract: "Control and inspect a running newsd.",
        subcommands: [Status.self, Stats.self, SS.self, Restart.self, Crash.self, Probe.self, Capture.self, PF.self, Stop.self])

    /// Usage errors exit with 2 (as the shell's own do), not ArgumentParser's 64.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            let code = exitCode(for: error)
            if code == .validationFailure {
                Output.error(fullMessage(for: error))
                Output.error("Run 'newsctl --help' for usage.")
                Proc.exit(2)
            }
            exit(withError: error)
        }
    }
}

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Per server: pid, core, state, restarts, uptime, last exit reason.")
    @OptionGroup var common: Common
    func run() throws { try common.call(.status) { Tables.status($0.status!) } }
}

struct Stats: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Counters per server and per channel.")
    @OptionGroup var common: Common
    func run() throws { try common.call(.stats) { Tables.stats($0.stats!) } }
}

struct SS: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ss",
        abstract: "TCP sockets, like ss -tan (state, queues, addresses); -i adds ss -ti's rtt, cwnd, ssthresh, mss, retransmissions.")
    @OptionGroup var common: Common
    @Flag(name: .short, help: "Show TCP internals (rtt/rttvar, rto, cwnd, ssthresh, mss, windows, retransmissions, options).")
    var info = false
    func run() throws { try common.call(.sockets) { Tables.sockets($0.sockets ?? [], info: info) } }
}

struct Restart: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Restart a server (also one marked failed).")
    @OptionGroup var common: Common
    @Argument(help: "Server name.") var server: ServerName
    func run() throws { try common.call(.restart(server.kind)) { $0.message ?? "ok" } }
}

struct Crash: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Inject a fault into a server (newsd must run with --fault-injection).")
    @OptionGroup var common: Common
    @Argument(help: "Server name.") var server: ServerName
    @Option(help: "How: \(FaultCommand.allCases.map(\.name).joined(separator: "|")).") var how: FaultCommand = .segv
    func run() throws { try common.call(.crash(server.kind, how)) { $0.message ?? "ok" } }
}

struct Probe: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Send numbered probes through every server and channel and check them.")
    @OptionGroup var common: Common
    @Option(help: "Number of probes.") var count: Int = 1000
    func validate() throws {
        guard (1...ControlRequest.maxProbeCount).contains(count) else {
            throw ValidationError("--count must be 1...\(ControlRequest.maxProbeCount)")
        }
    }
    func run() throws {
        try common.call(.probe(count: count), timeout: 60 + count / 10_000) { Tables.probe($0.probe!) }
    }
}

struct Stop: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Stop newsd and every server.")
    @OptionGroup var common: Common
    func run() throws { try common.call(.stop) { $0.message ?? "ok" } }
}

struct Capture: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Capture frames at the NIC driver into a pcap file (both directions).")
    @OptionGroup var common: Common
    @Argument(help: "The pcap file to write.") var file: String
    @Option(help: "Stop after this many frames.") var count: Int = 1000
    @Option(help: "Stop after this many seconds.") var seconds: Int = 10

    func validate() throws {
        guard (1...ControlRequest.maxCaptureCount).contains(count) else { throw ValidationError("--count must be 1...\(ControlRequest.maxCaptureCount)") }
        guard (1...3600).contains(seconds) else { throw ValidationError("--seconds must be 1...3600") }
    }

    func run() throws {
        let raw: [UInt8]
        do { raw = try ControlClient(socketPath: common.socket).send(.capture(count: count, seconds: seconds), timeoutSeconds: seconds + 10) } catch {
            Output.error("newsctl: cannot reach newsd at \(common.socket): \(error)")
            throw ExitCode(1)
        }
        // newsd answers with a pcap stream, or with a JSON error.
        guard raw.count >= 24, raw[0] == 0xD4, raw[1] == 0xC3, raw[2] == 0xB2, raw[3] == 0xA1 else {
            Output.error("newsctl: " + (PcapText.error(in: raw) ?? "capture failed (\(raw.count) bytes from newsd)"))
            throw ExitCode(1)
        }
        do { try FD.writeFile(file, raw) } catch {
            Output.error("newsctl: cannot write \(file): \(error)")
            throw ExitCode(1)
        }
        Output.print("captured \(PcapText.records(in: raw)) frames to \(file)")
    }
}

enum PcapText {
    static func records(in pcap: [UInt8]) -> Int {
        var offset = 24
        var n = 0
        while offset + 16 <= pcap.count {
            let len = Int(pcap[offset + 8]) | Int(pcap[offset + 9]) << 8 | Int(pcap[offset + 10]) << 16 | Int(pcap[offset + 11]) << 24
            offset += 16 + len
            if offset <= pcap.count { n += 1 }
        }
        return n
    }

    static func error(in reply: [UInt8]) -> String? {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return (try? decoder.decode(Reply.self, from: Data(reply)))?.error
    }
}

struct PF: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pf", abstract: "Show or load the packet filter's rules.",
                                                    subcommands: [Show.self, Load.self])

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The rules in force (first match wins) with their counters.")
        @OptionGroup var common: Common
        func run() throws { try common.call(.pfShow) { Tables.filter($0.pf!) } }
    }

    struct Load: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Replace the rules with those in FILE (checked here first).")
        @OptionGroup var common: Common
        @Argument(help: "Rules file.") var file: String
        func run() throws {
            let text: String
            do { text = try FD.readFile(file) } catch {
                Output.error("newsctl: cannot read \(file): \(error)")
                throw ExitCode(1)
            }
            // Check locally so errors name the file's own lines; newsd checks again.
            let rules: RuleSet
            do throws(RuleError) { rules = try RuleSet.parse(text) } catch {
                Output.error("newsctl: \(file): \(error)")
                throw ExitCode(1)
            }
            try common.call(.pfLoad(rules: rules.rendered())) { ($0.message ?? "loaded") + "\n" + Tables.filter($0.pf!) }
        }
    }
}
