/* AffineGrid (opset 20), GridSample's companion in a spatial transformer: theta [N, r, r+1]
 * (r = 2 or 3 spatial dims) maps each point of an output image of `size` [N, C, (D,) H, W],
 * in normalized coordinates, to where to sample:
 *
 *     grid[n, (d,) h, w, j] = sum_k theta[n, j, k] * base_k + theta[n, j, r]
 *
 * with base = (x(w), y(h)(, z(d))), each coordinate spaced evenly over [-1, 1]: at the
 * pixels' corners (align_corners: -1 + 2i / (S - 1), -1 when S = 1) or at their centres
 * (-1 + (2i + 1) / S). One elementwise stage, in f64 as ONNX's reference computes it, cast to
 * theta's type. `size` must be known at compile time: it is the output's shape. */
#include "ir/op.h"

#include "ir/dtype.h"

static kiln_status infer_affine_grid(kiln_graph *g, kiln_node *n, kiln_error *err) {
  const kiln_value *theta = kiln_node_in(g, n, 0);
  int64_t size[5];
  int ns = 0;
  if (kiln_const_ints(g, n, 1, size, 5, &ns, err)) return err->code;
  if (ns != 4 && ns != 5)
    return kiln_fail_node(n, err, KILN_ERR_SHAPE, "size needs 4 values [N, C, H, W] or 5 [N, C, D, H, W]");
  int r = ns - 2;
  if (!kiln_dtype_is_float(theta->dtype))
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "theta needs a float type");
  if (theta->rank != 3 || theta->dims[1] != r || theta->dims[2] != r + 1)
    return kiln_fail(err, KILN_ERR_SHAPE, "node '%s' (%s): theta needs shape [N, %d, %d] for size of %d values",
                     n->name, n->op_type, r, r + 1, ns);
  if (size[0] != theta->dims[0])
    return kiln_fail_node(n, err, KILN_ERR_SHAPE, "size's N differs from theta's");
  int64_t dims[5] = {size[0]};
  for (int d = 0; d < ns; d++)
    if (size[d] < 0) return kiln_fail_node(n, err, KILN_ERR_SHAPE, "size has a negative value");
  for (int d = 0; d < r; d++) dims[1 + d] = size[2 + d];
  dims[1 + r] = r;
  kiln_set_out(g, n, 0, theta->dtype, r + 2, dims);
  return KILN_OK;
}

/* The normalized coordinate of index i along a dim of s points, in f64. */
static kiln_expr *coord(kiln_kernel *k, kiln_expr *i, int64_t s, bool align) {
  kiln_expr *x = kx_cast(k, i, KILN_F64);
  if (align && s <= 1) return kx_const_f(k, KILN_F64, -1.0);
  if (align) x = kx_binary(k, KB_MUL, x, kx_const_f(k, KILN_F64, 2.0 / (double)(s - 1)));
  else
    x = kx_binary(k, KB_DIV, kx_binary(k, KB_ADD, kx_binary(k, KB_MUL, x, kx_const_f(k, KILN_F64, 2)),
                                       kx_const_f(k, KILN_F64, 1)),
                  kx_const_f(k, KILN_F64, (double)s));
  return kx_binary(k, KB_ADD, x, kx_const_f(k, KILN_F64, -1.0));
}

static kiln_status lower_affine_grid(kiln_lower_ctx *c) {
  kiln_kernel *k = c->k;
  const kiln_buffer *y = &k->bufs[c->out_buf[0]];
  int r = y->rank - 2;
  bool align = kiln_attr_int(c->n, "align_corners", 0) != 0;
  kiln_expr *v[KILN_MAX_RANK];
  kiln_stage *s = kiln_elementwise_stage(k, "affine_grid", c->out_buf[0], v);
  kiln_expr *ti[3] = {v[0], v[r + 1], kx_idx(k, r)};
  kiln_expr *sum = kx_cast(k, kx_load(k, c->in_buf[0], ti), KILN_F64);
  /* base_k runs over the spatial dims from the last (x along W) to the first */
  for (int kk = 0; kk < r; kk++) {
    int d = r - kk; /* the output axis of that dim */
    ti[2] = kx_idx(k, kk);
    kiln_expr *t = kx_cast(k, kx_load(k, c->in_buf[0], ti), KILN_F64);
    sum = kx_binary(k, KB_ADD, kx_binary(k, KB_MUL, t, coord(k, v[d], y->dims[d], align)), sum);
  }
  kiln_stage_store(k, s, v, kx_cast(k, sum, y->dtype));
  return KILN_OK;
}

static const kiln_attr_spec affine_grid_attrs[] = {{"align_corners", KILN_ATTR_INT, false}, {NULL}};

const kiln_op_def kiln_ops_affine_grid[] = {
    {"AffineGrid", 2, 2, 1, 1, affine_grid_attrs, infer_affine_grid, lower_affine_grid, NULL, 0},
    {NULL},
};
