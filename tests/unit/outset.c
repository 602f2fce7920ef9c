/* outset.c - the output set (formats/outset.h): temporary names of their own,
 * a held set renamed only at commit, every temporary file removed when one
 * output, stdout included, fails, and an existing file never replaced then. */
#include "check.h"
#include "outset.h"
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[] = "/tmp/outset_unitXXXXXX";

/* the sorted names in dir, each followed by a space */
static void list_dir(char *out, size_t n) {
    struct dirent **ents;
    int k = scandir(dir, &ents, NULL, alphasort);
    out[0] = 0;
    for (int i = 0; i < k; i++) {
        if (ents[i]->d_name[0] != '.') { strncat(out, ents[i]->d_name, n - strlen(out) - 2); strcat(out, " "); }
        free(ents[i]);
    }
    free(ents);
}

static void clear_dir(void) {
    struct dirent **ents;
    char p[300];
    int k = scandir(dir, &ents, NULL, alphasort);
    for (int i = 0; i < k; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, ents[i]->d_name);
        if (ents[i]->d_name[0] != '.') unlink(p);
        free(ents[i]);
    }
    free(ents);
}

static FILE *open_in(const char *name, int *slot, char *path) {
    char err[512];
    sprintf(path, "%s/%s", dir, name);
    FILE *f = outset_open(path, slot, err, sizeof err);
    if (!f) printf("outset_open: %s\n", err);
    return f;
}

static void test_names(void) {
    char a[300], b[300], names[1024], want[128];
    int sa, sb;
    clear_dir();
    FILE *fa = open_in("x.ts", &sa, a), *fb = open_in("x.ts", &sb, b);
    CHECK(fa && fb && sa != sb && strcmp(outset_tmp_name(sa), outset_tmp_name(sb)) != 0,
          "two outputs to the same file get two temporary names");
    snprintf(want, sizeof want, "%s/x.ts.tmp.%ld.", dir, (long)getpid());
    CHECK(strncmp(outset_tmp_name(sa), want, strlen(want)) == 0, "the name is FILE.tmp.PID.RANDOM: %s", outset_tmp_name(sa));
    char err[512];
    fputs("a\n", fa);
    fputs("b\n", fb);
    int rc = outset_close(fa, sa, a, err, sizeof err) | outset_close(fb, sb, b, err, sizeof err);
    list_dir(names, sizeof names);
    FILE *f = fopen(a, "r");
    char line[8] = "";
    if (f) { fgets(line, sizeof line, f); fclose(f); }
    line[strcspn(line, "\n")] = 0;
    CHECK(rc == 0 && strcmp(names, "x.ts ") == 0 && strcmp(line, "b") == 0,
          "the last rename wins and no temporary file stays: '%s' holds '%s'", names, line);
}

static void test_held(void) {
    char a[300], b[300], names[1024], err[512];
    int sa, sb;
    clear_dir();
    outset_hold();
    FILE *fa = open_in("a.tsv", &sa, a), *fb = open_in("b.ts", &sb, b);
    fputs("a\n", fa);
    fputs("b\n", fb);
    int rc = outset_close(fa, sa, a, err, sizeof err);
    list_dir(names, sizeof names);
    CHECK(rc == 0 && strncmp(names, "a.tsv.tmp.", 10) == 0 && strstr(names, " b.ts.tmp."),
          "held: a complete file keeps its temporary name: '%s'", names);
    rc = outset_commit(err, sizeof err);
    list_dir(names, sizeof names);
    CHECK(rc == -1 && strstr(err, "b.ts: not complete") && strcmp(names, "") == 0,
          "commit with an output still open fails and removes both: '%s' '%s'", err, names);
    outset_close(fb, sb, b, err, sizeof err);

    outset_hold();
    fa = open_in("a.tsv", &sa, a);
    fb = open_in("b.ts", &sb, b);
    fputs("a\n", fa);
    fputs("b\n", fb);
    rc = outset_close(fa, sa, a, err, sizeof err) | outset_close(fb, sb, b, err, sizeof err);
    rc |= outset_commit(err, sizeof err);
    list_dir(names, sizeof names);
    CHECK(rc == 0 && strcmp(names, "a.tsv b.ts ") == 0, "commit renames both: '%s'", names);
}

/* a held set whose stdout is /dev/full: in a child, since CHECK prints */
static void test_stdout_fails(void) {
    char names[1024];
    clear_dir();
    char a[300];
    sprintf(a, "%s/a.tsv", dir);
    FILE *keep = fopen(a, "w");
    fputs("old\n", keep);
    fclose(keep);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open("/dev/full", O_WRONLY);
        dup2(fd, STDOUT_FILENO);
        char err[512], b[300];
        int sa, sb;
        outset_hold();
        FILE *fa = open_in("a.tsv", &sa, a), *fb = open_in("b.ts", &sb, b);
        fputs("new\n", fa);
        fputs("b\n", fb);
        printf("rows on stdout\n");
        if (outset_close(fa, sa, a, err, sizeof err) || outset_close(fb, sb, b, err, sizeof err)) _exit(3);
        int rc = outset_commit(err, sizeof err);
        _exit(rc == -1 && strcmp(err, "<stdout>: write failed: No space left on device") == 0 ? 0 : 4);
    }
    int st = -1;
    waitpid(pid, &st, 0);
    list_dir(names, sizeof names);
    FILE *f = fopen(a, "r");
    char line[8] = "";
    if (f) { fgets(line, sizeof line, f); fclose(f); }
    line[strcspn(line, "\n")] = 0;
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "a failed stdout fails the commit, naming <stdout> (child exit %d)", WEXITSTATUS(st));
    CHECK(strcmp(names, "a.tsv ") == 0 && strcmp(line, "old") == 0,
          "no output appears and the existing file is kept: '%s' holds '%s'", names, line);
}

static void test_device(void) {
    char err[512];
    int slot;
    FILE *f = outset_open("/dev/full", &slot, err, sizeof err);
    CHECK(f && slot == -1, "a device is written in place");
    if (!f) return;
    fputs("x\n", f);
    CHECK(outset_close(f, slot, "/dev/full", err, sizeof err) == -1 &&
          strcmp(err, "/dev/full: write failed: No space left on device") == 0, "and its failure names it: %s", err);
}

int main(void) {
    if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
    test_names();
    test_held();
    test_stdout_fails();
    test_device();
    clear_dir();
    rmdir(dir);
    return CHECK_DONE();
}
