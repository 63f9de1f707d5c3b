import ArgumentParser

@main
struct NewsBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "newsbench",
        abstract: "NEWS benchmarks and two-process channel tests. Build with -c release before measuring.",
        subcommands: [ChannelBench.self, RingTest.self, EagainBench.self, UDPBench.self, TCPBench.self, StallBench.self, LinuxEcho.self, TapRelay.self, Peer.self])
}

/// A run that went wrong (not a usage error): printed as "Error: FAILED: ...", exit code 1.
struct Failure: Error, CustomStringConvertible {
    let description: String
    init(_ what: String) { description = "FAILED: " + what }
}
