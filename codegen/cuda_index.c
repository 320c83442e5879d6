/* 32-bit index arithmetic for the CUDA emitter. A GPU does 64-bit integer multiplies in
 * several instructions and 64-bit division in a long subroutine, so a kernel computes its
 * loop variables, axis values and element indices in int32 when nothing it indexes can
 * leave that range: every buffer's element count and every loop's range fit in int32
 * (decided once per kernel, kiln_cuda_index32). Within such a kernel an i64 expression over
 * loop variables and constants (the index arithmetic of the kernel IR) is computed in
 * int32 when interval arithmetic over the axes' ranges proves that no step of it leaves
 * int32, so the result is the one 64-bit arithmetic gives; anything else (loaded values,
 * checks, casts) stays 64-bit. */
#include "codegen/cuda_emit.h"

#include <limits.h>

#define MAX_DEPTH 10 /* expressions are DAGs: a deep one is left 64-bit, not walked */

/* The largest value of an axis's loop variables together (each loop at its last value). */
static bool axis_span(const kiln_schedule *sc, int axis, int64_t *span) {
  *span = 0;
  for (int l = 0; l < sc->nloops; l++) {
    const kiln_loop *lp = &sc->loops[l];
    int64_t part;
    if (lp->axis != axis || lp->extent <= 0) continue;
    if (kiln_mul_overflows(lp->extent - 1, lp->stride, &part) || part > INT32_MAX - *span)
      return false;
    *span += part;
  }
  return true;
}

bool kiln_cuda_index32(const kiln_kernel *k) {
  if (k->nsyms) return false; /* run-time extents: their hints bound nothing */
  for (int b = 0; b < k->nbufs; b++) {
    int64_t n = 1;
    for (int d = 0; d < k->bufs[b].rank; d++)
      if (kiln_mul_overflows(n, k->bufs[b].dims[d], &n) || n > INT32_MAX) return false;
    if (k->bufs[b].row && kiln_buffer_span(&k->bufs[b]) > INT32_MAX) return false; /* strided */
  }
  for (int j = 0; j < k->nstages; j++) {
    const kiln_stage *s = &k->stages[j];
    for (int a = 0; a < s->naxes; a++) {
      int64_t span;
      if (s->axes[a].extent > INT32_MAX || !axis_span(&s->sched, a, &span)) return false;
    }
    for (int l = 0; l < s->sched.nloops; l++)
      if (s->sched.loops[l].extent > INT32_MAX) return false;
  }
  return true;
}

static bool fits(int64_t lo, int64_t hi) { return lo >= INT32_MIN && hi <= INT32_MAX; }

static bool range(const kiln_cuda *c, const kiln_expr *x, int depth, int64_t *lo, int64_t *hi) {
  if (!x || depth > MAX_DEPTH || x->dtype != KILN_I64) return false;
  int64_t al, ah, bl, bh;
  switch (x->kind) {
  case KX_CONST: *lo = *hi = x->i; return fits(x->i, x->i);
  case KX_VAR: /* an axis is used only once its guard skipped the points past its extent */
    if (!c->st || x->axis < 0 || x->axis >= c->st->naxes) return false;
    *lo = 0;
    *hi = c->st->axes[x->axis].extent > 0 ? c->st->axes[x->axis].extent - 1 : 0;
    return fits(*lo, *hi);
  case KX_BINARY:
    if (!range(c, x->a, depth + 1, &al, &ah) || !range(c, x->b, depth + 1, &bl, &bh))
      return false;
    switch (x->op) { /* operands are int32, so these int64 bounds cannot overflow */
    case KB_ADD: *lo = al + bl, *hi = ah + bh; break;
    case KB_SUB: *lo = al - bh, *hi = ah - bl; break;
    case KB_MUL: {
      int64_t p[4] = {al * bl, al * bh, ah * bl, ah * bh};
      *lo = *hi = p[0];
      for (int i = 1; i < 4; i++) {
        if (p[i] < *lo) *lo = p[i];
        if (p[i] > *hi) *hi = p[i];
      }
      break;
    }
    case KB_DIV: /* by a positive divisor: truncation keeps the quotient between */
      if (bl < 1) return false;
      *lo = al < 0 ? al / bl : al / bh;
      *hi = ah < 0 ? ah / bh : ah / bl;
      break;
    case KB_MOD: /* C's remainder takes the dividend's sign */
      if (bl < 1) return false;
      *lo = al < 0 ? -(bh - 1) : 0;
      *hi = ah > 0 ? bh - 1 : 0;
      break;
    case KB_MIN: *lo = al < bl ? al : bl, *hi = ah < bh ? ah : bh; break;
    case KB_MAX: *lo = al > bl ? al : bl, *hi = ah > bh ? ah : bh; break;
    default: return false;
    }
    return fits(*lo, *hi);
  default: return false;
  }
}

bool kiln_cuda_narrow(const kiln_cuda *c, const kiln_expr *x) {
  int64_t lo, hi;
  return c->idx32 && range(c, x, 0, &lo, &hi);
}
