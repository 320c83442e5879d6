/* Points of the syms and candidate dim expressions for symbolic inference and lowering
 * (passes/sym_points.h). */
#include "passes/sym_points.h"

#include "ir/op.h"

#include <stdlib.h>
#include <string.h>

static const int64_t PRIMES[KILN_SYM_NPRIMES][KILN_MAX_SYMS] = {
  {23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89,
   269, 271, 277, 281, 283, 293, 307, 311, 313, 317, 331, 337, 347, 349, 353, 359},
  {97, 101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167, 173,
   367, 373, 379, 383, 389, 397, 401, 409, 419, 421, 431, 433, 439, 443, 449, 457},
  {179, 181, 191, 193, 197, 199, 211, 223, 227, 229, 233, 239, 241, 251, 257, 263,
   461, 463, 467, 479, 487, 491, 499, 503, 509, 521, 523, 541, 547, 557, 563, 569},
};

bool kiln_sym_divided(const kiln_graph *g, int s) {
  if (s >= g->nsyms || g->sym_def[s].den > 0) return false;
  for (int t = s + 1; t < g->nsyms; t++) /* a derived sym reads only syms before it */
    for (int i = 0; g->sym_def[t].den > 0 && i < g->sym_def[t].num.nterms; i++)
      if (g->sym_def[t].num.pow[i][s]) return true;
  return false;
}

void kiln_sym_point(const kiln_graph *g, int p, int64_t *vals) {
  for (int s = 0; s < KILN_MAX_SYMS; s++) {
    vals[s] = p < KILN_SYM_NPRIMES ? PRIMES[p][s] : PRIMES[0][s] + p - KILN_SYM_NPRIMES;
    if (g->sym_shift && kiln_sym_divided(g, s)) vals[s] += g->sym_shift;
  }
  /* a count the run computes stays within its bound (a Slice to it is not clamped), taking
   * every value from 2 up where the bound is small (kiln_nonzero_infer_run refuses bounds
   * below 3); like a free dim, never 1, which lowerings take for a broadcast. The series
   * moves it through the small values 2 to 32, each count in its own order (so that a sum
   * of counts is no multiple of one), and the last prime point puts it at its bound, so
   * that a cap on it (min(count, 10), min(count, 1000)) shows both ways. */
  for (int s = 0; s < g->nsyms; s++) {
    int64_t b;
    if (g->sym_def[s].den != KILN_SYMDIV_DATA) continue;
    if (p >= KILN_SYM_NPRIMES) vals[s] = 2 + (p - KILN_SYM_NPRIMES) * (s % 30 + 1) % 31;
    if (!kiln_symdim_eval(&g->sym_def[s].num, vals, &b) || b < 3) continue;
    if (p == KILN_SYM_NPRIMES - 1) vals[s] = b;
    else if (vals[s] > b) vals[s] = 2 + (vals[s] - 2) % (b - 1);
  }
  kiln_graph_eval_min(g, vals);
  kiln_symdim_derive(g->sym_def, g->nsyms, vals); /* small values: no overflow */
}

bool kiln_sym_any_divided(const kiln_graph *g) {
  for (int s = 0; s < g->nsyms; s++)
    if (kiln_sym_divided(g, s)) return true;
  return false;
}

bool kiln_node_is_symbolic(const kiln_graph *g, const kiln_node *n) {
  for (int i = 0; i < n->ninputs; i++) {
    const kiln_value *v = kiln_node_in(g, n, i);
    if (v && (kiln_value_is_symbolic(v) || kiln_value_has_sym_data(v))) return true;
  }
  for (int i = 0; i < n->noutputs; i++) {
    const kiln_value *v = kiln_node_out(g, n, i);
    if (v && kiln_value_is_symbolic(v)) return true;
  }
  return false;
}

static int add(kiln_symdim *cands, int n, int max, const kiln_symdim *x) {
  int64_t c;
  if (n >= max || kiln_symdim_is_const(x, &c)) return n;
  for (int i = 0; i < n; i++)
    if (kiln_symdim_equal(&cands[i], x)) return n;
  cands[n] = *x;
  return n + 1;
}

static int of_value(const kiln_graph *g, const kiln_value *v, kiln_symdim *cands, int n,
                    int max) {
  for (int a = 0; a < v->rank; a++) {
    kiln_symdim prod = kiln_value_symdim(g, v, a);
    n = add(cands, n, max, &prod);
    for (int b = a + 1; b < v->rank; b++) {
      kiln_symdim x = kiln_value_symdim(g, v, b);
      if (!kiln_symdim_mul(&prod, &x, &prod)) break;
      n = add(cands, n, max, &prod);
    }
  }
  return n;
}

int kiln_sym_candidates(const kiln_graph *g, const kiln_node *n, bool outputs,
                        kiln_symdim *cands, int max) {
  int count = 0;
  for (int i = 0; i < n->ninputs; i++) {
    const kiln_value *v = kiln_node_in(g, n, i);
    if (v && v->kind == KILN_KIND_TENSOR) count = of_value(g, v, cands, count, max);
  }
  for (int i = 0; i < n->ninputs; i++) { /* a shape computation's elements (Reshape's shape) */
    const kiln_value *v = kiln_node_in(g, n, i);
    for (int64_t e = 0; v && kiln_value_has_sym_data(v) && e < kiln_value_numel(v); e++) {
      kiln_symdim x = kiln_value_sym_elem(g, v, e);
      count = add(cands, count, max, &x);
    }
  }
  for (int i = 0; outputs && i < n->noutputs; i++) {
    const kiln_value *v = kiln_node_out(g, n, i);
    if (v) count = of_value(g, v, cands, count, max);
  }
  /* Concat: one dim summed over the inputs before each (an input's offset) and all */
  for (int d = 0; d < KILN_MAX_RANK; d++) {
    kiln_symdim sum = kiln_symdim_const(0);
    bool ok = true;
    for (int i = 0; i < n->ninputs && ok; i++) {
      const kiln_value *v = kiln_node_in(g, n, i);
      if (!v || v->rank <= d) continue;
      kiln_symdim x = kiln_value_symdim(g, v, d);
      ok = kiln_symdim_add(&sum, &x, &sum);
      if (ok) count = add(cands, count, max, &sum);
    }
  }
  return count;
}

/* x + c takes at_hint at the hints and at[p] at every point p */
static bool agrees(const kiln_graph *g, const kiln_symdim *x, int64_t c, int64_t at_hint,
                   const int64_t *at) {
  int64_t v;
  if (at_hint >= 0 && (!kiln_symdim_eval(x, g->sym_hint, &v) || v + c != at_hint)) return false;
  for (int p = 0; p < KILN_SYM_NPOINTS; p++) {
    int64_t vals[KILN_MAX_SYMS];
    kiln_sym_point(g, p, vals);
    if (!kiln_symdim_eval(x, vals, &v) || v + c != at[p]) return false;
  }
  return true;
}

bool kiln_sym_match(const kiln_graph *g, const kiln_symdim *cands, int n, int64_t at_hint,
                    const int64_t *at, bool offset, kiln_symdim *out) {
  for (int i = 0; i < n; i++)
    if (agrees(g, &cands[i], 0, at_hint, at)) return *out = cands[i], true;
  int64_t v0[KILN_MAX_SYMS];
  kiln_sym_point(g, 0, v0);
  for (int i = 0; offset && i < n; i++) {
    int64_t v;
    if (!kiln_symdim_eval(&cands[i], v0, &v)) continue;
    kiln_symdim c = kiln_symdim_const(at[0] - v);
    if (agrees(g, &cands[i], at[0] - v, at_hint, at))
      return kiln_symdim_add(&cands[i], &c, out);
  }
  /* a multiple plus a constant, k x + c for 2 <= k <= 32 (a transposed convolution's
   * output, stride * (x - 1) + ...): k from two points where x differs */
  for (int i = 0; offset && i < n; i++) {
    int64_t v1[KILN_MAX_SYMS], x0, x1;
    int p = 1;
    if (!kiln_symdim_eval(&cands[i], v0, &x0)) continue;
    for (; p < KILN_SYM_NPOINTS; p++) {
      kiln_sym_point(g, p, v1);
      if (kiln_symdim_eval(&cands[i], v1, &x1) && x1 != x0) break;
    }
    if (p == KILN_SYM_NPOINTS || (at[p] - at[0]) % (x1 - x0)) continue;
    int64_t k = (at[p] - at[0]) / (x1 - x0);
    if (k < 2 || k > 32) continue;
    kiln_symdim kx, kc = kiln_symdim_const(k);
    if (!kiln_symdim_mul(&cands[i], &kc, &kx)) continue;
    kiln_symdim c = kiln_symdim_const(at[0] - k * x0);
    if (agrees(g, &kx, at[0] - k * x0, at_hint, at)) return kiln_symdim_add(&kx, &c, out);
  }
  return false;
}

static void set_value(kiln_graph *g, int id, const int64_t *vals, int64_t *saved) {
  kiln_value *v = &g->values[id];
  kiln_value_eval_sym_data(g, v, vals);
  for (int d = 0; d < KILN_MAX_RANK; d++) saved[d] = v->dims[d];
  for (int d = 0; d < v->rank && d < KILN_MAX_RANK; d++) {
    kiln_symdim x = kiln_value_symdim(g, v, d);
    if (v->sym[d]) kiln_symdim_eval(&x, vals, &v->dims[d]);
  }
}

void kiln_sym_set_vals(kiln_graph *g, const kiln_node *n, bool outputs, const int64_t *vals,
                       int64_t (*saved)[KILN_MAX_RANK]) {
  for (int i = 0; i < n->ninputs; i++)
    if (n->inputs[i] >= 0) set_value(g, n->inputs[i], vals, saved[i]);
  for (int i = 0; outputs && i < n->noutputs; i++)
    if (n->outputs[i] >= 0) set_value(g, n->outputs[i], vals, saved[n->ninputs + i]);
}

void kiln_sym_set_point(kiln_graph *g, const kiln_node *n, bool outputs, int p,
                        int64_t (*saved)[KILN_MAX_RANK]) {
  int64_t vals[KILN_MAX_SYMS];
  kiln_sym_point(g, p, vals);
  kiln_sym_set_vals(g, n, outputs, vals, saved);
}

void kiln_sym_restore(kiln_graph *g, const kiln_node *n, bool outputs,
                      int64_t (*saved)[KILN_MAX_RANK]) {
  /* in reverse: a value listed twice was saved at the point the second time */
  for (int i = outputs ? n->noutputs - 1 : -1; i >= 0; i--)
    if (n->outputs[i] >= 0)
      for (int d = 0; d < KILN_MAX_RANK; d++)
        g->values[n->outputs[i]].dims[d] = saved[n->ninputs + i][d];
  for (int i = n->ninputs - 1; i >= 0; i--)
    if (n->inputs[i] >= 0)
      for (int d = 0; d < KILN_MAX_RANK; d++) g->values[n->inputs[i]].dims[d] = saved[i][d];
  for (int i = 0; i < n->ninputs; i++) /* data back at the hints */
    if (n->inputs[i] >= 0) kiln_value_eval_sym_data(g, &g->values[n->inputs[i]], g->sym_hint);
  for (int i = 0; outputs && i < n->noutputs; i++)
    if (n->outputs[i] >= 0) kiln_value_eval_sym_data(g, &g->values[n->outputs[i]], g->sym_hint);
}

bool kiln_sym_match_ratio(const kiln_graph *g, const kiln_symdim *cands, int n, const double *at,
                          kiln_symdim *num, kiln_symdim *den) {
  int64_t(*x)[KILN_SYM_NPOINTS] = kiln_xcalloc((size_t)(n ? n : 1), sizeof *x);
  bool *ok = kiln_xcalloc((size_t)(n ? n : 1), sizeof *ok), found = false;
  for (int i = 0; i < n; i++) {
    ok[i] = true;
    for (int p = 0; p < KILN_SYM_NPOINTS && ok[i]; p++) {
      int64_t vals[KILN_MAX_SYMS];
      kiln_sym_point(g, p, vals);
      ok[i] = kiln_symdim_eval(&cands[i], vals, &x[i][p]) && x[i][p] != 0;
    }
  }
  for (int i = 0; i < n && !found; i++)
    for (int j = 0; j < n && !found && ok[i]; j++) {
      if (i == j || !ok[j]) continue;
      bool fit = true; /* the same double division a lowering does at compile time */
      for (int p = 0; p < KILN_SYM_NPOINTS && fit; p++) fit = (double)x[i][p] / (double)x[j][p] == at[p];
      if (fit) *num = cands[i], *den = cands[j], found = true;
    }
  free(x);
  free(ok);
  return found;
}

/* Bit t for each free input dim or count t that x reads, directly or through a derived
 * sym or a clamped count (min). */
static uint32_t probed_syms(const kiln_graph *g, const kiln_symdim *x) {
  uint32_t m = 0;
  for (int t = 0; t < g->nsyms; t++) {
    if (!kiln_symdim_uses(x, t)) continue;
    if (g->sym_def[t].den > 0) m |= probed_syms(g, &g->sym_def[t].num);
    else if (g->sym_min >> t & 1) m |= probed_syms(g, &g->sym_min_of[t]);
    else m |= 1u << t;
  }
  return m;
}

uint32_t kiln_sym_probed_mask(const kiln_graph *g, const kiln_node *n) {
  uint32_t mask = 0;
  for (int i = 0; i < n->ninputs; i++) {
    const kiln_value *v = kiln_node_in(g, n, i);
    for (int d = 0; v && d < v->rank; d++) {
      kiln_symdim x = kiln_value_symdim(g, v, d);
      mask |= probed_syms(g, &x);
    }
    for (int64_t e = 0; v && kiln_value_has_sym_data(v) && e < kiln_value_numel(v); e++) {
      kiln_symdim x = kiln_value_sym_elem(g, v, e);
      mask |= probed_syms(g, &x);
    }
  }
  return mask;
}

#define KILN_SYM_PROBE_MAX (INT64_C(1) << 31)

static int probe_at(kiln_graph *g, int64_t *vals, int s, int64_t x, kiln_sym_holds holds,
                    void *ctx) {
  vals[s] = x;
  for (int d = 0; d < g->nsyms; d++) { /* the other counts stay within their bounds */
    int64_t b;
    if (d == s || g->sym_def[d].den != KILN_SYMDIV_DATA) continue;
    if (!kiln_symdim_eval(&g->sym_def[d].num, vals, &b)) return KILN_PROBE_FAILS;
    vals[d] = g->sym_hint[d] < b ? g->sym_hint[d] : b;
  }
  kiln_graph_eval_min(g, vals);
  if (!kiln_symdim_derive(g->sym_def, g->nsyms, vals)) return KILN_PROBE_FAILS;
  return holds(g, ctx, vals);
}

int kiln_sym_probe(kiln_graph *g, uint32_t mask, bool above, kiln_sym_holds holds, void *ctx) {
  for (int s = 0; s < g->nsyms; s++) {
    if (!(mask >> s & 1)) continue;
    int64_t vals[KILN_MAX_SYMS], bound;
    memcpy(vals, g->sym_hint, sizeof vals);
    if (g->sym_def[s].den == KILN_SYMDIV_DATA) { /* the small counts, 0 to 64 */
      if (!kiln_symdim_eval(&g->sym_def[s].num, g->sym_hint, &bound)) continue;
      for (int64_t x = 0; x <= 64 && x <= bound; x++)
        if (probe_at(g, vals, s, x, holds, ctx) == KILN_PROBE_DIFFERS) return s;
      continue;
    }
    if (g->sym_def[s].den != 0) continue;
    /* below the points (for a sym a division reads, the points as g->sym_shift moved them:
     * the series showed every residue from there up only) */
    int64_t least = PRIMES[0][s] + (g->sym_shift && kiln_sym_divided(g, s) ? g->sym_shift : 0);
    int64_t x = least - 1;
    for (; x >= 1 && x >= g->sym_lo[s]; x--)
      if (probe_at(g, vals, s, x, holds, ctx) != KILN_PROBE_HOLDS) {
        g->sym_lo[s] = x + 1;
        break;
      }
    /* and size 0 (a KV cache's past length at the first step), once every size above held */
    if (x == 0 && !(g->sym_zero_fails >> s & 1)) {
      if (probe_at(g, vals, s, 0, holds, ctx) == KILN_PROBE_HOLDS) g->sym_zero_holds |= 1u << s;
      else g->sym_zero_fails |= 1u << s;
    }
    int64_t good = g->sym_hint[s], bad = 0;
    for (int64_t x = 2 * good; above && x <= KILN_SYM_PROBE_MAX && !bad; x *= 2) {
      if (g->sym_hi[s] && x > g->sym_hi[s]) break;
      if (probe_at(g, vals, s, x, holds, ctx) == KILN_PROBE_HOLDS) good = x;
      else bad = x;
    }
    while (bad && bad - good > 1) { /* the last size where they hold */
      int64_t mid = good + (bad - good) / 2;
      if (probe_at(g, vals, s, mid, holds, ctx) == KILN_PROBE_HOLDS) good = mid;
      else bad = mid;
    }
    if (bad && (!g->sym_hi[s] || good < g->sym_hi[s])) g->sym_hi[s] = good;
  }
  return -1;
}
