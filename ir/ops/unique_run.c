/* Unique of a value computed at run time: how many distinct slices it has only the run
 * knows, so, as for NonZero (ir/ops/select_run.c), that count U is a data sym of the graph,
 * at most the slice count. X is viewed as [outer, len, inner], its len slices compared
 * (flattened: outer = inner = 1), in numpy's order (ir/ops/select.c does the same at
 * compile time: NaN after every number and equal to NaN). The node expands into
 *
 *   UniqueFind(x)        -> inverse [len]: each slice's output position (sorted: the
 *                           distinct slices below it; else the first occurrences before
 *                           its own); counts [len]: the slices equal to each; firsts
 *                           [len + 1]: the first occurrence at each output position. U is
 *                           written into the run's dims.
 *   UniqueFirst(firsts)  -> indices [U]
 *   Gather(x, indices, axis) -> Y (the flattened x without an axis); Gather(counts, indices)
 *
 * Every pair of slices is compared: O(len^2 x slice) where onnxruntime sorts. */
#include "ir/op.h"
#include "ir/ops/expand.h"
#include "ir/ops/select.h"

#include "ir/dtype.h"


/* The axis (-1: flattened) of n, or an error. */
static kiln_status unique_axis(const kiln_graph *g, const kiln_node *n, int *axis,
                               kiln_error *err) {
  const kiln_value *x = kiln_node_in(g, n, 0);
  *axis = -1;
  if (!kiln_node_attr(n, "axis")) return KILN_OK;
  if (x->rank == 0)
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "axis given for a scalar input");
  return kiln_norm_axis(n, kiln_attr_int(n, "axis", 0), x->rank, axis, err);
}

/* Symbolic inference tries counts from 2 up to the bound (passes/sym_points.c), so fewer
 * than 3 static slices keep needing the value at compile time. */
bool kiln_unique_at_run(const kiln_graph *g, const kiln_node *n) {
  const kiln_value *x = kiln_node_in(g, n, 0);
  if (!x || (x->data && !kiln_value_is_symbolic(x) && !kiln_value_has_sym_data(x))) return false;
  kiln_error err = {0};
  int axis;
  if (unique_axis(g, n, &axis, &err)) return false; /* the compile-time path says why */
  if (axis >= 0) return x->sym[axis] || x->dims[axis] >= 3;
  return kiln_value_is_symbolic(x) || kiln_value_numel(x) >= 3;
}

/* The slice count: x's dim `axis`, or its element count. */
static bool slices_of(const kiln_graph *g, const kiln_value *x, int axis, kiln_symdim *len) {
  if (axis >= 0) {
    *len = kiln_value_symdim(g, x, axis);
    return true;
  }
  *len = kiln_symdim_const(1);
  for (int d = 0; d < x->rank; d++) {
    kiln_symdim dim = kiln_value_symdim(g, x, d);
    if (!kiln_symdim_mul(len, &dim, len)) return false;
  }
  return true;
}

static int count_sym(kiln_graph *g, const kiln_node *n, int axis, kiln_error *err) {
  kiln_symdim len;
  if (!slices_of(g, kiln_node_in(g, n, 0), axis, &len)) {
    kiln_fail_node(n, err, KILN_ERR_UNSUPPORTED, "its input's element count overflows");
    return -1;
  }
  return kiln_select_data_sym(g, n, "count", &len, err);
}

kiln_status kiln_unique_infer_run(kiln_graph *g, kiln_node *n, kiln_error *err) {
  int axis, sym;
  if (unique_axis(g, n, &axis, err)) return err->code;
  if ((sym = count_sym(g, n, axis, err)) < 0) return err->code;
  const kiln_value *x = kiln_node_in(g, n, 0);
  kiln_symdim dims[KILN_MAX_RANK], u = kiln_symdim_sym(sym), len;
  slices_of(g, x, axis, &len);
  for (int d = 0; d < x->rank; d++) dims[d] = d == axis ? u : kiln_value_symdim(g, x, d);
  kiln_status st = axis >= 0 ? kiln_set_out_sym(g, n, 0, x->dtype, x->rank, dims, err)
                             : kiln_set_out_sym(g, n, 0, x->dtype, 1, &u, err);
  if (!st) st = kiln_set_out_sym(g, n, 1, KILN_I64, 1, &u, err);
  if (!st) st = kiln_set_out_sym(g, n, 2, KILN_I64, 1, &len, err);
  if (!st) st = kiln_set_out_sym(g, n, 3, KILN_I64, 1, &u, err);
  return st;
}

kiln_status kiln_unique_expand_run(kiln_graph *g, kiln_block *b, int pos, kiln_error *err) {
  const kiln_node *n = &g->nodes[b->nodes[pos]];
  int axis, sym;
  if (unique_axis(g, n, &axis, err)) return err->code;
  if ((sym = count_sym(g, n, axis, err)) < 0) return err->code;
  int x = n->inputs[0], outs[4];
  for (int i = 0; i < 4; i++) outs[i] = i < n->noutputs ? n->outputs[i] : -1;
  bool sorted = kiln_attr_int(n, "sorted", 1) != 0;
  kiln_ex e;
  kiln_ex_begin(&e, g, b, pos, KILN_I64); /* n is stale from here */
  int found[3] = {outs[2], -1, -1};
  kiln_ex_node(&e, "UniqueFind", &x, 1, found, 3, "find");
  if (axis >= 0) kiln_ex_attr_i(&e, "axis", axis);
  kiln_ex_attr_i(&e, "sorted", sorted);
  kiln_ex_attr_i(&e, "sym", sym);
  int first = kiln_ex_node1(&e, "UniqueFirst", &found[2], 1, -1, "first");
  kiln_ex_attr_i(&e, "sym", sym);
  if (outs[1] >= 0) kiln_ex_node1(&e, "Identity", &first, 1, outs[1], "indices");
  if (outs[3] >= 0) kiln_ex_node1(&e, "Gather", (int[]){found[1], first}, 2, outs[3], "counts");
  if (outs[0] >= 0) {
    int data = axis >= 0 ? x : kiln_ex_binary(&e, "Reshape", x, kiln_ex_int1(&e, -1), "flat");
    kiln_ex_node1(&e, "Gather", (int[]){data, first}, 2, outs[0], "y");
    kiln_ex_attr_i(&e, "axis", axis < 0 ? 0 : axis);
  }
  kiln_ex_end(&e);
  return KILN_OK;
}

/* ---- UniqueFind ----------------------------------------------------------------------- */

static kiln_status infer_find(kiln_graph *g, kiln_node *n, kiln_error *err) {
  (void)err;
  const kiln_value *x = kiln_node_in(g, n, 0);
  int axis = (int)kiln_attr_int(n, "axis", -1);
  int64_t len = axis >= 0 && axis < x->rank ? x->dims[axis] : kiln_value_numel(x), more = len + 1;
  kiln_set_out(g, n, 0, KILN_I64, 1, &len);
  kiln_set_out(g, n, 1, KILN_I64, 1, &len);
  kiln_set_out(g, n, 2, KILN_I64, 1, &more);
  return KILN_OK;
}

static kiln_expr *is_nan(kiln_kernel *k, kiln_expr *a) {
  return kiln_dtype_is_float(a->dtype) ? kx_unary(k, KU_ISNAN, a) : NULL;
}

/* a and b the same element (NaN equal to NaN) */
static kiln_expr *same(kiln_kernel *k, kiln_expr *a, kiln_expr *b) {
  kiln_expr *eq = kx_binary(k, KB_EQ, a, b), *na = is_nan(k, a);
  return na ? kx_binary(k, KB_OR, eq, kx_and(k, na, is_nan(k, b))) : eq;
}

/* a before b in numpy's order (NaN after every number) */
static kiln_expr *less(kiln_kernel *k, kiln_expr *a, kiln_expr *b) {
  kiln_expr *lt = kx_binary(k, KB_LT, a, b), *na = is_nan(k, a);
  if (!na) return lt;
  return kx_and(k, kx_unary(k, KU_NOT, na), kx_binary(k, KB_OR, is_nan(k, b), lt));
}

static kiln_expr *flag(kiln_kernel *k, kiln_expr *c) {
  return kx_select(k, c, kx_idx(k, 1), kx_idx(k, 0));
}

static kiln_status lower_find(kiln_lower_ctx *c) {
  kiln_kernel *k = c->k;
  const kiln_graph *g = c->g;
  int sym = (int)kiln_attr_int(c->n, "sym", -1), axis = (int)kiln_attr_int(c->n, "axis", -1);
  bool sorted = kiln_attr_int(c->n, "sorted", 1) != 0;
  if (kiln_select_check_count(g, c->n, sym, c->err)) return c->err->code;
  kiln_buffer *xb = &k->bufs[c->in_buf[0]];
  if (axis >= xb->rank) return kiln_fail_node(c->n, c->err, KILN_ERR_INTERNAL, "axis out of range");
  int64_t outer = axis >= 0 ? kiln_shape_numel(axis, xb->dims) : 1;
  int64_t len = axis >= 0 ? xb->dims[axis] : kiln_shape_numel(xb->rank, xb->dims);
  int64_t inner = axis >= 0 ? kiln_shape_numel(xb->rank - axis - 1, xb->dims + axis + 1) : 1;
  xb->rank = 3; /* read as [outer, len, inner] */
  xb->dims[0] = outer, xb->dims[1] = len, xb->dims[2] = inner;
  int x = c->in_buf[0], inverse = c->out_buf[0], counts = c->out_buf[1], firsts = c->out_buf[2];
  int64_t pair[2] = {len, len}, S = outer * inner;
  int diff = kiln_kernel_add_buffer(k, "diff", KILN_BUF_TEMP, -1, KILN_I64, 2, pair);
  int fp = kiln_kernel_add_buffer(k, "first", KILN_BUF_TEMP, -1, KILN_I64, 1, &len);
  kiln_expr *v[4];

  /* diff[a, b] = the first position where slices a and b differ, S where none */
  kiln_stage *s = kiln_kernel_add_stage(k, "unique_diff", diff);
  for (int d = 0; d < 2; d++) v[d] = kx_var(k, kiln_stage_axis(s, len, false));
  v[2] = kx_var(k, kiln_stage_axis(s, outer, true));
  v[3] = kx_var(k, kiln_stage_axis(s, inner, true));
  kiln_expr *ea = kx_load(k, x, (kiln_expr *[]){v[2], v[0], v[3]});
  kiln_expr *eb = kx_load(k, x, (kiln_expr *[]){v[2], v[1], v[3]});
  kiln_expr *p = kx_add(k, kx_mul(k, v[2], kx_idx(k, inner)), v[3]);
  s->reduce = KR_MIN;
  s->init = kx_idx(k, S);
  kiln_stage_store(k, s, v, kx_select(k, same(k, ea, eb), kx_idx(k, S), p));

  /* first[a] = the first slice equal to a; counts[a] = the slices equal to a */
  for (int which = 0; which < 2; which++) {
    s = kiln_kernel_add_stage(k, which ? "unique_counts" : "unique_first", which ? counts : fp);
    for (int d = 0; d < 2; d++) v[d] = kx_var(k, kiln_stage_axis(s, len, d == 1));
    kiln_expr *eq = kx_binary(k, KB_EQ, kx_load(k, diff, v), kx_idx(k, S));
    s->reduce = which ? KR_SUM : KR_MIN;
    if (!which) s->init = kx_idx(k, len);
    kiln_stage_store(k, s, v, which ? flag(k, eq) : kx_select(k, eq, v[1], kx_idx(k, len)));
  }

  /* inverse[a] = the first occurrences b that go before a: sorted, those whose slice is
   * below a's (at the first position they differ); else those before a's first */
  s = kiln_kernel_add_stage(k, "unique_inverse", inverse);
  for (int d = 0; d < 2; d++) v[d] = kx_var(k, kiln_stage_axis(s, len, d == 1));
  kiln_expr *is_first = kx_binary(k, KB_EQ, kx_load(k, fp, &v[1]), v[1]), *before;
  if (sorted) {
    kiln_expr *at = kx_load(k, diff, (kiln_expr *[]){v[1], v[0]});
    kiln_expr *in = kx_binary(k, KB_LT, at, kx_idx(k, S)); /* they differ: S > 0 */
    kiln_expr *o = kx_binary(k, KB_DIV, at, kx_idx(k, inner));
    kiln_expr *j = kx_binary(k, KB_MOD, at, kx_idx(k, inner));
    /* a select, so that nothing is read where they are the same (maybe no elements) */
    before = kx_select(k, in, less(k, kx_load(k, x, (kiln_expr *[]){o, v[1], j}),
                                   kx_load(k, x, (kiln_expr *[]){o, v[0], j})),
                       kx_const_i(k, KILN_BOOL, 0));
  } else {
    before = kx_binary(k, KB_LT, v[1], kx_load(k, fp, &v[0]));
  }
  s->reduce = KR_SUM;
  kiln_stage_store(k, s, v, flag(k, kx_and(k, is_first, before)));

  /* firsts[inverse[a]] = a for the first occurrences; the others go to the spare slot */
  s = kiln_kernel_add_stage(k, "unique_firsts", firsts);
  s->ordered = true;
  v[0] = kx_var(k, kiln_stage_axis(s, len, false));
  kiln_expr *to = kx_select(k, kx_binary(k, KB_EQ, kx_load(k, fp, v), v[0]),
                            kx_load(k, inverse, v), kx_idx(k, len));
  kiln_stage_store(k, s, &to, v[0]);

  /* the run's dims: [sym] = the first occurrences */
  s = kiln_kernel_add_stage(k, "unique_total", kiln_lower_dims_buf(k, g));
  s->ordered = true;
  kiln_stage_axis(s, 1, false);
  v[0] = kx_var(k, kiln_stage_axis(s, len, true));
  s->reduce = KR_SUM;
  kiln_expr *slot = kx_idx(k, sym);
  kiln_stage_store(k, s, &slot, flag(k, kx_binary(k, KB_EQ, kx_load(k, fp, v), v[0])));
  return KILN_OK;
}

/* ---- UniqueFirst ---------------------------------------------------------------------- */

static kiln_status infer_first(kiln_graph *g, kiln_node *n, kiln_error *err) {
  int sym = (int)kiln_attr_int(n, "sym", -1);
  if (kiln_select_check_count(g, n, sym, err)) return err->code;
  kiln_symdim u = kiln_symdim_sym(sym);
  return kiln_set_out_sym(g, n, 0, KILN_I64, 1, &u, err);
}

static kiln_status lower_first(kiln_lower_ctx *c) {
  kiln_kernel *k = c->k;
  kiln_stage *s = kiln_kernel_add_stage(k, "unique_indices", c->out_buf[0]);
  kiln_expr *r = kx_var(k, kiln_stage_axis(s, k->bufs[c->out_buf[0]].dims[0], false));
  kiln_stage_store(k, s, &r, kx_load(k, c->in_buf[0], &r));
  return KILN_OK;
}

static const kiln_attr_spec find_attrs[] = {{"sym", KILN_ATTR_INT, true},
                                            {"axis", KILN_ATTR_INT, false},
                                            {"sorted", KILN_ATTR_INT, false},
                                            {NULL}};
static const kiln_attr_spec sym_attrs[] = {{"sym", KILN_ATTR_INT, true}, {NULL}};

const kiln_op_def kiln_ops_unique_run[] = {
    {"UniqueFind", 1, 1, 3, 3, find_attrs, infer_find, lower_find, NULL, KILN_OP_SYMBOLIC},
    {"UniqueFirst", 1, 1, 1, 1, sym_attrs, infer_first, lower_first, NULL,
     KILN_OP_SYMBOLIC | KILN_OP_DATA_DIMS},
    {NULL},
};
