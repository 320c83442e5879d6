/* ai.onnx.ml ops (the domain scikit-learn converters write): Binarizer and
 * ArrayFeatureExtractor, and what the domain's models share (ir/ops/ml.h): the
 * post-transform of scores, a classifier's labels, the input checks. LabelEncoder and
 * CategoryMapper are in label_encoder.c, the feature encoders in ml_features.c, the linear
 * models in ml_linear.c, the SVMs in svm.c, the tree ensembles in trees.c. */
#include "ir/ops/ml.h"

#include "ir/dtype.h"

#include <string.h>

/* ---- post_transform ------------------------------------------------------------------------ */

int kiln_ml_name_index(const char *s, const char *const *names, int count) {
  for (int i = 0; i < count; i++)
    if (!strcmp(s, names[i])) return i;
  return -1;
}

int kiln_ml_post_of(const kiln_node *n) {
  static const char *const names[] = {"NONE", "SOFTMAX", "LOGISTIC", "SOFTMAX_ZERO", "PROBIT"};
  return kiln_ml_name_index(kiln_attr_str(n, "post_transform", "NONE"), names, 5);
}

int kiln_ml_post(kiln_ex *x, int post, int r) {
  if (post == KILN_POST_SOFTMAX) {
    r = kiln_ex_unary(x, "Softmax", r, "softmax");
    kiln_ex_attr_i(x, "axis", -1);
  } else if (post == KILN_POST_LOGISTIC) {
    r = kiln_ex_unary(x, "Sigmoid", r, "logistic");
  } else if (post == KILN_POST_SOFTMAX_ZERO) { /* a softmax over the nonzero scores */
    int axis = kiln_ex_int1(x, -1);
    int mx = kiln_ex_binary(x, "ReduceMax", r, axis, "max");
    int e = kiln_ex_unary(x, "Exp", kiln_ex_binary(x, "Sub", r, mx, "shifted"), "exp");
    int nz = kiln_ex_binary(x, "Greater", kiln_ex_unary(x, "Abs", r, "abs"), kiln_ex_scalar(x, 1e-7, "tiny"), "nonzero");
    e = kiln_ex_node1(x, "Where", (int[]){nz, e, kiln_ex_scalar(x, 0, "zero")}, 3, -1, "kept");
    r = kiln_ex_binary(x, "Div", e, kiln_ex_binary(x, "ReduceSum", e, axis, "sum"), "softmax_zero");
  }
  return r;
}

int kiln_ml_columns(kiln_ex *x, int a, int b, const char *what) {
  int r = kiln_ex_node1(x, "Concat", (int[]){a, b}, 2, -1, what);
  kiln_ex_attr_i(x, "axis", 1);
  return r;
}

int kiln_ml_pair(kiln_ex *x, int s, int how) {
  if (how == KILN_PAIR_COMPLEMENT)
    return kiln_ml_columns(x, kiln_ex_binary(x, "Sub", kiln_ex_scalar(x, 1, "one"), s, "rest"), s, "pair");
  int neg = kiln_ex_unary(x, "Neg", s, "neg");
  if (how == KILN_PAIR_LOGISTIC)
    return kiln_ml_columns(x, kiln_ex_unary(x, "Sigmoid", neg, "logistic_neg"),
                           kiln_ex_unary(x, "Sigmoid", s, "logistic"), "pair");
  return kiln_ml_columns(x, neg, s, "pair");
}

kiln_status kiln_ml_number_input(const kiln_node *n, const kiln_value *v, bool matrix,
                                 kiln_error *err) {
  if (v->dtype != KILN_F32 && v->dtype != KILN_F64 && v->dtype != KILN_I64 && v->dtype != KILN_I32)
    return kiln_fail_node(n, err, KILN_ERR_UNSUPPORTED, "input 'X' must be float, double, int64 or int32");
  if (matrix ? v->rank != 2 || v->sym[1] : v->rank < 1 || v->sym[v->rank - 1])
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, matrix ? "input 'X' must be [N, F], F known"
                          : "input 'X' needs a last dim known when compiling");
  return KILN_OK;
}

int kiln_ml_as_float(kiln_ex *x, int v, bool keep64) {
  kiln_dtype t = x->g->values[v].dtype;
  if (t == KILN_F32 || (keep64 && t == KILN_F64)) return v;
  int c = kiln_ex_unary(x, "Cast", v, "x_float");
  kiln_ex_attr_i(x, "to", KILN_F32);
  return c;
}

void kiln_ml_output(kiln_ex *x, int v, kiln_dtype from, int out, kiln_dtype to) {
  kiln_ex_node1(x, from == to ? "Identity" : "Cast", &v, 1, out, "output");
  if (from != to) kiln_ex_attr_i(x, "to", to);
}

/* ---- class labels ---------------------------------------------------------------------------- */

kiln_status kiln_ml_labels_of(const kiln_node *n, const char *ints_attr, kiln_ml_labels *l,
                              kiln_error *err) {
  const kiln_attr *s = kiln_node_attr(n, "classlabels_strings");
  int ni = kiln_attr_ints(n, ints_attr, &l->ints);
  if (s && s->type != KILN_ATTR_STRINGS) s = NULL;
  if ((ni >= 0) == (s != NULL)) {
    char what[120];
    snprintf(what, sizeof what, "needs one of %s and classlabels_strings", ints_attr);
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, what);
  }
  if (ni < 0) l->ints = NULL;
  l->strings = s ? (const char *const *)s->strings : NULL;
  l->count = ni >= 0 ? ni : s->count;
  return KILN_OK;
}

void kiln_ml_label_out(kiln_ex *x, const kiln_ml_labels *l, int index, int out) {
  if (l->strings) {
    kiln_ex_node1(x, "StringWord", &index, 1, out, "label");
    kiln_ex_attr_strings(x, "words", (int)l->count, l->strings);
    return;
  }
  int64_t count = l->count;
  int table = kiln_ex_const(x, "labels", KILN_I64, 1, &count, NULL); /* the values exactly */
  if (count) memcpy(x->g->values[table].data, l->ints, sizeof(int64_t) * (size_t)count);
  kiln_ex_node1(x, "Gather", (int[]){table, index}, 2, out, "label");
  kiln_ex_attr_i(x, "axis", 0);
}

/* ---- Binarizer ------------------------------------------------------------------------------ */

static kiln_status infer_binarizer(kiln_graph *g, kiln_node *n, kiln_error *err) {
  const kiln_value *x = kiln_node_in(g, n, 0);
  if (!kiln_dtype_valid(x->dtype) || x->dtype == KILN_BOOL)
    return kiln_fail_node(n, err, KILN_ERR_UNSUPPORTED, "input must be a number tensor");
  kiln_set_out(g, n, 0, x->dtype, x->rank, x->dims);
  return KILN_OK;
}

static kiln_expr *build_binarizer(kiln_lower_ctx *c, kiln_expr *const *x) {
  kiln_kernel *k = c->k;
  kiln_dtype t = x[0]->dtype; /* compared in f64: an int with a threshold of -1.5 */
  kiln_expr *above = kx_binary(k, KB_GT, kx_cast(k, x[0], KILN_F64),
                               kx_const_f(k, KILN_F64, kiln_attr_float(c->n, "threshold", 0)));
  return kx_select(k, above, kx_const_i(k, t, 1), kx_const_i(k, t, 0));
}

static kiln_status lower_binarizer(kiln_lower_ctx *c) {
  return kiln_lower_elementwise(c, build_binarizer);
}

/* ---- ArrayFeatureExtractor ------------------------------------------------------------------ */

/* X's last axis gathered at Y's indices (flattened); a 1-D X gives [1, count] */
static kiln_status expand_extractor(kiln_graph *g, kiln_block *b, int pos, kiln_error *err) {
  const kiln_node *n = &g->nodes[b->nodes[pos]];
  const kiln_value *x = kiln_node_in(g, n, 0), *y = kiln_node_in(g, n, 1);
  if (x->rank < 1) return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "input 0 is a scalar");
  if (y->dtype != KILN_I64) return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "indices must be int64");
  int rank = x->rank, xi = n->inputs[0], out = n->outputs[0];
  int64_t count = kiln_value_numel(y);
  kiln_ex e;
  kiln_ex_begin(&e, g, b, pos, KILN_I64); /* n is stale from here */
  int idx = kiln_ex_reshape(&e, n->inputs[1], 1, &count, -1, "indices");
  int ins[2] = {xi, idx};
  int y1 = kiln_ex_node1(&e, "Gather", ins, 2, rank == 1 ? -1 : out, "gather");
  kiln_ex_attr_i(&e, "axis", rank - 1);
  if (rank == 1) {
    int un[2] = {y1, kiln_ex_int1(&e, 0)};
    kiln_ex_node1(&e, "Unsqueeze", un, 2, out, "output");
  }
  kiln_ex_end(&e);
  return KILN_OK;
}

static const kiln_attr_spec binarizer_attrs[] = {{"threshold", KILN_ATTR_FLOAT, false}, {NULL}};

const kiln_op_def kiln_ops_ml[] = {
    {"Binarizer", 1, 1, 1, 1, binarizer_attrs, infer_binarizer, lower_binarizer, NULL, KILN_OP_ELEMENTWISE},
    {"ArrayFeatureExtractor", 2, 2, 1, 1, NULL, kiln_infer_resolved, NULL, expand_extractor, KILN_OP_RESOLVE},
    {NULL},
};
