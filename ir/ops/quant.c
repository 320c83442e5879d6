/* Linear quantization: QuantizeLinear / DequantizeLinear (per tensor, or per channel along
 * `axis` with 1-D scales and zero points), DynamicQuantizeLinear, and the integer products
 * QLinearMatMul, ConvInteger and QLinearConv, which accumulate in int32 (MatMulInteger,
 * Conv on int32) and requantize once:
 *
 *   quantize:   y = saturate(round_half_even(x / scale) + zero_point)
 *   dequantize: y = (x - zero_point) * scale
 *
 * also to and from 4- and 2-bit integers. To and from the minifloats (8-bit floats, f4e2m1),
 * no rounding to integers and no clamp: y = cast(x / scale + zero_point), saturating unless
 * the attribute saturate is 0, and y = (x - zero_point) * scale in f32 (ONNX wants their
 * zero points 0). Scales and zero points may be run-time inputs, and blocked (block_size:
 * one per block of that many elements along axis, the int4 weights of language models). */
#include "ir/op.h"

#include "ir/dtype.h"
#include "ir/ops/expand.h"

#include <string.h>

/* A scale or zero point (input i) must hold one value, or one per element along axis, or
 * with block > 0 one per block of `block` elements along axis (x's shape elsewhere). */
static kiln_status check_param(const kiln_graph *g, const kiln_node *n, int i, int axis,
                               int64_t block, kiln_error *err) {
  const kiln_value *x = kiln_node_in(g, n, 0), *p = kiln_node_in(g, n, i);
  if (!p) return KILN_OK;
  if (block > 0) {
    bool ok = p->rank == x->rank;
    for (int d = 0; ok && d < x->rank; d++)
      ok = p->dims[d] == (d == axis ? (x->dims[d] + block - 1) / block : x->dims[d]);
    if (ok) return KILN_OK;
    return kiln_fail(err, KILN_ERR_INVALID_MODEL,
                     "node '%s' (%s): input '%s' must have x's shape but ceil(%lld / block_size) "
                     "= %lld along axis %d", n->name, n->op_type, p->name,
                     (long long)x->dims[axis], (long long)((x->dims[axis] + block - 1) / block), axis);
  }
  int64_t numel = kiln_value_numel(p);
  if (p->rank == 0 || (p->rank == 1 && numel == 1)) return KILN_OK;
  if (p->rank == 1 && p->dims[0] == x->dims[axis]) return KILN_OK;
  return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL,
                        "scales and zero points must be scalars, 1-D along axis, or blocked "
                        "(block_size)");
}

static kiln_status quant_axis(const kiln_graph *g, const kiln_node *n, int *axis,
                              int64_t *block, kiln_error *err) {
  const kiln_value *x = kiln_node_in(g, n, 0);
  *axis = 0;
  *block = kiln_attr_int(n, "block_size", 0);
  if (*block < 0 || *block > INT32_MAX)
    return kiln_fail(err, KILN_ERR_INVALID_MODEL, "node '%s' (%s): block_size %lld is out of range",
                     n->name, n->op_type, (long long)*block);
  /* axis matters only for per-axis or blocked parameters */
  bool per_axis = *block > 0;
  for (int i = 1; i < 3; i++) {
    const kiln_value *p = kiln_node_in(g, n, i);
    per_axis = per_axis || (p && p->rank == 1 && p->dims[0] != 1);
  }
  if (per_axis && kiln_norm_axis(n, kiln_attr_int(n, "axis", 1), x->rank, axis, err))
    return err->code;
  if (check_param(g, n, 1, *axis, *block, err) || check_param(g, n, 2, *axis, *block, err))
    return err->code;
  return KILN_OK;
}

static kiln_status infer_quantize(kiln_graph *g, kiln_node *n, kiln_error *err) {
  const kiln_value *x = kiln_node_in(g, n, 0), *zp = kiln_node_in(g, n, 2);
  int axis;
  int64_t block;
  if (quant_axis(g, n, &axis, &block, err)) return err->code;
  kiln_dtype t = zp ? zp->dtype : (kiln_dtype)kiln_attr_int(n, "output_dtype", KILN_U8);
  if (!(kiln_dtype_is_int(t) && kiln_dtype_bits(t) <= 16) && !kiln_dtype_is_minifloat(t))
    return kiln_fail_node(n, err, KILN_ERR_UNSUPPORTED,
                          "quantizes to 2- to 16-bit integers or minifloats only");
  if (x->dtype != KILN_F32 && x->dtype != KILN_F16 && x->dtype != KILN_BF16 &&
      x->dtype != KILN_I32)
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "x must be f32, f16, bf16 or i32");
  kiln_set_out(g, n, 0, t, x->rank, x->dims);
  return KILN_OK;
}

static kiln_status infer_dequantize(kiln_graph *g, kiln_node *n, kiln_error *err) {
  const kiln_value *x = kiln_node_in(g, n, 0), *s = kiln_node_in(g, n, 1);
  int axis;
  int64_t block;
  if (quant_axis(g, n, &axis, &block, err)) return err->code;
  if (!(kiln_dtype_is_int(x->dtype) || kiln_dtype_is_minifloat(x->dtype)) ||
      !kiln_dtype_is_float(s->dtype) || kiln_dtype_is_minifloat(s->dtype))
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL,
                          "x must be integers or 8-bit floats and x_scale floats");
  /* opset 23: output_dtype (0: x_scale's type) */
  kiln_dtype t = (kiln_dtype)kiln_attr_int(n, "output_dtype", 0);
  if (t == 0) t = s->dtype;
  if (!kiln_dtype_is_float(t))
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "output_dtype must be a float type");
  kiln_set_out(g, n, 0, t, x->rank, x->dims);
  return KILN_OK;
}

/* Input i (a scale or zero point) at the element v of x, as type t. */
static kiln_expr *param(kiln_lower_ctx *c, int i, int axis, int64_t block,
                        kiln_expr *const *v, kiln_dtype t) {
  kiln_kernel *k = c->k;
  if (c->n->ninputs <= i || c->in_buf[i] < 0) return kx_const_f(k, t, 0);
  const kiln_buffer *b = &k->bufs[c->in_buf[i]];
  if (block > 0) { /* x's index, the block's along axis */
    kiln_expr *at[KILN_MAX_RANK];
    for (int d = 0; d < b->rank; d++)
      at[d] = d == axis ? kx_binary(k, KB_DIV, v[d], kx_const_i(k, KILN_I64, block)) : v[d];
    return kx_cast(k, kx_load(k, c->in_buf[i], at), t);
  }
  kiln_expr *at = kiln_shape_numel(b->rank, b->dims) == 1 ? kx_idx(k, 0) : v[axis];
  return kx_cast(k, kx_load(k, c->in_buf[i], b->rank ? &at : NULL), t);
}

static kiln_status lower_quantize(kiln_lower_ctx *c) {
  kiln_kernel *k = c->k;
  int axis;
  int64_t block;
  if (quant_axis(c->g, c->n, &axis, &block, c->err)) return c->err->code;
  kiln_dtype t = k->bufs[c->out_buf[0]].dtype, ct = KILN_F32;
  kiln_expr *v[KILN_MAX_RANK];
  kiln_stage *s = kiln_elementwise_stage(k, "quantize", c->out_buf[0], v);
  kiln_expr *x = kx_cast(k, kx_load(k, c->in_buf[0], v), ct);
  kiln_expr *q = kx_binary(k, KB_DIV, x, param(c, 1, axis, block, v, ct));
  if (kiln_dtype_is_minifloat(t)) {
    q = kx_binary(k, KB_ADD, q, param(c, 2, axis, block, v, ct));
    bool sat = kiln_attr_int(c->n, "saturate", 1) != 0;
    kiln_stage_store(k, s, v, sat ? kx_cast(k, q, t) : kx_cast_nosat(k, q, t));
    return KILN_OK;
  }
  q = kx_binary(k, KB_ADD, kx_unary(k, KU_ROUND, q), param(c, 2, axis, block, v, ct));
  double lo, hi;
  kiln_dtype_range(t, &lo, &hi);
  q = kx_binary(k, KB_MIN, kx_binary(k, KB_MAX, q, kx_const_f(k, ct, lo)), kx_const_f(k, ct, hi));
  kiln_stage_store(k, s, v, kx_cast(k, q, t));
  return KILN_OK;
}

static kiln_status lower_dequantize(kiln_lower_ctx *c) {
  kiln_kernel *k = c->k;
  int axis;
  int64_t block;
  if (quant_axis(c->g, c->n, &axis, &block, c->err)) return c->err->code;
  kiln_dtype t = k->bufs[c->out_buf[0]].dtype;
  kiln_dtype ct = t == KILN_F64 ? KILN_F64 : KILN_F32;
  kiln_expr *v[KILN_MAX_RANK];
  kiln_stage *s = kiln_elementwise_stage(k, "dequantize", c->out_buf[0], v);
  /* the difference in integers: exact for int32 data; an 8-bit float's in f32, exact */
  kiln_dtype dt = kiln_dtype_is_minifloat(k->bufs[c->in_buf[0]].dtype) ? KILN_F32 : KILN_I64;
  kiln_expr *x = kx_cast(k, kx_load(k, c->in_buf[0], v), dt);
  kiln_expr *d = kx_binary(k, KB_SUB, x, param(c, 2, axis, block, v, dt));
  kiln_expr *y = kx_binary(k, KB_MUL, kx_cast(k, d, ct), param(c, 1, axis, block, v, ct));
  kiln_stage_store(k, s, v, kx_cast(k, y, t));
  return KILN_OK;
}

/* ---- DynamicQuantizeLinear -------------------------------------------------------------- */

static kiln_status infer_dynamic_quantize(kiln_graph *g, kiln_node *n, kiln_error *err) {
  const kiln_value *x = kiln_node_in(g, n, 0);
  if (x->dtype != KILN_F32) return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "x must be f32");
  kiln_set_out(g, n, 0, KILN_U8, x->rank, x->dims);
  if (n->noutputs > 1) kiln_set_out(g, n, 1, KILN_F32, 0, NULL);
  if (n->noutputs > 2) kiln_set_out(g, n, 2, KILN_U8, 0, NULL);
  return KILN_OK;
}

/* ONNX's function body: the range [min(x, 0), max(x, 0)] maps onto [0, 255]. */
static kiln_status expand_dynamic_quantize(kiln_graph *g, kiln_block *b, int pos,
                                           kiln_error *err) {
  (void)err;
  const kiln_node *n = &g->nodes[b->nodes[pos]];
  int x = n->inputs[0], out[3] = {-1, -1, -1};
  for (int i = 0; i < n->noutputs && i < 3; i++) out[i] = n->outputs[i];
  kiln_ex e;
  kiln_ex_begin(&e, g, b, pos, KILN_F32);
  int zero = kiln_ex_scalar(&e, 0, "zero"), qmax = kiln_ex_scalar(&e, 255, "qmax");
  int mn = kiln_ex_unary(&e, "ReduceMin", x, "x_min");
  kiln_ex_attr_i(&e, "keepdims", 0);
  int mx = kiln_ex_unary(&e, "ReduceMax", x, "x_max");
  kiln_ex_attr_i(&e, "keepdims", 0);
  mn = kiln_ex_binary(&e, "Min", mn, zero, "x_min_adjusted");
  mx = kiln_ex_binary(&e, "Max", mx, zero, "x_max_adjusted");
  int scale = kiln_ex_node1(&e, "Div", (int[]){kiln_ex_binary(&e, "Sub", mx, mn, "x_range"), qmax},
                            2, out[1], "scale");
  int zp_f = kiln_ex_binary(&e, "Sub", zero, kiln_ex_binary(&e, "Div", mn, scale, "min_scaled"),
                            "zero_point_f");
  zp_f = kiln_ex_node1(&e, "Clip", (int[]){zp_f, zero, qmax}, 3, -1, "zero_point_clipped");
  zp_f = kiln_ex_unary(&e, "Round", zp_f, "zero_point_rounded");
  int zp = kiln_ex_node1(&e, "Cast", &zp_f, 1, out[2], "zero_point");
  kiln_ex_attr_i(&e, "to", KILN_U8);
  kiln_ex_node1(&e, "QuantizeLinear", (int[]){x, scale, zp}, 3, out[0], "y");
  kiln_ex_end(&e);
  return KILN_OK;
}

/* ---- QLinearMatMul, ConvInteger, QLinearConv ------------------------------------------ */

static kiln_status infer_qlinear_matmul(kiln_graph *g, kiln_node *n, kiln_error *err) {
  const kiln_value *b = kiln_node_in(g, n, 3);
  for (int i = 1; i < 8; i++) {
    const kiln_value *p = kiln_node_in(g, n, i);
    /* b's scale and zero point may hold one value per column (quantize_static per_channel) */
    bool per_col = (i == 4 || i == 5) && p && p->rank == 1 && b->rank >= 1 &&
                   p->dims[0] == b->dims[b->rank - 1];
    if (i != 3 && p && kiln_value_numel(p) != 1 && !per_col)
      return kiln_fail_node(n, err, KILN_ERR_UNSUPPORTED, "scales and zero points must be "
                            "scalars (b's: or one per column)");
  }
  const kiln_value *yzp = kiln_node_in(g, n, 7);
  return kiln_infer_as(g, n, "MatMulInteger", (int[]){n->inputs[0], n->inputs[3]}, 2,
                       yzp ? yzp->dtype : KILN_U8, err);
}

/* Requantizes the int32 `acc`: QuantizeLinear(acc * (s1 * s2 / y_scale), 1, y_zp), the
 * scale folded first as integer kernels do. */
static int requantize(kiln_ex *e, int acc, int s1, int s2, int ys, int yzp, int out) {
  int f = kiln_ex_unary(e, "Cast", acc, "acc_f");
  kiln_ex_attr_i(e, "to", KILN_F32);
  int sc[3] = {s1, s2, ys}; /* f16 scales too: the ratio is f32 */
  for (int i = 0; i < 3; i++) {
    sc[i] = kiln_ex_unary(e, "Cast", sc[i], "scale_f");
    kiln_ex_attr_i(e, "to", KILN_F32);
  }
  int ratio = kiln_ex_binary(e, "Div", kiln_ex_binary(e, "Mul", sc[0], sc[1], "scale"), sc[2], "ratio");
  int one = kiln_ex_scalar(e, 1, "one");
  int in[3] = {kiln_ex_binary(e, "Mul", f, ratio, "scaled"), one, yzp};
  return kiln_ex_node1(e, "QuantizeLinear", in, yzp >= 0 ? 3 : 2, out, "y");
}

static kiln_status expand_qlinear_matmul(kiln_graph *g, kiln_block *b, int pos,
                                         kiln_error *err) {
  (void)err;
  const kiln_node *n = &g->nodes[b->nodes[pos]];
  int in[8];
  for (int i = 0; i < 8; i++) in[i] = i < n->ninputs ? n->inputs[i] : -1;
  int out = n->outputs[0];
  kiln_ex e;
  kiln_ex_begin(&e, g, b, pos, KILN_F32);
  int acc = kiln_ex_node1(&e, "MatMulInteger", (int[]){in[0], in[3], in[2], in[5]}, 4, -1, "acc");
  requantize(&e, acc, in[1], in[4], in[6], in[7], out);
  kiln_ex_end(&e);
  return KILN_OK;
}

/* ConvInteger(x, w, x_zp, w_zp) and QLinearConv(x, xs, xzp, w, ws, wzp, ys, yzp, B):
 * input positions of x, w, their zero points, and (QLinearConv) the scales and bias. */
typedef struct qconv_io {
  int x, w, xzp, wzp, xs, ws, ys, yzp, bias;
} qconv_io;

static qconv_io qconv_inputs(const kiln_node *n) {
  bool q = strcmp(n->op->name, "QLinearConv") == 0;
  int at[9];
  for (int i = 0; i < 9; i++) at[i] = i < n->ninputs ? n->inputs[i] : -1;
  if (!q) return (qconv_io){at[0], at[1], at[2], at[3], -1, -1, -1, -1, -1};
  return (qconv_io){at[0], at[3], at[2], at[5], at[1], at[4], at[6], at[7], at[8]};
}

static kiln_status infer_qconv(kiln_graph *g, kiln_node *n, kiln_error *err) {
  qconv_io io = qconv_inputs(n);
  const kiln_value *x = &g->values[io.x], *w = &g->values[io.w];
  if (x->rank < 3 || w->rank != x->rank || !kiln_dtype_is_int(x->dtype) ||
      !kiln_dtype_is_int(w->dtype) || kiln_dtype_size(x->dtype) != 1 ||
      kiln_dtype_size(w->dtype) != 1)
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "x and w must be 8-bit integer tensors "
                                                     "of the same rank >= 3");
  int zps[3] = {io.xzp, io.xs, io.ys};
  for (int i = 0; i < 3; i++)
    if (zps[i] >= 0 && kiln_value_numel(&g->values[zps[i]]) != 1)
      return kiln_fail_node(n, err, KILN_ERR_UNSUPPORTED, "x's scale and zero point and y's must "
                                                     "be scalars");
  kiln_dtype t = io.yzp >= 0 ? g->values[io.yzp].dtype : io.ys >= 0 ? KILN_U8 : KILN_I32;
  return kiln_infer_as(g, n, "Conv", (int[]){io.x, io.w}, 2, t, err);
}

/* x - x_zp and w - w_zp in int32 (w_zp per output channel reshaped to [M, 1, ...]), an
 * int32 Conv with the node's attributes, then for QLinearConv the bias (int32, scaled by
 * xs * ws like the accumulator) and requantization. */
static kiln_status expand_qconv(kiln_graph *g, kiln_block *b, int pos, kiln_error *err) {
  (void)err;
  const kiln_node *n = &g->nodes[b->nodes[pos]];
  qconv_io io = qconv_inputs(n);
  int rank = g->values[io.w].rank, out = n->outputs[0];
  bool q = io.xs >= 0;
  kiln_ex e;
  kiln_ex_begin(&e, g, b, pos, KILN_F32);
  int ops[2] = {io.x, io.w}, zps[2] = {io.xzp, io.wzp};
  const char *names[2] = {"x_i32", "w_i32"};
  for (int i = 0; i < 2; i++) {
    ops[i] = kiln_ex_unary(&e, "Cast", ops[i], names[i]);
    kiln_ex_attr_i(&e, "to", KILN_I32);
    if (zps[i] < 0) continue;
    int zp = kiln_ex_unary(&e, "Cast", zps[i], "zero_point_i32");
    kiln_ex_attr_i(&e, "to", KILN_I32);
    /* per output channel: [M] -> [M, 1, ...]; one value broadcasts as it is */
    if (i == 1 && kiln_value_numel(&g->values[zps[i]]) > 1) {
      int64_t axes[4] = {1, 2, 3, 4};
      zp = kiln_ex_binary(&e, "Unsqueeze", zp, kiln_ex_ints(&e, rank - 1, axes), "w_zp");
    }
    ops[i] = kiln_ex_binary(&e, "Sub", ops[i], zp, names[i]);
  }
  int in[3] = {ops[0], ops[1], -1};
  int acc = kiln_ex_node1(&e, "Conv", in, 2, q ? -1 : out, "acc");
  kiln_ex_take_attrs(&e);
  if (q) {
    if (io.bias >= 0) { /* B [M] in int32 with scale xs * ws: add it before scaling */
      int64_t axes[4] = {1, 2, 3, 4};
      int bb = kiln_ex_binary(&e, "Unsqueeze", io.bias, kiln_ex_ints(&e, rank - 2, axes), "bias");
      acc = kiln_ex_binary(&e, "Add", acc, bb, "acc_bias");
    }
    int ws = io.ws;
    if (kiln_value_numel(&g->values[ws]) > 1) {
      int64_t axes[4] = {1, 2, 3, 4};
      ws = kiln_ex_binary(&e, "Unsqueeze", ws, kiln_ex_ints(&e, rank - 2, axes), "w_scale");
    }
    requantize(&e, acc, io.xs, ws, io.ys, io.yzp, out);
  }
  kiln_ex_end(&e);
  return KILN_OK;
}

static const kiln_attr_spec quant_attrs[] = {
    {"axis", KILN_ATTR_INT, false},       {"block_size", KILN_ATTR_INT, false},
    {"output_dtype", KILN_ATTR_INT, false}, {"saturate", KILN_ATTR_INT, false},
    {"precision", KILN_ATTR_INT, false},  {NULL}};
static const kiln_attr_spec conv_attrs[] = {
    {"auto_pad", KILN_ATTR_STRING, false}, {"dilations", KILN_ATTR_INTS, false},
    {"group", KILN_ATTR_INT, false},       {"kernel_shape", KILN_ATTR_INTS, false},
    {"pads", KILN_ATTR_INTS, false},       {"strides", KILN_ATTR_INTS, false},
    {NULL}};

const kiln_op_def kiln_ops_quant[] = {
    {"QuantizeLinear", 2, 3, 1, 1, quant_attrs, infer_quantize, lower_quantize, NULL, KILN_OP_SYMBOLIC},
    {"DequantizeLinear", 2, 3, 1, 1, quant_attrs, infer_dequantize, lower_dequantize, NULL, KILN_OP_SYMBOLIC},
    {"DynamicQuantizeLinear", 1, 1, 1, 3, NULL, infer_dynamic_quantize, NULL,
     expand_dynamic_quantize, KILN_OP_SYMBOLIC},
    {"QLinearMatMul", 8, 8, 1, 1, NULL, infer_qlinear_matmul, NULL, expand_qlinear_matmul, KILN_OP_SYMBOLIC},
    {"ConvInteger", 2, 4, 1, 1, conv_attrs, infer_qconv, NULL, expand_qconv, KILN_OP_SYMBOLIC},
    {"QLinearConv", 8, 9, 1, 1, conv_attrs, infer_qconv, NULL, expand_qconv, KILN_OP_SYMBOLIC},
    {NULL},
};
