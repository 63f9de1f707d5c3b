// PacketFilter: stateful packet filtering between the driver and IP.
// The process shell is the shared server runtime; this server's protocol core plugs in there.
import NewsServer

ServerRuntime.main(.packetfilter)
