/* errbuf.h - the library's way of failing: common/ code never prints or
 * exits; it writes its message into the caller's buffer and returns -1, and
 * the stage decides what to do (usually cli_die with that message). */
#ifndef SONGPIPE_ERRBUF_H
#define SONGPIPE_ERRBUF_H

#include <stddef.h>

/* Formats the message into err (errlen bytes, always terminated); returns -1. */
int err_fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
