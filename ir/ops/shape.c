/* Ops that make tensors from shapes and scalars: Shape, Size, ConstantOfShape, Range,
 * EyeLike, OneHot, and Trilu (a matrix masked by its diagonals). Shape and Size never read
 * their input's data (constant folding runs them with only the input's shape known): they
 * store constants. */
#include "ir/op.h"

#include "ir/dtype.h"

#include <math.h>
#include <string.h>

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : v > hi ? hi : v; }

/* A stage with no loops storing value into element `at` of a 1-D output (a 0-D output
 * has one element and ignores at). */
static void store_const(kiln_kernel *k, int out, int64_t at, kiln_expr *value) {
  kiln_expr *idx = kx_idx(k, at);
  kiln_stage *s = kiln_kernel_add_stage(k, "const", out);
  kiln_stage_store(k, s, &idx, value);
}

/* ---- Shape, Size ---------------------------------------------------------------------- */

/* The [start, end) range of dims Shape reports, clamped like Slice. */
static void shape_range(const kiln_node *n, int rank, int64_t *start, int64_t *end) {
  *start = kiln_attr_int(n, "start", 0);
  *end = kiln_attr_int(n, "end", rank);
  if (*start < 0) *start += rank;
  if (*end < 0) *end += rank;
  *start = clamp64(*start, 0, rank);
  *end = clamp64(*end, *start, rank);
}

static kiln_status infer_shape(kiln_graph *g, kiln_node *n, kiln_error *err) {
  (void)err;
  int64_t start, end;
  shape_range(n, kiln_node_in(g, n, 0)->rank, &start, &end);
  int64_t len = end - start;
  kiln_set_out(g, n, 0, KILN_I64, 1, &len);
  return KILN_OK;
}

static kiln_status lower_shape(kiln_lower_ctx *c) {
  const kiln_value *x = kiln_node_in(c->g, c->n, 0);
  int64_t start, end;
  shape_range(c->n, x->rank, &start, &end);
  for (int64_t d = start; d < end; d++)
    store_const(c->k, c->out_buf[0], d - start, kx_idx(c->k, x->dims[d]));
  return KILN_OK;
}

static kiln_status infer_size(kiln_graph *g, kiln_node *n, kiln_error *err) {
  (void)err;
  kiln_set_out(g, n, 0, KILN_I64, 0, NULL);
  return KILN_OK;
}

static kiln_status lower_size(kiln_lower_ctx *c) {
  store_const(c->k, c->out_buf[0], 0, kx_idx(c->k, kiln_value_numel(kiln_node_in(c->g, c->n, 0))));
  return KILN_OK;
}

/* ---- ConstantOfShape ------------------------------------------------------------------- */

/* The fill value: the `value` attribute's one element, or float 0. */
static const kiln_tensor *fill_tensor(const kiln_node *n) {
  const kiln_attr *a = kiln_node_attr(n, "value");
  return a && a->type == KILN_ATTR_TENSOR && a->tensors ? &a->tensors[0] : NULL;
}

static kiln_status infer_constant_of_shape(kiln_graph *g, kiln_node *n, kiln_error *err) {
  int64_t dims[KILN_MAX_RANK];
  int rank;
  if (kiln_const_ints(g, n, 0, dims, KILN_MAX_RANK, &rank, err)) return err->code;
  for (int d = 0; d < rank; d++)
    if (dims[d] < 0) return kiln_fail_node(n, err, KILN_ERR_SHAPE, "negative dim");
  const kiln_tensor *t = fill_tensor(n);
  if (t && (kiln_shape_numel(t->rank, t->dims) != 1 || !kiln_dtype_valid(t->dtype)))
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "value must be one numeric element");
  kiln_set_out(g, n, 0, t ? t->dtype : KILN_F32, rank, dims);
  return KILN_OK;
}

static kiln_status lower_constant_of_shape(kiln_lower_ctx *c) {
  kiln_kernel *k = c->k;
  const kiln_tensor *t = fill_tensor(c->n);
  kiln_dtype dt = k->bufs[c->out_buf[0]].dtype;
  kiln_expr *val;
  if (!t) val = kx_const_f(k, dt, 0);
  else if (kiln_dtype_is_float(dt)) val = kx_const_f(k, dt, kiln_load_f64(t->dtype, t->data, 0));
  else val = kx_const_i(k, dt, kiln_load_i64(t->dtype, t->data, 0));
  kiln_expr *v[KILN_MAX_RANK];
  kiln_stage *s = kiln_elementwise_stage(k, "constant_of_shape", c->out_buf[0], v);
  kiln_stage_store(k, s, v, val);
  return KILN_OK;
}

/* ---- Range ------------------------------------------------------------------------------ */

static kiln_status infer_range(kiln_graph *g, kiln_node *n, kiln_error *err) {
  double start, limit, delta;
  if (kiln_const_scalar(g, n, 0, &start, err) || kiln_const_scalar(g, n, 1, &limit, err) ||
      kiln_const_scalar(g, n, 2, &delta, err))
    return err->code;
  kiln_dtype t = kiln_node_in(g, n, 0)->dtype;
  if (delta == 0) return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "delta is zero");
  double len = ceil((limit - start) / delta);
  if (!(len < 9e15)) return kiln_fail_node(n, err, KILN_ERR_LIMIT, "too many elements");
  int64_t dim = len > 0 ? (int64_t)len : 0;
  kiln_set_out(g, n, 0, t, 1, &dim);
  return KILN_OK;
}

/* start + i * delta, in the output's type; start and delta are loaded, not folded in. */
static kiln_status lower_range(kiln_lower_ctx *c) {
  kiln_kernel *k = c->k;
  kiln_expr *v[1], *zero[KILN_MAX_RANK];
  for (int d = 0; d < KILN_MAX_RANK; d++) zero[d] = kx_idx(k, 0); /* scalars, or 1 element */
  kiln_stage *s = kiln_elementwise_stage(k, "range", c->out_buf[0], v);
  kiln_expr *start = kx_load(k, c->in_buf[0], zero), *delta = kx_load(k, c->in_buf[2], zero);
  kiln_expr *step = kx_binary(k, KB_MUL, kx_cast(k, v[0], start->dtype), delta);
  kiln_stage_store(k, s, v, kx_binary(k, KB_ADD, start, step));
  return KILN_OK;
}

/* ---- EyeLike, OneHot ---------------------------------------------------------------------- */

static kiln_status infer_eye_like(kiln_graph *g, kiln_node *n, kiln_error *err) {
  const kiln_value *x = kiln_node_in(g, n, 0);
  kiln_dtype t = (kiln_dtype)kiln_attr_int(n, "dtype", x->dtype);
  if (x->rank != 2 || !kiln_dtype_valid(t))
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "needs a 2-D input and a numeric dtype");
  kiln_set_out(g, n, 0, t, 2, x->dims);
  return KILN_OK;
}

static kiln_status lower_eye_like(kiln_lower_ctx *c) {
  kiln_kernel *k = c->k;
  kiln_dtype t = k->bufs[c->out_buf[0]].dtype;
  kiln_expr *v[2];
  kiln_stage *s = kiln_elementwise_stage(k, "eye_like", c->out_buf[0], v);
  kiln_expr *on_diag = kx_binary(k, KB_EQ, v[1], kx_addi(k, v[0], kiln_attr_int(c->n, "k", 0)));
  kiln_stage_store(k, s, v, kx_select(k, on_diag, kx_const_i(k, t, 1), kx_const_i(k, t, 0)));
  return KILN_OK;
}

static kiln_status onehot_depth(const kiln_graph *g, const kiln_node *n, int64_t *depth,
                                kiln_error *err) {
  double d;
  if (kiln_const_scalar(g, n, 1, &d, err)) return err->code;
  if (!(d >= 0 && d < 9e15)) return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "bad depth");
  *depth = (int64_t)d;
  return KILN_OK;
}

static kiln_status infer_one_hot(kiln_graph *g, kiln_node *n, kiln_error *err) {
  const kiln_value *ind = kiln_node_in(g, n, 0), *vals = kiln_node_in(g, n, 2);
  int64_t depth = 0, dims[KILN_MAX_RANK];
  int axis;
  if (ind->rank + 1 > KILN_MAX_RANK) return kiln_fail_node(n, err, KILN_ERR_LIMIT, "rank too high");
  if (onehot_depth(g, n, &depth, err) ||
      kiln_norm_axis(n, kiln_attr_int(n, "axis", -1), ind->rank + 1, &axis, err))
    return err->code;
  if (kiln_value_numel(vals) != 2)
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "values must hold [off, on]");
  for (int d = 0, src = 0; d <= ind->rank; d++) dims[d] = d == axis ? depth : ind->dims[src++];
  kiln_set_out(g, n, 0, vals->dtype, ind->rank + 1, dims);
  return KILN_OK;
}

/* out[..., j, ...] = (indices[...] wrapped by depth) == j ? on : off */
static kiln_status lower_one_hot(kiln_lower_ctx *c) {
  kiln_kernel *k = c->k;
  int rank = k->bufs[c->out_buf[0]].rank, axis = 0;
  int64_t depth = 0;
  if (onehot_depth(c->g, c->n, &depth, c->err) ||
      kiln_norm_axis(c->n, kiln_attr_int(c->n, "axis", -1), rank, &axis, c->err))
    return c->err->code;
  kiln_expr *v[KILN_MAX_RANK], *idx[KILN_MAX_RANK];
  kiln_stage *s = kiln_elementwise_stage(k, "one_hot", c->out_buf[0], v);
  for (int d = 0, r = 0; d < rank; d++)
    if (d != axis) idx[r++] = v[d];
  kiln_expr *raw = kx_load(k, c->in_buf[0], idx), *at = kx_cast(k, raw, KILN_I64);
  at = kx_select(k, kx_binary(k, KB_LT, at, kx_idx(k, 0)), kx_addi(k, at, depth), at);
  kiln_expr *off_i = kx_idx(k, 0), *on_i = kx_idx(k, 1);
  kiln_expr *off = kx_load(k, c->in_buf[2], &off_i), *on = kx_load(k, c->in_buf[2], &on_i);
  kiln_expr *hot = kx_binary(k, KB_EQ, at, v[axis]);
  if (kiln_dtype_is_float(raw->dtype)) /* a NaN index is outside (its cast would be 0) */
    hot = kx_and(k, hot, kx_unary(k, KU_NOT, kx_unary(k, KU_ISNAN, raw)));
  kiln_stage_store(k, s, v, kx_select(k, hot, on, off));
  return KILN_OK;
}

/* ---- Trilu ------------------------------------------------------------------------------- */

static kiln_status infer_trilu(kiln_graph *g, kiln_node *n, kiln_error *err) {
  const kiln_value *x = kiln_node_in(g, n, 0), *k = kiln_node_in(g, n, 1);
  if (x->rank < 2) return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "needs an input of rank >= 2");
  if (k && (!kiln_dtype_is_int(k->dtype) || k->rank > 1 || kiln_value_numel(k) != 1))
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "k must be one integer");
  kiln_set_out(g, n, 0, x->dtype, x->rank, x->dims);
  return KILN_OK;
}

/* y[..., i, j] = x[..., i, j] where j - i >= k (upper) or <= k (lower), else 0. k may be
 * a run-time input: any int64 value is fine, a far one keeps all or nothing. */
static kiln_status lower_trilu(kiln_lower_ctx *c) {
  kiln_kernel *k = c->k;
  const kiln_buffer *out = &k->bufs[c->out_buf[0]];
  int r = out->rank;
  kiln_expr *v[KILN_MAX_RANK];
  kiln_stage *s = kiln_elementwise_stage(k, "trilu", c->out_buf[0], v);
  kiln_expr *diag = kx_idx(k, 0);
  if (c->n->ninputs > 1 && c->in_buf[1] >= 0) {
    kiln_expr *zero = kx_idx(k, 0);
    diag = kx_cast(k, kx_load(k, c->in_buf[1], k->bufs[c->in_buf[1]].rank ? &zero : NULL),
                   KILN_I64);
  }
  kiln_expr *d = kx_binary(k, KB_SUB, v[r - 1], v[r - 2]);
  bool upper = kiln_attr_int(c->n, "upper", 1) != 0;
  kiln_expr *keep = kx_binary(k, upper ? KB_GE : KB_LE, d, diag);
  kiln_expr *x = kx_load(k, c->in_buf[0], v);
  kiln_stage_store(k, s, v, kx_select(k, keep, x, kx_const_i(k, out->dtype, 0)));
  return KILN_OK;
}

static const kiln_attr_spec shape_attrs[] = {
    {"start", KILN_ATTR_INT, false}, {"end", KILN_ATTR_INT, false}, {NULL}};
static const kiln_attr_spec cos_attrs[] = {{"value", KILN_ATTR_TENSOR, false}, {NULL}};
static const kiln_attr_spec eye_attrs[] = {
    {"dtype", KILN_ATTR_INT, false}, {"k", KILN_ATTR_INT, false}, {NULL}};
static const kiln_attr_spec onehot_attrs[] = {{"axis", KILN_ATTR_INT, false}, {NULL}};
static const kiln_attr_spec trilu_attrs[] = {{"upper", KILN_ATTR_INT, false}, {NULL}};

const kiln_op_def kiln_ops_shape[] = {
    {"Shape", 1, 1, 1, 1, shape_attrs, infer_shape, lower_shape, NULL, KILN_OP_SHAPE_OF},
    {"Size", 1, 1, 1, 1, NULL, infer_size, lower_size, NULL, KILN_OP_SHAPE_OF},
    {"ConstantOfShape", 1, 1, 1, 1, cos_attrs, infer_constant_of_shape, lower_constant_of_shape,
     NULL, KILN_OP_SYMBOLIC},
    {"Range", 3, 3, 1, 1, NULL, infer_range, lower_range, NULL, KILN_OP_SYMBOLIC},
    {"EyeLike", 1, 1, 1, 1, eye_attrs, infer_eye_like, lower_eye_like, NULL, 0},
    {"OneHot", 3, 3, 1, 1, onehot_attrs, infer_one_hot, lower_one_hot, NULL, KILN_OP_SYMBOLIC},
    {"Trilu", 1, 2, 1, 1, trilu_attrs, infer_trilu, lower_trilu, NULL, KILN_OP_SYMBOLIC},
    {NULL},
};
