import ArgumentParser
import Logging
import NewsConfig
import NewsSystem

@main
struct NewsD: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "newsd",
        abstract: "The NEWS supervisor: creates the shared memory and channels, starts every server confined and pinned, restarts them when they crash or hang.")

    @Option(name: .shortAndLong, help: "TOML configuration file (default: the built-in configuration).")
    var config: String?

    @Option(help: "Override the config's ipc: shm or kernel.")
    var ipc: IPCMode?

    @Flag(help: "Allow `newsctl crash` (fault injection) for testing.")
    var faultInjection = false

    @Option(help: "Override the config's control socket path.")
    var controlSocket: String?

    @Option(help: "Directory holding the server executables (default: newsd's own directory).")
    var binDir: String?

    @Flag(help: "Print the built-in configuration and exit.")
    var printDefaultConfig = false

    @Flag(help: "Check the configuration and exit.")
    var checkConfig = false

    func run() throws {
        if printDefaultConfig {
            print(Config.default.rendered(), terminator: "")
            return
        }
        var cfg = Config.default
        if let path = config {
            let text: String
            do { text = try FD.readFile(path) } catch { throw StartFailure("cannot read config: \(error)") }
            do { cfg = try Config.parse(text, path: path) } catch { throw StartFailure(error.description) }
        }
        if let ipc { cfg.ipc = ipc }
        if faultInjection { cfg.faultInjection = true }
        if let controlSocket { cfg.controlSocket = controlSocket }
        do {
            try cfg.validate()
            // Who the servers run as depends on the system's accounts; checked here so that
            // --check-config reports it, and with the file's name.
            _ = try cfg.resolveAccounts()
        } catch {
            throw StartFailure((config.map { error.withPath($0) } ?? error).description)
        }
        if checkConfig {
            do { _ = try Supervisor.configuredRules(cfg) } catch { throw StartFailure(error.description) }
            // `[cores]` against the CPUs this newsd may use, as start-up will check them.
            do {
                _ = try CoreMap(configured: cfg.cores, apps: cfg.appCores, allowed: try CPU.allowed())
            } catch {
                throw StartFailure((config.map { "\($0): " } ?? "") + "\(error)")
            }
            print("configuration ok")
            return
        }
        NewsLogHandler.bootstrap(level: Logger.Level(rawValue: cfg.logLevel) ?? .info)
        guard Proc.effectiveUID == 0 else {
            throw StartFailure("newsd must run as root: it creates confined, unprivileged server processes")
        }
        let dir = binDir ?? Proc.executablePath().map { path in String(path[..<(path.lastIndex(of: "/") ?? path.endIndex)]) } ?? "."
        do {
            let supervisor = try Supervisor(config: cfg, binDir: dir)
            try supervisor.run()
        } catch {
            Logger(label: "newsd").critical("\(error)")
            throw ExitCode(1)
        }
    }
}

extension IPCMode: ExpressibleByArgument {}

/// A configuration or environment problem (not a command-line mistake): printed as
/// "Error: ..." without the usage text, exit code 1.
struct StartFailure: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
