/* Reductions: Reduce* over a set of axes, ArgMax/ArgMin along one axis, and the softmax
 * family. Each is one reduction stage per pass over the data (spatial axes index the
 * output, reduced axes are folded); numerically sensitive ops (LogSumExp, softmax) first
 * reduce the maximum into a temporary so exp() never overflows. Softmax in f32/f64 stores
 * its exponentials in the output, sums them and scales them there by 1/sum. */
#include "ir/op.h"

#include "ir/dtype.h"

#include <math.h>
#include <string.h>

/* Which dims of input 0 a node reduces, and the shape that leaves. */
typedef struct reduce_plan {
  int rank;
  int64_t dims[KILN_MAX_RANK];
  bool red[KILN_MAX_RANK];
  bool keep, noop;
  int out_rank;
  int64_t out_dims[KILN_MAX_RANK];
  int64_t count; /* elements folded into each output element */
} reduce_plan;

static void plan_finish(reduce_plan *p) {
  p->out_rank = 0;
  p->count = 1;
  for (int d = 0; d < p->rank; d++) {
    if (p->red[d]) p->count *= p->dims[d];
    if (!p->red[d]) p->out_dims[p->out_rank++] = p->dims[d];
    else if (p->keep) p->out_dims[p->out_rank++] = 1;
  }
}

/* Reduce*: axes from the optional constant input 1; none means all (or nothing, with
 * noop_with_empty_axes). */
static kiln_status plan_axes(const kiln_graph *g, const kiln_node *n, reduce_plan *p,
                             kiln_error *err) {
  const kiln_value *x = kiln_node_in(g, n, 0);
  memset(p, 0, sizeof *p);
  p->rank = x->rank;
  memcpy(p->dims, x->dims, sizeof(int64_t) * (size_t)x->rank);
  p->keep = kiln_attr_int(n, "keepdims", 1) != 0;
  int64_t axes[KILN_MAX_RANK];
  int na = 0;
  if (kiln_node_in(g, n, 1) && kiln_const_ints(g, n, 1, axes, KILN_MAX_RANK, &na, err))
    return err->code;
  if (na == 0) {
    p->noop = kiln_attr_int(n, "noop_with_empty_axes", 0) != 0;
    for (int d = 0; d < p->rank; d++) p->red[d] = !p->noop;
  }
  for (int i = 0; i < na; i++) {
    int a;
    if (kiln_norm_axis(n, axes[i], p->rank, &a, err)) return err->code;
    p->red[a] = true;
  }
  plan_finish(p);
  return KILN_OK;
}

/* A stage reading an input of p's shape: one axis per input dim (reduced dims are
 * reduction axes); vars[d] indexes input dim d, oidx the output (keep: reduced dims at 0). */
static kiln_stage *plan_stage(kiln_kernel *k, const char *name, int out, const reduce_plan *p,
                              bool keep, kiln_expr **vars, kiln_expr **oidx) {
  kiln_stage *s = kiln_kernel_add_stage(k, name, out);
  int o = 0;
  for (int d = 0; d < p->rank; d++) {
    vars[d] = kx_var(k, kiln_stage_axis(s, p->dims[d], p->red[d]));
    if (!p->red[d]) oidx[o++] = vars[d];
    else if (keep) oidx[o++] = kx_idx(k, 0);
  }
  return s;
}

/* Index of a keepdims-shaped temporary from input-dim variables. */
static kiln_expr *load_kept(kiln_kernel *k, int buf, const reduce_plan *p, kiln_expr *const *vars) {
  kiln_expr *idx[KILN_MAX_RANK];
  for (int d = 0; d < p->rank; d++) idx[d] = p->red[d] ? kx_idx(k, 0) : vars[d];
  return kx_load(k, buf, idx);
}

static int kept_temp(kiln_kernel *k, const char *name, const reduce_plan *p, kiln_dtype t) {
  int64_t dims[KILN_MAX_RANK];
  for (int d = 0; d < p->rank; d++) dims[d] = p->red[d] ? 1 : p->dims[d];
  return kiln_kernel_add_buffer(k, name, KILN_BUF_TEMP, -1, t, p->rank, dims);
}

/* temp[kept] = max over the reduced dims of input buffer x. */
static int max_temp(kiln_kernel *k, int x, const reduce_plan *p) {
  int m = kept_temp(k, "max", p, k->bufs[x].dtype);
  kiln_expr *v[KILN_MAX_RANK], *o[KILN_MAX_RANK];
  kiln_stage *s = plan_stage(k, "max", m, p, true, v, o);
  s->reduce = KR_MAX;
  kiln_stage_store(k, s, o, kx_load(k, x, v));
  return m;
}

/* The type arithmetic runs in: f32 for the half-precision floats. */
static kiln_dtype compute_type(kiln_dtype t) {
  return t == KILN_F16 || t == KILN_BF16 ? KILN_F32 : t;
}

static kiln_status infer_reduce(kiln_graph *g, kiln_node *n, kiln_error *err) {
  reduce_plan p;
  if (plan_axes(g, n, &p, err)) return err->code;
  const kiln_value *x = kiln_node_in(g, n, 0);
  if (p.noop) kiln_set_out(g, n, 0, x->dtype, x->rank, x->dims);
  else kiln_set_out(g, n, 0, x->dtype, p.out_rank, p.out_dims);
  return KILN_OK;
}

typedef enum { R_SUM, R_MEAN, R_MAX, R_MIN, R_PROD, R_L1, R_L2, R_LOGSUM, R_LOGSUMEXP, R_SUMSQ } reduce_kind;

static kiln_status lower_reduce(kiln_lower_ctx *c, reduce_kind kind) {
  kiln_kernel *k = c->k;
  const kiln_node *n = c->n;
  reduce_plan p;
  if (plan_axes(c->g, n, &p, c->err)) return c->err->code;
  int xb = c->in_buf[0], yb = c->out_buf[0];
  kiln_dtype t = k->bufs[xb].dtype;
  bool fl = kiln_dtype_is_float(t);
  kiln_expr *v[KILN_MAX_RANK], *o[KILN_MAX_RANK];
  if (!fl && (kind == R_LOGSUM || kind == R_LOGSUMEXP))
    return kiln_fail(c->err, KILN_ERR_UNSUPPORTED, "node '%s' (%s): needs a float input",
                     n->name, n->op_type);
  int m = kind == R_LOGSUMEXP ? max_temp(k, xb, &p) : -1;
  /* half-precision sums accumulate in f32 (a temporary), then round once */
  kiln_dtype ct = compute_type(t);
  int acc_buf = ct == t ? yb
                        : kiln_kernel_add_buffer(k, "acc", KILN_BUF_TEMP, -1, ct, p.out_rank, p.out_dims);
  kiln_stage *s = plan_stage(k, "reduce", acc_buf, &p, p.keep, v, o);
  kiln_expr *x = kx_cast(k, kx_load(k, xb, v), ct), *acc = kx_acc(k, ct);
  s->reduce = KR_SUM;
  switch (kind) {
  case R_MAX: s->reduce = KR_MAX; break;
  case R_MIN: s->reduce = KR_MIN; break;
  case R_PROD: s->reduce = KR_PROD; break;
  case R_L1: x = kx_unary(k, KU_ABS, x); break;
  case R_L2:
    x = kx_binary(k, KB_MUL, x, x);
    s->post = fl ? kx_unary(k, KU_SQRT, acc)
                 : kx_cast(k, kx_unary(k, KU_SQRT, kx_cast(k, acc, KILN_F64)), t);
    break;
  case R_SUMSQ: x = kx_binary(k, KB_MUL, x, x); break;
  case R_MEAN: /* the count as an i64 cast: with free dims it becomes theirs (lower_dyn.c) */
    s->post = kx_binary(k, KB_DIV, acc, kx_cast(k, kx_idx(k, p.count), ct));
    break;
  case R_LOGSUM: s->post = kx_unary(k, KU_LOG, acc); break;
  case R_LOGSUMEXP: { /* shifted by the max when it is finite: +inf in a row gives +inf, a row
                       * of -inf gives -inf, not inf - inf */
    kiln_expr *mx = kx_cast(k, load_kept(k, m, &p, v), ct);
    kiln_expr *finite = kx_binary(k, KB_LT, kx_unary(k, KU_ABS, mx), kx_const_f(k, ct, INFINITY));
    mx = kx_select(k, finite, mx, kx_const_f(k, ct, 0));
    x = kx_unary(k, KU_EXP, kx_binary_exact(k, KB_SUB, x, mx));
    s->post = kx_binary(k, KB_ADD, kx_unary(k, KU_LOG, acc), mx);
    break;
  }
  case R_SUM: break;
  }
  kiln_stage_store(k, s, o, x);
  if (acc_buf != yb) {
    s = kiln_elementwise_stage(k, "round", yb, v);
    kiln_stage_store(k, s, v, kx_cast(k, kx_load(k, acc_buf, v), t));
  }
  return KILN_OK;
}

#define REDUCE_LOWER(fn, kind) \
  static kiln_status fn(kiln_lower_ctx *c) { return lower_reduce(c, kind); }
REDUCE_LOWER(lower_sum, R_SUM)
REDUCE_LOWER(lower_mean, R_MEAN)
REDUCE_LOWER(lower_max, R_MAX)
REDUCE_LOWER(lower_min, R_MIN)
REDUCE_LOWER(lower_prod, R_PROD)
REDUCE_LOWER(lower_l1, R_L1)
REDUCE_LOWER(lower_l2, R_L2)
REDUCE_LOWER(lower_logsum, R_LOGSUM)
REDUCE_LOWER(lower_logsumexp, R_LOGSUMEXP)
REDUCE_LOWER(lower_sumsq, R_SUMSQ)

/* ---- ArgMax / ArgMin ------------------------------------------------------------------ */

static kiln_status plan_arg(const kiln_graph *g, const kiln_node *n, reduce_plan *p,
                            kiln_error *err) {
  const kiln_value *x = kiln_node_in(g, n, 0);
  memset(p, 0, sizeof *p);
  p->rank = x->rank;
  memcpy(p->dims, x->dims, sizeof(int64_t) * (size_t)x->rank);
  p->keep = kiln_attr_int(n, "keepdims", 1) != 0;
  int a;
  if (kiln_norm_axis(n, kiln_attr_int(n, "axis", 0), x->rank, &a, err)) return err->code;
  p->red[a] = true;
  plan_finish(p);
  if (x->dims[a] == 0 && kiln_shape_numel(p->out_rank, p->out_dims) > 0)
    return kiln_fail(err, KILN_ERR_SHAPE, "node '%s' (%s): axis %d of input '%s' is empty: no "
                     "element to take the index of", n->name, n->op_type, a, x->name);
  return KILN_OK;
}

static kiln_status infer_arg(kiln_graph *g, kiln_node *n, kiln_error *err) {
  reduce_plan p;
  if (plan_arg(g, n, &p, err)) return err->code;
  kiln_set_out(g, n, 0, KILN_I64, p.out_rank, p.out_dims);
  return KILN_OK;
}

/* The extreme value into a temporary, then the first (or last) index holding it. */
static kiln_status lower_arg(kiln_lower_ctx *c, bool is_max) {
  kiln_kernel *k = c->k;
  reduce_plan p;
  if (plan_arg(c->g, c->n, &p, c->err)) return c->err->code;
  int xb = c->in_buf[0];
  int m = kept_temp(k, "extreme", &p, k->bufs[xb].dtype);
  kiln_expr *v[KILN_MAX_RANK], *o[KILN_MAX_RANK];
  kiln_stage *s = plan_stage(k, "extreme", m, &p, true, v, o);
  s->reduce = is_max ? KR_MAX : KR_MIN;
  kiln_stage_store(k, s, o, kx_load(k, xb, v));

  bool last = kiln_attr_int(c->n, "select_last_index", 0) != 0;
  s = plan_stage(k, "index", c->out_buf[0], &p, p.keep, v, o);
  s->reduce = last ? KR_MAX : KR_MIN;
  int axis = 0;
  while (!p.red[axis]) axis++;
  kiln_expr *xv = kx_load(k, xb, v), *mv = load_kept(k, m, &p, v);
  kiln_expr *hit = kx_binary(k, KB_EQ, xv, mv);
  if (kiln_dtype_is_float(xv->dtype)) /* the extreme is NaN where any is: numpy's first NaN */
    hit = kx_binary(k, KB_OR, hit, kx_and(k, kx_unary(k, KU_ISNAN, xv), kx_unary(k, KU_ISNAN, mv)));
  kiln_stage_store(k, s, o, kx_select(k, hit, v[axis], kx_idx(k, last ? -1 : INT64_MAX)));
  return KILN_OK;
}

static kiln_status lower_argmax(kiln_lower_ctx *c) { return lower_arg(c, true); }
static kiln_status lower_argmin(kiln_lower_ctx *c) { return lower_arg(c, false); }

/* ---- Softmax / LogSoftmax ------------------------------------------------------------- */

/* Reduces `axis`, or every axis from `axis` on for the pre-13 flatten-to-2D form. */
static kiln_status plan_softmax(const kiln_graph *g, const kiln_node *n, reduce_plan *p,
                                kiln_error *err) {
  const kiln_value *x = kiln_node_in(g, n, 0);
  memset(p, 0, sizeof *p);
  p->rank = x->rank;
  memcpy(p->dims, x->dims, sizeof(int64_t) * (size_t)x->rank);
  p->keep = true;
  int a;
  if (kiln_norm_axis(n, kiln_attr_int(n, "axis", -1), x->rank, &a, err)) return err->code;
  bool coerce = kiln_attr_int(n, "_coerce_2d", 0) != 0;
  for (int d = a; d < (coerce ? x->rank : a + 1) && d < x->rank; d++) p->red[d] = true;
  plan_finish(p);
  return KILN_OK;
}

static kiln_status infer_same(kiln_graph *g, kiln_node *n, kiln_error *err) {
  (void)err;
  const kiln_value *x = kiln_node_in(g, n, 0);
  kiln_set_out(g, n, 0, x->dtype, x->rank, x->dims);
  return KILN_OK;
}

static kiln_status lower_softmax_common(kiln_lower_ctx *c, bool log) {
  kiln_kernel *k = c->k;
  reduce_plan p;
  if (plan_softmax(c->g, c->n, &p, c->err)) return c->err->code;
  int xb = c->in_buf[0];
  kiln_dtype t = k->bufs[xb].dtype;
  if (!kiln_dtype_is_float(t))
    return kiln_fail(c->err, KILN_ERR_UNSUPPORTED, "node '%s' (%s): needs a float input",
                     c->n->name, c->n->op_type);
  kiln_dtype ct = compute_type(t);
  int m = max_temp(k, xb, &p);
  int sum = kept_temp(k, "sum", &p, ct);
  kiln_expr *v[KILN_MAX_RANK], *o[KILN_MAX_RANK];
  if (!log && t == ct) { /* each exp once: stored, summed, then scaled in place */
    int yb = c->out_buf[0];
    kiln_stage *s = kiln_elementwise_stage(k, "exp", yb, v);
    kiln_stage_store(k, s, v, kx_unary(k, KU_EXP, kx_binary_exact(k, KB_SUB, kx_load(k, xb, v),
                                                                    load_kept(k, m, &p, v))));
    s = plan_stage(k, "sum", sum, &p, true, v, o);
    s->reduce = KR_SUM;
    s->post = kx_unary(k, KU_RECIP, kx_acc(k, t));
    kiln_stage_store(k, s, o, kx_load(k, yb, v));
    s = kiln_elementwise_stage(k, "scale", yb, v);
    kiln_stage_store(k, s, v, kx_binary(k, KB_MUL, kx_load(k, yb, v), load_kept(k, sum, &p, v)));
    return KILN_OK;
  }
  kiln_stage *s = plan_stage(k, "sumexp", sum, &p, true, v, o);
  s->reduce = KR_SUM;
  /* exact: a fused producer of x (a * w) rounds as the max saw it, else every exp may
   * underflow (or overflow) once |x| is large */
  kiln_expr *shifted = kx_cast(k, kx_binary_exact(k, KB_SUB, kx_load(k, xb, v), load_kept(k, m, &p, v)), ct);
  kiln_stage_store(k, s, o, kx_unary(k, KU_EXP, shifted));

  s = kiln_elementwise_stage(k, log ? "logsoftmax" : "softmax", c->out_buf[0], v);
  shifted = kx_cast(k, kx_binary_exact(k, KB_SUB, kx_load(k, xb, v), load_kept(k, m, &p, v)), ct);
  kiln_expr *total = load_kept(k, sum, &p, v);
  kiln_expr *y = log ? kx_binary(k, KB_SUB, shifted, kx_unary(k, KU_LOG, total))
                     : kx_binary(k, KB_DIV, kx_unary(k, KU_EXP, shifted), total);
  kiln_stage_store(k, s, v, kx_cast(k, y, t));
  return KILN_OK;
}

static kiln_status lower_softmax(kiln_lower_ctx *c) { return lower_softmax_common(c, false); }
static kiln_status lower_logsoftmax(kiln_lower_ctx *c) { return lower_softmax_common(c, true); }

static const kiln_attr_spec reduce_attrs[] = {
    {"keepdims", KILN_ATTR_INT, false}, {"noop_with_empty_axes", KILN_ATTR_INT, false}, {NULL}};
static const kiln_attr_spec arg_attrs[] = {{"axis", KILN_ATTR_INT, false},
                                           {"keepdims", KILN_ATTR_INT, false},
                                           {"select_last_index", KILN_ATTR_INT, false},
                                           {NULL}};
static const kiln_attr_spec softmax_attrs[] = {
    {"axis", KILN_ATTR_INT, false}, {"_coerce_2d", KILN_ATTR_INT, false}, {NULL}};

const kiln_op_def kiln_ops_reduce[] = {
    {"ReduceSum", 1, 2, 1, 1, reduce_attrs, infer_reduce, lower_sum, NULL, KILN_OP_SYMBOLIC},
    {"ReduceMean", 1, 2, 1, 1, reduce_attrs, infer_reduce, lower_mean, NULL, KILN_OP_SYMBOLIC},
    {"ReduceMax", 1, 2, 1, 1, reduce_attrs, infer_reduce, lower_max, NULL, KILN_OP_SYMBOLIC},
    {"ReduceMin", 1, 2, 1, 1, reduce_attrs, infer_reduce, lower_min, NULL, KILN_OP_SYMBOLIC},
    {"ReduceProd", 1, 2, 1, 1, reduce_attrs, infer_reduce, lower_prod, NULL, KILN_OP_SYMBOLIC},
    {"ReduceL1", 1, 2, 1, 1, reduce_attrs, infer_reduce, lower_l1, NULL, KILN_OP_SYMBOLIC},
    {"ReduceL2", 1, 2, 1, 1, reduce_attrs, infer_reduce, lower_l2, NULL, KILN_OP_SYMBOLIC},
    {"ReduceLogSum", 1, 2, 1, 1, reduce_attrs, infer_reduce, lower_logsum, NULL, KILN_OP_SYMBOLIC},
    {"ReduceLogSumExp", 1, 2, 1, 1, reduce_attrs, infer_reduce, lower_logsumexp, NULL, KILN_OP_SYMBOLIC},
    {"ReduceSumSquare", 1, 2, 1, 1, reduce_attrs, infer_reduce, lower_sumsq, NULL, KILN_OP_SYMBOLIC},
    {"ArgMax", 1, 1, 1, 1, arg_attrs, infer_arg, lower_argmax, NULL, KILN_OP_SYMBOLIC},
    {"ArgMin", 1, 1, 1, 1, arg_attrs, infer_arg, lower_argmin, NULL, KILN_OP_SYMBOLIC},
    {"Softmax", 1, 1, 1, 1, softmax_attrs, infer_same, lower_softmax, NULL, KILN_OP_SYMBOLIC},
    {"LogSoftmax", 1, 1, 1, 1, softmax_attrs, infer_same, lower_logsoftmax, NULL, KILN_OP_SYMBOLIC},
    {NULL},
};
