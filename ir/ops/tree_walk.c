/* TreeWalk (internal): the leaf each sample reaches in each tree of a decision forest, the
 * core of ai.onnx.ml's tree ensembles (ir/ops/trees.c builds its tables).
 *
 *   TreeWalk(X [N, F], nodes [G], next [G], leaf [G], roots [T], split [G]?, kind [G]?,
 *            nan [G]?, members [G * M]?) -> [N, T] i64; attributes depth, kinds, nan, members
 *
 * Nodes number 0..G-1 across all trees; a leaf's children are itself, so every sample
 * walks exactly `depth` steps (the deepest tree's) as one branch-free expression:
 *
 *   x    = X[n, feature]
 *   cmp  = x <= split | x < split | x == split | x in members[node]
 *          (by kind[node]: 0, 1, 2, 3; one compare when `kinds` names one)
 *          | isnan(x) & nan[node]
 *   node = cmp ? second : first
 *
 * The tables fold each node's mode in: GT is LEQ with its children swapped, and nan says
 * which of the two a NaN takes (every compare of a NaN is false): the attribute when all
 * nodes agree, else the table. Loads are what a step waits on, and vectorized over trees
 * each is a gather, so the tables pack: nodes[node] holds the feature (low 32 bits) and,
 * for f32 X, the split's bits (high 32; otherwise split[] holds it); next[node] the two
 * children (low: first, high: second), both loaded before the compare is known. The result
 * is leaf[node], the row of the leaf's weights. Inference checks every entry against the
 * tables' sizes, so the loads they drive stay in bounds whatever a model holds. */
#include "ir/op.h"

#include "ir/dtype.h"

#include <stdio.h>

#define MAX_DEPTH 1024 /* and sets of 256 members: tree_read.c's bounds */

enum { IN_X, IN_NODES, IN_NEXT, IN_LEAF, IN_ROOTS, IN_SPLIT, IN_KIND, IN_NAN, IN_MEMBERS, NIN };

static const char *in_names[NIN] = {"X", "nodes", "next", "leaf", "roots", "split", "kind", "nan", "members"};

/* Input i: a constant of dtype t, `count` elements; with hi >= 0, each int32 half (all:
 * both of an int64; else the low one) lies in [0, hi). */
static kiln_status check_table(const kiln_graph *g, const kiln_node *n, int i, kiln_dtype t,
                               int64_t count, int64_t hi, bool all, kiln_error *err) {
  const kiln_value *v = kiln_node_in(g, n, i);
  char what[160];
  if (!v || !v->data || v->dtype != t || v->rank != 1 || v->dims[0] != count) {
    snprintf(what, sizeof what, "input '%s' must be a constant %s [%lld]", in_names[i],
             kiln_dtype_name(t), (long long)count);
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, what);
  }
  int halves = t == KILN_I64 ? 2 : 1;
  for (int64_t e = 0; hi >= 0 && e < count * halves; e += all ? 1 : halves) {
    int64_t x = ((const int32_t *)v->data)[e]; /* little-endian: the low half first */
    if (x < 0 || x >= hi) {
      snprintf(what, sizeof what, "input '%s' element %lld holds %lld, outside [0, %lld)", in_names[i],
               (long long)(e / halves), (long long)x, (long long)hi);
      return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, what);
    }
  }
  return KILN_OK;
}

static kiln_status infer_walk(kiln_graph *g, kiln_node *n, kiln_error *err) {
  const kiln_value *x = kiln_node_in(g, n, IN_X), *nodes_v = kiln_node_in(g, n, IN_NODES);
  const kiln_value *roots = kiln_node_in(g, n, IN_ROOTS);
  if (x->rank != 2 || !kiln_dtype_is_float(x->dtype) || x->sym[1])
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "input 'X' must be floats [N, F], F known");
  if (!nodes_v || !roots || nodes_v->rank != 1 || roots->rank != 1)
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "its tables must be 1-D");
  int64_t nodes = nodes_v->dims[0], trees = roots->dims[0], m = kiln_attr_int(n, "members", 0);
  int64_t depth = kiln_attr_int(n, "depth", 0), kinds = kiln_attr_int(n, "kinds", 1);
  int64_t nan = kiln_attr_int(n, "nan", 0);
  bool packed = !kiln_node_in(g, n, IN_SPLIT), mixed = kinds & (kinds - 1);
  if (depth < 0 || depth > MAX_DEPTH || kinds < 1 || kinds > 15 || m < 0 || m > 256 ||
      (m > 0) != ((kinds & 8) != 0) || nan < -1 || nan > 1 || nodes > INT32_MAX / 2 ||
      (packed && x->dtype != KILN_F32) || (mixed != (kiln_node_in(g, n, IN_KIND) != NULL)) ||
      ((nan < 0) != (kiln_node_in(g, n, IN_NAN) != NULL)) || (m > 0) != (kiln_node_in(g, n, IN_MEMBERS) != NULL))
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "bad depth, kinds, nan or members");
  if (check_table(g, n, IN_NODES, KILN_I64, nodes, x->dims[1], false, err) ||
      (!packed && check_table(g, n, IN_SPLIT, x->dtype, nodes, -1, false, err)) ||
      check_table(g, n, IN_NEXT, KILN_I64, nodes, nodes, true, err) ||
      check_table(g, n, IN_LEAF, KILN_I32, nodes, -1, false, err) ||
      check_table(g, n, IN_ROOTS, KILN_I32, trees, nodes, false, err) ||
      (mixed && check_table(g, n, IN_KIND, KILN_I32, nodes, 4, false, err)) ||
      (nan < 0 && check_table(g, n, IN_NAN, KILN_I32, nodes, 2, false, err)) ||
      (m > 0 && check_table(g, n, IN_MEMBERS, x->dtype, nodes * m, -1, false, err)))
    return err->code;
  int64_t dims[2] = {x->dims[0], trees};
  kiln_set_out(g, n, 0, KILN_I64, 2, dims);
  return KILN_OK;
}

static kiln_expr *load1(kiln_kernel *k, int buf, kiln_expr *i) { return kx_load(k, buf, &i); }

/* an int32 table's entry i, as an index */
static kiln_expr *entry(kiln_kernel *k, int buf, kiln_expr *i) { return kx_cast(k, load1(k, buf, i), KILN_I64); }

/* an int64's low and high int32 halves, as indices or bits */
static kiln_expr *low(kiln_kernel *k, kiln_expr *w) { return kx_cast(k, kx_cast(k, w, KILN_I32), KILN_I64); }
static kiln_expr *high(kiln_kernel *k, kiln_expr *w) { return kx_binary(k, KB_SHR, w, kx_idx(k, 32)); }

/* The compare of kind `kind` (above) of x against the split or node's members. */
static kiln_expr *compare(kiln_lower_ctx *c, int kind, kiln_expr *x, kiln_expr *split, kiln_expr *node) {
  kiln_kernel *k = c->k;
  if (kind < 3) {
    static const int ops[] = {KB_LE, KB_LT, KB_EQ};
    return kx_binary(k, ops[kind], x, split);
  }
  int64_t m = kiln_attr_int(c->n, "members", 0);
  kiln_expr *row = kx_binary(k, KB_MUL, node, kx_idx(k, m)), *hit = NULL;
  for (int64_t j = 0; j < m; j++) { /* padded with NaN, which equals nothing */
    kiln_expr *eq = kx_binary(k, KB_EQ, x, load1(k, c->in_buf[IN_MEMBERS], kx_addi(k, row, j)));
    hit = hit ? kx_binary(k, KB_OR, hit, eq) : eq;
  }
  return hit;
}

/* Steps per stage: each step reads `node` u times, so the expression, a DAG, has u^steps
 * paths, which the passes that walk expressions as trees would follow; a stage stores its
 * node for the next (and its loads then overlap those of other trees and samples). */
static int64_t steps_per_stage(const kiln_lower_ctx *c, int64_t kinds, int64_t nan) {
  int64_t u = 5 + (c->in_buf[IN_SPLIT] >= 0) + (kinds & (kinds - 1) ? 3 : 0) + (nan < 0) +
              (kinds & 8 ? kiln_attr_int(c->n, "members", 0) + 1 : 0);
  int64_t steps = 1;
  for (int64_t paths = u; paths * u <= 4096; paths *= u) steps++;
  return steps;
}

static kiln_status lower_walk(kiln_lower_ctx *c) {
  kiln_kernel *k = c->k;
  int64_t depth = kiln_attr_int(c->n, "depth", 0), kinds = kiln_attr_int(c->n, "kinds", 1);
  int64_t nan = kiln_attr_int(c->n, "nan", 0), per = steps_per_stage(c, kinds, nan);
  bool packed = c->in_buf[IN_SPLIT] < 0;
  const kiln_buffer *out = &k->bufs[c->out_buf[0]];
  int64_t dims[2] = {out->dims[1], out->dims[0]}; /* [T, N] */
  int prev = -1, temps[2] = {-1, -1}; /* each walk's node so far, [T, N]: two in turn */
  for (int64_t done = 0, stage = 0;; stage++) {
    int64_t steps = depth - done < per ? depth - done : per;
    bool last = done + steps == depth;
    int *t = &temps[stage & 1];
    if (!last && *t < 0) *t = kiln_kernel_add_buffer(k, "nodes", KILN_BUF_TEMP, -1, KILN_I32, 2, dims);
    int dst = last ? c->out_buf[0] : *t;
    /* trees outside, samples inside: a tree's nodes stay in cache while its samples walk */
    kiln_stage *s = kiln_kernel_add_stage(k, "tree_walk", dst);
    kiln_expr *tv = kx_var(k, kiln_stage_axis(s, dims[0], false)), *nv = kx_var(k, kiln_stage_axis(s, dims[1], false));
    kiln_expr *v[2] = {nv, tv}, *tn[2] = {tv, nv};
    int si = (int)(s - k->stages);
    kiln_expr *node = prev < 0 ? entry(k, c->in_buf[IN_ROOTS], tv) : kx_cast(k, kx_load(k, prev, tn), KILN_I64);
    for (int64_t step = 0; step < steps; step++) {
      kiln_expr *w = load1(k, c->in_buf[IN_NODES], node);
      kiln_expr *at[2] = {v[0], low(k, w)};
      kiln_expr *x = kx_load(k, c->in_buf[IN_X], at), *cmp = NULL;
      kiln_expr *split = packed ? kx_bitcast(k, kx_cast(k, high(k, w), KILN_I32), KILN_F32)
                                : load1(k, c->in_buf[IN_SPLIT], node);
      kiln_expr *kind = kinds & (kinds - 1) ? entry(k, c->in_buf[IN_KIND], node) : NULL;
      for (int kd = 3; kd >= 0; kd--) {
        if (!(kinds & (1 << kd))) continue;
        kiln_expr *this = compare(c, kd, x, split, node);
        cmp = !cmp ? this : kx_select(k, kx_binary(k, KB_EQ, kind, kx_idx(k, kd)), this, cmp);
      }
      if (nan) { /* a NaN compares false: it takes the second child where nan says so */
        kiln_expr *isnan = kx_unary(k, KU_ISNAN, x);
        if (nan < 0)
          isnan = kx_binary(k, KB_AND, isnan, kx_binary(k, KB_NE, load1(k, c->in_buf[IN_NAN], node), kx_const_i(k, KILN_I32, 0)));
        cmp = kx_binary(k, KB_OR, cmp, isnan);
      }
      kiln_expr *kids = load1(k, c->in_buf[IN_NEXT], node), *first = low(k, kids);
      node = kx_binary(k, KB_ADD, first, kx_binary(k, KB_MUL, kx_cast(k, cmp, KILN_I64),
                                                   kx_binary(k, KB_SUB, high(k, kids), first)));
    }
    kiln_stage_store(k, &k->stages[si], last ? v : tn, last ? entry(k, c->in_buf[IN_LEAF], node) : kx_cast(k, node, KILN_I32));
    if (last) return KILN_OK;
    prev = dst;
    done += steps;
  }
}

static const kiln_attr_spec walk_attrs[] = {{"depth", KILN_ATTR_INT, true}, {"kinds", KILN_ATTR_INT, true},
                                            {"members", KILN_ATTR_INT, false}, {"nan", KILN_ATTR_INT, false}, {NULL}};

const kiln_op_def kiln_ops_tree_walk[] = {
    {"TreeWalk", 5, NIN, 1, 1, walk_attrs, infer_walk, lower_walk, NULL, KILN_OP_SYMBOLIC},
    {NULL},
};
