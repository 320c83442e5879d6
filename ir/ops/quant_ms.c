/* onnxruntime's quantized ops (domain com.microsoft), which its quantizer writes into
 * QOperator-format models (onnxruntime.quantization, QuantFormat.QOperator) and so into
 * published int8 models: QLinearAdd, QLinearMul, QLinearGlobalAveragePool,
 * QLinearAveragePool, QLinearConcat, QLinearSigmoid, QLinearLeakyRelu, QLinearSoftmax and
 * QGemm. Each expands into DequantizeLinear, the float op and QuantizeLinear, with the
 * scales combined where onnxruntime's kernels combine them (QLinearAdd: (a - za) * (sa /
 * sc) + (b - zb) * (sb / sc), rounded half to even, plus zc), so results differ from
 * onnxruntime's only by the float rounding of another operation order: one quantization
 * step at most, where a value falls next to a rounding boundary. Quantized tensors are
 * uint8 or int8, the output of the input's type; scales are f32 scalars (QGemm's B: per
 * column too); an omitted zero point is 0. */
#include "ir/op.h"

#include "ir/dtype.h"
#include "ir/ops/expand.h"

#include <string.h>

static int in_at(const kiln_node *n, int i) { return i < n->ninputs ? n->inputs[i] : -1; }

static bool is_q8(kiln_dtype t) { return t == KILN_U8 || t == KILN_I8; }

/* Input x must be 8-bit; inputs `scalars` (scales and zero points, -1 ends) one value each,
 * zero points of x's type and scales f32. */
static kiln_status check_q(const kiln_graph *g, const kiln_node *n, int x, const int *scalars,
                           kiln_error *err) {
  const kiln_value *v = kiln_node_in(g, n, x);
  if (!is_q8(v->dtype))
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "quantized inputs must be uint8 or int8");
  for (int i = 0; scalars[i] >= 0; i++) {
    const kiln_value *p = kiln_node_in(g, n, scalars[i]);
    if (!p) continue;
    if (kiln_value_numel(p) != 1)
      return kiln_fail_node(n, err, KILN_ERR_UNSUPPORTED, "scales and zero points must be scalars");
    if (p->dtype != KILN_F32 && p->dtype != v->dtype)
      return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL,
                            "scales must be f32 and zero points of the quantized type");
  }
  return KILN_OK;
}

/* (x - zp) * scale in f32 (zp < 0: none). */
static int dq(kiln_ex *e, int x, int scale, int zp, const char *what) {
  return kiln_ex_node1(e, "DequantizeLinear", (int[]){x, scale, zp}, zp >= 0 ? 3 : 2, -1, what);
}

/* saturate(round(v / scale) + zp) of type t into out; an omitted zp is a 0 of type t. */
static void q(kiln_ex *e, int v, int scale, int zp, kiln_dtype t, int out) {
  if (zp < 0) zp = kiln_ex_const(e, "zero_point", t, 0, NULL, NULL);
  kiln_ex_node1(e, "QuantizeLinear", (int[]){v, scale, zp}, 3, out, "y");
}

/* ---- one input: QLinearSigmoid, QLinearLeakyRelu, QLinearSoftmax, the pools -------------
 * (X, x_scale, x_zero_point, y_scale, y_zero_point) */

static kiln_status infer_unary(kiln_graph *g, kiln_node *n, kiln_error *err) {
  if (check_q(g, n, 0, (int[]){1, 2, 3, 4, -1}, err)) return err->code;
  const kiln_value *x = kiln_node_in(g, n, 0);
  const char *op = n->op->name;
  if (!strcmp(op, "QLinearGlobalAveragePool") || !strcmp(op, "QLinearAveragePool")) {
    if (x->rank < 3)
      return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "X must have rank >= 3");
    bool last = kiln_attr_int(n, "channels_last", 0) != 0;
    if (!strcmp(op, "QLinearAveragePool")) {
      if (last)
        return kiln_fail_node(n, err, KILN_ERR_UNSUPPORTED, "channels_last is not supported");
      return kiln_infer_as(g, n, "AveragePool", n->inputs, 1, x->dtype, err);
    }
    int64_t dims[KILN_MAX_RANK];
    for (int d = 0; d < x->rank; d++)
      dims[d] = d == 0 || d == (last ? x->rank - 1 : 1) ? x->dims[d] : 1;
    kiln_set_out(g, n, 0, x->dtype, x->rank, dims);
    return KILN_OK;
  }
  if (!strcmp(op, "QLinearSoftmax") && !kiln_node_attr(n, "opset"))
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "attribute 'opset' is required");
  if (!strcmp(op, "QLinearSoftmax") && x->rank == 0)
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "X must have rank >= 1");
  kiln_set_out(g, n, 0, x->dtype, x->rank, x->dims);
  return KILN_OK;
}

/* Softmax over `axis` (opset 13 on), or over the dims from axis on, as one row (before). */
static int softmax(kiln_ex *e, const kiln_node *n, int xf, int rank) {
  int64_t axis = kiln_attr_int(n, "axis", -1);
  if (kiln_attr_int(n, "opset", 13) >= 13) {
    int y = kiln_ex_unary(e, "Softmax", xf, "softmax");
    kiln_ex_attr_i(e, "axis", axis);
    return y;
  }
  int shape = kiln_ex_unary(e, "Shape", xf, "shape");
  int flat = kiln_ex_unary(e, "Flatten", xf, "rows");
  kiln_ex_attr_i(e, "axis", axis < 0 ? axis + rank : axis);
  int y = kiln_ex_unary(e, "Softmax", flat, "softmax");
  kiln_ex_attr_i(e, "axis", 1);
  return kiln_ex_binary(e, "Reshape", y, shape, "softmax_shaped");
}

static kiln_status expand_unary(kiln_graph *g, kiln_block *b, int pos, kiln_error *err) {
  (void)err;
  const kiln_node *n = &g->nodes[b->nodes[pos]];
  const char *op = n->op->name;
  const kiln_value *x = kiln_node_in(g, n, 0);
  kiln_dtype t = x->dtype;
  int rank = x->rank, out = n->outputs[0];
  int in[5];
  for (int i = 0; i < 5; i++) in[i] = in_at(n, i);
  kiln_ex e;
  kiln_ex_begin(&e, g, b, pos, KILN_F32);
  int one = kiln_ex_scalar(&e, 1, "one");
  if (!strcmp(op, "QLinearGlobalAveragePool")) {
    /* the mean of x - zp (exact integers in f32), scaled by x_scale / y_scale */
    double axes[KILN_MAX_RANK];
    bool last = kiln_attr_int(n, "channels_last", 0) != 0;
    for (int d = 0; d < rank - 2; d++) axes[d] = last ? 1 + d : 2 + d;
    int xf = dq(&e, in[0], one, in[2], "x_centered");
    int ax = kiln_ex_const(&e, "axes", KILN_I64, 1, (int64_t[]){rank - 2}, axes);
    int m = kiln_ex_binary(&e, "ReduceMean", xf, ax, "mean");
    kiln_ex_attr_i(&e, "keepdims", 1);
    int r = kiln_ex_binary(&e, "Div", in[1], in[3], "scale_ratio");
    q(&e, kiln_ex_binary(&e, "Mul", m, r, "mean_scaled"), one, in[4], t, out);
  } else {
    int xf = dq(&e, in[0], in[1], in[2], "x");
    int y;
    if (!strcmp(op, "QLinearSoftmax")) {
      y = softmax(&e, n, xf, rank);
    } else if (!strcmp(op, "QLinearAveragePool")) {
      y = kiln_ex_unary(&e, "AveragePool", xf, "pool");
      kiln_ex_take_attrs(&e);
    } else if (!strcmp(op, "QLinearLeakyRelu")) {
      y = kiln_ex_unary(&e, "LeakyRelu", xf, "leaky_relu");
      kiln_ex_attr_f(&e, "alpha", kiln_attr_float(n, "alpha", 0.01));
    } else {
      y = kiln_ex_unary(&e, "Sigmoid", xf, "sigmoid");
    }
    q(&e, y, in[3], in[4], t, out);
  }
  kiln_ex_end(&e);
  return KILN_OK;
}

/* ---- QLinearAdd, QLinearMul: (A, A_scale, A_zp, B, B_scale, B_zp, C_scale, C_zp) -------- */

static kiln_status infer_binary(kiln_graph *g, kiln_node *n, kiln_error *err) {
  if (check_q(g, n, 0, (int[]){1, 2, 6, 7, -1}, err) || check_q(g, n, 3, (int[]){4, 5, -1}, err))
    return err->code;
  kiln_dtype t = kiln_node_in(g, n, 0)->dtype;
  if (kiln_node_in(g, n, 3)->dtype != t)
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "A and B must have the same type");
  return kiln_infer_as(g, n, "Add", (int[]){n->inputs[0], n->inputs[3]}, 2, t, err);
}

static kiln_status expand_binary(kiln_graph *g, kiln_block *b, int pos, kiln_error *err) {
  (void)err;
  const kiln_node *n = &g->nodes[b->nodes[pos]];
  bool add = !strcmp(n->op->name, "QLinearAdd");
  kiln_dtype t = kiln_node_in(g, n, 0)->dtype;
  int in[8], out = n->outputs[0];
  for (int i = 0; i < 8; i++) in[i] = in_at(n, i);
  kiln_ex e;
  kiln_ex_begin(&e, g, b, pos, KILN_F32);
  int one = kiln_ex_scalar(&e, 1, "one"), y;
  if (add) { /* each side scaled to C's scale first */
    int ra = kiln_ex_binary(&e, "Div", in[1], in[6], "a_ratio");
    int rb = kiln_ex_binary(&e, "Div", in[4], in[6], "b_ratio");
    y = kiln_ex_binary(&e, "Add", dq(&e, in[0], ra, in[2], "a"), dq(&e, in[3], rb, in[5], "b"),
                       "sum");
  } else { /* the product of the centred values, scaled by sa * sb / sc */
    int r = kiln_ex_binary(&e, "Div", kiln_ex_binary(&e, "Mul", in[1], in[4], "ab_scale"), in[6],
                           "ratio");
    y = kiln_ex_binary(&e, "Mul", dq(&e, in[0], r, in[2], "a"), dq(&e, in[3], one, in[5], "b"),
                       "product");
  }
  q(&e, y, one, in[7], t, out);
  kiln_ex_end(&e);
  return KILN_OK;
}

/* ---- QLinearConcat(Y_scale, Y_zp, (X, X_scale, X_zp)...) -------------------------------- */

static kiln_status infer_concat(kiln_graph *g, kiln_node *n, kiln_error *err) {
  if (n->ninputs < 5 || (n->ninputs - 2) % 3)
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL,
                          "inputs must be Y_scale, Y_zero_point, then (X, scale, zero point) "
                          "triples");
  int xs[32], nx = 0;
  kiln_dtype t = kiln_node_in(g, n, 1) ? kiln_node_in(g, n, 1)->dtype : KILN_U8;
  for (int i = 2; i + 2 < n->ninputs && nx < 32; i += 3) {
    if (!kiln_node_in(g, n, i) || !kiln_node_in(g, n, i + 1))
      return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "an X or its scale is omitted");
    if (check_q(g, n, i, (int[]){i + 1, i + 2, -1}, err)) return err->code;
    if (kiln_node_in(g, n, i)->dtype != t)
      return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "inputs must have Y's type");
    xs[nx++] = n->inputs[i];
  }
  if (nx * 3 + 2 != n->ninputs)
    return kiln_fail_node(n, err, KILN_ERR_UNSUPPORTED, "more than 32 inputs");
  if (!kiln_node_in(g, n, 0) || kiln_value_numel(kiln_node_in(g, n, 0)) != 1 ||
      (kiln_node_in(g, n, 1) && kiln_value_numel(kiln_node_in(g, n, 1)) != 1))
    return kiln_fail_node(n, err, KILN_ERR_UNSUPPORTED, "scales and zero points must be scalars");
  return kiln_infer_as(g, n, "Concat", xs, nx, t, err);
}

static kiln_status expand_concat(kiln_graph *g, kiln_block *b, int pos, kiln_error *err) {
  (void)err;
  const kiln_node *n = &g->nodes[b->nodes[pos]];
  int nx = (n->ninputs - 2) / 3, xs[32], out = n->outputs[0];
  int ys = n->inputs[0], yzp = n->inputs[1];
  kiln_dtype t = g->values[n->inputs[2]].dtype;
  int64_t axis = kiln_attr_int(n, "axis", 0);
  for (int i = 0; i < nx; i++) xs[i] = n->inputs[2 + 3 * i];
  int params[64];
  for (int i = 0; i < 2 * nx; i++) params[i] = n->inputs[3 + 3 * (i / 2) + i % 2];
  kiln_ex e;
  kiln_ex_begin(&e, g, b, pos, KILN_F32);
  for (int i = 0; i < nx; i++) xs[i] = dq(&e, xs[i], params[2 * i], params[2 * i + 1], "x");
  int y = kiln_ex_node1(&e, "Concat", xs, nx, -1, "concat");
  kiln_ex_attr_i(&e, "axis", axis);
  q(&e, y, ys, yzp, t, out);
  kiln_ex_end(&e);
  return KILN_OK;
}

/* ---- QGemm(A, a_scale, a_zp, B, b_scale, b_zp, C, y_scale, y_zp) ------------------------
 * The int32 product of the centred A and B (MatMulInteger) plus C, an int32 bias at the
 * product's scale, times alpha * a_scale * b_scale: f32 without y_scale, else quantized. */

static kiln_status infer_qgemm(kiln_graph *g, kiln_node *n, kiln_error *err) {
  if (check_q(g, n, 0, (int[]){1, 2, 7, 8, -1}, err)) return err->code;
  const kiln_value *a = kiln_node_in(g, n, 0), *bv = kiln_node_in(g, n, 3);
  const kiln_value *c = kiln_node_in(g, n, 6), *ys = kiln_node_in(g, n, 7);
  if (!is_q8(bv->dtype) || a->rank != 2 || bv->rank != 2)
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "A and B must be 8-bit matrices");
  bool ta = kiln_attr_int(n, "transA", 0) != 0, tb = kiln_attr_int(n, "transB", 0) != 0;
  int64_t m = a->dims[ta], k = a->dims[!ta], kb = bv->dims[tb], nn = bv->dims[!tb];
  if (k != kb)
    return kiln_fail_node(n, err, KILN_ERR_SHAPE, "A's and B's inner dims differ");
  for (int i = 4; i < 6; i++) {
    const kiln_value *p = kiln_node_in(g, n, i);
    if (p && kiln_value_numel(p) != 1 && !(p->rank == 1 && p->dims[0] == nn))
      return kiln_fail_node(n, err, KILN_ERR_UNSUPPORTED,
                            "b_scale and b_zero_point must be scalars or one per column");
  }
  if (c && c->dtype != KILN_I32)
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "C must be int32");
  const kiln_value *yzp = kiln_node_in(g, n, 8);
  kiln_dtype t = !ys ? KILN_F32 : yzp ? yzp->dtype : KILN_U8;
  kiln_set_out(g, n, 0, t, 2, (int64_t[]){m, nn});
  return KILN_OK;
}

static kiln_status expand_qgemm(kiln_graph *g, kiln_block *b, int pos, kiln_error *err) {
  (void)err;
  const kiln_node *n = &g->nodes[b->nodes[pos]];
  int in[9], out = n->outputs[0];
  for (int i = 0; i < 9; i++) in[i] = in_at(n, i);
  kiln_dtype t = g->values[out].dtype;
  bool ta = kiln_attr_int(n, "transA", 0) != 0, tb = kiln_attr_int(n, "transB", 0) != 0;
  double alpha = kiln_attr_float(n, "alpha", 1.0);
  kiln_ex e;
  kiln_ex_begin(&e, g, b, pos, KILN_F32);
  int a = ta ? kiln_ex_transpose(&e, in[0], 2, (int64_t[]){1, 0}, -1, "a_t") : in[0];
  int bm = tb ? kiln_ex_transpose(&e, in[3], 2, (int64_t[]){1, 0}, -1, "b_t") : in[3];
  int acc = kiln_ex_node1(&e, "MatMulInteger", (int[]){a, bm, in[2], in[5]}, in[5] >= 0 ? 4 : 3,
                          -1, "acc");
  if (in[6] >= 0) acc = kiln_ex_binary(&e, "Add", acc, in[6], "acc_bias");
  int scale = kiln_ex_binary(&e, "Mul", in[1], in[4], "ab_scale");
  if (alpha != 1.0) scale = kiln_ex_binary(&e, "Mul", scale, kiln_ex_scalar(&e, alpha, "alpha"),
                                           "ab_scale_alpha");
  int accf = kiln_ex_unary(&e, "Cast", acc, "acc_f");
  kiln_ex_attr_i(&e, "to", KILN_F32);
  if (in[7] < 0) {
    kiln_ex_node1(&e, "Mul", (int[]){accf, scale}, 2, out, "y");
  } else {
    int r = kiln_ex_binary(&e, "Div", scale, in[7], "ratio");
    q(&e, kiln_ex_binary(&e, "Mul", accf, r, "scaled"), kiln_ex_scalar(&e, 1, "one"), in[8], t,
      out);
  }
  kiln_ex_end(&e);
  return KILN_OK;
}

static const kiln_attr_spec leaky_attrs[] = {{"alpha", KILN_ATTR_FLOAT, false}, {NULL}};
static const kiln_attr_spec softmax_attrs[] = {
    {"axis", KILN_ATTR_INT, false}, {"opset", KILN_ATTR_INT, true}, {NULL}};
static const kiln_attr_spec gap_attrs[] = {{"channels_last", KILN_ATTR_INT, false}, {NULL}};
static const kiln_attr_spec pool_attrs[] = {
    {"auto_pad", KILN_ATTR_STRING, false}, {"ceil_mode", KILN_ATTR_INT, false},
    {"channels_last", KILN_ATTR_INT, false}, {"count_include_pad", KILN_ATTR_INT, false},
    {"kernel_shape", KILN_ATTR_INTS, true}, {"pads", KILN_ATTR_INTS, false},
    {"strides", KILN_ATTR_INTS, false}, {NULL}};
static const kiln_attr_spec concat_attrs[] = {{"axis", KILN_ATTR_INT, true}, {NULL}};
static const kiln_attr_spec gemm_attrs[] = {
    {"alpha", KILN_ATTR_FLOAT, false}, {"transA", KILN_ATTR_INT, false},
    {"transB", KILN_ATTR_INT, false}, {NULL}};

const kiln_op_def kiln_ops_quant_ms[] = {
    {"QLinearAdd", 7, 8, 1, 1, NULL, infer_binary, NULL, expand_binary, KILN_OP_SYMBOLIC},
    {"QLinearMul", 7, 8, 1, 1, NULL, infer_binary, NULL, expand_binary, KILN_OP_SYMBOLIC},
    {"QLinearSigmoid", 4, 5, 1, 1, NULL, infer_unary, NULL, expand_unary, KILN_OP_SYMBOLIC},
    {"QLinearLeakyRelu", 4, 5, 1, 1, leaky_attrs, infer_unary, NULL, expand_unary, KILN_OP_SYMBOLIC},
    {"QLinearSoftmax", 4, 5, 1, 1, softmax_attrs, infer_unary, NULL, expand_unary, KILN_OP_SYMBOLIC},
    {"QLinearGlobalAveragePool", 5, 5, 1, 1, gap_attrs, infer_unary, NULL, expand_unary, KILN_OP_SYMBOLIC},
    {"QLinearAveragePool", 4, 5, 1, 1, pool_attrs, infer_unary, NULL, expand_unary, KILN_OP_SYMBOLIC},
    {"QLinearConcat", 5, -1, 1, 1, concat_attrs, infer_concat, NULL, expand_concat, KILN_OP_SYMBOLIC},
    {"QGemm", 6, 9, 1, 1, gemm_attrs, infer_qgemm, NULL, expand_qgemm, KILN_OP_SYMBOLIC},
    {NULL},
};
