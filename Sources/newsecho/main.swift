// newsecho: a UDP echo server on NEWS sockets (libnews). Every datagram goes back to where
// it came from. While datagrams keep coming it makes no system call at all: it reads and
// writes its socket's exposed buffers and sleeps on a futex only when there is nothing to do.
import NewsSystem
import libnews

var appSocket = NewsStack.defaultSocket
var port: UInt16 = 7
var args = CommandLine.arguments.dropFirst()
while let a = args.popFirst() {
    switch a {
    case "--app-socket": appSocket = args.popFirst() ?? appSocket
    case "--port":
        guard let v = args.popFirst().flatMap(UInt16.init) else { FD.writeAllIgnoringErrors(2, "newsecho: --port needs a number 1-65535\n"); Proc.exit(2) }
        port = v
    case "-h", "--help":
        FD.writeAllIgnoringErrors(1, "usage: newsecho [--app-socket PATH] [--port N]\n")
        Proc.exit(0)
    default:
        FD.writeAllIgnoringErrors(2, "newsecho: unknown argument \(a)\nusage: newsecho [--app-socket PATH] [--port N]\n")
        Proc.exit(2)
    }
}

do {
    let stack = try NewsStack(socketPath: appSocket)
    let socket = try UDPSocket(stack: stack)
    try socket.bind(port: port)
    socket.nonBlocking = true
    FD.writeAllIgnoringErrors(1, "newsecho: listening on UDP port \(port)\n")
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 64)
    while true {
        _ = NewsPoll.wait([socket], timeoutNanos: nil)
        while true {
            let got: (count: Int, from: UDPSocket.Address)
            do { got = try socket.receive(into: buffer) } catch { if error.wouldBlock { break }; throw error }
            let n = min(got.count, buffer.count)
            socket.nonBlocking = false  // a full transmit ring waits rather than drops
            try socket.send(UnsafeRawBufferPointer(rebasing: buffer[0..<n]), to: got.from)
            socket.nonBlocking = true
        }
    }
} catch {
    FD.writeAllIgnoringErrors(2, "newsecho: \(error)\n")
    Proc.exit(1)
}
