/* DeformConv (opset 19) on 2-D images, torchvision's deform_conv2d: a grouped convolution
 * whose every tap (a, b) of every output point (i, j) reads X not at the grid point
 * (i * stride - pad + a * dilation, likewise for j) but that point moved by a learned
 * offset, bilinearly interpolated (taps outside the image read 0), and scaled by an
 * optional mask:
 *
 *   y[n, m, i, j] = B[m] + sum over c, a, b of W[m, c, a, b] * mask[n, g, a, b, i, j]
 *                   * bilinear(X[n, ic], pos + offset[n, g, a, b, :, i, j])
 *
 * where ic is channel c of m's group and g = ic / (C / offset_group), offset viewed as
 * [N, offset_group, kH, kW, 2, oH, oW] and mask as [N, offset_group, kH, kW, oH, oW].
 * One reduction stage over (c, a, b); arithmetic in f32 (f64 for f64). Taps are loaded at
 * indices clamped into the image, so no offset value, NaN included, reads out of bounds. */
#include "ir/ops/nn_window.h"

#include "ir/dtype.h"

/* The geometry, and the group counts (*group, *ogroup), after checking every input's shape. */
static kiln_status deform_plan(const kiln_graph *g, const kiln_node *n, kiln_window *w,
                               int64_t *group, int64_t *ogroup, kiln_error *err) {
  const kiln_value *x = kiln_node_in(g, n, 0), *wt = kiln_node_in(g, n, 1),
                   *off = kiln_node_in(g, n, 2);
  const kiln_value *b = kiln_node_in(g, n, 3), *mask = kiln_node_in(g, n, 4);
  if (x->rank != 4 || !kiln_dtype_is_float(x->dtype))
    return kiln_fail_node(n, err, KILN_ERR_UNSUPPORTED, "X must be a float tensor [N, C, H, W]");
  if (wt->rank != 4 || wt->dtype != x->dtype || off->rank != 4 || off->dtype != x->dtype)
    return kiln_fail_node(n, err, KILN_ERR_SHAPE, "W and offset must be [M, C/group, kH, kW] and "
                                             "[N, 2 kH kW offset_group, oH, oW] of X's type");
  *group = kiln_attr_int(n, "group", 1);
  *ogroup = kiln_attr_int(n, "offset_group", 1);
  int64_t c = x->dims[1], m = wt->dims[0];
  if (*group < 1 || *ogroup < 1 || c != wt->dims[1] * *group || m % *group || c % *ogroup)
    return kiln_fail_node(n, err, KILN_ERR_SHAPE,
                          "X's channels must be W's times group, and W's count and X's channels "
                          "divisible by group and offset_group");
  int64_t kernel[2] = {wt->dims[2], wt->dims[3]}, ks[2];
  if (kiln_window_ints(n, "kernel_shape", 2, 0, ks, err)) return err->code;
  if (kiln_node_attr(n, "kernel_shape") && (ks[0] != kernel[0] || ks[1] != kernel[1]))
    return kiln_fail_node(n, err, KILN_ERR_SHAPE, "kernel_shape differs from W's");
  if (kiln_window_plan(n, 4, x->dims, kernel, false, w, err)) return err->code;
  int64_t taps = kernel[0] * kernel[1];
  if (off->dims[0] != x->dims[0] || off->dims[1] != 2 * taps * *ogroup ||
      off->dims[2] != w->out[0] || off->dims[3] != w->out[1])
    return kiln_fail_node(n, err, KILN_ERR_SHAPE,
                          "offset must be [N, 2 kH kW offset_group, oH, oW] for the output's size");
  if (b && (b->rank != 1 || b->dims[0] != m || b->dtype != x->dtype))
    return kiln_fail_node(n, err, KILN_ERR_SHAPE, "B must be [M] of X's type");
  if (mask && (mask->rank != 4 || mask->dtype != x->dtype || mask->dims[0] != x->dims[0] ||
               mask->dims[1] != taps * *ogroup || mask->dims[2] != w->out[0] ||
               mask->dims[3] != w->out[1]))
    return kiln_fail_node(n, err, KILN_ERR_SHAPE, "mask must be [N, kH kW offset_group, oH, oW] of X's type");
  return KILN_OK;
}

static kiln_status infer_deform_conv(kiln_graph *g, kiln_node *n, kiln_error *err) {
  kiln_window w;
  int64_t group, ogroup;
  if (deform_plan(g, n, &w, &group, &ogroup, err)) return err->code;
  const kiln_value *x = kiln_node_in(g, n, 0);
  int64_t dims[4] = {x->dims[0], kiln_node_in(g, n, 1)->dims[0], w.out[0], w.out[1]};
  kiln_set_out(g, n, 0, x->dtype, 4, dims);
  return KILN_OK;
}

typedef struct dc {
  kiln_kernel *k;
  kiln_dtype t;  /* arithmetic type */
  int x;         /* X's buffer */
  kiln_expr *n, *ic;
  int64_t dim[2];
} dc;

static kiln_expr *F(dc *s, double v) { return kx_const_f(s->k, s->t, v); }
static kiln_expr *B(dc *s, kiln_binary_op op, kiln_expr *a, kiln_expr *b) {
  return kx_binary(s->k, op, a, b);
}

/* X[n, ic, y, x] at integral float coordinates, 0 outside the image. */
static kiln_expr *tap(dc *s, kiln_expr *py, kiln_expr *px) {
  kiln_expr *p[2] = {py, px}, *idx[4] = {s->n, s->ic}, *ok = NULL;
  for (int d = 0; d < 2; d++) {
    double top = (double)(s->dim[d] - 1);
    ok = kx_and(s->k, ok, kx_and(s->k, B(s, KB_GE, p[d], F(s, 0)), B(s, KB_LE, p[d], F(s, top))));
    /* any float -> an index inside (NaN saturates to 0) */
    idx[2 + d] = kx_cast(s->k, B(s, KB_MIN, B(s, KB_MAX, p[d], F(s, 0)), F(s, top)), KILN_I64);
  }
  return kx_select(s->k, ok, kx_cast(s->k, kx_load(s->k, s->x, idx), s->t), F(s, 0));
}

static kiln_status lower_deform_conv(kiln_lower_ctx *c) {
  kiln_window w;
  int64_t group, ogroup;
  if (deform_plan(c->g, c->n, &w, &group, &ogroup, c->err)) return c->err->code;
  kiln_kernel *k = c->k;
  const kiln_buffer *x = &k->bufs[c->in_buf[0]], *wt = &k->bufs[c->in_buf[1]];
  int yb = c->out_buf[0];
  dc s = {.k = k, .t = x->dtype == KILN_F64 ? KILN_F64 : KILN_F32, .x = c->in_buf[0],
          .dim = {x->dims[2], x->dims[3]}};
  int64_t cg = wt->dims[1], mg = wt->dims[0] / group, cog = x->dims[1] / ogroup;
  kiln_stage *st = kiln_kernel_add_stage(k, "deform_conv", yb);
  kiln_expr *o[4], *r[3];
  for (int d = 0; d < 4; d++) o[d] = kx_var(k, kiln_stage_axis(st, k->bufs[yb].dims[d], false));
  r[0] = kx_var(k, kiln_stage_axis(st, cg, true));
  for (int d = 0; d < 2; d++) r[1 + d] = kx_var(k, kiln_stage_axis(st, w.kernel[d], true));
  s.n = o[0];
  s.ic = kx_add(k, kx_muli(k, kx_binary(k, KB_DIV, o[1], kx_idx(k, mg)), cg), r[0]);
  /* the offset group's tap: ((g kH + a) kW + b) */
  kiln_expr *gt = kx_add(k, kx_muli(k, kx_add(k, kx_muli(k, kx_binary(k, KB_DIV, s.ic, kx_idx(k, cog)),
                                                          w.kernel[0]), r[1]), w.kernel[1]), r[2]);
  kiln_expr *base[2], *frac[2];
  for (int d = 0; d < 2; d++) {
    kiln_expr *oi[4] = {o[0], kx_addi(k, kx_muli(k, gt, 2), d), o[2], o[3]};
    kiln_expr *grid = kiln_window_pos(k, &w, d, o[2 + d], r[1 + d]);
    kiln_expr *p = B(&s, KB_ADD, kx_cast(k, grid, s.t), kx_cast(k, kx_load(k, c->in_buf[2], oi), s.t));
    base[d] = kx_unary(k, KU_FLOOR, p);
    frac[d] = B(&s, KB_SUB, p, base[d]);
  }
  kiln_expr *v = NULL;
  for (int i = 0; i < 2; i++) {
    kiln_expr *wy = i ? frac[0] : B(&s, KB_SUB, F(&s, 1), frac[0]);
    kiln_expr *py = i ? B(&s, KB_ADD, base[0], F(&s, 1)) : base[0];
    for (int j = 0; j < 2; j++) {
      kiln_expr *wx = j ? frac[1] : B(&s, KB_SUB, F(&s, 1), frac[1]);
      kiln_expr *px = j ? B(&s, KB_ADD, base[1], F(&s, 1)) : base[1];
      kiln_expr *term = B(&s, KB_MUL, B(&s, KB_MUL, wy, wx), tap(&s, py, px));
      v = v ? B(&s, KB_ADD, v, term) : term;
    }
  }
  kiln_expr *wi[4] = {o[1], r[0], r[1], r[2]};
  v = B(&s, KB_MUL, v, kx_cast(k, kx_load(k, c->in_buf[1], wi), s.t));
  if (c->n->ninputs > 4 && c->in_buf[4] >= 0) {
    kiln_expr *mi[4] = {o[0], gt, o[2], o[3]};
    v = B(&s, KB_MUL, v, kx_cast(k, kx_load(k, c->in_buf[4], mi), s.t));
  }
  st->reduce = KR_SUM;
  kiln_expr *y = kx_acc(k, s.t);
  if (c->n->ninputs > 3 && c->in_buf[3] >= 0) {
    kiln_expr *bi[1] = {o[1]};
    y = B(&s, KB_ADD, y, kx_cast(k, kx_load(k, c->in_buf[3], bi), s.t));
  }
  st->post = kx_cast(k, y, x->dtype);
  kiln_stage_store(k, st, o, v);
  return KILN_OK;
}

static const kiln_attr_spec deform_conv_attrs[] = {
    {"dilations", KILN_ATTR_INTS, false}, {"group", KILN_ATTR_INT, false},
    {"kernel_shape", KILN_ATTR_INTS, false}, {"offset_group", KILN_ATTR_INT, false},
    {"pads", KILN_ATTR_INTS, false}, {"strides", KILN_ATTR_INTS, false}, {NULL}};

const kiln_op_def kiln_ops_deform_conv[] = {
    {"DeformConv", 3, 5, 1, 1, deform_conv_attrs, infer_deform_conv, lower_deform_conv, NULL, 0},
    {NULL},
};
