/* Staging tiles in GPU shared memory (ir/staging.h): the footprint of a buffer in one
 * iteration of a loop, from the affine form of its load's indices, and the legality of a
 * schedule's shares. The tile is a box: along each dim, from the index at the iteration's
 * first point over the span the varying loops add (coefficients >= 0, so that first point
 * is the least index). */
#include "ir/staging.h"

#include "ir/dtype.h"

#include <string.h>

#define MAX_DEPTH 64

static bool affine(const kiln_expr *x, int depth, kiln_affine *f) {
  memset(f, 0, sizeof *f);
  if (!x || depth > MAX_DEPTH || !kiln_dtype_is_int(x->dtype)) return false;
  kiln_affine a, b;
  switch (x->kind) {
  case KX_CONST: f->c0 = x->i; return true;
  case KX_VAR:
    if (x->axis < 0 || x->axis >= KILN_MAX_AXES) return false;
    f->coef[x->axis] = 1;
    return true;
  case KX_CAST:
    return !x->op && x->a && kiln_dtype_is_int(x->a->dtype) && affine(x->a, depth + 1, f);
  case KX_BINARY:
    if (!affine(x->a, depth + 1, &a) || !affine(x->b, depth + 1, &b)) return false;
    if (x->op == KB_ADD || x->op == KB_SUB) {
      bool sub = x->op == KB_SUB;
      for (int i = -1; i < KILN_MAX_AXES; i++) {
        int64_t p = i < 0 ? a.c0 : a.coef[i], q = i < 0 ? b.c0 : b.coef[i];
        int64_t *r = i < 0 ? &f->c0 : &f->coef[i];
        if (sub ? __builtin_sub_overflow(p, q, r) : __builtin_add_overflow(p, q, r)) return false;
      }
      return true;
    }
    if (x->op == KB_MUL) {
      bool ca = true, cb = true;
      for (int i = 0; i < KILN_MAX_AXES; i++) ca &= !a.coef[i], cb &= !b.coef[i];
      if (!ca && !cb) return false;
      const kiln_affine *v = ca ? &b : &a;
      int64_t k = ca ? a.c0 : b.c0;
      if (__builtin_mul_overflow(v->c0, k, &f->c0)) return false;
      for (int i = 0; i < KILN_MAX_AXES; i++)
        if (__builtin_mul_overflow(v->coef[i], k, &f->coef[i])) return false;
      return true;
    }
    return false;
  default: return false;
  }
}

bool kiln_affine_of(const kiln_expr *x, kiln_affine *f) { return affine(x, 0, f); }

int kiln_staging_loop(const kiln_schedule *sc) {
  return sc->nshare > 0 && sc->share_loop >= 0 && sc->share_loop < sc->nloops ? sc->share_loop : -1;
}

bool kiln_staging_varies(const kiln_schedule *sc, int at, int l) {
  return l > at || sc->loops[l].kind == KILN_LOOP_THREAD;
}

/* The loads of buf in x: 1 when all have the affine indices of the first (in *t), 0 when
 * there is none, -1 (with why) when they differ or are not affine. */
static int find_loads(const kiln_expr *x, int depth, kiln_tile *t, bool *found, char *why,
                      size_t n) {
  if (!x) return 0;
  if (depth > MAX_DEPTH) return snprintf(why, n, "an expression too deep to analyse"), -1;
  if (x->kind == KX_LOAD) {
    for (int d = 0; d < x->nidx; d++)
      if (find_loads(x->idx[d], depth + 1, t, found, why, n) < 0) return -1;
    if (x->buf == t->buf) {
      if (x->nidx > KILN_MAX_RANK) return snprintf(why, n, "a load of too many dims"), -1;
      kiln_affine f[KILN_MAX_RANK];
      for (int d = 0; d < x->nidx; d++)
        if (!affine(x->idx[d], 0, &f[d]))
          return snprintf(why, n, "buffer %d's index %d is not affine in the axes", t->buf, d), -1;
      if (*found && (x->nidx != t->rank || memcmp(f, t->idx, sizeof f[0] * (size_t)x->nidx)))
        return snprintf(why, n, "buffer %d is loaded at different indices", t->buf), -1;
      *found = true;
      t->rank = x->nidx;
      t->dtype = x->dtype;
      memcpy(t->idx, f, sizeof f[0] * (size_t)x->nidx);
    }
  }
  if (x->kind == KX_CHECK) return snprintf(why, n, "a checked index"), -1;
  if (find_loads(x->a, depth + 1, t, found, why, n) < 0 ||
      find_loads(x->b, depth + 1, t, found, why, n) < 0 ||
      find_loads(x->c, depth + 1, t, found, why, n) < 0)
    return -1;
  return *found;
}

bool kiln_staging_tile(const kiln_stage *s, int at, int buf, kiln_tile *t, char *why, size_t n) {
  memset(t, 0, sizeof *t);
  t->buf = buf;
  bool found = false;
  int r = find_loads(s->value, 0, t, &found, why, n);
  if (r < 0) return false;
  if (!r) return snprintf(why, n, "the stage's value loads no buffer %d", buf), false;
  const kiln_schedule *sc = &s->sched;
  t->elems = 1;
  for (int d = 0; d < t->rank; d++) {
    int64_t e = 1;
    for (int l = 0; l < sc->nloops; l++) {
      const kiln_loop *lp = &sc->loops[l];
      if (!kiln_staging_varies(sc, at, l) || lp->extent < 1) continue;
      int64_t c = t->idx[d].coef[lp->axis], span;
      if (c < 0)
        return snprintf(why, n, "buffer %d's index %d falls as loop %d rises", buf, d, l), false;
      if (__builtin_mul_overflow(c, lp->stride, &span) ||
          __builtin_mul_overflow(span, lp->extent - 1, &span) || __builtin_add_overflow(e, span, &e) ||
          e > KILN_SHARED_BYTES)
        return snprintf(why, n, "buffer %d's tile is larger than shared memory", buf), false;
    }
    t->ext[d] = e;
    if (__builtin_mul_overflow(t->elems, e, &t->elems) || t->elems > KILN_SHARED_BYTES)
      return snprintf(why, n, "buffer %d's tile is larger than shared memory", buf), false;
  }
  return true;
}

static bool has_check(const kiln_expr *x, int depth) {
  if (!x || depth > MAX_DEPTH) return x != NULL;
  if (x->kind == KX_CHECK) return true;
  for (int d = 0; x->kind == KX_LOAD && d < x->nidx; d++)
    if (has_check(x->idx[d], depth + 1)) return true;
  return has_check(x->a, depth + 1) || has_check(x->b, depth + 1) || has_check(x->c, depth + 1);
}

/* Is the nest one the staged emitter takes? A message in why when not. */
static bool nest_ok(const kiln_stage *s, int at, char *why, size_t n) {
  const kiln_schedule *sc = &s->sched;
  for (int a = 0; a < s->naxes; a++)
    if (s->axes[a].dyn || s->axes[a].extent < 1)
      return snprintf(why, n, "axis %d is empty or has a run-time extent", a), false;
  if (s->reduce == KR_NONE || has_check(s->value, 0) || has_check(s->init, 0) || has_check(s->post, 0))
    return snprintf(why, n, "the stage is no reduction or checks indices"), false;
  int nbt = 0;
  int64_t threads = 1, points = 1;
  while (nbt < sc->nloops && (sc->loops[nbt].kind == KILN_LOOP_BLOCK ||
                              sc->loops[nbt].kind == KILN_LOOP_THREAD)) {
    const kiln_loop *lp = &sc->loops[nbt++];
    if (lp->kind == KILN_LOOP_THREAD && s->axes[lp->axis].reduce)
      return snprintf(why, n, "threads share a reduction"), false;
    if (lp->kind == KILN_LOOP_THREAD) threads *= lp->extent;
  }
  if (threads < 2) return snprintf(why, n, "no thread loop outside it"), false;
  for (int l = nbt; l < sc->nloops; l++) {
    const kiln_loop *lp = &sc->loops[l];
    bool red = s->axes[lp->axis].reduce;
    if (l <= at && (!red || lp->kind == KILN_LOOP_VECTOR || (l == at && lp->kind != KILN_LOOP_SERIAL)))
      return snprintf(why, n, "loop %d between the threads and it is no serial reduction", l), false;
    if (l > at && !red && lp->kind != KILN_LOOP_UNROLL && lp->kind != KILN_LOOP_VECTOR)
      return snprintf(why, n, "spatial loop %d inside it is no unrolled or vector tile", l), false;
    if (!red && (__builtin_mul_overflow(points, lp->extent, &points) ||
                 points * threads > KILN_STAGED_MAX_ACC))
      return snprintf(why, n, "more than %d accumulators in a block", KILN_STAGED_MAX_ACC), false;
  }
  if (at < nbt) return snprintf(why, n, "it is a block or thread loop"), false;
  return true;
}

kiln_status kiln_staging_check(const kiln_stage *s, kiln_error *err) {
  const kiln_schedule *sc = &s->sched;
  int at = kiln_staging_loop(sc);
  if (at < 0) return KILN_OK;
  char why[160];
  int64_t bytes = 0;
  bool ok = nest_ok(s, at, why, sizeof why);
  if (sc->nshare > KILN_MAX_SHARE) ok = false, snprintf(why, sizeof why, "too many buffers");
  for (int i = 0; ok && i < sc->nshare; i++) {
    kiln_tile t;
    for (int j = 0; j < i; j++)
      if (sc->share[j] == sc->share[i])
        ok = false, snprintf(why, sizeof why, "buffer %d staged twice", sc->share[i]);
    if (ok && sc->share[i] == s->out_buf)
      ok = false, snprintf(why, sizeof why, "it stages the stage's output");
    if (ok) ok = kiln_staging_tile(s, at, sc->share[i], &t, why, sizeof why);
    if (ok) bytes += t.elems * (int64_t)kiln_dtype_size(t.dtype);
    if (ok && bytes > KILN_SHARED_BYTES)
      ok = false, snprintf(why, sizeof why, "its tiles take %lld bytes of shared memory, more "
                           "than %d", (long long)bytes, KILN_SHARED_BYTES);
  }
  if (ok) return KILN_OK;
  return kiln_fail(err, KILN_ERR_INTERNAL, "stage '%s': loop %d cannot stage in shared memory: %s",
                   s->name, at, why);
}
