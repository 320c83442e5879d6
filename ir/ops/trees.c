/* ai.onnx.ml's tree ensemble regressors: TreeEnsembleRegressor (opsets 1 and 3) and
 * TreeEnsemble (opset 5), the ops scikit-learn's, XGBoost's and LightGBM's converters
 * write for forests and boosted trees. Both expand into
 *
 *   leaf   = TreeWalk(X, tables...)         [N, T]     the leaf row each sample reaches
 *   vals   = Gather(W, leaf)                [N, T, J]  W: each leaf's weight per target
 *   score  = Reduce{Sum,Min,Max}(vals, 1)   [N, J]     (AVERAGE: the sum / T)
 *   Y      = post(score + base_values)
 *
 * following onnxruntime where the spec is silent: a target no leaf reached scores 0 under
 * MIN and MAX, base_values hold one value per target or none, and a single target
 * takes no post_transform but PROBIT (which kiln refuses: onnxruntime computes it with an
 * approximation of erfinv no other op shares). */
#include "ir/ops/trees.h"

#include "ir/dtype.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the walk's tables (ir/ops/tree_walk.c) -------------------------------------------------- */

/* A constant int64 table of n entries, each (high << 32) | low (kiln_ex_const takes doubles). */
static int pairs(kiln_ex *x, const char *what, int64_t n, const int32_t *lo, const uint32_t *hi) {
  int id = kiln_ex_const(x, what, KILN_I64, 1, &n, NULL);
  uint64_t *d = x->g->values[id].data;
  for (int64_t i = 0; i < n; i++) d[i] = (uint64_t)hi[i] << 32 | (uint32_t)lo[i];
  return id;
}

int kiln_forest_walk(kiln_ex *x, const kiln_forest *f, int64_t depth, int xv, kiln_dtype t) {
  /* a mode as a compare (0 <=, 1 <, 2 ==, 3 in) and whether its true child is the compare's */
  static const int kind_of[] = {0, 1, 1, 0, 2, 2, 3, 0}, pos_of[] = {1, 1, 0, 0, 1, 0, 1, 1};
  int64_t g = f->nodes, m = kiln_forest_widest_set(f), kinds = 0, nan_any[2] = {0, 0};
  size_t cg = (size_t)(g ? g : 1);
  int32_t *feat = kiln_xcalloc(cg, 4), *first = kiln_xcalloc(cg, 4), *leaf = kiln_xcalloc(cg, 4);
  uint32_t *second = kiln_xcalloc(cg, 4), *bits = kiln_xcalloc(cg, 4);
  double *split = kiln_xcalloc(cg, sizeof(double)), *kind = kiln_xcalloc(cg, sizeof(double));
  double *nan = kiln_xcalloc(cg, sizeof(double));
  double *members = m ? kiln_xmalloc(sizeof(double) * (size_t)(g * m)) : NULL;
  for (int64_t i = 0; i < g * m; i++) members[i] = NAN; /* equals nothing */
  for (int64_t i = 0; i < g; i++) {
    int mode = f->mode[i];
    if (mode == KILN_TREE_LEAF) { /* stays put */
      first[i] = (int32_t)i, second[i] = (uint32_t)i;
      leaf[i] = (int32_t)f->leaf[i];
      continue;
    }
    bool pos = pos_of[mode];
    kind[i] = kind_of[mode];
    kinds |= 1 << kind_of[mode];
    feat[i] = (int32_t)f->feature[i];
    split[i] = f->split[i];
    float s32 = (float)f->split[i];
    if (t == KILN_F32) memcpy(&bits[i], &s32, 4);
    first[i] = (int32_t)(pos ? f->no[i] : f->yes[i]);
    second[i] = (uint32_t)(pos ? f->yes[i] : f->no[i]);
    /* a NaN fails every compare, so it takes the false branch, but NEQ's is true */
    bool nan_yes = mode == KILN_TREE_NEQ || f->nan_true[i];
    nan[i] = nan_yes == pos; /* 1: the second child */
    nan_any[nan_yes == pos] = 1;
    for (int64_t j = 0; mode == KILN_TREE_MEMBER && j < f->mcount[i]; j++)
      members[i * m + j] = f->members[f->mstart[i] + j];
  }
  if (!kinds) kinds = 1; /* only leaves: no compare runs */
  bool packed = t == KILN_F32;
  int64_t dg = g, dt = f->trees, dm = g * m, nan_attr = nan_any[1] ? nan_any[0] ? -1 : 1 : 0;
  double *roots = kiln_xmalloc(sizeof(double) * (size_t)f->trees), *dleaf = kiln_xmalloc(sizeof(double) * cg);
  for (int64_t i = 0; i < f->trees; i++) roots[i] = (double)f->roots[i];
  for (int64_t i = 0; i < g; i++) dleaf[i] = leaf[i];
  int ins[9] = {xv, pairs(x, "nodes", g, feat, bits),
                pairs(x, "next", g, first, second),
                kiln_ex_const(x, "leaf", KILN_I32, 1, &dg, dleaf),
                kiln_ex_const(x, "roots", KILN_I32, 1, &dt, roots),
                packed ? -1 : kiln_ex_const(x, "split", t, 1, &dg, split),
                kinds & (kinds - 1) ? kiln_ex_const(x, "kind", KILN_I32, 1, &dg, kind) : -1,
                nan_attr < 0 ? kiln_ex_const(x, "nan", KILN_I32, 1, &dg, nan) : -1,
                m ? kiln_ex_const(x, "members", t, 1, &dm, members) : -1};
  int nin = 9;
  while (ins[nin - 1] < 0) nin--;
  int out = kiln_ex_node1(x, "TreeWalk", ins, nin, -1, "leaf_rows");
  kiln_ex_attr_i(x, "depth", depth);
  kiln_ex_attr_i(x, "kinds", kinds);
  kiln_ex_attr_i(x, "nan", nan_attr);
  if (m) kiln_ex_attr_i(x, "members", m);
  free(feat), free(first), free(second), free(bits), free(leaf), free(dleaf), free(split);
  free(kind), free(nan), free(members), free(roots);
  return out;
}

int kiln_forest_weights(kiln_ex *x, const kiln_forest *f, kiln_dtype t, double empty, int *has) {
  int64_t cells = f->leaves * f->targets;
  double *w = kiln_xmalloc(sizeof(double) * (size_t)(cells ? cells : 1));
  double *seen = kiln_xcalloc((size_t)(cells ? cells : 1), sizeof(double));
  for (int64_t i = 0; i < cells; i++) w[i] = empty;
  for (int64_t i = 0; i < f->nw; i++) {
    int64_t at = f->w_leaf[i] * f->targets + f->w_target[i];
    double v = f->w_value[i], *c = &w[at];
    if (!seen[at]) *c = v;
    else if (f->aggregate == KILN_AGG_MIN) *c = v < *c ? v : *c;
    else if (f->aggregate == KILN_AGG_MAX) *c = v > *c ? v : *c;
    else *c += v; /* every weight a leaf lists adds */
    seen[at] = 1;
  }
  int64_t dims[2] = {f->leaves, f->targets};
  int id = kiln_ex_const(x, "weights", t, 2, dims, w);
  if (has) *has = kiln_ex_const(x, "has_weight", t, 2, dims, seen);
  free(w), free(seen);
  return id;
}

/* ---- the regressors ------------------------------------------------------------------------- */

/* The forest's scores [N, J] of type t: the aggregate of each tree's leaf, plus the base. */
static int scores(kiln_ex *x, const kiln_forest *f, int64_t depth, int xv, kiln_dtype t) {
  int leaf = kiln_forest_walk(x, f, depth, xv, t);
  double empty = f->aggregate == KILN_AGG_MIN ? INFINITY : f->aggregate == KILN_AGG_MAX ? -INFINITY : 0;
  int w = kiln_forest_weights(x, f, t, empty, NULL);
  int vals = kiln_ex_binary(x, "Gather", w, leaf, "leaf_weights");
  kiln_ex_attr_i(x, "axis", 0);
  static const char *reduce[] = {"ReduceSum", "ReduceSum", "ReduceMin", "ReduceMax"};
  int r = kiln_ex_binary(x, reduce[f->aggregate], vals, kiln_ex_int1(x, 1), "aggregate");
  kiln_ex_attr_i(x, "keepdims", 0);
  if (f->aggregate == KILN_AGG_AVERAGE)
    r = kiln_ex_binary(x, "Div", r, kiln_ex_scalar(x, (double)f->trees, "trees"), "average");
  if (empty != 0) { /* no leaf reached had a weight for the target */
    int none = kiln_ex_binary(x, "Equal", r, kiln_ex_scalar(x, empty, "empty"), "none");
    r = kiln_ex_node1(x, "Where", (int[]){none, kiln_ex_scalar(x, 0, "zero"), r}, 3, -1, "scored");
  }
  if (f->nbase)
    r = kiln_ex_binary(x, "Add", r, kiln_ex_const(x, "base_values", t, 1, &f->targets, f->base), "based");
  return r;
}

static kiln_status expand_regressor(kiln_graph *g, kiln_block *b, int pos, kiln_error *err) {
  const kiln_node *n = &g->nodes[b->nodes[pos]];
  const kiln_value *xv = kiln_node_in(g, n, 0);
  bool v5 = !strcmp(n->op_type, "TreeEnsemble");
  if (kiln_ml_number_input(n, xv, true, err)) return err->code;
  if (v5 && xv->dtype != KILN_F32 && xv->dtype != KILN_F64)
    return kiln_fail_node(n, err, KILN_ERR_UNSUPPORTED, "input 'X' must be float or double");
  kiln_forest f;
  int64_t targets = kiln_attr_int(n, "n_targets", -1), depth;
  if (!v5 && (targets < 1 || targets > 1 << 20))
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "n_targets must be at least 1");
  if (v5 ? kiln_forest_read_v5(n, &f, err) : kiln_forest_read_v1(n, "target", targets, &f, err))
    return err->code;
  if (kiln_forest_check(n, &f, xv->dims[1], &depth, err)) {
    kiln_forest_free(&f);
    return err->code;
  }
  if (f.post == KILN_POST_PROBIT) {
    kiln_forest_free(&f);
    return kiln_fail_node(n, err, KILN_ERR_UNSUPPORTED, "post_transform PROBIT is not supported");
  }
  kiln_dtype t = xv->dtype == KILN_F64 ? KILN_F64 : KILN_F32, out_t = v5 ? xv->dtype : KILN_F32;
  int xi = n->inputs[0], out = n->outputs[0];
  kiln_ex x;
  kiln_ex_begin(&x, g, b, pos, t); /* n is stale from here */
  xi = kiln_ml_as_float(&x, xi, true);
  int r = scores(&x, &f, depth, xi, t);
  if (f.targets > 1) r = kiln_ml_post(&x, f.post, r); /* one target: onnxruntime applies none */
  kiln_ml_output(&x, r, t, out, out_t);
  kiln_ex_end(&x);
  kiln_forest_free(&f);
  return KILN_OK;
}

static const kiln_attr_spec v1_attrs[] = {
    KILN_FOREST_V1_ATTRS, {"aggregate_function", KILN_ATTR_STRING, false}, {"n_targets", KILN_ATTR_INT, false},
    {"target_ids", KILN_ATTR_INTS, false}, {"target_nodeids", KILN_ATTR_INTS, false},
    {"target_treeids", KILN_ATTR_INTS, false}, {"target_weights", KILN_ATTR_FLOATS, false},
    {"target_weights_as_tensor", KILN_ATTR_TENSOR, false}, {NULL}};
static const kiln_attr_spec v5_attrs[] = {
    {"aggregate_function", KILN_ATTR_INT, false}, {"leaf_targetids", KILN_ATTR_INTS, false},
    {"leaf_weights", KILN_ATTR_TENSOR, false}, {"membership_values", KILN_ATTR_TENSOR, false},
    {"n_targets", KILN_ATTR_INT, false}, {"nodes_falseleafs", KILN_ATTR_INTS, false},
    {"nodes_falsenodeids", KILN_ATTR_INTS, false}, {"nodes_featureids", KILN_ATTR_INTS, false},
    {"nodes_hitrates", KILN_ATTR_TENSOR, false}, {"nodes_missing_value_tracks_true", KILN_ATTR_INTS, false},
    {"nodes_modes", KILN_ATTR_TENSOR, false}, {"nodes_splits", KILN_ATTR_TENSOR, false},
    {"nodes_trueleafs", KILN_ATTR_INTS, false}, {"nodes_truenodeids", KILN_ATTR_INTS, false},
    {"post_transform", KILN_ATTR_INT, false}, {"tree_roots", KILN_ATTR_INTS, false}, {NULL}};

const kiln_op_def kiln_ops_trees[] = {
    {"TreeEnsembleRegressor", 1, 1, 1, 1, v1_attrs, kiln_infer_resolved, NULL, expand_regressor, KILN_OP_RESOLVE},
    {"TreeEnsemble", 1, 1, 1, 1, v5_attrs, kiln_infer_resolved, NULL, expand_regressor, KILN_OP_RESOLVE},
    {NULL},
};
