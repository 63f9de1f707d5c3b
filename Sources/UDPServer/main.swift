// UDPServer: UDP ports and datagram sockets.
// The process shell is the shared server runtime; this server's protocol core plugs in there.
import NewsServer

ServerRuntime.main(.udpserver)
