/* ws.h - the websocket client (RFC 6455) of tests/tools/browser.c on POSIX
 * sockets: opening handshake, masked text frames out, whole messages in
 * (fragments joined, control frames skipped, lengths up to 64 bits checked).
 * Header-only so that tests/unit/ws_frames.c can feed it crafted frames. */
#ifndef SONGPIPE_WS_H
#define SONGPIPE_WS_H
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef IO_SECS
#define IO_SECS 30               /* one DevTools reply may take this long */
#endif
#ifndef MAX_MSG
#define MAX_MSG (256u << 20)     /* a screenshot is a few MB; refuse more */
#endif

static char err[1024];           /* the reason of the last broken step */

static int seterr(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, sizeof err, fmt, ap);
    va_end(ap);
    return -1;
}

/* ---- websocket (RFC 6455) --------------------------------------------- */

/* waits until fd is readable (or writable) or IO_SECS pass */
static int wait_fd(int fd, short ev) {
    struct pollfd p = {fd, ev, 0};
    int r;
    while ((r = poll(&p, 1, IO_SECS * 1000)) < 0 && errno == EINTR) {}
    if (r == 0) return seterr("no answer from the browser in %d s", IO_SECS);
    return r < 0 ? seterr("poll: %s", strerror(errno)) : 0;
}

static int send_all(int fd, const unsigned char *p, size_t n) {
    while (n) {
        if (wait_fd(fd, POLLOUT) < 0) return -1;
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return seterr("websocket send: %s", strerror(errno));
        p += w, n -= (size_t)w;
    }
    return 0;
}

static int recv_exact(int fd, unsigned char *p, size_t n) {
    while (n) {
        if (wait_fd(fd, POLLIN) < 0) return -1;
        ssize_t r = recv(fd, p, n, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return seterr("websocket recv: %s", strerror(errno));
        if (r == 0) return seterr("websocket closed by the browser");
        p += r, n -= (size_t)r;
    }
    return 0;
}

static int tcp_connect(const char *host, const char *port) {
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai, *a;
    int rc = getaddrinfo(host, port, &hints, &ai), fd = -1;
    if (rc) return seterr("%s:%s: %s", host, port, gai_strerror(rc));
    for (a = ai; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
        if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen) < 0) close(fd), fd = -1;
    }
    freeaddrinfo(ai);
    return fd < 0 ? seterr("connect %s:%s: %s", host, port, strerror(errno)) : fd;
}

static void base64(const unsigned char *in, size_t n, char *out) {
    static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = in[i] << 16 | (i + 1 < n ? in[i + 1] << 8 : 0) | (i + 2 < n ? in[i + 2] : 0);
        *out++ = A[v >> 18 & 63], *out++ = A[v >> 12 & 63];
        *out++ = i + 1 < n ? A[v >> 6 & 63] : '=', *out++ = i + 2 < n ? A[v & 63] : '=';
    }
    *out = 0;
}

/* ws://HOST:PORT/PATH -> an open, upgraded socket */
static int ws_open(const char *url) {
    char host[256], port[16], req[1024], key[32], head[4096];
    unsigned char nonce[16];
    int hl = 0;
    if (sscanf(url, "ws://%255[^:/]:%15[0-9]%n", host, port, &hl) != 2 || url[hl] != '/')
        return seterr("not a ws://host:port/path URL: %s", url);
    if (getrandom(nonce, sizeof nonce, 0) != sizeof nonce) return seterr("getrandom: %s", strerror(errno));
    base64(nonce, sizeof nonce, key);
    int fd = tcp_connect(host, port);
    if (fd < 0) return -1;
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s:%s\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n",
                     url + hl, host, port, key);
    if (n >= (int)sizeof req) { close(fd); return seterr("websocket URL too long"); }
    if (send_all(fd, (unsigned char *)req, (size_t)n) < 0) goto fail;
    /* byte by byte so that no frame after the headers is swallowed */
    for (n = 0; n < 4 || memcmp(head + n - 4, "\r\n\r\n", 4); n++) {
        if (n == (int)sizeof head - 1) { seterr("websocket handshake: headers too long"); goto fail; }
        if (recv_exact(fd, (unsigned char *)head + n, 1) < 0) goto fail;
    }
    head[n] = 0;
    if (strncmp(head, "HTTP/1.1 101 ", 13)) {
        seterr("websocket handshake refused: %.*s", (int)strcspn(head, "\r\n"), head);
        goto fail;
    }
    return fd;
fail:
    close(fd);
    return -1;
}

/* one masked text frame (clients must mask, RFC 6455 5.3) */
static int ws_send(int fd, const char *text) {
    size_t n = strlen(text), h = 0;
    unsigned char *f = malloc(n + 14);
    if (!f) return seterr("out of memory");
    f[h++] = 0x81;                               /* FIN, text */
    if (n < 126) f[h++] = (unsigned char)(0x80 | n);
    else if (n < 65536) f[h++] = 0x80 | 126, f[h++] = (unsigned char)(n >> 8), f[h++] = (unsigned char)n;
    else {
        f[h++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--) f[h++] = (unsigned char)((uint64_t)n >> (8 * i));
    }
    unsigned char *mask = f + h;
    if (getrandom(mask, 4, 0) != 4) { free(f); return seterr("getrandom: %s", strerror(errno)); }
    h += 4;
    for (size_t i = 0; i < n; i++) f[h + i] = (unsigned char)text[i] ^ mask[i % 4];
    int rc = send_all(fd, f, h + n);
    free(f);
    return rc;
}

/* the next whole message (fragments joined), NUL-terminated; NULL on error */
static char *ws_recv(int fd) {
    char *msg = NULL;
    size_t len = 0;
    for (;;) {
        unsigned char h[8];
        if (recv_exact(fd, h, 2) < 0) goto fail;
        int fin = h[0] & 0x80, op = h[0] & 0x0F;
        uint64_t n = h[1] & 0x7F;
        if (h[1] & 0x80) { seterr("the browser sent a masked frame"); goto fail; }
        int ext = n == 126 ? 2 : n == 127 ? 8 : 0;
        if (ext) {
            if (recv_exact(fd, h, (size_t)ext) < 0) goto fail;
            n = 0;
            for (int i = 0; i < ext; i++) n = n << 8 | h[i];
        }
        if (n > MAX_MSG - len) { seterr("a message of more than %u bytes", MAX_MSG); goto fail; }
        char *p = realloc(msg, len + n + 1);
        if (!p) { seterr("out of memory"); goto fail; }
        msg = p;
        if (recv_exact(fd, (unsigned char *)msg + len, n) < 0) goto fail;
        if (op == 8) { seterr("websocket closed by the browser"); goto fail; }
        if (op == 9 || op == 10) continue;       /* ping/pong: DevTools sends none; not data */
        if (op > 2) { seterr("websocket opcode %d", op); goto fail; }
        len += n;
        if (fin) { msg[len] = 0; return msg; }
    }
fail:
    free(msg);
    return NULL;
}
#endif
