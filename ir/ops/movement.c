/* Data movement: ops that copy elements to new places without arithmetic on them. Each
 * lowers to copy stages whose load (or store) index expressions do the moving; reshapes
 * live in reshape.c. */
#include "ir/op.h"

#include "ir/dtype.h"

#include <stdio.h>
#include <string.h>

#define MAX_SPLITS 32

/* An index read from input `in` of a dim of size n: checked at run time (ONNX makes an
 * index outside [-n, n) an error), a negative one counting from the end. An empty dim
 * has no valid index, so it fails here when there is any index to look up. */
kiln_expr *kiln_checked_index(kiln_lower_ctx *c, int in, kiln_expr *idx, int64_t n) {
  const kiln_value *v = kiln_node_in(c->g, c->n, in);
  char what[512];
  snprintf(what, sizeof what, "node '%s' (%s): input '%s'", c->n->name, c->n->op_type,
           v && v->name ? v->name : "?");
  return kx_check_index(c->k, idx, n, true, what);
}

static kiln_status check_gather_axis(kiln_lower_ctx *c, int64_t n) {
  const kiln_buffer *ind = &c->k->bufs[c->in_buf[1]];
  if (n > 0 || kiln_shape_numel(ind->rank, ind->dims) == 0) return KILN_OK;
  return kiln_fail_node(c->n, c->err, KILN_ERR_INVALID_MODEL,
                        "gathers along an empty axis: no index is in range");
}

static void copy_dims(int64_t *dst, const int64_t *src, int rank) {
  if (rank > 0) memcpy(dst, src, sizeof(int64_t) * (size_t)rank);
}

/* ---- Transpose ------------------------------------------------------------------------- */

static kiln_status transpose_perm(const kiln_node *n, int rank, int *perm, kiln_error *err) {
  const int64_t *p;
  int np = kiln_attr_ints(n, "perm", &p);
  bool seen[KILN_MAX_RANK] = {false};
  for (int d = 0; d < rank; d++) {
    int64_t a = np < 0 ? rank - 1 - d : d < np ? p[d] : -1;
    if (a < 0 || a >= rank || seen[a] || (np >= 0 && np != rank))
      return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "perm is not a permutation of the dims");
    seen[a] = true;
    perm[d] = (int)a;
  }
  return KILN_OK;
}

static kiln_status infer_transpose(kiln_graph *g, kiln_node *n, kiln_error *err) {
  const kiln_value *x = kiln_node_in(g, n, 0);
  int perm[KILN_MAX_RANK];
  int64_t dims[KILN_MAX_RANK];
  if (transpose_perm(n, x->rank, perm, err)) return err->code;
  for (int d = 0; d < x->rank; d++) dims[d] = x->dims[perm[d]];
  kiln_set_out(g, n, 0, x->dtype, x->rank, dims);
  return KILN_OK;
}

static kiln_status lower_transpose(kiln_lower_ctx *c) {
  kiln_kernel *k = c->k;
  int rank = k->bufs[c->in_buf[0]].rank, perm[KILN_MAX_RANK];
  if (transpose_perm(c->n, rank, perm, c->err)) return c->err->code;
  kiln_expr *v[KILN_MAX_RANK], *idx[KILN_MAX_RANK];
  kiln_stage *s = kiln_elementwise_stage(k, "transpose", c->out_buf[0], v);
  for (int d = 0; d < rank; d++) idx[perm[d]] = v[d];
  kiln_stage_store(k, s, v, kx_load(k, c->in_buf[0], idx));
  return KILN_OK;
}

/* ---- Concat and Split: one stage per piece, offset along the axis ------------------------ */

static kiln_status infer_concat(kiln_graph *g, kiln_node *n, kiln_error *err) {
  const kiln_value *x0 = kiln_node_in(g, n, 0);
  int axis;
  if (kiln_norm_axis(n, kiln_attr_int(n, "axis", 0), x0->rank, &axis, err)) return err->code;
  int64_t dims[KILN_MAX_RANK];
  copy_dims(dims, x0->dims, x0->rank);
  dims[axis] = 0;
  for (int i = 0; i < n->ninputs; i++) {
    const kiln_value *x = kiln_node_in(g, n, i);
    if (!x || x->rank != x0->rank || x->dtype != x0->dtype)
      return kiln_fail_node(n, err, KILN_ERR_SHAPE, "inputs differ in rank or type");
    for (int d = 0; d < x->rank; d++)
      if (d != axis && x->dims[d] != x0->dims[d])
        return kiln_fail_node(n, err, KILN_ERR_SHAPE, "inputs differ in a dim off the axis");
    dims[axis] += x->dims[axis];
  }
  kiln_set_out(g, n, 0, x0->dtype, x0->rank, dims);
  return KILN_OK;
}

static kiln_status lower_concat(kiln_lower_ctx *c) {
  kiln_kernel *k = c->k;
  int rank = k->bufs[c->out_buf[0]].rank, axis = 0;
  if (kiln_norm_axis(c->n, kiln_attr_int(c->n, "axis", 0), rank, &axis, c->err))
    return c->err->code;
  int64_t off = 0;
  for (int i = 0; i < c->n->ninputs; i++) {
    int in = c->in_buf[i];
    kiln_expr *v[KILN_MAX_RANK], *idx[KILN_MAX_RANK];
    if (c->g->values[c->n->inputs[i]].placed_in == c->n->outputs[0] + 1) { /* already there */
      off += k->bufs[in].dims[axis];
      continue;
    }
    kiln_stage *s = kiln_kernel_add_stage(k, "concat", c->out_buf[0]);
    for (int d = 0; d < rank; d++) v[d] = kx_var(k, kiln_stage_axis(s, k->bufs[in].dims[d], false));
    for (int d = 0; d < rank; d++) idx[d] = d == axis ? kx_addi(k, v[d], off) : v[d];
    kiln_stage_store(k, s, idx, kx_load(k, in, v));
    off += k->bufs[in].dims[axis];
  }
  return KILN_OK;
}

/* Sizes of Split's pieces: the split input, else num_outputs (or the output count) pieces
 * of ceil(dim / count), the last one smaller. */
static kiln_status split_sizes(const kiln_graph *g, const kiln_node *n, int64_t dim,
                               int64_t *sizes, kiln_error *err) {
  int count = n->noutputs;
  if (kiln_node_in(g, n, 1)) {
    if (kiln_const_ints(g, n, 1, sizes, MAX_SPLITS, &count, err)) return err->code;
  } else {
    int64_t chunk = (dim + count - 1) / count;
    for (int i = 0; i < count; i++) {
      int64_t left = dim - chunk * i;
      sizes[i] = left < 0 ? 0 : left < chunk ? left : chunk;
    }
  }
  int64_t total = 0;
  for (int i = 0; i < count; i++) {
    if (sizes[i] < 0) return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "negative split size");
    total += sizes[i];
  }
  if (count != n->noutputs || total != dim)
    return kiln_fail_node(n, err, KILN_ERR_SHAPE, "split sizes do not match the outputs and dim");
  return KILN_OK;
}

static kiln_status infer_split(kiln_graph *g, kiln_node *n, kiln_error *err) {
  const kiln_value *x = kiln_node_in(g, n, 0);
  int axis;
  int64_t sizes[MAX_SPLITS], dims[KILN_MAX_RANK];
  if (n->noutputs > MAX_SPLITS) return kiln_fail_node(n, err, KILN_ERR_LIMIT, "too many outputs");
  if (kiln_norm_axis(n, kiln_attr_int(n, "axis", 0), x->rank, &axis, err) ||
      split_sizes(g, n, x->dims[axis], sizes, err))
    return err->code;
  copy_dims(dims, x->dims, x->rank);
  for (int i = 0; i < n->noutputs; i++) {
    dims[axis] = sizes[i];
    kiln_set_out(g, n, i, x->dtype, x->rank, dims);
  }
  return KILN_OK;
}

static kiln_status lower_split(kiln_lower_ctx *c) {
  kiln_kernel *k = c->k;
  int in = c->in_buf[0], rank = k->bufs[in].rank, axis = 0;
  if (kiln_norm_axis(c->n, kiln_attr_int(c->n, "axis", 0), rank, &axis, c->err))
    return c->err->code;
  int64_t off = 0;
  for (int i = 0; i < c->n->noutputs; i++) {
    int out = c->out_buf[i];
    if (out < 0) continue;
    kiln_expr *v[KILN_MAX_RANK], *idx[KILN_MAX_RANK];
    kiln_stage *s = kiln_elementwise_stage(k, "split", out, v);
    for (int d = 0; d < rank; d++) idx[d] = d == axis ? kx_addi(k, v[d], off) : v[d];
    kiln_stage_store(k, s, v, kx_load(k, in, idx));
    off += k->bufs[out].dims[axis];
  }
  return KILN_OK;
}

/* ---- Slice -------------------------------------------------------------------------------- */

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : v > hi ? hi : v; }

/* Per dim: first index, step and length of the slice (numpy semantics, clamped). */
static kiln_status slice_params(const kiln_graph *g, const kiln_node *n, int rank,
                                const int64_t *dims, int64_t *start, int64_t *step,
                                int64_t *len, int *clamp, kiln_error *err) {
  int64_t st[KILN_MAX_RANK], en[KILN_MAX_RANK], ax[KILN_MAX_RANK], sp[KILN_MAX_RANK];
  int ns, ne, na, nsp;
  if (kiln_const_ints(g, n, 1, st, KILN_MAX_RANK, &ns, err) ||
      kiln_const_ints(g, n, 2, en, KILN_MAX_RANK, &ne, err))
    return err->code;
  na = nsp = ns;
  for (int i = 0; i < ns; i++) ax[i] = i, sp[i] = 1;
  if (kiln_node_in(g, n, 3) && kiln_const_ints(g, n, 3, ax, KILN_MAX_RANK, &na, err))
    return err->code;
  if (kiln_node_in(g, n, 4) && kiln_const_ints(g, n, 4, sp, KILN_MAX_RANK, &nsp, err))
    return err->code;
  if (ne != ns || na != ns || nsp != ns)
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "starts, ends, axes, steps differ in length");
  bool seen[KILN_MAX_RANK] = {false};
  for (int d = 0; d < rank; d++) start[d] = 0, step[d] = 1, len[d] = dims[d], clamp[d] = 0;
  for (int i = 0; i < ns; i++) {
    int a;
    if (kiln_norm_axis(n, ax[i], rank, &a, err)) return err->code;
    if (seen[a] || sp[i] == 0)
      return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "repeated axis or zero step");
    seen[a] = true;
    int64_t dim = dims[a], s = st[i], e = en[i], p = sp[i];
    if (dim == 0) { /* nothing to take (a negative step's clamp to dim - 1 would take one) */
      start[a] = 0, step[a] = p, len[a] = 0;
      continue;
    }
    if (s < 0) s += dim;
    if (e < 0) e += dim;
    clamp[a] = s < 0 ? 1 : s > dim - (p < 0) ? 2 : 0;
    if (p > 0) {
      s = clamp64(s, 0, dim);
      e = clamp64(e, 0, dim);
      len[a] = e > s ? (e - s - 1) / p + 1 : 0; /* no overflow with a step near INT64_MAX */
    } else {
      s = clamp64(s, 0, dim - 1);
      e = clamp64(e, -1, dim - 1);
      /* -p as unsigned: a step of INT64_MIN has no negation in int64 */
      len[a] = s > e ? (int64_t)((uint64_t)(s - e - 1) / ((uint64_t)-(p + 1) + 1) + 1) : 0;
    }
    start[a] = s, step[a] = p;
  }
  return KILN_OK;
}

/* With free dims the kernel is lowered at large sizes, where a start is a constant or
 * follows the dim (s + N from the end, N - 1 clamped); where it is clamped by another rule
 * (a start from the end past the beginning, a start past the end with a step of 2), the
 * kernel would read from the wrong place or outside x. So a size whose starts clamp
 * otherwise than at the hints fails here, and the shape probes (passes/sym_points.h) keep
 * the runs away from it. */
static kiln_status check_clamps(const kiln_graph *g, const kiln_node *n, const kiln_value *x,
                                const int *clamp, const int64_t *cur_len, kiln_error *err) {
  int64_t hint[KILN_MAX_RANK], start[KILN_MAX_RANK], step[KILN_MAX_RANK], len[KILN_MAX_RANK];
  int hclamp[KILN_MAX_RANK];
  bool any = false;
  for (int d = 0; d < x->rank; d++) {
    hint[d] = x->dims[d];
    if (!x->sym[d]) continue;
    kiln_symdim sd = kiln_value_symdim(g, x, d);
    any |= kiln_symdim_eval(&sd, g->sym_hint, &hint[d]);
  }
  kiln_error scratch = {0};
  if (!any || slice_params(g, n, x->rank, hint, start, step, len, hclamp, &scratch)) return KILN_OK;
  for (int d = 0; d < x->rank; d++) /* an empty slice reads nothing */
    if (x->sym[d] && hint[d] != x->dims[d] && hclamp[d] != clamp[d] && cur_len[d] > 0)
      return kiln_fail(err, KILN_ERR_UNSUPPORTED, "node '%s' (%s): its start along dim %d "
                       "clamps by another rule at size %lld than at %lld", n->name, n->op_type,
                       d, (long long)x->dims[d], (long long)hint[d]);
  return KILN_OK;
}

static kiln_status infer_slice(kiln_graph *g, kiln_node *n, kiln_error *err) {
  const kiln_value *x = kiln_node_in(g, n, 0);
  int64_t start[KILN_MAX_RANK], step[KILN_MAX_RANK], len[KILN_MAX_RANK];
  int clamp[KILN_MAX_RANK];
  if (slice_params(g, n, x->rank, x->dims, start, step, len, clamp, err) ||
      check_clamps(g, n, x, clamp, len, err))
    return err->code;
  kiln_set_out(g, n, 0, x->dtype, x->rank, len);
  return KILN_OK;
}

static kiln_status lower_slice(kiln_lower_ctx *c) {
  kiln_kernel *k = c->k;
  const kiln_buffer *in = &k->bufs[c->in_buf[0]];
  int64_t start[KILN_MAX_RANK], step[KILN_MAX_RANK], len[KILN_MAX_RANK];
  int clamp[KILN_MAX_RANK];
  if (slice_params(c->g, c->n, in->rank, in->dims, start, step, len, clamp, c->err))
    return c->err->code;
  kiln_expr *v[KILN_MAX_RANK], *idx[KILN_MAX_RANK];
  kiln_stage *s = kiln_elementwise_stage(k, "slice", c->out_buf[0], v);
  for (int d = 0; d < in->rank; d++) idx[d] = kx_addi(k, kx_muli(k, v[d], step[d]), start[d]);
  kiln_stage_store(k, s, v, kx_load(k, c->in_buf[0], idx));
  return KILN_OK;
}

/* ---- Gather, GatherElements ----------------------------------------------------------- */

/* Constant indices are checked when the model is compiled: an index outside [-n, n) is
 * the model's error, named before anything runs. */
static kiln_status check_const_indices(const kiln_graph *g, const kiln_node *n, int64_t dim,
                                       kiln_error *err) {
  const kiln_value *ind = kiln_node_in(g, n, 1);
  if (!ind || !ind->data) return KILN_OK;
  int64_t count = kiln_value_numel(ind);
  for (int64_t i = 0; i < count; i++) {
    int64_t v = kiln_load_i64(ind->dtype, ind->data, i);
    bool huge = ind->dtype == KILN_U64 && v < 0;
    if (huge || v < -dim || v >= dim)
      return kiln_fail(err, KILN_ERR_INVALID_MODEL,
                       "node '%s' (%s): input '%s': index %lld%s is out of range [%lld, %lld)",
                       n->name, n->op_type, ind->name, (long long)v, huge ? " (as u64)" : "",
                       (long long)-dim, (long long)dim);
  }
  return KILN_OK;
}

static kiln_status infer_gather(kiln_graph *g, kiln_node *n, kiln_error *err) {
  const kiln_value *x = kiln_node_in(g, n, 0), *ind = kiln_node_in(g, n, 1);
  int axis;
  if (kiln_norm_axis(n, kiln_attr_int(n, "axis", 0), x->rank, &axis, err)) return err->code;
  if (x->rank + ind->rank - 1 > KILN_MAX_RANK)
    return kiln_fail_node(n, err, KILN_ERR_LIMIT, "output rank above the limit");
  if (!kiln_dtype_is_int(ind->dtype))
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "indices must be integers");
  if (check_const_indices(g, n, x->dims[axis], err)) return err->code;
  int64_t dims[KILN_MAX_RANK];
  int r = 0;
  for (int d = 0; d < x->rank; d++) {
    if (d != axis) dims[r++] = x->dims[d];
    else for (int j = 0; j < ind->rank; j++) dims[r++] = ind->dims[j];
  }
  kiln_set_out(g, n, 0, x->dtype, r, dims);
  return KILN_OK;
}

static kiln_status lower_gather(kiln_lower_ctx *c) {
  kiln_kernel *k = c->k;
  const kiln_buffer *x = &k->bufs[c->in_buf[0]], *ind = &k->bufs[c->in_buf[1]];
  int axis = 0;
  if (kiln_norm_axis(c->n, kiln_attr_int(c->n, "axis", 0), x->rank, &axis, c->err))
    return c->err->code;
  if (check_gather_axis(c, x->dims[axis])) return c->err->code;
  kiln_expr *v[KILN_MAX_RANK], *idx[KILN_MAX_RANK];
  kiln_stage *s = kiln_elementwise_stage(k, "gather", c->out_buf[0], v);
  kiln_expr *at = kiln_checked_index(c, 1, kx_load(k, c->in_buf[1], v + axis), x->dims[axis]);
  for (int d = 0; d < x->rank; d++)
    idx[d] = d < axis ? v[d] : d == axis ? at : v[d + ind->rank - 1];
  kiln_stage_store(k, s, v, kx_load(k, c->in_buf[0], idx));
  return KILN_OK;
}

static kiln_status infer_gather_elements(kiln_graph *g, kiln_node *n, kiln_error *err) {
  const kiln_value *x = kiln_node_in(g, n, 0), *ind = kiln_node_in(g, n, 1);
  int axis;
  if (kiln_norm_axis(n, kiln_attr_int(n, "axis", 0), x->rank, &axis, err)) return err->code;
  if (ind->rank != x->rank || !kiln_dtype_is_int(ind->dtype))
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "indices must be integers of the data's rank");
  for (int d = 0; d < x->rank; d++)
    if (d != axis && ind->dims[d] > x->dims[d])
      return kiln_fail_node(n, err, KILN_ERR_SHAPE, "indices are larger than the data off the axis");
  if (check_const_indices(g, n, x->dims[axis], err)) return err->code;
  kiln_set_out(g, n, 0, x->dtype, ind->rank, ind->dims);
  return KILN_OK;
}

static kiln_status lower_gather_elements(kiln_lower_ctx *c) {
  kiln_kernel *k = c->k;
  const kiln_buffer *x = &k->bufs[c->in_buf[0]];
  int axis = 0;
  if (kiln_norm_axis(c->n, kiln_attr_int(c->n, "axis", 0), x->rank, &axis, c->err))
    return c->err->code;
  if (check_gather_axis(c, x->dims[axis])) return c->err->code;
  kiln_expr *v[KILN_MAX_RANK], *idx[KILN_MAX_RANK];
  kiln_stage *s = kiln_elementwise_stage(k, "gather_elements", c->out_buf[0], v);
  for (int d = 0; d < x->rank; d++) idx[d] = v[d];
  idx[axis] = kiln_checked_index(c, 1, kx_load(k, c->in_buf[1], v), x->dims[axis]);
  kiln_stage_store(k, s, v, kx_load(k, c->in_buf[0], idx));
  return KILN_OK;
}

/* ---- Expand, Tile ----------------------------------------------------------------------- */

static kiln_status infer_expand(kiln_graph *g, kiln_node *n, kiln_error *err) {
  const kiln_value *x = kiln_node_in(g, n, 0);
  int64_t shape[KILN_MAX_RANK], dims[KILN_MAX_RANK];
  int ns, rank;
  if (kiln_const_ints(g, n, 1, shape, KILN_MAX_RANK, &ns, err) ||
      kiln_broadcast_shape(n, x->rank, x->dims, ns, shape, &rank, dims, err))
    return err->code;
  kiln_set_out(g, n, 0, x->dtype, rank, dims);
  return KILN_OK;
}

static kiln_status lower_expand(kiln_lower_ctx *c) {
  kiln_kernel *k = c->k;
  kiln_expr *v[KILN_MAX_RANK];
  kiln_stage *s = kiln_elementwise_stage(k, "expand", c->out_buf[0], v);
  kiln_stage_store(k, s, v, kiln_load_broadcast(k, c->in_buf[0], k->bufs[c->out_buf[0]].rank, v));
  return KILN_OK;
}

static kiln_status infer_tile(kiln_graph *g, kiln_node *n, kiln_error *err) {
  const kiln_value *x = kiln_node_in(g, n, 0);
  int64_t rep[KILN_MAX_RANK], dims[KILN_MAX_RANK];
  int nr;
  if (kiln_const_ints(g, n, 1, rep, KILN_MAX_RANK, &nr, err)) return err->code;
  if (nr != x->rank) return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "repeats length != rank");
  for (int d = 0; d < x->rank; d++) {
    if (rep[d] < 0) return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "negative repeat");
    if (kiln_mul_overflows(x->dims[d], rep[d], &dims[d]))
      return kiln_fail_node(n, err, KILN_ERR_LIMIT, "output dim overflows");
  }
  kiln_set_out(g, n, 0, x->dtype, x->rank, dims);
  return KILN_OK;
}

static kiln_status lower_tile(kiln_lower_ctx *c) {
  kiln_kernel *k = c->k;
  const kiln_buffer *x = &k->bufs[c->in_buf[0]], *y = &k->bufs[c->out_buf[0]];
  kiln_expr *v[KILN_MAX_RANK], *idx[KILN_MAX_RANK];
  kiln_stage *s = kiln_elementwise_stage(k, "tile", c->out_buf[0], v);
  for (int d = 0; d < x->rank; d++)
    idx[d] = y->dims[d] <= x->dims[d] ? v[d] : kx_binary(k, KB_MOD, v[d], kx_idx(k, x->dims[d]));
  kiln_stage_store(k, s, v, kx_load(k, c->in_buf[0], idx));
  return KILN_OK;
}

static const kiln_attr_spec perm_attrs[] = {{"perm", KILN_ATTR_INTS, false}, {NULL}};
static const kiln_attr_spec axis_attrs[] = {{"axis", KILN_ATTR_INT, false}, {NULL}};
static const kiln_attr_spec concat_attrs[] = {{"axis", KILN_ATTR_INT, true}, {NULL}};
static const kiln_attr_spec split_attrs[] = {
    {"axis", KILN_ATTR_INT, false}, {"num_outputs", KILN_ATTR_INT, false}, {NULL}};

const kiln_op_def kiln_ops_movement[] = {
    {"Transpose", 1, 1, 1, 1, perm_attrs, infer_transpose, lower_transpose, NULL, KILN_OP_SYMBOLIC | KILN_OP_STRINGS},
    {"Concat", 1, -1, 1, 1, concat_attrs, infer_concat, lower_concat, NULL, KILN_OP_CONCAT | KILN_OP_SYMBOLIC | KILN_OP_STRINGS},
    {"Split", 1, 2, 1, -1, split_attrs, infer_split, lower_split, NULL, KILN_OP_SYMBOLIC | KILN_OP_STRINGS},
    {"Slice", 3, 5, 1, 1, NULL, infer_slice, lower_slice, NULL, KILN_OP_SYMBOLIC | KILN_OP_STRINGS},
    {"Gather", 2, 2, 1, 1, axis_attrs, infer_gather, lower_gather, NULL, KILN_OP_SYMBOLIC | KILN_OP_STRINGS},
    {"GatherElements", 2, 2, 1, 1, axis_attrs, infer_gather_elements, lower_gather_elements, NULL, KILN_OP_SYMBOLIC},
    {"Expand", 2, 2, 1, 1, NULL, infer_expand, lower_expand, NULL, KILN_OP_SYMBOLIC | KILN_OP_STRINGS},
    {"Tile", 2, 2, 1, 1, NULL, infer_tile, lower_tile, NULL, KILN_OP_SYMBOLIC | KILN_OP_STRINGS},
    {NULL},
};
