// The 32-byte binary form of one Rule in the RuleStore region (layout in RuleStore.swift).
// Decoding is deliberately unforgiving: anything that is not exactly what `encode` would have
// written is rejected, which is how torn and scribbled records are told from real ones.

extension RuleStore {
    static func encode(_ rule: Rule, slot: Int) -> [UInt8] {
        var w = ByteWriter(size: ruleRecordSize)
        w.put8(ruleMarker, at: 0)
        w.put8(rule.action.rawValue, at: 1)
        w.put8(rule.direction.rawValue, at: 2)
        w.put8(rule.proto.rawValue, at: 3)
        w.put32(rule.src.address, at: 4)
        w.put32(rule.dst.address, at: 8)
        w.put8(rule.src.prefix, at: 12)
        w.put8(rule.dst.prefix, at: 13)
        var present: UInt8 = 0
        if let r = rule.srcPorts {
            present |= 1
            w.put16(r.lower, at: 18)
            w.put16(r.upper, at: 20)
        }
        if let r = rule.dstPorts {
            present |= 2
            w.put16(r.lower, at: 22)
            w.put16(r.upper, at: 24)
        }
        if let m = rule.icmp {
            present |= 4
            w.put8(m.type, at: 15)
            if let code = m.code {
                present |= 8
                w.put8(code, at: 16)
            }
        }
        w.put8(present, at: 14)
        w.put32(recordChecksum(w.bytes, 0 ..< 28, slot: UInt32(slot)), at: 28)
        return w.bytes
    }

    /// The rule stored in `bytes`, or nil if the record is not a valid, canonical rule for
    /// this slot.
    static func decode(_ bytes: [UInt8], slot: Int) -> Rule? {
        let r = ByteReader(bytes)
        guard bytes.count == ruleRecordSize, r.u8(0) == ruleMarker,
              r.u32(28) == recordChecksum(bytes, 0 ..< 28, slot: UInt32(slot)),
              let action = Action(rawValue: r.u8(1)),
              let direction = RuleDirection(rawValue: r.u8(2)),
              let proto = RuleProtocol(rawValue: r.u8(3)),
              let src = IPv4Net(address: r.u32(4), prefix: Int(r.u8(12))),
              let dst = IPv4Net(address: r.u32(8), prefix: Int(r.u8(13)))
        else { return nil }
        let present = r.u8(14)
        var srcPorts: PortRange?, dstPorts: PortRange?
        var icmp: ICMPMatch?
        if present & 1 != 0 {
            guard let range = PortRange(r.u16(18), r.u16(20)) else { return nil }
            srcPorts = range
        }
        if present & 2 != 0 {
            guard let range = PortRange(r.u16(22), r.u16(24)) else { return nil }
            dstPorts = range
        }
        if present & 4 != 0 {
            icmp = ICMPMatch(type: r.u8(15), code: present & 8 != 0 ? r.u8(16) : nil)
        }
        guard let rule = Rule(action, direction, proto, src: src, srcPorts: srcPorts,
                              dst: dst, dstPorts: dstPorts, icmp: icmp),
              encode(rule, slot: slot) == bytes
        else { return nil }
        return rule
    }
}
