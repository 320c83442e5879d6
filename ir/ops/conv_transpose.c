/* ConvTranspose, in two forms.
 *
 * The GEMM form (f32, static shapes, no dilation): a GEMM makes every input point's
 * contribution to every output channel and kernel offset, cols[n, g, (m, k), p] = sum over
 * ci of W[g, ci, (m, k)] * x[n, g, ci, p] (W is already [C, M/group, K...]: a GEMM operand
 * as it is), then col2im adds each output's contributions, one stage per output phase
 * (o mod stride): the offsets k whose taps land on phase r are k0 + stride * t, read at
 * input point q + c - t for output o = stride * q + r, so no stage divides (onnxruntime
 * and oneDNN do the same GEMM; the phases are the sub-pixel decomposition). A 2x2 stride-2
 * ConvTranspose of 128 to 64 channels at 32x32: 113 ms in the gather form, under 1 ms.
 *
 * The gather form (everything else: free dims, dilations, other types): one reduction
 * stage, each output reading the inputs whose scattered window covers it, its loads
 * guarded by a divisibility test. */
#include "ir/ops/nn_window.h"

#include "ir/dtype.h"

#include <string.h>

/* X (N, C, D...), W (C, M/group, K...), B (M). Output size from output_shape, auto_pad or
 * pads, as the ONNX reference computes it. */
static kiln_status convt_plan(const kiln_graph *g, const kiln_node *n, kiln_window *w,
                              int64_t *group, kiln_error *err) {
  const kiln_value *x = kiln_node_in(g, n, 0), *wt = kiln_node_in(g, n, 1);
  if (wt->rank != x->rank || x->rank < 3)
    return kiln_fail(err, KILN_ERR_SHAPE, "node '%s' (%s): X rank %d and W rank %d differ",
                     n->name, n->op_type, x->rank, wt->rank);
  memset(w, 0, sizeof *w);
  int ns = w->nsp = x->rank - 2;
  *group = kiln_attr_int(n, "group", 1);
  if (*group < 1 || x->dims[1] % *group || wt->dims[0] != x->dims[1])
    return kiln_fail(err, KILN_ERR_SHAPE,
                     "node '%s' (%s): %lld input channels, W of %lld, group %lld do not agree",
                     n->name, n->op_type, (long long)x->dims[1], (long long)wt->dims[0],
                     (long long)*group);
  int64_t pads[2 * KILN_MAX_SPATIAL], opad[KILN_MAX_SPATIAL], oshape[KILN_MAX_RANK];
  if (kiln_window_ints(n, "strides", ns, 1, w->stride, err) ||
      kiln_window_ints(n, "dilations", ns, 1, w->dil, err) ||
      kiln_window_ints(n, "pads", 2 * ns, 0, pads, err) ||
      kiln_window_ints(n, "output_padding", ns, 0, opad, err))
    return err->code;
  const int64_t *os;
  int nos = kiln_attr_ints(n, "output_shape", &os);
  if (nos >= 0 && nos != ns && nos != ns + 2)
    return kiln_fail(err, KILN_ERR_INVALID_MODEL, "node '%s' (%s): output_shape has %d values",
                     n->name, n->op_type, nos);
  const char *ap = kiln_attr_str(n, "auto_pad", "NOTSET");
  bool same = !strcmp(ap, "SAME_UPPER") || !strcmp(ap, "SAME_LOWER");
  for (int d = 0; d < ns; d++) {
    int64_t in = w->in[d] = x->dims[d + 2];
    w->kernel[d] = wt->dims[d + 2];
    /* absurd attributes are refused before any arithmetic on them; past them, an output
     * dim over 2^40 is one no memory holds */
    int64_t big = INT32_MAX, o = nos >= 0 ? os[d + nos - ns] : 0;
    if (w->stride[d] < 1 || w->stride[d] > big || w->dil[d] < 1 || w->dil[d] > big ||
        opad[d] < 0 || opad[d] > big || w->kernel[d] < 1 || pads[d] < -big || pads[d] > big ||
        pads[d + ns] < -big || pads[d + ns] > big || o < -big || o > big)
      return kiln_fail(err, KILN_ERR_INVALID_MODEL, "node '%s' (%s): its kernel, strides and "
                       "dilations must be positive, its output_padding, pads and output_shape "
                       "at most 2^31 - 1 in size", n->name, n->op_type);
    /* full = stride * (in - 1) + opad + (kernel - 1) * dil + 1 */
    int64_t a, b, full;
    if (kiln_mul_overflows(w->stride[d], in - 1, &a) ||
        kiln_mul_overflows(w->kernel[d] - 1, w->dil[d], &b) || kiln_add_overflows(a, b, &full) ||
        kiln_add_overflows(full, opad[d] + 1, &full) || full > ((int64_t)1 << 40) ||
        (same && nos < 0 && kiln_mul_overflows(in, w->stride[d], &o)) || o > ((int64_t)1 << 40))
      return kiln_fail(err, KILN_ERR_SHAPE, "node '%s' (%s): its output size along dim %d "
                       "overflows", n->name, n->op_type, d + 2);
    oshape[d] = o;
    if (nos >= 0 || same) {
      /* total may be negative (output_shape asks for extra zeros at the end): the
       * reference splits it with floor division */
      int64_t total = full - o, half = kiln_floor_div(total, 2);
      w->pad_begin[d] = !strcmp(ap, "SAME_UPPER") ? half : total - half;
    } else {
      w->pad_begin[d] = strcmp(ap, "VALID") ? pads[d] : 0;
      oshape[d] = full - w->pad_begin[d] - (strcmp(ap, "VALID") ? pads[d + ns] : 0);
    }
    w->out[d] = oshape[d];
    if (w->out[d] < 1)
      return kiln_fail(err, KILN_ERR_SHAPE, "node '%s' (%s): output size %lld along dim %d",
                       n->name, n->op_type, (long long)w->out[d], d + 2);
  }
  return KILN_OK;
}

static kiln_status infer_convt(kiln_graph *g, kiln_node *n, kiln_error *err) {
  kiln_window w;
  int64_t group;
  if (convt_plan(g, n, &w, &group, err)) return err->code;
  const kiln_value *x = kiln_node_in(g, n, 0);
  int64_t dims[KILN_MAX_RANK] = {x->dims[0], kiln_node_in(g, n, 1)->dims[1] * group};
  memcpy(dims + 2, w.out, sizeof(int64_t) * (size_t)w.nsp);
  kiln_set_out(g, n, 0, x->dtype, x->rank, dims);
  return KILN_OK;
}

/* ---- the gather form ------------------------------------------------------------------ */

/* y[n, m, o] = sum over (ci, k) of x[n, g*Cg + ci, i] * W[g*Cg + ci, m % Mg, k] where
 * o = i*stride - pad + k*dil, i.e. i = (o + pad - k*dil) / stride when that divides. */
static kiln_status lower_gather(kiln_lower_ctx *c, const kiln_window *wp, int64_t group) {
  kiln_kernel *k = c->k;
  kiln_window w = *wp;
  int xb = c->in_buf[0], wb = c->in_buf[1], bb = c->n->ninputs > 2 ? c->in_buf[2] : -1;
  int64_t cg = k->bufs[xb].dims[1] / group, mg = k->bufs[wb].dims[1];
  kiln_stage *s = kiln_kernel_add_stage(k, "convtranspose", c->out_buf[0]);
  kiln_expr *o[KILN_MAX_RANK], *kv[KILN_MAX_SPATIAL];
  for (int d = 0; d < 2 + w.nsp; d++)
    o[d] = kx_var(k, kiln_stage_axis(s, k->bufs[c->out_buf[0]].dims[d], false));
  kiln_expr *ci = kx_var(k, kiln_stage_axis(s, cg, true));
  for (int d = 0; d < w.nsp; d++) kv[d] = kx_var(k, kiln_stage_axis(s, w.kernel[d], true));

  kiln_expr *chan = ci, *wm = o[1], *cond = NULL;
  if (group > 1) {
    kiln_expr *gi = kx_binary(k, KB_DIV, o[1], kx_idx(k, mg));
    chan = kx_add(k, kx_muli(k, gi, cg), ci);
    wm = kx_binary(k, KB_MOD, o[1], kx_idx(k, mg));
  }
  kiln_expr *xi[KILN_MAX_RANK] = {o[0], chan}, *wi[KILN_MAX_RANK] = {chan, wm};
  for (int d = 0; d < w.nsp; d++) {
    kiln_expr *t = kx_add(k, kx_addi(k, o[d + 2], w.pad_begin[d]), kx_muli(k, kv[d], -w.dil[d]));
    if (w.stride[d] > 1) {
      cond = kx_and(k, cond, kx_binary(k, KB_EQ, kx_binary(k, KB_MOD, t, kx_idx(k, w.stride[d])),
                                       kx_idx(k, 0)));
      t = kx_binary(k, KB_DIV, t, kx_idx(k, w.stride[d]));
    }
    xi[d + 2] = t;
    wi[d + 2] = kv[d];
    cond = kx_and(k, cond, kx_in_range(k, t, w.in[d]));
  }
  kiln_expr *xv = kx_load(k, xb, xi);
  kiln_expr *prod = kx_select(k, cond, kx_binary(k, KB_MUL, xv, kx_load(k, wb, wi)),
                              kx_const_f(k, xv->dtype, 0));
  s->reduce = KR_SUM;
  if (bb >= 0) s->post = kx_binary(k, KB_ADD, kx_acc(k, xv->dtype), kx_load(k, bb, &o[1]));
  kiln_stage_store(k, s, o, prod);
  return KILN_OK;
}

/* ---- the GEMM form ------------------------------------------------------------------- */

/* Past this the cols buffer (outputs x kernel offsets / strides) takes the gather form. */
#define COLS_MAX_BYTES (INT64_C(1) << 28)
/* Phases are stages: at most this many (strides' product). */
#define PHASES_MAX 64

static bool gemm_form(const kiln_lower_ctx *c, const kiln_window *w, int64_t group) {
  const kiln_kernel *k = c->k;
  for (int i = 0; i < c->n->ninputs; i++) {
    const kiln_buffer *b = c->in_buf[i] >= 0 ? &k->bufs[c->in_buf[i]] : NULL;
    if (b && (b->dtype != KILN_F32 || kiln_buffer_is_dyn(b))) return false;
  }
  const kiln_buffer *x = &k->bufs[c->in_buf[0]], *wt = &k->bufs[c->in_buf[1]];
  if (kiln_buffer_is_dyn(&k->bufs[c->out_buf[0]]) || 4 + 2 * w->nsp > KILN_MAX_AXES) return false;
  int64_t phases = 1, cols = 4; /* its bytes: N x group x M/group x K x P floats */
  bool over = kiln_mul_overflows(cols, x->dims[0], &cols) ||
              kiln_mul_overflows(cols, group, &cols) ||
              kiln_mul_overflows(cols, wt->dims[1], &cols);
  for (int d = 0; d < w->nsp && !over; d++)
    over = w->dil[d] != 1 || kiln_mul_overflows(phases, w->stride[d], &phases) ||
           kiln_mul_overflows(cols, w->kernel[d], &cols) ||
           kiln_mul_overflows(cols, w->in[d], &cols);
  return !over && phases <= PHASES_MAX && cols <= COLS_MAX_BYTES;
}

/* The stage of output phase r (o = stride * q + r along each dim) of a GEMM form: each
 * output adds the columns of cb (cols) its taps k0 + stride * t reach at input q + off - t,
 * then the bias (bb, -1: none); nothing where the phase has no outputs. */
static void add_phase(kiln_kernel *k, const kiln_window *w, const int64_t *r, int yb, int cb,
                      int bb) {
  int ns = w->nsp;
  int64_t q[KILN_MAX_SPATIAL], k0[KILN_MAX_SPATIAL], t[KILN_MAX_SPATIAL], off[KILN_MAX_SPATIAL];
  bool taps = true; /* false: a kernel narrower than its stride misses the phase */
  for (int d = 0; d < ns; d++) {
    int64_t st = w->stride[d];
    q[d] = (w->out[d] - r[d] + st - 1) / st;
    if (q[d] < 1) return;
    k0[d] = ((r[d] + w->pad_begin[d]) % st + st) % st;
    t[d] = k0[d] < w->kernel[d] ? (w->kernel[d] - k0[d] + st - 1) / st : 0;
    off[d] = (r[d] + w->pad_begin[d] - k0[d]) / st; /* exact: a multiple of st */
    taps &= t[d] > 0;
  }
  const kiln_buffer *y = &k->bufs[yb];
  kiln_stage *s = kiln_kernel_add_stage(k, "convt_phase", yb);
  kiln_expr *o[3 + KILN_MAX_SPATIAL], *tv[KILN_MAX_SPATIAL], *so[3 + KILN_MAX_SPATIAL];
  for (int d = 0; d < 3; d++) o[d] = so[d] = kx_var(k, kiln_stage_axis(s, y->dims[d], false));
  for (int d = 0; d < ns; d++) {
    o[3 + d] = kx_var(k, kiln_stage_axis(s, q[d], false));
    so[3 + d] = kx_addi(k, kx_muli(k, o[3 + d], w->stride[d]), r[d]);
  }
  bool reduce = false;
  for (int d = 0; d < ns; d++) {
    reduce |= taps && t[d] > 1;
    tv[d] = taps && t[d] > 1 ? kx_var(k, kiln_stage_axis(s, t[d], true)) : kx_idx(k, 0);
  }
  kiln_expr *value = NULL;
  if (taps) { /* cols[n, g, m*K + sum(k_d * Kstride_d), sum(i_d * Pstride_d)] */
    kiln_expr *ki = o[2], *pi = kx_idx(k, 0), *cond = NULL;
    for (int d = 0; d < ns; d++) {
      kiln_expr *kd = kx_addi(k, kx_muli(k, tv[d], w->stride[d]), k0[d]);
      kiln_expr *id = kx_add(k, kx_addi(k, o[3 + d], off[d]), kx_muli(k, tv[d], -1));
      ki = kx_add(k, kx_muli(k, ki, w->kernel[d]), kd);
      pi = kx_add(k, kx_muli(k, pi, w->in[d]), id);
      /* an input outside (the taps all lie inside the kernel: k0 + stride*(T-1) < K) */
      if (q[d] - 1 + off[d] >= w->in[d] || off[d] - (t[d] - 1) < 0)
        cond = kx_and(k, cond, kx_in_range(k, id, w->in[d]));
    }
    kiln_expr *ci4[4] = {o[0], o[1], ki, pi};
    value = kx_load(k, cb, ci4);
    if (cond) value = kx_select(k, cond, value, kx_const_f(k, KILN_F32, 0));
  }
  kiln_expr *bias = bb >= 0 ? kx_load(k, bb, (kiln_expr *[]){o[1], o[2]}) : NULL;
  if (reduce) {
    s->reduce = KR_SUM;
    if (bias) s->post = kx_binary(k, KB_ADD, kx_acc(k, KILN_F32), bias);
  } else if (!value) {
    value = bias ? bias : kx_const_f(k, KILN_F32, 0);
  } else if (bias) {
    value = kx_binary(k, KB_ADD, value, bias);
  }
  kiln_stage_store(k, s, so, value);
}

static kiln_status lower_gemm(kiln_lower_ctx *c, const kiln_window *w, int64_t group) {
  kiln_kernel *k = c->k;
  int ns = w->nsp, xb = c->in_buf[0], wb = c->in_buf[1], yb = c->out_buf[0];
  int bb = c->n->ninputs > 2 ? c->in_buf[2] : -1;
  int64_t n = k->bufs[xb].dims[0], cg = k->bufs[xb].dims[1] / group, mg = k->bufs[wb].dims[1];
  int64_t kk = 1, p = 1;
  for (int d = 0; d < ns; d++) kk *= w->kernel[d], p *= w->in[d];
  /* views: x [N, G, Cg, P], W [G, Cg, Mg*K], y [N, G, Mg, O...], B [G, Mg] */
  kiln_buffer *x = &k->bufs[xb], *wt = &k->bufs[wb], *y = &k->bufs[yb];
  x->rank = 4, x->dims[1] = group, x->dims[2] = cg, x->dims[3] = p;
  wt->rank = 3, wt->dims[0] = group, wt->dims[1] = cg, wt->dims[2] = mg * kk;
  y->rank = 3 + ns, y->dims[1] = group, y->dims[2] = mg;
  for (int d = 0; d < ns; d++) y->dims[3 + d] = w->out[d];
  if (bb >= 0) k->bufs[bb].rank = 2, k->bufs[bb].dims[0] = group, k->bufs[bb].dims[1] = mg;
  int64_t cdims[4] = {n, group, mg * kk, p};
  int cb = kiln_kernel_add_buffer(k, "cols", KILN_BUF_TEMP, -1, KILN_F32, 4, cdims);

  kiln_stage *s = kiln_kernel_add_stage(k, "convt_gemm", cb);
  kiln_expr *v[4];
  for (int d = 0; d < 4; d++) v[d] = kx_var(k, kiln_stage_axis(s, cdims[d], false));
  kiln_expr *ci = kx_var(k, kiln_stage_axis(s, cg, true));
  kiln_expr *wi[3] = {v[1], ci, v[2]}, *xi[4] = {v[0], v[1], ci, v[3]};
  s->reduce = KR_SUM;
  kiln_stage_store(k, s, v, kx_binary(k, KB_MUL, kx_load(k, wb, wi), kx_load(k, xb, xi)));

  int64_t r[KILN_MAX_SPATIAL] = {0}; /* the phases, in mixed radix over the spatial dims */
  for (int d = 0; d >= 0;) {
    add_phase(k, w, r, yb, cb, bb);
    d = ns - 1;
    while (d >= 0 && ++r[d] == w->stride[d]) r[d--] = 0;
  }
  return KILN_OK;
}

static kiln_status lower_convt(kiln_lower_ctx *c) {
  kiln_window w;
  int64_t group;
  if (convt_plan(c->g, c->n, &w, &group, c->err)) return c->err->code;
  if (3 + 2 * w.nsp > KILN_MAX_AXES)
    return kiln_fail(c->err, KILN_ERR_UNSUPPORTED, "node '%s' (%s): %d spatial dims",
                     c->n->name, c->n->op_type, w.nsp);
  return gemm_form(c, &w, group) ? lower_gemm(c, &w, group) : lower_gather(c, &w, group);
}

static const kiln_attr_spec convt_attrs[] = {
    {"auto_pad", KILN_ATTR_STRING, false},     {"dilations", KILN_ATTR_INTS, false},
    {"group", KILN_ATTR_INT, false},           {"kernel_shape", KILN_ATTR_INTS, false},
    {"output_padding", KILN_ATTR_INTS, false}, {"output_shape", KILN_ATTR_INTS, false},
    {"pads", KILN_ATTR_INTS, false},           {"strides", KILN_ATTR_INTS, false},
    {NULL}};

const kiln_op_def kiln_ops_conv_transpose[] = {
    {"ConvTranspose", 2, 3, 1, 1, convt_attrs, infer_convt, lower_convt, NULL, KILN_OP_SYMBOLIC},
    {NULL},
};
