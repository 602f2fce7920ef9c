/* pairs.c - train-mlp's loop for an embedding network (an infonce or
 * triplet output) on pairs of rows that share a group: songs that share a
 * playlist.
 * Each epoch every membership entry of a training playlist is an anchor once,
 * in a seeded order, paired with another song of the same playlist drawn at
 * random; the B anchors and their B positives go through the network as one
 * batch of 2B rows, the pair loss (contrastive.h) compares the two halves
 * with the batch's other positives as negatives, and one backward pass and
 * optimiser step follow.  Whole playlists (val_frac of them) are held out
 * for validation and early stopping; their pairs are drawn once, with the
 * seed, so every epoch is scored on the same pairs. */
#include "mlp_train.h"
#include "contrastive.h"
#include "errbuf.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef struct {
    int64_t n_lists;
    int64_t *start;            /* entries of list l: song[start[l] .. start[l+1]) */
    int32_t *song;             /* grouped by list */
    int64_t *list_of;          /* list of each grouped entry */
} groups;

static void groups_free(groups *g) { free(g->start); free(g->song); free(g->list_of); }

/* counting sort of the entries by list code */
static int group(groups *g, const nn_members *m) {
    int64_t L = 0;
    for (int64_t i = 0; i < m->n; i++) if (m->list[i] + 1 > L) L = m->list[i] + 1;
    g->n_lists = L;
    g->start = calloc((size_t)L + 2, sizeof *g->start);
    g->song = malloc(sizeof *g->song * (size_t)(m->n ? m->n : 1));
    g->list_of = malloc(sizeof *g->list_of * (size_t)(m->n ? m->n : 1));
    if (!g->start || !g->song || !g->list_of) return -1;
    for (int64_t i = 0; i < m->n; i++) g->start[m->list[i] + 1]++;
    for (int64_t l = 0; l < L; l++) g->start[l + 1] += g->start[l];
    int64_t *fill = calloc((size_t)L + 1, sizeof *fill);
    if (!fill) return -1;
    for (int64_t i = 0; i < m->n; i++) {
        int64_t l = m->list[i], k = g->start[l] + fill[l]++;
        g->song[k] = m->song[i];
        g->list_of[k] = l;
    }
    free(fill);
    return 0;
}

/* a random song of entry e's list other than e's song; -1 if the list has
 * no other song (tries a few draws, then scans) */
static int32_t positive(const groups *g, int64_t e, rng_state *r) {
    int64_t l = g->list_of[e], s = g->start[l], n = g->start[l + 1] - s;
    if (n < 2) return -1;
    for (int t = 0; t < 8; t++) {
        int64_t k = s + (int64_t)rng_below(r, (uint64_t)n);
        if (g->song[k] != g->song[e]) return g->song[k];
    }
    for (int64_t k = s; k < s + n; k++) if (g->song[k] != g->song[e]) return g->song[k];
    return -1;
}

typedef struct {
    nn_mlp *net;
    const float *x;
    int ldx, B, d;
    float *xb, *work, *logq_b, *logq;   /* logq per song (NULL: no correction) */
    int32_t *ids;
} pair_batch;

/* loss of m pairs (anchor songs a, positive songs p); train = 1 also steps */
static double run_batch(pair_batch *pb, const int32_t *a, const int32_t *p, int m, int train, nn_optim *opt) {
    nn_mlp *net = pb->net;
    const nn_head_spec *h = &net->arch.head[0];
    for (int i = 0; i < m; i++) {
        memcpy(pb->xb + (size_t)i * pb->ldx, pb->x + (size_t)a[i] * pb->ldx, sizeof(float) * (size_t)pb->ldx);
        memcpy(pb->xb + (size_t)(m + i) * pb->ldx, pb->x + (size_t)p[i] * pb->ldx, sizeof(float) * (size_t)pb->ldx);
        pb->ids[i] = p[i];
        if (pb->logq) pb->logq_b[i] = pb->logq[p[i]];
    }
    if (train) nn_mlp_zero_grad(net);
    nn_mlp_forward(net, pb->xb, pb->ldx, 2 * m, train);
    const float *E = nn_mlp_output(net, net->arch.n_layers - 1);
    float *dA = train ? net->dpred : NULL, *dP = train ? net->dpred + (size_t)m * pb->d : NULL;
    double l = h->loss == NN_LOSS_INFONCE
        ? nn_infonce(dA, dP, E, E + (size_t)m * pb->d, m, pb->d, pb->logq ? pb->logq_b : NULL, pb->ids,
                     h->temperature, h->weight, pb->work)
        : nn_triplet(dA, dP, E, E + (size_t)m * pb->d, m, pb->d, pb->ids, h->margin, h->weight, pb->work);
    if (train && isfinite(l)) {
        nn_mlp_backward(net, 2 * m);
        nn_optim_step(opt, net->params, net->grads);
    }
    return l;
}

int nn_mlp_train_pairs(nn_mlp *net, const float *x, int64_t N, const nn_members *mem, int logq_correction,
                       nn_train_cfg *cfg, nn_train_result *res, char *err, size_t errlen) {
    memset(res, 0, sizeof *res);
    res->best_epoch = -1;
    res->metric_name = "val_loss";
    int rc = -1;
    const nn_head_spec *h = &net->arch.head[0];
    if (net->arch.n_heads != 1 || !nn_loss_is_pair(h->loss))
        return err_fail(err, errlen, "training on pairs needs one infonce or triplet output");
    groups g = {0};
    nn_early_stop es = {0};
    nn_optim *opt = &cfg->optim;
    opt->m = opt->v = NULL;
    pair_batch pb = {net, x, net->arch.n_num + net->arch.n_cat, 0, h->dim, NULL, NULL, NULL, NULL, NULL};
    int64_t *lists = NULL, *train_e = NULL;
    int32_t *va = NULL, *vp = NULL, *ba = NULL, *bp = NULL;
    int64_t *count = NULL;
    float *best_buf = malloc(sizeof(float) * (net->n_buffers ? net->n_buffers : 1));
    for (int64_t i = 0; i < mem->n; i++)
        if (mem->song[i] < 0 || mem->song[i] >= N || mem->list[i] < 0) {
            err_fail(err, errlen, "membership entry %lld: song row %d or list %d out of range", (long long)i, mem->song[i], mem->list[i]);
            goto done;
        }
    if (!best_buf || group(&g, mem) || nn_early_stop_init(&es, cfg->patience, cfg->min_delta, net->n_params) ||
        nn_optim_init(opt, net->n_params)) {
        err_fail(err, errlen, "out of memory");
        goto done;
    }
    rng_state r;
    rng_seed(&r, cfg->seed);
    /* hold out whole lists: a seeded shuffle of the lists with 2+ entries */
    lists = malloc(sizeof *lists * (size_t)(g.n_lists + 1));
    train_e = malloc(sizeof *train_e * (size_t)(mem->n + 1));
    count = calloc((size_t)N, sizeof *count);
    if (!lists || !train_e || !count) { err_fail(err, errlen, "out of memory"); goto done; }
    int64_t nl = 0;
    for (int64_t l = 0; l < g.n_lists; l++) if (g.start[l + 1] - g.start[l] >= 2) lists[nl++] = l;
    rng_shuffle_i64(&r, lists, nl);
    int64_t n_val_lists = (int64_t)llround((double)nl * cfg->val_frac);
    if (cfg->val_frac > 0 && n_val_lists == 0 && nl >= 2) n_val_lists = 1;
    int64_t n_tr = 0, n_va = 0;
    for (int64_t i = n_val_lists; i < nl; i++)
        for (int64_t k = g.start[lists[i]]; k < g.start[lists[i] + 1]; k++) { train_e[n_tr++] = k; count[g.song[k]]++; }
    if (n_tr < 2) {
        err_fail(err, errlen, "%lld playlists with 2+ songs leave %lld membership rows for training; give more playlists or a smaller --val",
                 (long long)nl, (long long)n_tr);
        goto done;
    }
    /* logQ: the probability that a song is drawn as a positive is its share
     * of the training membership rows; songs never drawn get the floor */
    if (logq_correction) {
        if (!(pb.logq = malloc(sizeof *pb.logq * (size_t)N))) { err_fail(err, errlen, "out of memory"); goto done; }
        for (int64_t s = 0; s < N; s++) pb.logq[s] = logf((float)((count[s] ? count[s] : 1) / (double)n_tr));
    }
    /* the validation pairs, drawn once */
    for (int64_t i = 0; i < n_val_lists; i++) n_va += g.start[lists[i] + 1] - g.start[lists[i]];
    va = malloc(sizeof *va * (size_t)(n_va + 1));
    vp = malloc(sizeof *vp * (size_t)(n_va + 1));
    if (!va || !vp) { err_fail(err, errlen, "out of memory"); goto done; }
    {
        rng_state rv;
        rng_seed(&rv, cfg->seed ^ 0x9e3779b97f4a7c15ull);
        int64_t k = 0;
        for (int64_t i = 0; i < n_val_lists; i++)
            for (int64_t e = g.start[lists[i]]; e < g.start[lists[i] + 1]; e++) {
                int32_t p = positive(&g, e, &rv);
                if (p >= 0) { va[k] = g.song[e]; vp[k] = p; k++; }
            }
        n_va = k;
        /* shuffled once so that a batch mixes playlists (negatives from other lists) */
        int64_t *perm = malloc(sizeof *perm * (size_t)(n_va + 1));
        int32_t *t = malloc(sizeof *t * 2 * (size_t)(n_va + 1));
        if (!perm || !t) { free(perm); free(t); err_fail(err, errlen, "out of memory"); goto done; }
        for (int64_t i = 0; i < n_va; i++) perm[i] = i;
        rng_shuffle_i64(&rv, perm, n_va);
        for (int64_t i = 0; i < n_va; i++) { t[2 * i] = va[perm[i]]; t[2 * i + 1] = vp[perm[i]]; }
        for (int64_t i = 0; i < n_va; i++) { va[i] = t[2 * i]; vp[i] = t[2 * i + 1]; }
        free(perm);
        free(t);
    }
    res->n_train = n_tr;
    res->n_val = n_va;
    pb.B = (int)(cfg->batch < n_tr ? cfg->batch : n_tr);
    if (pb.B < 2) { err_fail(err, errlen, "--batch %d: pair losses need at least 2 pairs per batch (in-batch negatives)", cfg->batch); goto done; }
    pb.xb = malloc(sizeof(float) * 2 * (size_t)pb.B * (size_t)(pb.ldx ? pb.ldx : 1));
    pb.work = malloc(sizeof(float) * (size_t)nn_contrastive_work(pb.B, pb.d));
    pb.logq_b = malloc(sizeof(float) * (size_t)pb.B);
    pb.ids = malloc(sizeof(int32_t) * (size_t)pb.B);
    ba = malloc(sizeof *ba * (size_t)pb.B);
    bp = malloc(sizeof *bp * (size_t)pb.B);
    if (!pb.xb || !pb.work || !pb.logq_b || !pb.ids || !ba || !bp || nn_mlp_reserve(net, 2 * pb.B)) {
        err_fail(err, errlen, "out of memory for batches of %d pairs", pb.B);
        goto done;
    }
    for (int e = 1; e <= cfg->epochs; e++) {
        double t0 = now_s(), ls = 0;
        int64_t seen = 0;
        rng_shuffle_i64(&r, train_e, n_tr);
        int m = 0, stopped = 0;
        for (int64_t i = 0; i < n_tr; i++) {
            int32_t p = positive(&g, train_e[i], &r);
            if (p < 0) continue;
            ba[m] = g.song[train_e[i]];
            bp[m++] = p;
            if (m < pb.B && i + 1 < n_tr) continue;
            if (m >= 2) {
                double l = run_batch(&pb, ba, bp, m, 1, opt);
                if (!isfinite(l)) {
                    err_fail(err, errlen, "epoch %d: the training loss is no longer finite (diverged); lower --lr or check the inputs", e);
                    goto done;
                }
                ls += l * m;
                seen += m;
            }
            m = 0;
            if (cfg->stop && *cfg->stop) { stopped = 1; break; }
        }
        if (stopped) { res->interrupted = 1; break; }
        nn_epoch_stats s = {e, seen ? ls / (double)seen : 0, NAN, NAN, 0, 0};
        if (n_va >= 2) {
            double vs = 0;
            int64_t vn = 0;
            for (int64_t i = 0; i < n_va; i += pb.B) {
                int k = (int)(n_va - i < pb.B ? n_va - i : pb.B);
                if (k < 2) break;
                vs += run_batch(&pb, va + i, vp + i, k, 0, NULL) * k;
                vn += k;
            }
            s.val_loss = vs / (double)vn;
        } else {
            s.val_loss = s.train_loss;
        }
        s.metric = s.val_loss;
        s.seconds = now_s() - t0;
        int end = nn_train_epoch_end(cfg, net, &es, best_buf, &s, res, err, errlen);
        if (end < 0) goto done;
        if (end) break;
    }
    nn_train_finish(net, &es, best_buf, res);
    rc = 0;
done:
    groups_free(&g);
    free(lists); free(train_e); free(count); free(va); free(vp); free(ba); free(bp);
    free(pb.xb); free(pb.work); free(pb.logq_b); free(pb.ids); free(pb.logq);
    free(best_buf);
    nn_early_stop_free(&es);
    nn_optim_free(opt);
    return rc;
}
