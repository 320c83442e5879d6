/* The blocked channel layout (NCHWc) the layout pass (passes/layout.c) gives convolution
 * networks: a tensor [N, C, H, W] stored as [N, C/b, H, W, b], b channels innermost, b the
 * target's vector width (or half of it). A convolution in that layout reads one vector of
 * b output channels' weights and multiplies it by one broadcast input element, so its
 * register tile (output positions x channel vectors) needs no gathers, whatever its stride;
 * a depthwise convolution reads b channels of input and weights as one vector each.
 *
 *  - ToBlocked [N, C, H, W] -> [N, C/b, H, W, b] and FromBlocked back: conversions at the
 *    edges of a blocked region;
 *  - ConvBlocked: a 2-D Conv with its input plain (read as blocks of 1 channel: the first
 *    convolution of a network) or blocked, weights packed at compile time in the order the
 *    register tile reads them, output blocked. Dense: W [M/ob][C/ib][KH][KW][ib][ob];
 *    depthwise (group = C = M, ib = ob = b): W [C/b][KH][KW][b]. Bias [M] as in Conv.
 * Elementwise ops need no blocked form: they run on the blocked shapes as they are. */
#include "ir/ops/nn_window.h"

#include "ir/dtype.h"

#include <string.h>

/* ---- ToBlocked / FromBlocked ----------------------------------------------------------- */

static kiln_status infer_to_blocked(kiln_graph *g, kiln_node *n, kiln_error *err) {
  const kiln_value *x = kiln_node_in(g, n, 0);
  int64_t b = kiln_attr_int(n, "block", 0);
  if (x->rank != 4 || b < 1 || x->dims[1] % b)
    return kiln_fail(err, KILN_ERR_SHAPE, "node '%s' (%s): input %s is not [N, C, H, W] with C "
                     "a multiple of block %lld", n->name, n->op_type, x->name, (long long)b);
  int64_t dims[5] = {x->dims[0], x->dims[1] / b, x->dims[2], x->dims[3], b};
  kiln_set_out(g, n, 0, x->dtype, 5, dims);
  return KILN_OK;
}

static kiln_status infer_from_blocked(kiln_graph *g, kiln_node *n, kiln_error *err) {
  const kiln_value *x = kiln_node_in(g, n, 0);
  if (x->rank != 5)
    return kiln_fail(err, KILN_ERR_SHAPE, "node '%s' (%s): input %s is not blocked [N, C/b, H, "
                     "W, b]", n->name, n->op_type, x->name);
  int64_t dims[4] = {x->dims[0], x->dims[1] * x->dims[4], x->dims[2], x->dims[3]};
  kiln_set_out(g, n, 0, x->dtype, 4, dims);
  return KILN_OK;
}

/* Both run over the blocked side's index [n, cb, h, w, ci]: channel c = cb * b + ci. */
static kiln_status lower_reblock(kiln_lower_ctx *c, bool to) {
  kiln_kernel *k = c->k;
  int blocked = to ? c->out_buf[0] : c->in_buf[0], plain = to ? c->in_buf[0] : c->out_buf[0];
  const kiln_buffer *bb = &k->bufs[blocked];
  kiln_stage *s = kiln_kernel_add_stage(k, to ? "to_blocked" : "from_blocked", to ? blocked : plain);
  kiln_expr *v[5], *pi[4];
  for (int d = 0; d < 5; d++) v[d] = kx_var(k, kiln_stage_axis(s, bb->dims[d], false));
  pi[0] = v[0];
  pi[1] = kx_add(k, kx_muli(k, v[1], bb->dims[4]), v[4]);
  pi[2] = v[2];
  pi[3] = v[3];
  kiln_stage_store(k, s, to ? v : pi, kx_load(k, to ? plain : blocked, to ? pi : v));
  return KILN_OK;
}

static kiln_status lower_to_blocked(kiln_lower_ctx *c) { return lower_reblock(c, true); }
static kiln_status lower_from_blocked(kiln_lower_ctx *c) { return lower_reblock(c, false); }

/* ---- ConvBlocked ----------------------------------------------------------------------- */

typedef struct convb {
  kiln_window w;
  bool depthwise;
  int64_t n, c, ib, mb, ob; /* batch, input channels, input block, output blocks, block */
  int64_t group;            /* dense: groups, each of mb/group output blocks reading
                               c/group input channels */
} convb;

static kiln_status convb_plan(const kiln_graph *g, const kiln_node *n, convb *p,
                              kiln_error *err) {
  const kiln_value *x = kiln_node_in(g, n, 0), *wt = kiln_node_in(g, n, 1),
                   *b = kiln_node_in(g, n, 2);
  memset(p, 0, sizeof *p);
  p->depthwise = kiln_attr_int(n, "_depthwise", 0) != 0;
  p->group = p->depthwise ? 1 : kiln_attr_int(n, "group", 1);
  bool ok = (x->rank == 4 || x->rank == 5) && wt->rank == (p->depthwise ? 4 : 6) &&
            x->dtype == wt->dtype && x->dtype == KILN_F32;
  int64_t kernel[2] = {0, 0}, xd[4] = {0};
  if (ok) {
    p->n = x->dims[0];
    p->ib = x->rank == 5 ? x->dims[4] : 1;
    p->c = x->dims[1] * p->ib;
    p->mb = wt->dims[0];
    p->ob = wt->dims[wt->rank - 1];
    kernel[0] = wt->dims[p->depthwise ? 1 : 2];
    kernel[1] = wt->dims[p->depthwise ? 2 : 3];
    xd[0] = p->n, xd[1] = p->c, xd[2] = x->dims[2], xd[3] = x->dims[3];
    if (p->depthwise) /* one weight vector per channel block */
      ok = p->ib == p->ob && wt->dims[0] == x->dims[1];
    else /* every (input block, output block) pair of a group */
      ok = p->group >= 1 && p->mb % p->group == 0 &&
           wt->dims[1] * wt->dims[4] * p->group == p->c && wt->dims[4] == p->ib;
    ok = ok && (!b || (b->rank == 1 && b->dims[0] == p->mb * p->ob && b->dtype == x->dtype));
  }
  if (!ok)
    return kiln_fail(err, KILN_ERR_SHAPE, "node '%s' (%s): input, packed weights and bias do "
                     "not agree", n->name, n->op_type);
  if (kiln_window_plan(n, 4, xd, kernel, false, &p->w, err)) return err->code;
  kiln_window_mark_free(&p->w, x);
  for (int d = 0; d < 2; d++)
    if (p->w.pad_begin[d] < 0 || p->w.pad_end[d] < 0)
      return kiln_fail(err, KILN_ERR_SHAPE, "node '%s' (%s): negative pads", n->name,
                       n->op_type);
  return KILN_OK;
}

static kiln_status infer_conv_blocked(kiln_graph *g, kiln_node *n, kiln_error *err) {
  convb p;
  if (convb_plan(g, n, &p, err)) return err->code;
  int64_t dims[5] = {p.n, p.mb, p.w.out[0], p.w.out[1], p.ob};
  kiln_set_out(g, n, 0, kiln_node_in(g, n, 0)->dtype, 5, dims);
  return KILN_OK;
}

/* A zero-padded copy of blocked buffer xb, [N, CB, Hp, Wp, ib], large enough for every
 * window (the conv then reads it at o*stride + k*dil with plain loads, no guard per
 * multiply-add): the border is zeroed by up to four stages, the input copied inside. */
static int padded_copy(kiln_kernel *k, int xb, const kiln_window *w) {
  const kiln_buffer *x = &k->bufs[xb];
  int64_t dims[5] = {x->dims[0], x->dims[1], 0, 0, x->dims[4]}, pb[2], in[2] = {w->in[0], w->in[1]};
  for (int d = 0; d < 2; d++) {
    int64_t reach = (w->out[d] - 1) * w->stride[d] + (w->kernel[d] - 1) * w->dil[d] + 1;
    pb[d] = w->pad_begin[d];
    dims[d + 2] = pb[d] + in[d] > reach ? pb[d] + in[d] : reach;
    /* a free dim: both pads, which cover every window whatever its size (the reach
     * changes with its residue, and the copy's dims must be one expression of it) */
    if (w->free[d]) dims[d + 2] = pb[d] + in[d] + w->pad_end[d];
  }
  int b = kiln_kernel_add_buffer(k, "padded", KILN_BUF_TEMP, -1, x->dtype, 5, dims);
  /* rows [from, to) x columns [cfrom, cto) */
  int64_t boxes[4][4] = {{0, pb[0], 0, dims[3]},
                         {pb[0] + in[0], dims[2], 0, dims[3]},
                         {pb[0], pb[0] + in[0], 0, pb[1]},
                         {pb[0], pb[0] + in[0], pb[1] + in[1], dims[3]}};
  for (int i = 0; i < 4; i++) {
    if (boxes[i][1] <= boxes[i][0] || boxes[i][3] <= boxes[i][2]) continue;
    kiln_stage *s = kiln_kernel_add_stage(k, "pad_zero", b);
    kiln_expr *o[5];
    for (int d = 0; d < 5; d++) {
      int64_t lo = d == 2 ? boxes[i][0] : d == 3 ? boxes[i][2] : 0;
      int64_t hi = d == 2 ? boxes[i][1] : d == 3 ? boxes[i][3] : dims[d];
      o[d] = kx_addi(k, kx_var(k, kiln_stage_axis(s, hi - lo, false)), lo);
    }
    kiln_stage_store(k, s, o, kx_const_f(k, x->dtype, 0));
  }
  kiln_stage *s = kiln_kernel_add_stage(k, "pad_copy", b);
  kiln_expr *o[5], *xi[5];
  for (int d = 0; d < 5; d++) {
    xi[d] = kx_var(k, kiln_stage_axis(s, k->bufs[xb].dims[d], false));
    o[d] = d == 2 || d == 3 ? kx_addi(k, xi[d], pb[d - 2]) : xi[d];
  }
  kiln_stage_store(k, s, o, kx_load(k, xb, xi));
  return b;
}

/* Whether some window along dim d reaches outside the input. Along a free dim, whether one
 * does depends on its size when a pad is positive, never when none is (a Conv's windows
 * then end at or before the input's last row). */
static bool overhangs(const kiln_window *w, int d) {
  if (w->free[d]) return w->pad_begin[d] > 0 || w->pad_end[d] > 0;
  return kiln_window_overhangs(w, d);
}

/* Views buffer b as its first dims, then H*W merged, then the block (a 1x1 conv). */
static void merge_spatial(kiln_kernel *k, int b) {
  kiln_buffer *buf = &k->bufs[b];
  buf->dims[2] *= buf->dims[3];
  buf->dims[3] = buf->dims[4];
  buf->rank = 4;
}

/* Axes: n, output block, oh, ow (or p = oh*OW + ow for a 1x1 unit-stride conv), channel in
 * the block; reductions: input block, kh, kw, channel in the input block (dense) or kh, kw
 * (depthwise). The channel in the block is stride 1 in the output and the weights. */
static kiln_status lower_conv_blocked(kiln_lower_ctx *c) {
  kiln_kernel *k = c->k;
  convb p;
  if (convb_plan(c->g, c->n, &p, c->err)) return c->err->code;
  const kiln_window *w = &p.w;
  int xb = c->in_buf[0], wb = c->in_buf[1], bb = c->n->ninputs > 2 ? c->in_buf[2] : -1;
  int yb = c->out_buf[0];
  kiln_buffer *x = &k->bufs[xb];
  if (x->rank == 4) { /* plain: blocks of one channel */
    x->dims[4] = 1;
    x->rank = 5;
  }
  /* a dense conv reads a padded copy; a depthwise one, a few multiply-adds per input
   * element, guards its loads instead (the copy would cost more than the conv) */
  bool over = overhangs(w, 0) || overhangs(w, 1);
  bool pad = over && !p.depthwise;
  bool flat = !pad && !p.depthwise && w->kernel[0] == 1 && w->kernel[1] == 1 &&
              w->stride[0] == 1 && w->stride[1] == 1;
  if (pad) xb = padded_copy(k, xb, w);
  if (flat) {
    merge_spatial(k, xb);
    merge_spatial(k, yb);
  }
  kiln_stage *s = kiln_kernel_add_stage(k, "conv", yb);
  int ry = k->bufs[yb].rank;
  kiln_expr *o[5];
  for (int d = 0; d < ry; d++) o[d] = kx_var(k, kiln_stage_axis(s, k->bufs[yb].dims[d], false));
  kiln_expr *ci = p.depthwise ? NULL : kx_var(k, kiln_stage_axis(s, k->bufs[wb].dims[1], true));
  kiln_expr *kv[2];
  for (int d = 0; d < 2; d++) kv[d] = kx_var(k, kiln_stage_axis(s, w->kernel[d], true));
  kiln_expr *ii = p.depthwise ? NULL : kx_var(k, kiln_stage_axis(s, p.ib, true));
  kiln_expr *oi = o[ry - 1], *xi[5], *wi[6], *inside = NULL;
  xi[0] = o[0];
  xi[1] = p.depthwise ? o[1] : ci;
  if (p.group > 1) /* the input blocks of output block o[1]'s group */
    xi[1] = kx_add(k, kx_muli(k, kx_binary(k, KB_DIV, o[1], kx_idx(k, p.mb / p.group)),
                              k->bufs[wb].dims[1]), ci);
  if (flat) {
    xi[2] = o[2];
    xi[3] = ii;
  } else {
    for (int d = 0; d < 2; d++) {
      xi[d + 2] = kx_add(k, kx_muli(k, o[d + 2], w->stride[d]), kx_muli(k, kv[d], w->dil[d]));
      if (over && !pad) {
        xi[d + 2] = kiln_window_unpad(k, w, d, xi[d + 2]);
        if (overhangs(w, d)) inside = kx_and(k, inside, kx_in_range(k, xi[d + 2], w->in[d]));
      }
    }
    xi[4] = p.depthwise ? oi : ii;
  }
  int nw = 0;
  wi[nw++] = o[1];
  if (!p.depthwise) wi[nw++] = ci;
  wi[nw++] = kv[0];
  wi[nw++] = kv[1];
  if (!p.depthwise) wi[nw++] = ii;
  wi[nw++] = oi;
  s->reduce = KR_SUM;
  if (bb >= 0) {
    kiln_expr *m = kx_add(k, kx_muli(k, o[1], p.ob), oi);
    s->post = kx_binary(k, KB_ADD, kx_acc(k, x->dtype), kx_load(k, bb, &m));
  }
  kiln_expr *xv = kx_load(k, xb, xi);
  if (inside) xv = kx_select(k, inside, xv, kx_const_f(k, xv->dtype, 0));
  kiln_stage_store(k, s, o, kx_binary(k, KB_MUL, xv, kx_load(k, wb, wi)));
  return KILN_OK;
}

static const kiln_attr_spec block_attrs[] = {{"block", KILN_ATTR_INT, true}, {NULL}};
static const kiln_attr_spec convb_attrs[] = {
    {"auto_pad", KILN_ATTR_STRING, false}, {"dilations", KILN_ATTR_INTS, false},
    {"group", KILN_ATTR_INT, false},       {"pads", KILN_ATTR_INTS, false},
    {"strides", KILN_ATTR_INTS, false},    {"_depthwise", KILN_ATTR_INT, false}, {NULL}};

const kiln_op_def kiln_ops_layout[] = {
    {"ToBlocked", 1, 1, 1, 1, block_attrs, infer_to_blocked, lower_to_blocked, NULL,
     KILN_OP_SYMBOLIC},
    {"FromBlocked", 1, 1, 1, 1, NULL, infer_from_blocked, lower_from_blocked, NULL,
     KILN_OP_SYMBOLIC},
    {"ConvBlocked", 2, 3, 1, 1, convb_attrs, infer_conv_blocked, lower_conv_blocked, NULL,
     KILN_OP_SYMBOLIC},
    {NULL},
};
