/* A static-file HTTP/1.1 server on NEWS sockets: one thread, one event loop over
 * news_poll_events (the "event-driven server" of the NEWS talk), non-blocking sockets,
 * keep-alive and pipelining, GET and HEAD; PUT and POST with a Content-Length body, which
 * is read and discarded (an upload sink for benchmarks: scripts/bench-tcp.sh).
 *
 *   http_server APP_SOCKET PORT DOCROOT
 *
 * Prints "listening PORT" once it accepts connections. Files of up to CACHE_MAX bytes are
 * kept in memory (looked at again with one fstatat at most once a second, so a busy server
 * serves them without entering the kernel: NEWS sockets are shared memory, and so is the
 * cache); larger ones are served with pread into the socket, in 64 KiB pieces as the send
 * area takes them. A PUT or POST is answered once its whole body has come, with 200 and
 * "received N".
 * Answers: 200, 400 (malformed, or a bad Content-Length), 404, 405 (not GET/HEAD/PUT/POST),
 * 411 (PUT/POST without Content-Length), 414 (request line too long), 505 (not HTTP/1.x).
 * At most MAX_CONNS connections at once; more wait in the backlog.
 *
 * Compiled with -DNEWS_POSIX it includes news_posix.h instead of news.h and runs on Linux's
 * sockets (APP_SOCKET is then ignored): the same program, the Linux reference that
 * scripts/bench-tcp.sh measures NEWS against. */
#define _GNU_SOURCE  /* memmem */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifdef NEWS_POSIX
#include "news_posix.h"
#else
#include "news.h"
#endif

#define MAX_CONNS 60
#define IN_SIZE 8192
#define CHUNK 65536
#define CACHE_MAX 65536        /* largest file kept in memory */
#define CACHE_ENTRIES 64
#define CACHE_RECHECK_NS 1000000000LL

/* A cached file's bytes. A connection sending it holds a reference, so a file that changed
 * is reloaded into a new blob while the old one is still being sent. */
struct blob {
    int refs;
    size_t len;
    char data[];
};

struct cached {
    char rel[1024];            /* "" : free */
    struct blob *body;
    struct stat st;            /* what fstatat said when it was loaded */
    long long checked_ns;
};

static struct cached cache[CACHE_ENTRIES];

static void blob_release(struct blob *b) {
    if (b && --b->refs == 0) free(b);
}

struct conn {
    int sock;                  /* -1: free */
    char in[IN_SIZE];
    size_t inlen;
    char head[512];            /* the response header being sent */
    size_t headlen, headoff;
    int file;                  /* -1: no body to send from a file */
    off_t off, end;
    struct blob *body;         /* NULL: no body to send from the cache */
    size_t bodyoff;
    int close_after;
    int discarding;            /* a PUT/POST body is being read and dropped */
    unsigned long long body_left, body_total;
    unsigned long served;
};

static struct conn conns[MAX_CONNS];
static int docroot;            /* a directory descriptor: files are opened below it only */
static char chunk[CHUNK];
static unsigned long requests, errors_sent;

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);  /* the vDSO: no system call */
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int same_file(const struct stat *a, const struct stat *b) {
    return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* The cached bytes of docroot/rel with a new reference, loading or reloading them if they
 * are not cached or were last checked more than CACHE_RECHECK_NS ago and changed. NULL when
 * the file is not a regular file of at most CACHE_MAX bytes (or the cache is full): the
 * caller then serves it from the file, which says why it cannot be served, if it cannot. */
static struct blob *cache_get(const char *rel, struct stat *st_out) {
    size_t rlen = strlen(rel);
    if (rlen >= sizeof cache[0].rel) return NULL;
    struct cached *e = NULL, *free_entry = NULL;
    for (int i = 0; i < CACHE_ENTRIES; i++) {
        if (!cache[i].rel[0]) { if (!free_entry) free_entry = &cache[i]; continue; }
        if (!strcmp(cache[i].rel, rel)) { e = &cache[i]; break; }
    }
    long long now = now_ns();
    if (e && now - e->checked_ns < CACHE_RECHECK_NS) {
        *st_out = e->st;
        e->body->refs++;
        return e->body;
    }
    struct stat st;
    if (fstatat(docroot, rel, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode) || st.st_size > CACHE_MAX) {
        if (e) { blob_release(e->body); e->body = NULL; e->rel[0] = '\0'; }
        return NULL;
    }
    if (e && same_file(&st, &e->st)) {
        e->checked_ns = now;
        *st_out = e->st;
        e->body->refs++;
        return e->body;
    }
    if (!e) { if (!free_entry) return NULL; e = free_entry; }
    int fd = openat(docroot, rel, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return NULL;
    struct stat fst;
    struct blob *b = NULL;
    if (fstat(fd, &fst) == 0 && S_ISREG(fst.st_mode) && fst.st_size <= CACHE_MAX &&
        (b = malloc(sizeof *b + (size_t)fst.st_size + 1))) {
        b->refs = 1;
        b->len = 0;
        while (b->len < (size_t)fst.st_size) {
            ssize_t n = pread(fd, b->data + b->len, (size_t)fst.st_size - b->len, (off_t)b->len);
            if (n <= 0) break;
            b->len += (size_t)n;
        }
        if (b->len != (size_t)fst.st_size) { free(b); b = NULL; }
    }
    close(fd);
    if (e->rel[0]) blob_release(e->body);
    e->rel[0] = '\0';
    e->body = NULL;
    if (!b) return NULL;
    memcpy(e->rel, rel, rlen + 1);
    e->body = b;
    e->st = fst;
    e->checked_ns = now;
    *st_out = fst;
    b->refs++;
    return b;
}

static void conn_close(struct conn *c) {
    if (c->file >= 0) close(c->file);
    blob_release(c->body);
    c->body = NULL;
    news_close(c->sock);
    c->sock = -1;
    c->file = -1;
}

static const char *content_type(const char *path) {
    const char *dot = strrchr(path, '.');
    if (!dot) return "application/octet-stream";
    if (!strcmp(dot, ".html") || !strcmp(dot, ".htm")) return "text/html";
    if (!strcmp(dot, ".txt")) return "text/plain";
    if (!strcmp(dot, ".css")) return "text/css";
    if (!strcmp(dot, ".js")) return "application/javascript";
    if (!strcmp(dot, ".json")) return "application/json";
    if (!strcmp(dot, ".png")) return "image/png";
    return "application/octet-stream";
}

static void respond_error(struct conn *c, int code, const char *reason) {
    char body[128];
    int n = snprintf(body, sizeof body, "%d %s\n", code, reason);
    c->headlen = (size_t)snprintf(c->head, sizeof c->head,
                                  "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n%s\r\n%s",
                                  code, reason, n, c->close_after ? "Connection: close\r\n" : "", body);
    c->headoff = 0;
    c->file = -1;
    errors_sent++;
}

/* Parses one request from c->in if a whole header is there; returns 1 if a response is now
 * queued, 0 if more input is needed, -1 if the connection must close without a response. */
static int parse_request(struct conn *c) {
    char *end = memmem(c->in, c->inlen, "\r\n\r\n", 4);
    if (!end) {
        if (c->inlen == IN_SIZE) { c->close_after = 1; respond_error(c, 414, "URI Too Long"); c->inlen = 0; return 1; }
        return 0;
    }
    size_t used = (size_t)(end - c->in) + 4;
    *end = '\0';
    char method[16], target[1024], version[16];
    int ok = sscanf(c->in, "%15s %1023s %15s", method, target, version) == 3;
    int http10 = ok && !strcmp(version, "HTTP/1.0");
    c->close_after = http10;
    /* Headers that matter here: Connection, Content-Length (of a PUT or POST). */
    int has_length = 0, bad_length = 0;
    unsigned long long length = 0;
    for (char *line = strstr(c->in, "\r\n"); line; line = strstr(line + 2, "\r\n")) {
        char *h = line + 2;
        if (!strncasecmp(h, "Connection:", 11)) {
            char *v = h + 11;
            while (*v == ' ') v++;
            if (!strncasecmp(v, "close", 5)) c->close_after = 1;
            else if (!strncasecmp(v, "keep-alive", 10)) c->close_after = 0;
        } else if (!strncasecmp(h, "Content-Length:", 15)) {
            char *v = h + 15, *e;
            while (*v == ' ') v++;
            errno = 0;
            unsigned long long n = strtoull(v, &e, 10);
            while (*e == ' ') e++;
            /* Digits only, one value: a body we cannot delimit cannot be skipped. */
            if (*v < '0' || *v > '9' || errno || (*e && *e != '\r') || (has_length && n != length)) bad_length = 1;
            has_length = 1;
            length = n;
        }
    }
    memmove(c->in, c->in + used, c->inlen - used);
    c->inlen -= used;
    if (!ok) { c->close_after = 1; respond_error(c, 400, "Bad Request"); return 1; }
    if (strncmp(version, "HTTP/1.", 7)) { c->close_after = 1; respond_error(c, 505, "HTTP Version Not Supported"); return 1; }
    if (!strcmp(method, "PUT") || !strcmp(method, "POST")) {
        /* Where the body ends is known only from Content-Length: without it (or with a bad
         * one) the rest of the stream cannot be read as requests, so the connection closes. */
        if (bad_length) { c->close_after = 1; respond_error(c, 400, "Bad Request"); return 1; }
        if (!has_length) { c->close_after = 1; respond_error(c, 411, "Length Required"); return 1; }
        c->discarding = 1;
        c->body_left = c->body_total = length;
        c->headlen = c->headoff = 0;
        c->file = -1;
        return 1;
    }
    int head = !strcmp(method, "HEAD");
    if (!head && strcmp(method, "GET")) { respond_error(c, 405, "Method Not Allowed"); return 1; }
    char *q = strchr(target, '?');
    if (q) *q = '\0';
    if (target[0] != '/' || strstr(target, "..")) { respond_error(c, 400, "Bad Request"); return 1; }
    const char *rel = target[1] ? target + 1 : "index.html";
    struct stat st;
    struct blob *cached = cache_get(rel, &st);
    if (cached) {
        c->headlen = (size_t)snprintf(c->head, sizeof c->head,
                                      "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %lld\r\n%s\r\n",
                                      content_type(rel), (long long)cached->len,
                                      c->close_after ? "Connection: close\r\n" : "Connection: keep-alive\r\n");
        c->headoff = 0;
        c->file = -1;
        if (head || cached->len == 0) blob_release(cached);
        else { c->body = cached; c->bodyoff = 0; }
        return 1;
    }
    int fd = openat(docroot, rel, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0) close(fd);
        respond_error(c, 404, "Not Found");
        return 1;
    }
    c->headlen = (size_t)snprintf(c->head, sizeof c->head,
                                  "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %lld\r\n%s\r\n",
                                  content_type(rel), (long long)st.st_size,
                                  c->close_after ? "Connection: close\r\n" : "Connection: keep-alive\r\n");
    c->headoff = 0;
    if (head || st.st_size == 0) { close(fd); c->file = -1; }
    else { c->file = fd; c->off = 0; c->end = st.st_size; }
    return 1;
}

static int sending(const struct conn *c) { return c->headoff < c->headlen || c->file >= 0 || c->body; }

/* The whole body of a PUT/POST has been read: answer it. */
static void respond_received(struct conn *c) {
    char body[64];
    int n = snprintf(body, sizeof body, "received %llu\n", c->body_total);
    c->headlen = (size_t)snprintf(c->head, sizeof c->head,
                                  "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n%s\r\n%s",
                                  n, c->close_after ? "Connection: close\r\n" : "Connection: keep-alive\r\n", body);
    c->headoff = 0;
    c->file = -1;
    c->body = NULL;
}

/* Sends what the socket takes now; returns -1 when the connection is done with. */
static int send_some(struct conn *c) {
    while (c->headoff < c->headlen) {
        ssize_t n = news_send(c->sock, c->head + c->headoff, c->headlen - c->headoff, MSG_DONTWAIT);
        if (n < 0) return errno == EAGAIN ? 0 : -1;
        c->headoff += (size_t)n;
    }
    while (c->body) {
        ssize_t n = news_send(c->sock, c->body->data + c->bodyoff, c->body->len - c->bodyoff, MSG_DONTWAIT);
        if (n < 0) return errno == EAGAIN ? 0 : -1;
        c->bodyoff += (size_t)n;
        if (c->bodyoff < c->body->len) return 0;
        blob_release(c->body);
        c->body = NULL;
    }
    while (c->file >= 0) {
        size_t want = (size_t)(c->end - c->off) < CHUNK ? (size_t)(c->end - c->off) : CHUNK;
        /* A short send leaves the rest to be read again from the file when there is room. */
        ssize_t got = pread(c->file, chunk, want, c->off);
        if (got <= 0) return -1;
        ssize_t n = news_send(c->sock, chunk, (size_t)got, MSG_DONTWAIT);
        if (n < 0) return errno == EAGAIN ? 0 : -1;
        c->off += n;
        if (c->off == c->end) { close(c->file); c->file = -1; }
        if (n < got) return 0;
    }
    /* The response is out. */
    requests++;
    c->served++;
    if (c->close_after) return -1;
    c->headlen = c->headoff = 0;
    return 0;
}

static void serve(struct conn *c, short revents) {
    if (revents & NEWS_POLLIN && !sending(c)) {
        for (;;) {
            ssize_t n;
            if (c->discarding && c->inlen == 0) {
                /* A body being discarded is read straight into the scratch buffer, in big
                 * pieces; what follows it goes to c->in as the next request. */
                size_t want = c->body_left < CHUNK ? (size_t)c->body_left : CHUNK;
                n = news_recv(c->sock, chunk, want, MSG_DONTWAIT);
                if (n > 0) {
                    c->body_left -= (unsigned long long)n;
                    if (!c->body_left) break;
                    continue;
                }
            } else {
                n = news_recv(c->sock, c->in + c->inlen, IN_SIZE - c->inlen, MSG_DONTWAIT);
                if (n > 0) {
                    c->inlen += (size_t)n;
                    if (c->inlen == IN_SIZE) break;
                    continue;
                }
            }
            if (n == 0) { if (!sending(c)) { conn_close(c); return; } break; }
            if (errno == EAGAIN) break;
            conn_close(c);
            return;
        }
    }
    /* Pipelined requests are answered one after another. */
    while (c->sock >= 0) {
        if (c->discarding) {
            /* The part of the body that came with the header, or after it. */
            size_t take = c->inlen < c->body_left ? c->inlen : (size_t)c->body_left;
            memmove(c->in, c->in + take, c->inlen - take);
            c->inlen -= take;
            c->body_left -= take;
            if (c->body_left) return;  /* the rest comes with later input */
            c->discarding = 0;
            respond_received(c);
        } else if (!sending(c)) {
            int r = parse_request(c);
            if (r == 0) return;
            if (r < 0) { conn_close(c); return; }
            if (c->discarding) continue;
        }
        if (send_some(c) < 0) { conn_close(c); return; }
        if (sending(c)) return;  /* wait for room */
    }
}

int main(int argc, char **argv) {
    if (argc != 4) { fprintf(stderr, "usage: %s APP_SOCKET PORT DOCROOT\n", argv[0]); return 2; }
    signal(SIGPIPE, SIG_IGN);
    docroot = open(argv[3], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (docroot < 0) { perror(argv[3]); return 1; }
    if (news_init(argv[1]) < 0) { perror("news_init"); return 1; }
    int ls = news_tcp_socket();
    if (ls < 0) { perror("news_tcp_socket"); return 1; }
    news_setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, 1);
    if (news_bind(ls, 0, (uint16_t)atoi(argv[2])) < 0) { perror("news_bind"); return 1; }
    if (news_listen(ls, 128) < 0) { perror("news_listen"); return 1; }
    news_set_nonblocking(ls, 1);
    for (int i = 0; i < MAX_CONNS; i++) { conns[i].sock = -1; conns[i].file = -1; conns[i].body = NULL; }
    printf("listening %s\n", argv[2]);
    fflush(stdout);
    news_pollfd_t fds[MAX_CONNS + 1];
    struct conn *of[MAX_CONNS + 1];
    for (;;) {
        int n = 0, live = 0;
        for (int i = 0; i < MAX_CONNS; i++) if (conns[i].sock >= 0) live++;
        if (live < MAX_CONNS) { fds[n].sock = ls; fds[n].events = NEWS_POLLIN; fds[n].revents = 0; of[n++] = NULL; }
        for (int i = 0; i < MAX_CONNS; i++) {
            struct conn *c = &conns[i];
            if (c->sock < 0) continue;
            fds[n].sock = c->sock;
            fds[n].events = sending(c) ? NEWS_POLLOUT : NEWS_POLLIN;
            fds[n].revents = 0;
            of[n++] = c;
        }
        int r = news_poll_events(fds, n, 1000);
        if (r < 0) { if (errno == EINTR) continue; perror("news_poll_events"); return 1; }
        for (int i = 0; i < n; i++) {
            if (!fds[i].revents) continue;
            if (!of[i]) {
                for (;;) {
                    struct conn *c = NULL;
                    for (int k = 0; k < MAX_CONNS; k++) if (conns[k].sock < 0) { c = &conns[k]; break; }
                    if (!c) break;
                    int s = news_accept(ls, NULL, NULL);
                    if (s < 0) break;
                    news_set_nonblocking(s, 1);
                    news_setsockopt(s, IPPROTO_TCP, TCP_NODELAY, 1);
                    c->sock = s; c->inlen = 0; c->headlen = c->headoff = 0; c->file = -1; c->body = NULL; c->close_after = 0; c->served = 0;
                    c->discarding = 0; c->body_left = c->body_total = 0;
                }
            } else if (of[i]->sock >= 0) {
                serve(of[i], fds[i].revents);
            }
        }
    }
}
