/* A NEWS application for test_tcp_crafted.py: runs TCP socket calls given as arguments, one
 * per argument, and prints one line per call, "ok N [DETAIL]" or "err ENAME", so the test
 * can hold NEWS's side of a connection in the state it needs (NEWS as the active opener, a
 * connection that is never read, one closed first by NEWS) while scapy plays the peer.
 *   tcp_calls APP_SOCKET CALL...   with CALL one of
 *   "rcvbuf N", "sndbuf N", "linger S" (0: abort on close), "nodelay" - options on the
 *       connection socket (made by the first call that needs it);
 *   "connect A.B.C.D PORT" (blocking; ok PORT: the local port NEWS chose);
 *   "listen PORT" (a second socket, SO_REUSEADDR, backlog 16);
 *   "accept" (blocking; the accepted socket becomes the connection socket; ok PEERPORT);
 *   "send N" (blocking, N bytes 'a'..'z' repeating); "recv N" (blocking, at most N bytes:
 *       ok COUNT HEX, HEX being the bytes received, 0 at end of stream);
 *   "shutdown wr|rd|rdwr"; "close"; "close_listener";
 *   "state" (ok ORDINAL NAME, from news_tcp_info); "error" (news_socket_error);
 *   "sleep MS"; "wait" (reads one line from stdin: the test says when to go on).
 * A blocking call that has not returned after 10 s prints "err TIMEOUT" and exits 3. */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "news.h"

/* RFC 9293's order, as news_tcp_info reports the state (TCPState's ordinal). */
static const char *const STATES[] = {"CLOSED", "LISTEN", "SYN-SENT", "SYN-RECEIVED", "ESTABLISHED", "FIN-WAIT-1",
                                     "FIN-WAIT-2", "CLOSE-WAIT", "CLOSING", "LAST-ACK", "TIME-WAIT"};

static const char *errno_name(int e) {
    switch (e) {
    case ECONNRESET: return "ECONNRESET";
    case ECONNREFUSED: return "ECONNREFUSED";
    case ETIMEDOUT: return "ETIMEDOUT";
    case EPIPE: return "EPIPE";
    case EAGAIN: return "EAGAIN";
    case EINVAL: return "EINVAL";
    case ENOTCONN: return "ENOTCONN";
    case EISCONN: return "EISCONN";
    case EALREADY: return "EALREADY";
    case EINPROGRESS: return "EINPROGRESS";
    case EBADF: return "EBADF";
    case EADDRINUSE: return "EADDRINUSE";
    case ENOPROTOOPT: return "ENOPROTOOPT";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case ECONNABORTED: return "ECONNABORTED";
    case EHOSTUNREACH: return "EHOSTUNREACH";
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
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

static void result(long r) {
    if (r < 0) printf("err %s\n", errno_name(errno));
    else printf("ok %ld\n", r);
    fflush(stdout);
}

static int conn = -1, listener = -1;

/* The connection socket, made on first use (options must precede connect). */
static int connection(void) {
    if (conn < 0 && (conn = news_tcp_socket()) < 0) { fprintf(stderr, "news_tcp_socket: %s\n", strerror(errno)); exit(1); }
    return conn;
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: tcp_calls APP_SOCKET CALL...\n"); return 2; }
    if (news_init(argv[1]) < 0) { fprintf(stderr, "news_init: %s\n", strerror(errno)); return 1; }
    signal(SIGALRM, on_alarm);
    static unsigned char buf[1 << 20];
    for (size_t i = 0; i < sizeof buf; i++) buf[i] = (unsigned char)('a' + i % 26);
    static unsigned char in[1 << 20];
    for (int i = 2; i < argc; i++) {
        char a[32], how[8];
        unsigned port, ms;
        size_t len;
        int v;
        alarm(10);
        if (sscanf(argv[i], "rcvbuf %d", &v) == 1) {
            result(news_setsockopt(connection(), SOL_SOCKET, SO_RCVBUF, v));
        } else if (sscanf(argv[i], "sndbuf %d", &v) == 1) {
            result(news_setsockopt(connection(), SOL_SOCKET, SO_SNDBUF, v));
        } else if (sscanf(argv[i], "linger %d", &v) == 1) {
            result(news_setsockopt(connection(), SOL_SOCKET, SO_LINGER, v));
        } else if (strcmp(argv[i], "nodelay") == 0) {
            result(news_setsockopt(connection(), IPPROTO_TCP, TCP_NODELAY, 1));
        } else if (sscanf(argv[i], "connect %31s %u", a, &port) == 2) {
            int s = connection();
            if (news_connect(s, address(a), (uint16_t)port) < 0) {
                result(-1);
            } else {
                uint16_t local = 0;
                news_getsockname(s, NULL, &local);
                result(local);
            }
        } else if (sscanf(argv[i], "listen %u", &port) == 1) {
            listener = news_tcp_socket();
            news_setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, 1);
            if (listener < 0 || news_bind(listener, 0, (uint16_t)port) < 0 || news_listen(listener, 16) < 0) result(-1);
            else result(0);
        } else if (strcmp(argv[i], "accept") == 0) {
            uint16_t peer = 0;
            int s = news_accept(listener, NULL, &peer);
            if (s >= 0) conn = s;
            result(s < 0 ? -1 : peer);
        } else if (sscanf(argv[i], "send %zu", &len) == 1 && len <= sizeof buf) {
            result(news_send(connection(), buf, len, 0));
        } else if (sscanf(argv[i], "recv %zu", &len) == 1 && len <= sizeof in) {
            ssize_t r = news_recv(connection(), in, len, 0);
            if (r < 0) {
                result(-1);
            } else {
                printf("ok %zd ", r);
                for (ssize_t k = 0; k < r; k++) printf("%02x", in[k]);
                printf("\n");
                fflush(stdout);
            }
        } else if (sscanf(argv[i], "shutdown %7s", how) == 1) {
            int h = strcmp(how, "wr") == 0 ? SHUT_WR : strcmp(how, "rd") == 0 ? SHUT_RD : SHUT_RDWR;
            result(news_shutdown(connection(), h));
        } else if (strcmp(argv[i], "close") == 0) {
            result(news_close(conn));
            conn = -1;
        } else if (strcmp(argv[i], "close_listener") == 0) {
            result(news_close(listener));
            listener = -1;
        } else if (strcmp(argv[i], "state") == 0) {
            news_tcp_info_t info;
            if (news_tcp_info(connection(), &info) < 0) {
                result(-1);
            } else {
                printf("ok %u %s\n", info.state, info.state < sizeof STATES / sizeof *STATES ? STATES[info.state] : "?");
                fflush(stdout);
            }
        } else if (strcmp(argv[i], "error") == 0) {
            result(news_socket_error(connection()));
        } else if (sscanf(argv[i], "sleep %u", &ms) == 1) {
            alarm(0);
            struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
            nanosleep(&t, NULL);
            result(0);
        } else if (strcmp(argv[i], "wait") == 0) {
            alarm(0);
            char line[64];
            if (fgets(line, sizeof line, stdin)) result(0);
            else { printf("err EOF\n"); fflush(stdout); }
        } else {
            fprintf(stderr, "unknown call %s\n", argv[i]);
            return 2;
        }
        alarm(0);
    }
    return 0;
}
