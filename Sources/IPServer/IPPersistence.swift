import NewsIPCore
import NewsSystem

/// The IP server's state region (supervisor-owned, so it outlives the process): the route
/// table in the first quarter, the ARP cache after it. Each is written whole whenever it
/// changes, in NewsIPCore's checksummed record format, so a restarted server adopts what
/// is intact and counts what is not.
struct IPPersistence {
    let routesArea: UnsafeMutableRawBufferPointer
    let arpArea: UnsafeMutableRawBufferPointer

    init(region: UnsafeMutableRawBufferPointer) {
        let split = region.count / 4
        routesArea = UnsafeMutableRawBufferPointer(rebasing: region[0..<split])
        arpArea = UnsafeMutableRawBufferPointer(rebasing: region[split...])
    }

    func save(arp: ARPCache<[UInt8]>, routes: RouteTable) {
        _ = routes.encode(into: routesArea)
        _ = arp.encode(into: arpArea)
    }

    func load() -> (arp: ARPCache<[UInt8]>, routes: RouteTable, invalid: Int) {
        let r = RouteTable.decode(from: UnsafeRawBufferPointer(routesArea))
        let a = ARPCache<[UInt8]>.decode(from: UnsafeRawBufferPointer(arpArea), now: Clock.nanos(), configuration: IPCore.arpConfiguration)
        return (a.value, r.value, r.invalidRecords + a.invalidRecords)
    }
}
