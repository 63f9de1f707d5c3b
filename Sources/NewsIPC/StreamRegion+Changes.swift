import CNewsLinux

extension StreamStackEnd {
    /// Whether the application moved an index or shut its write side since the stack last
    /// took them: three loads, for the server's busy pass (the values themselves are taken,
    /// and validated, by `takeSendTail` and `takeReceiveHead`).
    public var appMoved: Bool {
        if news_load_acquire_u64(&stream.pointee.send_tail) != state.sendTail { return true }
        if news_load_acquire_u64(&stream.pointee.recv_head) != state.receiveHead { return true }
        let shut = StreamAppFlags(rawValue: news_load_acquire_u32(&stream.pointee.app_flags)).contains(.writeShutdown)
        return shut && state.finalSendTail == nil
    }
}
