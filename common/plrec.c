/* plrec.c - the playlist-continuation models as one list (plrec.h): the
 * dispatch mpd-recommend and serve both answer through. */
#include "plrec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const plr_names[PLR_NMODELS] = {"pop", "title", "cooc", "neural", "blend", "itemknn", "rp3beta", "ease", "als"};
const char *const plr_titles[PLR_NMODELS] = {"popularity", "title", "co-occurrence", "neural",
                                             "neural + co-occurrence blend", "item kNN", "RP3beta", "EASE", "ALS"};

int plr_parse(const char *name) {
    for (int i = 0; i < PLR_NMODELS; i++)
        if (strcmp(name, plr_names[i]) == 0) return i;
    return -1;
}

const char *plr_list(char *buf, size_t cap) {
    size_t len = 0;
    buf[0] = 0;
    for (int i = 0; i < PLR_NMODELS && len < cap; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%s", i == 0 ? "" : i == PLR_NMODELS - 1 ? " or " : ", ",
                                plr_names[i]);
    return buf;
}

int plr_needs_weights(plr_kind kind) { return kind == PLR_NEURAL || kind == PLR_BLEND; }
int plr_takes_weights(plr_kind kind) { return plr_needs_weights(kind) || kind == PLR_EASE || kind == PLR_ALS; }

plr_opts plr_defaults(plr_kind kind) {
    return (plr_opts){.kind = kind, .blend = 0.2,
                      .graph = plm_graph_defaults(kind == PLR_RP3BETA ? PLM_RP3BETA : PLM_ITEMKNN),
                      .lambda = 2000, .ease_tracks = 8192, .als = plm_als_defaults()};
}

int plr_build(plr_model *r, const plr_opts *o, const pl_set *train, const char *const *titles, int32_t ntracks,
              const char *weights, char *err, size_t errlen) {
    memset(r, 0, sizeof *r);
    r->o = *o;
    r->o.graph.recency = o->recency;
    if (plr_needs_weights(o->kind)) {
        if (!weights) return snprintf(err, errlen, "model %s needs the neural model's weights (mpd-train -o)",
                                      plr_names[o->kind]), -1;
        if (!(r->net = pln_load(weights, err, errlen))) return -1;
        if (r->net->ntracks > ntracks) ntracks = r->net->ntracks;
    }
    if (weights && !plr_takes_weights(o->kind))
        return snprintf(err, errlen, "model %s reads no model file (%s)", plr_names[o->kind], weights), -1;
    if (plm_build(&r->m, train, titles, ntracks, err, errlen)) goto fail;
    r->built = 1;
    if (o->kind == PLR_EASE) {
        if (weights ? plm_ease_load(&r->ease, weights, "ease.B", r->m.ntracks, err, errlen)
                    : plm_ease_build(&r->ease, &r->m, o->ease_tracks, o->lambda, err, errlen))
            goto fail;
    }
    if (o->kind == PLR_ALS && weights) {
        if (plm_als_load(&r->als, weights, err, errlen)) goto fail;
        if (r->als.ntracks > r->m.ntracks) {
            snprintf(err, errlen, "%s: the ALS model knows %d tracks, the training set and the vocabulary only %d; "
                     "give the tracks it was trained with", weights, r->als.ntracks, r->m.ntracks);
            goto fail;
        }
    } else if (o->kind == PLR_ALS) {
        if (plm_als_train(&r->als, &r->m, &o->als, o->als_report, o->als_ctx, err, errlen)) goto fail;
        free(r->als.X);         /* the playlists' factors: training only */
        r->als.X = NULL;
    }
    r->als.recency = o->recency;
    return 0;
fail:
    plr_free(r);
    return -1;
}

void plr_free(plr_model *r) {
    plm_ease_free(&r->ease);
    plm_als_free(&r->als);
    if (r->built) plm_free(&r->m);
    if (r->net) { pln_free(r->net); free(r->net); }
    memset(r, 0, sizeof *r);
}

int64_t plr_recommend(plr_model *r, const char *title, const int32_t *seeds, int64_t ns, int32_t *out, int64_t n) {
    plm_model *m = &r->m;
    switch (r->o.kind) {
    case PLR_POP: return plm_popular(m, seeds, ns, out, n);
    case PLR_TITLE: return plm_title(m, title, seeds, ns, out, n);
    case PLR_COOC: return plm_cooc(m, title, seeds, ns, out, n);
    case PLR_NEURAL: return ns ? pln_recommend(r->net, m, seeds, ns, out, n) : plm_title(m, title, seeds, ns, out, n);
    case PLR_BLEND:
        return ns ? pln_recommend_blend(r->net, m, seeds, ns, (float)r->o.blend, out, n)
                  : plm_title(m, title, seeds, ns, out, n);
    case PLR_ITEMKNN:
    case PLR_RP3BETA: return plm_graph(m, &r->o.graph, title, seeds, ns, out, n);
    case PLR_EASE: return plm_ease(&r->ease, m, title, seeds, ns, out, n);
    case PLR_ALS: return plm_als(&r->als, m, title, seeds, ns, out, n);
    default: return -1;
    }
}

int plr_recommend_many(plr_model *r, int64_t nq, const char *const *titles, const int32_t *const *seeds,
                       const int64_t *ns, int32_t *out, int64_t n, int64_t *k) {
    if (r->o.kind == PLR_ALS) return plm_als_many(&r->als, &r->m, nq, titles, seeds, ns, out, n, k);
    for (int64_t q = 0; q < nq; q++)
        if ((k[q] = plr_recommend(r, titles[q], seeds[q], ns[q], out + q * n, n)) < 0) return (int)k[q];
    return 0;
}
