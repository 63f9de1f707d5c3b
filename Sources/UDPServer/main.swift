// UDPServer: UDP ports and datagram sockets.
import NewsServer

ServerRuntime.main(.udpserver) { context in try UDPCore(context) }
