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

extension StreamStackEnd {
    /// The application closed this pooled socket (`StreamAppEnd.release`): one load, for
    /// the server's pass.
    public var applicationReleased: Bool {
        StreamAppFlags(rawValue: news_load_acquire_u32(&stream.pointee.app_flags)).contains(.released)
    }

    /// Whether the region is as `StreamLayout.initialize` left it, as far as a restarted
    /// stack can tell: no stack flag, no peer, no index moved, nothing released. Only such a
    /// region may go back into a listener's pool of free regions after a restart; any other
    /// one may still be an application's socket (it goes back once the application
    /// releases it).
    public var looksUnused: Bool {
        news_load_acquire_u32(&stream.pointee.stack_flags) == 0
            && header.remote.port == 0 && header.remote.address == 0
            && news_load_acquire_u64(&stream.pointee.send_tail) == 0 && news_load_acquire_u64(&stream.pointee.recv_head) == 0
            && news_load_acquire_u64(&stream.pointee.send_acked) == 0 && news_load_acquire_u64(&stream.pointee.recv_tail) == 0
            && !applicationReleased
    }
}
