/* A NEWS application for test_udp_linux.py: runs socket calls given as arguments, one per
 * argument, on one NEWS UDP socket and prints one line per call, "ok N" or "err ENAME", so
 * the test can set what NEWS does beside what a Linux socket does for the same calls.
 *   udp_calls APP_SOCKET CALL...   with CALL one of
 *   "max" (prints news_udp_max_payload), "bind PORT", "connect A.B.C.D PORT", "send LEN",
 *   "sendto A.B.C.D PORT LEN", "recv" (blocking), "recv_nb" (non-blocking), "sleep MS".
 * A blocking recv that has not returned after 5 s prints "err TIMEOUT" and exits 3.
 * An application may also bypass libnews and write its socket's transmit ring itself, which
 * udpserver must survive: "raw_sendto A.B.C.D PORT LEN" and "raw_send LEN" queue a datagram
 * that way, without libnews's checks, and "error_word" prints the socket header's pending
 * error. Once a raw call is made, libnews must not send on the socket again (its copy of
 * the ring's head is stale), so raw calls come after any send. */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "news.h"
#include "news_linux.h"

/* The socket region's layout (Sources/NewsIPC/SocketRegion.swift, Channel.swift): a header
 * page, the down ring (the application's transmit ring), the up ring, then one data slot
 * per ring slot for each. */
enum { HEADER_PAGE = 4096, CAPACITY = 64, SLOT = 9216, KIND_SOCKET_SEND = 12 };
#define RING_STRIDE ((sizeof(news_ring_header_t) + CAPACITY * sizeof(news_msg_t) + 63) & ~(size_t)63)

/* This process's one socket region: the shared mapping that starts with a socket header. */
static unsigned char *socket_region(void) {
    static unsigned char *found;
    if (found) return found;
    FILE *maps = fopen("/proc/self/maps", "r");
    char line[512];
    while (maps && fgets(line, sizeof line, maps)) {
        unsigned long start, end;
        char perms[8];
        if (sscanf(line, "%lx-%lx %7s", &start, &end, perms) != 3 || strcmp(perms, "rw-s") != 0) continue;
        news_sock_header_t *h = (news_sock_header_t *)start;
        if (end - start >= HEADER_PAGE + 2 * RING_STRIDE && h->magic == NEWS_SOCK_MAGIC && h->version == 1) {
            found = (unsigned char *)start;
            break;
        }
    }
    if (maps) fclose(maps);
    if (!found) { fprintf(stderr, "no socket region in /proc/self/maps\n"); exit(1); }
    return found;
}

/* Queues one socketSend message and its payload the way libnews would, but unchecked. */
static ssize_t raw_send(uint32_t addr, uint16_t port, const void *data, size_t len) {
    unsigned char *base = socket_region();
    news_ring_header_t *ring = (news_ring_header_t *)(base + HEADER_PAGE);
    news_msg_t *slots = (news_msg_t *)(ring + 1);
    uint64_t head = news_load_acquire_u64(&ring->head);
    if (head - news_load_acquire_u64(&ring->tail) >= CAPACITY || len > SLOT) { errno = EAGAIN; return -1; }
    unsigned slot = (unsigned)(head & (CAPACITY - 1));
    memcpy(base + HEADER_PAGE + 2 * RING_STRIDE + (size_t)slot * SLOT, data, len);
    news_msg_t m = {.kind = KIND_SOCKET_SEND, .len = (uint32_t)len, .arg = {addr, port}};
    slots[slot] = m;
    news_store_release_u64(&ring->head, head + 1);
    return (ssize_t)len;
}

static const char *errno_name(int e) {
    switch (e) {
    case EINVAL: return "EINVAL";
    case EMSGSIZE: return "EMSGSIZE";
    case EDESTADDRREQ: return "EDESTADDRREQ";
    case ECONNREFUSED: return "ECONNREFUSED";
    case EAGAIN: return "EAGAIN";
    case EBADF: return "EBADF";
    case EADDRINUSE: return "EADDRINUSE";
    case EACCES: return "EACCES";
    default: return "EOTHER";
    }
}

static void on_alarm(int sig) {
    (void)sig;
    static const char line[] = "err TIMEOUT\n";
    ssize_t ignored = write(1, line, sizeof line - 1);
    (void)ignored;
    _exit(3);
}

static uint32_t address(const char *text) {
    struct in_addr a;
    if (inet_pton(AF_INET, text, &a) != 1) { fprintf(stderr, "bad address %s\n", text); exit(2); }
    return ntohl(a.s_addr);
}

static void result(ssize_t r) {
    if (r < 0) printf("err %s\n", errno_name(errno));
    else printf("ok %zd\n", r);
    fflush(stdout);
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: udp_calls APP_SOCKET CALL...\n"); return 2; }
    if (news_init(argv[1]) < 0) { fprintf(stderr, "news_init: %s\n", strerror(errno)); return 1; }
    int s = news_udp_socket();
    if (s < 0) { fprintf(stderr, "news_udp_socket: %s\n", strerror(errno)); return 1; }
    signal(SIGALRM, on_alarm);
    static char buf[70000];
    memset(buf, 0x4e, sizeof buf);
    for (int i = 2; i < argc; i++) {
        char a[32];
        unsigned port;
        size_t len;
        unsigned ms;
        if (strcmp(argv[i], "max") == 0) {
            result((ssize_t)news_udp_max_payload());
        } else if (sscanf(argv[i], "bind %u", &port) == 1) {
            result(news_bind(s, 0, (uint16_t)port));
        } else if (sscanf(argv[i], "connect %31s %u", a, &port) == 2) {
            result(news_connect(s, address(a), (uint16_t)port));
        } else if (sscanf(argv[i], "sendto %31s %u %zu", a, &port, &len) == 3 && len <= sizeof buf) {
            result(news_sendto(s, buf, len, address(a), (uint16_t)port));
        } else if (sscanf(argv[i], "send %zu", &len) == 1 && len <= sizeof buf) {
            result(news_sendto(s, buf, len, 0, 0));
        } else if (sscanf(argv[i], "raw_sendto %31s %u %zu", a, &port, &len) == 3 && len <= sizeof buf) {
            result(raw_send(address(a), (uint16_t)port, buf, len));
        } else if (sscanf(argv[i], "raw_send %zu", &len) == 1 && len <= sizeof buf) {
            result(raw_send(0, 0, buf, len));
        } else if (strcmp(argv[i], "error_word") == 0) {
            printf("ok %d\n", ((news_sock_header_t *)socket_region())->error);
            fflush(stdout);
        } else if (strcmp(argv[i], "recv") == 0 || strcmp(argv[i], "recv_nb") == 0) {
            int nb = argv[i][4] == '_';
            news_set_nonblocking(s, nb);
            if (!nb) alarm(5);
            ssize_t r = news_recvfrom(s, buf, sizeof buf, NULL, NULL);
            alarm(0);
            result(r);
            news_set_nonblocking(s, 0);
        } else if (sscanf(argv[i], "sleep %u", &ms) == 1) {
            struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
            nanosleep(&t, NULL);
            result(0);
        } else {
            fprintf(stderr, "unknown call %s\n", argv[i]);
            return 2;
        }
    }
    return 0;
}
