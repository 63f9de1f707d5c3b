// newsecho: UDP echo on NEWS sockets (libnews).
//   server (default): every datagram goes back to where it came from. While datagrams keep
//     coming it makes no system call at all: it reads and writes its socket's exposed
//     buffers, and sleeps on a futex only when there is nothing to do.
//   --client ADDR:PORT: sends --count datagrams of random sizes (--min/--max bytes), at most
//     --window in flight, to an echo server (e.g. one on Linux) and checks every reply byte
//     for byte. Exits 0 only if every reply came back intact and in order.
//   Errors about one datagram (a reply to port 0 fails with EINVAL, as on Linux) or that
//     arrive later (ECONNREFUSED) are logged and survived: only the socket failing ends it.
import Glibc
import NewsSystem
import NewsWire
import libnews

struct Options {
    var appSocket = NewsStack.defaultSocket
    var port: UInt16 = 7
    var client: (UInt32, UInt16)? = nil
    var count = 1000
    var minSize = 1
    var maxSize = 1472
    var window = 32
    /// How long the server looks at its ring before it sleeps.
    var spinMicros = 50
}

let usage = "usage: newsecho [--app-socket PATH] [--port N] [--spin-us N] | --client A.B.C.D:PORT [--count N] [--min BYTES] [--max BYTES] [--window N]\n"

func fail(_ why: String) -> Never {
    FD.writeAllIgnoringErrors(2, "newsecho: \(why)\n" + usage)
    Proc.exit(2)
}

/// "A.B.C.D:PORT"; the address is read by NewsWire, as everywhere in NEWS.
func parseAddress(_ s: String) -> (UInt32, UInt16)? {
    let parts = s.split(separator: ":", omittingEmptySubsequences: false)
    guard parts.count == 2, let address = try? IPv4Address.parse(parts[0]),
          let port = UInt16(parts[1]), port > 0 else { return nil }
    return (address.value, port)
}

var o = Options()
var args = CommandLine.arguments.dropFirst()
while let a = args.popFirst() {
    func value() -> String {
        guard let v = args.popFirst() else { fail("\(a) needs a value") }
        return v
    }
    func number(_ range: ClosedRange<Int>) -> Int {
        guard let v = Int(value()), range.contains(v) else { fail("\(a) must be in \(range)") }
        return v
    }
    switch a {
    case "--app-socket": o.appSocket = value()
    case "--port": o.port = UInt16(number(1...65535))
    case "--client":
        guard let peer = parseAddress(value()) else { fail("--client wants A.B.C.D:PORT") }
        o.client = peer
    case "--count": o.count = number(1...100_000_000)
    case "--min": o.minSize = number(0...9000)
    case "--max": o.maxSize = number(1...9000)
    case "--window": o.window = number(1...60)
    case "--spin-us": o.spinMicros = number(0...1_000_000)
    case "-h", "--help": FD.writeAllIgnoringErrors(1, usage); Proc.exit(0)
    default: fail("unknown argument \(a)")
    }
}
guard o.minSize <= o.maxSize else { fail("--min is larger than --max") }

/// Errors that concern one datagram (a reply to port 0, say) or arrive asynchronously
/// (ECONNREFUSED after an ICMP port unreachable): the app notes them and carries on. They
/// go to stderr, the first ten and then every thousandth, with a running count.
final class DatagramErrors {
    var count = 0
    func note(_ what: String, _ error: SocketError) {
        count += 1
        if count <= 10 || count % 1000 == 0 {
            FD.writeAllIgnoringErrors(2, "newsecho: \(what): \(error) (\(count) datagram errors so far)\n")
        }
    }

    /// Whether `error` from a receive is the socket's asynchronous error rather than the
    /// socket itself failing (closed, or its rings corrupt).
    static func isAsynchronous(_ error: SocketError) -> Bool {
        [Errno.connectionRefused, ENETUNREACH, EHOSTUNREACH, EHOSTDOWN, ENONET, ENOPROTOOPT].contains(error.errno)
    }
}

func serve(_ socket: UDPSocket, _ o: Options) throws(SocketError) -> Never {
    try socket.bind(port: o.port)
    socket.nonBlocking = true
    FD.writeAllIgnoringErrors(1, "newsecho: listening on UDP port \(o.port)\n")
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 64)
    let errors = DatagramErrors()
    while true {
        _ = NewsPoll.wait([socket], timeoutNanos: nil, spinNanos: UInt64(o.spinMicros) * 1000)
        while true {
            let got: (count: Int, from: UDPSocket.Address)
            do { got = try socket.receive(into: buffer) } catch {
                if error.wouldBlock { break }
                guard DatagramErrors.isAsynchronous(error) else { throw error }
                errors.note("receive", error)
                continue
            }
            socket.nonBlocking = false  // a full transmit ring waits rather than drops
            do { try socket.send(UnsafeRawBufferPointer(rebasing: buffer[0..<min(got.count, buffer.count)]), to: got.from) } catch {
                // The reply cannot go (to port 0, say): this datagram is lost, the next is served.
                errors.note("reply to \(dotted(got.from.address)):\(got.from.port)", error)
            }
            socket.nonBlocking = true
        }
    }
}

func dotted(_ a: UInt32) -> String { "\(a >> 24).\(a >> 16 & 255).\(a >> 8 & 255).\(a & 255)" }

/// The client: a window of datagrams in flight. Each reply must be byte for byte one of the
/// datagrams out (UDP may reorder or lose; a reply that matches none is a mismatch). After
/// two seconds without a reply, what is still out counts as lost.
func client(_ socket: UDPSocket, to peer: (UInt32, UInt16), _ o: Options) throws(SocketError) -> Bool {
    try socket.connect(address: peer.0, port: peer.1)
    var rng = SystemRandomNumberGenerator()
    var inFlight: [[UInt8]] = []
    var sent = 0, received = 0, bad = 0, lost = 0
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 64)
    var lastProgress = Clock.nanos()
    let errors = DatagramErrors()
    while received + lost + bad < o.count {
        while sent < o.count && inFlight.count < o.window {
            let size = Int.random(in: o.minSize...o.maxSize, using: &rng)
            let data = (0..<size).map { _ in UInt8.random(in: 0...255, using: &rng) }
            socket.nonBlocking = false
            sent += 1
            do { _ = try socket.send(data) } catch {
                // Refused on the call (or a pending asynchronous error): this one is lost.
                errors.note("send", error)
                lost += 1
                continue
            }
            inFlight.append(data)
        }
        socket.nonBlocking = true
        do {
            let got = try socket.receive(into: buffer)
            let reply = UnsafeRawBufferPointer(rebasing: buffer[0..<min(got.count, buffer.count)])
            if let i = inFlight.firstIndex(where: { $0.count == got.count && $0.withUnsafeBytes { $0.elementsEqual(reply) } }) {
                inFlight.remove(at: i)
                received += 1
            } else {
                bad += 1
            }
            lastProgress = Clock.nanos()
        } catch {
            if DatagramErrors.isAsynchronous(error) { errors.note("receive", error); continue }
            guard error.wouldBlock else { throw error }
            if Clock.nanos() - lastProgress > 2_000_000_000 {
                lost += inFlight.count
                inFlight.removeAll()
                lastProgress = Clock.nanos()
                continue
            }
            _ = NewsPoll.wait([socket], timeoutNanos: 100_000_000)
        }
    }
    FD.writeAllIgnoringErrors(1, "newsecho: sent \(sent) received \(received) lost \(lost) mismatched \(bad)\n")
    return received == o.count
}

do {
    let stack = try NewsStack(socketPath: o.appSocket)
    let socket = try UDPSocket(stack: stack)
    if let peer = o.client {
        Proc.exit(try client(socket, to: peer, o) ? 0 : 1)
    }
    try serve(socket, o)
} catch {
    FD.writeAllIgnoringErrors(2, "newsecho: \(error)\n")
    Proc.exit(1)
}
