/* conv_grad.c - the layers of conv.h against naive loops (forward) and
 * central finite differences (backward), and the whole CNN of cnn.h: every
 * parameter's gradient of the cross-entropy loss, average and max pooling,
 * with and without residual blocks.  L = sum(y * R) for a fixed random R,
 * so dy = R. */
#include "check.h"
#include "fdcheck.h"
#include "../../common/cnn.h"

#include <string.h>

#define TOL 2e-2

/* ||fd - g|| / max(||fd||, ||g||) over one tensor: for the whole network,
 * where relu and max-pool kinks and the curvature batch norm adds make
 * single elements unreliable at any one step size in float; the smaller of
 * two step sizes is taken.  Float noise and curvature leave a few percent
 * (a wrong backward pass gives errors near 1); the exact check of every
 * gradient is the torch golden test, tests/unit/cnn_golden.c. */
static double fd_norm_error(float *v, const float *g, size_t n, scalar_fn f, void *ctx) {
    const float steps[2] = {3e-4f, 1e-4f};
    double best = INFINITY;
    for (int k = 0; k < 2; k++) {
        double num = 0, a = 0, b = 0;
        for (size_t i = 0; i < n; i++) {
            float keep = v[i];
            v[i] = keep + steps[k];
            double up = f(ctx);
            v[i] = keep - steps[k];
            double down = f(ctx);
            v[i] = keep;
            double fd = (up - down) / (2.0 * steps[k]);
            num += (fd - g[i]) * (fd - g[i]), a += fd * fd, b += (double)g[i] * g[i];
        }
        best = fmin(best, sqrt(num) / fmax(sqrt(fmax(a, b)), 1e-12));
    }
    return best;
}

/* ---------- conv2d ---------- */
typedef struct {
    nn_conv_shape s;
    int B;
    float *x, *W, *b, *y, *r, *ws;
} conv_case;

static double conv_L(void *ctx) {
    conv_case *c = ctx;
    nn_conv2d_forward(c->y, c->x, c->W, c->b, c->ws, &c->s, c->B);
    return dot(c->y, c->r, (size_t)c->B * c->s.O * c->s.Ho * c->s.Wo);
}

static void test_conv(int C, int H, int W, int O, int k, int st, int pad, int B, int chunk1) {
    conv_case c = {.B = B};
    CHECK(nn_conv_shape_init(&c.s, C, H, W, O, k, st, pad, B) == 0, "conv shape C%d %dx%d O%d k%d s%d p%d", C, H, W, O, k, st, pad);
    if (chunk1) c.s.chunk = 1;
    const nn_conv_shape *s = &c.s;
    size_t nx = (size_t)B * C * H * W, nw = (size_t)O * C * k * k, ny = (size_t)B * O * s->Ho * s->Wo;
    c.x = malloc(nx * 4), c.W = malloc(nw * 4), c.b = malloc(O * 4), c.y = malloc(ny * 4), c.r = malloc(ny * 4);
    c.ws = malloc(nn_conv_workspace(s) * 4);
    float *dx = malloc(nx * 4), *dW = calloc(nw, 4), *db = calloc(O, 4);
    fill(c.x, nx, -1, 1), fill(c.W, nw, -1, 1), fill(c.b, O, -1, 1), fill(c.r, ny, -1, 1);
    conv_L(&c);
    double worst = 0;
    for (int n = 0; n < B; n++)
        for (int o = 0; o < O; o++)
            for (int i = 0; i < s->Ho; i++)
                for (int j = 0; j < s->Wo; j++) {
                    double acc = c.b[o];
                    for (int ci = 0; ci < C; ci++)
                        for (int a = 0; a < k; a++)
                            for (int bb = 0; bb < k; bb++) {
                                int ih = i * st - pad + a, iw = j * st - pad + bb;
                                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                                acc += (double)c.x[((size_t)(n * C + ci) * H + ih) * W + iw] * c.W[((o * C + ci) * k + a) * k + bb];
                            }
                    worst = fmax(worst, fabs(acc - c.y[((size_t)(n * O + o) * s->Ho + i) * s->Wo + j]));
                }
    CHECK(worst < 1e-4, "conv2d forward C%d %dx%d O%d k%d stride %d pad %d chunk %d equals the naive sum (max diff %.2g)",
          C, H, W, O, k, st, pad, s->chunk, worst);
    nn_conv2d_backward(dx, dW, db, c.r, c.x, c.W, c.ws, s, B);
    double ex = fd_error(c.x, dx, nx, conv_L, &c, 1e-2f);
    double eW = fd_error(c.W, dW, nw, conv_L, &c, 1e-2f);
    double eb = fd_error(c.b, db, O, conv_L, &c, 1e-2f);
    CHECK(ex < TOL && eW < TOL && eb < TOL, "conv2d backward (stride %d pad %d chunk %d) vs finite differences: dx %.2g dW %.2g db %.2g",
          st, pad, s->chunk, ex, eW, eb);
    free(c.x), free(c.W), free(c.b), free(c.y), free(c.r), free(c.ws), free(dx), free(dW), free(db);
}

/* ---------- batch norm ---------- */
enum { BB = 4, BC = 3, BHW = 5 };
static float bx[BB * BC * BHW], by[BB * BC * BHW], br[BB * BC * BHW], bg[BC], bbeta[BC];
static float bmean[BC], binv[BC], brm[BC], brv[BC];

static double bn_L(void *ctx) {
    (void)ctx;
    nn_bn2d_forward_train(by, bmean, binv, brm, brv, bx, bg, bbeta, BB, BC, BHW, 0.1f, 1e-5f);
    return dot(by, br, BB * BC * BHW);
}

static void test_bn(void) {
    const int n = BB * BC * BHW;
    fill(bx, n, -2, 3), fill(bg, BC, 0.5f, 1.5f), fill(bbeta, BC, -1, 1), fill(br, n, -1, 1);
    for (int c = 0; c < BC; c++) brm[c] = 0, brv[c] = 1;
    bn_L(NULL);
    /* channel 1 by hand: biased variance normalises, unbiased goes to running_var */
    double s = 0, q = 0;
    for (int b = 0; b < BB; b++) for (int i = 0; i < BHW; i++) s += bx[(b * BC + 1) * BHW + i];
    double mu = s / (BB * BHW);
    for (int b = 0; b < BB; b++) for (int i = 0; i < BHW; i++) { double d = bx[(b * BC + 1) * BHW + i] - mu; q += d * d; }
    double y7 = (bx[(2 * BC + 1) * BHW + 3] - mu) / sqrt(q / (BB * BHW) + 1e-5) * bg[1] + bbeta[1];
    CHECK(CLOSE(by[(2 * BC + 1) * BHW + 3], y7, 1e-5, 1e-5), "bn2d train output by hand (%g vs %g)", by[(2 * BC + 1) * BHW + 3], y7);
    CHECK(CLOSE(brm[1], 0.1 * mu, 1e-6, 1e-5) && CLOSE(brv[1], 0.9 + 0.1 * q / (BB * BHW - 1), 1e-6, 1e-5),
          "bn2d running mean and unbiased running var move by momentum 0.1");
    float ye[BB * BC * BHW];
    nn_bn2d_forward_eval(ye, bx, bg, bbeta, brm, brv, BB, BC, BHW, 1e-5f);
    double e7 = (bx[(2 * BC + 1) * BHW + 3] - brm[1]) / sqrt(brv[1] + 1e-5) * bg[1] + bbeta[1];
    CHECK(CLOSE(ye[(2 * BC + 1) * BHW + 3], e7, 1e-5, 1e-5), "bn2d eval uses the running statistics");
    float dx[BB * BC * BHW], dg[BC] = {0}, dbeta[BC] = {0};
    bn_L(NULL);
    nn_bn2d_backward(dx, dg, dbeta, br, bx, bmean, binv, bg, BB, BC, BHW);
    double ex = fd_error(bx, dx, n, bn_L, NULL, 1e-2f);
    double eg = fd_error(bg, dg, BC, bn_L, NULL, 1e-2f);
    double eb = fd_error(bbeta, dbeta, BC, bn_L, NULL, 1e-2f);
    CHECK(ex < TOL && eg < TOL && eb < TOL, "bn2d backward vs finite differences: dx %.2g dgamma %.2g dbeta %.2g", ex, eg, eb);
    memcpy(dx, br, sizeof dx);
    nn_bn2d_backward(dx, dg, dbeta, dx, bx, bmean, binv, bg, BB, BC, BHW);
    float dx2[BB * BC * BHW];
    nn_bn2d_backward(dx2, dg, dbeta, br, bx, bmean, binv, bg, BB, BC, BHW);
    CHECK(memcmp(dx, dx2, sizeof dx) == 0, "bn2d backward in place (dx aliasing dy) gives the same dx");
}

/* ---------- pooling ---------- */
enum { PN = 3, PH = 7, PW = 6 };
static float px[PN * PH * PW], py[PN * PH * PW], pr[PN * PH * PW];
static int32_t pam[PN * PH * PW];
static int pmode, pk, ps, poh, pow_;

static int pool_out(void) {
    if (pmode == 2) return PN * poh * pow_;
    return PN * ((PH - pk) / ps + 1) * ((PW - pk) / ps + 1);
}

static double pool_L(void *ctx) {
    (void)ctx;
    if (pmode == 0) nn_avgpool_forward(py, px, PN, PH, PW, pk, ps);
    else if (pmode == 1) nn_maxpool_forward(py, pam, px, PN, PH, PW, pk, ps);
    else nn_adaptive_avgpool_forward(py, px, PN, PH, PW, poh, pow_);
    return dot(py, pr, (size_t)pool_out());
}

static void test_pool(int mode, int k, int s, int oh, int ow) {
    static const char *names[] = {"avgpool", "maxpool", "adaptive avgpool"};
    pmode = mode, pk = k, ps = s, poh = oh, pow_ = ow;
    const int n = PN * PH * PW;
    /* distinct values 0.05 apart so the max stays put under the +-eps nudge */
    for (int i = 0; i < n; i++) px[i] = 0.05f * (float)((i * 37) % n) - 2;
    fill(pr, n, -1, 1);
    pool_L(NULL);
    /* one output by hand */
    int o = pool_out() - 1, h0, h1, w0, w1;
    if (mode == 2) {
        int i = oh - 1, j = ow - 1;
        h0 = i * PH / oh, h1 = ((i + 1) * PH + oh - 1) / oh, w0 = j * PW / ow, w1 = ((j + 1) * PW + ow - 1) / ow;
    } else {
        int Ho = (PH - k) / s + 1, Wo = (PW - k) / s + 1;
        h0 = (Ho - 1) * s, h1 = h0 + k, w0 = (Wo - 1) * s, w1 = w0 + k;
    }
    double acc = 0, mx = -1e30;
    for (int a = h0; a < h1; a++)
        for (int b = w0; b < w1; b++) {
            double v = px[(PN - 1) * PH * PW + a * PW + b];
            acc += v;
            mx = fmax(mx, v);
        }
    double want = mode == 1 ? mx : acc / ((h1 - h0) * (w1 - w0));
    CHECK(CLOSE(py[o], want, 1e-5, 1e-5), "%s forward, last cell by hand (%g vs %g)", names[mode], py[o], want);
    float dx[PN * PH * PW];
    if (mode == 0) nn_avgpool_backward(dx, pr, PN, PH, PW, k, s);
    else if (mode == 1) nn_maxpool_backward(dx, pr, pam, PN, PH, PW, k, s);
    else nn_adaptive_avgpool_backward(dx, pr, PN, PH, PW, oh, ow);
    double e = fd_error(px, dx, n, pool_L, NULL, 1e-2f);
    CHECK(e < TOL, "%s (k %d s %d / out %dx%d) backward vs finite differences: %.2g", names[mode], k, s, oh, ow, e);
}

/* ---------- the whole network ---------- */
typedef struct {
    cnn_net net;
    float *x;
    int32_t lab[6];
    int B;
} net_case;

static double net_L(void *ctx) {
    net_case *c = ctx;
    cnn_forward(&c->net, c->x, c->B, 1);
    return cnn_loss(&c->net, c->lab, c->B, NULL);
}

static void test_net(int residual, int pool) {
    net_case c = {.B = 6};
    cnn_arch a = {.residual = residual, .pool = pool, .adapt = 2, .embed = 5, .classes = 3};
    char err[256];
    CHECK(cnn_arch_set(&a, "3,4", 1.0f, 8, 12, err, sizeof err) == 0, "arch 3,4 on 8x12");
    CHECK(cnn_create(&c.net, &a, err, sizeof err) == 0 && cnn_reserve(&c.net, c.B) == 0, "create and reserve");
    cnn_init_params(&c.net, 7);
    c.net.norm_mean = 0.5f, c.net.norm_std = 2.0f;
    size_t nx = (size_t)c.B * 8 * 12;
    c.x = malloc(nx * 4);
    fill(c.x, nx, -3, 4);
    for (int b = 0; b < c.B; b++) c.lab[b] = b % 3;
    /* running statistics change at every training forward; they do not
     * enter the training-mode loss, so finite differences still hold */
    net_L(&c);
    cnn_zero_grad(&c.net);
    cnn_backward(&c.net, c.B);
    double worst = 0;
    const char *where = "";
    float *g = malloc(c.net.n_params * 4);
    memcpy(g, c.net.grads, c.net.n_params * 4);
    for (int t = 0; t < c.net.n_tensors; t++) {
        cnn_tensor *tt = &c.net.tensors[t];
        if (!tt->g) continue;
        double e = fd_norm_error(tt->p, g + (tt->g - c.net.grads), tt->n, net_L, &c);
        if (e > worst) worst = e, where = tt->name;
    }
    CHECK(worst < 0.1, "cnn (%s, %s pool) every parameter's CE gradient vs finite differences: worst %.2g (%s)",
          residual ? "residual" : "plain", pool == CNN_POOL_MAX ? "max" : "avg", worst, where);
    free(g);
    free(c.x);
    cnn_free(&c.net);
}

int main(void) {
    rng_seed(&R, 12345);
    test_conv(3, 7, 6, 4, 3, 1, 1, 3, 0);
    test_conv(3, 7, 6, 4, 3, 1, 1, 3, 1);
    test_conv(2, 8, 9, 3, 3, 2, 0, 2, 0);
    test_conv(2, 5, 5, 3, 2, 2, 1, 2, 1);
    test_conv(1, 9, 4, 2, 1, 1, 0, 2, 0);
    test_bn();
    test_pool(0, 2, 2, 0, 0);
    test_pool(1, 2, 2, 0, 0);
    test_pool(1, 3, 2, 0, 0);
    test_pool(2, 0, 0, 2, 2);
    test_pool(2, 0, 0, 3, 4);
    test_net(1, CNN_POOL_AVG);
    test_net(0, CNN_POOL_MAX);
    test_net(1, CNN_POOL_MAX);
    return CHECK_DONE();
}
