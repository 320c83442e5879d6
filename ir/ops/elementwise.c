/* Elementwise ops: one stage over the (numpy-broadcast) output shape, value = f(inputs).
 * Every op here lowers through one table: an op is a kernel-IR unary op, a binary op
 * folded over its inputs (variadic Sum/Max/Min too), or a small expression builder.
 * Activations with attributes live in activation.c and share the lowering. */
#include "ir/op.h"

#include "ir/dtype.h"

#include <math.h>
#include <string.h>

/* ---- shared lowering and shape inference ---------------------------------------------- */

kiln_status kiln_lower_elementwise(kiln_lower_ctx *c, kiln_ew_build build) {
  kiln_kernel *k = c->k;
  int y = c->out_buf[0];
  kiln_expr *v[KILN_MAX_RANK], *x[32] = {0};
  kiln_elementwise_stage(k, c->n->op->name, y, v);
  int si = k->nstages - 1; /* builders add no stages, but keep the index, not the pointer */
  for (int i = 0; i < c->n->ninputs && i < 32; i++)
    if (c->in_buf[i] >= 0) x[i] = kiln_load_broadcast(k, c->in_buf[i], k->bufs[y].rank, v);
  kiln_expr *val = build(c, x);
  if (!val) return c->err->code;
  kiln_stage_store(k, &k->stages[si], v, val);
  return KILN_OK;
}

/* Broadcasts every input into output 0 of dtype t (UNDEFINED: input same_from's). Inputs
 * same_from.. must share one dtype (same_from < 0: no check). */
static kiln_status infer_ew(kiln_graph *g, kiln_node *n, kiln_dtype t, int same_from,
                            kiln_error *err) {
  if (n->ninputs > 32)
    return kiln_fail(err, KILN_ERR_LIMIT, "node '%s' (%s): %d inputs, at most 32", n->name,
                     n->op_type, n->ninputs);
  int rank = 0;
  int64_t dims[KILN_MAX_RANK] = {0};
  const kiln_value *ref = kiln_node_in(g, n, same_from < 0 ? 0 : same_from);
  for (int i = 0; i < n->ninputs; i++) {
    const kiln_value *v = kiln_node_in(g, n, i);
    if (!v) continue;
    if (!kiln_dtype_known(v->dtype)) /* strings only at KILN_OP_STRINGS ops (passes/infer.c) */
      return kiln_fail(err, KILN_ERR_UNSUPPORTED, "node '%s' (%s): input '%s' has type %s",
                       n->name, n->op_type, v->name, kiln_dtype_name(v->dtype));
    if (same_from >= 0 && i >= same_from && v->dtype != ref->dtype)
      return kiln_fail(err, KILN_ERR_INVALID_MODEL,
                       "node '%s' (%s): input '%s' is %s, input '%s' is %s", n->name,
                       n->op_type, ref->name, kiln_dtype_name(ref->dtype), v->name,
                       kiln_dtype_name(v->dtype));
    int64_t prev[KILN_MAX_RANK]; /* kiln_broadcast_shape's output must not alias an input */
    memcpy(prev, dims, sizeof prev);
    if (kiln_broadcast_shape(n, rank, prev, v->rank, v->dims, &rank, dims, err)) return err->code;
  }
  kiln_set_out(g, n, 0, t == KILN_UNDEFINED ? ref->dtype : t, rank, dims);
  return KILN_OK;
}

kiln_status kiln_infer_broadcast(kiln_graph *g, kiln_node *n, kiln_error *err) {
  return infer_ew(g, n, KILN_UNDEFINED, 0, err);
}

/* Pow: base and exponent types may differ. */
static kiln_status infer_pow(kiln_graph *g, kiln_node *n, kiln_error *err) {
  return infer_ew(g, n, KILN_UNDEFINED, -1, err);
}

static kiln_status infer_bool(kiln_graph *g, kiln_node *n, kiln_error *err) {
  return infer_ew(g, n, KILN_BOOL, 0, err);
}

/* Where(cond, a, b): a's dtype. */
static kiln_status infer_where(kiln_graph *g, kiln_node *n, kiln_error *err) {
  return infer_ew(g, n, KILN_UNDEFINED, 1, err);
}

static kiln_status infer_cast(kiln_graph *g, kiln_node *n, kiln_error *err) {
  kiln_dtype to = n->ninputs > 1 ? kiln_node_in(g, n, 1)->dtype
                                 : (kiln_dtype)kiln_attr_int(n, "to", KILN_UNDEFINED);
  if (!kiln_dtype_known(to))
    return kiln_fail(err, KILN_ERR_UNSUPPORTED, "node '%s' (%s): cannot cast to type %s",
                     n->name, n->op_type, kiln_dtype_name(to));
  const kiln_value *x = kiln_node_in(g, n, 0);
  if (!kiln_dtype_known(x->dtype))
    return kiln_fail(err, KILN_ERR_UNSUPPORTED, "node '%s' (%s): cannot cast from type %s",
                     n->name, n->op_type, kiln_dtype_name(x->dtype));
  const char *mode = kiln_attr_str(n, "round_mode", "up");
  if (strcmp(mode, "up") && strcmp(mode, "down") && strcmp(mode, "nearest"))
    return kiln_fail(err, KILN_ERR_INVALID_MODEL,
                     "node '%s' (%s): round_mode '%s' is not up, down or nearest", n->name,
                     n->op_type, mode);
  kiln_set_out(g, n, 0, to, x->rank, x->dims);
  return KILN_OK;
}

/* BitCast (opset 26): the same bytes as another type of the same width. */
static kiln_status infer_bitcast(kiln_graph *g, kiln_node *n, kiln_error *err) {
  kiln_dtype to = (kiln_dtype)kiln_attr_int(n, "to", KILN_UNDEFINED);
  const kiln_value *x = kiln_node_in(g, n, 0);
  if (!kiln_dtype_valid(to) || !kiln_dtype_valid(x->dtype))
    return kiln_fail(err, KILN_ERR_UNSUPPORTED, "node '%s' (%s): cannot bit-cast %s to %s",
                     n->name, n->op_type, kiln_dtype_name(x->dtype), kiln_dtype_name(to));
  /* kiln holds a 4- or 2-bit int extended to a byte, so its bits are not another's */
  if (kiln_dtype_bits(to) < 8 || kiln_dtype_bits(x->dtype) < 8)
    return kiln_fail(err, KILN_ERR_UNSUPPORTED, "node '%s' (%s): cannot bit-cast %s to %s",
                     n->name, n->op_type, kiln_dtype_name(x->dtype), kiln_dtype_name(to));
  if (kiln_dtype_size(to) != kiln_dtype_size(x->dtype))
    return kiln_fail(err, KILN_ERR_INVALID_MODEL,
                     "node '%s' (%s): %s and %s differ in width (attribute 'to')", n->name,
                     n->op_type, kiln_dtype_name(x->dtype), kiln_dtype_name(to));
  kiln_set_out(g, n, 0, to, x->rank, x->dims);
  return KILN_OK;
}

/* The kernel reads the input through a buffer of the output's type. A bool is 0 or 1
 * in kiln, so a byte read as bool is whether it is nonzero, and a bool's byte is 0 or 1:
 * casts there. */
static kiln_status lower_bitcast(kiln_lower_ctx *c) {
  kiln_kernel *k = c->k;
  kiln_buffer *x = &k->bufs[c->in_buf[0]];
  kiln_dtype to = k->bufs[c->out_buf[0]].dtype;
  if (x->dtype != KILN_BOOL && to != KILN_BOOL) x->dtype = to;
  kiln_expr *v[KILN_MAX_RANK];
  kiln_stage *s = kiln_elementwise_stage(k, "bitcast", c->out_buf[0], v);
  kiln_stage_store(k, s, v, kx_cast(k, kx_load(k, c->in_buf[0], v), to));
  return KILN_OK;
}

/* ---- expression builders --------------------------------------------------------------- */

static kiln_dtype out_dtype(const kiln_lower_ctx *c) { return c->k->bufs[c->out_buf[0]].dtype; }

/* Is input i a constant whose every element equals v? */
static bool const_all(const kiln_lower_ctx *c, int i, double v) {
  const kiln_value *x = kiln_node_in(c->g, c->n, i);
  if (!x || !x->data) return false;
  for (int64_t j = 0, n = kiln_value_numel(x); j < n; j++)
    if (kiln_load_f64(x->dtype, x->data, j) != v) return false;
  return true;
}

/* Integer bases with float exponents compute in f64 (numpy's result, cast back). A float
 * base squared by a constant 2 (LayerNorm's variance written out) is one multiply, exactly
 * pow's correctly rounded result, instead of a libm call per element. */
/* A float power by a constant exponent of 1 to 4 is products, of -1 a reciprocal, of 0.5 a
 * square root: llvm.pow is a libm call per element, even in vector loops (tanh-GELU's
 * x^3 made GPT-2's MLP MatMul 4.6x slower than the product alone). The products round up
 * to three times (within 2 ulp, where pow is within 1; onnxruntime computes x^2 and x^3
 * as products too); the square root is exact, and mapped to pow's values at -0 (+0) and
 * -inf (+inf). */
static kiln_expr *pow_by_const(kiln_lower_ctx *c, kiln_expr *x) {
  kiln_kernel *k = c->k;
  kiln_dtype t = x->dtype;
  if (const_all(c, 1, 1.0)) return x;
  if (const_all(c, 1, 2.0)) return kx_binary(k, KB_MUL, x, x);
  if (const_all(c, 1, 3.0)) return kx_binary(k, KB_MUL, kx_binary(k, KB_MUL, x, x), x);
  if (const_all(c, 1, 4.0)) {
    kiln_expr *sq = kx_binary(k, KB_MUL, x, x);
    return kx_binary(k, KB_MUL, sq, sq);
  }
  if (const_all(c, 1, -1.0)) return kx_binary(k, KB_DIV, kx_const_f(k, t, 1.0), x);
  if (const_all(c, 1, 0.5)) {
    kiln_expr *r = kx_binary(k, KB_ADD, kx_unary(k, KU_SQRT, x), kx_const_f(k, t, 0.0));
    kiln_expr *ninf = kx_binary(k, KB_EQ, x, kx_const_f(k, t, -INFINITY));
    return kx_select(k, ninf, kx_const_f(k, t, INFINITY), r);
  }
  return NULL;
}

static kiln_expr *build_pow(kiln_lower_ctx *c, kiln_expr *const *x) {
  kiln_kernel *k = c->k;
  kiln_dtype t = x[0]->dtype;
  kiln_expr *q = kiln_dtype_is_float(t) ? pow_by_const(c, x[0]) : NULL;
  if (q) return q;
  if (kiln_dtype_is_float(t) || !kiln_dtype_is_float(x[1]->dtype))
    return kx_binary(k, KB_POW, x[0], kx_cast(k, x[1], t));
  kiln_expr *p = kx_binary(k, KB_POW, kx_cast(k, x[0], KILN_F64), kx_cast(k, x[1], KILN_F64));
  return kx_cast(k, p, t);
}

static kiln_expr *build_mean(kiln_lower_ctx *c, kiln_expr *const *x) {
  kiln_expr *s = x[0];
  for (int i = 1; i < c->n->ninputs; i++) s = kx_binary(c->k, KB_ADD, s, x[i]);
  return kx_binary(c->k, KB_DIV, s, kx_const_i(c->k, s->dtype, c->n->ninputs));
}

/* fmod=0 takes the divisor's sign (Python): a C remainder of the other sign gets b added. */
static kiln_expr *build_mod(kiln_lower_ctx *c, kiln_expr *const *x) {
  kiln_kernel *k = c->k;
  kiln_expr *r = kx_binary(k, KB_MOD, x[0], x[1]);
  kiln_dtype t = r->dtype;
  if (kiln_attr_int(c->n, "fmod", 0) || (!kiln_dtype_is_float(t) && !kiln_dtype_is_signed(t)))
    return r;
  kiln_expr *zero = kx_const_i(k, t, 0);
  kiln_expr *differ = kx_binary(k, KB_XOR, kx_binary(k, KB_LT, r, zero),
                                kx_binary(k, KB_LT, x[1], zero));
  kiln_expr *fix = kx_binary(k, KB_AND, kx_binary(k, KB_NE, r, zero), differ);
  return kx_select(k, fix, kx_binary(k, KB_ADD, r, x[1]), r);
}

/* NaN and zero return themselves. */
static kiln_expr *build_sign(kiln_lower_ctx *c, kiln_expr *const *x) {
  kiln_kernel *k = c->k;
  kiln_dtype t = x[0]->dtype;
  kiln_expr *zero = kx_const_i(k, t, 0);
  kiln_expr *neg = kiln_dtype_is_float(t) || kiln_dtype_is_signed(t)
                       ? kx_select(k, kx_binary(k, KB_LT, x[0], zero), kx_const_i(k, t, -1), x[0])
                       : x[0];
  return kx_select(k, kx_binary(k, KB_GT, x[0], zero), kx_const_i(k, t, 1), neg);
}

static kiln_expr *build_isinf(kiln_lower_ctx *c, kiln_expr *const *x) {
  kiln_kernel *k = c->k;
  kiln_dtype t = x[0]->dtype;
  kiln_expr *r = kx_const_i(k, KILN_BOOL, 0);
  if (!kiln_dtype_is_float(t)) return r;
  if (kiln_attr_int(c->n, "detect_positive", 1))
    r = kx_binary(k, KB_EQ, x[0], kx_const_f(k, t, INFINITY));
  if (kiln_attr_int(c->n, "detect_negative", 1)) {
    kiln_expr *neg = kx_binary(k, KB_EQ, x[0], kx_const_f(k, t, -INFINITY));
    r = r->kind == KX_CONST ? neg : kx_binary(k, KB_OR, r, neg);
  }
  return r;
}

/* To f8e8m0 as onnx.numpy_helper.to_float8e8m0 rounds: the f32's exponent field, plus one
 * when round_mode is "up" and the fraction is not 0, or "nearest" and its top bit is set
 * with any other (or the exponent above 0); saturate keeps 0xFE from rounding to NaN. */
static kiln_expr *to_e8m0(kiln_lower_ctx *c, kiln_expr *x) {
  kiln_kernel *k = c->k;
  const char *mode = kiln_attr_str(c->n, "round_mode", "up");
  bool sat = kiln_attr_int(c->n, "saturate", 1) != 0;
#define U(v) kx_const_i(k, KILN_U32, v)
#define NONZERO(m) kx_binary(k, KB_NE, kx_binary(k, KB_AND, bits, U(m)), U(0))
  kiln_expr *bits = kx_bitcast(k, kx_cast(k, x, KILN_F32), KILN_U32);
  kiln_expr *ex = kx_binary(k, KB_AND, kx_binary(k, KB_SHR, bits, U(23)), U(0xff));
  kiln_expr *up = NULL;
  if (!strcmp(mode, "up")) {
    up = NONZERO(0x7fffff);
  } else if (!strcmp(mode, "nearest")) {
    kiln_expr *rest = kx_binary(k, KB_OR, kx_binary(k, KB_OR, NONZERO(0x200000), NONZERO(0x1fffff)),
                                kx_binary(k, KB_GT, ex, U(0)));
    up = kx_binary(k, KB_AND, NONZERO(0x400000), rest);
  }
  kiln_expr *code = ex;
  if (up) {
    up = kx_binary(k, KB_AND, up, kx_binary(k, KB_NE, ex, U(0xff))); /* NaN, inf stay */
    if (sat) up = kx_binary(k, KB_AND, up, kx_binary(k, KB_NE, ex, U(0xfe)));
    code = kx_select(k, up, kx_binary(k, KB_ADD, ex, U(1)), ex);
  }
  /* the code's value, which the store keeps exactly */
  kiln_expr *vbits = kx_select(k, kx_binary(k, KB_EQ, code, U(0)), U(0x400000),
                               kx_binary(k, KB_SHL, code, U(23)));
  kiln_expr *v = kx_select(k, kx_binary(k, KB_EQ, code, U(0xff)), kx_const_f(k, KILN_F32, NAN),
                           kx_bitcast(k, vbits, KILN_F32));
#undef NONZERO
#undef U
  return kx_cast(k, v, KILN_F8E8M0);
}

/* Casts from and to strings go through the run-time library (rt/strings.h): numbers are
 * read as an f64 (an int as an i64) and printed with the fewest digits that read back. */
static kiln_expr *cast_string(kiln_lower_ctx *c, kiln_expr *x, kiln_dtype to) {
  kiln_kernel *k = c->k;
  kiln_dtype from = x->dtype;
  if (from == to) return x;
  if (from == KILN_STRING) {
    bool fl = kiln_dtype_is_float(to) || to == KILN_BOOL;
    kiln_expr *v = kx_call(k, fl ? KF_STR_TO_F64 : KF_STR_TO_I64, x, NULL, 0, NULL);
    return kx_cast(k, v, to);
  }
  if (kiln_dtype_is_float(from))
    return kx_call(k, KF_STR_FROM_F64, kx_cast(k, x, KILN_F64), NULL, from != KILN_F64, NULL);
  bool u64 = from == KILN_U64;
  return kx_call(k, KF_STR_FROM_I64, u64 ? x : kx_cast(k, x, KILN_I64), NULL, u64, NULL);
}

/* saturate (opset 19) matters for 8-bit float targets only, round_mode (opset 24) for f8e8m0 */
static kiln_expr *build_cast(kiln_lower_ctx *c, kiln_expr *const *x) {
  if (out_dtype(c) == KILN_STRING || x[0]->dtype == KILN_STRING)
    return cast_string(c, x[0], out_dtype(c));
  if (out_dtype(c) == KILN_F8E8M0) return to_e8m0(c, x[0]);
  if (!kiln_attr_int(c->n, "saturate", 1)) return kx_cast_nosat(c->k, x[0], out_dtype(c));
  return kx_cast(c->k, x[0], out_dtype(c));
}

static kiln_expr *build_equal(kiln_lower_ctx *c, kiln_expr *const *x) {
  if (x[0]->dtype == KILN_STRING) return kx_call(c->k, KF_STR_EQ, x[0], x[1], 0, NULL);
  return kx_binary(c->k, KB_EQ, x[0], x[1]);
}

static kiln_expr *build_where(kiln_lower_ctx *c, kiln_expr *const *x) {
  return kx_select(c->k, x[0], x[1], x[2]);
}

static kiln_expr *build_bitshift(kiln_lower_ctx *c, kiln_expr *const *x) {
  bool left = strcmp(kiln_attr_str(c->n, "direction", ""), "LEFT") == 0;
  return kx_binary(c->k, left ? KB_SHL : KB_SHR, x[0], x[1]);
}

/* all bits flipped: x xor all-ones, for signed and unsigned alike */
static kiln_expr *build_bitwise_not(kiln_lower_ctx *c, kiln_expr *const *x) {
  return kx_binary(c->k, KB_XOR, x[0], kx_const_i(c->k, x[0]->dtype, -1));
}

static kiln_expr *build_identity(kiln_lower_ctx *c, kiln_expr *const *x) {
  (void)c;
  return x[0];
}

typedef struct ew_def {
  const char *name;
  enum { UN, BIN, FN } kind;
  int op;               /* kiln_unary_op / kiln_binary_op */
  kiln_ew_build build;  /* FN */
} ew_def;

static const ew_def defs[] = {
    {"Add", BIN, KB_ADD, NULL},  {"Sub", BIN, KB_SUB, NULL},   {"Mul", BIN, KB_MUL, NULL},
    {"Div", BIN, KB_DIV, NULL},  {"Max", BIN, KB_MAX, NULL},   {"Min", BIN, KB_MIN, NULL},
    {"Sum", BIN, KB_ADD, NULL},  {"And", BIN, KB_AND, NULL},   {"Or", BIN, KB_OR, NULL},
    {"Xor", BIN, KB_XOR, NULL},  {"Equal", FN, 0, build_equal},  {"Less", BIN, KB_LT, NULL},
    {"Greater", BIN, KB_GT, NULL}, {"LessOrEqual", BIN, KB_LE, NULL},
    {"GreaterOrEqual", BIN, KB_GE, NULL},
    {"Sigmoid", UN, KU_SIGMOID, NULL}, {"Tanh", UN, KU_TANH, NULL}, {"Erf", UN, KU_ERF, NULL},
    {"Exp", UN, KU_EXP, NULL},   {"Log", UN, KU_LOG, NULL},    {"Sqrt", UN, KU_SQRT, NULL},
    {"Reciprocal", UN, KU_RECIP, NULL}, {"Neg", UN, KU_NEG, NULL}, {"Abs", UN, KU_ABS, NULL},
    {"Floor", UN, KU_FLOOR, NULL}, {"Ceil", UN, KU_CEIL, NULL}, {"Round", UN, KU_ROUND, NULL},
    {"Sin", UN, KU_SIN, NULL},   {"Cos", UN, KU_COS, NULL},    {"Not", UN, KU_NOT, NULL},
    {"IsNaN", UN, KU_ISNAN, NULL},
    {"Tan", UN, KU_TAN, NULL},   {"Asin", UN, KU_ASIN, NULL},  {"Acos", UN, KU_ACOS, NULL},
    {"Atan", UN, KU_ATAN, NULL}, {"Sinh", UN, KU_SINH, NULL},  {"Cosh", UN, KU_COSH, NULL},
    {"Asinh", UN, KU_ASINH, NULL}, {"Acosh", UN, KU_ACOSH, NULL}, {"Atanh", UN, KU_ATANH, NULL},
    {"Pow", FN, 0, build_pow},   {"Mean", FN, 0, build_mean},  {"Mod", FN, 0, build_mod},
    {"Sign", FN, 0, build_sign}, {"IsInf", FN, 0, build_isinf}, {"Cast", FN, 0, build_cast},
    {"CastLike", FN, 0, build_cast}, {"Where", FN, 0, build_where},
    {"BitShift", FN, 0, build_bitshift}, {"Identity", FN, 0, build_identity},
    {"BitwiseAnd", BIN, KB_AND, NULL}, {"BitwiseOr", BIN, KB_OR, NULL},
    {"BitwiseXor", BIN, KB_XOR, NULL}, {"BitwiseNot", FN, 0, build_bitwise_not},
};

static kiln_expr *build_table(kiln_lower_ctx *c, kiln_expr *const *x) {
  for (size_t i = 0; i < sizeof defs / sizeof defs[0]; i++) {
    const ew_def *d = &defs[i];
    if (strcmp(d->name, c->n->op->name) != 0) continue;
    if (d->kind == UN) return kx_unary(c->k, (kiln_unary_op)d->op, x[0]);
    if (d->kind == FN) return d->build(c, x);
    kiln_expr *r = x[0];
    for (int j = 1; j < c->n->ninputs; j++) r = kx_binary(c->k, (kiln_binary_op)d->op, r, x[j]);
    return r;
  }
  kiln_fail(c->err, KILN_ERR_INTERNAL, "node '%s' (%s): no elementwise builder", c->n->name,
            c->n->op_type);
  return NULL;
}

/* The Bitwise ops take integers only (And, Or, Xor and Not take bools). */
static kiln_status infer_bitwise(kiln_graph *g, kiln_node *n, kiln_error *err) {
  for (int i = 0; i < n->ninputs; i++) {
    const kiln_value *v = kiln_node_in(g, n, i);
    if (v && !kiln_dtype_is_int(v->dtype))
      return kiln_fail(err, KILN_ERR_INVALID_MODEL, "node '%s' (%s): input '%s' is %s, not integers",
                       n->name, n->op_type, v->name, kiln_dtype_name(v->dtype));
  }
  return kiln_infer_broadcast(g, n, err);
}

static kiln_status lower_ew(kiln_lower_ctx *c) { return kiln_lower_elementwise(c, build_table); }

static const kiln_attr_spec mod_attrs[] = {{"fmod", KILN_ATTR_INT, false}, {NULL}};
static const kiln_attr_spec isinf_attrs[] = {
    {"detect_negative", KILN_ATTR_INT, false}, {"detect_positive", KILN_ATTR_INT, false}, {NULL}};
static const kiln_attr_spec cast_attrs[] = {{"to", KILN_ATTR_INT, true},
                                            {"saturate", KILN_ATTR_INT, false},
                                            {"round_mode", KILN_ATTR_STRING, false},
                                            {NULL}};
static const kiln_attr_spec bitcast_attrs[] = {{"to", KILN_ATTR_INT, true}, {NULL}};
static const kiln_attr_spec castlike_attrs[] = {{"saturate", KILN_ATTR_INT, false},
                                                {"round_mode", KILN_ATTR_STRING, false},
                                                {NULL}};
static const kiln_attr_spec bitshift_attrs[] = {{"direction", KILN_ATTR_STRING, true}, {NULL}};

#define EW (KILN_OP_ELEMENTWISE | KILN_OP_SYMBOLIC)
#define BINARY(name, infer) {name, 2, 2, 1, 1, NULL, infer, lower_ew, NULL, EW}
#define VARIADIC(name) {name, 1, -1, 1, 1, NULL, kiln_infer_broadcast, lower_ew, NULL, EW}
#define UNARY(name, infer) {name, 1, 1, 1, 1, NULL, infer, lower_ew, NULL, EW}

const kiln_op_def kiln_ops_elementwise[] = {
    BINARY("Add", kiln_infer_broadcast), BINARY("Sub", kiln_infer_broadcast),
    BINARY("Mul", kiln_infer_broadcast), BINARY("Div", kiln_infer_broadcast),
    BINARY("Pow", infer_pow),
    {"Mod", 2, 2, 1, 1, mod_attrs, kiln_infer_broadcast, lower_ew, NULL, EW},
    {"BitShift", 2, 2, 1, 1, bitshift_attrs, kiln_infer_broadcast, lower_ew, NULL, EW},
    VARIADIC("Max"), VARIADIC("Min"), VARIADIC("Sum"), VARIADIC("Mean"),
    BINARY("And", kiln_infer_broadcast), BINARY("Or", kiln_infer_broadcast),
    BINARY("Xor", kiln_infer_broadcast), UNARY("Not", kiln_infer_broadcast),
    BINARY("BitwiseAnd", infer_bitwise), BINARY("BitwiseOr", infer_bitwise),
    BINARY("BitwiseXor", infer_bitwise), UNARY("BitwiseNot", infer_bitwise),
    {"Equal", 2, 2, 1, 1, NULL, infer_bool, lower_ew, NULL, EW | KILN_OP_STRINGS},
    BINARY("Less", infer_bool), BINARY("Greater", infer_bool),
    BINARY("LessOrEqual", infer_bool), BINARY("GreaterOrEqual", infer_bool),
    UNARY("Sigmoid", kiln_infer_broadcast), UNARY("Tanh", kiln_infer_broadcast),
    UNARY("Erf", kiln_infer_broadcast), UNARY("Exp", kiln_infer_broadcast),
    UNARY("Log", kiln_infer_broadcast), UNARY("Sqrt", kiln_infer_broadcast),
    UNARY("Reciprocal", kiln_infer_broadcast), UNARY("Neg", kiln_infer_broadcast),
    UNARY("Abs", kiln_infer_broadcast), UNARY("Sign", kiln_infer_broadcast),
    UNARY("Floor", kiln_infer_broadcast), UNARY("Ceil", kiln_infer_broadcast),
    UNARY("Round", kiln_infer_broadcast), UNARY("Sin", kiln_infer_broadcast),
    UNARY("Cos", kiln_infer_broadcast), UNARY("IsNaN", infer_bool),
    UNARY("Tan", kiln_infer_broadcast), UNARY("Asin", kiln_infer_broadcast),
    UNARY("Acos", kiln_infer_broadcast), UNARY("Atan", kiln_infer_broadcast),
    UNARY("Sinh", kiln_infer_broadcast), UNARY("Cosh", kiln_infer_broadcast),
    UNARY("Asinh", kiln_infer_broadcast), UNARY("Acosh", kiln_infer_broadcast),
    UNARY("Atanh", kiln_infer_broadcast),
    {"IsInf", 1, 1, 1, 1, isinf_attrs, infer_bool, lower_ew, NULL, EW},
    {"Cast", 1, 1, 1, 1, cast_attrs, infer_cast, lower_ew, NULL, EW | KILN_OP_STRINGS},
    {"CastLike", 2, 2, 1, 1, castlike_attrs, infer_cast, lower_ew, NULL, EW | KILN_OP_STRINGS},
    {"BitCast", 1, 1, 1, 1, bitcast_attrs, infer_bitcast, lower_bitcast, NULL, KILN_OP_SYMBOLIC},
    {"Where", 3, 3, 1, 1, NULL, infer_where, lower_ew, NULL, EW | KILN_OP_STRINGS},
    {"Identity", 1, 1, 1, 1, NULL, kiln_infer_broadcast, lower_ew, NULL,
     KILN_OP_ALIAS | KILN_OP_SYMBOLIC | KILN_OP_STRINGS},
    {NULL},
};
