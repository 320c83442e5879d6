/* Pooling: MaxPool (with optional Indices), AveragePool, LpPool, GlobalMaxPool,
 * GlobalAveragePool, GlobalLpPool. A window is a reduction over kernel offsets; positions outside the
 * input are guarded loads that yield the reduction's identity.
 *
 * With the attribute `_blocked` (set by the layout pass, passes/layout.c) the input is in
 * the blocked layout [N, C/b, spatial..., b] (ir/ops/layout.c) and so is the output: the
 * block is one more spatial axis, innermost, that the window does not cover. */
#include "ir/ops/nn_window.h"

#include "ir/dtype.h"

#include <string.h>

/* The block of a blocked pool's input (its last dim), 0 for the plain layout. */
static int64_t pool_block(const kiln_graph *g, const kiln_node *n) {
  const kiln_value *x = kiln_node_in(g, n, 0);
  return kiln_attr_int(n, "_blocked", 0) && x->rank >= 4 ? x->dims[x->rank - 1] : 0;
}

static kiln_status pool_plan(const kiln_graph *g, const kiln_node *n, kiln_window *w,
                             kiln_error *err) {
  const kiln_value *x = kiln_node_in(g, n, 0);
  int rank = x->rank - (pool_block(g, n) ? 1 : 0);
  if (kiln_attr_int(n, "_blocked", 0) && (x->rank < 4 || n->noutputs > 1))
    return kiln_fail(err, KILN_ERR_INVALID_MODEL, "node '%s' (%s): a blocked pool takes "
                     "[N, C/b, spatial..., b] and has no Indices", n->name, n->op_type);
  const int64_t *ks;
  int nk = kiln_attr_ints(n, "kernel_shape", &ks);
  if (nk != rank - 2)
    return kiln_fail(err, KILN_ERR_INVALID_MODEL,
                     "node '%s' (%s): kernel_shape has %d values for an input of rank %d",
                     n->name, n->op_type, nk, rank);
  if (kiln_window_plan(n, rank, x->dims, ks, true, w, err)) return err->code;
  kiln_window_mark_free(w, x);
  if (2 + 2 * w->nsp > KILN_MAX_AXES) /* a stage's axes: batch, channel, window, output */
    return kiln_fail(err, KILN_ERR_UNSUPPORTED, "node '%s' (%s): %d spatial dims", n->name,
                     n->op_type, w->nsp);
  return KILN_OK;
}

/* A window over an empty spatial dim has nothing to reduce (padding only: -inf, 0/0):
 * an error, as onnxruntime's, unless there is no output either. */
static kiln_status check_not_empty(const kiln_node *n, const kiln_value *x, int nsp,
                                   kiln_error *err) {
  for (int d = 2; d < 2 + nsp; d++)
    if (x->dims[d] == 0 && x->dims[0] != 0 && x->dims[1] != 0)
      return kiln_fail(err, KILN_ERR_SHAPE, "node '%s' (%s): input '%s' is empty along spatial "
                       "dim %d: there is nothing to pool", n->name, n->op_type, x->name, d);
  return KILN_OK;
}

static kiln_status infer_pool(kiln_graph *g, kiln_node *n, kiln_error *err) {
  kiln_window w;
  const kiln_value *x = kiln_node_in(g, n, 0);
  if (pool_plan(g, n, &w, err) || check_not_empty(n, x, w.nsp, err)) return err->code;
  int64_t dims[KILN_MAX_RANK] = {x->dims[0], x->dims[1]};
  memcpy(dims + 2, w.out, sizeof(int64_t) * (size_t)w.nsp);
  if (pool_block(g, n)) dims[x->rank - 1] = x->dims[x->rank - 1];
  kiln_set_out(g, n, 0, x->dtype, x->rank, dims);
  kiln_set_out(g, n, 1, KILN_I64, x->rank, dims);
  return KILN_OK;
}

/* A stage over (n, c, outputs..., and the block b when b > 0) reducing kernel offsets; o[]
 * indexes the output, xi[] the input, *inside is the guard (NULL when no window
 * overhangs). */
static kiln_stage *window_stage(kiln_kernel *k, const char *name, int out, const kiln_window *w,
                                int64_t nb, int64_t ch, int64_t b, kiln_expr **o,
                                kiln_expr **kv, kiln_expr **xi, kiln_expr **inside) {
  kiln_stage *s = kiln_kernel_add_stage(k, name, out);
  o[0] = kx_var(k, kiln_stage_axis(s, nb, false));
  o[1] = kx_var(k, kiln_stage_axis(s, ch, false));
  for (int d = 0; d < w->nsp; d++) o[d + 2] = kx_var(k, kiln_stage_axis(s, w->out[d], false));
  if (b) o[w->nsp + 2] = xi[w->nsp + 2] = kx_var(k, kiln_stage_axis(s, b, false));
  for (int d = 0; d < w->nsp; d++) kv[d] = kx_var(k, kiln_stage_axis(s, w->kernel[d], true));
  xi[0] = o[0];
  xi[1] = o[1];
  *inside = NULL;
  for (int d = 0; d < w->nsp; d++) {
    xi[d + 2] = kiln_window_pos(k, w, d, o[d + 2], kv[d]);
    if (kiln_window_overhangs(w, d)) *inside = kx_and(k, *inside, kx_in_range(k, xi[d + 2], w->in[d]));
  }
  return s;
}

static kiln_status lower_maxpool(kiln_lower_ctx *c) {
  kiln_kernel *k = c->k;
  kiln_window w;
  if (pool_plan(c->g, c->n, &w, c->err)) return c->err->code;
  int xb = c->in_buf[0], yb = c->out_buf[0];
  const kiln_buffer *xbuf = &k->bufs[xb];
  kiln_dtype t = xbuf->dtype;
  kiln_expr *o[KILN_MAX_RANK], *kv[KILN_MAX_SPATIAL], *xi[KILN_MAX_RANK], *inside;
  kiln_stage *s = window_stage(k, "maxpool", yb, &w, xbuf->dims[0], xbuf->dims[1],
                               pool_block(c->g, c->n), o, kv, xi, &inside);
  kiln_expr *x = kx_load(k, xb, xi);
  if (inside) x = kx_select(k, inside, x, kx_reduce_identity(k, KR_MAX, t));
  s->reduce = KR_MAX;
  kiln_stage_store(k, s, o, x);
  if (c->n->noutputs < 2 || c->n->outputs[1] < 0) return KILN_OK;

  /* Indices: the smallest flat input index holding the maximum (the first in the
   * window for row-major order; storage_order 1 numbers spatial dims column-major). A
   * window holding NaN has a NaN maximum: the first NaN is its index. */
  bool colmajor = kiln_attr_int(c->n, "storage_order", 0) != 0;
  s = window_stage(k, "maxpool_indices", c->out_buf[1], &w, xbuf->dims[0], xbuf->dims[1], 0, o,
                   kv, xi, &inside);
  kiln_expr *flat = kx_add(k, kx_muli(k, o[0], xbuf->dims[1]), o[1]), *sp = kx_idx(k, 0);
  int64_t spatial = 1;
  for (int d = 0; d < w.nsp; d++) {
    int dd = colmajor ? w.nsp - 1 - d : d;
    sp = kx_add(k, kx_muli(k, sp, w.in[dd]), xi[dd + 2]);
    spatial *= w.in[d];
  }
  flat = kx_add(k, kx_muli(k, flat, spatial), sp);
  kiln_expr *xv = kx_load(k, xb, xi), *yv = kx_load(k, yb, o);
  kiln_expr *hit = kx_binary(k, KB_EQ, xv, yv);
  if (kiln_dtype_is_float(xv->dtype)) /* the maximum is NaN where any is: the first NaN */
    hit = kx_binary(k, KB_OR, hit, kx_and(k, kx_unary(k, KU_ISNAN, xv), kx_unary(k, KU_ISNAN, yv)));
  if (inside) hit = kx_select(k, inside, hit, kx_const_i(k, KILN_BOOL, 0));
  s->reduce = KR_MIN;
  kiln_stage_store(k, s, o, kx_select(k, hit, flat, kx_idx(k, INT64_MAX)));
  return KILN_OK;
}

/* Whether AveragePool counts fewer than the full window somewhere along dim d: windows
 * overhang the input (or, with count_include_pad, a ceil_mode window runs past the end
 * padding). */
static bool avg_partial(const kiln_window *w, int d, bool include_pad) {
  if (!include_pad || w->free[d]) return kiln_window_overhangs(w, d);
  return (w->out[d] - 1) * w->stride[d] - w->pad_begin[d] + (w->kernel[d] - 1) * w->dil[d] >=
         w->in[d] + w->pad_end[d];
}

/* Sum over the window divided by the number of elements counted. Where that number
 * varies it is first counted into a temporary over the output positions. */
static kiln_status lower_avgpool(kiln_lower_ctx *c) {
  kiln_kernel *k = c->k;
  kiln_window w;
  if (pool_plan(c->g, c->n, &w, c->err)) return c->err->code;
  int xb = c->in_buf[0];
  int64_t nb = k->bufs[xb].dims[0], ch = k->bufs[xb].dims[1];
  kiln_dtype t = k->bufs[xb].dtype;
  bool include_pad = kiln_attr_int(c->n, "count_include_pad", 0) != 0;
  kiln_expr *o[KILN_MAX_RANK], *kv[KILN_MAX_SPATIAL], *xi[KILN_MAX_RANK], *inside;

  bool partial = false;
  for (int d = 0; d < w.nsp; d++) partial |= avg_partial(&w, d, include_pad);
  int cnt = -1;
  if (partial) {
    /* the count depends on the output position only: n and c have extent 1 there */
    int64_t cdims[KILN_MAX_RANK] = {1, 1};
    memcpy(cdims + 2, w.out, sizeof(int64_t) * (size_t)w.nsp);
    cnt = kiln_kernel_add_buffer(k, "count", KILN_BUF_TEMP, -1, t, w.nsp + 2, cdims);
    kiln_stage *cs = window_stage(k, "avgpool_count", cnt, &w, 1, 1, 0, o, kv, xi, &inside);
    kiln_expr *counted = NULL;
    for (int d = 0; d < w.nsp; d++) {
      if (!avg_partial(&w, d, include_pad)) continue;
      int64_t hi = include_pad ? w.in[d] + w.pad_end[d] : w.in[d];
      kiln_expr *below = kx_binary(k, KB_LT, xi[d + 2], kx_idx(k, hi));
      counted = kx_and(k, counted, include_pad ? below : kx_in_range(k, xi[d + 2], hi));
    }
    cs->reduce = KR_SUM;
    kiln_stage_store(k, cs, o, kx_select(k, counted, kx_const_f(k, t, 1), kx_const_f(k, t, 0)));
  }

  kiln_stage *s = window_stage(k, "avgpool", c->out_buf[0], &w, nb, ch, pool_block(c->g, c->n),
                               o, kv, xi, &inside);
  kiln_expr *x = kx_load(k, xb, xi);
  if (inside) x = kx_select(k, inside, x, kx_const_f(k, t, 0));
  s->reduce = KR_SUM;
  kiln_expr *div;
  if (cnt >= 0) {
    kiln_expr *ci[KILN_MAX_RANK] = {kx_idx(k, 0), kx_idx(k, 0)};
    for (int d = 0; d < w.nsp; d++) ci[d + 2] = o[d + 2];
    div = kx_load(k, cnt, ci);
  } else {
    int64_t full = 1;
    for (int d = 0; d < w.nsp; d++) full *= w.kernel[d];
    div = kx_const_i(k, t, full);
  }
  s->post = kx_binary(k, KB_DIV, kx_acc(k, t), div);
  kiln_stage_store(k, s, o, x);
  return KILN_OK;
}

/* |x|^p, p an integer >= 1 (1 and 2 without a pow), and its root. */
static kiln_expr *lp_term(kiln_kernel *k, kiln_expr *x, int64_t p) {
  if (p == 2) return kx_binary(k, KB_MUL, x, x);
  kiln_expr *a = kx_unary(k, KU_ABS, x);
  return p == 1 ? a : kx_binary(k, KB_POW, a, kx_const_f(k, x->dtype, (double)p));
}
static kiln_expr *lp_root(kiln_kernel *k, kiln_expr *acc, int64_t p) {
  if (p == 1) return acc;
  if (p == 2) return kx_unary(k, KU_SQRT, acc);
  return kx_binary(k, KB_POW, acc, kx_const_f(k, acc->dtype, 1.0 / (double)p));
}
static kiln_status lp_p(const kiln_node *n, int64_t *p, kiln_error *err) {
  *p = kiln_attr_int(n, "p", 2);
  if (*p < 1 || *p > 64)
    return kiln_fail(err, KILN_ERR_INVALID_MODEL, "node '%s' (%s): p must be 1 to 64, got %lld",
                     n->name, n->op_type, (long long)*p);
  return KILN_OK;
}

/* (sum over the window of |x|^p)^(1/p); padding adds nothing. */
static kiln_status lower_lppool(kiln_lower_ctx *c) {
  kiln_kernel *k = c->k;
  kiln_window w;
  int64_t p;
  if (pool_plan(c->g, c->n, &w, c->err) || lp_p(c->n, &p, c->err)) return c->err->code;
  int xb = c->in_buf[0];
  kiln_dtype t = k->bufs[xb].dtype;
  kiln_expr *o[KILN_MAX_RANK], *kv[KILN_MAX_SPATIAL], *xi[KILN_MAX_RANK], *inside;
  kiln_stage *s = window_stage(k, "lppool", c->out_buf[0], &w, k->bufs[xb].dims[0],
                               k->bufs[xb].dims[1], pool_block(c->g, c->n), o, kv, xi, &inside);
  kiln_expr *x = lp_term(k, kx_load(k, xb, xi), p);
  if (inside) x = kx_select(k, inside, x, kx_const_f(k, t, 0));
  s->reduce = KR_SUM;
  s->post = lp_root(k, kx_acc(k, t), p);
  kiln_stage_store(k, s, o, x);
  return KILN_OK;
}

/* ---- global pooling: one output per (n, c) --------------------------------------------- */

static kiln_status infer_global(kiln_graph *g, kiln_node *n, kiln_error *err) {
  const kiln_value *x = kiln_node_in(g, n, 0);
  if (x->rank < 2 || (kiln_attr_int(n, "_blocked", 0) && x->rank < 4))
    return kiln_fail(err, KILN_ERR_SHAPE, "node '%s' (%s): input must have rank >= 2 (4 "
                     "blocked)", n->name, n->op_type);
  int64_t dims[KILN_MAX_RANK], b = pool_block(g, n);
  if (check_not_empty(n, x, x->rank - 2 - (b ? 1 : 0), err)) return err->code;
  for (int d = 0; d < x->rank; d++) dims[d] = d < 2 || (b && d == x->rank - 1) ? x->dims[d] : 1;
  kiln_set_out(g, n, 0, x->dtype, x->rank, dims);
  return KILN_OK;
}

/* op KR_MAX, KR_SUM (average), or KR_SUM with p > 0 (LpPool's norm) */
static kiln_status lower_global(kiln_lower_ctx *c, kiln_reduce_op op, int64_t p) {
  kiln_kernel *k = c->k;
  const kiln_buffer *xb = &k->bufs[c->in_buf[0]];
  kiln_stage *s = kiln_kernel_add_stage(k, op == KR_MAX ? "globalmaxpool" : p ? "globallppool"
                                                                               : "globalavgpool",
                                        c->out_buf[0]);
  kiln_expr *xi[KILN_MAX_RANK], *o[KILN_MAX_RANK];
  int64_t count = 1;
  int nsp = xb->rank - (pool_block(c->g, c->n) ? 3 : 2); /* dims 2 .. 2 + nsp reduce */
  for (int d = 0; d < xb->rank; d++) {
    bool reduce = d >= 2 && d < 2 + nsp;
    xi[d] = kx_var(k, kiln_stage_axis(s, xb->dims[d], reduce));
    o[d] = reduce ? kx_idx(k, 0) : xi[d];
    if (reduce) count *= xb->dims[d];
  }
  s->reduce = op;
  kiln_expr *x = kx_load(k, c->in_buf[0], xi);
  if (p) {
    s->post = lp_root(k, kx_acc(k, xb->dtype), p);
    x = lp_term(k, x, p);
  } else if (op == KR_SUM) {
    /* the count as an i64 cast: with free dims it becomes their product (passes/lower_dyn.c) */
    s->post = kx_binary(k, KB_DIV, kx_acc(k, xb->dtype), kx_cast(k, kx_idx(k, count), xb->dtype));
  }
  kiln_stage_store(k, s, o, x);
  return KILN_OK;
}

static kiln_status lower_gmax(kiln_lower_ctx *c) { return lower_global(c, KR_MAX, 0); }
static kiln_status lower_gavg(kiln_lower_ctx *c) { return lower_global(c, KR_SUM, 0); }
static kiln_status lower_glp(kiln_lower_ctx *c) {
  int64_t p;
  return lp_p(c->n, &p, c->err) ? c->err->code : lower_global(c, KR_SUM, p);
}

static const kiln_attr_spec maxpool_attrs[] = {
    {"auto_pad", KILN_ATTR_STRING, false},  {"ceil_mode", KILN_ATTR_INT, false},
    {"dilations", KILN_ATTR_INTS, false},   {"kernel_shape", KILN_ATTR_INTS, true},
    {"pads", KILN_ATTR_INTS, false},        {"storage_order", KILN_ATTR_INT, false},
    {"strides", KILN_ATTR_INTS, false},     {"_blocked", KILN_ATTR_INT, false}, {NULL}};
static const kiln_attr_spec avgpool_attrs[] = {
    {"auto_pad", KILN_ATTR_STRING, false},  {"ceil_mode", KILN_ATTR_INT, false},
    {"count_include_pad", KILN_ATTR_INT, false}, {"dilations", KILN_ATTR_INTS, false},
    {"kernel_shape", KILN_ATTR_INTS, true}, {"pads", KILN_ATTR_INTS, false},
    {"strides", KILN_ATTR_INTS, false},     {"_blocked", KILN_ATTR_INT, false}, {NULL}};
static const kiln_attr_spec lppool_attrs[] = {
    {"auto_pad", KILN_ATTR_STRING, false},  {"ceil_mode", KILN_ATTR_INT, false},
    {"dilations", KILN_ATTR_INTS, false},   {"kernel_shape", KILN_ATTR_INTS, true},
    {"p", KILN_ATTR_INT, false},            {"pads", KILN_ATTR_INTS, false},
    {"strides", KILN_ATTR_INTS, false},     {"_blocked", KILN_ATTR_INT, false}, {NULL}};
static const kiln_attr_spec global_attrs[] = {{"_blocked", KILN_ATTR_INT, false}, {NULL}};
static const kiln_attr_spec global_lp_attrs[] = {
    {"p", KILN_ATTR_INT, false}, {"_blocked", KILN_ATTR_INT, false}, {NULL}};

const kiln_op_def kiln_ops_pool[] = {
    {"MaxPool", 1, 1, 1, 2, maxpool_attrs, infer_pool, lower_maxpool, NULL, KILN_OP_POOL | KILN_OP_SYMBOLIC},
    {"AveragePool", 1, 1, 1, 1, avgpool_attrs, infer_pool, lower_avgpool, NULL, KILN_OP_POOL | KILN_OP_SYMBOLIC},
    {"LpPool", 1, 1, 1, 1, lppool_attrs, infer_pool, lower_lppool, NULL, KILN_OP_POOL | KILN_OP_SYMBOLIC},
    {"GlobalMaxPool", 1, 1, 1, 1, global_attrs, infer_global, lower_gmax, NULL, KILN_OP_POOL | KILN_OP_SYMBOLIC},
    {"GlobalLpPool", 1, 1, 1, 1, global_lp_attrs, infer_global, lower_glp, NULL, KILN_OP_POOL | KILN_OP_SYMBOLIC},
    {"GlobalAveragePool", 1, 1, 1, 1, global_attrs, infer_global, lower_gavg, NULL,
     KILN_OP_POOL | KILN_OP_SYMBOLIC},
    {NULL},
};
