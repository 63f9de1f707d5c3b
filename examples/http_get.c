/* Downloads a URL to a file over NEWS sockets (HTTP/1.1, one request, no DNS: the host is a
 * dotted IPv4 address).
 *
 *   http_get APP_SOCKET http://ADDRESS[:PORT]/PATH OUTFILE
 *
 * Prints "ok BYTES SECONDS" when the whole body (Content-Length, or up to the end of the
 * stream without one) is in OUTFILE; exits 1 with a message otherwise. */
#define _GNU_SOURCE  /* memmem */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "news.h"

static char buf[1 << 18];

static int fail(const char *what) { fprintf(stderr, "http_get: %s: %s\n", what, strerror(errno)); return 1; }

int main(int argc, char **argv) {
    if (argc != 4) { fprintf(stderr, "usage: %s APP_SOCKET http://ADDRESS[:PORT]/PATH OUTFILE\n", argv[0]); return 2; }
    const char *url = argv[2];
    if (strncmp(url, "http://", 7)) { fprintf(stderr, "http_get: only http:// URLs\n"); return 2; }
    char host[64];
    const char *p = url + 7, *slash = strchr(p, '/');
    size_t hl = slash ? (size_t)(slash - p) : strlen(p);
    if (hl == 0 || hl >= sizeof host) { fprintf(stderr, "http_get: bad host\n"); return 2; }
    memcpy(host, p, hl);
    host[hl] = '\0';
    const char *path = slash ? slash : "/";
    uint16_t port = 80;
    char *colon = strchr(host, ':');
    if (colon) { *colon = '\0'; port = (uint16_t)atoi(colon + 1); }
    struct in_addr a;
    if (inet_pton(AF_INET, host, &a) != 1) { fprintf(stderr, "http_get: %s is not an IPv4 address\n", host); return 2; }
    int out = open(argv[3], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0) return fail(argv[3]);

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (news_init(argv[1]) < 0) return fail("news_init");
    int s = news_tcp_socket();
    if (s < 0) return fail("news_tcp_socket");
    news_setsockopt(s, SOL_SOCKET, SO_RCVBUF, 4 << 20);
    if (news_connect(s, ntohl(a.s_addr), port) < 0) return fail("connect");
    int n = snprintf(buf, sizeof buf, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: news-http-get\r\nConnection: close\r\n\r\n", path, argv[2] + 7);
    if (news_send(s, buf, (size_t)n, 0) != n) return fail("send");

    /* The header. */
    size_t have = 0;
    char *end = NULL;
    while (!end) {
        if (have == sizeof buf) { fprintf(stderr, "http_get: header too long\n"); return 1; }
        ssize_t r = news_recv(s, buf + have, sizeof buf - have, 0);
        if (r < 0) return fail("recv");
        if (r == 0) { fprintf(stderr, "http_get: connection closed in the header\n"); return 1; }
        have += (size_t)r;
        end = memmem(buf, have, "\r\n\r\n", 4);
    }
    int status = 0;
    if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1 || status != 200) {
        fprintf(stderr, "http_get: status %d\n", status);
        return 1;
    }
    long long length = -1;
    for (char *line = strstr(buf, "\r\n"); line && line < end; line = strstr(line + 2, "\r\n")) {
        if (!strncasecmp(line + 2, "Content-Length:", 15)) length = atoll(line + 17);
    }
    size_t body = have - (size_t)(end + 4 - buf);
    long long got = (long long)body;
    if (body && write(out, end + 4, body) != (ssize_t)body) return fail("write");
    while (length < 0 || got < length) {
        ssize_t r = news_recv(s, buf, sizeof buf, 0);
        if (r < 0) return fail("recv");
        if (r == 0) break;
        if (write(out, buf, (size_t)r) != r) return fail("write");
        got += r;
    }
    if (length >= 0 && got != length) { fprintf(stderr, "http_get: %lld of %lld bytes\n", got, length); return 1; }
    news_close(s);
    if (close(out) < 0) return fail("close");
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("ok %lld %.3f\n", got, (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    return 0;
}
