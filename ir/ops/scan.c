/* Ops along one axis of their input: CumSum and CumProd (running sums and products) and
 * Hardmax (one-hot of the first maximum). TopK is in ir/ops/topk.c. */
#include "ir/op.h"

#include "ir/dtype.h"
#include "ir/ops/expand.h"

#include <string.h>

/* ---- CumSum -------------------------------------------------------------------------------- */

static kiln_status cumsum_axis(const kiln_graph *g, const kiln_node *n, int rank, int *axis,
                               kiln_error *err) {
  int64_t a;
  int count = 0;
  if (kiln_const_ints(g, n, 1, &a, 1, &count, err)) return err->code;
  if (count != 1) return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "axis must be one integer");
  return kiln_norm_axis(n, a, rank, axis, err);
}

static kiln_status infer_cumsum(kiln_graph *g, kiln_node *n, kiln_error *err) {
  const kiln_value *x = kiln_node_in(g, n, 0);
  int axis;
  if (x->dtype == KILN_BOOL || x->rank < 1)
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "needs a numeric input of rank >= 1");
  if (cumsum_axis(g, n, x->rank, &axis, err)) return err->code;
  kiln_set_out(g, n, 0, x->dtype, x->rank, x->dims);
  return KILN_OK;
}

/* y[.., i, ..] = sum of x[.., j, ..] over j <= i (exclusive: j < i; reverse: j >= i or
 * j > i): one reduction over the whole axis with the other terms masked to 0 (CumProd:
 * the product, masked to 1). That is n^2
 * work along an axis of n, which is small where models use CumSum (positions from masks);
 * it keeps every point independent, so the stage tiles and threads like any reduction. */
static kiln_status lower_cumulative(kiln_lower_ctx *c, kiln_reduce_op op_r) {
  kiln_kernel *k = c->k;
  const kiln_buffer *x = &k->bufs[c->in_buf[0]];
  int axis;
  if (cumsum_axis(c->g, c->n, x->rank, &axis, c->err)) return c->err->code;
  kiln_dtype t = x->dtype;
  /* half-precision sums accumulate in f32 (a temporary), then round once */
  kiln_dtype ct = t == KILN_F16 || t == KILN_BF16 ? KILN_F32 : t;
  int acc = c->out_buf[0];
  if (ct != t) acc = kiln_kernel_add_buffer(k, "acc", KILN_BUF_TEMP, -1, ct, x->rank, x->dims);
  kiln_stage *s = kiln_kernel_add_stage(k, op_r == KR_SUM ? "cumsum" : "cumprod", acc);
  kiln_expr *v[KILN_MAX_RANK], *src[KILN_MAX_RANK];
  for (int d = 0; d < x->rank; d++)
    v[d] = src[d] = kx_var(k, kiln_stage_axis(s, x->dims[d], false));
  kiln_expr *j = kx_var(k, kiln_stage_axis(s, x->dims[axis], true));
  src[axis] = j;
  bool excl = kiln_attr_int(c->n, "exclusive", 0) != 0;
  bool rev = kiln_attr_int(c->n, "reverse", 0) != 0;
  kiln_binary_op op = rev ? (excl ? KB_GT : KB_GE) : (excl ? KB_LT : KB_LE);
  kiln_expr *in = kx_binary(k, op, j, v[axis]);
  kiln_expr *val = kx_cast(k, kx_load(k, c->in_buf[0], src), ct);
  s->reduce = op_r;
  kiln_stage_store(k, s, v, kx_select(k, in, val, kx_const_i(k, ct, op_r == KR_SUM ? 0 : 1)));
  if (acc != c->out_buf[0]) {
    s = kiln_elementwise_stage(k, "round", c->out_buf[0], v);
    kiln_stage_store(k, s, v, kx_cast(k, kx_load(k, acc, v), t));
  }
  return KILN_OK;
}

static kiln_status lower_cumsum(kiln_lower_ctx *c) { return lower_cumulative(c, KR_SUM); }
static kiln_status lower_cumprod(kiln_lower_ctx *c) { return lower_cumulative(c, KR_PROD); }

/* ---- Hardmax ------------------------------------------------------------------------------- */

static kiln_status infer_hardmax(kiln_graph *g, kiln_node *n, kiln_error *err) {
  const kiln_value *x = kiln_node_in(g, n, 0);
  int axis;
  if (!kiln_dtype_is_float(x->dtype) || x->rank < 1)
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "needs a float input of rank >= 1");
  if (kiln_norm_axis(n, kiln_attr_int(n, "axis", -1), x->rank, &axis, err)) return err->code;
  kiln_set_out(g, n, 0, x->dtype, x->rank, x->dims);
  return KILN_OK;
}

/* OneHot(ArgMax(x, axis, keepdims 0), depth, [0, 1], axis): ArgMax takes the first maximum. */
static kiln_status expand_hardmax(kiln_graph *g, kiln_block *b, int pos, kiln_error *err) {
  const kiln_node *n = &g->nodes[b->nodes[pos]];
  const kiln_value *xv = kiln_node_in(g, n, 0);
  int axis;
  if (kiln_norm_axis(n, kiln_attr_int(n, "axis", -1), xv->rank, &axis, err)) return err->code;
  double off_on[2] = {0, 1};
  int64_t depth = xv->dims[axis];
  int x = n->inputs[0], y = n->outputs[0];
  kiln_ex e;
  kiln_ex_begin(&e, g, b, pos, xv->dtype); /* n and xv are invalid from here */
  int arg = kiln_ex_unary(&e, "ArgMax", x, "argmax");
  kiln_ex_attr_i(&e, "axis", axis);
  kiln_ex_attr_i(&e, "keepdims", 0);
  int dep = kiln_ex_i64(&e, depth, "depth");
  int64_t two = 2;
  int vals = kiln_ex_const(&e, "values", e.t, 1, &two, off_on);
  kiln_ex_node1(&e, "OneHot", (int[]){arg, dep, vals}, 3, y, "one_hot");
  kiln_ex_attr_i(&e, "axis", axis);
  kiln_ex_end(&e);
  return KILN_OK;
}

static const kiln_attr_spec cumsum_attrs[] = {
    {"exclusive", KILN_ATTR_INT, false}, {"reverse", KILN_ATTR_INT, false}, {NULL}};
static const kiln_attr_spec hardmax_attrs[] = {{"axis", KILN_ATTR_INT, false}, {NULL}};

const kiln_op_def kiln_ops_scan[] = {
    {"CumSum", 2, 2, 1, 1, cumsum_attrs, infer_cumsum, lower_cumsum, NULL, KILN_OP_SYMBOLIC},
    {"CumProd", 2, 2, 1, 1, cumsum_attrs, infer_cumsum, lower_cumprod, NULL, KILN_OP_SYMBOLIC},
    {"Hardmax", 1, 1, 1, 1, hardmax_attrs, infer_hardmax, NULL, expand_hardmax, 0},
    {NULL},
};
