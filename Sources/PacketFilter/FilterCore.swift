import NewsIPC
import NewsServer

/// The packet filter's core: every frame between the NIC driver and the IP server passes
/// through here, inbound from pf-nic to ip-pf and outbound the other way.
final class FilterCore: ServerCore {
    let wire: Int       // pf-nic: toward the NIC driver
    let host: Int       // ip-pf: toward the IP server
    let passedIn, passedOut: CounterHandle

    init(_ context: ServerContext) throws {
        guard let wire = context.ports.index(of: "pf-nic"), let host = context.ports.index(of: "ip-pf") else {
            throw LaunchArguments.Invalid(description: "packetfilter needs pf-nic and ip-pf")
        }
        self.wire = wire
        self.host = host
        passedIn = context.counter("passed_in")
        passedOut = context.counter("passed_out")
    }

    func handle(_ message: Message, payload: UnsafeRawBufferPointer, from port: Int, ports: Ports) {
        guard message.kind == MessageKind.frame.rawValue else { return }
        if port == wire {
            passedIn.add()
            ports.send(host, message, payload: payload)
        } else if port == host {
            passedOut.add()
            ports.send(wire, message, payload: payload)
        }
    }
}
