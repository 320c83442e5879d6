/* Constant folding of shape computations with free dims (kiln_options.symbolic_dims). A
 * model exported with a free batch or sequence length computes shapes from them: Shape of
 * a value with free dims, then Gather, Concat, Unsqueeze, Mul... of its elements, into the
 * shape a Reshape or an Expand reads. Those are folded as any constant is, at the syms'
 * hints, and also at the points of the syms (passes/sym_points.h), where each integer
 * element that changes is matched to a polynomial of the free dims (kiln_value.sym_data),
 * as symbolic inference matches a dim. So the ops that read such a shape see its value at
 * every point, and their output dims become the same polynomials. An element no
 * polynomial explains (a float, a comparison) leaves the node to run at run time, where a
 * kernel reads the free dims' values instead (passes/lower_dyn.c). */
#include "passes/passes.h"

#include "ir/dtype.h"
#include "ir/op.h"
#include "passes/sym_points.h"

#include <stdlib.h>
#include <string.h>

#define MAX_ELEMS 64   /* elements of one output followed through the free dims */
#define MAX_PAIRS 24   /* elements combined pairwise into candidates (sums, products) */

static int64_t elem(const void *data, kiln_dtype t, int64_t i) {
  return t == KILN_I32 ? ((const int32_t *)data)[i] : ((const int64_t *)data)[i];
}

static int add(kiln_symdim *c, int n, const kiln_symdim *x) {
  int64_t k;
  if (n >= KILN_SYM_MAX_CANDS || kiln_symdim_is_const(x, &k)) return n;
  for (int i = 0; i < n; i++)
    if (kiln_symdim_equal(&c[i], x)) return n;
  c[n] = *x;
  return n + 1;
}

/* The node's candidates (its inputs' dims and elements), and the sums, differences and
 * products of pairs of its inputs' elements, and of an element and a constant one: what a
 * Mul, Add or Sub of shape elements makes. */
static int candidates(const kiln_graph *g, const kiln_node *n, kiln_symdim *c) {
  int nc = kiln_sym_candidates(g, n, false, c, KILN_SYM_MAX_CANDS);
  kiln_symdim el[MAX_PAIRS];
  int64_t k[MAX_PAIRS];
  int ne = 0, nk = 0;
  for (int i = 0; i < n->ninputs; i++) {
    const kiln_value *v = kiln_node_in(g, n, i);
    if (!v || !v->data || (v->dtype != KILN_I64 && v->dtype != KILN_I32)) continue;
    for (int64_t e = 0; e < kiln_value_numel(v) && e < MAX_ELEMS; e++) {
      kiln_symdim x = kiln_value_sym_elem(g, v, e);
      int64_t c0;
      if (!kiln_symdim_is_const(&x, &c0)) {
        if (ne < MAX_PAIRS) el[ne++] = x;
      } else if (c0 >= 2 && c0 <= (1 << 20) && nk < MAX_PAIRS) {
        k[nk++] = c0;
      }
    }
  }
  for (int a = 0; a < ne; a++) {
    for (int b = a; b < ne; b++) {
      kiln_symdim x, neg = kiln_symdim_const(-1), nb;
      if (kiln_symdim_mul(&el[a], &el[b], &x)) nc = add(c, nc, &x);
      if (kiln_symdim_add(&el[a], &el[b], &x)) nc = add(c, nc, &x);
      if (b > a && kiln_symdim_mul(&el[b], &neg, &nb) && kiln_symdim_add(&el[a], &nb, &x))
        nc = add(c, nc, &x);
      if (b > a && kiln_symdim_mul(&el[a], &neg, &nb) && kiln_symdim_add(&el[b], &nb, &x))
        nc = add(c, nc, &x);
    }
    for (int j = 0; j < nk; j++) {
      kiln_symdim x, kc = kiln_symdim_const(k[j]);
      if (kiln_symdim_mul(&el[a], &kc, &x)) nc = add(c, nc, &x);
    }
  }
  return nc;
}

static void free_outs(void **outs, int n) {
  for (int i = 0; i < n; i++) free(outs[i]);
}

typedef struct fold_probe {
  const kiln_node *n;
  void **hint; /* the outputs at the hints */
  int **out;   /* per output, per element: its polynomial's index, 0 for a constant */
} fold_probe;

/* Does running the node with the syms at vals give what was found: each element its
 * polynomial there, or its constant? */
static int holds_at(kiln_graph *g, void *ctx, const int64_t *vals) {
  const fold_probe *f = ctx;
  const kiln_node *n = f->n;
  void *got[64];
  int64_t saved[64][KILN_MAX_RANK];
  kiln_error e = {0};
  kiln_sym_set_vals(g, n, false, vals, saved);
  bool ok = kiln_fold_run(g, n, got, &e) == KILN_OK;
  kiln_sym_restore(g, n, false, saved);
  bool ran = ok;
  for (int o = 0; o < n->noutputs && ok; o++) {
    const kiln_value *v = kiln_node_out(g, n, o);
    int64_t m = v ? kiln_value_numel(v) : 0;
    if (!v || m <= 0 || !f->hint[o]) continue;
    if (!got[o]) {
      ok = false;
      break;
    }
    if (!f->out[o]) { /* constant */
      ok = memcmp(got[o], f->hint[o], (size_t)m * kiln_dtype_size(v->dtype)) == 0;
      continue;
    }
    for (int64_t i = 0; i < m && ok; i++) {
      int64_t want = elem(f->hint[o], v->dtype, i);
      if (f->out[o][i] && !kiln_symdim_eval(&g->symdims[f->out[o][i] - 1], vals, &want)) ok = false;
      ok = ok && elem(got[o], v->dtype, i) == want;
    }
  }
  free_outs(got, n->noutputs);
  return !ran ? KILN_PROBE_FAILS : ok ? KILN_PROBE_HOLDS : KILN_PROBE_DIFFERS;
}

kiln_status kiln_fold_sym_data(kiln_graph *g, const kiln_node *n, int ***sym_data,
                               kiln_error *err) {
  *sym_data = NULL;
  if (n->noutputs > 64) return KILN_OK;
  void *hint[64], *at[KILN_SYM_NPOINTS][64];
  if (kiln_fold_run(g, n, hint, err)) return err->code;
  int64_t saved[64][KILN_MAX_RANK];
  bool ok = n->ninputs <= 64;
  int done = 0; /* points run (a failed run's outputs are NULL) */
  for (int p = 0; p < KILN_SYM_NPOINTS && ok; p++) {
    kiln_error e = {0};
    kiln_sym_set_point(g, n, false, p, saved);
    ok = kiln_fold_run(g, n, at[p], &e) == KILN_OK;
    kiln_sym_restore(g, n, false, saved);
    done = p + 1;
  }
  int **out = kiln_xcalloc((size_t)(n->noutputs ? n->noutputs : 1), sizeof *out);
  kiln_symdim *cands = kiln_xmalloc(sizeof *cands * KILN_SYM_MAX_CANDS);
  int nc = ok ? candidates(g, n, cands) : 0;
  for (int o = 0; o < n->noutputs && ok; o++) {
    const kiln_value *v = kiln_node_out(g, n, o);
    int64_t m = v ? kiln_value_numel(v) : 0;
    if (!v || !hint[o] || m <= 0) continue;
    size_t es = kiln_dtype_size(v->dtype);
    bool changes = false;
    for (int p = 0; p < KILN_SYM_NPOINTS && !changes; p++)
      changes = !at[p][o] || memcmp(at[p][o], hint[o], (size_t)m * es) != 0;
    if (!changes) continue;
    if ((v->dtype != KILN_I64 && v->dtype != KILN_I32) || m > MAX_ELEMS) {
      ok = false;
      break;
    }
    out[o] = kiln_xcalloc((size_t)m, sizeof(int));
    for (int64_t e = 0; e < m && ok; e++) {
      int64_t h = elem(hint[o], v->dtype, e), vals[KILN_SYM_NPOINTS];
      bool same = true;
      for (int p = 0; p < KILN_SYM_NPOINTS; p++) {
        vals[p] = elem(at[p][o], v->dtype, e);
        same &= vals[p] == h;
      }
      if (same) continue;
      kiln_symdim x;
      ok = kiln_sym_match(g, cands, nc, h, vals, true, &x) ||
           kiln_sym_match_div(g, cands, nc, h, vals, &x) ||
           kiln_sym_match_min(g, cands, nc, h, vals, &x);
      int64_t xh;
      ok = ok && kiln_symdim_eval(&x, g->sym_hint, &xh) && xh == h;
      if (ok) out[o][e] = kiln_graph_symdim_index(g, &x);
    }
  }
  for (int p = 0; p < done; p++) free_outs(at[p], n->noutputs);
  if (ok) { /* where what the points show stops holding (a Min of a dim and 10) */
    fold_probe f = {n, hint, out}; /* a count it follows otherwise: left to the run */
    ok = kiln_sym_probe(g, kiln_sym_probed_mask(g, n), true, holds_at, &f) < 0;
  }
  free_outs(hint, n->noutputs);
  free(cands);
  if (!ok) {
    for (int o = 0; o < n->noutputs; o++) free(out[o]);
    free(out);
    return KILN_OK;
  }
  *sym_data = out;
  return KILN_OK;
}
