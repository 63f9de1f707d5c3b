// NICDriver: the network interface: frames to and from the TAP device or shm cable.
// The process shell is the shared server runtime; this server's protocol core plugs in there.
import NewsServer

ServerRuntime.main(.nicdriver)
