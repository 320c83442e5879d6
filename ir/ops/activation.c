/* Activations: elementwise ops whose value is a small expression of the input and the
 * node's attributes; lowered through kiln_lower_elementwise (elementwise.c). */
#include "ir/op.h"

#include <string.h>

#define SQRT_2_OVER_PI 0.79788456080286535588
#define SQRT_HALF 0.70710678118654752440

static kiln_expr *cf(kiln_lower_ctx *c, kiln_dtype t, double v) { return kx_const_f(c->k, t, v); }
static kiln_expr *bin(kiln_lower_ctx *c, kiln_binary_op op, kiln_expr *a, kiln_expr *b) {
  return kx_binary(c->k, op, a, b);
}
static kiln_expr *is_neg(kiln_lower_ctx *c, kiln_expr *x) {
  return bin(c, KB_LT, x, cf(c, x->dtype, 0));
}
static kiln_expr *expm1_(kiln_lower_ctx *c, kiln_expr *x) {
  return bin(c, KB_SUB, kx_unary(c->k, KU_EXP, x), cf(c, x->dtype, 1));
}
static double fattr(kiln_lower_ctx *c, const char *name, double dflt) {
  return kiln_attr_float(c->n, name, dflt);
}
/* min(1, max(0, alpha * x + beta)) */
static kiln_expr *hard_sigmoid(kiln_lower_ctx *c, kiln_expr *x, double alpha, double beta) {
  kiln_dtype t = x->dtype;
  kiln_expr *lin = bin(c, KB_ADD, bin(c, KB_MUL, x, cf(c, t, alpha)), cf(c, t, beta));
  return bin(c, KB_MIN, bin(c, KB_MAX, lin, cf(c, t, 0)), cf(c, t, 1));
}

static kiln_expr *build_relu(kiln_lower_ctx *c, kiln_expr *const *x) {
  return bin(c, KB_MAX, x[0], cf(c, x[0]->dtype, 0));
}

static kiln_expr *build_leaky_relu(kiln_lower_ctx *c, kiln_expr *const *x) {
  kiln_expr *scaled = bin(c, KB_MUL, x[0], cf(c, x[0]->dtype, fattr(c, "alpha", 0.01)));
  return kx_select(c->k, is_neg(c, x[0]), scaled, x[0]);
}

static kiln_expr *build_prelu(kiln_lower_ctx *c, kiln_expr *const *x) {
  return kx_select(c->k, is_neg(c, x[0]), bin(c, KB_MUL, x[0], x[1]), x[0]);
}

/* min and max are optional scalar inputs; numpy.clip's order (max wins when min > max). */
static kiln_expr *build_clip(kiln_lower_ctx *c, kiln_expr *const *x) {
  kiln_expr *r = x[0];
  if (c->n->ninputs > 1 && x[1]) r = bin(c, KB_MAX, r, x[1]);
  if (c->n->ninputs > 2 && x[2]) r = bin(c, KB_MIN, r, x[2]);
  return r;
}

static kiln_expr *build_hard_sigmoid(kiln_lower_ctx *c, kiln_expr *const *x) {
  return hard_sigmoid(c, x[0], fattr(c, "alpha", 0.2), fattr(c, "beta", 0.5));
}

static kiln_expr *build_hard_swish(kiln_lower_ctx *c, kiln_expr *const *x) {
  return bin(c, KB_MUL, x[0], hard_sigmoid(c, x[0], 1.0 / 6, 0.5));
}

static kiln_expr *build_elu(kiln_lower_ctx *c, kiln_expr *const *x) {
  kiln_expr *neg = bin(c, KB_MUL, cf(c, x[0]->dtype, fattr(c, "alpha", 1.0)), expm1_(c, x[0]));
  return kx_select(c->k, is_neg(c, x[0]), neg, x[0]);
}

static kiln_expr *build_selu(kiln_lower_ctx *c, kiln_expr *const *x) {
  kiln_dtype t = x[0]->dtype;
  double alpha = fattr(c, "alpha", 1.67326319217681884765625);
  double gamma = fattr(c, "gamma", 1.05070102214813232421875);
  kiln_expr *neg = bin(c, KB_MUL, cf(c, t, alpha), expm1_(c, x[0]));
  kiln_expr *pos = bin(c, KB_GT, x[0], cf(c, t, 0));
  return bin(c, KB_MUL, cf(c, t, gamma), kx_select(c->k, pos, x[0], neg));
}

/* max(0, x) + min(0, alpha * (exp(x / alpha) - 1)) */
static kiln_expr *build_celu(kiln_lower_ctx *c, kiln_expr *const *x) {
  kiln_dtype t = x[0]->dtype;
  kiln_expr *alpha = cf(c, t, fattr(c, "alpha", 1.0));
  kiln_expr *neg = bin(c, KB_MUL, alpha, expm1_(c, bin(c, KB_DIV, x[0], alpha)));
  return bin(c, KB_ADD, bin(c, KB_MAX, x[0], cf(c, t, 0)), bin(c, KB_MIN, neg, cf(c, t, 0)));
}

/* log(1 + exp(x)) written as max(x, 0) + log(1 + exp(-|x|)) so large x does not overflow. */
static kiln_expr *build_softplus(kiln_lower_ctx *c, kiln_expr *const *x) {
  kiln_dtype t = x[0]->dtype;
  kiln_expr *e = kx_unary(c->k, KU_EXP, kx_unary(c->k, KU_NEG, kx_unary(c->k, KU_ABS, x[0])));
  kiln_expr *l = kx_unary(c->k, KU_LOG, bin(c, KB_ADD, cf(c, t, 1), e));
  return bin(c, KB_ADD, bin(c, KB_MAX, x[0], cf(c, t, 0)), l);
}

static kiln_expr *build_softsign(kiln_lower_ctx *c, kiln_expr *const *x) {
  kiln_expr *den = bin(c, KB_ADD, cf(c, x[0]->dtype, 1), kx_unary(c->k, KU_ABS, x[0]));
  return bin(c, KB_DIV, x[0], den);
}

/* 0.5 x (1 + erf(x / sqrt 2)), or with approximate="tanh"
 * 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))). */
static kiln_expr *build_gelu(kiln_lower_ctx *c, kiln_expr *const *x) {
  kiln_dtype t = x[0]->dtype;
  kiln_expr *inner;
  if (strcmp(kiln_attr_str(c->n, "approximate", "none"), "tanh") == 0) {
    kiln_expr *x3 = bin(c, KB_MUL, bin(c, KB_MUL, x[0], x[0]), x[0]);
    kiln_expr *arg = bin(c, KB_ADD, x[0], bin(c, KB_MUL, cf(c, t, 0.044715), x3));
    inner = kx_unary(c->k, KU_TANH, bin(c, KB_MUL, cf(c, t, SQRT_2_OVER_PI), arg));
  } else {
    inner = kx_unary(c->k, KU_ERF, bin(c, KB_MUL, x[0], cf(c, t, SQRT_HALF)));
  }
  kiln_expr *half_x = bin(c, KB_MUL, cf(c, t, 0.5), x[0]);
  return bin(c, KB_MUL, half_x, bin(c, KB_ADD, cf(c, t, 1), inner));
}

/* x tanh(softplus(x)) */
static kiln_expr *build_mish(kiln_lower_ctx *c, kiln_expr *const *x) {
  return bin(c, KB_MUL, x[0], kx_unary(c->k, KU_TANH, build_softplus(c, x)));
}

/* x sigmoid(alpha x) */
static kiln_expr *build_swish(kiln_lower_ctx *c, kiln_expr *const *x) {
  kiln_expr *ax = bin(c, KB_MUL, x[0], cf(c, x[0]->dtype, fattr(c, "alpha", 1.0)));
  return bin(c, KB_MUL, x[0], kx_unary(c->k, KU_SIGMOID, ax));
}

/* Swish(a) b (opset 28) */
static kiln_expr *build_swiglu(kiln_lower_ctx *c, kiln_expr *const *x) {
  return bin(c, KB_MUL, build_swish(c, x), x[1]);
}

/* x where x > alpha, else 0 */
static kiln_expr *build_thresholded_relu(kiln_lower_ctx *c, kiln_expr *const *x) {
  kiln_dtype t = x[0]->dtype;
  kiln_expr *above = bin(c, KB_GT, x[0], cf(c, t, fattr(c, "alpha", 1.0)));
  return kx_select(c->k, above, x[0], cf(c, t, 0));
}

/* x + bias below -lambd, x - bias above lambd, else 0 */
static kiln_expr *build_shrink(kiln_lower_ctx *c, kiln_expr *const *x) {
  kiln_dtype t = x[0]->dtype;
  double lambd = fattr(c, "lambd", 0.5);
  kiln_expr *bias = cf(c, t, fattr(c, "bias", 0.0));
  kiln_expr *lo = bin(c, KB_LT, x[0], cf(c, t, -lambd));
  kiln_expr *hi = bin(c, KB_GT, x[0], cf(c, t, lambd));
  kiln_expr *inner = kx_select(c->k, hi, bin(c, KB_SUB, x[0], bias), cf(c, t, 0));
  return kx_select(c->k, lo, bin(c, KB_ADD, x[0], bias), inner);
}

static const struct {
  const char *name;
  kiln_ew_build build;
} builders[] = {
    {"ThresholdedRelu", build_thresholded_relu}, {"Shrink", build_shrink},
    {"Relu", build_relu},         {"LeakyRelu", build_leaky_relu},
    {"PRelu", build_prelu},       {"Clip", build_clip},
    {"HardSigmoid", build_hard_sigmoid}, {"HardSwish", build_hard_swish},
    {"Elu", build_elu},           {"Selu", build_selu},
    {"Celu", build_celu},         {"Softplus", build_softplus},
    {"Softsign", build_softsign}, {"Gelu", build_gelu},
    {"Mish", build_mish},         {"Swish", build_swish},
    {"SwiGLU", build_swiglu},
};

static kiln_status lower_act(kiln_lower_ctx *c) {
  for (size_t i = 0; i < sizeof builders / sizeof builders[0]; i++)
    if (strcmp(builders[i].name, c->n->op->name) == 0)
      return kiln_lower_elementwise(c, builders[i].build);
  return kiln_fail(c->err, KILN_ERR_INTERNAL, "node '%s' (%s): no activation builder",
                   c->n->name, c->n->op_type);
}

static const kiln_attr_spec alpha_attrs[] = {{"alpha", KILN_ATTR_FLOAT, false}, {NULL}};
static const kiln_attr_spec alpha_beta_attrs[] = {
    {"alpha", KILN_ATTR_FLOAT, false}, {"beta", KILN_ATTR_FLOAT, false}, {NULL}};
static const kiln_attr_spec selu_attrs[] = {
    {"alpha", KILN_ATTR_FLOAT, false}, {"gamma", KILN_ATTR_FLOAT, false}, {NULL}};
static const kiln_attr_spec shrink_attrs[] = {
    {"bias", KILN_ATTR_FLOAT, false}, {"lambd", KILN_ATTR_FLOAT, false}, {NULL}};
static const kiln_attr_spec gelu_attrs[] = {{"approximate", KILN_ATTR_STRING, false}, {NULL}};

#define ACT(name, attrs) {name, 1, 1, 1, 1, attrs, kiln_infer_broadcast, lower_act, NULL, KILN_OP_ELEMENTWISE | KILN_OP_SYMBOLIC}

const kiln_op_def kiln_ops_activation[] = {
    ACT("Relu", NULL),
    ACT("ThresholdedRelu", alpha_attrs),
    ACT("Shrink", shrink_attrs),
    ACT("LeakyRelu", alpha_attrs),
    {"PRelu", 2, 2, 1, 1, NULL, kiln_infer_broadcast, lower_act, NULL, KILN_OP_ELEMENTWISE | KILN_OP_SYMBOLIC},
    {"Clip", 1, 3, 1, 1, NULL, kiln_infer_broadcast, lower_act, NULL, KILN_OP_ELEMENTWISE | KILN_OP_SYMBOLIC},
    ACT("HardSigmoid", alpha_beta_attrs),
    ACT("HardSwish", NULL),
    ACT("Elu", alpha_attrs),
    ACT("Selu", selu_attrs),
    ACT("Celu", alpha_attrs),
    ACT("Softplus", NULL),
    ACT("Softsign", NULL),
    ACT("Gelu", gelu_attrs),
    ACT("Mish", NULL),
    ACT("Swish", alpha_attrs),
    {"SwiGLU", 2, 2, 1, 1, alpha_attrs, kiln_infer_broadcast, lower_act, NULL, KILN_OP_ELEMENTWISE | KILN_OP_SYMBOLIC},
    {NULL},
};
