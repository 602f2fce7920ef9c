/* cnn_model_finite.c - a CNN model file whose weights or buffers hold a NaN
 * or an infinity is refused by cnn_load (common/weights.c, shared with the
 * MLP loader), naming the tensor; a finite one loads (issue 14). */
#include "check.h"
#include "../../common/cnn.h"

#include <string.h>
#include <unistd.h>

static int load_fails(const char *path, const char *want) {
    cnn_net back;
    char err[1024] = "";
    if (cnn_load(&back, path, err, sizeof err) == 0) { cnn_free(&back); return 0; }
    printf("#   %s\n", err);
    return strstr(err, want) != NULL;
}

int main(void) {
    char err[512], path[] = "/tmp/cnn_finite_XXXXXX";
    int fd = mkstemp(path);
    if (fd >= 0) close(fd);
    cnn_arch a = {.pool = CNN_POOL_AVG, .adapt = 1, .embed = 4, .classes = 3};
    cnn_net net;
    int ok = fd >= 0 && cnn_arch_set(&a, "2,4", 1.0f, 8, 8, err, sizeof err) == 0 && cnn_create(&net, &a, err, sizeof err) == 0;
    CHECK(ok, "a small CNN builds (%s)", ok ? "ok" : err);
    if (!ok) return CHECK_DONE();
    net.norm_mean = 0, net.norm_std = 1;
    for (size_t i = 0; i < net.n_params; i++) net.params[i] = 0.01f * (float)(i % 7);
    ok = cnn_save(&net, path, NULL, err, sizeof err) == 0 && load_fails(path, "") == 0;
    CHECK(ok, "a finite model saves and loads (%s)", ok ? "ok" : err);

    net.params[3] = NAN;
    cnn_save(&net, path, NULL, err, sizeof err);
    CHECK(load_fails(path, "holds nan at value 3 of"), "a NaN weight is refused, naming the tensor and the value");
    net.params[3] = 0;
    if (net.n_buffers) {
        net.buffers[net.n_buffers - 1] = INFINITY;
        cnn_save(&net, path, NULL, err, sizeof err);
        CHECK(load_fails(path, "holds inf at value"), "an infinite buffer (batch-norm statistics) is refused");
    }
    cnn_free(&net);
    unlink(path);
    return CHECK_DONE();
}
