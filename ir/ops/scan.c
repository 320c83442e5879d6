/* Ops along one axis of their input: CumSum (running sums), Hardmax (one-hot of the
 * first maximum) and TopK (the k largest or smallest, with their indices). */
#include "ir/op.h"

#include "ir/dtype.h"
#include "ir/ops/expand.h"

#include <math.h>
#include <string.h>

static kiln_status fail_node(const kiln_node *n, kiln_error *err, kiln_status code,
                             const char *what) {
  return kiln_fail(err, code, "node '%s' (%s): %s", n->name, n->op_type, what);
}

/* ---- CumSum -------------------------------------------------------------------------------- */

static kiln_status cumsum_axis(const kiln_graph *g, const kiln_node *n, int rank, int *axis,
                               kiln_error *err) {
  int64_t a;
  int count = 0;
  if (kiln_const_ints(g, n, 1, &a, 1, &count, err)) return err->code;
  if (count != 1) return fail_node(n, err, KILN_ERR_INVALID_MODEL, "axis must be one integer");
  return kiln_norm_axis(n, a, rank, axis, err);
}

static kiln_status infer_cumsum(kiln_graph *g, kiln_node *n, kiln_error *err) {
  const kiln_value *x = kiln_node_in(g, n, 0);
  int axis;
  if (x->dtype == KILN_BOOL || x->rank < 1)
    return fail_node(n, err, KILN_ERR_INVALID_MODEL, "needs a numeric input of rank >= 1");
  if (cumsum_axis(g, n, x->rank, &axis, err)) return err->code;
  kiln_set_out(g, n, 0, x->dtype, x->rank, x->dims);
  return KILN_OK;
}

/* y[.., i, ..] = sum of x[.., j, ..] over j <= i (exclusive: j < i; reverse: j >= i or
 * j > i): one reduction over the whole axis with the other terms masked to 0. That is n^2
 * work along an axis of n, which is small where models use CumSum (positions from masks);
 * it keeps every point independent, so the stage tiles and threads like any reduction. */
static kiln_status lower_cumsum(kiln_lower_ctx *c) {
  kiln_kernel *k = c->k;
  const kiln_buffer *x = &k->bufs[c->in_buf[0]];
  int axis;
  if (cumsum_axis(c->g, c->n, x->rank, &axis, c->err)) return c->err->code;
  kiln_dtype t = x->dtype;
  /* half-precision sums accumulate in f32 (a temporary), then round once */
  kiln_dtype ct = t == KILN_F16 || t == KILN_BF16 ? KILN_F32 : t;
  int acc = c->out_buf[0];
  if (ct != t) acc = kiln_kernel_add_buffer(k, "acc", KILN_BUF_TEMP, -1, ct, x->rank, x->dims);
  kiln_stage *s = kiln_kernel_add_stage(k, "cumsum", acc);
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
  s->reduce = KR_SUM;
  kiln_stage_store(k, s, v, kx_select(k, in, val, kx_const_i(k, ct, 0)));
  if (acc != c->out_buf[0]) {
    s = kiln_elementwise_stage(k, "round", c->out_buf[0], v);
    kiln_stage_store(k, s, v, kx_cast(k, kx_load(k, acc, v), t));
  }
  return KILN_OK;
}

/* ---- Hardmax ------------------------------------------------------------------------------- */

static kiln_status infer_hardmax(kiln_graph *g, kiln_node *n, kiln_error *err) {
  const kiln_value *x = kiln_node_in(g, n, 0);
  int axis;
  if (!kiln_dtype_is_float(x->dtype) || x->rank < 1)
    return fail_node(n, err, KILN_ERR_INVALID_MODEL, "needs a float input of rank >= 1");
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
  double depth = (double)xv->dims[axis], off_on[2] = {0, 1};
  int x = n->inputs[0], y = n->outputs[0];
  kiln_ex e;
  kiln_ex_begin(&e, g, b, pos, xv->dtype); /* n and xv are invalid from here */
  int arg = kiln_ex_unary(&e, "ArgMax", x, "argmax");
  kiln_ex_attr_i(&e, "axis", axis);
  kiln_ex_attr_i(&e, "keepdims", 0);
  int dep = kiln_ex_const(&e, "depth", KILN_I64, 0, NULL, &depth);
  int64_t two = 2;
  int vals = kiln_ex_const(&e, "values", e.t, 1, &two, off_on);
  kiln_ex_node1(&e, "OneHot", (int[]){arg, dep, vals}, 3, y, "one_hot");
  kiln_ex_attr_i(&e, "axis", axis);
  kiln_ex_end(&e);
  return KILN_OK;
}

/* ---- TopK ------------------------------------------------------------------------------ */

static kiln_status topk_plan(const kiln_graph *g, const kiln_node *n, int *axis, int64_t *k,
                             kiln_error *err) {
  const kiln_value *x = kiln_node_in(g, n, 0);
  int count = 0;
  if (x->rank < 1 || x->dtype == KILN_BOOL)
    return fail_node(n, err, KILN_ERR_INVALID_MODEL, "needs a numeric input of rank >= 1");
  if (kiln_norm_axis(n, kiln_attr_int(n, "axis", -1), x->rank, axis, err)) return err->code;
  if (kiln_const_ints(g, n, 1, k, 1, &count, err)) return err->code;
  if (count != 1 || *k < 0 || *k > x->dims[*axis])
    return fail_node(n, err, KILN_ERR_INVALID_MODEL, "K must be one integer in [0, the axis]");
  return KILN_OK;
}

static kiln_status infer_topk(kiln_graph *g, kiln_node *n, kiln_error *err) {
  const kiln_value *x = kiln_node_in(g, n, 0);
  int axis;
  int64_t k, dims[KILN_MAX_RANK];
  if (topk_plan(g, n, &axis, &k, err)) return err->code;
  memcpy(dims, x->dims, sizeof(int64_t) * (size_t)x->rank);
  dims[axis] = k;
  kiln_set_out(g, n, 0, x->dtype, x->rank, dims);
  if (n->noutputs > 1) kiln_set_out(g, n, 1, KILN_I64, x->rank, dims);
  return KILN_OK;
}

/* Does element j come before element p along the axis (larger, or smaller with largest=0;
 * equal ones by index, so that ranks are a permutation)? xj and xp are their values. */
static kiln_expr *comes_before(kiln_kernel *k, bool largest, kiln_expr *xj, kiln_expr *j,
                               kiln_expr *xp, kiln_expr *p) {
  kiln_expr *beats = kx_binary(k, largest ? KB_GT : KB_LT, xj, xp);
  kiln_expr *tie = kx_and(k, kx_binary(k, KB_EQ, xj, xp), kx_binary(k, KB_LT, j, p));
  return kx_binary(k, KB_OR, beats, tie);
}

/* Output q (values, or indices with out 1) takes the entry of `rank` (x's dims with the
 * axis replaced by nred dims, `dims`) whose rank is q: a max reduction selecting it. The
 * entry's index along the axis is its own (nred 1) or the one `cand` holds. */
static void topk_outputs(kiln_lower_ctx *c, int axis, int rank, const int64_t *dims, int nred,
                         int cand) {
  kiln_kernel *k = c->k;
  const kiln_buffer *x = &k->bufs[c->in_buf[0]];
  int64_t n = x->dims[axis];
  for (int out = 0; out < 2 && out < c->n->noutputs; out++) {
    if (c->out_buf[out] < 0) continue;
    const kiln_buffer *y = &k->bufs[c->out_buf[out]];
    kiln_stage *s = kiln_kernel_add_stage(k, out ? "topk_indices" : "topk_values", c->out_buf[out]);
    kiln_expr *v[KILN_MAX_RANK], *o[KILN_MAX_RANK], *xi[KILN_MAX_RANK];
    for (int d = 0; d < y->rank; d++) v[d] = kx_var(k, kiln_stage_axis(s, y->dims[d], false));
    for (int d = 0; d < y->rank + nred - 1; d++)
      o[d] = d < axis ? v[d] : d < axis + nred ? kx_var(k, kiln_stage_axis(s, dims[d], true))
                                               : v[d - nred + 1];
    kiln_expr *j = cand >= 0 ? kx_load(k, cand, o) : o[axis];
    for (int d = 0; d < x->rank; d++) xi[d] = d == axis ? kx_clamp_index(k, j, n) : v[d];
    kiln_expr *hit = kx_binary(k, KB_EQ, kx_load(k, rank, o), v[axis]);
    kiln_expr *val = out ? j : kx_load(k, c->in_buf[0], xi);
    s->reduce = KR_MAX;
    kiln_stage_store(k, s, v, kx_select(k, hit, val, kx_reduce_identity(k, KR_MAX, y->dtype)));
  }
}

/* rank[p] = how many elements along the axis come before x[p]; then output q takes the
 * element of rank q, always sorted. O(n^2) along the axis: for class scores. */
static void topk_by_ranks(kiln_lower_ctx *c, int axis, bool largest) {
  kiln_kernel *k = c->k;
  const kiln_buffer *x = &k->bufs[c->in_buf[0]];
  int rank = kiln_kernel_add_buffer(k, "rank", KILN_BUF_TEMP, -1, KILN_I64, x->rank, x->dims);
  kiln_stage *s = kiln_kernel_add_stage(k, "topk_rank", rank);
  kiln_expr *v[KILN_MAX_RANK], *o[KILN_MAX_RANK];
  for (int d = 0; d < x->rank; d++)
    v[d] = o[d] = kx_var(k, kiln_stage_axis(s, x->dims[d], false));
  kiln_expr *j = kx_var(k, kiln_stage_axis(s, x->dims[axis], true));
  o[axis] = j;
  kiln_expr *before = comes_before(k, largest, kx_load(k, c->in_buf[0], o), j,
                                   kx_load(k, c->in_buf[0], v), v[axis]);
  s->reduce = KR_SUM;
  kiln_stage_store(k, s, v, kx_select(k, before, kx_idx(k, 1), kx_idx(k, 0)));
  topk_outputs(c, axis, rank, x->dims, 1, -1);
}

/* The same over blocks of B elements along an axis of n, for k much smaller than n (a
 * vocabulary of 50257, k = 50: 214 ms as ranks):
 *   1. each element's rank within its block (n x B);
 *   2. each block's first k elements, by rank: candidates [nb, k] (n x k; -1 past a
 *      short block);
 *   3. each candidate's rank among the candidates ((nb x k)^2).
 * An element of global rank below k is a candidate (what comes before it within its block
 * comes before it globally) and so is everything before it; a candidate with some block
 * holding k candidates before it ranks at least k. So the candidates' ranks below k are
 * the global ones. */
static void topk_by_blocks(kiln_lower_ctx *c, int axis, bool largest, int64_t kk, int64_t B) {
  kiln_kernel *k = c->k;
  const kiln_buffer *x = &k->bufs[c->in_buf[0]];
  int xb = c->in_buf[0], rank = x->rank;
  int64_t n = x->dims[axis], nb = (n + B - 1) / B, cdims[KILN_MAX_RANK];
  for (int d = 0, e = 0; d < rank; d++) {
    if (d == axis) cdims[e++] = nb, cdims[e++] = kk;
    else cdims[e++] = x->dims[d];
  }
  int brank = kiln_kernel_add_buffer(k, "block_rank", KILN_BUF_TEMP, -1, KILN_I64, rank, x->dims);
  int cand = kiln_kernel_add_buffer(k, "candidates", KILN_BUF_TEMP, -1, KILN_I64, rank + 1, cdims);
  int crank = kiln_kernel_add_buffer(k, "candidate_rank", KILN_BUF_TEMP, -1, KILN_I64, rank + 1, cdims);
  int cval = kiln_kernel_add_buffer(k, "candidate_values", KILN_BUF_TEMP, -1, x->dtype, rank + 1, cdims);
  kiln_expr *v[KILN_MAX_RANK], *o[KILN_MAX_RANK], *ci[KILN_MAX_RANK], *cj[KILN_MAX_RANK];

  /* 1. rank within the block: j = p - p % B + jj, j < n */
  kiln_stage *s = kiln_kernel_add_stage(k, "topk_block_rank", brank);
  for (int d = 0; d < rank; d++) v[d] = o[d] = kx_var(k, kiln_stage_axis(s, x->dims[d], false));
  kiln_expr *jj = kx_var(k, kiln_stage_axis(s, B, true));
  kiln_expr *j = kx_add(k, kx_muli(k, kx_binary(k, KB_DIV, v[axis], kx_idx(k, B)), B), jj);
  o[axis] = kx_binary(k, KB_MIN, j, kx_idx(k, n - 1));
  kiln_expr *before = kx_and(k, kx_binary(k, KB_LT, j, kx_idx(k, n)),
                             comes_before(k, largest, kx_load(k, xb, o), j, kx_load(k, xb, v), v[axis]));
  s->reduce = KR_SUM;
  kiln_stage_store(k, s, v, kx_select(k, before, kx_idx(k, 1), kx_idx(k, 0)));

  /* 2. candidate (b, r): the index of block b's element of rank r, -1 if none */
  s = kiln_kernel_add_stage(k, "topk_candidates", cand);
  for (int d = 0; d <= rank; d++) ci[d] = kx_var(k, kiln_stage_axis(s, cdims[d], false));
  jj = kx_var(k, kiln_stage_axis(s, B, true));
  j = kx_add(k, kx_muli(k, ci[axis], B), jj);
  for (int d = 0; d < rank; d++)
    o[d] = d < axis ? ci[d] : d > axis ? ci[d + 1] : kx_binary(k, KB_MIN, j, kx_idx(k, n - 1));
  kiln_expr *is = kx_and(k, kx_binary(k, KB_LT, j, kx_idx(k, n)),
                         kx_binary(k, KB_EQ, kx_load(k, brank, o), ci[axis + 1]));
  s->reduce = KR_MAX;
  kiln_stage_store(k, s, ci, kx_select(k, is, j, kx_idx(k, -1)));

  /* their values, side by side: the next stage compares them without gathering */
  s = kiln_kernel_add_stage(k, "topk_candidate_values", cval);
  for (int d = 0; d <= rank; d++) ci[d] = kx_var(k, kiln_stage_axis(s, cdims[d], false));
  for (int d = 0; d < rank; d++)
    o[d] = d < axis ? ci[d] : d > axis ? ci[d + 1] : kx_clamp_index(k, kx_load(k, cand, ci), n);
  kiln_stage_store(k, s, ci, kx_load(k, xb, o));

  /* 3. a candidate's rank among the candidates (a missing one: past every real one) */
  s = kiln_kernel_add_stage(k, "topk_candidate_rank", crank);
  for (int d = 0; d <= rank; d++) ci[d] = cj[d] = kx_var(k, kiln_stage_axis(s, cdims[d], false));
  cj[axis] = kx_var(k, kiln_stage_axis(s, nb, true));
  cj[axis + 1] = kx_var(k, kiln_stage_axis(s, kk, true));
  kiln_expr *p = kx_load(k, cand, ci), *q = kx_load(k, cand, cj);
  kiln_expr *real_q = kx_binary(k, KB_GE, q, kx_idx(k, 0));
  kiln_expr *ahead = comes_before(k, largest, kx_load(k, cval, cj), q, kx_load(k, cval, ci), p);
  kiln_expr *first = kx_binary(k, KB_OR, kx_binary(k, KB_LT, p, kx_idx(k, 0)), ahead);
  s->reduce = KR_SUM;
  kiln_stage_store(k, s, ci, kx_select(k, kx_and(k, real_q, first), kx_idx(k, 1), kx_idx(k, 0)));

  topk_outputs(c, axis, crank, cdims, 2, cand);
}

/* Blocks (topk_by_blocks) where they do less work than ranks: B near the cube root of
 * 2 n k^2, which balances n x B against (n k / B)^2, and at least 2k. */
static kiln_status lower_topk(kiln_lower_ctx *c) {
  kiln_kernel *k = c->k;
  int axis;
  int64_t kk;
  if (topk_plan(c->g, c->n, &axis, &kk, c->err)) return c->err->code;
  const kiln_buffer *x = &k->bufs[c->in_buf[0]];
  bool largest = kiln_attr_int(c->n, "largest", 1) != 0;
  int64_t n = x->dims[axis], B = (int64_t)cbrt(2.0 * (double)n * (double)kk * (double)kk);
  if (B < 2 * kk) B = 2 * kk;
  B = (B + 15) / 16 * 16;
  /* along a free dim one kernel serves every length: ranks, whatever it is */
  bool dyn = kiln_node_in(c->g, c->n, 0)->sym[axis] != 0;
  double ranks = (double)n * (double)n, nbk = (double)((n + B - 1) / B) * (double)kk;
  if (!dyn && kk > 0 && x->rank < KILN_MAX_RANK && B < n &&
      (double)n * (double)(B + kk) + nbk * nbk < ranks / 4)
    topk_by_blocks(c, axis, largest, kk, B);
  else
    topk_by_ranks(c, axis, largest);
  return KILN_OK;
}

static const kiln_attr_spec cumsum_attrs[] = {
    {"exclusive", KILN_ATTR_INT, false}, {"reverse", KILN_ATTR_INT, false}, {NULL}};
static const kiln_attr_spec hardmax_attrs[] = {{"axis", KILN_ATTR_INT, false}, {NULL}};
static const kiln_attr_spec topk_attrs[] = {
    {"axis", KILN_ATTR_INT, false}, {"largest", KILN_ATTR_INT, false},
    {"sorted", KILN_ATTR_INT, false}, {NULL}};

const kiln_op_def kiln_ops_scan[] = {
    {"CumSum", 2, 2, 1, 1, cumsum_attrs, infer_cumsum, lower_cumsum, NULL, KILN_OP_SYMBOLIC},
    {"Hardmax", 1, 1, 1, 1, hardmax_attrs, infer_hardmax, NULL, expand_hardmax, 0},
    {"TopK", 2, 2, 1, 2, topk_attrs, infer_topk, lower_topk, NULL, KILN_OP_SYMBOLIC},
    {NULL},
};
