/* nn_golden.c - two small networks (the predictor and the categorical
 * autoencoder shapes) against PyTorch: the training-mode forward output, the
 * loss, every gradient, and the parameters (and batchnorm running
 * statistics) after three steps of each optimiser, then an evaluation-mode
 * forward.  Reference values: tests/ref/nn_golden.h, generated once by
 * tests/ref/make_nn_golden.py with Debian's python3-torch. */
#include "check.h"
#include "../../common/mlp.h"
#include "../ref/nn_golden.h"

#include <string.h>

#define ATOL 2e-5
#define RTOL 2e-4

/* largest |a-b| / (ATOL + RTOL |b|): <= 1 passes */
static double worst_ratio(const float *a, const float *b, int n, double *maxdiff) {
    double w = 0;
    for (int i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (maxdiff && d > *maxdiff) *maxdiff = d;
        double r = d / (ATOL + RTOL * fabs((double)b[i]));
        if (r > w || isnan(d)) w = isnan(d) ? INFINITY : r;
    }
    return w;
}

static int load_tensors(nn_mlp *net, const golden_tensor *g) {
    int n = 0;
    for (; g->name; g++, n++) {
        nn_tensor *t = nn_mlp_tensor(net, g->name);
        if (!t || t->rows * t->cols != g->n) return -1;
        memcpy(t->p, g->v, sizeof(float) * (size_t)g->n);
    }
    return n;
}

static void set_optim(nn_optim *o, const char *name, const char *js) {
    nn_optim_kind k = NN_SGD;
    if (strncmp(name, "rmsprop", 7) == 0) k = NN_RMSPROP;
    else if (strcmp(name, "adamw") == 0) k = NN_ADAMW;
    else if (strcmp(name, "adam") == 0) k = NN_ADAM;
    nn_optim_defaults(o, k);
    o->weight_decay = 0;               /* torch.optim.AdamW's default is not in the JSON */
    cJSON *j = cJSON_Parse(js), *v;
    if ((v = cJSON_GetObjectItem(j, "lr"))) o->lr = (float)v->valuedouble;
    if ((v = cJSON_GetObjectItem(j, "momentum"))) o->momentum = (float)v->valuedouble;
    if ((v = cJSON_GetObjectItem(j, "alpha"))) o->alpha = (float)v->valuedouble;
    if ((v = cJSON_GetObjectItem(j, "eps"))) o->eps = (float)v->valuedouble;
    if ((v = cJSON_GetObjectItem(j, "weight_decay"))) o->weight_decay = (float)v->valuedouble;
    if ((v = cJSON_GetObjectItem(j, "betas"))) {
        o->beta1 = (float)cJSON_GetArrayItem(v, 0)->valuedouble;
        o->beta2 = (float)cJSON_GetArrayItem(v, 1)->valuedouble;
    }
    cJSON_Delete(j);
}

static void reset(nn_mlp *net, const golden_tensor *init) {
    load_tensors(net, init);
    for (int l = 0; l < net->arch.n_layers; l++)
        if (net->arch.layer[l].batchnorm)
            for (int k = 0; k < net->arch.layer[l].units; k++) {
                net->run_mean[l][k] = 0;
                net->run_var[l][k] = 1;
            }
}

typedef struct {
    const char *tag, *arch;
    int rows;
    const float *x, *t, *mean, *std, *out, *const *eval;
    double loss;
    const golden_tensor *init, *grad, *const *after;
} golden_net;

static void run(const golden_net *g) {
    char err[512] = "";
    nn_arch a;
    nn_mlp net;
    cJSON *j = cJSON_Parse(g->arch);
    int ok = nn_arch_from_json(&a, j, g->tag, err, sizeof err) == 0 &&
             nn_arch_resolve_output(&a, err, sizeof err) == 0 &&
             nn_mlp_create(&net, &a, err, sizeof err) == 0;
    cJSON_Delete(j);
    CHECK(ok, "%s: network builds from the torch script's architecture %s", g->tag, err);
    if (!ok) return;
    nn_arch_free(&a);
    int trainable = 0;
    for (int i = 0; i < net.n_tensors; i++) trainable += net.tensors[i].g != NULL;
    int loaded = load_tensors(&net, g->init);
    CHECK(loaded == trainable, "%s: torch's %d parameter tensors match songpipe's names and shapes (%d)", g->tag, loaded, trainable);
    memcpy(net.norm_mean, g->mean, sizeof(float) * (size_t)net.arch.n_num);
    memcpy(net.norm_std, g->std, sizeof(float) * (size_t)net.arch.n_num);
    nn_mlp_reserve(&net, g->rows);
    const int ldx = net.arch.n_num + net.arch.n_cat, uo = nn_mlp_out_width(&net);

    nn_mlp_forward(&net, g->x, ldx, g->rows, 1);
    double md = 0;
    double w = worst_ratio(nn_mlp_output(&net, net.arch.n_layers - 1), g->out, g->rows * uo, &md);
    CHECK(w <= 1, "%s: forward output matches torch (max diff %.2g)", g->tag, md);
    double l = nn_mlp_loss(&net, g->t, net.n_tcols, g->rows, NULL);
    CHECK(CLOSE(l, g->loss, 1e-6, 1e-5), "%s: loss %.9g, torch %.9g (diff %.2g)", g->tag, l, g->loss, fabs(l - g->loss));
    nn_mlp_zero_grad(&net);
    nn_mlp_backward(&net, g->rows);
    for (const golden_tensor *gt = g->grad; gt->name; gt++) {
        md = 0;
        nn_tensor *t = nn_mlp_tensor(&net, gt->name);
        w = worst_ratio(t->g, gt->v, gt->n, &md);
        CHECK(w <= 1, "%s: gradient of %s matches torch (max diff %.2g)", g->tag, gt->name, md);
    }

    for (int o = 0; golden_optims[o]; o++) {
        nn_optim opt;
        set_optim(&opt, golden_optims[o], golden_optim_json[o]);
        nn_optim_init(&opt, net.n_params);
        reset(&net, g->init);
        for (int s = 0; s < golden_steps; s++) {
            nn_mlp_zero_grad(&net);
            nn_mlp_forward(&net, g->x, ldx, g->rows, 1);
            nn_mlp_loss(&net, g->t, net.n_tcols, g->rows, NULL);
            nn_mlp_backward(&net, g->rows);
            nn_optim_step(&opt, net.params, net.grads);
        }
        nn_optim_free(&opt);
        double worst = 0;
        md = 0;
        int n = 0;
        for (const golden_tensor *gt = g->after[o]; gt->name; gt++, n++) {
            nn_tensor *t = nn_mlp_tensor(&net, gt->name);
            double r = t ? worst_ratio(t->p, gt->v, gt->n, &md) : INFINITY;
            if (r > worst) worst = r;
        }
        CHECK(worst <= 1 && n == net.n_tensors, "%s: %d tensors after %d %s steps match torch (max diff %.2g)",
              g->tag, n, golden_steps, golden_optims[o], md);
        nn_mlp_forward(&net, g->x, ldx, g->rows, 0);
        md = 0;
        w = worst_ratio(nn_mlp_output(&net, net.arch.n_layers - 1), g->eval[o], g->rows * uo, &md);
        CHECK(w <= 1, "%s: evaluation-mode forward after %s matches torch (max diff %.2g)", g->tag, golden_optims[o], md);
    }
    nn_mlp_free(&net);
}

int main(void) {
    static const float *const eval_A[] = {golden_A_eval_sgd, golden_A_eval_rmsprop, golden_A_eval_rmsprop_momentum, golden_A_eval_adam, golden_A_eval_adamw};
    static const golden_tensor *const after_A[] = {golden_A_after_sgd, golden_A_after_rmsprop, golden_A_after_rmsprop_momentum, golden_A_after_adam, golden_A_after_adamw};
    static const float *const eval_B[] = {golden_B_eval_sgd, golden_B_eval_rmsprop, golden_B_eval_rmsprop_momentum, golden_B_eval_adam, golden_B_eval_adamw};
    static const golden_tensor *const after_B[] = {golden_B_after_sgd, golden_B_after_rmsprop, golden_B_after_rmsprop_momentum, golden_B_after_adam, golden_B_after_adamw};
    golden_net A = {"predictor", golden_A_arch, golden_A_rows, golden_A_x, golden_A_t, golden_A_mean, golden_A_std,
                    golden_A_out, eval_A, golden_A_loss, golden_A_init, golden_A_grad, after_A};
    golden_net Bn = {"catae", golden_B_arch, golden_B_rows, golden_B_x, golden_B_t, golden_B_mean, golden_B_std,
                     golden_B_out, eval_B, golden_B_loss, golden_B_init, golden_B_grad, after_B};
    run(&A);
    run(&Bn);
    return CHECK_DONE();
}
