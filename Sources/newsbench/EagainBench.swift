import ArgumentParser
import NewsSystem
import libnews

/// `newsbench eagain`: the cost of a non-blocking receive on an empty UDP socket, NEWS (an
/// exposed socket buffer: a look at a ring) against Linux (a recvfrom system call), in the
/// same run, in nanoseconds and TSC cycles. Needs a running newsd (for the NEWS socket).
struct EagainBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "eagain", abstract: "Non-blocking recvfrom on an empty socket: NEWS vs Linux.")

    @Option(help: "newsd's app socket.") var appSocket: String = NewsStack.defaultSocket
    @Option(help: "Calls per round.") var calls: Int = 200_000
    @Option(help: "Rounds (the median is reported).") var rounds: Int = 15
    @Flag(help: "Print CSV instead of a table.") var csv = false

    func validate() throws {
        guard calls >= 1000, calls <= 100_000_000 else { throw ValidationError("--calls must be 1000...100000000") }
        guard rounds >= 1, rounds <= 1000 else { throw ValidationError("--rounds must be 1...1000") }
    }

    func run() throws {
        let stack: NewsStack
        do { stack = try NewsStack(socketPath: appSocket) } catch { throw Failure("\(error)") }
        let news = try UDPSocket(stack: stack)
        try news.bind(port: 0)
        news.nonBlocking = true
        let linux = try LinuxUDPSocket()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 2048, alignment: 64)
        defer { buffer.deallocate() }
        try CPU.pin(to: try CPU.allowed()[0])

        func measure(_ call: () -> Bool) throws -> (ns: Double, cycles: Double) {
            var ns: [Double] = [], cycles: [Double] = []
            for _ in 0..<rounds {
                let t0 = Clock.nanos(), c0 = Clock.cycles()
                for _ in 0..<calls { guard call() else { throw Failure("a receive did not fail with EAGAIN") } }
                let c1 = Clock.cycles(), t1 = Clock.nanos()
                ns.append(Double(t1 - t0) / Double(calls))
                cycles.append(Double(c1 - c0) / Double(calls))
            }
            return (ns.sorted()[rounds / 2], cycles.sorted()[rounds / 2])
        }
        // Interleave the two so that both see the same machine.
        let again = Int(Errno.again)
        let l = try measure { linux.receive(into: buffer) == -again }
        let n = try measure {
            do throws(SocketError) { _ = try news.receive(into: buffer); return false } catch { return error.wouldBlock }
        }
        let l2 = try measure { linux.receive(into: buffer) == -again }
        let linuxNs = min(l.ns, l2.ns), linuxCycles = min(l.cycles, l2.cycles)
        if csv {
            print("call,ns_per_call,cycles_per_call\nlinux_recvfrom_eagain,\(linuxNs),\(linuxCycles)\nnews_recvfrom_eagain,\(n.ns),\(n.cycles)")
            return
        }
        func f(_ v: Double) -> String { String(Int(v.rounded())) }
        func r(_ v: Double) -> String { String((v * 1000).rounded() / 1000) }
        print("CALL                                 NS/CALL  CYCLES/CALL")
        print("recvfrom EAGAIN, Linux UDP socket".padding(37) + f(linuxNs).padding(9) + f(linuxCycles))
        print("recvfrom EAGAIN, NEWS UDP socket".padding(37) + f(n.ns).padding(9) + f(n.cycles))
        print("NEWS / Linux: \(r(n.ns / linuxNs))x in time, \(r(n.cycles / linuxCycles))x in cycles (median of \(rounds) rounds of \(calls) calls)")
    }
}
