/* mlp_arch.c - network architectures: the compact flags (--layers 10,8,6,1
 * --act leaky_relu), the JSON file for richer nets, and the checks both pass
 * through so that a bad architecture fails with a message naming its place.
 *
 * JSON schema (unknown keys are errors, so typos do not pass silently):
 *   {"inputs": ["energy", ...],                          numeric columns
 *    "categorical": [{"column": "track_artist", "dim": 16, "vocab": 0}],
 *    "layers": [{"units": 64, "act": "relu", "slope": 0.01, "dropout": 0,
 *                "batchnorm": false, "name": "enc"}, ...],  hidden layers
 *    "outputs": [{"loss": "mse", "targets": "inputs" | ["col", ...],
 *                 "act": "linear", "slope": 0.01, "weight": 1},
 *                {"loss": "ce", "target": "track_artist", "classes": 0}]}
 * The output layer is implied: its width is the sum of the heads' widths. */
#include "mlp.h"
#include "errbuf.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *dupstr(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

int nn_head_width(const nn_head_spec *h) {
    return h->loss == NN_LOSS_CE ? (int)h->classes : nn_loss_is_pair(h->loss) ? h->dim : h->ntargets;
}

int nn_head_tcols(const nn_head_spec *h) {
    return h->loss == NN_LOSS_CE ? 1 : nn_loss_is_pair(h->loss) ? 0 : h->ntargets;
}

const char *nn_layer_name(const nn_arch *a, int l, char *buf, size_t n) {
    if (a->layer[l].name) return a->layer[l].name;
    snprintf(buf, n, "dense.%d", l);
    return buf;
}

void nn_arch_free(nn_arch *a) {
    for (int i = 0; i < a->n_num; i++) free(a->num[i]);
    free(a->num);
    for (int c = 0; c < a->n_cat; c++) free(a->cat[c].column);
    for (int l = 0; l < a->n_layers; l++) free(a->layer[l].name);
    for (int h = 0; h < a->n_heads; h++) {
        for (int k = 0; k < a->head[h].ntargets; k++) free(a->head[h].targets[k]);
        free(a->head[h].targets);
    }
    memset(a, 0, sizeof *a);
}

static char **dup_list(char *const *src, int n) {
    char **d = calloc((size_t)n + 1, sizeof *d);
    if (!d) return NULL;
    for (int i = 0; i < n; i++)
        if (!(d[i] = dupstr(src[i]))) {
            while (i--) free(d[i]);
            free(d);
            return NULL;
        }
    return d;
}

int nn_arch_copy(nn_arch *d, const nn_arch *s) {
    *d = *s;
    d->num = NULL;
    for (int c = 0; c < s->n_cat; c++) d->cat[c].column = NULL;
    for (int l = 0; l < s->n_layers; l++) d->layer[l].name = NULL;
    for (int h = 0; h < s->n_heads; h++) d->head[h].targets = NULL;
    int bad = !(d->num = dup_list(s->num, s->n_num));
    for (int c = 0; c < s->n_cat; c++)
        bad |= !(d->cat[c].column = dupstr(s->cat[c].column));
    for (int l = 0; l < s->n_layers; l++)
        if (s->layer[l].name) bad |= !(d->layer[l].name = dupstr(s->layer[l].name));
    for (int h = 0; h < s->n_heads; h++)
        bad |= !(d->head[h].targets = dup_list(s->head[h].targets, s->head[h].ntargets));
    if (!bad) return 0;
    /* free what was copied; counts stay so nn_arch_free sees them, NULLs are fine */
    for (int h = 0; h < s->n_heads; h++)
        if (!d->head[h].targets) d->head[h].ntargets = 0;
    if (!d->num) d->n_num = 0;
    nn_arch_free(d);
    return -1;
}

/* ---------------- checks ---------------- */
static int name_taken(const nn_arch *a, const char *s, int upto_num, int upto_cat) {
    for (int i = 0; i < upto_num; i++) if (strcmp(a->num[i], s) == 0) return 1;
    for (int c = 0; c < upto_cat; c++) if (strcmp(a->cat[c].column, s) == 0) return 1;
    return 0;
}

static int check_inputs(const nn_arch *a, int resolved, char *err, size_t el) {
    if (a->n_num < 0 || a->n_num > NN_MAX_INPUTS) return err_fail(err, el, "too many numeric inputs (%d, at most %d)", a->n_num, NN_MAX_INPUTS);
    if (a->n_num + a->n_cat == 0) return err_fail(err, el, "the network has no inputs: name numeric inputs or categorical columns");
    for (int i = 0; i < a->n_num; i++) {
        if (!a->num[i] || !*a->num[i]) return err_fail(err, el, "inputs[%d]: empty column name", i);
        if (name_taken(a, a->num[i], i, 0)) return err_fail(err, el, "inputs[%d]: column '%s' is listed twice", i, a->num[i]);
    }
    for (int c = 0; c < a->n_cat; c++) {
        const nn_cat_spec *s = &a->cat[c];
        if (!s->column || !*s->column) return err_fail(err, el, "categorical[%d]: empty column name", c);
        if (name_taken(a, s->column, a->n_num, c))
            return err_fail(err, el, "categorical[%d]: column '%s' is already an input", c, s->column);
        if (s->dim < 1 || s->dim > NN_MAX_UNITS)
            return err_fail(err, el, "categorical[%d] ('%s'): dim %d is not between 1 and %d", c, s->column, s->dim, NN_MAX_UNITS);
        if (s->vocab < 0 || s->vocab > NN_MAX_VOCAB || (resolved && s->vocab < 1))
            return err_fail(err, el, "categorical[%d] ('%s'): vocab %lld is not between 1 and %d", c, s->column, (long long)s->vocab, NN_MAX_VOCAB);
    }
    return 0;
}

static int check_layers(const nn_arch *a, char *err, size_t el) {
    if (a->n_layers < 1 || a->n_layers > NN_MAX_LAYERS)
        return err_fail(err, el, "%d layers: a network has 1 to %d dense layers (the last is the output layer)", a->n_layers, NN_MAX_LAYERS);
    for (int l = 0; l < a->n_layers; l++) {
        const nn_layer_spec *s = &a->layer[l];
        int out = l == a->n_layers - 1;
        if (s->units < (out ? 0 : 1) || s->units > NN_MAX_UNITS)
            return err_fail(err, el, "layer %d: %d units is not between 1 and %d", l, s->units, NN_MAX_UNITS);
        if (!(s->dropout >= 0 && s->dropout < 1))
            return err_fail(err, el, "layer %d: dropout %g is not in [0, 1)", l, s->dropout);
        if (!isfinite(s->slope)) return err_fail(err, el, "layer %d: slope is not a finite number", l);
        if ((unsigned)s->act >= NN_NACT) return err_fail(err, el, "layer %d: unknown activation", l);
        if (out && (s->dropout > 0 || s->batchnorm || s->act != NN_LINEAR))
            return err_fail(err, el, "layer %d is the output layer: no dropout, batchnorm or activation there (give each output its own \"act\")", l);
        if (s->name) {
            if (!*s->name || strcmp(s->name, "output") == 0 || strcmp(s->name, "input") == 0)
                return err_fail(err, el, "layer %d: the name '%s' is reserved or empty", l, s->name);
            for (int k = 0; k < l; k++)
                if (a->layer[k].name && strcmp(a->layer[k].name, s->name) == 0)
                    return err_fail(err, el, "layer %d: the name '%s' is used twice", l, s->name);
        }
    }
    return 0;
}

static int check_heads(const nn_arch *a, int resolved, char *err, size_t el) {
    if (a->n_heads < 1 || a->n_heads > NN_MAX_HEADS)
        return err_fail(err, el, "%d outputs: a network has 1 to %d outputs", a->n_heads, NN_MAX_HEADS);
    int width = 0;
    for (int h = 0; h < a->n_heads; h++) {
        const nn_head_spec *s = &a->head[h];
        if ((unsigned)s->loss >= NN_NLOSS) return err_fail(err, el, "outputs[%d]: unknown loss", h);
        if (!(s->weight >= 0) || !isfinite(s->weight)) return err_fail(err, el, "outputs[%d]: weight must be a finite number >= 0", h);
        if (nn_loss_is_pair(s->loss)) {
            if (a->n_heads != 1)
                return err_fail(err, el, "outputs[%d]: a '%s' output is the whole output (an embedding): give no other outputs", h, nn_loss_name(s->loss));
            if (s->ntargets) return err_fail(err, el, "outputs[%d]: a '%s' output has no targets (it learns from pairs)", h, nn_loss_name(s->loss));
            if (s->dim < 0 || s->dim > NN_MAX_UNITS || (resolved && s->dim < 1))
                return err_fail(err, el, "outputs[%d]: embedding width %d; give 1 to %d", h, s->dim, NN_MAX_UNITS);
            if (!(s->temperature > 0 && s->temperature <= 100))
                return err_fail(err, el, "outputs[%d]: temperature %g; give a value in (0, 100]", h, s->temperature);
            if (!(s->margin >= 0 && s->margin <= 4))
                return err_fail(err, el, "outputs[%d]: margin %g; give a value in [0, 4] (cosines differ by at most 2)", h, s->margin);
            if ((unsigned)s->act >= NN_NACT) return err_fail(err, el, "outputs[%d]: unknown activation", h);
            width += nn_head_width(s);
            continue;
        }
        if (s->ntargets < 1) return err_fail(err, el, "outputs[%d]: no target columns", h);
        for (int k = 0; k < s->ntargets; k++)
            if (!s->targets[k] || !*s->targets[k]) return err_fail(err, el, "outputs[%d]: empty target column name", h);
        if (s->loss == NN_LOSS_CE) {
            if (s->ntargets != 1)
                return err_fail(err, el, "outputs[%d]: a 'ce' output reads one column of class codes, not %d", h, s->ntargets);
            if (s->classes < 0 || s->classes > NN_MAX_VOCAB || (resolved && s->classes < 2))
                return err_fail(err, el, "outputs[%d]: %lld classes; a 'ce' output needs 2 to %d", h, (long long)s->classes, NN_MAX_VOCAB);
        } else if (s->loss == NN_LOSS_BCE && s->act != NN_SIGMOID) {
            return err_fail(err, el, "outputs[%d]: 'bce' needs probabilities: use act sigmoid (not %s)", h, nn_act_name(s->act));
        }
        if ((unsigned)s->act >= NN_NACT) return err_fail(err, el, "outputs[%d]: unknown activation", h);
        if (s->from_inputs && a->n_num < 1)
            return err_fail(err, el, "outputs[%d]: targets \"inputs\" needs numeric inputs", h);
        width += nn_head_width(s);
    }
    int units = a->layer[a->n_layers - 1].units;
    if (resolved && units != width)
        return err_fail(err, el, "the output layer has %d units but the outputs need %d; make the last layer %d wide", units, width, width);
    return 0;
}

int nn_arch_check(const nn_arch *a, int resolved, char *err, size_t errlen) {
    if (check_inputs(a, resolved, err, errlen) || check_layers(a, err, errlen) ||
        check_heads(a, resolved, err, errlen))
        return -1;
    if (!resolved) return 0;
    /* parameter count must fit comfortably */
    double n = 0, in = a->n_num;
    for (int c = 0; c < a->n_cat; c++) { n += (double)a->cat[c].vocab * a->cat[c].dim; in += a->cat[c].dim; }
    for (int l = 0; l < a->n_layers; l++) {
        n += (in + 3) * a->layer[l].units;
        in = a->layer[l].units;
    }
    if (n > 1e9) return err_fail(err, errlen, "the network would have %.3g parameters; the limit is 1e9", n);
    return 0;
}

int nn_arch_resolve_output(nn_arch *a, char *err, size_t errlen) {
    int width = 0;
    for (int h = 0; h < a->n_heads; h++) width += nn_head_width(&a->head[h]);
    nn_layer_spec *o = &a->layer[a->n_layers - 1];
    if (a->n_heads == 1 && nn_loss_is_pair(a->head[0].loss)) {   /* the embedding is the output layer */
        if (a->head[0].dim == 0) a->head[0].dim = o->units;
        width = a->head[0].dim;
    }
    if (o->units == 0) o->units = width;
    if (o->units != width) {
        char what[256] = "";
        size_t k = 0;
        for (int h = 0; h < a->n_heads && k < sizeof what - 40; h++)
            k += (size_t)snprintf(what + k, sizeof what - k, "%s%d for %s '%s'%s", h ? ", " : "",
                                  nn_head_width(&a->head[h]), nn_loss_name(a->head[h].loss),
                                  a->head[h].from_inputs ? "inputs" : a->head[h].ntargets ? a->head[h].targets[0] : "pairs",
                                  a->head[h].ntargets > 1 && !a->head[h].from_inputs ? "..." : "");
        return err_fail(err, errlen, "the output layer has %d units but the targets need %d (%s); end --layers with %d",
                    o->units, width, what, width);
    }
    return 0;
}

/* ---------------- compact flags ---------------- */
/* "10,8,6,1" -> widths; -1 with a message on anything else */
static int parse_widths(const char *s, int *w, int max, char *err, size_t el) {
    int n = 0;
    const char *p = s;
    if (!*p) return err_fail(err, el, "--layers: empty; expected widths like 10,8,6,1");
    for (;;) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < 1 || v > NN_MAX_UNITS || (*end && *end != ','))
            return err_fail(err, el, "--layers '%s': expected comma-separated widths between 1 and %d, like 10,8,6,1", s, NN_MAX_UNITS);
        if (n == max) return err_fail(err, el, "--layers '%s': more than %d layers", s, max);
        w[n++] = (int)v;
        if (!*end) break;
        p = end + 1;
    }
    return n;
}

/* "col:dim,col:dim" */
static int parse_categorical(nn_arch *a, const char *s, char *err, size_t el) {
    const char *p = s;
    while (*p) {
        const char *comma = strchr(p, ','), *end = comma ? comma : p + strlen(p);
        const char *colon = memchr(p, ':', (size_t)(end - p));
        char *stop;
        long dim = colon ? strtol(colon + 1, &stop, 10) : 0;
        if (!colon || colon == p || stop != end || dim < 1 || dim > NN_MAX_UNITS)
            return err_fail(err, el, "--categorical '%s': expected column:width pairs like track_artist:16,playlist_genre:4", s);
        if (a->n_cat == NN_MAX_CAT) return err_fail(err, el, "--categorical: more than %d columns", NN_MAX_CAT);
        nn_cat_spec *c = &a->cat[a->n_cat];
        if (!(c->column = strndup(p, (size_t)(colon - p)))) return err_fail(err, el, "out of memory");
        c->dim = (int)dim;
        a->n_cat++;
        p = comma ? comma + 1 : end;
    }
    return 0;
}

int nn_arch_from_flags(nn_arch *a, const nn_arch_flags *f, char *err, size_t el) {
    memset(a, 0, sizeof *a);
    int w[NN_MAX_LAYERS];
    int n = parse_widths(f->layers ? f->layers : "", w, NN_MAX_LAYERS, err, el);
    if (n < 0) return -1;
    nn_act act = NN_RELU, out_act = f->loss == NN_LOSS_BCE ? NN_SIGMOID : NN_LINEAR;
    if (f->act && nn_act_parse(f->act, &act))
        return err_fail(err, el, "--act '%s': unknown activation (one of %s)", f->act, NN_ACT_NAMES);
    if (f->out_act && nn_act_parse(f->out_act, &out_act))
        return err_fail(err, el, "--out-act '%s': unknown activation (one of %s)", f->out_act, NN_ACT_NAMES);
    if (!(f->dropout >= 0 && f->dropout < 1)) return err_fail(err, el, "--dropout %g: must be in [0, 1)", f->dropout);
    if (!(a->num = dup_list(f->num, f->n_num))) goto oom;
    a->n_num = f->n_num;
    if (f->categorical && parse_categorical(a, f->categorical, err, el)) goto bad;
    for (int l = 0; l < n; l++) {
        nn_layer_spec *s = &a->layer[l];
        int out = l == n - 1;
        s->units = w[l];
        s->act = out ? NN_LINEAR : act;
        s->slope = f->slope;
        s->dropout = out ? 0 : f->dropout;
        s->batchnorm = out ? 0 : f->batchnorm;
    }
    a->n_layers = n;
    nn_head_spec *h = &a->head[0];
    a->n_heads = 1;
    h->loss = f->loss;
    h->act = out_act;
    h->slope = f->slope;
    h->weight = 1;
    h->temperature = f->temperature > 0 ? f->temperature : 0.1f;
    h->margin = f->margin > 0 ? f->margin : 0.3f;
    if (nn_loss_is_pair(f->loss)) {
        if (f->autoencoder || f->n_targets) { err_fail(err, el, "--loss %s learns from pairs (--pairs): drop --targets/--autoencoder", nn_loss_name(f->loss)); goto bad; }
        h->dim = w[n - 1];
    } else if (f->autoencoder) {
        if (f->n_targets) { err_fail(err, el, "--autoencoder reconstructs the inputs: drop --targets"); goto bad; }
        if (f->loss == NN_LOSS_CE) { err_fail(err, el, "--autoencoder reconstructs numeric inputs: use --loss mse or mae, not ce"); goto bad; }
        h->from_inputs = 1;
        h->ntargets = a->n_num;
        if (!(h->targets = dup_list(a->num, a->n_num))) goto oom;
    } else {
        if (!f->n_targets) { err_fail(err, el, "no targets: give --targets COLUMNS, --target-stream FILE or --autoencoder"); goto bad; }
        h->ntargets = f->n_targets;
        if (!(h->targets = dup_list(f->targets, f->n_targets))) goto oom;
    }
    if (nn_arch_check(a, 0, err, el)) goto bad;
    return 0;
oom:
    err_fail(err, el, "out of memory");
bad:
    nn_arch_free(a);
    return -1;
}
