/* A NEWS TCP application driven line by line from stdin, for tests that need a socket in a
 * chosen state: connections that hold unread data, that have written data the peer has not
 * read, that shut down their side.
 *
 *   tcp_hold APP_SOCKET PORT
 *
 * Prints "listening PORT", then answers each command with one line:
 *   accept            -> "accepted I PEERPORT"  (blocks until a connection comes; I counts from 0)
 *   write I N         -> "wrote N2"             (N pattern bytes, non-blocking: N2 <= N were taken)
 *   read I            -> "read N"               (everything readable now, discarded)
 *   shut I            -> "shut"                 (shutdown SHUT_WR)
 *   close I           -> "closed"
 * A failing call answers "error CALL ERRNO-NAME-AND-TEXT". */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "news.h"

#define MAX 64

static int conns[MAX];
static int nconns;
static char buf[1 << 16];

static void answer_error(const char *call) {
    printf("error %s %d %s\n", call, errno, strerror(errno));
}

static int conn(int i) { return i >= 0 && i < nconns ? conns[i] : -1; }

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: %s APP_SOCKET PORT\n", argv[0]); return 2; }
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (news_init(argv[1]) < 0) { perror("news_init"); return 1; }
    int ls = news_tcp_socket();
    if (ls < 0) { perror("news_tcp_socket"); return 1; }
    news_setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, 1);
    if (news_bind(ls, 0, (uint16_t)atoi(argv[2])) < 0 || news_listen(ls, 16) < 0) { perror("listen"); return 1; }
    printf("listening %s\n", argv[2]);
    memset(buf, 'h', sizeof buf);
    char line[128];
    while (fgets(line, sizeof line, stdin)) {
        char cmd[16];
        int i = -1;
        long n = 0;
        int words = sscanf(line, "%15s %d %ld", cmd, &i, &n);
        if (words < 1) continue;
        if (!strcmp(cmd, "accept")) {
            if (nconns == MAX) { printf("error accept too many\n"); continue; }
            uint32_t addr;
            uint16_t port;
            int s = news_accept(ls, &addr, &port);
            if (s < 0) { answer_error("accept"); continue; }
            conns[nconns] = s;
            printf("accepted %d %u\n", nconns++, port);
        } else if (conn(i) < 0) {
            printf("error %s no connection %d\n", cmd, i);
        } else if (!strcmp(cmd, "write") && words == 3) {
            long sent = 0;
            while (sent < n) {
                size_t want = (size_t)(n - sent) < sizeof buf ? (size_t)(n - sent) : sizeof buf;
                ssize_t w = news_send(conn(i), buf, want, MSG_DONTWAIT);
                if (w < 0) break;
                sent += w;
            }
            if (sent < n && errno != EAGAIN) { answer_error("send"); continue; }
            printf("wrote %ld\n", sent);
        } else if (!strcmp(cmd, "read")) {
            long got = 0;
            ssize_t r;
            while ((r = news_recv(conn(i), buf, sizeof buf, MSG_DONTWAIT)) > 0) got += r;
            if (r < 0 && errno != EAGAIN) { answer_error("recv"); continue; }
            printf("read %ld\n", got);
        } else if (!strcmp(cmd, "shut")) {
            if (news_shutdown(conn(i), SHUT_WR) < 0) { answer_error("shutdown"); continue; }
            printf("shut\n");
        } else if (!strcmp(cmd, "close")) {
            if (news_close(conn(i)) < 0) { answer_error("close"); continue; }
            conns[i] = -1;
            printf("closed\n");
        } else {
            printf("error unknown command %s\n", cmd);
        }
    }
    return 0;
}
