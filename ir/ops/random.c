/* Random ops: RandomUniform, RandomNormal and their *Like forms, Bernoulli, Multinomial,
 * and Dropout (random in training mode). Every element draws from the counter-based
 * generator of ir/random.h at its row-major index, so the values depend only on the seed
 * and the shape. All carry KILN_OP_RANDOM: constant folding leaves the unseeded ones to
 * run time (their stream comes from a key each process draws: generated code computes it,
 * no tensor of one process's draws is stored in the program).
 *
 * f32 and half results are computed in f64 from a 24-bit uniform (or a normal rounded to
 * f32) times an f32 scale: the product is exact, so a backend that fuses the multiply-add
 * gives the same bits as one that does not. */
#include "ir/op.h"

#include "ir/dtype.h"
#include "ir/random.h"

#include <math.h>
#include <string.h>

/* ---- shapes and dtypes ------------------------------------------------------------------- */

static kiln_status set_float_out(kiln_graph *g, kiln_node *n, kiln_dtype t, int rank,
                                 const int64_t *dims, kiln_error *err) {
  if (!kiln_dtype_is_float(t))
    return kiln_fail_node(n, err, KILN_ERR_UNSUPPORTED, "dtype must be a float type");
  kiln_set_out(g, n, 0, t, rank, dims);
  return KILN_OK;
}

/* RandomUniform, RandomNormal: the shape attribute. */
static kiln_status infer_random(kiln_graph *g, kiln_node *n, kiln_error *err) {
  const int64_t *dims;
  int rank = kiln_attr_ints(n, "shape", &dims);
  if (rank < 0 || rank > KILN_MAX_RANK)
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "needs a shape of rank at most 8");
  for (int d = 0; d < rank; d++)
    if (dims[d] < 0) return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "shape has a negative dim");
  return set_float_out(g, n, (kiln_dtype)kiln_attr_int(n, "dtype", KILN_F32), rank, dims, err);
}

/* RandomUniformLike, RandomNormalLike: the input's shape (and dtype by default). */
static kiln_status infer_random_like(kiln_graph *g, kiln_node *n, kiln_error *err) {
  const kiln_value *x = kiln_node_in(g, n, 0);
  return set_float_out(g, n, (kiln_dtype)kiln_attr_int(n, "dtype", x->dtype), x->rank, x->dims,
                       err);
}

static kiln_status infer_bernoulli(kiln_graph *g, kiln_node *n, kiln_error *err) {
  const kiln_value *p = kiln_node_in(g, n, 0);
  kiln_dtype t = (kiln_dtype)kiln_attr_int(n, "dtype", p->dtype);
  if (!kiln_dtype_is_float(p->dtype) || !kiln_dtype_valid(t))
    return kiln_fail_node(n, err, KILN_ERR_UNSUPPORTED,
                          "needs float probabilities and a numeric or bool dtype");
  kiln_set_out(g, n, 0, t, p->rank, p->dims);
  return KILN_OK;
}

static kiln_status infer_multinomial(kiln_graph *g, kiln_node *n, kiln_error *err) {
  const kiln_value *x = kiln_node_in(g, n, 0);
  kiln_dtype t = (kiln_dtype)kiln_attr_int(n, "dtype", KILN_I32);
  int64_t dims[2] = {x->rank == 2 ? x->dims[0] : 0, kiln_attr_int(n, "sample_size", 1)};
  if (x->rank != 2 || !kiln_dtype_is_float(x->dtype) || x->dims[1] < 1)
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL,
                          "needs float logits of shape [batch, classes], classes >= 1");
  if (t != KILN_I32 && t != KILN_I64)
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "dtype must be int32 or int64");
  if (dims[1] < 0) return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "negative sample_size");
  kiln_set_out(g, n, 0, t, 2, dims);
  return KILN_OK;
}

/* ratio (optional scalar float) and training_mode (optional scalar bool); outputs the
 * data's shape and a bool mask. */
static kiln_status infer_dropout(kiln_graph *g, kiln_node *n, kiln_error *err) {
  const kiln_value *x = kiln_node_in(g, n, 0), *r = kiln_node_in(g, n, 1),
                   *t = kiln_node_in(g, n, 2);
  if ((r && (!kiln_dtype_is_float(r->dtype) || kiln_value_numel(r) != 1)) ||
      (t && (t->dtype != KILN_BOOL || kiln_value_numel(t) != 1)))
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL,
                          "ratio must be one float and training_mode one bool");
  kiln_set_out(g, n, 0, x->dtype, x->rank, x->dims);
  kiln_set_out(g, n, 1, KILN_BOOL, x->rank, x->dims);
  return KILN_OK;
}

/* ---- lowering ---------------------------------------------------------------------------- */

/* The largest value of float type t below h, h representable in t. */
static double below(kiln_dtype t, double h) {
  if (t == KILN_F64) return nextafter(h, -INFINITY);
  if (t == KILN_F32) return nextafterf((float)h, -INFINITY);
  bool f16 = t == KILN_F16; /* 16-bit: step the bit pattern toward -inf */
  uint16_t b = f16 ? kiln_f32_to_f16((float)h) : kiln_f32_to_bf16((float)h);
  b = (b & 0x7fff) == 0 ? 0x8001 : (b & 0x8000) ? (uint16_t)(b + 1) : (uint16_t)(b - 1);
  return f16 ? kiln_f16_to_f32(b) : kiln_bf16_to_f32(b);
}

/* v rounded to type t (a float type) and back. */
static double round_to(kiln_dtype t, double v) {
  if (t == KILN_F64) return v;
  if (t == KILN_F16) return kiln_f16_to_f32(kiln_f32_to_f16((float)v));
  if (t == KILN_BF16) return kiln_bf16_to_f32(kiln_f32_to_bf16((float)v));
  return (float)v;
}

/* A stage over output 0 and its elements' row-major index. */
static kiln_stage *random_stage(kiln_lower_ctx *c, int out, kiln_expr **v, kiln_expr **index) {
  const kiln_buffer *b = &c->k->bufs[out];
  kiln_stage *s = kiln_elementwise_stage(c->k, c->n->op->name, out, v);
  *index = kiln_linear_index(c->k, b->rank, b->dims, v);
  return s;
}

/* low + (high - low) * u in [low, high) */
static kiln_status lower_uniform(kiln_lower_ctx *c) {
  kiln_kernel *k = c->k;
  kiln_dtype t = k->bufs[c->out_buf[0]].dtype;
  kiln_expr *v[KILN_MAX_RANK], *i;
  kiln_stage *s = random_stage(c, c->out_buf[0], v, &i);
  double lo = kiln_attr_float(c->n, "low", 0), hi = kiln_attr_float(c->n, "high", 1);
  if (!(lo < hi)) return kiln_fail_node(c->n, c->err, KILN_ERR_INVALID_MODEL, "needs low < high");
  bool wide = t == KILN_F64;
  double span = wide ? hi - lo : (float)(hi - lo);
  kiln_expr *u = kiln_random_unit(k, kiln_random_bits(k, kiln_random_key(c->n), i), wide ? 53 : 24);
  kiln_expr *r = kx_binary(k, KB_ADD, kx_const_f(k, KILN_F64, wide ? lo : (float)lo),
                           kx_binary(k, KB_MUL, kx_const_f(k, KILN_F64, span), u));
  r = kx_cast(k, r, t);
  double top = round_to(t, hi); /* rounding may reach high: the value below it instead */
  kiln_expr *inside = kx_binary(k, KB_LT, r, kx_const_f(k, t, top));
  kiln_stage_store(k, s, v, kx_select(k, inside, r, kx_const_f(k, t, below(t, top))));
  return KILN_OK;
}

/* mean + scale * z */
static kiln_status lower_normal(kiln_lower_ctx *c) {
  kiln_kernel *k = c->k;
  kiln_dtype t = k->bufs[c->out_buf[0]].dtype;
  kiln_expr *v[KILN_MAX_RANK], *i;
  kiln_stage *s = random_stage(c, c->out_buf[0], v, &i);
  double mean = kiln_attr_float(c->n, "mean", 0), scale = kiln_attr_float(c->n, "scale", 1);
  bool wide = t == KILN_F64;
  kiln_expr *z = kiln_random_normal(k, kiln_random_key(c->n), i);
  if (!wide) z = kx_cast(k, kx_cast(k, z, KILN_F32), KILN_F64);
  kiln_expr *r = kx_binary(k, KB_MUL, kx_const_f(k, KILN_F64, wide ? scale : (float)scale), z);
  r = kx_binary(k, KB_ADD, kx_const_f(k, KILN_F64, wide ? mean : (float)mean), r);
  kiln_stage_store(k, s, v, kx_cast(k, r, t));
  return KILN_OK;
}

/* 1 where u < p, else 0 */
static kiln_status lower_bernoulli(kiln_lower_ctx *c) {
  kiln_kernel *k = c->k;
  kiln_dtype t = k->bufs[c->out_buf[0]].dtype;
  kiln_expr *v[KILN_MAX_RANK], *i;
  kiln_stage *s = random_stage(c, c->out_buf[0], v, &i);
  kiln_expr *u = kiln_random_unit(k, kiln_random_bits(k, kiln_random_key(c->n), i), 53);
  kiln_expr *p = kx_cast(k, kx_load(k, c->in_buf[0], v), KILN_F64);
  kiln_stage_store(k, s, v, kx_select(k, kx_binary(k, KB_LT, u, p), kx_const_i(k, t, 1),
                                      kx_const_i(k, t, 0)));
  return KILN_OK;
}

/* Per row: m = max logit; cum[c] = sum of exp(x - m) up to class c; a sample is the
 * number of classes whose cum lies at or below u * cum[last], at most the last class. */
static kiln_status lower_multinomial(kiln_lower_ctx *c) {
  kiln_kernel *k = c->k;
  int xb = c->in_buf[0], yb = c->out_buf[0];
  int64_t rows = k->bufs[xb].dims[0], classes = k->bufs[xb].dims[1];
  kiln_dtype t = k->bufs[yb].dtype;
  int mb = kiln_kernel_add_buffer(k, "max", KILN_BUF_TEMP, -1, KILN_F64, 1, &rows);
  int cb = kiln_kernel_add_buffer(k, "cum", KILN_BUF_TEMP, -1, KILN_F64, 2, k->bufs[xb].dims);

  kiln_stage *s = kiln_kernel_add_stage(k, "max", mb);
  kiln_expr *b = kx_var(k, kiln_stage_axis(s, rows, false));
  kiln_expr *j = kx_var(k, kiln_stage_axis(s, classes, true));
  kiln_expr *at[2] = {b, j};
  s->reduce = KR_MAX;
  kiln_stage_store(k, s, &b, kx_cast(k, kx_load(k, xb, at), KILN_F64));

  s = kiln_kernel_add_stage(k, "cumsum", cb);
  b = kx_var(k, kiln_stage_axis(s, rows, false));
  kiln_expr *cls = kx_var(k, kiln_stage_axis(s, classes, false));
  j = kx_var(k, kiln_stage_axis(s, classes, true));
  kiln_expr *bj[2] = {b, j}, *bc[2] = {b, cls};
  kiln_expr *e = kx_unary(k, KU_EXP, kx_binary(k, KB_SUB, kx_cast(k, kx_load(k, xb, bj), KILN_F64),
                                               kx_load(k, mb, &b)));
  s->reduce = KR_SUM;
  kiln_stage_store(k, s, bc, kx_select(k, kx_binary(k, KB_LE, j, cls), e,
                                       kx_const_f(k, KILN_F64, 0)));

  s = kiln_kernel_add_stage(k, "sample", yb);
  int64_t samples = k->bufs[yb].dims[1];
  b = kx_var(k, kiln_stage_axis(s, rows, false));
  kiln_expr *n = kx_var(k, kiln_stage_axis(s, samples, false));
  j = kx_var(k, kiln_stage_axis(s, classes, true));
  kiln_expr *bn[2] = {b, n}, *blast[2] = {b, kx_idx(k, classes - 1)}, *bj2[2] = {b, j};
  int64_t dims[2] = {rows, samples};
  kiln_expr *u = kiln_random_unit(
      k, kiln_random_bits(k, kiln_random_key(c->n), kiln_linear_index(k, 2, dims, bn)), 53);
  kiln_expr *target = kx_binary(k, KB_MUL, u, kx_load(k, cb, blast));
  s->reduce = KR_SUM;
  s->post = kx_binary(k, KB_MIN, kx_acc(k, t), kx_const_i(k, t, classes - 1));
  kiln_stage_store(k, s, bn, kx_select(k, kx_binary(k, KB_LE, kx_load(k, cb, bj2), target),
                                       kx_const_i(k, t, 1), kx_const_i(k, t, 0)));
  return KILN_OK;
}

/* Is input i absent, or a constant false? */
static bool absent_or_false(const kiln_lower_ctx *c, int i) {
  const kiln_value *v = kiln_node_in(c->g, c->n, i);
  return !v || (v->data && kiln_load_i64(v->dtype, v->data, 0) == 0);
}

/* A scalar input's one element. */
static kiln_expr *load_scalar(kiln_lower_ctx *c, int i) {
  kiln_expr *zero = kx_idx(c->k, 0);
  return kx_load(c->k, c->in_buf[i], c->k->bufs[c->in_buf[i]].rank ? &zero : NULL);
}

/* Inference (no training_mode, or a false one): y = x, mask all true. Training: an element
 * is kept where u >= ratio (ratio 0.5 by default), and scaled by 1 / (1 - ratio).
 * training_mode and ratio may be run-time inputs. */
static kiln_status lower_dropout(kiln_lower_ctx *c) {
  kiln_kernel *k = c->k;
  int xb = c->in_buf[0];
  kiln_dtype t = k->bufs[xb].dtype;
  bool training = !absent_or_false(c, 2);
  for (int o = 0; o < c->n->noutputs && o < 2; o++) {
    if (c->out_buf[o] < 0) continue;
    kiln_expr *v[KILN_MAX_RANK], *i, *keep = NULL, *scale = NULL;
    kiln_stage *s = random_stage(c, c->out_buf[o], v, &i);
    if (training) {
      kiln_expr *on = load_scalar(c, 2);
      kiln_expr *ratio = c->in_buf[1] >= 0 ? kx_cast(k, load_scalar(c, 1), KILN_F64)
                                           : kx_const_f(k, KILN_F64, 0.5);
      kiln_expr *u = kiln_random_unit(k, kiln_random_bits(k, kiln_random_key(c->n), i), 53);
      keep = kx_binary(k, KB_OR, kx_unary(k, KU_NOT, on), kx_binary(k, KB_GE, u, ratio));
      kiln_expr *one = kx_const_f(k, KILN_F64, 1);
      scale = kx_select(k, on, kx_binary(k, KB_DIV, one, kx_binary(k, KB_SUB, one, ratio)), one);
      scale = kx_cast(k, scale, t);
    }
    kiln_expr *x = kx_load(k, xb, v), *val = x;
    if (o == 1) val = keep ? keep : kx_const_i(k, KILN_BOOL, 1);
    else if (keep) val = kx_select(k, keep, kx_binary(k, KB_MUL, x, scale), kx_const_i(k, t, 0));
    kiln_stage_store(k, s, v, val);
  }
  return KILN_OK;
}

#define F KILN_ATTR_FLOAT
#define I KILN_ATTR_INT
static const kiln_attr_spec uniform_attrs[] = {
    {"dtype", I, false}, {"high", F, false}, {"low", F, false}, {"seed", F, false},
    {"shape", KILN_ATTR_INTS, true}, {NULL}};
static const kiln_attr_spec normal_attrs[] = {
    {"dtype", I, false}, {"mean", F, false}, {"scale", F, false}, {"seed", F, false},
    {"shape", KILN_ATTR_INTS, true}, {NULL}};
static const kiln_attr_spec uniform_like_attrs[] = {
    {"dtype", I, false}, {"high", F, false}, {"low", F, false}, {"seed", F, false}, {NULL}};
static const kiln_attr_spec normal_like_attrs[] = {
    {"dtype", I, false}, {"mean", F, false}, {"scale", F, false}, {"seed", F, false}, {NULL}};
static const kiln_attr_spec bernoulli_attrs[] = {{"dtype", I, false}, {"seed", F, false}, {NULL}};
static const kiln_attr_spec multinomial_attrs[] = {
    {"dtype", I, false}, {"sample_size", I, false}, {"seed", F, false}, {NULL}};
static const kiln_attr_spec dropout_attrs[] = {{"seed", I, false}, {NULL}};

#define R KILN_OP_RANDOM
const kiln_op_def kiln_ops_random[] = {
    {"RandomUniform", 0, 0, 1, 1, uniform_attrs, infer_random, lower_uniform, NULL, R},
    {"RandomNormal", 0, 0, 1, 1, normal_attrs, infer_random, lower_normal, NULL, R},
    {"RandomUniformLike", 1, 1, 1, 1, uniform_like_attrs, infer_random_like, lower_uniform, NULL,
     R},
    {"RandomNormalLike", 1, 1, 1, 1, normal_like_attrs, infer_random_like, lower_normal, NULL, R},
    {"Bernoulli", 1, 1, 1, 1, bernoulli_attrs, infer_bernoulli, lower_bernoulli, NULL, R},
    {"Multinomial", 1, 1, 1, 1, multinomial_attrs, infer_multinomial, lower_multinomial, NULL, R},
    {"Dropout", 1, 3, 1, 2, dropout_attrs, infer_dropout, lower_dropout, NULL, R | KILN_OP_SYMBOLIC},
    {NULL},
};
