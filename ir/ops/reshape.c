/* Reshapes (same elements, same row-major order, new dims) and the block rearrangements
 * DepthToSpace / SpaceToDepth. A reshape lowers to one copy stage whose load index
 * recomputes the input's multi-index from the output element's flat index. */
#include "ir/op.h"

#include <string.h>

/* Output shape of each reshape-like op from its input. */

static kiln_status reshape_dims(const kiln_graph *g, const kiln_node *n, const kiln_value *x,
                                int *rank, int64_t *dims, kiln_error *err) {
  int ns;
  if (kiln_const_ints(g, n, 1, dims, KILN_MAX_RANK, &ns, err)) return err->code;
  bool allowzero = kiln_attr_int(n, "allowzero", 0) != 0;
  int infer_at = -1;
  int64_t known = 1;
  for (int d = 0; d < ns; d++) {
    if (dims[d] == 0 && !allowzero) {
      if (d >= x->rank) return kiln_fail_node(n, err, KILN_ERR_SHAPE, "0 copies a dim past the rank");
      dims[d] = x->dims[d];
    }
    if (dims[d] == -1 && infer_at < 0) infer_at = d;
    else if (dims[d] < 0) return kiln_fail_node(n, err, KILN_ERR_SHAPE, "bad dim in shape");
    else if (kiln_mul_overflows(known, dims[d], &known))
      return kiln_fail_node(n, err, KILN_ERR_SHAPE, "shape does not match the element count");
  }
  int64_t numel = kiln_value_numel(x);
  if (infer_at >= 0) {
    if (known == 0 || numel % known)
      return kiln_fail_node(n, err, KILN_ERR_SHAPE, "cannot infer the -1 dim");
    dims[infer_at] = numel / known;
  } else if (known != numel) {
    return kiln_fail_node(n, err, KILN_ERR_SHAPE, "shape does not match the element count");
  }
  *rank = ns;
  return KILN_OK;
}

static kiln_status flatten_dims(const kiln_node *n, const kiln_value *x, int *rank,
                                int64_t *dims, kiln_error *err) {
  int64_t axis = kiln_attr_int(n, "axis", 1);
  if (axis < -x->rank || axis > x->rank)
    return kiln_fail_node(n, err, KILN_ERR_SHAPE, "axis out of range");
  if (axis < 0) axis += x->rank;
  dims[0] = kiln_shape_numel((int)axis, x->dims);
  dims[1] = kiln_shape_numel(x->rank - (int)axis, x->dims + axis);
  *rank = 2;
  return KILN_OK;
}

/* Squeeze: the listed axes (all dims of size 1 when none); Unsqueeze: insert the axes. */
static kiln_status squeeze_dims(const kiln_graph *g, const kiln_node *n, const kiln_value *x,
                                int *rank, int64_t *dims, kiln_error *err) {
  bool squeeze = strcmp(n->op->name, "Squeeze") == 0;
  int64_t axes[KILN_MAX_RANK];
  int na = 0;
  if ((!squeeze || kiln_node_in(g, n, 1)) &&
      kiln_const_ints(g, n, 1, axes, KILN_MAX_RANK, &na, err))
    return err->code;
  int out_rank = squeeze ? x->rank : x->rank + na;
  if (out_rank > KILN_MAX_RANK) return kiln_fail_node(n, err, KILN_ERR_LIMIT, "rank above the limit");
  bool marked[KILN_MAX_RANK] = {false};
  for (int i = 0; i < na; i++) {
    int a;
    if (kiln_norm_axis(n, axes[i], out_rank, &a, err)) return err->code;
    if (marked[a]) return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "repeated axis");
    if (squeeze && x->dims[a] != 1)
      return kiln_fail_node(n, err, KILN_ERR_SHAPE, "squeezed dim is not 1");
    marked[a] = true;
  }
  int r = 0, src = 0;
  for (int d = 0; d < out_rank; d++) {
    if (!squeeze) dims[r++] = marked[d] ? 1 : x->dims[src++];
    else if (!(na ? marked[d] : x->dims[d] == 1)) dims[r++] = x->dims[d];
  }
  *rank = r;
  return KILN_OK;
}

static kiln_status infer_reshape(kiln_graph *g, kiln_node *n, kiln_error *err) {
  const kiln_value *x = kiln_node_in(g, n, 0);
  int rank = 0;
  int64_t dims[KILN_MAX_RANK];
  kiln_status st;
  if (!strcmp(n->op->name, "Reshape")) st = reshape_dims(g, n, x, &rank, dims, err);
  else if (!strcmp(n->op->name, "Flatten")) st = flatten_dims(n, x, &rank, dims, err);
  else st = squeeze_dims(g, n, x, &rank, dims, err);
  if (st) return st;
  kiln_set_out(g, n, 0, x->dtype, rank, dims);
  return KILN_OK;
}

/* Does buffer b have dims known when compiling, in no layout of blocks? */
static bool plain_static(const kiln_buffer *b) {
  for (int d = 0; d < b->rank; d++)
    if (b->dyn_dims[d]) return false;
  return !b->layout;
}

/* Input index of output element v[]: when both shapes list the same dims apart from 1s,
 * each non-1 dim maps straight across. Otherwise the input is viewed with the output's
 * dims (a view is row-major over its dims, wherever its storage puts each element:
 * ir/kernel.h), a copy the coalescing pass makes one loop; with free dims or blocks,
 * through the flat index (div/mod: a 6-D window un-partition, 1.2 MB, took 166 us so). */
static kiln_status lower_reshape(kiln_lower_ctx *c) {
  kiln_kernel *k = c->k;
  kiln_buffer *x = &k->bufs[c->in_buf[0]];
  const kiln_buffer *y = &k->bufs[c->out_buf[0]];
  kiln_expr *v[KILN_MAX_RANK], *idx[KILN_MAX_RANK];
  kiln_stage *s = kiln_elementwise_stage(k, "reshape", c->out_buf[0], v);
  int xi = 0, yi = 0;
  bool direct = true;
  for (;;) {
    while (xi < x->rank && x->dims[xi] == 1) idx[xi++] = kx_idx(k, 0);
    while (yi < y->rank && y->dims[yi] == 1) yi++;
    if (xi == x->rank || yi == y->rank) break;
    if (x->dims[xi] != y->dims[yi]) break;
    idx[xi++] = v[yi++];
  }
  if (xi < x->rank || yi < y->rank) direct = false;
  if (!direct && plain_static(x) && plain_static(y)) {
    x->rank = y->rank;
    memcpy(x->dims, y->dims, sizeof(int64_t) * (size_t)y->rank);
    kiln_stage_store(k, s, v, kx_load(k, c->in_buf[0], v));
    return KILN_OK;
  }
  if (!direct) {
    kiln_expr *flat = kx_idx(k, 0);
    int64_t stride = 1;
    for (int d = y->rank - 1; d >= 0; d--, stride *= y->dims[d + 1])
      flat = kx_add(k, flat, kx_muli(k, v[d], stride));
    stride = 1;
    for (int d = x->rank - 1; d >= 0; stride *= x->dims[d--]) {
      idx[d] = stride == 1 ? flat : kx_binary(k, KB_DIV, flat, kx_idx(k, stride));
      if (d > 0) idx[d] = kx_binary(k, KB_MOD, idx[d], kx_idx(k, x->dims[d]));
    }
  }
  kiln_stage_store(k, s, v, kx_load(k, c->in_buf[0], idx));
  return KILN_OK;
}

/* ---- DepthToSpace / SpaceToDepth on NCHW ------------------------------------------------- */

/* Is dim d of x divisible by m? A dim that is a free input dim itself may take any size
 * at the points symbolic inference tries: the run then requires multiples of m (sym_step),
 * and the output's floor division is exact. */
static bool divides(kiln_graph *g, const kiln_value *x, int d, int64_t m) {
  if (x->dims[d] % m == 0) return true;
  int s;
  kiln_symdim dim = kiln_value_symdim(g, x, d);
  if (!x->sym[d] || !kiln_symdim_is_sym(&dim, &s) || g->sym_def[s].den != 0) return false;
  int64_t a = g->sym_step[s] > 1 ? g->sym_step[s] : 1;
  g->sym_step[s] = a / kiln_gcd(a, m) * m; /* lcm(a, m) */
  return true;
}

static kiln_status infer_space_depth(kiln_graph *g, kiln_node *n, kiln_error *err) {
  const kiln_value *x = kiln_node_in(g, n, 0);
  int64_t b = kiln_attr_int(n, "blocksize", 0);
  bool to_space = strcmp(n->op->name, "DepthToSpace") == 0;
  if (x->rank != 4 || b < 1 || b > 4096)
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "needs a 4-D input and a blocksize of 1 to 4096");
  const char *mode = kiln_attr_str(n, "mode", "DCR");
  if (strcmp(mode, "DCR") && strcmp(mode, "CRD"))
    return kiln_fail_node(n, err, KILN_ERR_UNSUPPORTED, "mode is neither DCR nor CRD");
  int64_t dims[4] = {x->dims[0], x->dims[1], x->dims[2], x->dims[3]};
  if (to_space) {
    if (!divides(g, x, 1, b * b)) return kiln_fail_node(n, err, KILN_ERR_SHAPE, "C not divisible by b*b");
    dims[1] /= b * b, dims[2] *= b, dims[3] *= b;
  } else {
    if (!divides(g, x, 2, b) || !divides(g, x, 3, b))
      return kiln_fail_node(n, err, KILN_ERR_SHAPE, "H or W not divisible by blocksize");
    dims[1] *= b * b, dims[2] /= b, dims[3] /= b;
  }
  kiln_set_out(g, n, 0, x->dtype, 4, dims);
  return KILN_OK;
}

static kiln_expr *divi(kiln_kernel *k, kiln_expr *a, int64_t b) {
  return b == 1 ? a : kx_binary(k, KB_DIV, a, kx_idx(k, b));
}
static kiln_expr *modi(kiln_kernel *k, kiln_expr *a, int64_t b) {
  return b == 1 ? kx_idx(k, 0) : kx_binary(k, KB_MOD, a, kx_idx(k, b));
}

static kiln_status lower_space_depth(kiln_lower_ctx *c) {
  kiln_kernel *k = c->k;
  int64_t b = kiln_attr_int(c->n, "blocksize", 1);
  bool crd = strcmp(kiln_attr_str(c->n, "mode", "DCR"), "CRD") == 0;
  kiln_expr *v[4], *idx[4];
  kiln_stage *s = kiln_elementwise_stage(k, c->n->op->name, c->out_buf[0], v);
  idx[0] = v[0];
  if (strcmp(c->n->op->name, "DepthToSpace") == 0) {
    /* out[n, c, h, w] = in[n, channel of (c, h % b, w % b), h / b, w / b] */
    int64_t oc = k->bufs[c->out_buf[0]].dims[1];
    kiln_expr *block = kx_add(k, kx_muli(k, modi(k, v[2], b), b), modi(k, v[3], b));
    idx[1] = crd ? kx_add(k, kx_muli(k, v[1], b * b), block)
                 : kx_add(k, kx_muli(k, block, oc), v[1]);
    idx[2] = divi(k, v[2], b);
    idx[3] = divi(k, v[3], b);
  } else {
    /* out[n, (bh * b + bw) * C + c, h, w] = in[n, c, h * b + bh, w * b + bw]; CRD (opset
     * 28): out[n, c * b * b + bh * b + bw, h, w] */
    int64_t ic = k->bufs[c->in_buf[0]].dims[1];
    kiln_expr *block = crd ? modi(k, v[1], b * b) : divi(k, v[1], ic);
    idx[1] = crd ? divi(k, v[1], b * b) : modi(k, v[1], ic);
    idx[2] = kx_add(k, kx_muli(k, v[2], b), divi(k, block, b));
    idx[3] = kx_add(k, kx_muli(k, v[3], b), modi(k, block, b));
  }
  kiln_stage_store(k, s, v, kx_load(k, c->in_buf[0], idx));
  return KILN_OK;
}

static const kiln_attr_spec reshape_attrs[] = {{"allowzero", KILN_ATTR_INT, false}, {NULL}};
static const kiln_attr_spec flatten_attrs[] = {{"axis", KILN_ATTR_INT, false}, {NULL}};
static const kiln_attr_spec d2s_attrs[] = {
    {"blocksize", KILN_ATTR_INT, true}, {"mode", KILN_ATTR_STRING, false}, {NULL}};

const kiln_op_def kiln_ops_reshape[] = {
    {"Reshape", 2, 2, 1, 1, reshape_attrs, infer_reshape, lower_reshape, NULL, KILN_OP_ALIAS | KILN_OP_SYMBOLIC | KILN_OP_STRINGS},
    {"Flatten", 1, 1, 1, 1, flatten_attrs, infer_reshape, lower_reshape, NULL, KILN_OP_ALIAS | KILN_OP_SYMBOLIC | KILN_OP_STRINGS},
    {"Squeeze", 1, 2, 1, 1, NULL, infer_reshape, lower_reshape, NULL, KILN_OP_ALIAS | KILN_OP_SYMBOLIC | KILN_OP_STRINGS},
    {"Unsqueeze", 2, 2, 1, 1, NULL, infer_reshape, lower_reshape, NULL, KILN_OP_ALIAS | KILN_OP_SYMBOLIC | KILN_OP_STRINGS},
    {"DepthToSpace", 1, 1, 1, 1, d2s_attrs, infer_space_depth, lower_space_depth, NULL, KILN_OP_SYMBOLIC},
    {"SpaceToDepth", 1, 1, 1, 1, d2s_attrs, infer_space_depth, lower_space_depth, NULL, KILN_OP_SYMBOLIC},
    {NULL},
};
