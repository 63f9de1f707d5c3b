import Logging
import NewsIPC
import NewsSystem

/// A server's protocol core, plugged into the shared runtime. The runtime owns the loop,
/// the channels, the heartbeat and fault injection; the core only reacts to what arrives
/// (messages, a readable device, the passing of time) by sending through `Ports`.
public protocol ServerCore: AnyObject {
    /// A message of a kind the runtime does not handle itself (it handles probes).
    func handle(_ message: Message, payload: UnsafeRawBufferPointer, from port: Int, ports: Ports)
    /// Descriptors besides the channels the server waits on (the NIC driver's device).
    var descriptors: [Int32] { get }
    /// `fd`, one of `descriptors`, is readable. Returns whether it did any work.
    func descriptorReady(_ fd: Int32, ports: Ports) -> Bool
    /// Called on every pass of the loop, for timers. Returns whether it did any work.
    func tick(now: UInt64, ports: Ports) -> Bool
    /// Input the core polls itself (the UDP server's socket rings), checked before sleeping.
    var pendingInput: Bool { get }
    /// When the core next needs `tick` (a delayed frame falls due), if sooner than usual.
    var wakeAt: UInt64? { get }
    /// Doorbells besides the server's own that may wake it (the NIC driver's cable end).
    var extraBells: [Doorbell] { get }
    /// Descriptors that only matter while the server sleeps (the UDP server's per-socket
    /// kick eventfds): watched in the sleeping poll, handed to `descriptorReady` when
    /// readable, never polled on the busy path (the core looks at its rings directly then).
    var sleepDescriptors: [Int32] { get }
    /// Called just before the server advertises that it sleeps (and looks once more at its
    /// input), and when it wakes.
    func willSleep()
    func didWake()
}

extension ServerCore {
    public var descriptors: [Int32] { [] }
    public func descriptorReady(_ fd: Int32, ports: Ports) -> Bool { false }
    public func tick(now: UInt64, ports: Ports) -> Bool { false }
    public var pendingInput: Bool { false }
    public var wakeAt: UInt64? { nil }
    public var extraBells: [Doorbell] { [] }
    public var sleepDescriptors: [Int32] { [] }
    public func willSleep() {}
    public func didWake() {}
}

/// What a core is given when it is made: who it is, how it was started, where to log and
/// count, and its state region (supervisor-owned memory that survives a restart).
public struct ServerContext {
    public let args: LaunchArguments
    public let log: Logger
    public let ports: Ports
    /// nil when newsd gave this server no state region.
    public let state: UnsafeMutableRawBufferPointer?
    let status: StatusPage

    public var isRestart: Bool { args.start == .restart }

    /// Whether newsd asks for frames to be mirrored to it (`newsctl capture`).
    @inline(__always) public var captureRequested: Bool { status.capturing }

    /// A named counter on the status page (`newsctl stats`), continued across restarts.
    public func counter(_ name: String) -> CounterHandle { CounterHandle(status: status, slot: status.counter(named: name)) }
}

public struct CounterHandle {
    let status: StatusPage
    let slot: Int?
    @inline(__always) public func add(_ n: UInt64 = 1) { if let slot { status.add(slot, n) } }
}

/// The server's channels as a core sees them: by index (in launch order) or by name.
public final class Ports {
    let channels: [any Channel]
    let counters: ServerCounters
    public let names: [String]

    init(channels: [any Channel], counters: ServerCounters) {
        self.channels = channels
        self.counters = counters
        names = channels.map(\.name)
    }

    public func index(of name: String) -> Int? { names.firstIndex(of: name) }

    /// Sends one message whose payload `build` writes in place (`Channel.send(_:building:)`):
    /// false, counted as a drop, if the ring is full; false if `build` gave up (nil).
    @discardableResult
    public func send(_ port: Int, _ message: Message, building build: (UnsafeMutableRawBufferPointer) -> Int?) -> Bool {
        guard channels.indices.contains(port) else { counters.bump(counters.unroutable); return false }
        var gaveUp = false
        do throws(ChannelError) {
            if try channels[port].send(message, building: { b in
                let n = build(b)
                if n == nil { gaveUp = true }
                return n
            }) {
                counters.sent(1, on: port)
                return true
            }
            if !gaveUp { counters.bump(counters.droppedFull) }
        } catch {
            counters.bump(counters.ringCorrupt)
            counters.bump(counters.droppedFull)
        }
        return false
    }

    /// Sends one message with its payload. A full ring drops it (there are no unbounded
    /// queues) and counts the drop; a broken channel is counted too.
    @discardableResult
    public func send(_ port: Int, _ message: Message, payload: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0)) -> Bool {
        guard channels.indices.contains(port) else { counters.bump(counters.unroutable); return false }
        do throws(ChannelError) {
            if try channels[port].send(message, payload: payload) {
                counters.sent(1, on: port)
                return true
            }
            counters.bump(counters.droppedFull)
        } catch {
            counters.bump(counters.ringCorrupt)
            counters.bump(counters.droppedFull)
        }
        return false
    }
}
