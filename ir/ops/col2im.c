/* Col2Im (PyTorch's fold): X [N, C x prod(block), L] holds, per sliding block position l
 * (L of them, row-major over the spatial dims) and per offset k inside the block, one
 * column; the image [N, C, image...] is the sum of every column element at the position
 * its block and offset land on, o = l * stride - pad_begin + k * dilation. Written as a
 * gather, like ConvTranspose's general form (conv_transpose.c): each image element sums
 * over the offsets k the blocks whose position l = (o + pad_begin - k * dilation) / stride
 * divides exactly and falls inside [0, L_d). image_shape and block_shape are inputs that
 * must be known at compile time. */
#include "ir/ops/nn_window.h"

#include <string.h>

/* The geometry: w->out the image, w->kernel the block, w->in the blocks per dim (L_d). */
static kiln_status col2im_plan(const kiln_graph *g, const kiln_node *n, kiln_window *w,
                               kiln_error *err) {
  const kiln_value *x = kiln_node_in(g, n, 0);
  int64_t image[KILN_MAX_RANK], block[KILN_MAX_RANK];
  int ni = 0, nb = 0;
  if (kiln_const_ints(g, n, 1, image, KILN_MAX_RANK, &ni, err) ||
      kiln_const_ints(g, n, 2, block, KILN_MAX_RANK, &nb, err))
    return err->code;
  if (ni < 1 || ni > KILN_MAX_SPATIAL || nb != ni)
    return kiln_fail_node(n, err, KILN_ERR_SHAPE,
                          "image_shape and block_shape need one size per spatial dim, as many");
  if (x->rank != 3) return kiln_fail_node(n, err, KILN_ERR_SHAPE, "input needs rank 3 [N, C x block, L]");
  memset(w, 0, sizeof *w);
  w->nsp = ni;
  int64_t pads[2 * KILN_MAX_SPATIAL];
  if (kiln_window_ints(n, "strides", ni, 1, w->stride, err) ||
      kiln_window_ints(n, "dilations", ni, 1, w->dil, err) ||
      kiln_window_ints(n, "pads", 2 * ni, 0, pads, err))
    return err->code;
  int64_t kprod = 1, lprod = 1;
  for (int d = 0; d < ni; d++) {
    int64_t big = INT32_MAX; /* past it, the sizes below could overflow */
    if (image[d] < 1 || block[d] < 1 || w->stride[d] < 1 || w->dil[d] < 1 || pads[d] < 0 ||
        pads[ni + d] < 0 || image[d] > big || block[d] > big || w->stride[d] > big ||
        w->dil[d] > big || pads[d] > big || pads[ni + d] > big)
      return kiln_fail_node(n, err, KILN_ERR_SHAPE,
                            "image and block sizes, strides and dilations must be positive, pads "
                            "not negative, all below 2^31");
    w->out[d] = image[d];
    w->kernel[d] = block[d];
    w->pad_begin[d] = pads[d];
    w->pad_end[d] = pads[ni + d];
    int64_t span = (block[d] - 1) * w->dil[d] + 1, padded = image[d] + pads[d] + pads[ni + d];
    if (padded < span) return kiln_fail_node(n, err, KILN_ERR_SHAPE, "a block is larger than the padded image");
    w->in[d] = (padded - span) / w->stride[d] + 1;
    if (kiln_mul_overflows(kprod, block[d], &kprod) || kiln_mul_overflows(lprod, w->in[d], &lprod))
      return kiln_fail_node(n, err, KILN_ERR_SHAPE, "block or image sizes overflow");
  }
  if (x->dims[1] % kprod || x->dims[2] != lprod) {
    char msg[256];
    snprintf(msg, sizeof msg,
             "input [%lld, %lld, %lld] needs dim 1 a multiple of the block's %lld elements and "
             "dim 2 the %lld block positions",
             (long long)x->dims[0], (long long)x->dims[1], (long long)x->dims[2],
             (long long)kprod, (long long)lprod);
    return kiln_fail_node(n, err, KILN_ERR_SHAPE, msg);
  }
  return KILN_OK;
}

static kiln_status infer_col2im(kiln_graph *g, kiln_node *n, kiln_error *err) {
  kiln_window w;
  if (col2im_plan(g, n, &w, err)) return err->code;
  const kiln_value *x = kiln_node_in(g, n, 0);
  int64_t kprod = 1, dims[KILN_MAX_RANK] = {x->dims[0]};
  for (int d = 0; d < w.nsp; d++) kprod *= w.kernel[d];
  dims[1] = x->dims[1] / kprod;
  memcpy(dims + 2, w.out, sizeof(int64_t) * (size_t)w.nsp);
  kiln_set_out(g, n, 0, x->dtype, 2 + w.nsp, dims);
  return KILN_OK;
}

/* y[n, c, o] = sum over k of x[n, c * K + flat(k), flat(l)], l = (o + pad - k * dil) / stride
 * where that divides and lies in [0, L). */
static kiln_status lower_col2im(kiln_lower_ctx *c) {
  kiln_window w;
  if (col2im_plan(c->g, c->n, &w, c->err)) return c->err->code;
  kiln_kernel *k = c->k;
  int xb = c->in_buf[0], yb = c->out_buf[0];
  kiln_stage *s = kiln_kernel_add_stage(k, "col2im", yb);
  kiln_expr *o[KILN_MAX_RANK], *kv[KILN_MAX_SPATIAL];
  for (int d = 0; d < 2 + w.nsp; d++)
    o[d] = kx_var(k, kiln_stage_axis(s, k->bufs[yb].dims[d], false));
  for (int d = 0; d < w.nsp; d++) kv[d] = kx_var(k, kiln_stage_axis(s, w.kernel[d], true));
  kiln_expr *col = o[1], *pos = kx_idx(k, 0), *cond = NULL;
  for (int d = 0; d < w.nsp; d++) {
    col = kx_add(k, kx_muli(k, col, w.kernel[d]), kv[d]);
    kiln_expr *t = kx_add(k, kx_addi(k, o[d + 2], w.pad_begin[d]), kx_muli(k, kv[d], -w.dil[d]));
    if (w.stride[d] > 1) {
      cond = kx_and(k, cond, kx_binary(k, KB_EQ, kx_binary(k, KB_MOD, t, kx_idx(k, w.stride[d])),
                                       kx_idx(k, 0)));
      t = kx_binary(k, KB_DIV, t, kx_idx(k, w.stride[d]));
    }
    cond = kx_and(k, cond, kx_in_range(k, t, w.in[d]));
    /* outside, t is replaced by 0 so the address stays inside X; the select drops it */
    pos = kx_add(k, kx_muli(k, pos, w.in[d]), kx_select(k, kx_in_range(k, t, w.in[d]), t, kx_idx(k, 0)));
  }
  kiln_expr *xi[3] = {o[0], col, pos};
  kiln_expr *xv = kx_load(k, xb, xi);
  s->reduce = KR_SUM;
  kiln_stage_store(k, s, o, kx_select(k, cond, xv, kx_const_f(k, xv->dtype, 0)));
  return KILN_OK;
}

static const kiln_attr_spec col2im_attrs[] = {
    {"dilations", KILN_ATTR_INTS, false}, {"pads", KILN_ATTR_INTS, false},
    {"strides", KILN_ATTR_INTS, false}, {NULL}};

const kiln_op_def kiln_ops_col2im[] = {
    {"Col2Im", 3, 3, 1, 1, col2im_attrs, infer_col2im, lower_col2im, NULL, 0},
    {NULL},
};
