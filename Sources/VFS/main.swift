// VFS: the POSIX personality: descriptor tables, the path namespace, the legacy call path.
// The process shell is the shared server runtime; this server's protocol core plugs in there.
import NewsServer

ServerRuntime.main(.vfs)
