/* Announce load generator for bench/announce.py: replays pre-built HTTP requests over N
 * concurrent connections for D seconds, either keeping connections alive or opening a new
 * connection per request (closed with RST after the reply so the generator does not run out
 * of ephemeral ports), and prints counts and latency percentiles as one JSON line.
 *
 * usage: loadgen HOST PORT REQUESTS_FILE CONNECTIONS SECONDS keepalive|close
 * REQUESTS_FILE: records of <u32 little-endian length><request bytes>.
 * Written in C so the generator takes a small share of the 2 cores it shares with the
 * server being measured. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXBUF 65536
#define HIST 1000000 /* microseconds, 1 s cap */

typedef struct {
    int fd;
    size_t req;       /* index of the request in flight */
    size_t sent;
    char buf[MAXBUF];
    size_t got;
    double started;
    int connecting;
    int reused;       /* the request went out on a kept-alive connection */
} conn_t;

static char **reqs; static size_t *lens; static size_t nreq;
static struct sockaddr_storage addr; static socklen_t addrlen;
static int keepalive; static int epfd;
static uint64_t hist[HIST + 1]; static uint64_t done_ok, done_fail, errors, next_req, reconnects;

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }

static void open_conn(conn_t *c) {
    c->fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1; setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (!keepalive) { struct linger l = {1, 0}; setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof l); }
    connect(c->fd, (struct sockaddr *)&addr, addrlen);
    c->connecting = 1;
    struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN, .data.ptr = c};
    epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev);
}

static void start_req(conn_t *c) {
    c->req = next_req++ % nreq; c->sent = 0; c->got = 0; c->started = now();
    c->reused = keepalive && c->fd >= 0;
    if (!keepalive || c->fd < 0) open_conn(c);
    else { struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN, .data.ptr = c}; epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev); }
}

static void close_conn(conn_t *c) { if (c->fd >= 0) { epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL); close(c->fd); } c->fd = -1; }

/* A kept-alive connection the server had closed before answering (as HTTP clients do,
 * e.g. against a server that closes after every reply): send the same request again on a
 * new connection, counted as a reconnect, not an error. */
static int retry_idle(conn_t *c) {
    if (!c->reused || c->got) return 0;
    close_conn(c); c->reused = 0; c->sent = 0; reconnects++;
    open_conn(c);
    return 1;
}

/* 1 when a whole response is in the buffer */
static int complete(conn_t *c, int eof) {
    c->buf[c->got] = 0;
    char *end = strstr(c->buf, "\r\n\r\n");
    if (!end) return 0;
    char *cl = strcasestr(c->buf, "content-length:");
    if (!cl || cl > end) return eof;
    long n = strtol(cl + 15, NULL, 10);
    return (size_t)(end + 4 - c->buf) + (size_t)n <= c->got;
}

static void finish(conn_t *c) {
    double us = (now() - c->started) * 1e6;
    hist[us > HIST ? HIST : (size_t)us]++;
    if (memmem(c->buf, c->got, "failure reason", 14)) done_fail++; else done_ok++;
    int server_closes = strcasestr(c->buf, "connection: close") != NULL || strncmp(c->buf, "HTTP/1.0", 8) == 0;
    char b;
    if (!keepalive || server_closes) close_conn(c);
    else if (recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) == 0) { close_conn(c); reconnects++; }  /* closed after replying */
}

int main(int argc, char **argv) {
    if (argc != 7) { fprintf(stderr, "usage: loadgen HOST PORT FILE CONNS SECONDS keepalive|close\n"); return 2; }
    memset(&addr, 0, sizeof addr);
    struct sockaddr_in *a4 = (struct sockaddr_in *)&addr; struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&addr;
    if (inet_pton(AF_INET, argv[1], &a4->sin_addr) == 1) { a4->sin_family = AF_INET; a4->sin_port = htons(atoi(argv[2])); addrlen = sizeof *a4; }
    else { inet_pton(AF_INET6, argv[1], &a6->sin6_addr); a6->sin6_family = AF_INET6; a6->sin6_port = htons(atoi(argv[2])); addrlen = sizeof *a6; }
    FILE *f = fopen(argv[3], "rb"); if (!f) { perror("requests"); return 2; }
    size_t cap = 1024; reqs = malloc(cap * sizeof *reqs); lens = malloc(cap * sizeof *lens);
    uint32_t n;
    while (fread(&n, 4, 1, f) == 1) {
        if (nreq == cap) { cap *= 2; reqs = realloc(reqs, cap * sizeof *reqs); lens = realloc(lens, cap * sizeof *lens); }
        reqs[nreq] = malloc(n); if (fread(reqs[nreq], 1, n, f) != n) break; lens[nreq++] = n;
    }
    fclose(f);
    int nconn = atoi(argv[4]); double seconds = atof(argv[5]); keepalive = strcmp(argv[6], "keepalive") == 0;
    epfd = epoll_create1(0);
    conn_t *conns = calloc(nconn, sizeof *conns);
    for (int i = 0; i < nconn; i++) { conns[i].fd = -1; start_req(&conns[i]); }
    double t0 = now(), deadline = t0 + seconds;
    struct epoll_event evs[256];
    while (now() < deadline) {
        int k = epoll_wait(epfd, evs, 256, 100);
        for (int i = 0; i < k; i++) {
            conn_t *c = evs[i].data.ptr;
            if (c->fd < 0) continue;
            if (evs[i].events & (EPOLLERR | EPOLLHUP) && !(evs[i].events & EPOLLIN)) { if (retry_idle(c)) continue; errors++; close_conn(c); start_req(c); continue; }
            if (evs[i].events & EPOLLOUT && c->sent < lens[c->req]) {
                ssize_t w = send(c->fd, reqs[c->req] + c->sent, lens[c->req] - c->sent, MSG_NOSIGNAL);
                if (w < 0) { if (errno != EAGAIN) { if (retry_idle(c)) continue; errors++; close_conn(c); start_req(c); } continue; }
                c->sent += w;
                if (c->sent == lens[c->req]) { struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c}; epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev); }
            }
            if (evs[i].events & EPOLLIN) {
                ssize_t r = recv(c->fd, c->buf + c->got, MAXBUF - 1 - c->got, 0);
                if (r < 0 && errno == EAGAIN) continue;
                if (r <= 0) {
                    if (retry_idle(c)) continue;
                    if (c->got && complete(c, 1)) finish(c); else errors++;
                    close_conn(c); start_req(c); continue;
                }
                c->got += r;
                if (complete(c, 0)) { finish(c); start_req(c); }
            }
        }
    }
    double elapsed = now() - t0;
    uint64_t total = done_ok + done_fail, acc = 0; double p50 = 0, p99 = 0, p999 = 0;
    for (size_t i = 0; i <= HIST; i++) {
        acc += hist[i];
        if (!p50 && acc >= total * 0.50) p50 = i;
        if (!p99 && acc >= total * 0.99) p99 = i;
        if (!p999 && acc >= total * 0.999) { p999 = i; break; }
    }
    printf("{\"requests\": %llu, \"ok\": %llu, \"failures\": %llu, \"errors\": %llu, \"reconnects\": %llu, \"seconds\": %.3f, \"rps\": %.1f, \"p50_ms\": %.3f, \"p99_ms\": %.3f, \"p999_ms\": %.3f}\n",
           (unsigned long long)total, (unsigned long long)done_ok, (unsigned long long)done_fail, (unsigned long long)errors,
           (unsigned long long)reconnects, elapsed, total / elapsed, p50 / 1000, p99 / 1000, p999 / 1000);
    return 0;
}
