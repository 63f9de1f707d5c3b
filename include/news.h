/* libnews: NEWS sockets for C programs.
 *
 * Sockets live in exposed socket buffers shared with the NEWS stack: sends, receives and
 * failing non-blocking calls are loads and stores, not system calls; a blocking call sleeps
 * on a futex only when it must wait. Link with -lnews (the shared library built by
 * `swift build -c release`, product "news").
 *
 * Addresses and ports are in host byte order. Functions return -1 and set errno on failure,
 * like their POSIX counterparts (EAGAIN from a non-blocking call that would block).
 */
#ifndef NEWS_H
#define NEWS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Connects to newsd's app socket (NULL: the default, /run/news/app.sock). Once per process. */
int news_init(const char *app_socket);

/* A UDP socket; returns its descriptor (a NEWS descriptor, not a kernel one). */
int news_udp_socket(void);
/* A TCP socket (docs/TCP-SOCKETS.md); UDP and TCP descriptors share one table. */
int news_tcp_socket(void);
/* Both kinds. A TCP bind sends SO_REUSEADDR with it if it was set before. */
int news_bind(int sock, uint32_t addr, uint16_t port);
/* UDP: sets the peer. TCP: blocking, returns 0 once established or -1 with ECONNREFUSED,
 * ETIMEDOUT...; non-blocking, -1 with EINPROGRESS, then poll for NEWS_POLLOUT and read
 * news_socket_error(). */
int news_connect(int sock, uint32_t addr, uint16_t port);
/* TCP. At most 32 connections wait to be accepted, whatever the backlog. */
int news_listen(int sock, int backlog);
/* TCP: the next connection's descriptor; addr/port (may be NULL) get the peer's. */
int news_accept(int sock, uint32_t *addr, uint16_t *port);
/* flags: MSG_PEEK (TCP only), MSG_DONTWAIT, MSG_WAITALL, MSG_NOSIGNAL (Linux values; others
 * EOPNOTSUPP). TCP send: EPIPE after shutdown or a failure (which is reported once first,
 * e.g. ECONNRESET); never SIGPIPE. TCP recv: 0 at end of stream. A UDP socket's news_send
 * sends to its peer; its news_recv returns at most len bytes of one datagram. */
ssize_t news_send(int sock, const void *buf, size_t len, int flags);
ssize_t news_recv(int sock, void *buf, size_t len, int flags);
/* TCP: gathers/scatters like writev/readv. UDP: one datagram. */
ssize_t news_writev(int sock, const struct iovec *iov, int iovcnt);
ssize_t news_readv(int sock, const struct iovec *iov, int iovcnt);
/* TCP: SHUT_RD, SHUT_WR, SHUT_RDWR. */
int news_shutdown(int sock, int how);
/* TCP options with Linux's levels and names: SOL_SOCKET SO_REUSEADDR, SO_KEEPALIVE,
 * SO_SNDBUF, SO_RCVBUF (before connect/listen only, else EINVAL; rounded up to a power of
 * two, 4 KiB..16 MiB), SO_LINGER (value -1 off, else seconds, 0 = abort on close);
 * IPPROTO_TCP TCP_NODELAY, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT. Others ENOPROTOOPT. */
int news_setsockopt(int sock, int level, int name, int value);
/* getsockopt(SO_ERROR): the pending error (cleared), 0 if none; -1 with EBADF. */
int news_socket_error(int sock);
/* Local address (0, 0 if unbound) and, TCP only, the peer's (ENOTCONN if none). */
int news_getsockname(int sock, uint32_t *addr, uint16_t *port);
int news_getpeername(int sock, uint32_t *addr, uint16_t *port);
/* TCP: bytes readable now (FIONREAD). */
int news_fionread(int sock);
/* TCP_INFO as the stack last published it. */
typedef struct news_tcp_info {
    uint32_t state;          /* the TCPState ordinal */
    uint32_t rtt_us, rttvar_us, rto_us;
    uint32_t snd_cwnd, snd_ssthresh;  /* bytes */
    uint32_t snd_mss, rcv_mss;
    uint32_t total_retrans, unacked;  /* segments */
    uint32_t snd_wnd, rcv_wnd;        /* bytes */
    uint32_t unread;         /* bytes received and not read */
} news_tcp_info_t;
int news_tcp_info(int sock, news_tcp_info_t *info);
/* addr and port 0: the connected peer. Fails at once, before anything is sent, as Linux's
 * sendto does: EINVAL for port 0 or address 0.0.0.0, EDESTADDRREQ without a peer, EMSGSIZE
 * above news_udp_max_payload(). A connected socket that sent to a closed port gets
 * ECONNREFUSED from its next call (the ICMP port unreachable arrives later). */
ssize_t news_sendto(int sock, const void *buf, size_t len, uint32_t addr, uint16_t port);
/* The largest UDP payload NEWS carries (Linux: 65507). */
size_t news_udp_max_payload(void);
/* addr/port may be NULL. Returns the datagram's length (truncated to len if longer). */
ssize_t news_recvfrom(int sock, void *buf, size_t len, uint32_t *addr, uint16_t *port);
int news_set_nonblocking(int sock, int on);
/* Waits until one of socks (UDP or TCP, at most 64) is readable or timeout_ms passes (-1:
 * forever); returns how many are readable and sets ready[i] to 1 for each. A TCP socket is
 * readable with data, at end of stream, after a reset, or (a listener) with a connection to
 * accept. */
int news_poll(const int *socks, int n, int *ready, int timeout_ms);
/* poll(2) over NEWS sockets: events NEWS_POLLIN and/or NEWS_POLLOUT (poll's values). TCP is
 * writable with room to send, after a failure or shutdown (the send reports it), or when a
 * non-blocking connect finished; UDP always is. Returns how many have revents. */
#define NEWS_POLLIN 0x1
#define NEWS_POLLOUT 0x4
typedef struct news_pollfd {
    int sock;
    short events;
    short revents;
} news_pollfd_t;
int news_poll_events(news_pollfd_t *fds, int n, int timeout_ms);
int news_close(int sock);

#ifdef __cplusplus
}
#endif
#endif
