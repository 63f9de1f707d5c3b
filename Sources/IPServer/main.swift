// IPServer: IPv4, ARP, ICMP and routing.
// The process shell is the shared server runtime; this server's protocol core plugs in there.
import NewsServer

ServerRuntime.main(.ipserver)
