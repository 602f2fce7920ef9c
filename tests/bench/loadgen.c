/* loadgen.c - a small HTTP/1.1 load client for serve: C connections, each
 * a keep-alive connection in its own thread, send N requests in all, taking
 * the requests of a file in turn (a mix of endpoints), and report
 * throughput, p50/p99/max latency and errors (non-2xx/4xx-as-expected
 * statuses, broken connections).
 *
 * usage: loadgen HOST PORT REQUESTS CONNECTIONS FILE
 * FILE: one request a line, "GET /path?query" or "POST /path BODY" and the
 * status it must answer: "200 GET /api/styles".
 * Exit 0 when no request failed, 1 otherwise. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct { char *wire; size_t len; int want; } req;

static req *reqs;
static int nreqs, port;
static const char *host;
static long total;
static atomic_long next_req, errors, reconnects;
static double *lat;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

static int dial(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, host, &a.sin_addr);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) { close(fd); return -1; }
    return fd;
}

/* Reads one response; its status, or -1 when the connection broke. */
static int read_response(int fd, char *buf, size_t cap) {
    size_t got = 0;
    char *end = NULL;
    while (!(end = memmem(buf, got, "\r\n\r\n", 4))) {
        ssize_t n = read(fd, buf + got, cap - got);
        if (n <= 0 || (got += (size_t)n) == cap) return -1;
    }
    int status = atoi(buf + 9);
    char *cl = strcasestr(buf, "\r\nContent-Length:");
    if (!cl || cl > end) return -1;
    size_t body = strtoul(cl + 17, NULL, 10), have = got - (size_t)(end + 4 - buf);
    while (have < body) {
        ssize_t n = read(fd, buf, cap < body - have ? cap : body - have);
        if (n <= 0) return -1;
        have += (size_t)n;
    }
    return status;
}

static void *worker(void *arg) {
    size_t cap = 1 << 20;
    char *buf = malloc(cap);
    int fd = dial();
    for (;;) {
        long i = atomic_fetch_add(&next_req, 1);
        if (i >= total) break;
        const req *r = &reqs[i % nreqs];
        double t0 = now();
        int status = -1;
        for (int attempt = 0; attempt < 2 && status < 0; attempt++) {
            if (fd < 0 || attempt) {            /* the server closed an idle connection */
                if (fd >= 0) close(fd);
                if ((fd = dial()) < 0) break;
                if (attempt) atomic_fetch_add(&reconnects, 1);
            }
            if (write(fd, r->wire, r->len) == (ssize_t)r->len) status = read_response(fd, buf, cap);
        }
        lat[i] = now() - t0;
        if (status != r->want) atomic_fetch_add(&errors, 1);
    }
    if (fd >= 0) close(fd);
    free(buf);
    return NULL;
}

static int load(const char *path) {
    FILE *f = fopen(path, "r");
    char *line = NULL, method[8], target[4096];
    size_t cap = 0;
    if (!f) { perror(path); return -1; }
    while (getline(&line, &cap, f) > 0) {
        int want, used = 0;
        line[strcspn(line, "\n")] = 0;
        if (sscanf(line, "%d %7s %4095s %n", &want, method, target, &used) < 3) continue;
        const char *body = line + used;
        reqs = realloc(reqs, sizeof *reqs * (size_t)(nreqs + 1));
        req *r = &reqs[nreqs++];
        r->want = want;
        int n = strcmp(method, "POST") == 0
            ? asprintf(&r->wire, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                       "Content-Length: %zu\r\n\r\n%s", target, host, strlen(body), body)
            : asprintf(&r->wire, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, host);
        r->len = (size_t)n;
    }
    free(line);
    fclose(f);
    return nreqs ? 0 : -1;
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc != 6) { fprintf(stderr, "usage: loadgen HOST PORT REQUESTS CONNECTIONS FILE\n"); return 2; }
    host = argv[1];
    port = atoi(argv[2]);
    total = atol(argv[3]);
    int conns = atoi(argv[4]);
    if (total < 1 || conns < 1 || conns > 1024 || load(argv[5])) { fprintf(stderr, "loadgen: bad arguments or request file\n"); return 2; }
    lat = calloc((size_t)total, sizeof *lat);
    pthread_t *t = malloc(sizeof *t * (size_t)conns);
    double t0 = now();
    for (int i = 0; i < conns; i++) pthread_create(&t[i], NULL, worker, NULL);
    for (int i = 0; i < conns; i++) pthread_join(t[i], NULL);
    double secs = now() - t0;
    qsort(lat, (size_t)total, sizeof *lat, by_value);
    printf("requests %ld  connections %d  kinds %d  time %.2f s  throughput %.0f req/s\n", total, conns, nreqs, secs,
           (double)total / secs);
    printf("latency p50 %.2f ms  p99 %.2f ms  max %.2f ms  errors %ld  reconnects %ld\n", lat[total / 2] * 1e3,
           lat[(long)(total * 0.99)] * 1e3, lat[total - 1] * 1e3, (long)errors, (long)reconnects);
    for (int i = 0; i < nreqs; i++) free(reqs[i].wire);
    free(reqs); free(lat); free(t);
    return errors ? 1 : 0;
}
