/* check.h - the unit test harness: each CHECK prints "PASS: file: what" or
 * "FAIL: file:line: what"; tests/run.sh counts the lines. */
#ifndef SONGPIPE_CHECK_H
#define SONGPIPE_CHECK_H
#include <stdio.h>
#include <stdlib.h>
#include <math.h>

static int check_failures;

#define CHECK(cond, ...) do { \
    if (cond) { printf("PASS: %s: ", __FILE__); printf(__VA_ARGS__); putchar('\n'); } \
    else { printf("FAIL: %s:%d: ", __FILE__, __LINE__); printf(__VA_ARGS__); \
           printf("  [%s]\n", #cond); check_failures++; } \
    fflush(stdout); } while (0)

/* |a-b| <= atol + rtol*|b| */
#define CLOSE(a, b, atol, rtol) (fabs((double)(a) - (double)(b)) <= (atol) + (rtol) * fabs((double)(b)))

#define CHECK_DONE() (check_failures ? 1 : 0)
#endif
