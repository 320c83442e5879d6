/* NonZero of a value computed at run time: its output [rank, count] has a size only the
 * run knows (and Compress with a condition computed at run time, a Gather of its NonZero). The count is a data sym of the graph (ir/symdim.h): at most the input's
 * element count, the size memory is planned at, and written by a kernel into the run's
 * dims, where every later kernel reads it as it reads a free dim (so consumers need take
 * only free dims). The node expands into two internal ops:
 *
 *   NonZeroList(x)          -> list [numel + 1]: the flat positions of the nonzero
 *                              elements, in order, and the count written into the dims.
 *                              Its stages run in order (kiln_stage.ordered): a running
 *                              count, then each nonzero element stores its position at
 *                              its count (a zero one at the spare last slot).
 *   NonZeroIndices(x, list) -> out [rank, count]: each position unflattened by x's dims,
 *                              a kernel that reads the count from the dims.
 *
 * Both take free dims in x. A kernel reads the dims once at its start, which is why the
 * count and its consumers are separate kernels. */
#include "ir/op.h"
#include "ir/ops/expand.h"
#include "ir/ops/select.h"

#include "ir/dtype.h"

#include <stdlib.h>
#include <string.h>

/* Symbolic inference tries counts from 2 up to the bound (passes/sym_points.c), so a
 * static input of fewer than 3 elements keeps needing its value at compile time. */
bool kiln_nonzero_at_run(const kiln_graph *g, const kiln_node *n) {
  const kiln_value *x = kiln_node_in(g, n, 0);
  return x && x->rank > 0 && (kiln_value_is_symbolic(x) || kiln_value_has_sym_data(x) ||
                              (!x->data && kiln_value_numel(x) >= 3));
}

/* Output 0 of n: [rank of input 0, count], the count data sym `sym`. */
static kiln_status set_indices(kiln_graph *g, const kiln_node *n, int sym, kiln_error *err) {
  if (kiln_select_check_count(g, n, sym, err)) return err->code;
  kiln_symdim dims[2] = {kiln_symdim_const(kiln_node_in(g, n, 0)->rank), kiln_symdim_sym(sym)};
  return kiln_set_out_sym(g, n, 0, KILN_I64, 2, dims, err);
}

kiln_status kiln_select_check_count(const kiln_graph *g, const kiln_node *n, int sym,
                                    kiln_error *err) {
  if (sym >= 0 && sym < g->nsyms && g->sym_def[sym].den == KILN_SYMDIV_DATA) return KILN_OK;
  return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "its 'sym' names no count of the graph");
}

void kiln_select_running(kiln_kernel *k, kiln_stage *s, int buf, int rank, int axis,
                         kiln_expr **v, kiln_expr *add) {
  kiln_expr *prev[KILN_MAX_RANK];
  for (int d = 0; d < rank; d++) prev[d] = d != axis ? v[d] : kx_addi(k, v[d], -1);
  kiln_expr *before = kx_select(k, kx_binary(k, KB_GT, v[axis], kx_idx(k, 0)),
                                kx_load(k, buf, prev), kx_idx(k, 0));
  s->ordered = true;
  kiln_stage_store(k, s, v, kx_add(k, before, add));
}

/* The data sym named `name` (owned; freed here) for n. */
static int named_sym(kiln_graph *g, const kiln_node *n, char *name, const kiln_symdim *bound,
                     kiln_error *err) {
  int sym = kiln_graph_data_sym(g, name, bound);
  free(name);
  if (sym < 0)
    kiln_fail_node(n, err, KILN_ERR_UNSUPPORTED, "more than 32 free dims and counts computed at "
                   "run time");
  return sym;
}

/* The count of x's nonzero elements: one data sym per value, so that the NonZeros and
 * Compresses of one mask agree on it (RetinaNet takes its scores above the threshold and
 * their indices, by two NonZeros of one mask, then TopK of the one with k from the other). */
static int nonzero_count(kiln_graph *g, const kiln_node *n, const kiln_value *x,
                         const kiln_symdim *bound, kiln_error *err) {
  return named_sym(g, n, kiln_fmt("count(%s)", x->name), bound, err);
}

kiln_status kiln_nonzero_infer_run(kiln_graph *g, kiln_node *n, kiln_error *err) {
  const kiln_value *x = kiln_node_in(g, n, 0);
  kiln_symdim bound = kiln_symdim_const(1);
  for (int d = 0; d < x->rank; d++) {
    kiln_symdim dim = kiln_value_symdim(g, x, d);
    if (!kiln_symdim_mul(&bound, &dim, &bound))
      return kiln_fail_node(n, err, KILN_ERR_UNSUPPORTED, "its input's element count overflows");
  }
  int sym = nonzero_count(g, n, x, &bound, err);
  return sym < 0 ? err->code : set_indices(g, n, sym, err);
}

int kiln_select_data_sym(kiln_graph *g, const kiln_node *n, const char *what,
                         const kiln_symdim *bound, kiln_error *err) {
  return named_sym(g, n, kiln_fmt("%s(%s)", what, n->name), bound, err);
}

kiln_status kiln_nonzero_expand_run(kiln_graph *g, kiln_block *b, int pos, kiln_error *err) {
  const kiln_node *n = &g->nodes[b->nodes[pos]];
  int x = n->inputs[0], out = n->outputs[0];
  kiln_symdim count = kiln_value_symdim(g, &g->values[out], 1);
  int sym = kiln_graph_data_sym_of(g, &count);
  if (sym < 0) return kiln_fail_node(n, err, KILN_ERR_INTERNAL, "its output has no count");
  kiln_ex e;
  kiln_ex_begin(&e, g, b, pos, KILN_I64);
  int list = kiln_ex_node1(&e, "NonZeroList", &x, 1, -1, "list");
  kiln_ex_attr_i(&e, "sym", sym);
  kiln_ex_node1(&e, "NonZeroIndices", (int[]){x, list}, 2, out, "indices");
  kiln_ex_attr_i(&e, "sym", sym);
  kiln_ex_end(&e);
  return KILN_OK;
}

/* ---- Compress ------------------------------------------------------------------------- */

bool kiln_compress_at_run(const kiln_graph *g, const kiln_node *n) {
  const kiln_value *c = kiln_node_in(g, n, 1);
  return c && !c->data && c->rank == 1 && !c->sym[0] && c->dims[0] >= 3; /* as NonZero's */
}

/* The axis (-1: the input flattened) and the count's data sym, or an error. */
static kiln_status compress_plan(kiln_graph *g, const kiln_node *n, int *axis, int *sym,
                                 kiln_error *err) {
  const kiln_value *x = kiln_node_in(g, n, 0), *c = kiln_node_in(g, n, 1);
  if (c->rank != 1 || c->dtype != KILN_BOOL)
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "condition must be a 1-D bool tensor");
  *axis = -1;
  if (kiln_node_attr(n, "axis")) {
    if (x->rank == 0)
      return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "axis given for a scalar input");
    if (kiln_norm_axis(n, kiln_attr_int(n, "axis", 0), x->rank, axis, err)) return err->code;
  }
  /* a longer condition selects past the input: Gather's index check stops such a run */
  kiln_symdim bound = kiln_symdim_const(c->dims[0]);
  *sym = nonzero_count(g, n, c, &bound, err);
  return *sym < 0 ? err->code : KILN_OK;
}

kiln_status kiln_compress_infer_run(kiln_graph *g, kiln_node *n, kiln_error *err) {
  int axis, sym;
  if (compress_plan(g, n, &axis, &sym, err)) return err->code;
  const kiln_value *x = kiln_node_in(g, n, 0);
  kiln_symdim dims[KILN_MAX_RANK];
  int rank = axis >= 0 ? x->rank : 1;
  for (int d = 0; d < rank; d++)
    dims[d] = d == axis || axis < 0 ? kiln_symdim_sym(sym) : kiln_value_symdim(g, x, d);
  return kiln_set_out_sym(g, n, 0, x->dtype, rank, dims, err);
}

/* Gather(input, the condition's NonZero as a list, axis), the input flattened first
 * without an axis. */
kiln_status kiln_compress_expand_run(kiln_graph *g, kiln_block *b, int pos, kiln_error *err) {
  const kiln_node *n = &g->nodes[b->nodes[pos]];
  int axis, sym;
  if (compress_plan(g, n, &axis, &sym, err)) return err->code;
  int data = n->inputs[0], cond = n->inputs[1], out = n->outputs[0];
  kiln_ex e;
  kiln_ex_begin(&e, g, b, pos, KILN_I64); /* n is stale from here */
  int list = kiln_ex_node1(&e, "NonZeroList", &cond, 1, -1, "list");
  kiln_ex_attr_i(&e, "sym", sym);
  int at = kiln_ex_node1(&e, "NonZeroIndices", (int[]){cond, list}, 2, -1, "at");
  kiln_ex_attr_i(&e, "sym", sym);
  int idx = kiln_ex_binary(&e, "Squeeze", at, kiln_ex_int1(&e, 0), "indices");
  if (axis < 0) data = kiln_ex_binary(&e, "Reshape", data, kiln_ex_int1(&e, -1), "flat");
  kiln_ex_node1(&e, "Gather", (int[]){data, idx}, 2, out, "gather");
  kiln_ex_attr_i(&e, "axis", axis < 0 ? 0 : axis);
  kiln_ex_end(&e);
  return KILN_OK;
}

/* ---- NonZeroList ---------------------------------------------------------------------- */

static kiln_status infer_list(kiln_graph *g, kiln_node *n, kiln_error *err) {
  (void)err;
  int64_t dims[1] = {kiln_value_numel(kiln_node_in(g, n, 0)) + 1};
  kiln_set_out(g, n, 0, KILN_I64, 1, dims);
  return KILN_OK;
}

static kiln_expr *nonzero(kiln_kernel *k, int xb, kiln_expr *i) {
  kiln_dtype t = k->bufs[xb].dtype;
  kiln_expr *zero = kiln_dtype_is_float(t) ? kx_const_f(k, t, 0) : kx_const_i(k, t, 0);
  return kx_binary(k, KB_NE, kx_load(k, xb, &i), zero); /* NaN too */
}

static kiln_status lower_list(kiln_lower_ctx *c) {
  kiln_kernel *k = c->k;
  const kiln_graph *g = c->g;
  int sym = (int)kiln_attr_int(c->n, "sym", -1);
  if (kiln_select_check_count(g, c->n, sym, c->err)) return c->err->code;
  kiln_buffer *x = &k->bufs[c->in_buf[0]];
  int64_t n = kiln_shape_numel(x->rank, x->dims);
  x->rank = 1; /* read flat */
  x->dims[0] = n;
  int xb = c->in_buf[0], list = c->out_buf[0];
  int cum = kiln_kernel_add_buffer(k, "count", KILN_BUF_TEMP, -1, KILN_I64, 1, &n);

  /* count[i] = count[i - 1] + (x[i] != 0) */
  kiln_stage *s = kiln_kernel_add_stage(k, "nonzero_count", cum);
  kiln_expr *i = kx_var(k, kiln_stage_axis(s, n, false));
  kiln_select_running(k, s, cum, 1, 0, &i, kx_select(k, nonzero(k, xb, i), kx_idx(k, 1), kx_idx(k, 0)));

  /* list[count[i] - 1] = i where x[i] != 0; the others all go to list[n] */
  s = kiln_kernel_add_stage(k, "nonzero_list", list);
  s->ordered = true;
  i = kx_var(k, kiln_stage_axis(s, n, false));
  kiln_expr *at = kx_select(k, nonzero(k, xb, i), kx_addi(k, kx_load(k, cum, &i), -1),
                            kx_idx(k, n));
  kiln_stage_store(k, s, &at, i);

  /* the run's dims: [sym] = the last count (the largest: n may be a count that is 0) */
  s = kiln_kernel_add_stage(k, "nonzero_total", kiln_lower_dims_buf(k, g));
  s->ordered = true;
  kiln_stage_axis(s, 1, false);
  i = kx_var(k, kiln_stage_axis(s, n, true));
  s->reduce = KR_MAX;
  s->init = kx_idx(k, 0);
  kiln_expr *slot = kx_idx(k, sym);
  kiln_stage_store(k, s, &slot, kx_load(k, cum, &i));
  return KILN_OK;
}

/* ---- NonZeroIndices ------------------------------------------------------------------- */

static kiln_status infer_indices(kiln_graph *g, kiln_node *n, kiln_error *err) {
  return set_indices(g, n, (int)kiln_attr_int(n, "sym", -1), err);
}

/* out[d, j] = coordinate d of flat position list[j] in x */
static kiln_status lower_indices(kiln_lower_ctx *c) {
  kiln_kernel *k = c->k;
  const kiln_buffer *x = &k->bufs[c->in_buf[0]], *out = &k->bufs[c->out_buf[0]];
  kiln_stage *s = kiln_kernel_add_stage(k, "nonzero_indices", c->out_buf[0]);
  kiln_expr *v[2];
  for (int d = 0; d < 2; d++) v[d] = kx_var(k, kiln_stage_axis(s, out->dims[d], false));
  kiln_expr *flat = kx_load(k, c->in_buf[1], &v[1]), *coord = NULL;
  int64_t stride = 1;
  for (int d = x->rank - 1; d >= 0; d--) {
    kiln_expr *cd = kx_binary(k, KB_MOD, kx_binary(k, KB_DIV, flat, kx_idx(k, stride)),
                              kx_idx(k, x->dims[d]));
    coord = coord ? kx_select(k, kx_binary(k, KB_EQ, v[0], kx_idx(k, d)), cd, coord) : cd;
    stride *= x->dims[d];
  }
  kiln_stage_store(k, s, v, coord);
  return KILN_OK;
}

static const kiln_attr_spec sym_attrs[] = {{"sym", KILN_ATTR_INT, true}, {NULL}};

const kiln_op_def kiln_ops_select_run[] = {
    {"NonZeroList", 1, 1, 1, 1, sym_attrs, infer_list, lower_list, NULL, KILN_OP_SYMBOLIC},
    {"NonZeroIndices", 2, 2, 1, 1, sym_attrs, infer_indices, lower_indices, NULL,
     KILN_OP_SYMBOLIC | KILN_OP_DATA_DIMS},
    {NULL},
};
