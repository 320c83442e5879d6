/* Ops whose output sizes depend on their inputs' values: NonZero, Unique and Compress
 * (NonMaxSuppression: ir/ops/nms.c; both files share select.h). NonZero of a value
 * computed at run time has its count computed then (ir/ops/select_run.c), and so has Unique
 * (ir/ops/unique_run.c). Otherwise the
 * values that decide a size must be known at compile time: constants, or graph
 * inputs the caller binds with kiln_options.values (kiln_need_value names them when they
 * are not). NonZero and Unique then have constant outputs: inference computes their
 * shapes and expansion their data, and the node goes away (no kernel). Compress with a
 * constant condition becomes a Gather of the selected indices (a constant table), so
 * its input may stay a run-time value; when that is constant too, the Gather folds (with
 * a run-time condition: ir/ops/select_run.c). */
#include "ir/op.h"
#include "ir/ops/expand.h"
#include "ir/ops/select.h"

#include "ir/dtype.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const kiln_value *kiln_select_known(const kiln_graph *g, const kiln_node *n, int i,
                                    kiln_error *err) {
  const kiln_value *v = kiln_node_in(g, n, i);
  if (!v) {
    kiln_fail(err, KILN_ERR_INVALID_MODEL, "node '%s' (%s): input %d is missing", n->name,
              n->op_type, i);
    return NULL;
  }
  if (!v->data && kiln_value_numel(v) != 0) {
    kiln_need_value(g, n, v, "a value", err);
    return NULL;
  }
  return kiln_need_fixed(g, n, i, err) ? NULL : v;
}

void kiln_select_set_out(kiln_graph *g, const kiln_node *n, int i, void *data) {
  kiln_value *v = kiln_node_out(g, n, i);
  if (!v) {
    free(data);
    return;
  }
  kiln_tensor t = {v->dtype, v->rank, {0}, data};
  memcpy(t.dims, v->dims, sizeof t.dims);
  kiln_value_set_const(v, &t);
}

/* An array of count int64s (at least one byte: a constant's data is never NULL here). */
static int64_t *new_i64(int64_t count) {
  return kiln_xmalloc(sizeof(int64_t) * (size_t)(count > 0 ? count : 1));
}

/* ---- NonZero --------------------------------------------------------------------------- */

static bool nonzero_at(const kiln_value *x, int64_t i) {
  if (kiln_dtype_is_float(x->dtype)) return kiln_load_f64(x->dtype, x->data, i) != 0; /* NaN too */
  return kiln_load_i64(x->dtype, x->data, i) != 0;
}

static kiln_status infer_nonzero(kiln_graph *g, kiln_node *n, kiln_error *err) {
  if (kiln_nonzero_at_run(g, n)) return kiln_nonzero_infer_run(g, n, err);
  const kiln_value *x = kiln_select_known(g, n, 0, err);
  if (!x) return err->code;
  int64_t numel = kiln_value_numel(x), count = 0;
  for (int64_t i = 0; i < numel; i++) count += nonzero_at(x, i);
  int64_t dims[2] = {x->rank, count}; /* a scalar gives [0, count], as the spec says */
  kiln_set_out(g, n, 0, KILN_I64, 2, dims);
  return KILN_OK;
}

/* out[d][j]: coordinate d of the j-th nonzero element in row-major order. */
static kiln_status expand_nonzero(kiln_graph *g, kiln_block *b, int pos, kiln_error *err) {
  const kiln_node *n = &g->nodes[b->nodes[pos]];
  if (kiln_value_is_symbolic(kiln_node_out(g, n, 0))) return kiln_nonzero_expand_run(g, b, pos, err);
  const kiln_value *x = kiln_node_in(g, n, 0);
  int64_t numel = kiln_value_numel(x), count = kiln_node_out(g, n, 0)->dims[1];
  int64_t *out = new_i64(x->rank * count);
  for (int64_t i = 0, j = 0; i < numel; i++) {
    if (!nonzero_at(x, i)) continue;
    for (int64_t d = x->rank - 1, rest = i; d >= 0; d--) {
      out[d * count + j] = rest % x->dims[d];
      rest /= x->dims[d];
    }
    j++;
  }
  kiln_select_set_out(g, n, 0, out);
  kiln_block_remove(g, b, pos);
  return KILN_OK;
}

/* ---- Unique ----------------------------------------------------------------------------- */

/* X viewed as [outer, len, inner]: its slices along the middle dim are compared (the
 * flattened X: outer = inner = 1). */
typedef struct unique_in {
  const kiln_value *x;
  int64_t outer, len, inner;
} unique_in;

/* What Unique finds, in output order: nunique slices, the first occurrence and count of
 * each, and for every slice of X the position of its unique slice. */
typedef struct unique_out {
  int64_t nunique;
  int64_t *first, *counts, *inverse;
} unique_out;

/* Element order of numpy's sort: by value, NaN after every number and equal to NaN;
 * u64 compared unsigned. */
static int cmp_elem(kiln_dtype t, const void *data, int64_t a, int64_t b) {
  if (kiln_dtype_is_float(t)) {
    double x = kiln_load_f64(t, data, a), y = kiln_load_f64(t, data, b);
    if (isnan(x) || isnan(y)) return (int)isnan(x) - (int)isnan(y);
    return (x > y) - (x < y);
  }
  if (t == KILN_U64) {
    uint64_t x = (uint64_t)kiln_load_i64(t, data, a), y = (uint64_t)kiln_load_i64(t, data, b);
    return (x > y) - (x < y);
  }
  int64_t x = kiln_load_i64(t, data, a), y = kiln_load_i64(t, data, b);
  return (x > y) - (x < y);
}

/* Slices a and b compared lexicographically, in row-major order of their elements. */
static int cmp_slices(const unique_in *u, int64_t a, int64_t b) {
  for (int64_t o = 0; o < u->outer; o++)
    for (int64_t j = 0; j < u->inner; j++) {
      int64_t base = o * u->len * u->inner + j;
      int c = cmp_elem(u->x->dtype, u->x->data, base + a * u->inner, base + b * u->inner);
      if (c) return c;
    }
  return 0;
}

/* A slice to sort; each carries the input so that qsort needs no global state. */
typedef struct unique_item {
  const unique_in *u;
  int64_t i;
} unique_item;

static int cmp_items(const void *pa, const void *pb) {
  const unique_item *a = pa, *b = pb;
  int c = cmp_slices(a->u, a->i, b->i);
  return c ? c : (a->i > b->i) - (a->i < b->i); /* stable: the first occurrence first */
}

/* The slicing of X Unique works on: along `axis` when given, else the flattened X. */
static kiln_status unique_input(const kiln_graph *g, const kiln_node *n, unique_in *u,
                                int *axis, kiln_error *err) {
  if (!(u->x = kiln_select_known(g, n, 0, err))) return err->code;
  const kiln_value *x = u->x;
  *axis = -1;
  u->outer = u->inner = 1;
  u->len = kiln_value_numel(x);
  if (!kiln_node_attr(n, "axis")) return KILN_OK;
  if (x->rank == 0)
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "axis given for a scalar input");
  if (kiln_norm_axis(n, kiln_attr_int(n, "axis", 0), x->rank, axis, err)) return err->code;
  u->len = x->dims[*axis];
  u->outer = kiln_shape_numel(*axis, x->dims);
  u->inner = kiln_shape_numel(x->rank - *axis - 1, x->dims + *axis + 1);
  return KILN_OK;
}

/* Sorts the slices, groups equal ones, and orders the groups by value (sorted) or by
 * first occurrence. */
static void unique_run(const unique_in *u, bool sorted, unique_out *r) {
  int64_t len = u->len;
  unique_item *items = kiln_xmalloc(sizeof *items * (size_t)(len > 0 ? len : 1));
  for (int64_t i = 0; i < len; i++) items[i] = (unique_item){u, i};
  qsort(items, (size_t)len, sizeof *items, cmp_items);
  int64_t *group = new_i64(len), ngroups = 0; /* group of each slice of X */
  r->first = new_i64(len);
  r->counts = new_i64(len);
  for (int64_t s = 0; s < len; s++) {
    if (s == 0 || cmp_slices(u, items[s - 1].i, items[s].i)) {
      r->first[ngroups] = items[s].i;
      r->counts[ngroups++] = 0;
    }
    group[items[s].i] = ngroups - 1;
    r->counts[ngroups - 1]++;
  }
  free(items);
  r->nunique = ngroups;
  int64_t *rank = new_i64(ngroups); /* output position of each group */
  for (int64_t k = 0; k < ngroups; k++) rank[k] = sorted ? k : -1;
  for (int64_t i = 0, next = 0; i < len && !sorted; i++) /* by first occurrence */
    if (rank[group[i]] < 0) rank[group[i]] = next++;
  if (!sorted) {
    int64_t *first = new_i64(ngroups), *counts = new_i64(ngroups);
    for (int64_t k = 0; k < ngroups; k++) {
      first[rank[k]] = r->first[k];
      counts[rank[k]] = r->counts[k];
    }
    free(r->first);
    free(r->counts);
    r->first = first;
    r->counts = counts;
  }
  r->inverse = new_i64(len);
  for (int64_t i = 0; i < len; i++) r->inverse[i] = rank[group[i]];
  free(rank);
  free(group);
}

static void unique_free(unique_out *r) {
  free(r->first);
  free(r->counts);
  free(r->inverse);
}

static kiln_status infer_unique(kiln_graph *g, kiln_node *n, kiln_error *err) {
  if (kiln_unique_at_run(g, n)) return kiln_unique_infer_run(g, n, err);
  unique_in u;
  int axis;
  if (unique_input(g, n, &u, &axis, err)) return err->code;
  unique_out r;
  unique_run(&u, kiln_attr_int(n, "sorted", 1) != 0, &r);
  int64_t dims[KILN_MAX_RANK];
  memcpy(dims, u.x->dims, sizeof dims);
  if (axis >= 0) dims[axis] = r.nunique;
  kiln_set_out(g, n, 0, u.x->dtype, axis >= 0 ? u.x->rank : 1, axis >= 0 ? dims : &r.nunique);
  kiln_set_out(g, n, 1, KILN_I64, 1, &r.nunique);
  kiln_set_out(g, n, 2, KILN_I64, 1, &u.len);
  kiln_set_out(g, n, 3, KILN_I64, 1, &r.nunique);
  unique_free(&r);
  return KILN_OK;
}

static kiln_status expand_unique(kiln_graph *g, kiln_block *b, int pos, kiln_error *err) {
  const kiln_node *n = &g->nodes[b->nodes[pos]];
  if (kiln_unique_at_run(g, n)) return kiln_unique_expand_run(g, b, pos, err);
  unique_in u;
  int axis;
  if (unique_input(g, n, &u, &axis, err)) return err->code;
  unique_out r;
  unique_run(&u, kiln_attr_int(n, "sorted", 1) != 0, &r);
  size_t es = kiln_dtype_size(u.x->dtype), run = es * (size_t)u.inner;
  char *y = kiln_xmalloc(run * (size_t)(u.outer * r.nunique) + 1);
  for (int64_t o = 0; o < u.outer; o++) /* Y[o, k, :] = X[o, first[k], :] */
    for (int64_t k = 0; k < r.nunique && run; k++)
      memcpy(y + run * (size_t)(o * r.nunique + k),
             (const char *)u.x->data + run * (size_t)(o * u.len + r.first[k]), run);
  kiln_select_set_out(g, n, 0, y);
  kiln_select_set_out(g, n, 1, r.first);
  kiln_select_set_out(g, n, 2, r.inverse);
  kiln_select_set_out(g, n, 3, r.counts);
  kiln_block_remove(g, b, pos);
  return KILN_OK;
}

/* ---- Compress --------------------------------------------------------------------------- */

/* The condition's values (known at compile time), the axis (-1: the flattened input) and
 * how many slices it selects. */
static kiln_status compress_condition(const kiln_graph *g, const kiln_node *n,
                                      const kiln_value **cond, int *axis, int64_t *count,
                                      kiln_error *err) {
  const kiln_value *x = kiln_node_in(g, n, 0);
  if (!(*cond = kiln_select_known(g, n, 1, err))) return err->code;
  const kiln_value *c = *cond;
  if (c->rank != 1 || c->dtype != KILN_BOOL)
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "condition must be a 1-D bool tensor");
  *axis = -1;
  if (kiln_node_attr(n, "axis")) {
    if (x->rank == 0)
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "axis given for a scalar input");
    if (kiln_norm_axis(n, kiln_attr_int(n, "axis", 0), x->rank, axis, err)) return err->code;
  }
  int64_t slices = *axis >= 0 ? x->dims[*axis] : kiln_value_numel(x);
  if (c->dims[0] > slices)
    return kiln_fail(err, KILN_ERR_SHAPE,
                     "node '%s' (%s): condition '%s' has %lld entries, more than the %lld %s",
                     n->name, n->op_type, c->name, (long long)c->dims[0], (long long)slices,
                     *axis >= 0 ? "slices along the axis" : "elements of the input");
  *count = 0;
  for (int64_t i = 0; i < c->dims[0]; i++) *count += kiln_load_i64(c->dtype, c->data, i) != 0;
  return KILN_OK;
}

static kiln_status infer_compress(kiln_graph *g, kiln_node *n, kiln_error *err) {
  if (kiln_compress_at_run(g, n)) return kiln_compress_infer_run(g, n, err);
  const kiln_value *x = kiln_node_in(g, n, 0), *cond;
  int axis;
  int64_t count, dims[KILN_MAX_RANK];
  if (compress_condition(g, n, &cond, &axis, &count, err)) return err->code;
  if (kiln_value_is_symbolic(x)) /* (its infer sets its own free dims: KILN_OP_DATA_DIMS) */
    return kiln_fail_node(n, err, KILN_ERR_UNSUPPORTED, "an input with free dims and a constant "
                          "condition");
  memcpy(dims, x->dims, sizeof dims);
  if (axis >= 0) dims[axis] = count;
  kiln_set_out(g, n, 0, x->dtype, axis >= 0 ? x->rank : 1, axis >= 0 ? dims : &count);
  return KILN_OK;
}

/* Gather(input, the selected indices, axis), the input flattened first without an axis.
 * Nothing selected: the output is an empty constant. */
static kiln_status expand_compress(kiln_graph *g, kiln_block *b, int pos, kiln_error *err) {
  const kiln_node *n = &g->nodes[b->nodes[pos]];
  if (kiln_compress_at_run(g, n)) return kiln_compress_expand_run(g, b, pos, err);
  const kiln_value *cond;
  int axis, data = n->inputs[0], out = n->outputs[0];
  int64_t count;
  if (compress_condition(g, n, &cond, &axis, &count, err)) return err->code;
  int64_t *sel = new_i64(count), numel = kiln_value_numel(&g->values[data]);
  for (int64_t i = 0, j = 0; i < cond->dims[0]; i++)
    if (kiln_load_i64(cond->dtype, cond->data, i)) sel[j++] = i;
  if (count == 0) {
    kiln_select_set_out(g, n, 0, sel);
    kiln_block_remove(g, b, pos);
    return KILN_OK;
  }
  kiln_ex x;
  kiln_ex_begin(&x, g, b, pos, KILN_I64); /* n is stale from here: the node table grows */
  if (axis < 0) data = kiln_ex_binary(&x, "Reshape", data, kiln_ex_int1(&x, numel), "flat");
  kiln_tensor t = {KILN_I64, 1, {count}, sel};
  int idx = kiln_ex_value(&x, "indices");
  kiln_value_set_const(&g->values[idx], &t);
  int ins[2] = {data, idx};
  kiln_ex_node1(&x, "Gather", ins, 2, out, "gather");
  kiln_ex_attr_i(&x, "axis", axis < 0 ? 0 : axis);
  kiln_ex_end(&x);
  return KILN_OK;
}

static const kiln_attr_spec unique_attrs[] = {
    {"axis", KILN_ATTR_INT, false}, {"sorted", KILN_ATTR_INT, false}, {NULL}};
static const kiln_attr_spec compress_attrs[] = {{"axis", KILN_ATTR_INT, false}, {NULL}};

const kiln_op_def kiln_ops_select[] = {
    {"NonZero", 1, 1, 1, 1, NULL, infer_nonzero, NULL, expand_nonzero, KILN_OP_DATA_DIMS},
    {"Unique", 1, 1, 1, 4, unique_attrs, infer_unique, NULL, expand_unique, KILN_OP_DATA_DIMS},
    {"Compress", 2, 2, 1, 1, compress_attrs, infer_compress, NULL, expand_compress,
     KILN_OP_DATA_DIMS | KILN_OP_STRINGS},
    {NULL},
};
