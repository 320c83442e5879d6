/* Decision forests (ai.onnx.ml's tree ensembles), read from either encoding into one form:
 * nodes numbered across all trees, leaves among them, and the weights each leaf adds to
 * its targets (or classes). ir/ops/trees.c reads them and expands the regressors,
 * ir/ops/tree_classifier.c the classifier; both walk the trees with TreeWalk
 * (ir/ops/tree_walk.c). */
#ifndef KILN_IR_OPS_TREES_H
#define KILN_IR_OPS_TREES_H

#include "ir/op.h"
#include "ir/ops/expand.h"
#include "ir/ops/ml.h"

/* A node's test: TreeEnsemble's numbering; LEAF for a leaf */
enum { KILN_TREE_LEQ, KILN_TREE_LT, KILN_TREE_GTE, KILN_TREE_GT, KILN_TREE_EQ, KILN_TREE_NEQ,
       KILN_TREE_MEMBER, KILN_TREE_LEAF };
enum { KILN_AGG_AVERAGE, KILN_AGG_SUM, KILN_AGG_MIN, KILN_AGG_MAX };

typedef struct kiln_forest {
  int64_t nodes, leaves, trees, targets;
  uint8_t *mode, *nan_true;      /* per node; nan_true: a NaN takes the true branch */
  int64_t *feature, *yes, *no;   /* per node: the feature tested, the true and false child */
  int64_t *leaf;                 /* per node: its leaf row, -1 for a test */
  double *split;                 /* per node */
  int64_t *mstart, *mcount;      /* per node: its BRANCH_MEMBER set in members */
  double *members;
  int64_t *roots;                /* per tree */
  int64_t nw;                    /* weights: leaf row, target, value */
  int64_t *w_leaf, *w_target;
  double *w_value;
  int aggregate, post;
  double *base;                  /* base_values (nbase of them, 0: none) */
  int64_t nbase;
} kiln_forest;

/* The attributes TreeEnsembleRegressor and TreeEnsembleClassifier share (kiln_attr_specs). */
#define KILN_FOREST_V1_ATTRS                                                                       \
  {"base_values", KILN_ATTR_FLOATS, false}, {"base_values_as_tensor", KILN_ATTR_TENSOR, false},   \
      {"nodes_falsenodeids", KILN_ATTR_INTS, false}, {"nodes_featureids", KILN_ATTR_INTS, false}, \
      {"nodes_hitrates", KILN_ATTR_FLOATS, false}, {"nodes_hitrates_as_tensor", KILN_ATTR_TENSOR, false}, \
      {"nodes_missing_value_tracks_true", KILN_ATTR_INTS, false},                                 \
      {"nodes_modes", KILN_ATTR_STRINGS, false}, {"nodes_nodeids", KILN_ATTR_INTS, false},        \
      {"nodes_treeids", KILN_ATTR_INTS, false}, {"nodes_truenodeids", KILN_ATTR_INTS, false},     \
      {"nodes_values", KILN_ATTR_FLOATS, false}, {"nodes_values_as_tensor", KILN_ATTR_TENSOR, false}, \
      {"post_transform", KILN_ATTR_STRING, false}

/* TreeEnsembleRegressor's and TreeEnsembleClassifier's encoding (`nodes_*`, and the weights
 * under `prefix`: "target" or "class"), with `targets` targets or classes. */
kiln_status kiln_forest_read_v1(const kiln_node *n, const char *prefix, int64_t targets,
                                kiln_forest *f, kiln_error *err);
/* TreeEnsemble's (opset 5). */
kiln_status kiln_forest_read_v5(const kiln_node *n, kiln_forest *f, kiln_error *err);
void kiln_forest_free(kiln_forest *f);
/* Checks the trees against X's `features` (a feature in range, no cycles, sets of a size
 * the walk's table holds) and gives the deepest tree's depth. */
kiln_status kiln_forest_check(const kiln_node *n, const kiln_forest *f, int64_t features,
                              int64_t *depth, kiln_error *err);
/* The most values of one BRANCH_MEMBER set (0: none). */
int64_t kiln_forest_widest_set(const kiln_forest *f);
/* The leaf row each sample of x ([N, F], floats of type t) reaches in each tree: [N, T] */
int kiln_forest_walk(kiln_ex *x, const kiln_forest *f, int64_t depth, int xv, kiln_dtype t);
/* [L, targets] of type t: each leaf's weights, summed (SUM, AVERAGE) or their min or max;
 * `empty` where a leaf has none (has[] marks the others, when not NULL). */
int kiln_forest_weights(kiln_ex *x, const kiln_forest *f, kiln_dtype t, double empty,
                        int *has);

#endif
