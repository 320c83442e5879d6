#include "ir/kernel.h"
#include "ir/staging.h"

#include "ir/dtype.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

kiln_kernel *kiln_kernel_new(const char *name) {
  kiln_kernel *k = kiln_xcalloc(1, sizeof *k);
  k->name = kiln_arena_strdup(&k->arena, name);
  return k;
}

void kiln_kernel_free(kiln_kernel *k) {
  if (!k) return;
  free(k->stages);
  kiln_arena_free(&k->arena);
  free(k);
}

int kiln_kernel_add_buffer(kiln_kernel *k, const char *name, kiln_buf_role role, int value,
                           kiln_dtype dtype, int rank, const int64_t *dims) {
  if (k->nbufs == KILN_MAX_BUFS) abort(); /* lowerings stay far below (lower.c checks) */
  kiln_buffer *b = &k->bufs[k->nbufs];
  memset(b, 0, sizeof *b);
  b->name = kiln_arena_strdup(&k->arena, name);
  b->role = role;
  b->value = value;
  b->dtype = dtype;
  b->rank = rank;
  if (rank) memcpy(b->dims, dims, sizeof(int64_t) * (size_t)rank);
  return k->nbufs++;
}

kiln_stage *kiln_kernel_add_stage(kiln_kernel *k, const char *name, int out_buf) {
  KILN_GROW(k->stages, k->nstages, k->stages_cap);
  kiln_stage *s = &k->stages[k->nstages++];
  memset(s, 0, sizeof *s);
  s->name = kiln_arena_strdup(&k->arena, name);
  s->out_buf = out_buf;
  return s;
}

int kiln_stage_axis(kiln_stage *s, int64_t extent, bool reduce) {
  if (s->naxes >= KILN_MAX_AXES) abort(); /* op lowerings never need more */
  s->axes[s->naxes] = (kiln_axis){extent, reduce, NULL};
  return s->naxes++;
}

void kiln_stage_store(kiln_kernel *k, kiln_stage *s, kiln_expr *const *idx, kiln_expr *value) {
  int rank = k->bufs[s->out_buf].rank;
  s->nout_idx = rank;
  s->out_idx = kiln_arena_alloc(&k->arena, sizeof(kiln_expr *) * (size_t)(rank ? rank : 1));
  for (int d = 0; d < rank; d++) s->out_idx[d] = idx[d];
  s->value = value;
  kiln_schedule_default(s);
}

static kiln_expr *node(kiln_kernel *k, kiln_expr_kind kind, kiln_dtype t) {
  kiln_expr *e = kiln_arena_alloc(&k->arena, sizeof *e);
  e->kind = kind;
  e->dtype = t;
  return e;
}

kiln_expr *kx_const_f(kiln_kernel *k, kiln_dtype t, double v) {
  kiln_expr *e = node(k, KX_CONST, t);
  if (kiln_dtype_is_float(t)) e->f = v;
  else e->i = (int64_t)v;
  return e;
}

kiln_expr *kx_const_i(kiln_kernel *k, kiln_dtype t, int64_t v) {
  kiln_expr *e = node(k, KX_CONST, t);
  if (kiln_dtype_is_float(t)) e->f = (double)v;
  else e->i = t == KILN_BOOL ? v != 0 : v;
  return e;
}

kiln_expr *kx_idx(kiln_kernel *k, int64_t v) { return kx_const_i(k, KILN_I64, v); }

kiln_expr *kx_var(kiln_kernel *k, int axis) {
  kiln_expr *e = node(k, KX_VAR, KILN_I64);
  e->axis = axis;
  return e;
}

kiln_expr *kx_load(kiln_kernel *k, int buf, kiln_expr *const *idx) {
  kiln_expr *e = node(k, KX_LOAD, k->bufs[buf].dtype);
  e->buf = buf;
  e->nidx = k->bufs[buf].rank;
  e->idx = kiln_arena_alloc(&k->arena, sizeof(kiln_expr *) * (size_t)(e->nidx ? e->nidx : 1));
  for (int d = 0; d < e->nidx; d++) e->idx[d] = idx[d];
  return e;
}

kiln_expr *kx_unary(kiln_kernel *k, kiln_unary_op op, kiln_expr *a) {
  kiln_expr *e = node(k, KX_UNARY, op == KU_NOT || op == KU_ISNAN ? KILN_BOOL : a->dtype);
  if (op == KU_NOT && a->dtype != KILN_BOOL) e->dtype = a->dtype; /* bitwise not */
  e->op = op;
  e->a = a;
  return e;
}

static bool is_compare(kiln_binary_op op) { return op >= KB_EQ && op <= KB_GE; }

kiln_expr *kx_binary(kiln_kernel *k, kiln_binary_op op, kiln_expr *a, kiln_expr *b) {
  kiln_expr *e = node(k, KX_BINARY, is_compare(op) ? KILN_BOOL : a->dtype);
  e->op = op;
  e->a = a;
  e->b = b;
  return e;
}

kiln_expr *kx_binary_exact(kiln_kernel *k, kiln_binary_op op, kiln_expr *a, kiln_expr *b) {
  kiln_expr *e = kx_binary(k, op, a, b);
  e->i = 1;
  return e;
}

kiln_expr *kx_select(kiln_kernel *k, kiln_expr *cond, kiln_expr *a, kiln_expr *b) {
  kiln_expr *e = node(k, KX_SELECT, a->dtype);
  e->a = cond;
  e->b = a;
  e->c = b;
  return e;
}

kiln_expr *kx_cast(kiln_kernel *k, kiln_expr *a, kiln_dtype t) {
  if (a->dtype == t) return a;
  kiln_expr *e = node(k, KX_CAST, t);
  e->a = a;
  return e;
}

kiln_expr *kx_cast_nosat(kiln_kernel *k, kiln_expr *a, kiln_dtype t) {
  kiln_expr *e = kx_cast(k, a, t);
  if (e != a && kiln_dtype_is_minifloat(t)) e->op = KX_CAST_NOSAT;
  return e;
}

kiln_expr *kx_bitcast(kiln_kernel *k, kiln_expr *a, kiln_dtype t) {
  if (a->dtype == t) return a;
  kiln_expr *e = node(k, KX_CAST, t);
  e->op = KX_CAST_BITS;
  e->a = a;
  return e;
}

kiln_expr *kx_acc(kiln_kernel *k, kiln_dtype t) { return node(k, KX_ACC, t); }

kiln_expr *kx_check_index(kiln_kernel *k, kiln_expr *raw, int64_t n, bool from_end,
                          const char *what) {
  kiln_expr *e = node(k, KX_CHECK, KILN_I64);
  e->a = raw;
  e->i = n;
  e->op = from_end;
  e->what = kiln_arena_strdup(&k->arena, what);
  k->has_checks = true;
  return e;
}

static bool is_iconst(const kiln_expr *e, int64_t v) {
  return e->kind == KX_CONST && !kiln_dtype_is_float(e->dtype) && e->i == v;
}

kiln_expr *kx_add(kiln_kernel *k, kiln_expr *a, kiln_expr *b) {
  if (a->kind == KX_CONST && b->kind == KX_CONST && a->dtype == KILN_I64 && b->dtype == KILN_I64)
    return kx_idx(k, a->i + b->i);
  if (is_iconst(a, 0)) return b;
  if (is_iconst(b, 0)) return a;
  return kx_binary(k, KB_ADD, a, b);
}

kiln_expr *kx_mul(kiln_kernel *k, kiln_expr *a, kiln_expr *b) {
  if (a->kind == KX_CONST && b->kind == KX_CONST && a->dtype == KILN_I64 && b->dtype == KILN_I64)
    return kx_idx(k, a->i * b->i);
  if (is_iconst(a, 1)) return b;
  if (is_iconst(b, 1)) return a;
  if (is_iconst(a, 0) || is_iconst(b, 0)) return kx_idx(k, 0);
  return kx_binary(k, KB_MUL, a, b);
}

kiln_expr *kx_addi(kiln_kernel *k, kiln_expr *a, int64_t b) { return kx_add(k, a, kx_idx(k, b)); }
kiln_expr *kx_muli(kiln_kernel *k, kiln_expr *a, int64_t b) { return kx_mul(k, a, kx_idx(k, b)); }

kiln_expr *kx_in_range(kiln_kernel *k, kiln_expr *a, int64_t n) {
  return kx_binary(k, KB_AND, kx_binary(k, KB_GE, a, kx_idx(k, 0)),
                   kx_binary(k, KB_LT, a, kx_idx(k, n)));
}

kiln_expr *kx_clamp_index(kiln_kernel *k, kiln_expr *a, int64_t n) {
  return kx_binary(k, KB_MAX, kx_binary(k, KB_MIN, a, kx_idx(k, n - 1)), kx_idx(k, 0));
}

kiln_expr *kx_and(kiln_kernel *k, kiln_expr *a, kiln_expr *b) {
  if (!a) return b;
  if (!b) return a;
  return kx_binary(k, KB_AND, a, b);
}

kiln_expr *kx_reduce_identity(kiln_kernel *k, kiln_reduce_op op, kiln_dtype t) {
  bool fl = kiln_dtype_is_float(t);
  switch (op) {
  case KR_PROD: return kx_const_i(k, t, 1);
  case KR_MAX:
    if (fl) return kx_const_f(k, t, -INFINITY);
    if (t == KILN_BOOL || !kiln_dtype_is_signed(t)) return kx_const_i(k, t, 0);
    return kx_const_i(k, t, t == KILN_I64 ? INT64_MIN : -(INT64_C(1) << (8 * kiln_dtype_size(t) - 1)));
  case KR_MIN:
    if (fl) return kx_const_f(k, t, INFINITY);
    if (t == KILN_BOOL) return kx_const_i(k, t, 1);
    if (kiln_dtype_is_signed(t))
      return kx_const_i(k, t, t == KILN_I64 ? INT64_MAX : (INT64_C(1) << (8 * kiln_dtype_size(t) - 1)) - 1);
    return kx_const_i(k, t, t == KILN_U64 ? -1 : (int64_t)((UINT64_C(1) << (8 * kiln_dtype_size(t))) - 1));
  default: return kx_const_i(k, t, 0);
  }
}

static bool cannot_fault(const kiln_expr *x, int depth) {
  if (!x || depth > 16) return false;
  switch (x->kind) {
  case KX_CONST: case KX_VAR: case KX_ACC: case KX_DIM: return true;
  case KX_LOAD: case KX_CHECK: return false;
  case KX_BINARY:
    if ((x->op == KB_DIV || x->op == KB_MOD) && !kiln_dtype_is_float(x->a->dtype)) return false;
    return cannot_fault(x->a, depth + 1) && cannot_fault(x->b, depth + 1);
  case KX_SELECT:
    return cannot_fault(x->a, depth + 1) && cannot_fault(x->b, depth + 1) &&
           cannot_fault(x->c, depth + 1);
  default: return cannot_fault(x->a, depth + 1);
  }
}

bool kx_cannot_fault(const kiln_expr *x) { return cannot_fault(x, 0); }

bool kx_uses_axis(const kiln_expr *e, int a) {
  if (!e) return false;
  if (e->kind == KX_VAR) return e->axis == a;
  for (int d = 0; e->kind == KX_LOAD && d < e->nidx; d++)
    if (kx_uses_axis(e->idx[d], a)) return true;
  return kx_uses_axis(e->a, a) || kx_uses_axis(e->b, a) || kx_uses_axis(e->c, a);
}

bool kx_has_load(const kiln_expr *e) {
  return e && (e->kind == KX_LOAD || kx_has_load(e->a) || kx_has_load(e->b) ||
               kx_has_load(e->c));
}

bool kx_gathers(const kiln_expr *e) {
  if (!e) return false;
  for (int d = 0; e->kind == KX_LOAD && d < e->nidx; d++)
    if (kx_has_load(e->idx[d])) return true;
  return kx_gathers(e->a) || kx_gathers(e->b) || kx_gathers(e->c);
}

void kiln_schedule_default(kiln_stage *s) {
  /* spatial axes outside, reductions inside, each in declaration order */
  s->sched.nloops = 0;
  s->sched.prefetch_axis = 0;
  s->sched.prefetch_ahead = 0;
  s->sched.nshare = 0;
  for (int pass = 0; pass < 2; pass++)
    for (int a = 0; a < s->naxes; a++)
      if (s->axes[a].reduce == (pass == 1))
        s->sched.loops[s->sched.nloops++] = (kiln_loop){a, 1, s->axes[a].extent, KILN_LOOP_SERIAL};
}

kiln_status kiln_schedule_check(const kiln_stage *s, kiln_error *err) {
  const kiln_schedule *sc = &s->sched;
  for (int a = 0; a < s->naxes; a++) {
    if (s->axes[a].extent == 0) continue; /* an empty stage: any loops do nothing */
    /* the loops of axis a, taken in stride order, must form a mixed radix covering it:
     * each stride is the product of the extents of the finer loops */
    bool used[KILN_MAX_LOOPS] = {false};
    int64_t expect = 1;
    for (;;) {
      int found = -1;
      for (int l = 0; l < sc->nloops && found < 0; l++)
        if (!used[l] && sc->loops[l].axis == a && sc->loops[l].stride == expect) found = l;
      if (found < 0) break;
      used[found] = true;
      if (kiln_mul_overflows(expect, sc->loops[found].extent, &expect)) break;
    }
    for (int l = 0; l < sc->nloops; l++)
      if (sc->loops[l].axis == a && !used[l])
        return kiln_fail(err, KILN_ERR_INTERNAL, "stage '%s': loop %d of axis %d does not fit",
                         s->name, l, a);
    if (expect < s->axes[a].extent)
      return kiln_fail(err, KILN_ERR_INTERNAL, "stage '%s': schedule does not cover axis %d",
                       s->name, a);
    bool walked = false;
    for (int l = 0; l < sc->nloops; l++) walked |= sc->loops[l].axis == a;
    if (s->axes[a].dyn && !walked)
      return kiln_fail(err, KILN_ERR_INTERNAL, "stage '%s': axis %d has a run-time extent "
                       "and no loop", s->name, a);
  }
  if (s->ordered) {
    bool plain = sc->nloops == s->naxes;
    for (int l = 0; plain && l < sc->nloops; l++)
      plain = sc->loops[l].axis == l && sc->loops[l].stride == 1 &&
              sc->loops[l].kind == KILN_LOOP_SERIAL;
    if (!plain)
      return kiln_fail(err, KILN_ERR_INTERNAL, "stage '%s': its points run in order, so its "
                       "loops must be the default serial nest", s->name);
  }
  bool seen_serial = false;
  int64_t threads = 1, shared = 1; /* shared: threads per point of a shared reduction */
  bool sharing = false;
  int spatial_rest = -1;           /* a spatial loop that is no block or thread loop */
  for (int l = 0; l < sc->nloops; l++) {
    const kiln_loop *lp = &sc->loops[l];
    if (lp->axis < 0 || lp->axis >= s->naxes || lp->extent < 0 || lp->stride < 1)
      return kiln_fail(err, KILN_ERR_INTERNAL, "stage '%s': bad loop %d", s->name, l);
    /* GPU loops: blocks, then threads, then the rest; blocks spatial; none beside parallel
     * ones. Thread loops over reductions come last among the threads (they are the lanes
     * of a group that shares one point's reduction: codegen/cuda_reduce.c). */
    bool block = lp->kind == KILN_LOOP_BLOCK, thread = lp->kind == KILN_LOOP_THREAD;
    bool red = s->axes[lp->axis].reduce;
    kiln_loop_kind before = l ? sc->loops[l - 1].kind : KILN_LOOP_BLOCK;
    if ((block && before != KILN_LOOP_BLOCK) ||
        (thread && before != KILN_LOOP_BLOCK && before != KILN_LOOP_THREAD) ||
        (block && red) || ((block || thread) && sc->loops[0].kind == KILN_LOOP_PARALLEL))
      return kiln_fail(err, KILN_ERR_INTERNAL, "stage '%s': GPU loop %d is not in the leading "
                       "block and thread loops, or is a reduction bound to blocks", s->name, l);
    if (thread && !red && sharing)
      return kiln_fail(err, KILN_ERR_INTERNAL, "stage '%s': thread loop %d over a spatial axis "
                       "follows thread loops over reductions", s->name, l);
    sharing |= thread && red;
    if (thread && red && (lp->extent < 1 || kiln_mul_overflows(shared, lp->extent, &shared) ||
                          shared > KILN_MAX_BLOCK_THREADS || (shared & (shared - 1))))
      return kiln_fail(err, KILN_ERR_INTERNAL, "stage '%s': thread loops over reductions "
                       "share each point among %lld threads, not a power of two from 1 to %d",
                       s->name, (long long)(lp->extent < 1 ? 0 : shared), KILN_MAX_BLOCK_THREADS);
    if (!block && !thread && !red && spatial_rest < 0) spatial_rest = l;
    if (thread && (kiln_mul_overflows(threads, lp->extent, &threads) ||
                   threads > KILN_MAX_BLOCK_THREADS))
      return kiln_fail(err, KILN_ERR_INTERNAL, "stage '%s': thread loops over %d threads",
                       s->name, KILN_MAX_BLOCK_THREADS);
    if (lp->kind == KILN_LOOP_PARALLEL && (seen_serial || s->axes[lp->axis].reduce))
      return kiln_fail(err, KILN_ERR_INTERNAL,
                       "stage '%s': parallel loop %d is not outermost or is a reduction",
                       s->name, l);
    if (lp->kind != KILN_LOOP_PARALLEL) seen_serial = true;
    if (lp->kind == KILN_LOOP_VECTOR && l != sc->nloops - 1)
      return kiln_fail(err, KILN_ERR_INTERNAL, "stage '%s': vector loop %d is not innermost",
                       s->name, l);
    /* vector lanes, unrolled copies and a thread block are sized when compiling */
    if ((lp->kind == KILN_LOOP_VECTOR || lp->kind == KILN_LOOP_UNROLL ||
         lp->kind == KILN_LOOP_THREAD) && kiln_loop_is_dyn(s, sc, l))
      return kiln_fail(err, KILN_ERR_INTERNAL, "stage '%s': loop %d (axis %d) runs a run-time "
                       "number of times and cannot be %s; split it and %s the inner loop",
                       s->name, l, lp->axis,
                       lp->kind == KILN_LOOP_VECTOR ? "vector" : lp->kind == KILN_LOOP_UNROLL
                       ? "unrolled" : "GPU threads", lp->kind == KILN_LOOP_VECTOR ? "vectorize"
                       : lp->kind == KILN_LOOP_UNROLL ? "unroll" : "bind");
  }
  if (sharing && spatial_rest >= 0) /* a group of threads computes one point */
    return kiln_fail(err, KILN_ERR_INTERNAL, "stage '%s': threads share reductions, but spatial "
                     "loop %d is no block or thread loop", s->name, spatial_rest);
  return kiln_staging_check(s, err);
}

void kiln_schedule_split(kiln_schedule *sc, int loop, int64_t factor) {
  if (sc->nloops >= KILN_MAX_LOOPS || factor < 1) return;
  kiln_loop l = sc->loops[loop];
  memmove(&sc->loops[loop + 2], &sc->loops[loop + 1],
          sizeof(kiln_loop) * (size_t)(sc->nloops - loop - 1));
  sc->loops[loop] = (kiln_loop){l.axis, l.stride * factor, (l.extent + factor - 1) / factor, l.kind};
  sc->loops[loop + 1] = (kiln_loop){l.axis, l.stride, factor, KILN_LOOP_SERIAL};
  sc->nloops++;
}
