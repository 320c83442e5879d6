/* Floating-point operations and bytes of a kernel, counted from its kernel IR (the model
 * is in ir/kernel_cost.h). Why this model: it depends on what a kernel computes, not on
 * how it is scheduled, so a schedule's speed can be judged against it (GFLOP/s, GB/s and
 * the roofline min(peak, bandwidth * flops/bytes) in `kiln bench`; the autotuner's bound).
 * Counting distinct expression nodes follows codegen, which emits a shared subtree once.
 * Bytes are compulsory traffic: a kernel whose loops re-read a buffer from cache pays no
 * more, and one that misses the cache shows a low GB/s against this count. A buffer read
 * only at indices loaded from another (a Gather's table) counts the elements those loads
 * can reach, not its size: an embedding reads 128 rows of a 30522-row table. */
#include "ir/kernel_cost.h"

#include "ir/dtype.h"

#include <math.h>
#include <stdlib.h>

typedef struct seen_set {
  int n, cap;
  const kiln_expr **items;
} seen_set;

static bool seen(seen_set *s, const kiln_expr *x) {
  for (int i = 0; i < s->n; i++)
    if (s->items[i] == x) return true;
  KILN_GROW(s->items, s->n, s->cap);
  s->items[s->n++] = x;
  return false;
}

/* The axes (a bit each) whose loop variables x reads. */
static unsigned axes_of(const kiln_expr *x) {
  if (!x) return 0;
  unsigned m = x->kind == KX_VAR && x->axis >= 0 && x->axis < 32 ? 1u << x->axis : 0;
  for (int i = 0; x->kind == KX_LOAD && i < x->nidx; i++) m |= axes_of(x->idx[i]);
  return m | axes_of(x->a) | axes_of(x->b) | axes_of(x->c);
}

/* Axis ax's extent: a symbolic one's value at syms (when given), or its hint. */
static double extent_at(const kiln_axis *ax, const int64_t *syms) {
  return (double)(ax->dyn && syms ? kiln_dim_eval(ax->dyn, syms) : ax->extent);
}

/* What a stage's loads read, per buffer: `whole` for one at computed indices (its size
 * counts), else `gathered`, the most bytes one load at loaded indices can reach (its
 * elements times the points of the axes its indices use). */
typedef struct reads {
  bool whole[KILN_MAX_BUFS];
  double gathered[KILN_MAX_BUFS];
} reads;

typedef struct counter {
  seen_set s;
  reads *r;
  const kiln_stage *st;
  const int64_t *syms;
  int nbufs;
} counter;

/* The bytes load x reaches in stage st: its element size times the points of the axes
 * its indices use (at syms, as extent_at). */
static double load_reach(const kiln_stage *st, const kiln_expr *x, const int64_t *syms) {
  unsigned used = 0;
  for (int i = 0; i < x->nidx; i++) used |= axes_of(x->idx[i]);
  double n = (double)kiln_dtype_size(x->dtype);
  for (int a = 0; a < st->naxes; a++)
    if (used >> a & 1) n *= extent_at(&st->axes[a], syms);
  return n;
}

static void note_load(counter *c, const kiln_expr *x) {
  if (x->buf < 0 || x->buf >= c->nbufs) return;
  bool gather = false;
  for (int i = 0; i < x->nidx; i++) gather |= kx_has_load(x->idx[i]);
  if (!gather) {
    c->r->whole[x->buf] = true;
    return;
  }
  double n = load_reach(c->st, x, c->syms);
  if (n > c->r->gathered[x->buf]) c->r->gathered[x->buf] = n;
}

/* Distinct float operations in x; notes its loads in c->r. Load indices and checked
 * indices are address arithmetic: their loads still count as reads. */
static int64_t count_ops(const kiln_expr *x, counter *c) {
  if (!x || seen(&c->s, x)) return 0;
  int64_t n = 0;
  switch (x->kind) {
  case KX_LOAD:
    note_load(c, x);
    for (int i = 0; i < x->nidx; i++) count_ops(x->idx[i], c);
    return 0;
  case KX_CHECK:
    count_ops(x->a, c);
    return 0;
  case KX_UNARY:
  case KX_BINARY:
    if (x->a && kiln_dtype_is_float(x->a->dtype)) n = 1;
    break;
  default: break;
  }
  return n + count_ops(x->a, c) + count_ops(x->b, c) + count_ops(x->c, c);
}

static double buffer_bytes(const kiln_buffer *b, const int64_t *syms) {
  double n = (double)kiln_dtype_size(b->dtype);
  for (int d = 0; d < b->rank; d++) {
    int64_t v = b->dyn_dims[d] && syms ? kiln_dim_eval(b->dyn_dims[d], syms) : b->dims[d];
    n *= (double)(v > 0 ? v : 0);
  }
  return n;
}

void kiln_kernel_cost_of(const kiln_kernel *k, kiln_kernel_cost *out) {
  kiln_kernel_cost_at(k, NULL, out);
}

void kiln_kernel_cost_at(const kiln_kernel *k, const int64_t *syms, kiln_kernel_cost *out) {
  *out = (kiln_kernel_cost){0};
  bool stored[KILN_MAX_BUFS] = {false};
  reads r = {0};
  for (int si = 0; si < k->nstages; si++) {
    const kiln_stage *st = &k->stages[si];
    double points = 1, spatial = 1;
    for (int a = 0; a < st->naxes; a++) {
      points *= extent_at(&st->axes[a], syms);
      if (!st->axes[a].reduce) spatial *= extent_at(&st->axes[a], syms);
    }
    counter c = {.r = &r, .st = st, .syms = syms, .nbufs = k->nbufs};
    int64_t per_point = count_ops(st->value, &c);
    for (int i = 0; i < st->nout_idx; i++) count_ops(st->out_idx[i], &c);
    bool float_out = st->out_buf >= 0 && st->out_buf < k->nbufs &&
                     kiln_dtype_is_float(k->bufs[st->out_buf].dtype);
    if (st->reduce != KR_NONE && float_out) per_point++;
    c.s.n = 0; /* the post expression runs once per output point, on its own */
    int64_t per_output = count_ops(st->post, &c);
    count_ops(st->init, &c);
    free(c.s.items);
    out->flops += points * (double)per_point + spatial * (double)per_output;
    if (st->out_buf >= 0 && st->out_buf < k->nbufs) stored[st->out_buf] = true;
  }
  for (int b = 0; b < k->nbufs; b++) {
    double size = buffer_bytes(&k->bufs[b], syms);
    if (r.whole[b]) out->bytes_read += size;
    else if (r.gathered[b] > 0) out->bytes_read += fmin(size, r.gathered[b]);
    if (stored[b]) out->bytes_written += size;
  }
}

/* Rates of one core running generated code on the development machines (AVX-512):
 * register-tiled GEMMs of bert_tiny reach 150-180 GFLOP/s, mlp's GEMVs stream their
 * weights from L3 at ~35 GB/s, a vectorized Sigmoid costs a few times an Add. */
#define OPS_PER_NS 128.0
#define BYTES_PER_NS 32.0
#define CALL_OPS 24 /* exp, log, tanh, erf, sin, cos, sigmoid, pow, fmod */

/* Ops per point of x (each distinct node once, as codegen emits it), and the bytes its
 * loads touch: each load once per combination of the axes its indices use (a GEMV's
 * weight once, a broadcast bias once per row, an elementwise operand once per point). */
static void point_cost(const kiln_stage *st, const kiln_expr *x, seen_set *s, double *ops,
                       double *bytes) {
  if (!x || seen(s, x)) return;
  switch (x->kind) {
  case KX_LOAD:
    *bytes += load_reach(st, x, NULL);
    for (int i = 0; i < x->nidx; i++) point_cost(st, x->idx[i], s, ops, bytes);
    return;
  case KX_UNARY:
    *ops += x->op == KU_EXP || x->op == KU_LOG || x->op == KU_TANH || x->op == KU_ERF ||
                    x->op == KU_SIN || x->op == KU_COS || x->op == KU_SIGMOID || x->op >= KU_TAN
                ? CALL_OPS
                : 1;
    break;
  case KX_BINARY: *ops += x->op == KB_POW || x->op == KB_MOD ? CALL_OPS : 1; break;
  case KX_SELECT: *ops += 1; break;
  case KX_CALL: *ops += 4 * CALL_OPS; break; /* a string function: a loop over bytes */
  default: break;
  }
  point_cost(st, x->a, s, ops, bytes);
  point_cost(st, x->b, s, ops, bytes);
  point_cost(st, x->c, s, ops, bytes);
}

double kiln_stage_cost_ns(const kiln_stage *st) {
  double points = 1, spatial = 1;
  for (int a = 0; a < st->naxes; a++) {
    double e = (double)(st->axes[a].extent > 0 ? st->axes[a].extent : 0);
    points *= e;
    if (!st->axes[a].reduce) spatial *= e;
  }
  seen_set s = {0};
  /* the combine of a reduction; the store of each output point */
  double ops = st->reduce != KR_NONE ? 1 : 0, post_ops = 0;
  double bytes = st->value ? spatial * (double)kiln_dtype_size(st->value->dtype) : 0;
  point_cost(st, st->value, &s, &ops, &bytes);
  s.n = 0;
  point_cost(st, st->post, &s, &post_ops, &bytes);
  point_cost(st, st->init, &s, &post_ops, &bytes);
  free(s.items);
  return (points * ops + spatial * post_ops) / OPS_PER_NS + bytes / BYTES_PER_NS;
}

double kiln_kernel_cost_intensity(const kiln_kernel_cost *c) {
  double bytes = c->bytes_read + c->bytes_written;
  return bytes > 0 ? c->flops / bytes : 0;
}
