/* Reads at positions that come from data: GatherND (index tuples into the leading dims)
 * and ReverseSequence (each batch entry reversed up to its own length). Every such index
 * is checked at run time (kiln_checked_index). */
#include "ir/op.h"

#include "ir/dtype.h"

#include <stdio.h>
#include <string.h>

/* ---- GatherND -------------------------------------------------------------------------------- */

/* data [batch..., d...], indices [batch..., i..., m]: out [batch..., i..., d[m:]...] */
static kiln_status infer_gather_nd(kiln_graph *g, kiln_node *n, kiln_error *err) {
  const kiln_value *x = kiln_node_in(g, n, 0), *ind = kiln_node_in(g, n, 1);
  int64_t b = kiln_attr_int(n, "batch_dims", 0);
  if (!kiln_dtype_is_int(ind->dtype) || ind->rank < 1)
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "indices must be integers of rank >= 1");
  int64_t m = ind->dims[ind->rank - 1];
  if (b < 0 || b >= ind->rank || b >= x->rank || m < 1 || b + m > x->rank)
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL,
                          "needs 0 <= batch_dims < both ranks and 1 <= the tuple length <= the "
                          "data's rank - batch_dims");
  for (int d = 0; d < b; d++)
    if (x->dims[d] != ind->dims[d])
      return kiln_fail_node(n, err, KILN_ERR_SHAPE, "the batch dims of data and indices differ");
  int rank = ind->rank - 1 + x->rank - (int)(b + m);
  if (rank > KILN_MAX_RANK) return kiln_fail_node(n, err, KILN_ERR_LIMIT, "output rank above the limit");
  int64_t dims[KILN_MAX_RANK];
  int r = 0;
  for (int d = 0; d < ind->rank - 1; d++) dims[r++] = ind->dims[d];
  for (int d = (int)(b + m); d < x->rank; d++) dims[r++] = x->dims[d];
  kiln_set_out(g, n, 0, x->dtype, rank, dims);
  return KILN_OK;
}

static kiln_status lower_gather_nd(kiln_lower_ctx *c) {
  kiln_kernel *k = c->k;
  const kiln_buffer *x = &k->bufs[c->in_buf[0]], *ind = &k->bufs[c->in_buf[1]];
  int b = (int)kiln_attr_int(c->n, "batch_dims", 0), q = ind->rank;
  int m = (int)ind->dims[q - 1];
  kiln_expr *v[KILN_MAX_RANK], *idx[KILN_MAX_RANK], *at[KILN_MAX_RANK];
  kiln_stage *s = kiln_elementwise_stage(k, "gather_nd", c->out_buf[0], v);
  for (int d = 0; d < q - 1; d++) at[d] = v[d];
  for (int d = 0; d < b; d++) idx[d] = v[d];
  for (int j = 0; j < m; j++) {
    at[q - 1] = kx_idx(k, j);
    kiln_expr *raw = kx_load(k, c->in_buf[1], at);
    idx[b + j] = kiln_checked_index(c, 1, raw, x->dims[b + j]);
  }
  for (int d = b + m; d < x->rank; d++) idx[d] = v[q - 1 + d - (b + m)];
  kiln_stage_store(k, s, v, kx_load(k, c->in_buf[0], idx));
  return KILN_OK;
}

/* ---- ReverseSequence ----------------------------------------------------------------------- */

static kiln_status seq_axes(const kiln_graph *g, const kiln_node *n, int *batch, int *time,
                            kiln_error *err) {
  const kiln_value *x = kiln_node_in(g, n, 0), *lens = kiln_node_in(g, n, 1);
  if (x->rank < 2) return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "needs a rank >= 2 input");
  if (kiln_norm_axis(n, kiln_attr_int(n, "batch_axis", 1), x->rank, batch, err) ||
      kiln_norm_axis(n, kiln_attr_int(n, "time_axis", 0), x->rank, time, err))
    return err->code;
  if (*batch == *time || *batch > 1 || *time > 1)
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "batch_axis and time_axis must be 0 and 1");
  if (!kiln_dtype_is_int(lens->dtype) || lens->rank != 1 || lens->dims[0] != x->dims[*batch])
    return kiln_fail_node(n, err, KILN_ERR_SHAPE, "sequence_lens must be integers [batch]");
  return KILN_OK;
}

static kiln_status infer_reverse_sequence(kiln_graph *g, kiln_node *n, kiln_error *err) {
  const kiln_value *x = kiln_node_in(g, n, 0);
  int batch, time;
  if (seq_axes(g, n, &batch, &time, err)) return err->code;
  kiln_set_out(g, n, 0, x->dtype, x->rank, x->dims);
  return KILN_OK;
}

/* y[t, b] = x[len[b] - 1 - t, b] for t < len[b], else x[t, b]; a length outside [0, T]
 * fails the run through the index check (a negative one too, as onnxruntime: it would
 * copy the entry unreversed). */
static kiln_status lower_reverse_sequence(kiln_lower_ctx *c) {
  kiln_kernel *k = c->k;
  int batch, time;
  if (seq_axes(c->g, c->n, &batch, &time, c->err)) return c->err->code;
  const kiln_buffer *x = &k->bufs[c->in_buf[0]];
  kiln_expr *v[KILN_MAX_RANK], *idx[KILN_MAX_RANK];
  kiln_stage *s = kiln_elementwise_stage(k, "reverse_sequence", c->out_buf[0], v);
  memcpy(idx, v, sizeof(kiln_expr *) * (size_t)x->rank);
  const kiln_value *lv = kiln_node_in(c->g, c->n, 1);
  char what[512];
  snprintf(what, sizeof what, "node '%s' (%s): sequence length of input '%s'", c->n->name,
           c->n->op_type, lv && lv->name ? lv->name : "?");
  kiln_expr *len = kx_check_index(k, kx_cast(k, kx_load(k, c->in_buf[1], &v[batch]), KILN_I64),
                                  x->dims[time] + 1, false, what);
  kiln_expr *t = v[time];
  kiln_expr *rev = kx_binary(k, KB_SUB, kx_addi(k, len, -1), t);
  kiln_expr *src = kx_select(k, kx_binary(k, KB_LT, t, len), rev, t);
  idx[time] = kiln_checked_index(c, 1, src, x->dims[time]);
  kiln_stage_store(k, s, v, kx_load(k, c->in_buf[0], idx));
  return KILN_OK;
}

static const kiln_attr_spec gather_nd_attrs[] = {{"batch_dims", KILN_ATTR_INT, false}, {NULL}};
static const kiln_attr_spec reverse_attrs[] = {
    {"batch_axis", KILN_ATTR_INT, false}, {"time_axis", KILN_ATTR_INT, false}, {NULL}};

const kiln_op_def kiln_ops_index[] = {
    {"GatherND", 2, 2, 1, 1, gather_nd_attrs, infer_gather_nd, lower_gather_nd, NULL, KILN_OP_SYMBOLIC},
    {"ReverseSequence", 2, 2, 1, 1, reverse_attrs, infer_reverse_sequence,
     lower_reverse_sequence, NULL, 0},
    {NULL},
};
