/* ai.onnx.ml's support vector machines (what scikit-learn's SVR, SVC and NuSVC convert to),
 * expanded into plain ops. X [N, F] meets the V support vectors through the kernel,
 * K [N, V]:
 *
 *   LINEAR   X SV^T            POLY     (gamma X SV^T + coef0)^degree
 *   SIGMOID  tanh(gamma X SV^T + coef0)     RBF  exp(-gamma |x - sv|^2), summed as the
 *                                                differences' squares (no cancellation)
 *
 * SVMRegressor: K coefficients + rho (without support vectors: X coefficients + rho), or
 * its sign as +-1 (one_class). SVMClassifier (one-vs-one): the decision value of each
 * pair of classes i < j is one MatMul, D = K W + rho, W holding class i's vectors'
 * coefficients of row j - 1 and class j's of row i; each pair votes for i where D > 0,
 * else j, and the label is the first class with the most votes. The scores are D after
 * post_transform. Two classes follow onnxruntime: the scores are [-D, D] (LOGISTIC:
 * [logistic(-D), logistic(D)]; SOFTMAX and SOFTMAX_ZERO: [1 - D, D]). With probability
 * estimates (prob_a, prob_b) the scores are the class probabilities instead, after
 * post_transform (ir/ops/svm_coupling.c); the label is still the vote's. Classifiers
 * without support vectors and post-transforms of a regressor are refused by name. */
#include "ir/ops/ml.h"

#include "ir/dtype.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { SVM_LINEAR, SVM_POLY, SVM_RBF, SVM_SIGMOID };

/* Bounds a file could otherwise push into compile time or memory: values of the weight
 * tables built at compile time (support vectors, pair weights), classes. */
#define MAX_WEIGHTS (INT64_C(1) << 26)
#define MAX_CLASSES 4096

typedef struct svm {
  int kind;
  double gamma, coef0, degree;
  int64_t f, v;           /* features, support vectors */
  const double *sv, *coef, *rho;
  int ncoef, nrho;
} svm;

static kiln_status svm_of(const kiln_node *n, const kiln_value *xv, int64_t v, svm *m,
                          kiln_error *err) {
  static const char *const kinds[] = {"LINEAR", "POLY", "RBF", "SIGMOID"};
  memset(m, 0, sizeof *m);
  if (kiln_ml_number_input(n, xv, true, err)) return err->code;
  m->kind = kiln_ml_name_index(kiln_attr_str(n, "kernel_type", "LINEAR"), kinds, 4);
  if (m->kind < 0) return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "kernel_type is not LINEAR, POLY, RBF or SIGMOID");
  const double *kp;
  int nkp = kiln_attr_floats(n, "kernel_params", &kp);
  if (nkp > 0) m->gamma = kp[0];
  if (nkp > 1) m->coef0 = kp[1];
  if (nkp > 2) m->degree = (double)(int64_t)kp[2]; /* an integer, as onnxruntime reads it */
  m->f = xv->dims[1];
  m->v = v;
  if (m->f > 0 && v > MAX_WEIGHTS / m->f)
    return kiln_fail_node(n, err, KILN_ERR_UNSUPPORTED, "more support vector values than kiln takes (2^26)");
  int nsv = kiln_attr_floats(n, "support_vectors", &m->sv);
  if (v > 0 && (nsv < 0 || (int64_t)nsv != v * m->f)) {
    char what[160];
    snprintf(what, sizeof what, "support_vectors must hold %lld values (%lld vectors of %lld features)",
             (long long)(v * m->f), (long long)v, (long long)m->f);
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, what);
  }
  m->ncoef = kiln_attr_floats(n, "coefficients", &m->coef);
  m->nrho = kiln_attr_floats(n, "rho", &m->rho);
  if (m->nrho < 1) return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "rho is missing");
  return KILN_OK;
}

/* K [N, V] of X (f32) and the support vectors */
static int kernel(kiln_ex *x, const svm *m, int xf) {
  int64_t v = m->v, f = m->f;
  if (m->kind == SVM_RBF) {
    int sv = kiln_ex_const(x, "support_vectors", KILN_F32, 2, (int64_t[]){v, f}, m->sv);
    int xe = kiln_ex_binary(x, "Unsqueeze", xf, kiln_ex_int1(x, 1), "x_rows");
    int d = kiln_ex_binary(x, "Sub", xe, sv, "differences");
    int ss = kiln_ex_binary(x, "ReduceSumSquare", d, kiln_ex_int1(x, 2), "distances");
    kiln_ex_attr_i(x, "keepdims", 0);
    return kiln_ex_unary(x, "Exp", kiln_ex_binary(x, "Mul", ss, kiln_ex_scalar(x, -m->gamma, "gamma"), "scaled"), "kernel");
  }
  double *t = kiln_xmalloc(sizeof(double) * (size_t)(v * f)); /* the vectors transposed */
  for (int64_t i = 0; i < v; i++)
    for (int64_t k = 0; k < f; k++) t[k * v + i] = m->sv[i * f + k];
  int dot = kiln_ex_binary(x, "MatMul", xf, kiln_ex_const(x, "support_vectors", KILN_F32, 2, (int64_t[]){f, v}, t), "dot");
  free(t);
  if (m->kind == SVM_LINEAR) return dot;
  int a = kiln_ex_binary(x, "Add", kiln_ex_binary(x, "Mul", dot, kiln_ex_scalar(x, m->gamma, "gamma"), "scaled"),
                         kiln_ex_scalar(x, m->coef0, "coef0"), "affine");
  if (m->kind == SVM_SIGMOID) return kiln_ex_unary(x, "Tanh", a, "kernel");
  return kiln_ex_binary(x, "Pow", a, kiln_ex_scalar(x, m->degree, "degree"), "kernel");
}

/* ---- SVMRegressor -------------------------------------------------------------------------- */

static kiln_status expand_regressor(kiln_graph *g, kiln_block *b, int pos, kiln_error *err) {
  const kiln_node *n = &g->nodes[b->nodes[pos]];
  const kiln_value *xv = kiln_node_in(g, n, 0);
  int64_t v = kiln_attr_int(n, "n_supports", 0);
  svm m;
  if (v < 0 || v > MAX_WEIGHTS) return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "n_supports is out of range");
  if (svm_of(n, xv, v, &m, err)) return err->code;
  if (m.ncoef != (v > 0 ? v : m.f)) {
    char what[120];
    snprintf(what, sizeof what, "coefficients must hold %lld values", (long long)(v > 0 ? v : m.f));
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, what);
  }
  if (kiln_ml_post_of(n) != KILN_POST_NONE)
    return kiln_fail_node(n, err, KILN_ERR_UNSUPPORTED, "a post_transform other than NONE is not supported");
  bool one_class = kiln_attr_int(n, "one_class", 0) != 0;
  int xi = n->inputs[0], out = n->outputs[0];
  kiln_ex x;
  kiln_ex_begin(&x, g, b, pos, KILN_F32); /* n is stale from here; its attributes (m) are not */
  int xf = kiln_ml_as_float(&x, xi, false);
  int64_t rows = v > 0 ? v : m.f;
  int k = v > 0 ? kernel(&x, &m, xf) : xf;
  int y = kiln_ex_binary(&x, "MatMul", k, kiln_ex_const(&x, "coefficients", KILN_F32, 2, (int64_t[]){rows, 1}, m.coef), "sum");
  y = kiln_ex_binary(&x, "Add", y, kiln_ex_scalar(&x, m.rho[0], "rho"), "score");
  if (one_class)
    kiln_ex_node1(&x, "Where", (int[]){kiln_ex_binary(&x, "Greater", y, kiln_ex_scalar(&x, 0, "zero"), "inside"),
                                       kiln_ex_scalar(&x, 1, "one"), kiln_ex_scalar(&x, -1, "minus_one")}, 3, out, "class");
  else
    kiln_ex_node1(&x, "Identity", &y, 1, out, "output");
  kiln_ex_end(&x);
  return KILN_OK;
}

/* ---- SVMClassifier ------------------------------------------------------------------------- */

typedef struct classifier {
  svm m;
  kiln_ml_labels labels;
  int64_t c, pairs;
  const int64_t *per_class;
  const double *pa, *pb; /* probability estimates: prob_a, prob_b (NULL: none) */
  int post;
} classifier;

static kiln_status classifier_of(const kiln_node *n, const kiln_value *xv, classifier *s,
                                 kiln_error *err) {
  memset(s, 0, sizeof *s);
  if (kiln_ml_labels_of(n, "classlabels_ints", &s->labels, err)) return err->code;
  s->c = s->labels.count;
  if (s->c > MAX_CLASSES)
    return kiln_fail_node(n, err, KILN_ERR_UNSUPPORTED, "more than 4096 classes");
  int nvpc = kiln_attr_ints(n, "vectors_per_class", &s->per_class);
  int64_t v = 0;
  for (int i = 0; i < nvpc; i++) {
    if (s->per_class[i] < 0 || s->per_class[i] > MAX_WEIGHTS)
      return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "vectors_per_class holds a count out of range");
    v += s->per_class[i];
    if (v > MAX_WEIGHTS)
      return kiln_fail_node(n, err, KILN_ERR_UNSUPPORTED, "more than 2^26 support vectors");
  }
  if (v == 0)
    return kiln_fail_node(n, err, KILN_ERR_UNSUPPORTED, "a classifier without support vectors (vectors_per_class) is not supported");
  if (s->c < 2 || nvpc != s->c)
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "needs two or more class labels and one vectors_per_class entry each");
  if (svm_of(n, xv, v, &s->m, err)) return err->code;
  s->pairs = s->c * (s->c - 1) / 2;
  if (v > MAX_WEIGHTS / s->pairs)
    return kiln_fail_node(n, err, KILN_ERR_UNSUPPORTED, "more pair weights (vectors x pairs of classes) than kiln takes (2^26)");
  if (s->m.ncoef != (s->c - 1) * v || s->m.nrho != s->pairs) {
    char what[200];
    snprintf(what, sizeof what, "coefficients must hold %lld values ((classes - 1) x vectors) and rho %lld (one per pair of classes)",
             (long long)((s->c - 1) * v), (long long)s->pairs);
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, what);
  }
  int na = kiln_attr_floats(n, "prob_a", &s->pa), nb = kiln_attr_floats(n, "prob_b", &s->pb);
  if (na > 0 || nb > 0) {
    if (na != s->pairs || nb != s->pairs) {
      char what[160];
      snprintf(what, sizeof what, "prob_a and prob_b must hold %lld values each (one per pair of classes)",
               (long long)s->pairs);
      return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, what);
    }
    if (kiln_value_is_symbolic(xv)) /* the coupling is a loop run at run time (svm_coupling.c) */
      return kiln_fail_node(n, err, KILN_ERR_UNSUPPORTED, "probability estimates (prob_a, prob_b) "
                            "need the batch size known when compiling: bind input 'X' (--shape)");
  } else {
    s->pa = s->pb = NULL;
  }
  s->post = kiln_ml_post_of(n);
  if (s->post < 0 || s->post == KILN_POST_PROBIT)
    return kiln_fail_node(n, err, KILN_ERR_UNSUPPORTED, "post_transform must be NONE, SOFTMAX, LOGISTIC or SOFTMAX_ZERO");
  return KILN_OK;
}

/* W [V, P]: for pair p = (i, j), class i's vectors weighted by row j - 1 of the
 * coefficients, class j's by row i. */
static double *pair_weights(const classifier *s) {
  int64_t v = s->m.v, p = 0;
  double *w = kiln_xcalloc((size_t)(v * s->pairs), sizeof(double));
  int64_t *start = kiln_xmalloc(sizeof(int64_t) * (size_t)s->c);
  for (int64_t i = 0, at = 0; i < s->c; at += s->per_class[i++]) start[i] = at;
  for (int64_t i = 0; i < s->c; i++)
    for (int64_t j = i + 1; j < s->c; j++, p++) {
      for (int64_t q = start[i]; q < start[i] + s->per_class[i]; q++) w[q * s->pairs + p] = s->m.coef[(j - 1) * v + q];
      for (int64_t q = start[j]; q < start[j] + s->per_class[j]; q++) w[q * s->pairs + p] = s->m.coef[i * v + q];
    }
  free(start);
  return w;
}

/* The votes [N, C] of the decisions d [N, P]: pair (i, j) counts for i where d > 0, else j */
static int votes(kiln_ex *x, const classifier *s, int d) {
  double *to_i = kiln_xcalloc((size_t)(s->pairs * s->c), sizeof(double));
  double *to_j = kiln_xcalloc((size_t)(s->pairs * s->c), sizeof(double));
  int64_t p = 0;
  for (int64_t i = 0; i < s->c; i++)
    for (int64_t j = i + 1; j < s->c; j++, p++) to_i[p * s->c + i] = 1, to_j[p * s->c + j] = 1;
  int64_t dims[2] = {s->pairs, s->c};
  int i_wins = kiln_ex_binary(x, "Greater", d, kiln_ex_scalar(x, 0, "zero"), "i_wins");
  int wins = kiln_ex_unary(x, "Cast", i_wins, "i_votes");
  kiln_ex_attr_i(x, "to", KILN_F32);
  int loses = kiln_ex_unary(x, "Cast", kiln_ex_unary(x, "Not", i_wins, "j_wins"), "j_votes"); /* NaN: j */
  kiln_ex_attr_i(x, "to", KILN_F32);
  int r = kiln_ex_binary(x, "Add", kiln_ex_binary(x, "MatMul", wins, kiln_ex_const(x, "to_i", KILN_F32, 2, dims, to_i), "for_i"),
                         kiln_ex_binary(x, "MatMul", loses, kiln_ex_const(x, "to_j", KILN_F32, 2, dims, to_j), "for_j"), "votes");
  free(to_i);
  free(to_j);
  return r;
}

static kiln_status expand_classifier(kiln_graph *g, kiln_block *b, int pos, kiln_error *err) {
  const kiln_node *n = &g->nodes[b->nodes[pos]];
  classifier s;
  if (classifier_of(n, kiln_node_in(g, n, 0), &s, err)) return err->code;
  int xi = n->inputs[0], label_out = n->outputs[0];
  int scores_out = n->noutputs > 1 ? n->outputs[1] : -1;
  double *w = pair_weights(&s);
  kiln_ex x;
  kiln_ex_begin(&x, g, b, pos, KILN_F32); /* n is stale from here; its attributes (s) are not */
  int k = kernel(&x, &s.m, kiln_ml_as_float(&x, xi, false));
  int d = kiln_ex_binary(&x, "MatMul", k, kiln_ex_const(&x, "pair_weights", KILN_F32, 2, (int64_t[]){s.m.v, s.pairs}, w), "pairs");
  d = kiln_ex_binary(&x, "Add", d, kiln_ex_const(&x, "rho", KILN_F32, 1, &s.pairs, s.m.rho), "decisions");
  free(w);
  int index, scores;
  int proba = s.pa ? kiln_svm_coupling(&x, d, s.c, s.pairs, s.pa, s.pb) : -1;
  if (s.c == 2) { /* onnxruntime's binary rules */
    /* where D is not > 0 (NaN too) the vote goes to the second class */
    int i_wins = kiln_ex_binary(&x, "Greater", d, kiln_ex_scalar(&x, 0, "zero"), "i_wins");
    index = kiln_ex_unary(&x, "Cast", kiln_ex_unary(&x, "Not", i_wins, "j_wins"), "winner");
    kiln_ex_attr_i(&x, "to", KILN_I64);
    index = kiln_ex_binary(&x, "Squeeze", index, kiln_ex_int1(&x, 1), "index");
    scores = proba >= 0 ? kiln_ml_post(&x, s.post, proba)
             : kiln_ml_pair(&x, d, s.post == KILN_POST_LOGISTIC ? KILN_PAIR_LOGISTIC
                                   : s.post == KILN_POST_NONE   ? KILN_PAIR_NEGATE
                                                                : KILN_PAIR_COMPLEMENT);
  } else {
    index = kiln_ex_unary(&x, "ArgMax", votes(&x, &s, d), "index");
    kiln_ex_attr_i(&x, "axis", 1);
    kiln_ex_attr_i(&x, "keepdims", 0);
    scores = kiln_ml_post(&x, s.post, proba >= 0 ? proba : d);
  }
  kiln_ml_label_out(&x, &s.labels, index, label_out);
  if (scores_out >= 0) kiln_ex_node1(&x, "Identity", &scores, 1, scores_out, "scores");
  kiln_ex_end(&x);
  return KILN_OK;
}

#define SVM_ATTRS                                                                             \
  {"coefficients", KILN_ATTR_FLOATS, false}, {"kernel_params", KILN_ATTR_FLOATS, false},     \
      {"kernel_type", KILN_ATTR_STRING, false}, {"post_transform", KILN_ATTR_STRING, false}, \
      {"rho", KILN_ATTR_FLOATS, false}, {"support_vectors", KILN_ATTR_FLOATS, false}
static const kiln_attr_spec regressor_attrs[] = {
    SVM_ATTRS, {"n_supports", KILN_ATTR_INT, false}, {"one_class", KILN_ATTR_INT, false}, {NULL}};
static const kiln_attr_spec classifier_attrs[] = {
    SVM_ATTRS, {"classlabels_ints", KILN_ATTR_INTS, false},
    {"classlabels_strings", KILN_ATTR_STRINGS, false}, {"prob_a", KILN_ATTR_FLOATS, false},
    {"prob_b", KILN_ATTR_FLOATS, false}, {"vectors_per_class", KILN_ATTR_INTS, false}, {NULL}};

const kiln_op_def kiln_ops_svm[] = {
    {"SVMRegressor", 1, 1, 1, 1, regressor_attrs, kiln_infer_resolved, NULL, expand_regressor, KILN_OP_RESOLVE},
    {"SVMClassifier", 1, 1, 1, 2, classifier_attrs, kiln_infer_resolved, NULL, expand_classifier,
     KILN_OP_RESOLVE | KILN_OP_STRINGS},
    {NULL},
};
