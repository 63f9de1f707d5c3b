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

#ifdef __cplusplus
extern "C" {
#endif

/* Connects to newsd's app socket (NULL: the default, /run/news/app.sock). Once per process. */
int news_init(const char *app_socket);

/* A UDP socket; returns its descriptor (a NEWS descriptor, not a kernel one). */
int news_udp_socket(void);
int news_bind(int sock, uint32_t addr, uint16_t port);
int news_connect(int sock, uint32_t addr, uint16_t port);
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
/* Waits until one of socks is readable or timeout_ms passes (-1: forever); returns how many
 * are readable and sets ready[i] to 1 for each. */
int news_poll(const int *socks, int n, int *ready, int timeout_ms);
int news_close(int sock);

#ifdef __cplusplus
}
#endif
#endif
