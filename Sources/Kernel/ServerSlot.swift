import NewsConfig
import NewsControl
import NewsSystem

/// newsd's record of one server across all its incarnations.
struct ServerSlot {
    enum State: String { case starting, running, backoff, failed, stopped }

    let kind: ServerKind
    let cpu: Int
    let spin: Int
    var state: State = .stopped
    var child: Child?
    var generation: UInt64 = 0
    var startedAt: UInt64 = 0
    var restarts = 0
    var lastExit: String?
    var exits: [ExitRecord] = []
    static let exitHistory = 32
    /// Why newsd itself killed the server (hang, start-up timeout, failed confinement check,
    /// operator restart); reported instead of the bare SIGKILL.
    var killReason: String?
    var operatorRestart = false
    var restartAt: UInt64?
    var lastBeat: UInt64 = 0
    var lastBeatChange: UInt64 = 0
    var policy: RestartPolicy

    init(kind: ServerKind, cpu: Int, spin: Int, policy: RestartPolicy) {
        self.kind = kind
        self.cpu = cpu
        self.spin = spin
        self.policy = policy
    }

    var pid: Int32? { child?.pid }
}
