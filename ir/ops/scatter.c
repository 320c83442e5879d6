/* ScatterND, ScatterElements (and the older Scatter) written as gathers: each output
 * element looks for the updates that land on it, so no stage stores at a data-dependent
 * position and every stage stays parallel and race-free whatever the indices hold.
 *
 *   reduction none: j = the last update whose index matches (a max reduction of j, -1 if
 *                   none), then out = j >= 0 ? updates[j] : data
 *   add/mul/max/min: out = data op (op over the matching updates)
 *
 * An element looks at every index tuple (ScatterND) or every index along the axis
 * (ScatterElements): O(outputs x indices), fine for the sparse updates models make (a KV
 * cache row, a few positions) and correct for any. A ScatterElements without reduction
 * along a long or run-time axis (Faster R-CNN's MultiScaleRoIAlign puts each level's
 * pooled boxes back in order: K boxes, K^2 x 12544 compares) instead copies the data and
 * stores the updates in order at their indices, one serial stage (kiln_stage.ordered): the
 * last update of an index wins, as in the gather form. Indices are checked at run time.
 * TensorScatter (a KV cache's update: a run of rows written at a position per batch) is
 * one elementwise stage, each row reading the update or the past. */
#include "ir/op.h"

#include "ir/dtype.h"

#include <stdio.h>
#include <string.h>

static kiln_status get_reduction(const kiln_node *n, kiln_reduce_op *r, kiln_error *err) {
  const char *s = kiln_attr_str(n, "reduction", "none");
  *r = KR_NONE;
  static const struct { const char *name; kiln_reduce_op op; } ops[] = {
      {"none", KR_NONE}, {"add", KR_SUM}, {"mul", KR_PROD}, {"max", KR_MAX}, {"min", KR_MIN}};
  for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
    if (strcmp(s, ops[i].name) == 0) {
      *r = ops[i].op;
      return KILN_OK;
    }
  return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL,
                        "reduction must be none, add, mul, max or min");
}

static kiln_status infer_scatter_nd(kiln_graph *g, kiln_node *n, kiln_error *err) {
  const kiln_value *x = kiln_node_in(g, n, 0), *ind = kiln_node_in(g, n, 1);
  const kiln_value *u = kiln_node_in(g, n, 2);
  kiln_reduce_op r;
  if (get_reduction(n, &r, err)) return err->code;
  if (!kiln_dtype_is_int(ind->dtype) || ind->rank < 1 || u->dtype != x->dtype)
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "needs integer indices and updates of "
                                                     "the data's type");
  int64_t m = ind->dims[ind->rank - 1];
  if (m < 1 || m > x->rank || u->rank != ind->rank - 1 + x->rank - m)
    return kiln_fail_node(n, err, KILN_ERR_SHAPE, "the index tuples do not fit the data's rank");
  for (int d = 0; d < u->rank; d++) {
    int64_t want = d < ind->rank - 1 ? ind->dims[d] : x->dims[m + d - (ind->rank - 1)];
    if (u->dims[d] != want)
      return kiln_fail_node(n, err, KILN_ERR_SHAPE, "updates must be indices.shape[:-1] + "
                                               "data.shape[m:]");
  }
  kiln_set_out(g, n, 0, x->dtype, x->rank, x->dims);
  return KILN_OK;
}

static kiln_status lower_scatter_nd(kiln_lower_ctx *c) {
  kiln_kernel *k = c->k;
  kiln_reduce_op r;
  if (get_reduction(c->n, &r, c->err)) return c->err->code;
  const kiln_buffer *x = &k->bufs[c->in_buf[0]], *ind = &k->bufs[c->in_buf[1]];
  int q = ind->rank - 1, m = (int)ind->dims[q];
  /* stage: the output's (none: its first m dims') axes, then one reduction axis per
   * leading dim of indices; match = every tuple element equals the output's coordinate */
  int out = c->out_buf[0], jm = -1;
  int srank = r == KR_NONE ? m : x->rank;
  if (r == KR_NONE)
    jm = kiln_kernel_add_buffer(k, "last", KILN_BUF_TEMP, -1, KILN_I64, m, x->dims);
  kiln_stage *s = kiln_kernel_add_stage(k, jm >= 0 ? "scatter_find" : "scatter",
                                        jm >= 0 ? jm : out);
  kiln_expr *v[KILN_MAX_RANK], *j[KILN_MAX_RANK], *at[KILN_MAX_RANK];
  for (int d = 0; d < srank; d++) v[d] = kx_var(k, kiln_stage_axis(s, x->dims[d], false));
  for (int d = 0; d < q; d++) j[d] = at[d] = kx_var(k, kiln_stage_axis(s, ind->dims[d], true));
  kiln_expr *match = NULL;
  for (int t = 0; t < m; t++) {
    at[q] = kx_idx(k, t);
    kiln_expr *i = kiln_checked_index(c, 1, kx_load(k, c->in_buf[1], at), x->dims[t]);
    match = kx_and(k, match, kx_binary(k, KB_EQ, i, v[t]));
  }
  if (r == KR_NONE) { /* the flat number of the last matching tuple, or -1 */
    kiln_expr *flat = kx_idx(k, 0);
    for (int d = 0; d < q; d++) flat = kx_add(k, kx_muli(k, flat, ind->dims[d]), j[d]);
    s->reduce = KR_MAX;
    s->init = kx_idx(k, -1);
    kiln_stage_store(k, s, v, kx_select(k, match, flat, kx_idx(k, -1)));
    /* out = last >= 0 ? updates[last as tuple coords, v[m:]] : data */
    kiln_expr *w[KILN_MAX_RANK], *ui[KILN_MAX_RANK];
    s = kiln_elementwise_stage(k, "scatter", out, w);
    kiln_expr *last = kx_load(k, jm, w), *rest = last;
    for (int d = q - 1; d >= 0; d--) { /* unflatten; -1 reads tuple 0 but is not selected */
      kiln_expr *e = kx_idx(k, ind->dims[d]);
      kiln_expr *neg = kx_binary(k, KB_LT, rest, kx_idx(k, 0));
      kiln_expr *safe = kx_select(k, neg, kx_idx(k, 0), rest);
      ui[d] = kx_binary(k, KB_MOD, safe, e);
      rest = kx_binary(k, KB_DIV, safe, e);
    }
    for (int d = m; d < x->rank; d++) ui[q + d - m] = w[d];
    kiln_expr *upd = kx_load(k, c->in_buf[2], ui);
    kiln_expr *found = kx_binary(k, KB_GE, last, kx_idx(k, 0));
    kiln_stage_store(k, s, w, kx_select(k, found, upd, kx_load(k, c->in_buf[0], w)));
    return KILN_OK;
  }
  kiln_expr *ui[KILN_MAX_RANK];
  for (int d = 0; d < q; d++) ui[d] = j[d];
  for (int d = m; d < x->rank; d++) ui[q + d - m] = v[d];
  kiln_expr *upd = kx_load(k, c->in_buf[2], ui);
  s->reduce = r;
  s->init = kx_load(k, c->in_buf[0], v);
  kiln_stage_store(k, s, v, kx_select(k, match, upd, kx_reduce_identity(k, r, x->dtype)));
  return KILN_OK;
}

/* ---- ScatterElements, Scatter ---------------------------------------------------------- */

static kiln_status infer_scatter_elements(kiln_graph *g, kiln_node *n, kiln_error *err) {
  const kiln_value *x = kiln_node_in(g, n, 0), *ind = kiln_node_in(g, n, 1);
  const kiln_value *u = kiln_node_in(g, n, 2);
  kiln_reduce_op r;
  int axis;
  if (get_reduction(n, &r, err)) return err->code;
  if (kiln_norm_axis(n, kiln_attr_int(n, "axis", 0), x->rank, &axis, err)) return err->code;
  if (!kiln_dtype_is_int(ind->dtype) || u->dtype != x->dtype || ind->rank != x->rank ||
      u->rank != x->rank)
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "needs integer indices and updates of "
                                                     "the data's type and rank");
  for (int d = 0; d < x->rank; d++)
    if (ind->dims[d] != u->dims[d] || (d != axis && u->dims[d] > x->dims[d]))
      return kiln_fail_node(n, err, KILN_ERR_SHAPE,
                            "indices and updates must agree and fit the data");
  kiln_set_out(g, n, 0, x->dtype, x->rank, x->dims);
  return KILN_OK;
}

/* Reduction none along an axis of the indices that is long (64 or more) or free: out =
 * data, then out[u's p with p[axis] := index[p]] = u[p] for every p in order. */
static bool scatter_in_order(const kiln_lower_ctx *c, int axis) {
  const kiln_value *ind = kiln_node_in(c->g, c->n, 1);
  return ind->sym[axis] || ind->dims[axis] >= 64;
}

static void lower_in_order(kiln_lower_ctx *c, int axis) {
  kiln_kernel *k = c->k;
  const kiln_buffer *x = &k->bufs[c->in_buf[0]], *u = &k->bufs[c->in_buf[2]];
  int out = c->out_buf[0];
  kiln_expr *w[KILN_MAX_RANK], *v[KILN_MAX_RANK], *at[KILN_MAX_RANK];
  kiln_stage *s = kiln_elementwise_stage(k, "scatter_copy", out, w);
  kiln_stage_store(k, s, w, kx_load(k, c->in_buf[0], w));
  s = kiln_kernel_add_stage(k, "scatter_store", out);
  s->ordered = true;
  for (int d = 0; d < u->rank; d++) v[d] = kx_var(k, kiln_stage_axis(s, u->dims[d], false));
  for (int d = 0; d < u->rank; d++)
    at[d] = d == axis ? kiln_checked_index(c, 1, kx_load(k, c->in_buf[1], v), x->dims[axis]) : v[d];
  kiln_stage_store(k, s, at, kx_load(k, c->in_buf[2], v));
}

/* out[p] gathers the updates u[p with p[axis] := j] whose index is p[axis], over j; the
 * other coordinates of p must be inside the updates. */
static kiln_status lower_scatter_elements(kiln_lower_ctx *c) {
  kiln_kernel *k = c->k;
  kiln_reduce_op r;
  int axis;
  if (get_reduction(c->n, &r, c->err)) return c->err->code;
  const kiln_buffer *x = &k->bufs[c->in_buf[0]], *u = &k->bufs[c->in_buf[2]];
  if (kiln_norm_axis(c->n, kiln_attr_int(c->n, "axis", 0), x->rank, &axis, c->err))
    return c->err->code;
  if (r == KR_NONE && scatter_in_order(c, axis)) {
    lower_in_order(c, axis);
    return KILN_OK;
  }
  int out = c->out_buf[0], jm = -1;
  if (r == KR_NONE)
    jm = kiln_kernel_add_buffer(k, "last", KILN_BUF_TEMP, -1, KILN_I64, x->rank, x->dims);
  kiln_stage *s = kiln_kernel_add_stage(k, jm >= 0 ? "scatter_find" : "scatter",
                                        jm >= 0 ? jm : out);
  kiln_expr *v[KILN_MAX_RANK], *ui[KILN_MAX_RANK], *inside = NULL;
  for (int d = 0; d < x->rank; d++) v[d] = kx_var(k, kiln_stage_axis(s, x->dims[d], false));
  kiln_expr *j = kx_var(k, kiln_stage_axis(s, u->dims[axis], true));
  for (int d = 0; d < x->rank; d++) {
    ui[d] = d == axis ? j : v[d];
    if (d != axis && u->dims[d] < x->dims[d])
      inside = kx_and(k, inside, kx_in_range(k, v[d], u->dims[d]));
  }
  /* coordinates outside the updates read element 0 (never selected) */
  kiln_expr *safe[KILN_MAX_RANK];
  for (int d = 0; d < x->rank; d++)
    safe[d] = d != axis && u->dims[d] < x->dims[d]
                  ? kx_select(k, kx_in_range(k, v[d], u->dims[d]), v[d], kx_idx(k, 0))
                  : ui[d];
  kiln_expr *i = kiln_checked_index(c, 1, kx_load(k, c->in_buf[1], safe), x->dims[axis]);
  kiln_expr *match = kx_and(k, inside, kx_binary(k, KB_EQ, i, v[axis]));
  if (r == KR_NONE) {
    s->reduce = KR_MAX;
    s->init = kx_idx(k, -1);
    kiln_stage_store(k, s, v, kx_select(k, match, j, kx_idx(k, -1)));
    kiln_expr *w[KILN_MAX_RANK], *wi[KILN_MAX_RANK];
    s = kiln_elementwise_stage(k, "scatter", out, w);
    kiln_expr *last = kx_load(k, jm, w);
    kiln_expr *found = kx_binary(k, KB_GE, last, kx_idx(k, 0));
    for (int d = 0; d < x->rank; d++) {
      kiln_expr *in = kx_in_range(k, w[d], u->dims[d]);
      wi[d] = d == axis                  ? kx_select(k, found, last, kx_idx(k, 0))
              : u->dims[d] < x->dims[d] ? kx_select(k, in, w[d], kx_idx(k, 0))
                                        : w[d];
    }
    kiln_expr *upd = kx_load(k, c->in_buf[2], wi);
    kiln_stage_store(k, s, w, kx_select(k, found, upd, kx_load(k, c->in_buf[0], w)));
    return KILN_OK;
  }
  s->reduce = r;
  s->init = kx_load(k, c->in_buf[0], v);
  kiln_expr *upd = kx_load(k, c->in_buf[2], safe);
  kiln_stage_store(k, s, v, kx_select(k, match, upd, kx_reduce_identity(k, r, x->dtype)));
  return KILN_OK;
}

static const kiln_attr_spec nd_attrs[] = {{"reduction", KILN_ATTR_STRING, false}, {NULL}};
static const kiln_attr_spec elements_attrs[] = {
    {"axis", KILN_ATTR_INT, false}, {"reduction", KILN_ATTR_STRING, false}, {NULL}};

/* ---- TensorScatter (opset 24): a KV cache's update ------------------------------------- */

static kiln_status ts_plan(const kiln_graph *g, const kiln_node *n, int *axis, kiln_error *err) {
  const kiln_value *past = kiln_node_in(g, n, 0), *up = kiln_node_in(g, n, 1), *wi = kiln_node_in(g, n, 2);
  const char *mode = kiln_attr_str(n, "mode", "linear");
  if (strcmp(mode, "linear") && strcmp(mode, "circular"))
    return kiln_fail(err, KILN_ERR_INVALID_MODEL, "node '%s' (%s): mode must be linear or circular",
                     n->name, n->op_type);
  if (kiln_norm_axis(n, kiln_attr_int(n, "axis", -2), past->rank, axis, err)) return err->code;
  bool ok = up->rank == past->rank && up->dtype == past->dtype && *axis > 0;
  for (int d = 0; ok && d < past->rank; d++)
    ok = d == *axis ? up->dims[d] <= past->dims[d] : up->dims[d] == past->dims[d];
  if (!ok)
    return kiln_fail(err, KILN_ERR_SHAPE, "node '%s' (%s): update must be past_cache's type and "
                     "shape, at most as long along axis %d (not the batch axis)", n->name,
                     n->op_type, *axis);
  if (wi && (!kiln_dtype_is_int(wi->dtype) || wi->rank != 1 || wi->dims[0] != past->dims[0]))
    return kiln_fail(err, KILN_ERR_SHAPE, "node '%s' (%s): write_indices must be integers [batch]",
                     n->name, n->op_type);
  return KILN_OK;
}

static kiln_status infer_tensor_scatter(kiln_graph *g, kiln_node *n, kiln_error *err) {
  int axis;
  if (ts_plan(g, n, &axis, err)) return err->code;
  const kiln_value *past = kiln_node_in(g, n, 0);
  kiln_set_out(g, n, 0, past->dtype, past->rank, past->dims);
  return KILN_OK;
}

/* y[.., q, ..] = update[.., q - w[b], ..] where that lies in [0, S) (circular: (q - w[b])
 * mod M), else past[.., q, ..]; linear writes must fit: w[b] in [0, M - S]. */
static kiln_status lower_tensor_scatter(kiln_lower_ctx *c) {
  kiln_kernel *k = c->k;
  int axis;
  if (ts_plan(c->g, c->n, &axis, c->err)) return c->err->code;
  int64_t m = k->bufs[c->in_buf[0]].dims[axis], len = k->bufs[c->in_buf[1]].dims[axis];
  bool circular = !strcmp(kiln_attr_str(c->n, "mode", "linear"), "circular");
  kiln_expr *v[KILN_MAX_RANK], *ui[KILN_MAX_RANK];
  kiln_stage *s = kiln_elementwise_stage(k, "tensor_scatter", c->out_buf[0], v);
  kiln_expr *w = kx_idx(k, 0);
  if (c->n->ninputs > 2 && c->in_buf[2] >= 0) {
    w = kx_cast(k, kx_load(k, c->in_buf[2], &v[0]), KILN_I64);
    if (!circular) {
      const kiln_value *wv = kiln_node_in(c->g, c->n, 2);
      char what[512];
      snprintf(what, sizeof what, "node '%s' (%s): input '%s' (a write of %lld past it must fit "
               "%lld)", c->n->name, c->n->op_type, wv->name ? wv->name : "?", (long long)len,
               (long long)m);
      w = kx_check_index(k, w, m - len + 1, false, what);
    }
  }
  kiln_expr *u = kx_binary(k, KB_SUB, v[axis], w);
  if (circular) u = kx_binary(k, KB_MOD, kx_addi(k, kx_binary(k, KB_MOD, u, kx_idx(k, m)), m), kx_idx(k, m));
  kiln_expr *inside = circular ? kx_binary(k, KB_LT, u, kx_idx(k, len)) : kx_in_range(k, u, len);
  memcpy(ui, v, sizeof ui);
  ui[axis] = kx_select(k, inside, u, kx_idx(k, 0));
  kiln_stage_store(k, s, v, kx_select(k, inside, kx_load(k, c->in_buf[1], ui), kx_load(k, c->in_buf[0], v)));
  return KILN_OK;
}

static const kiln_attr_spec ts_attrs[] = {
    {"axis", KILN_ATTR_INT, false}, {"mode", KILN_ATTR_STRING, false}, {NULL}};

const kiln_op_def kiln_ops_scatter[] = {
    {"ScatterND", 3, 3, 1, 1, nd_attrs, infer_scatter_nd, lower_scatter_nd, NULL, KILN_OP_SYMBOLIC},
    {"TensorScatter", 2, 3, 1, 1, ts_attrs, infer_tensor_scatter, lower_tensor_scatter, NULL, 0},
    {"ScatterElements", 3, 3, 1, 1, elements_attrs, infer_scatter_elements,
     lower_scatter_elements, NULL, KILN_OP_SYMBOLIC},
    {"Scatter", 3, 3, 1, 1, elements_attrs, infer_scatter_elements, lower_scatter_elements,
     NULL, 0},
    {NULL},
};
