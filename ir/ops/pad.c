/* Pad: constant, reflect, edge and wrap padding (and cropping, by negative pads), and
 * CenterCropPad, a Pad of zeros whose pads center the input in the shape asked for. Each
 * output dim d reads input index i = o - begin[d], mapped into the input by the mode. Along
 * the innermost dim that mapping (a select) would keep LLVM from vectorizing the copy, so
 * an innermost dim padded on either side is lowered in three stages: the interior, a plain
 * copy along it, and the two borders (lower_pad). */
#include "ir/op.h"
#include "ir/ops/expand.h"

#include <string.h>

/* Begin and end pads per dim from the pads input and the optional axes input. */
static kiln_status pad_amounts(const kiln_graph *g, const kiln_node *n, int rank, int64_t *begin,
                               int64_t *end, kiln_error *err) {
  int64_t pads[2 * KILN_MAX_RANK], axes[KILN_MAX_RANK];
  int np, na = rank;
  if (kiln_const_ints(g, n, 1, pads, 2 * KILN_MAX_RANK, &np, err)) return err->code;
  for (int d = 0; d < rank; d++) axes[d] = d, begin[d] = end[d] = 0;
  if (kiln_node_in(g, n, 3) && kiln_const_ints(g, n, 3, axes, KILN_MAX_RANK, &na, err))
    return err->code;
  if (np != 2 * na) return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "pads length != 2 * axes");
  for (int i = 0; i < na; i++) {
    int a;
    if (kiln_norm_axis(n, axes[i], rank, &a, err)) return err->code;
    begin[a] = pads[i], end[a] = pads[na + i];
  }
  return KILN_OK;
}

static kiln_status infer_pad(kiln_graph *g, kiln_node *n, kiln_error *err) {
  const kiln_value *x = kiln_node_in(g, n, 0);
  int64_t begin[KILN_MAX_RANK], end[KILN_MAX_RANK], dims[KILN_MAX_RANK];
  if (pad_amounts(g, n, x->rank, begin, end, err)) return err->code;
  const char *mode = kiln_attr_str(n, "mode", "constant");
  if (strcmp(mode, "constant") && strcmp(mode, "reflect") && strcmp(mode, "edge") &&
      strcmp(mode, "wrap"))
    return kiln_fail(err, KILN_ERR_UNSUPPORTED, "node '%s' (%s): unknown mode '%s'", n->name,
                     n->op_type, mode);
  for (int d = 0; d < x->rank; d++) {
    dims[d] = x->dims[d] + begin[d] + end[d];
    if (dims[d] < 0) return kiln_fail_node(n, err, KILN_ERR_SHAPE, "pads crop below zero");
    /* what the negative pads leave, which the other modes pad from */
    int64_t kept = x->dims[d] + (begin[d] < 0 ? begin[d] : 0) + (end[d] < 0 ? end[d] : 0);
    if (dims[d] > 0 && kept <= 0 && strcmp(mode, "constant"))
      return kiln_fail_node(n, err, KILN_ERR_SHAPE, "cannot pad an empty dim in this mode");
    if (!strcmp(mode, "reflect") && (begin[d] >= kept || end[d] >= kept) && kept > 1)
      return kiln_fail_node(n, err, KILN_ERR_SHAPE, "reflect pads must be smaller than the dim "
                            "(after cropping)");
  }
  kiln_set_out(g, n, 0, x->dtype, x->rank, dims);
  return KILN_OK;
}

/* The input index of output index o along dim d (of input size n), by the mode; where the
 * constant mode reads nothing, `inside` gains the test. */
static kiln_expr *pad_index(kiln_kernel *k, const char *mode, kiln_expr *o, int64_t begin,
                            int64_t end, int64_t n, kiln_expr **inside) {
  kiln_expr *i = kx_addi(k, o, -begin);
  if (begin <= 0 && end <= 0) return i; /* cropped or untouched: always inside */
  if (!strcmp(mode, "constant")) {
    *inside = kx_and(k, *inside, kx_in_range(k, i, n));
    return i;
  }
  /* The other modes pad from what the pads keep, [cs, cs + m) (a negative pad on one side
   * crops first, as onnxruntime and torch do): p = i - cs is the position in it. */
  int64_t cs = begin < 0 ? -begin : 0, m = n - cs - (end < 0 ? -end : 0);
  kiln_expr *p = kx_addi(k, i, -cs);
  kiln_expr *lo = kx_binary(k, KB_LT, p, kx_idx(k, 0));
  kiln_expr *hi = kx_binary(k, KB_GE, p, kx_idx(k, m));
  if (!strcmp(mode, "edge") || m == 1)
    p = kx_select(k, lo, kx_idx(k, 0), kx_select(k, hi, kx_idx(k, m - 1), p));
  else if (!strcmp(mode, "reflect"))
    p = kx_select(k, lo, kx_unary(k, KU_NEG, p),
                  kx_select(k, hi, kx_binary(k, KB_SUB, kx_idx(k, 2 * m - 2), p), p));
  else /* wrap: ((p % m) + m) % m */
    p = kx_binary(k, KB_MOD, kx_addi(k, kx_binary(k, KB_MOD, p, kx_idx(k, m)), m), kx_idx(k, m));
  return kx_addi(k, p, cs);
}

/* One stage writing output points o[d] = v[d] (+ shift along the innermost dim) over
 * `extent` of them there (the whole dim: -1); the interior reads input v there as it is. */
static void pad_stage(kiln_lower_ctx *c, const char *name, const int64_t *begin,
                      const int64_t *end, int64_t extent, int64_t shift, bool interior) {
  kiln_kernel *k = c->k;
  const kiln_buffer *x = &k->bufs[c->in_buf[0]], *y = &k->bufs[c->out_buf[0]];
  const char *mode = kiln_attr_str(c->n, "mode", "constant");
  int last = x->rank - 1;
  kiln_expr *v[KILN_MAX_RANK], *o[KILN_MAX_RANK], *idx[KILN_MAX_RANK], *inside = NULL;
  kiln_stage *s = kiln_kernel_add_stage(k, name, c->out_buf[0]);
  for (int d = 0; d < x->rank; d++) {
    v[d] = kx_var(k, kiln_stage_axis(s, d == last && extent >= 0 ? extent : y->dims[d], false));
    o[d] = d == last && shift ? kx_addi(k, v[d], shift) : v[d];
    idx[d] = d == last && interior ? v[d]
                                   : pad_index(k, mode, o[d], begin[d], end[d], x->dims[d], &inside);
  }
  kiln_expr *val = kx_load(k, c->in_buf[0], idx);
  if (inside) {
    kiln_expr *zeros[KILN_MAX_RANK];
    for (int d = 0; d < KILN_MAX_RANK; d++) zeros[d] = kx_idx(k, 0);
    kiln_expr *cv = c->n->ninputs > 2 && c->in_buf[2] >= 0 /* a scalar or one element */
                        ? kx_cast(k, kx_load(k, c->in_buf[2], zeros), x->dtype)
                        : kx_const_i(k, x->dtype, 0);
    val = kx_select(k, inside, val, cv);
  }
  kiln_stage_store(k, s, o, val);
}

/* An innermost dim padded (not cropped) on a side: its interior as a copy along it (the
 * other dims mapped as ever), then each padded side; else one stage. */
static kiln_status lower_pad(kiln_lower_ctx *c) {
  kiln_kernel *k = c->k;
  const kiln_buffer *x = &k->bufs[c->in_buf[0]];
  int64_t begin[KILN_MAX_RANK], end[KILN_MAX_RANK];
  if (pad_amounts(c->g, c->n, x->rank, begin, end, c->err)) return c->err->code;
  int last = x->rank - 1;
  int64_t b = last >= 0 ? begin[last] : 0, e = last >= 0 ? end[last] : 0, n = last >= 0 ? x->dims[last] : 0;
  if (last < 0 || b < 0 || e < 0 || b + e == 0 || n < 1 || kiln_buffer_is_dyn(x) ||
      kiln_buffer_is_dyn(&k->bufs[c->out_buf[0]])) {
    pad_stage(c, "pad", begin, end, -1, 0, false);
    return KILN_OK;
  }
  pad_stage(c, "pad", begin, end, n, b, true);
  if (b) pad_stage(c, "pad_begin", begin, end, b, 0, false);
  if (e) pad_stage(c, "pad_end", begin, end, e, b + n, false);
  return KILN_OK;
}

/* ---- CenterCropPad ---------------------------------------------------------------------- */

/* Per dim, the pads (negative: a crop) that center x in the shape: the smaller half of the
 * difference before, the rest after, as ONNX's reference. */
static kiln_status center_pads(const kiln_graph *g, const kiln_node *n, int64_t *pads,
                               kiln_error *err) {
  const kiln_value *x = kiln_node_in(g, n, 0);
  int64_t shape[KILN_MAX_RANK], axes[KILN_MAX_RANK];
  int ns, na = x->rank;
  if (kiln_const_ints(g, n, 1, shape, KILN_MAX_RANK, &ns, err)) return err->code;
  const int64_t *aa;
  int nat = kiln_attr_ints(n, "axes", &aa);
  if (nat >= 0) {
    na = nat;
    if (na > KILN_MAX_RANK) return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "too many axes");
    memcpy(axes, aa, sizeof(int64_t) * (size_t)na);
  } else {
    for (int d = 0; d < na; d++) axes[d] = d;
  }
  if (ns != na) return kiln_fail_node(n, err, KILN_ERR_SHAPE, "shape needs one size per axis");
  for (int d = 0; d < 2 * x->rank; d++) pads[d] = 0;
  bool seen[KILN_MAX_RANK] = {false};
  for (int i = 0; i < na; i++) {
    int a;
    if (kiln_norm_axis(n, axes[i], x->rank, &a, err)) return err->code;
    if (seen[a] || shape[i] < 0)
      return kiln_fail_node(n, err, KILN_ERR_SHAPE, "a repeated axis or a negative size");
    seen[a] = true;
    int64_t diff = shape[i] - x->dims[a], half = (diff < 0 ? -diff : diff) / 2;
    pads[a] = diff < 0 ? -half : half;
    pads[x->rank + a] = diff - pads[a];
  }
  return KILN_OK;
}

static kiln_status infer_center_crop_pad(kiln_graph *g, kiln_node *n, kiln_error *err) {
  const kiln_value *x = kiln_node_in(g, n, 0);
  int64_t pads[2 * KILN_MAX_RANK], dims[KILN_MAX_RANK];
  if (center_pads(g, n, pads, err)) return err->code;
  for (int d = 0; d < x->rank; d++) dims[d] = x->dims[d] + pads[d] + pads[x->rank + d];
  kiln_set_out(g, n, 0, x->dtype, x->rank, dims);
  return KILN_OK;
}

static kiln_status expand_center_crop_pad(kiln_graph *g, kiln_block *b, int pos, kiln_error *err) {
  const kiln_node *n = &g->nodes[b->nodes[pos]];
  int64_t pads[2 * KILN_MAX_RANK];
  if (center_pads(g, n, pads, err)) return err->code;
  int rank = kiln_node_in(g, n, 0)->rank, x = n->inputs[0], out = n->outputs[0];
  double pv[2 * KILN_MAX_RANK];
  for (int d = 0; d < 2 * rank; d++) pv[d] = (double)pads[d];
  kiln_ex e;
  kiln_ex_begin(&e, g, b, pos, KILN_I64);
  int p = kiln_ex_const(&e, "pads", KILN_I64, 1, (int64_t[]){2 * rank}, pv);
  kiln_ex_node1(&e, "Pad", (int[]){x, p}, 2, out, "centered");
  kiln_ex_end(&e);
  return KILN_OK;
}

static const kiln_attr_spec pad_attrs[] = {{"mode", KILN_ATTR_STRING, false}, {NULL}};
static const kiln_attr_spec ccp_attrs[] = {{"axes", KILN_ATTR_INTS, false}, {NULL}};

const kiln_op_def kiln_ops_pad[] = {
    {"Pad", 2, 4, 1, 1, pad_attrs, infer_pad, lower_pad, NULL, KILN_OP_SYMBOLIC},
    {"CenterCropPad", 2, 2, 1, 1, ccp_attrs, infer_center_crop_pad, NULL, expand_center_crop_pad, 0},
    {NULL},
};
