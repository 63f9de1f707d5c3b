// PacketFilter: stateful packet filtering between the NIC driver and IP.
import NewsServer

ServerRuntime.main(.packetfilter) { context in try FilterCore(context) }
