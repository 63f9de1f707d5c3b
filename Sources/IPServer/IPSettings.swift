import NewsIPC
import NewsWire

/// What ipserver takes from its launch parameters (newsd passes the config's `ip.address`,
/// `ip.gateway`, `ip.mtu` and `nic.mac` as given). Addresses are read with the NewsWire
/// parsers `Config.parse` uses for the same keys, so `newsd --check-config` rejects exactly
/// what would stop ipserver here.
struct IPSettings: Equatable {
    let interface: IPv4Interface
    let gateway: IPv4Address?
    let mac: MACAddress
    let mtu: Int

    init(parameters p: [String: String]) throws(LaunchArguments.Invalid) {
        func invalid(_ key: String, _ why: String) -> LaunchArguments.Invalid {
            LaunchArguments.Invalid(description: "ipserver: bad \(key) \(why)")
        }
        do { interface = try IPv4Interface.parse(p["ip.address"] ?? "") } catch { throw invalid("ip.address", error.description) }
        if let text = p["ip.gateway"], !text.isEmpty {
            do { gateway = try interface.gateway(text) } catch { throw invalid("ip.gateway", error.description) }
        } else {
            gateway = nil
        }
        do { mac = try MACAddress.parseStation(p["nic.mac"] ?? "") } catch { throw invalid("nic.mac", error.description) }
        guard let mtu = p["ip.mtu"].flatMap(Int.init), (576...1500).contains(mtu) else {
            throw invalid("ip.mtu", "\"\(p["ip.mtu"] ?? "")\": expected 576...1500")
        }
        self.mtu = mtu
    }
}
