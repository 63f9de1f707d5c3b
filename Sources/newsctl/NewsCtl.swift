import ArgumentParser
import FoundationEssentials
import NewsConfig
import NewsControl
import NewsIPC
import NewsSystem
import libnews

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
        subcommands: [Status.self, Stats.self, Restart.self, Crash.self, Probe.self, Stop.self])

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
