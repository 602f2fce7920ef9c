/* ws_frames.c - the browser driver's websocket client (tests/tools/ws.h) against
 * crafted RFC 6455 frames: fragments, control frames between them, 16- and
 * 64-bit lengths, masks, oversized and cut messages, the handshake. */
#define IO_SECS 1                /* a silent peer must fail fast here */
#define MAX_MSG (1u << 20)
#include "check.h"
#include "../tools/ws.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/wait.h>

/* a server frame (never masked): FIN bit, opcode, payload */
static size_t frame(unsigned char *f, int fin, int op, const void *p, uint64_t n) {
    size_t h = 0;
    f[h++] = (unsigned char)((fin ? 0x80 : 0) | op);
    if (n < 126) f[h++] = (unsigned char)n;
    else if (n < 65536) f[h++] = 126, f[h++] = (unsigned char)(n >> 8), f[h++] = (unsigned char)n;
    else {
        f[h++] = 127;
        for (int i = 7; i >= 0; i--) f[h++] = (unsigned char)(n >> (8 * i));
    }
    if (p) memcpy(f + h, p, (size_t)n);
    return h + (p ? (size_t)n : 0);
}

/* writes buf into one end of a socket pair from a child (so that large frames
 * cannot block us), closes it, and returns the other end */
static int feed(const unsigned char *buf, size_t n) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) return -1;
    pid_t pid = fork();
    if (pid == 0) {
        close(sv[0]);
        int ok = send_all(sv[1], buf, n) == 0;
        _exit(ok ? 0 : 1);
    }
    close(sv[1]);
    return sv[0];
}

static char *recv_fed(const unsigned char *buf, size_t n) {
    int fd = feed(buf, n);
    char *m = fd < 0 ? NULL : ws_recv(fd);
    close(fd);
    while (wait(NULL) > 0) {}
    return m;
}

static void check_recv(void) {
    static unsigned char b[3 << 20];
    char *m;
    size_t n = frame(b, 1, 1, "hello", 5);
    CHECK((m = recv_fed(b, n)) && !strcmp(m, "hello"), "one text frame");
    free(m);
    n = frame(b, 0, 1, "hel", 3);
    n += frame(b + n, 1, 9, "p", 1);                     /* a ping between fragments */
    n += frame(b + n, 0, 0, "l", 1);
    n += frame(b + n, 1, 0, "o", 1);
    CHECK((m = recv_fed(b, n)) && !strcmp(m, "hello"), "fragments joined, a ping between them skipped");
    free(m);
    static char big[70000];
    for (size_t i = 0; i < sizeof big; i++) big[i] = (char)('a' + i % 26);
    n = frame(b, 1, 1, big, 300);
    CHECK((m = recv_fed(b, n)) && strlen(m) == 300 && !memcmp(m, big, 300), "16-bit length (300 bytes)");
    free(m);
    n = frame(b, 1, 1, big, sizeof big);
    CHECK(b[1] == 127 && (m = recv_fed(b, n)) && strlen(m) == sizeof big && !memcmp(m, big, sizeof big),
          "64-bit length (70000 bytes)");
    free(m);
    n = frame(b, 1, 8, "\x03\xe8", 2);
    CHECK(!recv_fed(b, n) && strstr(err, "closed by the browser"), "a close frame is an error: %s", err);
    n = frame(b, 1, 1, "hello", 5);
    b[1] |= 0x80;
    CHECK(!recv_fed(b, n) && strstr(err, "masked"), "a masked server frame is refused: %s", err);
    n = frame(b, 1, 1, NULL, UINT64_C(1) << 63);
    CHECK(!recv_fed(b, n) && strstr(err, "more than"), "a 2^63-byte length is refused, not allocated: %s", err);
    n = frame(b, 0, 1, big, 60000);
    for (int i = 0; i < 17; i++) n += frame(b + n, 0, 0, big, 60000);
    CHECK(!recv_fed(b, n) && strstr(err, "more than"), "fragments adding up past the cap are refused: %s", err);
    n = frame(b, 1, 1, "hello", 5);
    CHECK(!recv_fed(b, n - 2) && strstr(err, "closed"), "a frame cut short is an error: %s", err);
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    CHECK(!ws_recv(sv[0]) && strstr(err, "no answer"), "a silent peer times out: %s", err);
    close(sv[0]), close(sv[1]);
}

/* sends text from a child and returns the frame as read on the other end */
static size_t sent_frame(const char *text, unsigned char *f, size_t cap) {
    int sv[2];
    size_t n = 0;
    ssize_t r;
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    if (fork() == 0) {
        close(sv[0]);
        _exit(ws_send(sv[1], text) ? 1 : 0);
    }
    close(sv[1]);
    while (n < cap && (r = read(sv[0], f + n, cap - n)) > 0) n += (size_t)r;
    close(sv[0]);
    while (wait(NULL) > 0) {}
    return n;
}

static void check_send(void) {
    static unsigned char f[80000];
    static char big[70001];
    size_t n = sent_frame("hello", f, sizeof f);
    int ok = n == 2 + 4 + 5 && f[0] == 0x81 && f[1] == (0x80 | 5);
    for (int i = 0; ok && i < 5; i++) ok = (f[6 + i] ^ f[2 + i % 4]) == "hello"[i];
    CHECK(ok, "a short text frame: FIN, text, mask bit, masked payload");
    memset(big, 'z', sizeof big - 1);
    n = sent_frame(big, f, sizeof f);
    uint64_t len = 0;
    for (int i = 0; i < 8; i++) len = len << 8 | f[2 + i];
    ok = n == 2 + 8 + 4 + 70000 && f[1] == (0x80 | 127) && len == 70000;
    for (size_t i = 0; ok && i < 70000; i++) ok = (f[14 + i] ^ f[10 + i % 4]) == 'z';
    CHECK(ok, "a 70000-byte frame: 64-bit length, masked payload");
}

/* a one-connection server on 127.0.0.1 answering the handshake with reply;
 * its child exits 0 when the request was a well-formed upgrade */
static pid_t serve_once(const char *reply, size_t n, int *port) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    if (bind(ls, (struct sockaddr *)&a, sizeof a) || listen(ls, 1) || getsockname(ls, (struct sockaddr *)&a, &al))
        return -1;
    *port = ntohs(a.sin_port);
    pid_t pid = fork();
    if (pid == 0) {
        char req[2048];
        size_t k = 0;
        int c = accept(ls, NULL, NULL);
        while (k < sizeof req - 1 && (k < 4 || memcmp(req + k - 4, "\r\n\r\n", 4)) && read(c, req + k, 1) == 1) k++;
        req[k] = 0;
        const char *key = strstr(req, "Sec-WebSocket-Key: ");
        int ok = !strncmp(req, "GET /devtools/browser/x HTTP/1.1\r\n", 34) && strstr(req, "Upgrade: websocket\r\n") &&
                 strstr(req, "Sec-WebSocket-Version: 13\r\n") && key && strcspn(key + 19, "\r") == 24;
        send_all(c, (const unsigned char *)reply, n);
        close(c);
        _exit(ok ? 0 : 1);
    }
    close(ls);
    return pid;
}

static void check_handshake(void) {
    char reply[256], url[64];
    int port, st = -1;
    size_t n = (size_t)sprintf(reply, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n");
    n += frame((unsigned char *)reply + n, 1, 1, "first", 5);  /* in the same packet */
    pid_t pid = serve_once(reply, n, &port);
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/devtools/browser/x", port);
    int fd = ws_open(url);
    char *m = fd >= 0 ? ws_recv(fd) : NULL;
    waitpid(pid, &st, 0);
    CHECK(st == 0, "the upgrade request: GET path, Upgrade, a 24-character key, version 13");
    CHECK(m && !strcmp(m, "first"), "a frame right after the 101 headers is not swallowed");
    free(m);
    if (fd >= 0) close(fd);
    n = (size_t)sprintf(reply, "HTTP/1.1 404 Not Found\r\n\r\n");
    pid = serve_once(reply, n, &port);
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/devtools/browser/x", port);
    fd = ws_open(url);
    waitpid(pid, NULL, 0);
    CHECK(fd < 0 && strstr(err, "refused: HTTP/1.1 404"), "a refused upgrade is an error: %s", err);
    CHECK(ws_open("http://127.0.0.1:1/x") < 0 && strstr(err, "not a ws://"), "a URL that is not ws:// is refused");
}

int main(void) {
    check_recv();
    check_send();
    check_handshake();
    return CHECK_DONE();
}
