/* ai.onnx.ml's TreeEnsembleClassifier: the forest's per-class sums (as the regressor's,
 * ir/ops/trees.c), a label and the scores. The spec leaves much to the runtime, so kiln
 * computes what onnxruntime does (its TreeAggregatorClassifier), with one exception:
 *
 *   - C > 2 classes: scores = sums + base_values; the label is the best class among those
 *     some leaf reached (or a base value covers), the first of ties.
 *   - C = 2: onnxruntime's binary rules. A sample whose class 1 no leaf weighed has one
 *     score s (rows of [N, 1] below) that becomes two as the weights' signs say: [1 - s, s]
 *     when all are >= 0 and one class holds them, else [-s, s] (LOGISTIC: [logistic(-s),
 *     logistic(s)]). The label is class 1 when the positive score passes 0.5 (all weights
 *     >= 0, one class) or 0. base_values hold one value per class, none, or (two classes)
 *     one for class 0's score, as XGBoost's exports do. Where onnxruntime returns the literals 1 and 0 as
 *     labels (two classes weighted), kiln returns classlabels[1] and classlabels[0]: the same
 *     for the usual labels [0, 1], and the labels the model declares otherwise.
 *
 * Labels are int64s, or strings made by StringWord (ir/ops/strings.c). */
#include "ir/ops/trees.h"

#include "ir/dtype.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* column k of the [N, C] value v: [N, 1] */
static int col(kiln_ex *x, int v, int64_t k, const char *what) {
  int c = kiln_ex_binary(x, "Gather", v, kiln_ex_int1(x, k), what);
  kiln_ex_attr_i(x, "axis", 1);
  return c;
}

static int where(kiln_ex *x, int c, int a, int b, const char *what) {
  return kiln_ex_node1(x, "Where", (int[]){c, a, b}, 3, -1, what);
}

static int reduce_trees(kiln_ex *x, const char *op, int table, int leaf, const char *what) {
  int vals = kiln_ex_binary(x, "Gather", table, leaf, what);
  kiln_ex_attr_i(x, "axis", 0);
  int r = kiln_ex_binary(x, op, vals, kiln_ex_int1(x, 1), what);
  kiln_ex_attr_i(x, "keepdims", 0);
  return r;
}

typedef struct binary_rules {
  bool one_class;   /* the weights name one class (onnxruntime's binary_case_) */
  bool all_pos;     /* every weight >= 0 */
} binary_rules;

/* C = 2: sets *label ([N, 1] i64: 0 or 1) and returns the scores [N, 2]. A score no leaf
 * gave shows as 0 (onnxruntime's ScoreValue reads so), though the label sees it. */
static int binary(kiln_ex *x, const kiln_forest *f, binary_rules r, int s, int h, int *label) {
  int s0 = col(x, s, 0, "s0"), s1 = col(x, s, 1, "s1");
  int half = kiln_ex_scalar(x, 0.5, "half"), zero = kiln_ex_scalar(x, 0, "zero");
  int h0 = kiln_ex_binary(x, "Greater", col(x, h, 0, "h0"), half, "has0");
  int h1 = kiln_ex_binary(x, "Greater", col(x, h, 1, "h1"), half, "has1");
  int p0 = s0, p1 = s1;
  if (f->nbase == 2) { /* class 1 weighed: [-(s0 + b1), s0 + b1], as onnxruntime has it */
    int b0 = kiln_ex_scalar(x, f->base[0], "base0"), b1 = kiln_ex_scalar(x, f->base[1], "base1");
    int t = kiln_ex_binary(x, "Add", s0, b1, "s0_b1");
    p1 = where(x, h1, t, kiln_ex_binary(x, "Add", s1, b1, "s1_b1"), "p1");
    p0 = where(x, h1, kiln_ex_unary(x, "Neg", t, "neg"), kiln_ex_binary(x, "Add", s0, b0, "s0_b0"), "p0");
  } else if (f->nbase == 1) {
    p0 = kiln_ex_binary(x, "Add", s0, kiln_ex_scalar(x, f->base[0], "base0"), "p0");
  }
  int pos = where(x, h1, p1, where(x, h0, p0, zero, "pos0"), "pos");
  int win = kiln_ex_binary(x, "Greater", pos, r.one_class && r.all_pos ? half : zero, "win");
  *label = kiln_ex_unary(x, "Cast", win, "win_index");
  kiln_ex_attr_i(x, "to", KILN_I64);
  int m0 = where(x, h0, p0, zero, "m0"), m1 = where(x, h1, p1, zero, "m1");
  int two = kiln_ml_post(x, f->post, kiln_ml_columns(x, m0, m1, "pair"));
  if (f->nbase == 2) return two;
  /* else a sample class 1 no leaf weighed has one score: its second as the weights say
   * (onnxruntime's add_second_class) */
  int one = kiln_ml_pair(x, m0, r.one_class && r.all_pos ? KILN_PAIR_COMPLEMENT
                               : f->post == KILN_POST_LOGISTIC ? KILN_PAIR_LOGISTIC
                                                                : KILN_PAIR_NEGATE);
  return where(x, h1, two, one, "scores2");
}

static kiln_status expand_classifier(kiln_graph *g, kiln_block *b, int pos, kiln_error *err) {
  const kiln_node *n = &g->nodes[b->nodes[pos]];
  const kiln_value *xv = kiln_node_in(g, n, 0);
  if (kiln_ml_number_input(n, xv, true, err)) return err->code;
  kiln_ml_labels labels;
  if (kiln_ml_labels_of(n, "classlabels_int64s", &labels, err)) return err->code;
  int64_t classes = labels.count, depth;
  if (classes < 2 || classes > 1 << 20)
    return kiln_fail_node(n, err, KILN_ERR_UNSUPPORTED, "needs at least two class labels");
  kiln_forest f;
  if (kiln_forest_read_v1(n, "class", classes, &f, err)) return err->code;
  kiln_status st = kiln_forest_check(n, &f, xv->dims[1], &depth, err);
  if (!st && f.post == KILN_POST_PROBIT)
    st = kiln_fail_node(n, err, KILN_ERR_UNSUPPORTED, "post_transform PROBIT is not supported");
  if (st) {
    kiln_forest_free(&f);
    return st;
  }
  binary_rules r = {true, true};
  for (int64_t i = 0; i < f.nw; i++) {
    r.one_class = r.one_class && f.w_target[i] == f.w_target[0];
    r.all_pos = r.all_pos && f.w_value[i] >= 0;
  }
  kiln_dtype t = xv->dtype == KILN_F64 ? KILN_F64 : KILN_F32;
  int xi = n->inputs[0], y = n->outputs[0], z = n->noutputs > 1 ? n->outputs[1] : -1;
  kiln_ex x;
  kiln_ex_begin(&x, g, b, pos, t); /* n is stale from here */
  xi = kiln_ml_as_float(&x, xi, true);
  int leaf = kiln_forest_walk(&x, &f, depth, xi, t), has;
  int w = kiln_forest_weights(&x, &f, t, 0, &has);
  int s = reduce_trees(&x, "ReduceSum", w, leaf, "sums"), h = reduce_trees(&x, "ReduceMax", has, leaf, "reached");
  int scores, index;
  if (classes > 2) {
    if (f.nbase) { /* a base value counts as a score */
      double *base = kiln_xcalloc((size_t)classes, sizeof(double)), *mask = kiln_xcalloc((size_t)classes, sizeof(double));
      for (int64_t i = 0; i < f.nbase; i++) base[i] = f.base[i], mask[i] = 1;
      s = kiln_ex_binary(&x, "Add", s, kiln_ex_const(&x, "base_values", t, 1, &classes, base), "based");
      h = kiln_ex_binary(&x, "Max", h, kiln_ex_const(&x, "based_mask", t, 1, &classes, mask), "reached_based");
      free(base), free(mask);
    }
    int reached = kiln_ex_binary(&x, "Greater", h, kiln_ex_scalar(&x, 0.5, "half"), "reached_bool");
    int masked = where(&x, reached, s, kiln_ex_scalar(&x, -INFINITY, "none"), "masked");
    index = kiln_ex_unary(&x, "ArgMax", masked, "best");
    kiln_ex_attr_i(&x, "axis", 1);
    kiln_ex_attr_i(&x, "keepdims", 0);
    scores = kiln_ml_post(&x, f.post, s);
  } else {
    scores = binary(&x, &f, r, s, h, &index);
    index = kiln_ex_binary(&x, "Squeeze", index, kiln_ex_int1(&x, 1), "win_flat");
  }
  kiln_ml_label_out(&x, &labels, index, y);
  if (z >= 0) kiln_ml_output(&x, scores, t, z, KILN_F32);
  kiln_ex_end(&x);
  kiln_forest_free(&f);
  return KILN_OK;
}

static const kiln_attr_spec classifier_attrs[] = {
    KILN_FOREST_V1_ATTRS, {"class_ids", KILN_ATTR_INTS, false}, {"class_nodeids", KILN_ATTR_INTS, false},
    {"class_treeids", KILN_ATTR_INTS, false}, {"class_weights", KILN_ATTR_FLOATS, false},
    {"class_weights_as_tensor", KILN_ATTR_TENSOR, false}, {"classlabels_int64s", KILN_ATTR_INTS, false},
    {"classlabels_strings", KILN_ATTR_STRINGS, false}, {NULL}};

const kiln_op_def kiln_ops_tree_classifier[] = {
    {"TreeEnsembleClassifier", 1, 1, 1, 2, classifier_attrs, kiln_infer_resolved, NULL, expand_classifier,
     KILN_OP_RESOLVE | KILN_OP_STRINGS},
    {NULL},
};
