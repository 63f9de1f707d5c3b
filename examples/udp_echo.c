/* A UDP echo server in C on NEWS sockets: build with
 *   cc -O2 -Iinclude examples/udp_echo.c -L"$(swift build -c release --show-bin-path)" -lnews \
 *      -Wl,-rpath,"$(swift build -c release --show-bin-path)" -o udp_echo
 * Usage: udp_echo [APP_SOCKET [PORT]]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "news.h"

/* Per-datagram errors are logged (the first ten, then every thousandth) and survived. */
static void note_error(unsigned long *count, const char *call, int err) {
    ++*count;
    if (*count <= 10 || *count % 1000 == 0) fprintf(stderr, "%s: %s (%lu errors so far)\n", call, strerror(err), *count);
}

int main(int argc, char **argv) {
    const char *app = argc > 1 ? argv[1] : NULL;
    int port = argc > 2 ? atoi(argv[2]) : 7;
    if (news_init(app) < 0) { fprintf(stderr, "news_init: %s\n", strerror(errno)); return 1; }
    int s = news_udp_socket();
    if (s < 0 || news_bind(s, 0, (uint16_t)port) < 0) { fprintf(stderr, "socket/bind: %s\n", strerror(errno)); return 1; }
    printf("udp_echo: listening on UDP port %d\n", port);
    fflush(stdout);
    static char buf[9216];
    unsigned long errors = 0;
    for (;;) {
        uint32_t addr;
        uint16_t from;
        ssize_t n = news_recvfrom(s, buf, sizeof buf, &addr, &from);
        if (n < 0) {
            /* Only the socket failing (EBADF, EINVAL for corrupt rings) ends the server. */
            if (errno == EBADF || errno == EINVAL) { fprintf(stderr, "recvfrom: %s\n", strerror(errno)); return 1; }
            note_error(&errors, "recvfrom", errno);
            continue;
        }
        /* A reply that cannot go (to port 0: EINVAL, as on Linux) loses that datagram only. */
        if (news_sendto(s, buf, (size_t)n > sizeof buf ? sizeof buf : (size_t)n, addr, from) < 0) note_error(&errors, "sendto", errno);
    }
}
