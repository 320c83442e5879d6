/* ai.onnx.ml's feature encoders, what scikit-learn's OneHotEncoder and DictVectorizer
 * pipelines convert to: OneHotEncoder and FeatureVectorizer, each expanded into plain ops.
 *
 * OneHotEncoder maps X [...] to [..., C], 1 at its category's position among the C of
 * cats_int64s or cats_strings (the last of a repeated one, as onnxruntime), 0 elsewhere:
 *
 *   LabelEncoder(key)             -> pos: the category's position, -1 for none (floats
 *                                    and int32s are truncated to int64 keys first)
 *   CategoryCheck(pos)            -> pos, the run failing on a -1 (zeros = 0 only)
 *   Cast(Equal(pos[..., None], 0..C-1)) -> Y, floats
 *
 * FeatureVectorizer concatenates its inputs' rows ([N, ...] flattened to [N, R], a 1-D
 * input one row), each cut or padded with zeros to its inputdimensions entry, as floats. */
#include "ir/op.h"

#include "ir/dtype.h"
#include "ir/ops/expand.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- OneHotEncoder ------------------------------------------------------------------------- */

static kiln_status expand_onehot(kiln_graph *g, kiln_block *b, int pos, kiln_error *err) {
  const kiln_node *n = &g->nodes[b->nodes[pos]];
  const kiln_attr *cs = kiln_node_attr(n, "cats_strings");
  const int64_t *ci;
  int nci = kiln_attr_ints(n, "cats_int64s", &ci);
  bool strings = cs && cs->type == KILN_ATTR_STRINGS;
  if (strings == (nci >= 0))
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "needs one of cats_int64s and cats_strings");
  int count = strings ? cs->count : nci;
  if (count < 1) return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "needs at least one category");
  const kiln_value *x = kiln_node_in(g, n, 0);
  kiln_dtype xt = x->dtype;
  if (strings != (xt == KILN_STRING) ||
      (!strings && xt != KILN_I64 && xt != KILN_I32 && xt != KILN_F32 && xt != KILN_F64))
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, strings
                          ? "input 'X' must be strings, as cats_strings are"
                          : "input 'X' must be int64, int32, float or double for cats_int64s");
  bool check = kiln_attr_int(n, "zeros", 1) == 0;
  char *what = kiln_fmt("node '%s' (OneHotEncoder): input '%s' holds a value that is none of its "
                        "categories (zeros = 0)", n->name, x->name);
  int64_t *positions = kiln_xmalloc(sizeof(int64_t) * (size_t)count);
  for (int i = 0; i < count; i++) positions[i] = i;
  const char **cats = strings ? kiln_xmalloc(sizeof(char *) * (size_t)count) : NULL;
  int64_t *ints = strings ? NULL : kiln_xmalloc(sizeof(int64_t) * (size_t)count);
  for (int i = 0; i < count; i++) {
    if (strings) cats[i] = cs->strings[i];
    else ints[i] = ci[i];
  }
  int key = n->inputs[0], out = n->outputs[0];
  kiln_ex e;
  kiln_ex_begin(&e, g, b, pos, KILN_F32); /* n is stale from here; cats are not */
  if (xt != KILN_STRING && xt != KILN_I64) {
    key = kiln_ex_unary(&e, "Cast", key, "key");
    kiln_ex_attr_i(&e, "to", KILN_I64);
  }
  int p = kiln_ex_node1(&e, "LabelEncoder", &key, 1, -1, "position");
  if (strings) kiln_ex_attr_strings(&e, "keys_strings", count, cats);
  else kiln_ex_attr_ints(&e, "keys_int64s", count, ints);
  kiln_ex_attr_ints(&e, "values_int64s", count, positions);
  kiln_ex_attr_i(&e, "default_int64", -1);
  if (check) {
    p = kiln_ex_unary(&e, "CategoryCheck", p, "checked");
    kiln_ex_attr_i(&e, "count", count);
    kiln_ex_attr_s(&e, "what", what);
  }
  int col = kiln_ex_node1(&e, "Unsqueeze", (int[]){p, kiln_ex_int1(&e, -1)}, 2, -1, "column");
  int all = kiln_ex_const(&e, "categories", KILN_I64, 1, (int64_t[]){count}, NULL);
  memcpy(g->values[all].data, positions, sizeof(int64_t) * (size_t)count); /* 0..C-1 */
  int hit = kiln_ex_binary(&e, "Equal", col, all, "hit");
  kiln_ex_node1(&e, "Cast", &hit, 1, out, "output");
  kiln_ex_attr_i(&e, "to", KILN_F32);
  kiln_ex_end(&e);
  free(positions);
  free(cats);
  free(ints);
  free(what);
  return KILN_OK;
}

/* CategoryCheck (internal): its input, an i64 that must lie in [0, count); the run fails
 * naming `what` where one does not. */
static kiln_status infer_check(kiln_graph *g, kiln_node *n, kiln_error *err) {
  const kiln_value *x = kiln_node_in(g, n, 0);
  if (x->dtype != KILN_I64 || kiln_attr_int(n, "count", 0) < 1)
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "needs int64 positions and a count");
  kiln_set_out(g, n, 0, KILN_I64, x->rank, x->dims);
  return KILN_OK;
}

static kiln_expr *build_check(kiln_lower_ctx *c, kiln_expr *const *x) {
  return kx_check_index(c->k, x[0], kiln_attr_int(c->n, "count", 1), false,
                        kiln_attr_str(c->n, "what", c->n->name));
}

static kiln_status lower_check(kiln_lower_ctx *c) { return kiln_lower_elementwise(c, build_check); }

/* ---- FeatureVectorizer --------------------------------------------------------------------- */

static kiln_status expand_vectorizer(kiln_graph *g, kiln_block *b, int pos, kiln_error *err) {
  const kiln_node *n = &g->nodes[b->nodes[pos]];
  const int64_t *dims;
  int ndims = kiln_attr_ints(n, "inputdimensions", &dims);
  if (ndims != n->ninputs)
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "needs one inputdimensions entry per input");
  int nin = n->ninputs, out = n->outputs[0];
  int64_t *rows = kiln_xmalloc(sizeof(int64_t) * (size_t)nin * 2), *width = rows + nin;
  int *ins = kiln_xmalloc(sizeof(int) * (size_t)nin);
  int64_t batch = -1;
  bool free_batch = false;
  for (int i = 0; i < nin; i++) {
    const kiln_value *x = kiln_node_in(g, n, i);
    char why[200] = "";
    if (!x) snprintf(why, sizeof why, "input %d is missing", i);
    else if (!kiln_dtype_valid(x->dtype) || x->dtype == KILN_BOOL)
      snprintf(why, sizeof why, "input '%s' must hold numbers", x->name);
    else if (x->rank < 1 || dims[i] < 0 || dims[i] > (INT64_C(1) << 31))
      snprintf(why, sizeof why, "input '%s' needs rank 1 or more and a dimension in [0, 2^31]", x->name);
    for (int d = 1; !*why && d < x->rank; d++)
      if (x->sym[d]) snprintf(why, sizeof why, "input '%s' has a free dim past its first", x->name);
    if (!*why) {
      rows[i] = x->rank == 1 ? 1 : x->dims[0];
      width[i] = x->rank == 1 ? x->dims[0] : kiln_value_numel(x) / (rows[i] ? rows[i] : 1);
      if (x->rank == 1 && x->sym[0]) snprintf(why, sizeof why, "input '%s' is 1-D with a free dim", x->name);
      else if (batch >= 0 && (rows[i] != batch || free_batch != (x->rank > 1 && x->sym[0])))
        snprintf(why, sizeof why, "its inputs have different numbers of rows");
      batch = rows[i];
      free_batch = x->rank > 1 && x->sym[0];
    }
    if (*why) {
      free(rows);
      free(ins);
      return kiln_fail_node(n, err, KILN_ERR_SHAPE, why);
    }
    ins[i] = n->inputs[i];
  }
  int64_t *want = kiln_xmalloc(sizeof(int64_t) * (size_t)nin);
  memcpy(want, dims, sizeof(int64_t) * (size_t)nin);
  kiln_ex e;
  kiln_ex_begin(&e, g, b, pos, KILN_F32); /* n is stale from here */
  for (int i = 0; i < nin; i++) {
    int v = kiln_ex_unary(&e, "Cast", ins[i], "float");
    kiln_ex_attr_i(&e, "to", KILN_F32);
    /* [rows, width]: 0 copies a free batch */
    v = kiln_ex_reshape(&e, v, 2, (int64_t[]){free_batch ? 0 : rows[i], width[i]}, -1, "rows");
    if (width[i] > want[i]) {
      int sl[4] = {v, kiln_ex_int1(&e, 0), kiln_ex_int1(&e, want[i]), kiln_ex_int1(&e, 1)};
      v = kiln_ex_node1(&e, "Slice", sl, 4, -1, "cut");
    } else if (width[i] < want[i]) {
      int pd[2] = {v, kiln_ex_ints(&e, 4, (int64_t[]){0, 0, 0, want[i] - width[i]})};
      v = kiln_ex_node1(&e, "Pad", pd, 2, -1, "padded");
    }
    ins[i] = v;
  }
  kiln_ex_node1(&e, "Concat", ins, nin, out, "output");
  kiln_ex_attr_i(&e, "axis", 1);
  kiln_ex_end(&e);
  free(want);
  free(rows);
  free(ins);
  return KILN_OK;
}

static const kiln_attr_spec onehot_attrs[] = {
    {"cats_int64s", KILN_ATTR_INTS, false}, {"cats_strings", KILN_ATTR_STRINGS, false},
    {"zeros", KILN_ATTR_INT, false}, {NULL}};
static const kiln_attr_spec check_attrs[] = {
    {"count", KILN_ATTR_INT, true}, {"what", KILN_ATTR_STRING, false}, {NULL}};
static const kiln_attr_spec vectorizer_attrs[] = {{"inputdimensions", KILN_ATTR_INTS, true}, {NULL}};

const kiln_op_def kiln_ops_ml_features[] = {
    {"OneHotEncoder", 1, 1, 1, 1, onehot_attrs, kiln_infer_resolved, NULL, expand_onehot,
     KILN_OP_RESOLVE | KILN_OP_STRINGS},
    {"CategoryCheck", 1, 1, 1, 1, check_attrs, infer_check, lower_check, NULL, KILN_OP_ELEMENTWISE},
    {"FeatureVectorizer", 1, -1, 1, 1, vectorizer_attrs, kiln_infer_resolved, NULL,
     expand_vectorizer, KILN_OP_RESOLVE},
    {NULL},
};
