/* MaxUnpool: the partial inverse of MaxPool, z.flat[indices.flat[i]] = x.flat[i] and 0
 * everywhere else, z of the shape the pooling window implies; with output_shape, z fills
 * the leading corner of a larger output of zeros (ONNX's reference and test data).
 * Written as a gather like the scatters (ir/ops/scatter.c): each element of z looks for
 * the last input element of its own (n, c) plane whose index names it. MaxPool's indices
 * are flat over the whole tensor and always fall in the element's own plane, so one that
 * does not fails the run through the index check rather than being dropped. The search
 * is O(plane_z x plane_in) per plane. */
#include "ir/op.h"

#include "ir/dtype.h"

#include <stdio.h>
#include <string.h>

/* z's dims, (in - 1) * stride + kernel - pad_begin - pad_end per spatial dim, and the
 * output's: output_shape when given (a constant, at least z's), else z's. */
static kiln_status unpool_dims(const kiln_graph *g, const kiln_node *n, int64_t *zdims,
                               int64_t *dims, kiln_error *err) {
  const kiln_value *x = kiln_node_in(g, n, 0), *ind = kiln_node_in(g, n, 1);
  int sp = x->rank - 2;
  const int64_t *ks, *st, *pads;
  if (x->rank < 3 || !kiln_dtype_is_float(x->dtype) || !kiln_dtype_is_int(ind->dtype) ||
      ind->rank != x->rank || memcmp(ind->dims, x->dims, sizeof(int64_t) * (size_t)x->rank))
    return kiln_fail_node(n, err, KILN_ERR_SHAPE,
                          "needs float X [N, C, spatial...] and integer indices of X's shape");
  if (kiln_attr_ints(n, "kernel_shape", &ks) != sp)
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "kernel_shape needs one size per spatial dim");
  int nst = kiln_attr_ints(n, "strides", &st), npad = kiln_attr_ints(n, "pads", &pads);
  if ((nst >= 0 && nst != sp) || (npad >= 0 && npad != 2 * sp))
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL,
                          "strides need one value and pads two per spatial dim");
  zdims[0] = x->dims[0];
  zdims[1] = x->dims[1];
  for (int d = 0; d < sp; d++) {
    int64_t big = INT32_MAX, s = nst > 0 ? st[d] : 1, p0 = npad > 0 ? pads[d] : 0,
            p1 = npad > 0 ? pads[sp + d] : 0, span;
    if (s < 1 || s > big || ks[d] < 1 || ks[d] > big || p0 < 0 || p0 > big || p1 < 0 || p1 > big)
      return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "kernel_shape and strides must be "
                            "positive, pads not negative, all below 2^31");
    if (kiln_mul_overflows(x->dims[2 + d] - 1, s, &span) || span > ((int64_t)1 << 40))
      return kiln_fail_node(n, err, KILN_ERR_SHAPE, "the output size overflows");
    zdims[2 + d] = span + ks[d] - p0 - p1;
    if (zdims[2 + d] < 0) return kiln_fail_node(n, err, KILN_ERR_SHAPE, "a negative output size");
  }
  memcpy(dims, zdims, sizeof(int64_t) * (size_t)x->rank);
  if (!kiln_node_in(g, n, 2)) return KILN_OK;
  int count = 0;
  if (kiln_const_ints(g, n, 2, dims, KILN_MAX_RANK, &count, err)) return err->code;
  if (count != x->rank || dims[0] != x->dims[0] || dims[1] != x->dims[1])
    return kiln_fail_node(n, err, KILN_ERR_SHAPE,
                          "output_shape must be [N, C, spatial...] of X's N and C");
  for (int d = 2; d < x->rank; d++)
    if (dims[d] < zdims[d])
      return kiln_fail_node(n, err, KILN_ERR_SHAPE,
                            "output_shape is smaller than the shape the window implies");
  return KILN_OK;
}

static kiln_status infer_max_unpool(kiln_graph *g, kiln_node *n, kiln_error *err) {
  int64_t zdims[KILN_MAX_RANK], dims[KILN_MAX_RANK];
  if (unpool_dims(g, n, zdims, dims, err)) return err->code;
  const kiln_value *x = kiln_node_in(g, n, 0);
  kiln_set_out(g, n, 0, x->dtype, x->rank, dims);
  return KILN_OK;
}

/* Stage 1: last[n, c, o] = the largest flat input position of plane (n, c) whose index is
 * z's flat position o, or -1. Stage 2: y = last >= 0 ? x[n, c, last] : 0, and 0 outside z. */
static kiln_status lower_max_unpool(kiln_lower_ctx *c) {
  kiln_kernel *k = c->k;
  const kiln_buffer *x = &k->bufs[c->in_buf[0]];
  int64_t z[KILN_MAX_RANK], ydims[KILN_MAX_RANK];
  if (unpool_dims(c->g, c->n, z, ydims, c->err)) return c->err->code;
  int rank = x->rank, sp = rank - 2;
  int64_t plane = kiln_shape_numel(sp, z + 2);
  int last = kiln_kernel_add_buffer(k, "last", KILN_BUF_TEMP, -1, KILN_I64, rank, z);
  kiln_stage *s = kiln_kernel_add_stage(k, "unpool_find", last);
  kiln_expr *v[KILN_MAX_RANK], *src[KILN_MAX_RANK];
  for (int d = 0; d < rank; d++) v[d] = kx_var(k, kiln_stage_axis(s, z[d], false));
  src[0] = v[0];
  src[1] = v[1];
  kiln_expr *pos = kx_idx(k, 0), *in_pos = kx_idx(k, 0);
  for (int d = 0; d < sp; d++) {
    src[2 + d] = kx_var(k, kiln_stage_axis(s, x->dims[2 + d], true));
    pos = kx_add(k, kx_muli(k, pos, z[2 + d]), v[2 + d]);
    in_pos = kx_add(k, kx_muli(k, in_pos, x->dims[2 + d]), src[2 + d]);
  }
  /* the index relative to its plane's start, checked against the plane */
  kiln_expr *base = kx_muli(k, kx_add(k, kx_muli(k, v[0], z[1]), v[1]), plane);
  kiln_expr *raw = kx_cast(k, kx_load(k, c->in_buf[1], src), KILN_I64);
  const kiln_value *iv = kiln_node_in(c->g, c->n, 1);
  char what[512];
  snprintf(what, sizeof what, "node '%s' (%s): input '%s' less its (n, c) plane's start",
           c->n->name, c->n->op_type, iv->name ? iv->name : "?");
  kiln_expr *at = kx_check_index(k, kx_binary(k, KB_SUB, raw, base), plane, false, what);
  s->reduce = KR_MAX;
  s->init = kx_idx(k, -1);
  kiln_stage_store(k, s, v, kx_select(k, kx_binary(k, KB_EQ, at, pos), in_pos, kx_idx(k, -1)));

  kiln_expr *w[KILN_MAX_RANK], *zi[KILN_MAX_RANK], *xi[KILN_MAX_RANK], *inside = NULL;
  s = kiln_elementwise_stage(k, "unpool", c->out_buf[0], w);
  kiln_dtype t = k->bufs[c->out_buf[0]].dtype;
  for (int d = 0; d < rank; d++) {
    zi[d] = w[d];
    if (ydims[d] > z[d]) { /* past z: read z's first element, not selected */
      kiln_expr *in = kx_in_range(k, w[d], z[d]);
      inside = kx_and(k, inside, in);
      zi[d] = kx_select(k, in, w[d], kx_idx(k, 0));
    }
  }
  kiln_expr *l = kx_load(k, last, zi);
  kiln_expr *found = kx_and(k, inside, kx_binary(k, KB_GE, l, kx_idx(k, 0)));
  kiln_expr *rest = kx_select(k, found, l, kx_idx(k, 0));
  xi[0] = w[0];
  xi[1] = w[1];
  for (int d = sp - 1; d >= 0; d--) { /* unflatten the input position */
    kiln_expr *e = kx_idx(k, x->dims[2 + d]);
    xi[2 + d] = kx_binary(k, KB_MOD, rest, e);
    rest = kx_binary(k, KB_DIV, rest, e);
  }
  kiln_stage_store(k, s, w, kx_select(k, found, kx_load(k, c->in_buf[0], xi),
                                      kx_const_f(k, t, 0)));
  return KILN_OK;
}

static const kiln_attr_spec unpool_attrs[] = {
    {"kernel_shape", KILN_ATTR_INTS, true}, {"pads", KILN_ATTR_INTS, false},
    {"strides", KILN_ATTR_INTS, false}, {NULL}};

const kiln_op_def kiln_ops_unpool[] = {
    {"MaxUnpool", 2, 3, 1, 1, unpool_attrs, infer_max_unpool, lower_max_unpool, NULL, 0},
    {NULL},
};
