/* ai.onnx.ml's preprocessing and linear models, the rest of a typical scikit-learn
 * pipeline: Scaler, Normalizer, Imputer, LinearRegressor and LinearClassifier. Each expands
 * into plain ops (Sub/Mul, a reduction and a Div, Where, a MatMul with the weights as a
 * constant). Outputs are floats as the spec says; where it is silent kiln computes what
 * onnxruntime does: a single score takes no post_transform but PROBIT (refused), and a
 * classifier with one row of weights (two labels) scores [1 - p, p], p its score or with
 * LOGISTIC the score's logistic, and picks class 1 when the score is > 0. */
#include "ir/ops/ml.h"

#include "ir/dtype.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* c values (one, or one per feature) as a constant of type t: a scalar or [c] */
static int per_feature(kiln_ex *x, const char *name, const double *v, int c, kiln_dtype t) {
  int64_t dim = c;
  return kiln_ex_const(x, name, t, c == 1 ? 0 : 1, &dim, v);
}

/* ---- Scaler ---------------------------------------------------------------------------------- */

static kiln_status expand_scaler(kiln_graph *g, kiln_block *b, int pos, kiln_error *err) {
  const kiln_node *n = &g->nodes[b->nodes[pos]];
  const kiln_value *xv = kiln_node_in(g, n, 0);
  if (kiln_ml_number_input(n, xv, false, err)) return err->code;
  int64_t f = xv->dims[xv->rank - 1];
  const double *o, *s;
  int no = kiln_attr_floats(n, "offset", &o), ns = kiln_attr_floats(n, "scale", &s);
  if ((no >= 0 && no != 1 && no != f) || (ns >= 0 && ns != 1 && ns != f))
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "offset and scale need one value, or one per feature");
  kiln_dtype t = xv->dtype == KILN_F64 ? KILN_F64 : KILN_F32;
  int xi = n->inputs[0], out = n->outputs[0];
  kiln_ex x;
  kiln_ex_begin(&x, g, b, pos, t); /* n is stale from here; its attributes (o, s) are not */
  int y = kiln_ml_as_float(&x, xi, true);
  if (no >= 0) y = kiln_ex_binary(&x, "Sub", y, per_feature(&x, "offset", o, no, t), "offset");
  if (ns >= 0) y = kiln_ex_binary(&x, "Mul", y, per_feature(&x, "scale", s, ns, t), "scaled");
  kiln_ml_output(&x, y, t, out, KILN_F32);
  kiln_ex_end(&x);
  return KILN_OK;
}

/* ---- Normalizer ------------------------------------------------------------------------------ */

/* x / max(x), x / sum |x| or x / sqrt(sum x^2) along the last axis; x where that is 0 */
static kiln_status expand_normalizer(kiln_graph *g, kiln_block *b, int pos, kiln_error *err) {
  const kiln_node *n = &g->nodes[b->nodes[pos]];
  const kiln_value *xv = kiln_node_in(g, n, 0);
  if (kiln_ml_number_input(n, xv, false, err)) return err->code;
  if (xv->rank > 2) return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "input 'X' must be [C] or [N, C]");
  static const char *norms[] = {"MAX", "L1", "L2"}, *reduce[] = {"ReduceMax", "ReduceL1", "ReduceL2"};
  const char *norm = kiln_attr_str(n, "norm", "MAX");
  int which = -1;
  for (int i = 0; i < 3; i++)
    if (!strcmp(norm, norms[i])) which = i;
  if (which < 0) return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "norm must be MAX, L1 or L2");
  int xi = n->inputs[0], out = n->outputs[0];
  kiln_ex x;
  kiln_ex_begin(&x, g, b, pos, KILN_F32); /* n is stale from here */
  int y = kiln_ml_as_float(&x, xi, false);
  int d = kiln_ex_binary(&x, reduce[which], y, kiln_ex_int1(&x, -1), "divisor");
  int zero = kiln_ex_binary(&x, "Equal", d, kiln_ex_scalar(&x, 0, "zero"), "is_zero");
  d = kiln_ex_node1(&x, "Where", (int[]){zero, kiln_ex_scalar(&x, 1, "one"), d}, 3, -1, "divisor_or_1");
  kiln_ex_node1(&x, "Div", (int[]){y, d}, 2, out, "normalized");
  kiln_ex_end(&x);
  return KILN_OK;
}

/* ---- Imputer --------------------------------------------------------------------------------- */

static kiln_status expand_imputer(kiln_graph *g, kiln_block *b, int pos, kiln_error *err) {
  const kiln_node *n = &g->nodes[b->nodes[pos]];
  const kiln_value *xv = kiln_node_in(g, n, 0);
  if (kiln_ml_number_input(n, xv, false, err)) return err->code;
  bool floats = kiln_dtype_is_float(xv->dtype);
  int64_t f = xv->dims[xv->rank - 1];
  const double *fv;
  const int64_t *iv;
  int c = floats ? kiln_attr_floats(n, "imputed_value_floats", &fv) : kiln_attr_ints(n, "imputed_value_int64s", &iv);
  if (c != 1 && c != f)
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, floats ? "imputed_value_floats needs one value, or one per feature"
                                                                 : "imputed_value_int64s needs one value, or one per feature");
  double *vals = kiln_xmalloc(sizeof(double) * (size_t)c);
  for (int i = 0; i < c; i++) vals[i] = floats ? fv[i] : (double)iv[i];
  double replaced = floats ? kiln_attr_float(n, "replaced_value_float", 0)
                           : (double)kiln_attr_int(n, "replaced_value_int64", 0);
  int64_t ireplaced = kiln_attr_int(n, "replaced_value_int64", 0), dim = c;
  kiln_dtype t = xv->dtype;
  int xi = n->inputs[0], out = n->outputs[0];
  kiln_ex x;
  kiln_ex_begin(&x, g, b, pos, t); /* n is stale from here */
  int with = kiln_ex_const(&x, "imputed", t, c == 1 ? 0 : 1, &dim, vals);
  if (!floats) /* exact past 2^53 */
    for (int i = 0; i < c; i++) kiln_store_i64(t, g->values[with].data, i, iv[i]);
  int hit;
  if (isnan(replaced)) {
    hit = kiln_ex_unary(&x, "IsNaN", xi, "missing");
  } else {
    int r = kiln_ex_const(&x, "replaced", t, 0, NULL, &replaced);
    if (!floats) kiln_store_i64(t, g->values[r].data, 0, ireplaced);
    hit = kiln_ex_binary(&x, "Equal", xi, r, "missing");
  }
  kiln_ex_node1(&x, "Where", (int[]){hit, with, xi}, 3, out, "imputed");
  kiln_ex_end(&x);
  free(vals);
  return KILN_OK;
}

/* ---- LinearRegressor, LinearClassifier --------------------------------------------------------- */

typedef struct weights {
  const double *c, *ic; /* coefficients [rows, F], intercepts (ni of them: 0 or rows) */
  int ni;
} weights;

static weights weights_of(const kiln_node *n) {
  weights w;
  kiln_attr_floats(n, "coefficients", &w.c);
  w.ni = kiln_attr_floats(n, "intercepts", &w.ic);
  return w;
}

/* X [N, F] (or [F], as [1, F]) times coefficients [rows, F] transposed, plus intercepts:
 * [N, rows], f32 */
static int linear(kiln_ex *x, weights w, int xi, int64_t f, int64_t rows) {
  bool flat = x->g->values[xi].rank == 1;
  int y = kiln_ml_as_float(x, xi, false);
  if (flat) {
    int64_t dims[2] = {1, f};
    y = kiln_ex_reshape(x, y, 2, dims, -1, "x_row");
  }
  const double *c = w.c, *ic = w.ic;
  int ni = w.ni;
  double *wt = kiln_xmalloc(sizeof(double) * (size_t)(f * rows));
  for (int64_t r = 0; r < rows; r++)
    for (int64_t k = 0; k < f; k++) wt[k * rows + r] = c[r * f + k];
  int64_t dims[2] = {f, rows};
  y = kiln_ex_binary(x, "MatMul", y, kiln_ex_const(x, "coefficients", KILN_F32, 2, dims, wt), "product");
  if (ni > 0) y = kiln_ex_binary(x, "Add", y, kiln_ex_const(x, "intercepts", KILN_F32, 1, &rows, ic), "scores");
  free(wt);
  return y;
}

/* rows of coefficients: intercepts' count, or (none) the coefficients over F */
static kiln_status linear_rows(const kiln_node *n, const kiln_value *xv, int64_t want, int64_t *rows, kiln_error *err) {
  if (kiln_ml_number_input(n, xv, false, err)) return err->code;
  if (xv->rank > 2) return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "input 'X' must be [F] or [N, F]");
  const double *c, *ic;
  int64_t f = xv->dims[xv->rank - 1];
  int nc = kiln_attr_floats(n, "coefficients", &c), ni = kiln_attr_floats(n, "intercepts", &ic);
  *rows = want > 0 ? want : ni > 0 ? ni : f ? nc / f : 0;
  if (nc < 0 || *rows < 1 || nc != *rows * f || (ni > 0 && ni != *rows)) {
    char what[160];
    snprintf(what, sizeof what, "needs %lld coefficients (%lld rows of %lld features) and none or one intercept per row",
             (long long)(*rows * f), (long long)*rows, (long long)f);
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, what);
  }
  int post = kiln_ml_post_of(n);
  if (post < 0) return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "post_transform is not one of NONE, SOFTMAX, LOGISTIC, SOFTMAX_ZERO, PROBIT");
  if (post == KILN_POST_PROBIT) return kiln_fail_node(n, err, KILN_ERR_UNSUPPORTED, "post_transform PROBIT is not supported");
  return KILN_OK;
}

static kiln_status expand_regressor(kiln_graph *g, kiln_block *b, int pos, kiln_error *err) {
  const kiln_node *n = &g->nodes[b->nodes[pos]];
  const kiln_value *xv = kiln_node_in(g, n, 0);
  int64_t targets = kiln_attr_int(n, "targets", 1), rows;
  if (targets < 1) return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "targets must be at least 1");
  if (linear_rows(n, xv, targets, &rows, err)) return err->code;
  int post = kiln_ml_post_of(n), xi = n->inputs[0], out = n->outputs[0];
  int64_t f = xv->dims[xv->rank - 1];
  weights w = weights_of(n);
  kiln_ex x;
  kiln_ex_begin(&x, g, b, pos, KILN_F32); /* n is stale from here; its attributes (w) are not */
  int y = linear(&x, w, xi, f, rows);
  if (rows > 1) y = kiln_ml_post(&x, post, y); /* one target: onnxruntime applies none */
  kiln_ml_output(&x, y, KILN_F32, out, KILN_F32);
  kiln_ex_end(&x);
  return KILN_OK;
}

static kiln_status expand_classifier(kiln_graph *g, kiln_block *b, int pos, kiln_error *err) {
  const kiln_node *n = &g->nodes[b->nodes[pos]];
  const kiln_value *xv = kiln_node_in(g, n, 0);
  int64_t rows;
  if (linear_rows(n, xv, 0, &rows, err)) return err->code;
  kiln_ml_labels labels;
  if (kiln_ml_labels_of(n, "classlabels_ints", &labels, err)) return err->code;
  bool binary = rows == 1; /* label 1 when the one score is > 0 */
  if (binary ? labels.count != 2 : labels.count < rows)
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, binary ? "one row of coefficients needs two class labels"
                                                                 : "has fewer class labels than rows of coefficients");
  int post = kiln_ml_post_of(n), xi = n->inputs[0], y = n->outputs[0], z = n->noutputs > 1 ? n->outputs[1] : -1;
  int64_t f = xv->dims[xv->rank - 1];
  weights w = weights_of(n);
  kiln_ex x;
  kiln_ex_begin(&x, g, b, pos, KILN_F32); /* n is stale from here; its attributes (w, labels) are not */
  int s = linear(&x, w, xi, f, rows), index, scores = s;
  if (binary) {
    int win = kiln_ex_binary(&x, "Greater", s, kiln_ex_scalar(&x, 0, "zero"), "win");
    index = kiln_ex_unary(&x, "Cast", win, "win_index");
    kiln_ex_attr_i(&x, "to", KILN_I64);
    index = kiln_ex_binary(&x, "Squeeze", index, kiln_ex_int1(&x, 1), "win_flat");
    int p = post == KILN_POST_LOGISTIC ? kiln_ex_unary(&x, "Sigmoid", s, "logistic") : s;
    scores = kiln_ex_node1(&x, "Concat", (int[]){kiln_ex_binary(&x, "Sub", kiln_ex_scalar(&x, 1, "one"), p, "rest"), p},
                           2, -1, "pair");
    kiln_ex_attr_i(&x, "axis", 1);
  } else {
    index = kiln_ex_unary(&x, "ArgMax", s, "best");
    kiln_ex_attr_i(&x, "axis", 1);
    kiln_ex_attr_i(&x, "keepdims", 0);
    scores = kiln_ml_post(&x, post, s);
  }
  kiln_ml_label_out(&x, &labels, index, y);
  if (z >= 0) kiln_ml_output(&x, scores, KILN_F32, z, KILN_F32);
  kiln_ex_end(&x);
  return KILN_OK;
}

static const kiln_attr_spec scaler_attrs[] = {{"offset", KILN_ATTR_FLOATS, false}, {"scale", KILN_ATTR_FLOATS, false}, {NULL}};
static const kiln_attr_spec normalizer_attrs[] = {{"norm", KILN_ATTR_STRING, false}, {NULL}};
static const kiln_attr_spec imputer_attrs[] = {
    {"imputed_value_floats", KILN_ATTR_FLOATS, false}, {"imputed_value_int64s", KILN_ATTR_INTS, false},
    {"replaced_value_float", KILN_ATTR_FLOAT, false}, {"replaced_value_int64", KILN_ATTR_INT, false}, {NULL}};
static const kiln_attr_spec regressor_attrs[] = {
    {"coefficients", KILN_ATTR_FLOATS, false}, {"intercepts", KILN_ATTR_FLOATS, false},
    {"post_transform", KILN_ATTR_STRING, false}, {"targets", KILN_ATTR_INT, false}, {NULL}};
static const kiln_attr_spec classifier_attrs[] = {
    {"classlabels_ints", KILN_ATTR_INTS, false}, {"classlabels_strings", KILN_ATTR_STRINGS, false},
    {"coefficients", KILN_ATTR_FLOATS, false}, {"intercepts", KILN_ATTR_FLOATS, false},
    {"multi_class", KILN_ATTR_INT, false}, {"post_transform", KILN_ATTR_STRING, false}, {NULL}};

const kiln_op_def kiln_ops_ml_linear[] = {
    {"Scaler", 1, 1, 1, 1, scaler_attrs, kiln_infer_resolved, NULL, expand_scaler, KILN_OP_RESOLVE},
    {"Normalizer", 1, 1, 1, 1, normalizer_attrs, kiln_infer_resolved, NULL, expand_normalizer, KILN_OP_RESOLVE},
    {"Imputer", 1, 1, 1, 1, imputer_attrs, kiln_infer_resolved, NULL, expand_imputer, KILN_OP_RESOLVE},
    {"LinearRegressor", 1, 1, 1, 1, regressor_attrs, kiln_infer_resolved, NULL, expand_regressor, KILN_OP_RESOLVE},
    {"LinearClassifier", 1, 1, 1, 2, classifier_attrs, kiln_infer_resolved, NULL, expand_classifier,
     KILN_OP_RESOLVE | KILN_OP_STRINGS},
    {NULL},
};
