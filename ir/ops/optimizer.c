/* The training ops of the ai.onnx.preview.training domain (ir/op.c files them there): Adagrad, Momentum (standard and
 * Nesterov) and Adam. Each updates n tensors at once, inputs (R, T, X1..Xn, G1..Gn, then
 * the state V1..Vn and/or H1..Hn), outputs the new X's then the new states; every output
 * is one elementwise stage of the formulas of ONNX's reference, in f64 like its Python
 * scalars, rounded once to the tensor's type. */
#include "ir/op.h"

#include "ir/dtype.h"

#include <string.h>

typedef enum { OPT_ADAGRAD, OPT_MOMENTUM, OPT_ADAM } opt_kind;

static opt_kind kind_of(const kiln_node *n) {
  const char *op = n->op->name;
  return !strcmp(op, "Adagrad")    ? OPT_ADAGRAD
         : !strcmp(op, "Momentum") ? OPT_MOMENTUM
                                   : OPT_ADAM;
}

static int states(opt_kind k) { return k == OPT_ADAM ? 2 : 1; }

static kiln_status infer_optimizer(kiln_graph *g, kiln_node *n, kiln_error *err) {
  opt_kind k = kind_of(n);
  int per = 2 + states(k), count = (n->ninputs - 2) / per;
  if (n->ninputs > 32 || n->noutputs > 32) /* what one kernel's lowering takes */
    return kiln_fail(err, KILN_ERR_UNSUPPORTED, "node '%s' (%s): updates more than 7 tensors",
                     n->name, n->op_type);
  if (count < 1 || n->ninputs != 2 + per * count || n->noutputs != (1 + states(k)) * count)
    return kiln_fail(err, KILN_ERR_INVALID_MODEL, "node '%s' (%s): needs R, T and %d tensors "
                     "per updated tensor, and %d outputs per tensor", n->name, n->op_type, per,
                     1 + states(k));
  for (int i = 0; i < 2; i++)
    if (!kiln_node_in(g, n, i))
      return kiln_fail(err, KILN_ERR_INVALID_MODEL, "node '%s' (%s): input %d (%s) is missing",
                       n->name, n->op_type, i, i ? "T" : "R");
  if (k == OPT_MOMENTUM && strcmp(kiln_attr_str(n, "mode", ""), "standard") &&
      strcmp(kiln_attr_str(n, "mode", ""), "nesterov"))
    return kiln_fail(err, KILN_ERR_INVALID_MODEL, "node '%s' (%s): mode must be standard or "
                     "nesterov", n->name, n->op_type);
  for (int i = 0; i < count; i++)
    for (int j = 0; j < per; j++) {
      const kiln_value *x = kiln_node_in(g, n, 2 + i);
      const kiln_value *v = kiln_node_in(g, n, 2 + j * count + i);
      if (!x || !v) /* an optional input left out: every one is needed here */
        return kiln_fail(err, KILN_ERR_INVALID_MODEL, "node '%s' (%s): input %d is missing",
                         n->name, n->op_type, 2 + (x ? j * count + i : i));
      if (!kiln_dtype_is_float(v->dtype) || v->dtype != x->dtype || v->rank != x->rank ||
          memcmp(v->dims, x->dims, sizeof(int64_t) * (size_t)x->rank))
        return kiln_fail(err, KILN_ERR_SHAPE, "node '%s' (%s): '%s' must have the type and "
                         "shape of '%s'", n->name, n->op_type, v->name, x->name);
    }
  for (int o = 0; o < n->noutputs; o++) {
    const kiln_value *x = kiln_node_in(g, n, 2 + o % count);
    kiln_set_out(g, n, o, x->dtype, x->rank, x->dims);
  }
  return KILN_OK;
}

static kiln_status lower_optimizer(kiln_lower_ctx *c) {
  kiln_kernel *k = c->k;
  const kiln_node *n = c->n;
  opt_kind kind = kind_of(n);
  int count = (n->ninputs - 2) / (2 + states(kind));
  const kiln_dtype D = KILN_F64;
  double norm = kiln_attr_float(n, "norm_coefficient", 0);
  double eps = kiln_attr_float(n, "epsilon", 1e-6);
  double alpha = kiln_attr_float(n, "alpha", 0.9), beta = kiln_attr_float(n, "beta", 0.999);
  for (int o = 0; o < n->noutputs; o++) {
    int i = o % count, what = o / count; /* 0: X, 1: first state, 2: second state */
    if (c->out_buf[o] < 0) continue;
    kiln_expr *v[KILN_MAX_RANK];
    kiln_stage *s = kiln_elementwise_stage(k, "update", c->out_buf[o], v);
#define LD(in) kx_cast(k, kx_load(k, c->in_buf[in], v), D)
#define SC(in) kx_cast(k, kx_load(k, c->in_buf[in], NULL), D)
#define CF(x) kx_const_f(k, D, (x))
#define OP(op, a, b) kx_binary(k, op, a, b)
    kiln_expr *r = SC(0), *t = SC(1), *x = LD(2 + i), *st0 = LD(2 + 2 * count + i);
    kiln_expr *g = OP(KB_ADD, OP(KB_MUL, CF(norm), x), LD(2 + count + i));
    kiln_expr *t_pos = OP(KB_GT, t, CF(0)), *y = NULL;
    if (kind == OPT_ADAGRAD) {
      kiln_expr *h = OP(KB_ADD, st0, OP(KB_MUL, g, g));
      double decay = kiln_attr_float(n, "decay_factor", 0);
      kiln_expr *rate = OP(KB_DIV, r, OP(KB_ADD, CF(1), OP(KB_MUL, t, CF(decay))));
      kiln_expr *hs = OP(KB_ADD, kx_unary(k, KU_SQRT, h), CF(eps));
      y = what ? h : OP(KB_SUB, x, OP(KB_DIV, OP(KB_MUL, rate, g), hs));
    } else if (kind == OPT_MOMENTUM) {
      kiln_expr *b = kx_select(k, t_pos, CF(beta), CF(1));
      kiln_expr *vn = OP(KB_ADD, OP(KB_MUL, CF(alpha), st0), OP(KB_MUL, b, g));
      bool nesterov = !strcmp(kiln_attr_str(n, "mode", ""), "nesterov");
      kiln_expr *step = nesterov ? OP(KB_ADD, g, OP(KB_MUL, CF(alpha), vn)) : vn;
      y = what ? vn : OP(KB_SUB, x, OP(KB_MUL, r, step));
    } else {
      kiln_expr *h0 = LD(2 + 3 * count + i);
      kiln_expr *vn = OP(KB_ADD, OP(KB_MUL, CF(alpha), st0), OP(KB_MUL, CF(1 - alpha), g));
      kiln_expr *g2 = OP(KB_MUL, g, g);
      kiln_expr *hn = OP(KB_ADD, OP(KB_MUL, CF(beta), h0), OP(KB_MUL, CF(1 - beta), g2));
      kiln_expr *hs = OP(KB_ADD, kx_unary(k, KU_SQRT, hn), CF(eps));
      kiln_expr *bt = OP(KB_SUB, CF(1), OP(KB_POW, CF(beta), t));
      kiln_expr *corr = OP(KB_DIV, kx_unary(k, KU_SQRT, bt),
                           OP(KB_SUB, CF(1), OP(KB_POW, CF(alpha), t)));
      kiln_expr *ra = kx_select(k, t_pos, OP(KB_MUL, r, corr), r);
      kiln_expr *xn = OP(KB_SUB, x, OP(KB_MUL, ra, OP(KB_DIV, vn, hs)));
      double post = kiln_attr_float(n, "norm_coefficient_post", 0);
      y = what == 0 ? OP(KB_MUL, CF(1 - post), xn) : what == 1 ? vn : hn;
    }
#undef LD
#undef SC
#undef CF
#undef OP
    kiln_stage_store(k, s, v, kx_cast(k, y, k->bufs[c->out_buf[o]].dtype));
  }
  return KILN_OK;
}

static const kiln_attr_spec adagrad_attrs[] = {
    {"decay_factor", KILN_ATTR_FLOAT, false}, {"epsilon", KILN_ATTR_FLOAT, false},
    {"norm_coefficient", KILN_ATTR_FLOAT, false}, {NULL}};
static const kiln_attr_spec momentum_attrs[] = {
    {"alpha", KILN_ATTR_FLOAT, true}, {"beta", KILN_ATTR_FLOAT, true},
    {"mode", KILN_ATTR_STRING, true}, {"norm_coefficient", KILN_ATTR_FLOAT, true}, {NULL}};
static const kiln_attr_spec adam_attrs[] = {
    {"alpha", KILN_ATTR_FLOAT, false}, {"beta", KILN_ATTR_FLOAT, false},
    {"epsilon", KILN_ATTR_FLOAT, false}, {"norm_coefficient", KILN_ATTR_FLOAT, false},
    {"norm_coefficient_post", KILN_ATTR_FLOAT, false}, {NULL}};

const kiln_op_def kiln_ops_optimizer[] = {
    {"Adagrad", 5, -1, 2, -1, adagrad_attrs, infer_optimizer, lower_optimizer, NULL, 0},
    {"Momentum", 5, -1, 2, -1, momentum_attrs, infer_optimizer, lower_optimizer, NULL, 0},
    {"Adam", 6, -1, 3, -1, adam_attrs, infer_optimizer, lower_optimizer, NULL, 0},
    {NULL},
};
