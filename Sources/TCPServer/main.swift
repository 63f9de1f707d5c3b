// TCPServer: TCP connections over exposed stream buffers (the protocol is NewsTCP's).
import NewsServer

ServerRuntime.main(.tcpserver) { context in try TCPCore(context) }
