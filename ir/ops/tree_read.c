/* Reading a decision forest's attributes into kiln_forest (ir/ops/trees.h), from either of
 * ai.onnx.ml's encodings:
 *
 *   TreeEnsembleRegressor/Classifier: every node (tests and leaves) has a (tree id, node id);
 *   children are node ids of the same tree; the weights name their leaf by (tree, node).
 *   TreeEnsemble (opset 5): tests and leaves apart; a child is a test's or a leaf's position,
 *   as its *leafs flag says; one weight per leaf; tree_roots lists the roots.
 *
 * Every reference is checked here, and trees with a cycle are refused, so what the
 * expansion builds from a forest is well formed whatever the model held. */
#include "ir/ops/trees.h"

#include "ir/dtype.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bounds on what a model may ask of the expansion: each is far past trained models' (trees
 * tens of tests deep, sets of a feature's categories) and keeps compile time and memory
 * in reason for any file. */
#define MAX_DEPTH 1024             /* steps of one unrolled walk (tree_walk.c) */
#define MAX_SET 256                /* members of one BRANCH_MEMBER set: a compare each */
#define MAX_MEMBER_TABLE (1 << 24) /* nodes x the largest set: the walk's table */
#define MAX_WEIGHTS (1 << 24)      /* leaves x targets: the weights' table */

static kiln_status fail(const kiln_node *n, kiln_error *err, const char *what, const char *attr) {
  char msg[200];
  snprintf(msg, sizeof msg, "%s%s%s", attr ? attr : "", attr ? ": " : "", what);
  return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, msg);
}

/* Attribute `name` (floats or ints) or `tname` (a tensor of numbers) as doubles (malloc'd);
 * -1 when both are absent. */
static int64_t numbers(const kiln_node *n, const char *name, const char *tname, double **out) {
  const kiln_attr *t = tname ? kiln_node_attr(n, tname) : NULL;
  const kiln_attr *a = name ? kiln_node_attr(n, name) : NULL;
  *out = NULL;
  if (t && t->tensors && kiln_dtype_valid(t->tensors[0].dtype)) {
    const kiln_tensor *x = &t->tensors[0];
    int64_t c = kiln_shape_numel(x->rank, x->dims);
    *out = kiln_xmalloc(sizeof(double) * (size_t)(c ? c : 1));
    for (int64_t i = 0; i < c; i++) (*out)[i] = kiln_load_f64(x->dtype, x->data, i);
    return c;
  }
  if (!a || (a->type != KILN_ATTR_FLOATS && a->type != KILN_ATTR_INTS)) return -1;
  *out = kiln_xmalloc(sizeof(double) * (size_t)(a->count ? a->count : 1));
  for (int i = 0; i < a->count; i++)
    (*out)[i] = a->type == KILN_ATTR_INTS ? (double)a->ints[i] : a->floats[i];
  return a->count;
}

/* ints attribute `name` with exactly `count` elements (or absent, when optional: NULL) */
static kiln_status ints_of(const kiln_node *n, const char *name, int64_t count, bool optional,
                           const int64_t **out, kiln_error *err) {
  int c = kiln_attr_ints(n, name, out);
  if (c < 0 && optional) return *out = NULL, KILN_OK;
  if (c != count) return fail(n, err, c < 0 ? "is missing" : "has the wrong length", name);
  return KILN_OK;
}

static void alloc_nodes(kiln_forest *f, int64_t nodes) {
  size_t c = (size_t)(nodes ? nodes : 1);
  f->nodes = nodes;
  f->mode = kiln_xcalloc(c, 1);
  f->nan_true = kiln_xcalloc(c, 1);
  f->feature = kiln_xcalloc(c, sizeof(int64_t));
  f->yes = kiln_xcalloc(c, sizeof(int64_t));
  f->no = kiln_xcalloc(c, sizeof(int64_t));
  f->leaf = kiln_xcalloc(c, sizeof(int64_t));
  f->split = kiln_xcalloc(c, sizeof(double));
  f->mstart = kiln_xcalloc(c, sizeof(int64_t));
  f->mcount = kiln_xcalloc(c, sizeof(int64_t));
}

void kiln_forest_free(kiln_forest *f) {
  free(f->mode), free(f->nan_true), free(f->feature), free(f->yes), free(f->no), free(f->leaf);
  free(f->split), free(f->mstart), free(f->mcount), free(f->members), free(f->roots);
  free(f->w_leaf), free(f->w_target), free(f->w_value), free(f->base);
  memset(f, 0, sizeof *f);
}

/* ---- TreeEnsembleRegressor / TreeEnsembleClassifier --------------------------------------- */

typedef struct key { int64_t tree, id, at; } key;

static int key_cmp(const void *a, const void *b) {
  const key *x = a, *y = b;
  if (x->tree != y->tree) return x->tree < y->tree ? -1 : 1;
  return x->id < y->id ? -1 : x->id > y->id;
}

static int int64_cmp(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

static int64_t find(const key *keys, int64_t n, int64_t tree, int64_t id) {
  key k = {tree, id, 0};
  const key *hit = bsearch(&k, keys, (size_t)n, sizeof k, key_cmp);
  return hit ? hit->at : -1;
}

static int mode_of(const char *s) {
  static const char *const names[] = {"BRANCH_LEQ", "BRANCH_LT", "BRANCH_GTE", "BRANCH_GT",
                                      "BRANCH_EQ", "BRANCH_NEQ", "BRANCH_MEMBER", "LEAF"};
  return kiln_ml_name_index(s, names, 8);
}

static kiln_status read_common_v1(const kiln_node *n, kiln_forest *f, kiln_error *err) {
  static const char *const aggs[] = {"AVERAGE", "SUM", "MIN", "MAX"};
  f->aggregate = kiln_ml_name_index(kiln_attr_str(n, "aggregate_function", "SUM"), aggs, 4);
  f->post = kiln_ml_post_of(n);
  if (f->aggregate < 0) return fail(n, err, "is not AVERAGE, SUM, MIN or MAX", "aggregate_function");
  if (f->post < 0) return fail(n, err, "is not NONE, SOFTMAX, LOGISTIC, SOFTMAX_ZERO or PROBIT", "post_transform");
  int64_t nb = numbers(n, "base_values", "base_values_as_tensor", &f->base);
  f->nbase = nb < 0 ? 0 : nb;
  /* onnxruntime's rule too (the spec says nothing): one per target or class, or none, or
   * for two classes one (XGBoost's binary classifiers: the base of class 0's score) */
  bool binary = !strcmp(n->op_type, "TreeEnsembleClassifier") && f->targets == 2 && f->nbase == 1;
  if (f->nbase && f->nbase != f->targets && !binary)
    return fail(n, err, "must hold one value per target or class, or none", "base_values");
  return KILN_OK;
}

kiln_status kiln_forest_read_v1(const kiln_node *n, const char *prefix, int64_t targets,
                                kiln_forest *f, kiln_error *err) {
  memset(f, 0, sizeof *f);
  f->targets = targets;
  const int64_t *tree, *id, *feat, *yes, *no, *nan;
  const kiln_attr *modes = kiln_node_attr(n, "nodes_modes");
  if (!modes || modes->type != KILN_ATTR_STRINGS) return fail(n, err, "is missing", "nodes_modes");
  int64_t g = modes->count;
  double *values = NULL;
  if (ints_of(n, "nodes_treeids", g, false, &tree, err) || ints_of(n, "nodes_nodeids", g, false, &id, err) ||
      ints_of(n, "nodes_featureids", g, false, &feat, err) ||
      ints_of(n, "nodes_truenodeids", g, false, &yes, err) ||
      ints_of(n, "nodes_falsenodeids", g, false, &no, err) ||
      ints_of(n, "nodes_missing_value_tracks_true", g, true, &nan, err))
    return err->code;
  if (numbers(n, "nodes_values", "nodes_values_as_tensor", &values) != g) {
    free(values);
    return fail(n, err, "is missing or has the wrong length", "nodes_values");
  }
  alloc_nodes(f, g);
  key *keys = kiln_xmalloc(sizeof(key) * (size_t)(g ? g : 1));
  for (int64_t i = 0; i < g; i++) keys[i] = (key){tree[i], id[i], i};
  qsort(keys, (size_t)g, sizeof *keys, key_cmp);
  kiln_status st = KILN_OK;
  for (int64_t i = 1; i < g && !st; i++)
    if (!key_cmp(&keys[i - 1], &keys[i])) st = fail(n, err, "a (tree, node) id appears twice", "nodes_nodeids");
  f->roots = kiln_xmalloc(sizeof(int64_t) * (size_t)(g ? g : 1));
  for (int64_t i = 0; i < g && !st; i++) {
    int m = mode_of(modes->strings[i]);
    if (m < 0 || m == KILN_TREE_MEMBER) {
      st = fail(n, err, m < 0 ? "names an unknown mode" : "BRANCH_MEMBER is TreeEnsemble's (opset 5)", "nodes_modes");
      break;
    }
    f->mode[i] = (uint8_t)m;
    f->feature[i] = feat[i];
    f->split[i] = values[i];
    f->nan_true[i] = nan && nan[i];
    f->leaf[i] = m == KILN_TREE_LEAF ? f->leaves++ : -1;
    if (m != KILN_TREE_LEAF) {
      f->yes[i] = find(keys, g, tree[i], yes[i]);
      f->no[i] = find(keys, g, tree[i], no[i]);
      if (f->yes[i] < 0 || f->no[i] < 0)
        st = fail(n, err, "a child is not a node of its tree", f->yes[i] < 0 ? "nodes_truenodeids" : "nodes_falsenodeids");
    }
  }
  free(values);
  /* a tree's root: its first node, as onnxruntime takes it; trees in the order they start */
  for (int64_t i = 0; i < g && !st; i++) {
    int64_t first = keys[i].at;
    for (; i + 1 < g && keys[i + 1].tree == keys[i].tree; i++)
      first = keys[i + 1].at < first ? keys[i + 1].at : first;
    f->roots[f->trees++] = first;
  }
  qsort(f->roots, (size_t)f->trees, sizeof(int64_t), int64_cmp);
  /* the weights: (tree, node) of a leaf, a target or class, a value */
  char tn[40], nn[40], in[40], wn[40], wt[48];
  snprintf(tn, sizeof tn, "%s_treeids", prefix), snprintf(nn, sizeof nn, "%s_nodeids", prefix);
  snprintf(in, sizeof in, "%s_ids", prefix), snprintf(wn, sizeof wn, "%s_weights", prefix);
  snprintf(wt, sizeof wt, "%s_weights_as_tensor", prefix);
  const int64_t *wtree, *wnode, *wid;
  int64_t nw = kiln_attr_ints(n, tn, &wtree);
  if (!st && (nw < 0 || ints_of(n, nn, nw, false, &wnode, err) || ints_of(n, in, nw, false, &wid, err)))
    st = nw < 0 ? fail(n, err, "is missing", tn) : err->code;
  double *wv = NULL;
  if (!st && numbers(n, wn, wt, &wv) != nw) st = fail(n, err, "is missing or has the wrong length", wn);
  f->nw = st ? 0 : nw;
  f->w_leaf = kiln_xmalloc(sizeof(int64_t) * (size_t)(f->nw + 1));
  f->w_target = kiln_xmalloc(sizeof(int64_t) * (size_t)(f->nw + 1));
  f->w_value = wv;
  for (int64_t i = 0; i < f->nw && !st; i++) {
    int64_t at = find(keys, g, wtree[i], wnode[i]);
    if (at < 0 || f->leaf[at] < 0) st = fail(n, err, "names a node that is not a leaf", nn);
    else if (wid[i] < 0 || wid[i] >= targets) st = fail(n, err, "is out of range", in);
    else f->w_leaf[i] = f->leaf[at], f->w_target[i] = wid[i];
  }
  free(keys);
  if (!st && !f->trees) st = fail(n, err, "holds no tree", "nodes_treeids");
  if (!st) st = read_common_v1(n, f, err);
  if (st) kiln_forest_free(f);
  return st;
}

/* ---- TreeEnsemble (opset 5) ------------------------------------------------------------------ */

kiln_status kiln_forest_read_v5(const kiln_node *n, kiln_forest *f, kiln_error *err) {
  memset(f, 0, sizeof *f);
  const int64_t *feat, *yes, *yleaf, *no, *nleaf, *nan, *roots, *targets;
  int64_t inner = kiln_attr_ints(n, "nodes_featureids", &feat);
  int64_t leaves = kiln_attr_ints(n, "leaf_targetids", &targets);
  int64_t ntrees = kiln_attr_ints(n, "tree_roots", &roots);
  if (inner < 0 || leaves < 0 || ntrees <= 0)
    return fail(n, err, "nodes_featureids, leaf_targetids and tree_roots are required", NULL);
  if (ints_of(n, "nodes_truenodeids", inner, false, &yes, err) || ints_of(n, "nodes_trueleafs", inner, false, &yleaf, err) ||
      ints_of(n, "nodes_falsenodeids", inner, false, &no, err) || ints_of(n, "nodes_falseleafs", inner, false, &nleaf, err) ||
      ints_of(n, "nodes_missing_value_tracks_true", inner, true, &nan, err))
    return err->code;
  double *splits = NULL, *modes = NULL, *weights = NULL, *members = NULL;
  int64_t nmembers = numbers(n, NULL, "membership_values", &members);
  kiln_status st = KILN_OK;
  if (numbers(n, NULL, "nodes_splits", &splits) != inner) st = fail(n, err, "is missing or has the wrong length", "nodes_splits");
  else if (numbers(n, NULL, "nodes_modes", &modes) != inner) st = fail(n, err, "is missing or has the wrong length", "nodes_modes");
  else if (numbers(n, NULL, "leaf_weights", &weights) != leaves) st = fail(n, err, "is missing or has the wrong length", "leaf_weights");
  f->targets = kiln_attr_int(n, "n_targets", -1);
  f->aggregate = (int)kiln_attr_int(n, "aggregate_function", KILN_AGG_SUM);
  f->post = (int)kiln_attr_int(n, "post_transform", KILN_POST_NONE);
  if (!st && (f->targets < 1 || f->targets > 1 << 20)) st = fail(n, err, "must be at least 1", "n_targets");
  if (!st && (f->aggregate < 0 || f->aggregate > KILN_AGG_MAX)) st = fail(n, err, "must be 0 to 3", "aggregate_function");
  if (!st && (f->post < 0 || f->post > KILN_POST_PROBIT)) st = fail(n, err, "must be 0 to 4", "post_transform");
  alloc_nodes(f, inner + leaves);
  f->leaves = leaves;
  int64_t next_set = 0; /* membership_values: a set per BRANCH_MEMBER node, ended by NaN */
  for (int64_t i = 0; i < inner && !st; i++) {
    double m = modes[i];
    if (!(m >= 0 && m < KILN_TREE_LEAF && m == floor(m))) st = fail(n, err, "holds an unknown mode", "nodes_modes");
    else if ((yleaf[i] ? yes[i] >= leaves : yes[i] >= inner) || yes[i] < 0)
      st = fail(n, err, "a child is out of range", "nodes_truenodeids");
    else if ((nleaf[i] ? no[i] >= leaves : no[i] >= inner) || no[i] < 0)
      st = fail(n, err, "a child is out of range", "nodes_falsenodeids");
    if (st) break;
    f->mode[i] = (uint8_t)m;
    f->feature[i] = feat[i];
    f->split[i] = splits[i];
    f->nan_true[i] = nan && nan[i];
    f->leaf[i] = -1;
    f->yes[i] = yleaf[i] ? inner + yes[i] : yes[i];
    f->no[i] = nleaf[i] ? inner + no[i] : no[i];
    if (f->mode[i] == KILN_TREE_MEMBER) {
      f->mstart[i] = next_set;
      while (next_set < nmembers && !isnan(members[next_set])) next_set++;
      f->mcount[i] = next_set - f->mstart[i];
      next_set++; /* past its NaN */
      if (next_set > nmembers + 1 || !f->mcount[i]) st = fail(n, err, "has too few sets", "membership_values");
    }
  }
  for (int64_t j = 0; j < leaves; j++) f->mode[inner + j] = KILN_TREE_LEAF, f->leaf[inner + j] = j;
  f->roots = kiln_xmalloc(sizeof(int64_t) * (size_t)ntrees);
  f->trees = ntrees;
  for (int64_t t = 0; t < ntrees && !st; t++) {
    if (roots[t] < 0 || roots[t] >= inner) st = fail(n, err, "a root is out of range", "tree_roots");
    f->roots[t] = roots[t];
  }
  f->nw = leaves;
  f->w_leaf = kiln_xmalloc(sizeof(int64_t) * (size_t)(leaves + 1));
  f->w_target = kiln_xmalloc(sizeof(int64_t) * (size_t)(leaves + 1));
  f->w_value = weights;
  weights = NULL;
  for (int64_t j = 0; j < leaves && !st; j++) {
    if (targets[j] < 0 || targets[j] >= f->targets) st = fail(n, err, "is out of range", "leaf_targetids");
    f->w_leaf[j] = j, f->w_target[j] = targets[j];
  }
  f->members = members;
  free(splits), free(modes), free(weights);
  if (st) kiln_forest_free(f);
  return st;
}

int64_t kiln_forest_widest_set(const kiln_forest *f) {
  int64_t m = 0;
  for (int64_t i = 0; i < f->nodes; i++)
    if (f->mode[i] == KILN_TREE_MEMBER && f->mcount[i] > m) m = f->mcount[i];
  return m;
}

/* ---- checks ------------------------------------------------------------------------------- */

kiln_status kiln_forest_check(const kiln_node *n, const kiln_forest *f, int64_t features,
                              int64_t *depth, kiln_error *err) {
  for (int64_t i = 0; i < f->nodes; i++)
    if (f->mode[i] != KILN_TREE_LEAF && (f->feature[i] < 0 || f->feature[i] >= features)) {
      char what[120];
      snprintf(what, sizeof what, "node %lld tests feature %lld; X has %lld", (long long)i,
               (long long)f->feature[i], (long long)features);
      return fail(n, err, what, "nodes_featureids");
    }
  if (f->nodes > INT32_MAX / 2) /* the walk's tables hold int32s */
    return kiln_fail_node(n, err, KILN_ERR_LIMIT, "more than 2^30 tree nodes");
  int64_t widest = kiln_forest_widest_set(f);
  if (widest > MAX_SET || widest > MAX_MEMBER_TABLE / (f->nodes ? f->nodes : 1))
    return kiln_fail_node(n, err, KILN_ERR_LIMIT, "membership_values: a set of more than 256 values, or "
                          "too many sets for the nodes");
  if (f->leaves * f->targets > MAX_WEIGHTS) /* both < 2^31 */
    return kiln_fail_node(n, err, KILN_ERR_LIMIT, "more than 2^24 leaf weights (leaves x targets)");
  /* the longest path from each root, depth-first without recursion: d[i] is -1 before a
   * node is seen, -2 while its subtree is walked (a child in that state closes a cycle) */
  int64_t *d = kiln_xmalloc(sizeof(int64_t) * (size_t)(f->nodes + 1));
  int64_t *stack = kiln_xmalloc(sizeof(int64_t) * (size_t)(2 * f->nodes + 1));
  for (int64_t i = 0; i < f->nodes; i++) d[i] = -1;
  kiln_status st = KILN_OK;
  *depth = 0;
  for (int64_t t = 0; t < f->trees && !st; t++) {
    int64_t top = 0;
    stack[top++] = f->roots[t];
    while (top && !st) {
      int64_t i = stack[top - 1];
      if (d[i] >= 0) top--;
      else if (f->mode[i] == KILN_TREE_LEAF) d[i] = 0, top--;
      else if (d[i] == -1) {
        d[i] = -2;
        int64_t kids[2] = {f->yes[i], f->no[i]};
        for (int c = 0; c < 2 && !st; c++)
          if (d[kids[c]] == -2) st = fail(n, err, "the trees have a cycle", NULL);
          else if (d[kids[c]] == -1) stack[top++] = kids[c];
      } else {
        int64_t a = d[f->yes[i]], b = d[f->no[i]];
        d[i] = 1 + (a > b ? a : b), top--;
        if (d[i] > MAX_DEPTH) st = fail(n, err, "a tree is deeper than 1024 tests", NULL);
      }
    }
    if (!st && d[f->roots[t]] > *depth) *depth = d[f->roots[t]];
  }
  free(d), free(stack);
  return st;
}
