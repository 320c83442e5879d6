/* Symbolic shape inference (kiln_options.symbolic_dims): after an op's infer has computed
 * its outputs at the syms' hints, a node reading a free dim is inferred again at three
 * more points of the syms (passes/sym_points.h); each output dim that changes becomes the
 * dim expression of the node's inputs that agrees with it at every point: one of theirs,
 * plus a constant, or a floor division of one (a strided window's output, a derived sym). Only ops flagged
 * KILN_OP_SYMBOLIC take free dims, and a dim no expression explains, or shapes valid at the
 * hints only, fail the compile rather than being fixed at their hint. */
#include "passes/passes.h"

#include "ir/op.h"
#include "passes/sym_points.h"

#include <stdlib.h>
#include <string.h>

typedef struct out_shape {
  kiln_dtype dtype;
  int rank;
  int64_t dims[KILN_MAX_RANK];
} out_shape;

static kiln_status not_symbolic(const kiln_graph *g, const kiln_node *n, kiln_error *err) {
  for (int i = 0; i < n->ninputs; i++) {
    const kiln_value *v = kiln_node_in(g, n, i);
    for (int d = 0; v && d < v->rank; d++)
      if (v->sym[d]) {
        char buf[128];
        kiln_symdim x = kiln_value_symdim(g, v, d);
        return kiln_fail(err, KILN_ERR_UNSUPPORTED,
                         "node '%s' (%s): input '%s' dim %d is the free dim '%s', which this op "
                         "does not take (bind it: kiln_options.shapes, --shape)",
                         n->name, n->op_type, v->name, d,
                         kiln_symdim_str(&x, (const char *const *)g->sym_names, buf, sizeof buf));
      }
  }
  return KILN_OK;
}

/* A strided window's output size: floor((x + r) / s) + q for a candidate x, a stride
 * 2 <= s <= KILN_SYM_MAX_STRIDE and 0 <= r < s (a ceil division is one with r = s - 1),
 * taking at_hint at the hints and at[p] at each point, into *out (the division a derived
 * sym of g). The series of points moves x through consecutive values, so every r shows.
 * The smallest stride first: deep in a chain of halvings x takes few values at the points,
 * and a product of dims over a large stride can fit them all by chance (16 * h / 29 for
 * h / 2 at ResNet's fourth stage, wrong from h = 16 up). */
#define KILN_SYM_MAX_STRIDE 32
bool kiln_sym_match_div(kiln_graph *g, const kiln_symdim *cands, int nc, int64_t at_hint,
                        const int64_t *at, kiln_symdim *out) {
  int64_t vals[KILN_SYM_NPOINTS][KILN_MAX_SYMS];
  for (int p = 0; p < KILN_SYM_NPOINTS; p++) kiln_sym_point(g, p, vals[p]);
  int64_t(*x)[KILN_SYM_NPOINTS + 1] = kiln_xcalloc((size_t)nc + 1, sizeof *x); /* [p]: hint */
  bool *ok = kiln_xcalloc((size_t)nc + 1, sizeof *ok), fit = false, found = false;
  for (int i = 0; i < nc; i++) {
    ok[i] = kiln_symdim_eval(&cands[i], g->sym_hint, &x[i][KILN_SYM_NPOINTS]);
    for (int p = 0; p < KILN_SYM_NPOINTS && ok[i]; p++)
      ok[i] = kiln_symdim_eval(&cands[i], vals[p], &x[i][p]);
  }
  for (int64_t s = 2; !fit && s <= KILN_SYM_MAX_STRIDE; s++) /* the first fit decides */
    for (int i = 0; !fit && i < nc; i++)
      for (int64_t r = 0; ok[i] && !fit && r < s; r++) {
        int64_t q = at_hint - kiln_floor_div(x[i][KILN_SYM_NPOINTS] + r, s);
        fit = true;
        for (int p = 0; p < KILN_SYM_NPOINTS && fit; p++) fit = kiln_floor_div(x[i][p] + r, s) + q == at[p];
        if (!fit) continue;
        kiln_symdim num, c = kiln_symdim_const(r), qc = kiln_symdim_const(q);
        found = kiln_symdim_add(&cands[i], &c, &num) && kiln_graph_floordiv(g, &num, s, out) &&
                kiln_symdim_add(out, &qc, out);
      }
  free(x);
  free(ok);
  return found;
}

bool kiln_sym_match_min(kiln_graph *g, const kiln_symdim *cands, int nc, int64_t at_hint,
                        const int64_t *at, kiln_symdim *out) {
  int64_t vals[KILN_SYM_NPOINTS][KILN_MAX_SYMS], want[KILN_SYM_NPOINTS + 1];
  for (int p = 0; p < KILN_SYM_NPOINTS; p++) {
    kiln_sym_point(g, p, vals[p]);
    want[p] = at[p];
  }
  want[KILN_SYM_NPOINTS] = at_hint;
  for (int i = 0; i < nc; i++) {
    if (!kiln_graph_symdim_has_data(g, &cands[i])) continue;
    int64_t x[KILN_SYM_NPOINTS + 1], c = -1;
    bool ok = kiln_symdim_eval(&cands[i], g->sym_hint, &x[KILN_SYM_NPOINTS]);
    for (int p = 0; p < KILN_SYM_NPOINTS && ok; p++) ok = kiln_symdim_eval(&cands[i], vals[p], &x[p]);
    for (int p = 0; p <= KILN_SYM_NPOINTS && ok; p++) /* the cap: where x passes it */
      if (want[p] != x[p] && want[p] >= 0 && (c < 0 || want[p] == c)) c = want[p];
    for (int p = 0; p <= KILN_SYM_NPOINTS && ok; p++)
      ok = c >= 0 && want[p] == (x[p] < c ? x[p] : c);
    if (!ok) continue;
    int s = kiln_graph_min_sym(g, &cands[i], c);
    if (s < 0) return false;
    *out = kiln_symdim_sym(s);
    return true;
  }
  return false;
}

/* Input 0's dim d less the outputs' before output i (a Split's last piece, smaller when
 * the axis does not divide evenly: S - 2 ceil(S / 3)); false where some of those have
 * another rank. */
static bool split_rest(const kiln_graph *g, const kiln_node *n, int i, int d, kiln_symdim *out) {
  const kiln_value *x = kiln_node_in(g, n, 0);
  if (!x || x->rank <= d || i == 0) return false;
  *out = kiln_value_symdim(g, x, d);
  kiln_symdim minus = kiln_symdim_const(-1);
  for (int j = 0; j < i; j++) {
    const kiln_value *o = kiln_node_out(g, n, j);
    if (!o || o->rank != x->rank) return false;
    kiln_symdim y = kiln_value_symdim(g, o, d);
    if (!kiln_symdim_mul(&y, &minus, &y) || !kiln_symdim_add(out, &y, out)) return false;
  }
  return true;
}

/* Do n's outputs, inferred with the syms at vals, have the dims their expressions give
 * there? (Inference failing there: no.) The outputs' shapes are put back after. */
static int holds_at(kiln_graph *g, void *node, const int64_t *vals) {
  kiln_node *n = node;
  int64_t saved[64][KILN_MAX_RANK], dims[32][KILN_MAX_RANK];
  int syms[32][KILN_MAX_RANK], ranks[32];
  kiln_dtype types[32];
  for (int i = 0; i < n->noutputs; i++) {
    const kiln_value *v = kiln_node_out(g, n, i);
    if (!v) continue;
    ranks[i] = v->rank, types[i] = v->dtype;
    memcpy(dims[i], v->dims, sizeof dims[i]);
    memcpy(syms[i], v->sym, sizeof syms[i]);
  }
  kiln_sym_set_vals(g, n, false, vals, saved);
  kiln_error inner = {0};
  bool inferred = n->op->infer(g, n, &inner) == KILN_OK, ok = inferred;
  for (int i = 0; i < n->noutputs; i++) {
    kiln_value *v = kiln_node_out(g, n, i);
    if (!v) continue;
    ok = ok && v->rank == ranks[i];
    v->rank = ranks[i], v->dtype = types[i];
    memcpy(v->sym, syms[i], sizeof syms[i]);
    for (int d = 0; ok && d < v->rank; d++) {
      kiln_symdim x = kiln_value_symdim(g, v, d);
      int64_t want;
      if (v->sym[d]) ok = kiln_symdim_eval(&x, vals, &want) && want == v->dims[d];
      else ok = v->dims[d] == dims[i][d];
    }
    memcpy(v->dims, dims[i], sizeof dims[i]);
  }
  kiln_sym_restore(g, n, false, saved);
  return !inferred ? KILN_PROBE_FAILS : ok ? KILN_PROBE_HOLDS : KILN_PROBE_DIFFERS;
}

/* kiln_infer_symbolic at the points as g->sym_shift moves them; *at_points when the op's
 * infer failed at one of them (nothing else changed then). */
static kiln_status infer_symbolic_at(kiln_graph *g, kiln_node *n, bool *at_points,
                                     kiln_error *err) {
  *at_points = false;
  if (n->op->flags & KILN_OP_DATA_DIMS) return KILN_OK; /* its infer set its syms */
  for (int i = 0; i < n->noutputs; i++) {
    kiln_value *v = kiln_node_out(g, n, i);
    if (v) memset(v->sym, 0, sizeof v->sym);
  }
  if (!g->nsyms || !kiln_node_is_symbolic(g, n)) return KILN_OK;
  /* any op may read a shape computation's elements (sym_data) or, reading only its shape,
   * a value with free dims, as long as its outputs' dims do not follow them */
  bool takes = n->op->flags & KILN_OP_SYMBOLIC, free_dims = false;
  for (int i = 0; i < n->ninputs; i++) {
    const kiln_value *v = kiln_node_in(g, n, i);
    free_dims |= v && kiln_value_is_symbolic(v) && !(i == 0 && (n->op->flags & KILN_OP_SHAPE_OF));
  }
  if (!takes && free_dims) return not_symbolic(g, n, err);
  if (n->noutputs > 32 || n->ninputs > 64)
    return kiln_fail(err, KILN_ERR_UNSUPPORTED, "node '%s' (%s): more than 64 inputs or 32 "
                     "outputs with free dims", n->name, n->op_type);
  out_shape hint[32], at[KILN_SYM_NPOINTS][32];
  for (int i = 0; i < n->noutputs; i++) {
    kiln_value *v = kiln_node_out(g, n, i);
    if (v) hint[i] = (out_shape){v->dtype, v->rank, {0}};
    if (v) memcpy(hint[i].dims, v->dims, sizeof v->dims);
  }
  int64_t saved[64][KILN_MAX_RANK];
  kiln_status st = KILN_OK;
  kiln_error inner = {0};
  for (int p = 0; p < KILN_SYM_NPOINTS && !st; p++) {
    kiln_sym_set_point(g, n, false, p, saved);
    st = n->op->infer(g, n, &inner);
    for (int i = 0; i < n->noutputs && !st; i++) {
      kiln_value *v = kiln_node_out(g, n, i);
      if (v) at[p][i] = (out_shape){v->dtype, v->rank, {0}};
      if (v) memcpy(at[p][i].dims, v->dims, sizeof v->dims);
      if (v && (v->rank != hint[i].rank || v->dtype != hint[i].dtype)) st = KILN_ERR_SHAPE;
    }
    kiln_sym_restore(g, n, false, saved);
  }
  for (int i = 0; i < n->noutputs; i++) { /* back to the hints' shapes */
    kiln_value *v = kiln_node_out(g, n, i);
    if (!v) continue;
    v->dtype = hint[i].dtype;
    v->rank = hint[i].rank;
    memcpy(v->dims, hint[i].dims, sizeof v->dims);
    memset(v->sym, 0, sizeof v->sym);
  }
  *at_points = st != KILN_OK;
  if (st)
    return kiln_fail(err, KILN_ERR_UNSUPPORTED,
                     "node '%s' (%s): its shapes hold for some values of the free dims only "
                     "(%s); bind them (kiln_options.shapes, --shape)",
                     n->name, n->op_type, inner.message[0] ? inner.message : "rank changes");
  kiln_symdim cands[KILN_SYM_MAX_CANDS];
  int nc = kiln_sym_candidates(g, n, false, cands, KILN_SYM_MAX_CANDS);
  for (int i = 0; i < n->noutputs; i++) {
    kiln_value *v = kiln_node_out(g, n, i);
    for (int d = 0; v && d < v->rank; d++) {
      int64_t vals[KILN_SYM_NPOINTS];
      bool same = true;
      for (int p = 0; p < KILN_SYM_NPOINTS; p++) {
        vals[p] = at[p][i].dims[d];
        same &= vals[p] == v->dims[d];
      }
      if (same) continue;
      if (!takes)
        return kiln_fail(err, KILN_ERR_UNSUPPORTED, "node '%s' (%s): output '%s' dim %d follows "
                         "the free dims, which this op does not take (bind them: "
                         "kiln_options.shapes, --shape)", n->name, n->op_type, v->name, d);
      kiln_symdim x, rest;
      bool has_rest = split_rest(g, n, i, d, &rest);
      if ((!kiln_sym_match(g, cands, nc, v->dims[d], vals, true, &x) &&
           !kiln_sym_match_div(g, cands, nc, v->dims[d], vals, &x) &&
           !kiln_sym_match_min(g, cands, nc, v->dims[d], vals, &x) &&
           !(has_rest && kiln_sym_match(g, &rest, 1, v->dims[d], vals, false, &x))) ||
          !kiln_value_set_symdim(g, v, d, &x))
        return kiln_fail(err, KILN_ERR_UNSUPPORTED,
                         "node '%s' (%s): output '%s' dim %d depends on the free dims in a way "
                         "kiln cannot compile; bind them (kiln_options.shapes, --shape)",
                         n->name, n->op_type, v->name, d);
      if (kiln_graph_symdim_falls(g, &x)) {
        char expr[128];
        kiln_symdim_str(&x, (const char *const *)g->sym_names, expr, sizeof expr);
        return kiln_fail(err, KILN_ERR_UNSUPPORTED,
                         "node '%s' (%s): output '%s' dim %d is %s, which falls as a size the "
                         "run computes grows: kiln plans memory at that size's bound",
                         n->name, n->op_type, v->name, d, expr);
      }

    }
  }
  int differs = kiln_sym_probe(g, kiln_sym_probed_mask(g, n), true, holds_at, n);
  if (differs >= 0)
    return kiln_fail(err, KILN_ERR_UNSUPPORTED, "node '%s' (%s): its output dims follow the "
                     "size '%s' the run computes by another rule when it is small (a Slice to "
                     "a constant end past it), which kiln cannot compile", n->name, n->op_type,
                     g->sym_names[differs]);
  return KILN_OK;
}

/* A node whose shapes fail at the least points (a 2-wide window past five halvings of
 * H = 23: GoogLeNet, ConvNeXt) is inferred again at points moved up for the syms a division
 * reads, as lowering does (passes/lower_dyn.c); later nodes start there, and the sizes
 * below are probed (kiln_sym_probe). */
kiln_status kiln_infer_symbolic(kiln_graph *g, kiln_node *n, kiln_error *err) {
  bool at_points, divided = kiln_sym_any_divided(g);
  g->sym_shift = g->sym_shift_infer;
  kiln_status st = infer_symbolic_at(g, n, &at_points, err);
  for (int64_t shift = g->sym_shift_infer + 32;
       st && at_points && divided && shift <= KILN_SYM_MAX_SHIFT; shift += 32) {
    kiln_error again = {0};
    g->sym_shift = shift;
    if (!infer_symbolic_at(g, n, &at_points, &again)) {
      g->sym_shift_infer = shift;
      if (err) memset(err, 0, sizeof *err);
      st = KILN_OK;
    }
  }
  g->sym_shift = 0;
  return st;
}
