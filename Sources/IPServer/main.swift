// IPServer: IPv4 as a host (RFC 791, RFC 1122): ARP, ICMP echo and errors, fragment
// reassembly and fragmentation, routing to the connected network or a gateway.
import NewsServer

ServerRuntime.main(.ipserver) { context in try IPCore(context) }
