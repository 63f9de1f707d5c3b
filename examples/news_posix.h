/* The news.h calls the examples use, on Linux's own sockets: a program written for NEWS,
 * compiled with -DNEWS_POSIX, becomes "the same program's Linux equivalent", the reference
 * scripts/bench-tcp.sh measures NEWS against (examples/http_server.c includes this instead
 * of news.h then). Each call keeps news.h's contract: addresses and ports in host byte
 * order, -1 and errno on failure, send never raises SIGPIPE, and news_poll_events reports a
 * failed or hung-up socket as ready for what was asked (news.h: readable after a reset,
 * writable after a failure; the next call tells which) rather than as POLLERR/POLLHUP,
 * which callers of news_poll_events do not look for.
 *
 * news_init does nothing: there is no newsd to reach (its argument is ignored). */
#ifndef NEWS_POSIX_H
#define NEWS_POSIX_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#define NEWS_POLLIN POLLIN
#define NEWS_POLLOUT POLLOUT

typedef struct news_pollfd {
    int sock;
    short events;
    short revents;
} news_pollfd_t;

/* news_pollfd_t is laid out as struct pollfd, so the array is handed to poll(2) as it is. */
_Static_assert(sizeof(news_pollfd_t) == sizeof(struct pollfd), "news_pollfd_t is not struct pollfd");
_Static_assert(offsetof(news_pollfd_t, sock) == offsetof(struct pollfd, fd), "sock is not fd");
_Static_assert(offsetof(news_pollfd_t, events) == offsetof(struct pollfd, events), "events differ");
_Static_assert(offsetof(news_pollfd_t, revents) == offsetof(struct pollfd, revents), "revents differ");

static inline int news_init(const char *app_socket) {
    (void)app_socket;
    return 0;
}

static inline int news_tcp_socket(void) { return socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0); }
static inline int news_udp_socket(void) { return socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0); }

static inline struct sockaddr_in news_posix_address(uint32_t addr, uint16_t port) {
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(addr);
    sa.sin_port = htons(port);
    return sa;
}

static inline int news_bind(int sock, uint32_t addr, uint16_t port) {
    struct sockaddr_in sa = news_posix_address(addr, port);
    return bind(sock, (struct sockaddr *)&sa, sizeof sa);
}

static inline int news_connect(int sock, uint32_t addr, uint16_t port) {
    struct sockaddr_in sa = news_posix_address(addr, port);
    return connect(sock, (struct sockaddr *)&sa, sizeof sa);
}

static inline int news_listen(int sock, int backlog) { return listen(sock, backlog); }

static inline int news_accept(int sock, uint32_t *addr, uint16_t *port) {
    struct sockaddr_in sa;
    socklen_t len = sizeof sa;
    int s = accept4(sock, (struct sockaddr *)&sa, &len, SOCK_CLOEXEC);
    if (s < 0) return -1;
    if (addr) *addr = ntohl(sa.sin_addr.s_addr);
    if (port) *port = ntohs(sa.sin_port);
    return s;
}

/* news_send never raises SIGPIPE (news.h): MSG_NOSIGNAL always. */
static inline ssize_t news_send(int sock, const void *buf, size_t len, int flags) {
    return send(sock, buf, len, flags | MSG_NOSIGNAL);
}
static inline ssize_t news_recv(int sock, void *buf, size_t len, int flags) { return recv(sock, buf, len, flags); }
static inline ssize_t news_writev(int sock, const struct iovec *iov, int iovcnt) {
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_iov = (struct iovec *)iov;
    m.msg_iovlen = (size_t)iovcnt;
    return sendmsg(sock, &m, MSG_NOSIGNAL);
}
static inline ssize_t news_readv(int sock, const struct iovec *iov, int iovcnt) { return readv(sock, iov, iovcnt); }
static inline int news_shutdown(int sock, int how) { return shutdown(sock, how); }
static inline int news_close(int sock) { return close(sock); }

/* news.h's one-int option values; SO_LINGER's is -1 (off) or the seconds to linger. */
static inline int news_setsockopt(int sock, int level, int name, int value) {
    if (level == SOL_SOCKET && name == SO_LINGER) {
        struct linger l = {value >= 0, value >= 0 ? value : 0};
        return setsockopt(sock, level, name, &l, sizeof l);
    }
    return setsockopt(sock, level, name, &value, sizeof value);
}

static inline int news_socket_error(int sock) {
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(sock, SOL_SOCKET, SO_ERROR, &err, &len) < 0) return -1;
    return err;
}

static inline int news_fionread(int sock) {
    int n = 0;
    if (ioctl(sock, FIONREAD, &n) < 0) return -1;
    return n;
}

static inline int news_set_nonblocking(int sock, int on) {
    int flags = fcntl(sock, F_GETFL);
    if (flags < 0) return -1;
    return fcntl(sock, F_SETFL, on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK) < 0 ? -1 : 0;
}

static inline int news_poll_events(news_pollfd_t *fds, int n, int timeout_ms) {
    int r = poll((struct pollfd *)fds, (nfds_t)n, timeout_ms);
    if (r <= 0) return r;
    int ready = 0;
    for (int i = 0; i < n; i++) {
        short got = fds[i].revents;
        if (got & (POLLERR | POLLHUP | POLLNVAL)) got |= fds[i].events;
        fds[i].revents = got & fds[i].events & (POLLIN | POLLOUT);
        if (fds[i].revents) ready++;
    }
    return ready;
}

#endif
