import NewsConfig
import NewsControl
import NewsFilter
import NewsSystem

/// The packet filter's rules, as newsd handles them: it never edits the filter's store, it
/// posts rules text to the filter's mailbox and reports what the filter answered; `pf show`
/// reads a private copy of the store, so a filter writing counters cannot be disturbed.
extension Supervisor {
    struct PendingRules {
        let number: UInt64
        let client: Int32
        let deadline: UInt64
    }

    var filterRegion: UnsafeMutableRawBufferPointer { plumbing.stateRegion(.packetfilter) }

    /// The rules file from the config, checked and posted before the filter first starts.
    func postConfiguredRules() throws {
        guard let text = try Self.configuredRules(config) else { return }
        guard FilterRegion.mailbox(filterRegion).post(text) != nil else { throw StartupError("pf rules: file too large") }
        log.info("packet filter rules from \(config.pf.rules)")
    }

    /// The text of the `[pf] rules` file, nil if none is configured, checked with the packet
    /// filter's own parser. `newsd --check-config` runs this too, so a rules file the filter
    /// would refuse fails the check, naming the file and the line.
    static func configuredRules(_ config: Config) throws(StartupError) -> String? {
        guard !config.pf.rules.isEmpty else { return nil }
        let text: String
        do { text = try FD.readFile(config.pf.rules) } catch { throw StartupError("pf rules: \(error)") }
        do throws(RuleError) { _ = try RuleSet.parse(text) } catch {
            throw StartupError("\(config.pf.rules):\(error.line): \(error.message) (the [pf] rules file)")
        }
        return text
    }

    func loadRules(_ text: String, client: ControlConnection) {
        do throws(RuleError) { _ = try RuleSet.parse(text) } catch {
            reply(to: client.fd, .failure(error.description)); return
        }
        guard slots[.packetfilter]?.state == .running else { reply(to: client.fd, .failure("packetfilter is not running")); return }
        guard pendingRules == nil else { reply(to: client.fd, .failure("a rules load is already in progress")); return }
        guard let number = FilterRegion.mailbox(filterRegion).post(text) else { reply(to: client.fd, .failure("rules too large")); return }
        client.waiting = true
        pendingRules = PendingRules(number: number, client: client.fd, deadline: Clock.nanos() + 3_000_000_000)
        plumbing.doorbell(.server(.packetfilter)).ring()
    }

    /// Called from the loop while a load is pending.
    func checkPendingRules(now: UInt64) {
        guard let p = pendingRules else { return }
        if let answer = FilterRegion.mailbox(filterRegion).answer(to: p.number) {
            pendingRules = nil
            reply(to: p.client, answer.ok ? Reply(message: answer.message, pf: filterReport()) : .failure(answer.message))
        } else if now > p.deadline {
            pendingRules = nil
            reply(to: p.client, .failure("packetfilter did not answer within 3 s"))
        }
    }

    /// Live flows, counted on a private copy of the flow table (adopting a table repairs it,
    /// which must never happen to the filter's own).
    func trackedFlows() -> Int {
        let live = FilterRegion.flows(filterRegion)
        let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: live.count, alignment: 64)
        defer { copy.deallocate() }
        copy.copyMemory(from: UnsafeRawBufferPointer(live))
        guard var table = try? FlowTable(region: copy, fresh: false) else { return 0 }
        _ = table.expire(now: Clock.nanos())
        return table.count
    }

    /// A consistent snapshot of the rules and counters (retried if the copy caught a counter
    /// mid-update).
    func filterReport() -> FilterReport? {
        let live = FilterRegion.rules(filterRegion)
        let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: live.count, alignment: 64)
        defer { copy.deallocate() }
        for _ in 0..<5 {
            copy.copyMemory(from: UnsafeRawBufferPointer(live))
            guard var store = try? RuleStore(region: copy), let rules = try? store.load() else { continue }
            if store.invalidRecords > 0 { continue }
            let rows = rules.rules.enumerated().map { i, r in
                FilterReport.Rule(index: i, rule: r.description, packets: store.counter(rule: i)?.packets ?? 0, bytes: store.counter(rule: i)?.bytes ?? 0)
            }
            return FilterReport(rules: rows, defaultIn: rules.defaultIn.description, defaultOut: rules.defaultOut.description,
                                defaultInPackets: store.defaultCounter(.in).packets, defaultOutPackets: store.defaultCounter(.out).packets,
                                generation: store.generation, flows: trackedFlows())
        }
        return nil
    }
}

struct StartupError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
