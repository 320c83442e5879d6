/* Tolerances and comparisons of `kiln verify` (runtime/verify_compare.h).
 *
 * Code against the interpreter: both compute the same kernel IR on the same inputs; the
 * interpreter rounds to the dtype after every operation, generated code may differ in
 *   - each float operation: FMA contraction of a multiply and an add, or a division done
 *     in another order, is up to 1 ulp of its result; exp, log, tanh, erf and sigmoid are
 *     polynomials within 4 ulp of libm (codegen/llvm_vmath.c, tests/unit_vmath.c), and so
 *     are the other transcendental functions and pow as LLVM lowers them;
 *   - sums (and products) reordered by register tiles, vector lanes and split loops: a sum
 *     of K terms evaluated in any order is within (K - 1) eps sum|x_i| of the exact one,
 *     and two orders within twice that.
 * So the bound counts, over every stage of the kernel (a later stage reads what earlier
 * ones left in temporaries), one ulp per float arithmetic node of its expressions and 4
 * per transcendental one (`ulps`: relative to the element, and to the tensor's largest
 * magnitude S, which absorbs the cancellation of x - y), and 2 K per summed reduction of
 * K terms (`terms`, relative to S: sum|x_i| is S's order for the sums kernels compute from
 * inputs of one magnitude; a dropped, repeated or misplaced term moves a result by a term,
 * far more than K eps S for the K of real layers). Max and min are exact; data movement
 * (copies, transposes, gathers, padding) has no float operation, so it must be exact, as
 * integers and bools must.
 *
 * Against the unoptimized program no such count exists: the values went through every
 * layer before them, each with its own roundings (a blocked convolution sums its channels
 * in another order, folded BN rounds W s once instead of (W x) s). 2^-10 of the value and
 * of the tensor's magnitude, some 8000 f32 ulps, is well above what those roundings
 * accumulate over the depth of real networks and well below what a rewrite that computes
 * something else (a weight packed to the wrong place, a wrong bias, an epilogue applied
 * to the wrong element) does. */
#include "runtime/verify_compare.h"

#include "ir/dtype.h"

#include <math.h>
#include <string.h>

#define TRANSCENDENTAL_ULPS 4.0
#define MAX_COUNTED 4096 /* expression nodes counted per stage (trees may be DAGs) */

static double eps_of(kiln_dtype t) {
  switch (t) {
  case KILN_F16: return 0x1p-10;
  case KILN_BF16: return 0x1p-7;
  case KILN_F64: return 0x1p-52;
  case KILN_F8E4M3FN: case KILN_F8E4M3FNUZ: return 0x1p-3;
  case KILN_F8E5M2: case KILN_F8E5M2FNUZ: return 0x1p-2;
  case KILN_F4E2M1: return 0x1p-1;
  default: return 0x1p-23;
  }
}

static double op_ulps(const kiln_expr *e) {
  if (!kiln_dtype_is_float(e->dtype)) return 0;
  switch (e->kind) {
  case KX_UNARY:
    switch ((kiln_unary_op)e->op) {
    case KU_EXP: case KU_LOG: case KU_TANH: case KU_ERF: case KU_SIN: case KU_COS:
    case KU_SIGMOID: return TRANSCENDENTAL_ULPS;
    case KU_SQRT: case KU_RECIP: return 1;
    default: return 0; /* negation, abs, rounding to integers: exact */
    }
  case KX_BINARY:
    switch ((kiln_binary_op)e->op) {
    case KB_ADD: case KB_SUB: case KB_MUL: case KB_DIV: case KB_MOD: return 1;
    case KB_POW: return TRANSCENDENTAL_ULPS;
    default: return 0; /* min, max, logic: exact */
    }
  case KX_CAST: /* narrowing rounds; a bit cast is exact */
    return e->op != KX_CAST_BITS && kiln_dtype_is_float(e->a->dtype) ? 1 : 0;
  default: return 0;
  }
}

/* The ulps of e's float operations; *budget bounds the nodes visited. Indices are
 * integer expressions and are not visited. */
static double expr_ulps(const kiln_expr *e, int *budget) {
  if (!e || --*budget < 0) return 0;
  double u = op_ulps(e);
  if (e->kind == KX_LOAD) return u;
  return u + expr_ulps(e->a, budget) + expr_ulps(e->b, budget) + expr_ulps(e->c, budget);
}

kiln_tolerance kiln_verify_code_tolerance(const kiln_kernel *k) {
  kiln_tolerance t = {0, 0};
  for (int i = 0; i < k->nstages; i++) {
    const kiln_stage *s = &k->stages[i];
    int budget = MAX_COUNTED;
    t.ulps += expr_ulps(s->value, &budget) + expr_ulps(s->post, &budget);
    if (s->reduce == KR_SUM || s->reduce == KR_PROD) {
      double n = 1;
      for (int a = 0; a < s->naxes; a++)
        if (s->axes[a].reduce) n *= (double)s->axes[a].extent;
      if (n > 1) t.terms += 2 * n;
      t.ulps += 1; /* the reduction's own rounding, and the init it starts from */
    }
  }
  return t;
}

kiln_tolerance kiln_verify_rewrite_tolerance(kiln_dtype t) {
  double ulps = 0x1p-10 / eps_of(t);
  return (kiln_tolerance){ulps > 16 ? ulps : 16, 0};
}

void kiln_verify_compare(kiln_dtype t, const void *got, const void *want, int64_t n,
                         const int64_t *map, kiln_tolerance tol, kiln_comparison *c) {
  memset(c, 0, sizeof *c);
  c->total = n;
  c->worst = -1;
  bool fl = kiln_dtype_is_float(t), exact = !fl || (tol.ulps == 0 && tol.terms == 0);
  double scale = 0, eps = eps_of(t), worst_ratio = -1;
  for (int64_t i = 0; fl && i < n; i++) {
    double w = fabs(kiln_load_f64(t, want, i));
    if (isfinite(w) && w > scale) scale = w;
  }
  for (int64_t i = 0; i < n; i++) {
    int64_t at = map ? map[i] : i;
    double g, w, error, bound = 0;
    if (!fl) {
      int64_t gi = kiln_load_i64(t, got, at), wi = kiln_load_i64(t, want, i);
      g = (double)gi;
      w = (double)wi;
      error = gi == wi ? 0 : fabs(g - w) > 0 ? fabs(g - w) : 1;
    } else {
      g = kiln_load_f64(t, got, at);
      w = kiln_load_f64(t, want, i);
      if (isnan(w) || isnan(g)) error = isnan(w) && isnan(g) ? 0 : INFINITY;
      else if (isinf(w) || isinf(g)) error = g == w ? 0 : INFINITY;
      else error = fabs(g - w);
      if (!exact) bound = eps * (tol.ulps * fabs(w) + (tol.ulps + tol.terms) * scale);
    }
    double ratio = error == 0 ? 0 : bound > 0 ? error / bound : INFINITY;
    if (ratio > c->max_ratio) c->max_ratio = ratio;
    if (error > bound) c->bad++;
    if (ratio > worst_ratio) {
      worst_ratio = ratio;
      c->worst = at;
      c->got = g;
      c->want = w;
      c->error = error;
      c->tolerance = bound;
    }
  }
}
