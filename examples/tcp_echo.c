/* A TCP echo server on NEWS sockets, for any number of clients at once (up to 60): one
 * event loop over news_poll_events, non-blocking sockets.
 *
 *   tcp_echo APP_SOCKET PORT
 *
 * Prints "listening PORT". Each client's bytes come back to it, in order; a client that
 * shuts down its side gets the rest of its echo and then the end of the stream. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "news.h"

#define MAX 60
#define BUF 65536

struct client { int sock; char buf[BUF]; size_t len, off; int eof; };
static struct client clients[MAX];

static void drop(struct client *c) { news_close(c->sock); c->sock = -1; }

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: %s APP_SOCKET PORT\n", argv[0]); return 2; }
    if (news_init(argv[1]) < 0) { perror("news_init"); return 1; }
    int ls = news_tcp_socket();
    news_setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, 1);
    if (ls < 0 || news_bind(ls, 0, (uint16_t)atoi(argv[2])) < 0 || news_listen(ls, 64) < 0) { perror("listen"); return 1; }
    news_set_nonblocking(ls, 1);
    for (int i = 0; i < MAX; i++) clients[i].sock = -1;
    printf("listening %s\n", argv[2]);
    fflush(stdout);
    news_pollfd_t fds[MAX + 1];
    struct client *of[MAX + 1];
    for (;;) {
        int n = 0;
        fds[n] = (news_pollfd_t){ .sock = ls, .events = NEWS_POLLIN };
        of[n++] = NULL;
        for (int i = 0; i < MAX; i++) {
            struct client *c = &clients[i];
            if (c->sock < 0) continue;
            fds[n] = (news_pollfd_t){ .sock = c->sock, .events = c->off < c->len ? NEWS_POLLOUT : NEWS_POLLIN };
            of[n++] = c;
        }
        if (news_poll_events(fds, n, 1000) < 0) { if (errno == EINTR) continue; perror("poll"); return 1; }
        for (int i = 0; i < n; i++) {
            if (!fds[i].revents) continue;
            struct client *c = of[i];
            if (!c) {
                int s;
                while ((s = news_accept(ls, NULL, NULL)) >= 0) {
                    struct client *f = NULL;
                    for (int k = 0; k < MAX; k++) if (clients[k].sock < 0) { f = &clients[k]; break; }
                    if (!f) { news_close(s); continue; }
                    news_set_nonblocking(s, 1);
                    *f = (struct client){ .sock = s };
                }
                continue;
            }
            if (c->off == c->len) {
                ssize_t r = news_recv(c->sock, c->buf, BUF, MSG_DONTWAIT);
                if (r == 0) { news_shutdown(c->sock, SHUT_WR); c->eof = 1; drop(c); continue; }
                if (r < 0) { if (errno != EAGAIN) drop(c); continue; }
                c->len = (size_t)r;
                c->off = 0;
            }
            while (c->off < c->len) {
                ssize_t w = news_send(c->sock, c->buf + c->off, c->len - c->off, MSG_DONTWAIT);
                if (w < 0) { if (errno != EAGAIN) drop(c); break; }
                c->off += (size_t)w;
            }
        }
    }
}
