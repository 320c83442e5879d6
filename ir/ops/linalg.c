/* Linear algebra: MatMul, MatMulInteger, Gemm, and MatMulPanels, the form passes give
 * GEMMs with a constant B packed into panels (passes/pack_panels.c).
 *
 * Every product is one reduction stage whose axes are, in order, the broadcast batch dims,
 * M, N (spatial; M and N are kept, with extent 1, even where a 1-D operand squeezes them
 * out of the output) and K (the reduction). The tuner relies on that order to find the
 * matrix axes it tiles. MatMulPanels splits N into panel and column (N = panel * nr +
 * column), one stage for the full panels and one for a partial last. f16/bf16 products
 * accumulate in f32. */
#include "ir/op.h"

#include "ir/dtype.h"

/* ---- shape inference ------------------------------------------------------------------ */

static kiln_status check_numeric(const kiln_node *n, const kiln_value *v, kiln_error *err) {
  if (!kiln_dtype_valid(v->dtype) || v->dtype == KILN_BOOL)
    return kiln_fail(err, KILN_ERR_UNSUPPORTED, "node '%s' (%s): input '%s' has type %s",
                     n->name, n->op_type, v->name, kiln_dtype_name(v->dtype));
  return KILN_OK;
}

/* numpy matmul: a 1-D A is [1,K] and a 1-D B is [K,1], that dim squeezed from the result;
 * batch dims broadcast. */
static kiln_status matmul_shape(const kiln_node *n, const kiln_value *a, const kiln_value *b,
                                int *rank, int64_t *dims, kiln_error *err) {
  if (a->rank < 1 || b->rank < 1)
    return kiln_fail(err, KILN_ERR_INVALID_MODEL, "node '%s' (%s): operands must not be scalars",
                     n->name, n->op_type);
  int64_t ka = a->dims[a->rank - 1], kb = b->rank == 1 ? b->dims[0] : b->dims[b->rank - 2];
  if (ka != kb)
    return kiln_fail(err, KILN_ERR_SHAPE,
                     "node '%s' (%s): inner dims differ (%lld vs %lld)", n->name, n->op_type,
                     (long long)ka, (long long)kb);
  int ba = a->rank > 2 ? a->rank - 2 : 0, bb = b->rank > 2 ? b->rank - 2 : 0;
  if (kiln_broadcast_shape(n, ba, a->dims, bb, b->dims, rank, dims, err)) return err->code;
  if (a->rank > 1) dims[(*rank)++] = a->dims[a->rank - 2];
  if (b->rank > 1) dims[(*rank)++] = b->dims[b->rank - 1];
  return KILN_OK;
}

static kiln_status infer_matmul(kiln_graph *g, kiln_node *n, kiln_error *err) {
  const kiln_value *a = kiln_node_in(g, n, 0), *b = kiln_node_in(g, n, 1);
  if (check_numeric(n, a, err) || check_numeric(n, b, err)) return err->code;
  if (a->dtype != b->dtype)
    return kiln_fail(err, KILN_ERR_INVALID_MODEL, "node '%s' (%s): operand types differ (%s, %s)",
                     n->name, n->op_type, kiln_dtype_name(a->dtype), kiln_dtype_name(b->dtype));
  int rank;
  int64_t dims[KILN_MAX_RANK];
  if (matmul_shape(n, a, b, &rank, dims, err)) return err->code;
  kiln_set_out(g, n, 0, a->dtype, rank, dims);
  return KILN_OK;
}

static kiln_status infer_matmul_integer(kiln_graph *g, kiln_node *n, kiln_error *err) {
  const kiln_value *a = kiln_node_in(g, n, 0), *b = kiln_node_in(g, n, 1);
  for (int i = 0; i < 4; i++) {
    const kiln_value *v = kiln_node_in(g, n, i);
    if (v && v->dtype != KILN_U8 && v->dtype != KILN_I8)
      return kiln_fail(err, KILN_ERR_UNSUPPORTED, "node '%s' (%s): input '%s' has type %s",
                       n->name, n->op_type, v->name, kiln_dtype_name(v->dtype));
    if (v && i >= 2 && v->rank > 1)
      return kiln_fail(err, KILN_ERR_UNSUPPORTED,
                       "node '%s' (%s): zero point '%s' must be a scalar or 1-D", n->name,
                       n->op_type, v->name);
  }
  int rank;
  int64_t dims[KILN_MAX_RANK];
  if (matmul_shape(n, a, b, &rank, dims, err)) return err->code;
  kiln_set_out(g, n, 0, KILN_I32, rank, dims);
  return KILN_OK;
}

static kiln_status infer_gemm(kiln_graph *g, kiln_node *n, kiln_error *err) {
  const kiln_value *a = kiln_node_in(g, n, 0), *b = kiln_node_in(g, n, 1);
  const kiln_value *c = kiln_node_in(g, n, 2);
  if (check_numeric(n, a, err) || check_numeric(n, b, err)) return err->code;
  if (a->rank != 2 || b->rank != 2)
    return kiln_fail(err, KILN_ERR_INVALID_MODEL, "node '%s' (%s): A and B must be 2-D", n->name,
                     n->op_type);
  if (a->dtype != b->dtype || (c && c->dtype != a->dtype))
    return kiln_fail(err, KILN_ERR_INVALID_MODEL, "node '%s' (%s): operand types differ",
                     n->name, n->op_type);
  bool ta = kiln_attr_int(n, "transA", 0), tb = kiln_attr_int(n, "transB", 0);
  int64_t m = a->dims[ta], ka = a->dims[!ta], kb = b->dims[tb], nn = b->dims[!tb];
  if (ka != kb)
    return kiln_fail(err, KILN_ERR_SHAPE, "node '%s' (%s): inner dims differ (%lld vs %lld)",
                     n->name, n->op_type, (long long)ka, (long long)kb);
  int64_t dims[2] = {m, nn};
  if (c) { /* C broadcasts one way only: to [M, N] */
    int r;
    int64_t bd[KILN_MAX_RANK];
    if (c->rank > 2 || kiln_broadcast_shape(n, 2, dims, c->rank, c->dims, &r, bd, err) ||
        bd[0] != m || bd[1] != nn)
      return kiln_fail(err, KILN_ERR_SHAPE, "node '%s' (%s): C does not broadcast to [%lld,%lld]",
                       n->name, n->op_type, (long long)m, (long long)nn);
  }
  kiln_set_out(g, n, 0, a->dtype, 2, dims);
  return KILN_OK;
}

/* MatMulPanels: Gemm's Y = alpha * A' B + beta * C with B [K, _n] given as panels
 * Bp[N/nr][K][nr] (Bp[p, k, j] = B[k, p * nr + j], zero past _n: the order a register tile
 * nr columns wide reads B in); A may carry batch dims (then without transA and C). */
static kiln_status infer_matmul_panels(kiln_graph *g, kiln_node *n, kiln_error *err) {
  const kiln_value *a = kiln_node_in(g, n, 0), *b = kiln_node_in(g, n, 1);
  bool ta = kiln_attr_int(n, "transA", 0);
  int64_t nn = kiln_attr_int(n, "_n", 0);
  if (check_numeric(n, a, err) || check_numeric(n, b, err)) return err->code;
  if (a->rank < 2 || b->rank != 3 || a->dtype != b->dtype || nn < 1 ||
      (b->dims[0] - 1) * b->dims[2] >= nn || nn > b->dims[0] * b->dims[2] ||
      a->dims[a->rank - 1 - ta] != b->dims[1] ||
      (a->rank > 2 && (ta || kiln_node_in(g, n, 2))))
    return kiln_fail(err, KILN_ERR_INVALID_MODEL, "node '%s' (%s): operands do not match",
                     n->name, n->op_type);
  int64_t dims[KILN_MAX_RANK];
  for (int d = 0; d < a->rank - 2; d++) dims[d] = a->dims[d];
  dims[a->rank - 2] = a->dims[a->rank - 2 + ta];
  dims[a->rank - 1] = nn;
  kiln_set_out(g, n, 0, a->dtype, a->rank, dims);
  return KILN_OK;
}

/* ---- lowering ------------------------------------------------------------------------- */

/* The iteration space of one product: batch vars, m, n (spatial) and k (reduction). */
typedef struct mm_space {
  kiln_stage *s;
  int nbatch;
  kiln_expr *batch[KILN_MAX_RANK];
  kiln_expr *m, *n, *k;
  bool empty; /* K == 0: one step adding zero, as loops have extents of at least 1 */
} mm_space;

/* Adds the stage writing y with axes batch.., M, N, K (see the top of the file). */
static void mm_begin(kiln_kernel *k, const char *name, int y, int nbatch, const int64_t *bdims,
                     int64_t m, int64_t n, int64_t kk, mm_space *o) {
  o->s = kiln_kernel_add_stage(k, name, y);
  o->nbatch = nbatch;
  for (int d = 0; d < nbatch; d++) o->batch[d] = kx_var(k, kiln_stage_axis(o->s, bdims[d], false));
  o->m = kx_var(k, kiln_stage_axis(o->s, m, false));
  o->n = kx_var(k, kiln_stage_axis(o->s, n, false));
  o->empty = kk == 0;
  o->k = kx_var(k, kiln_stage_axis(o->s, o->empty ? 1 : kk, true));
  o->s->reduce = KR_SUM;
}

/* Loads operand `buf`: rows x cols are its last two dims (one dim when 1-D: just `vec_idx`),
 * earlier dims broadcast against the stage's batch vars. */
static kiln_expr *mm_load(kiln_kernel *k, const mm_space *o, int buf, kiln_expr *row,
                          kiln_expr *col, kiln_expr *vec_idx) {
  const kiln_buffer *b = &k->bufs[buf];
  kiln_expr *idx[KILN_MAX_RANK];
  if (b->rank == 1) {
    idx[0] = vec_idx;
    return kx_load(k, buf, idx);
  }
  int nb = b->rank - 2;
  for (int d = 0; d < nb; d++)
    idx[d] = b->dims[d] == 1 ? kx_idx(k, 0) : o->batch[o->nbatch - nb + d];
  idx[nb] = row;
  idx[nb + 1] = col;
  return kx_load(k, buf, idx);
}

/* The accumulation type: f32 for half types, else the element type itself. */
static kiln_dtype acc_type(kiln_dtype t) {
  return t == KILN_F16 || t == KILN_BF16 ? KILN_F32 : t;
}

/* Stores the stage at the output index (batch.., m if A is not 1-D, n if B is not 1-D). */
static void mm_store(kiln_kernel *k, mm_space *o, int y, bool keep_m, bool keep_n,
                     kiln_expr *value) {
  kiln_expr *idx[KILN_MAX_RANK];
  int r = 0, ybatch = k->bufs[y].rank - keep_m - keep_n;
  for (int d = 0; d < ybatch; d++) idx[r++] = o->batch[o->nbatch - ybatch + d];
  if (keep_m) idx[r++] = o->m;
  if (keep_n) idx[r++] = o->n;
  kiln_stage_store(k, o->s, idx, o->empty ? kx_const_f(k, value->dtype, 0) : value);
}

/* MatMul and MatMulInteger: zero points (buffers, -1 if absent) are subtracted first. */
static kiln_status lower_product(kiln_lower_ctx *c, int azp, int bzp) {
  kiln_kernel *k = c->k;
  int a = c->in_buf[0], b = c->in_buf[1], y = c->out_buf[0];
  const kiln_buffer *ab = &k->bufs[a], *bb = &k->bufs[b], *yb = &k->bufs[y];
  bool keep_m = ab->rank > 1, keep_n = bb->rank > 1;
  int64_t m = keep_m ? ab->dims[ab->rank - 2] : 1, n = keep_n ? bb->dims[bb->rank - 1] : 1;
  int64_t kk = ab->dims[ab->rank - 1];
  mm_space o;
  mm_begin(k, "matmul", y, yb->rank - keep_m - keep_n, yb->dims, m, n, kk, &o);
  kiln_dtype t = acc_type(yb->dtype);
  kiln_expr *av = kx_cast(k, mm_load(k, &o, a, o.m, o.k, o.k), t);
  kiln_expr *bv = kx_cast(k, mm_load(k, &o, b, o.k, o.n, o.k), t);
  /* a 1-D zero point is per row of A (m) or per column of B (n); one element is shared */
  if (azp >= 0) av = kx_binary(k, KB_SUB, av, kx_cast(k, kiln_load_broadcast(k, azp, 1, &o.m), t));
  if (bzp >= 0) bv = kx_binary(k, KB_SUB, bv, kx_cast(k, kiln_load_broadcast(k, bzp, 1, &o.n), t));
  mm_store(k, &o, y, keep_m, keep_n, kx_binary(k, KB_MUL, av, bv));
  if (t != yb->dtype) o.s->post = kx_cast(k, kx_acc(k, t), yb->dtype);
  return KILN_OK;
}

static kiln_status lower_matmul(kiln_lower_ctx *c) { return lower_product(c, -1, -1); }

static kiln_status lower_matmul_integer(kiln_lower_ctx *c) {
  return lower_product(c, c->n->ninputs > 2 ? c->in_buf[2] : -1,
                       c->n->ninputs > 3 ? c->in_buf[3] : -1);
}

/* Gemm's epilogue, alpha * acc + beta * C[m, n] cast to y's type, as the stage's post. */
static void gemm_post(kiln_lower_ctx *c, kiln_stage *s, kiln_expr *m, kiln_expr *n) {
  kiln_kernel *k = c->k;
  int cb = c->n->ninputs > 2 ? c->in_buf[2] : -1;
  double alpha = kiln_attr_float(c->n, "alpha", 1.0), beta = kiln_attr_float(c->n, "beta", 1.0);
  kiln_dtype yt = k->bufs[c->out_buf[0]].dtype, t = acc_type(yt);
  kiln_expr *post = kx_acc(k, t);
  if (alpha != 1.0) post = kx_binary(k, KB_MUL, kx_const_f(k, t, alpha), post);
  if (cb >= 0 && beta != 0.0) {
    kiln_expr *mn[2] = {m, n};
    kiln_expr *cv = kx_cast(k, kiln_load_broadcast(k, cb, 2, mn), t);
    if (beta != 1.0) cv = kx_binary(k, KB_MUL, kx_const_f(k, t, beta), cv);
    post = kx_binary(k, KB_ADD, post, cv);
  }
  post = kx_cast(k, post, yt);
  s->post = post->kind == KX_ACC ? NULL : post;
}

/* Gemm: Y = alpha * A' B' + beta * C, the epilogue in the reduction's post. */
static kiln_status lower_gemm(kiln_lower_ctx *c) {
  kiln_kernel *k = c->k;
  int a = c->in_buf[0], b = c->in_buf[1], y = c->out_buf[0];
  bool ta = kiln_attr_int(c->n, "transA", 0), tb = kiln_attr_int(c->n, "transB", 0);
  const kiln_buffer *yb = &k->bufs[y];
  int64_t kk = k->bufs[a].dims[!ta];
  mm_space o;
  mm_begin(k, "gemm", y, 0, NULL, yb->dims[0], yb->dims[1], kk, &o);
  kiln_dtype t = acc_type(yb->dtype);
  kiln_expr *av = kx_cast(k, ta ? mm_load(k, &o, a, o.k, o.m, NULL) : mm_load(k, &o, a, o.m, o.k, NULL), t);
  kiln_expr *bv = kx_cast(k, tb ? mm_load(k, &o, b, o.n, o.k, NULL) : mm_load(k, &o, b, o.k, o.n, NULL), t);
  mm_store(k, &o, y, true, true, kx_binary(k, KB_MUL, av, bv));
  gemm_post(c, o.s, o.m, o.n);
  return KILN_OK;
}

/* One stage of MatMulPanels over panels [p0, p0 + np), w columns of each, with axes
 * batch.., m, panel, column, k: the column is stride 1 in both the output and the panel,
 * so the register tile reads each panel's k-th row contiguously. */
static void panels_stage(kiln_lower_ctx *c, int64_t p0, int64_t np, int64_t w) {
  kiln_kernel *k = c->k;
  int a = c->in_buf[0], b = c->in_buf[1], y = c->out_buf[0];
  bool ta = kiln_attr_int(c->n, "transA", 0);
  const kiln_buffer *ab = &k->bufs[a], *yb = &k->bufs[y];
  int64_t nr = k->bufs[b].dims[2], kk = k->bufs[b].dims[1];
  kiln_stage *s = kiln_kernel_add_stage(k, p0 ? "matmul_tail" : "matmul", y);
  int nbatch = yb->rank - 2;
  kiln_expr *idx[KILN_MAX_RANK], *ai[KILN_MAX_RANK];
  for (int d = 0; d < nbatch; d++) idx[d] = ai[d] = kx_var(k, kiln_stage_axis(s, yb->dims[d], false));
  kiln_expr *m = kx_var(k, kiln_stage_axis(s, yb->dims[nbatch], false));
  kiln_expr *p = kx_addi(k, kx_var(k, kiln_stage_axis(s, np, false)), p0);
  kiln_expr *j = kx_var(k, kiln_stage_axis(s, w, false));
  kiln_expr *kv = kx_var(k, kiln_stage_axis(s, kk, true));
  s->reduce = KR_SUM;
  kiln_dtype t = acc_type(yb->dtype);
  for (int d = 0; d < nbatch; d++) /* A's batch dims broadcast */
    if (ab->dims[d] == 1) ai[d] = kx_idx(k, 0);
  ai[nbatch] = ta ? kv : m;
  ai[nbatch + 1] = ta ? m : kv;
  kiln_expr *bi[3] = {p, kv, j};
  kiln_expr *n = kx_add(k, kx_muli(k, p, nr), j);
  idx[nbatch] = m;
  idx[nbatch + 1] = n;
  kiln_stage_store(k, s, idx, kx_binary(k, KB_MUL, kx_cast(k, kx_load(k, a, ai), t),
                                        kx_cast(k, kx_load(k, b, bi), t)));
  gemm_post(c, s, m, n);
}

/* MatMulPanels: one stage over the full panels, one over the columns of a partial last. */
static kiln_status lower_matmul_panels(kiln_lower_ctx *c) {
  const kiln_kernel *k = c->k;
  int64_t nr = k->bufs[c->in_buf[1]].dims[2], nn = kiln_attr_int(c->n, "_n", 0);
  if (nn / nr) panels_stage(c, 0, nn / nr, nr);
  if (nn % nr) panels_stage(c, nn / nr, 1, nn % nr);
  return KILN_OK;
}

static const kiln_attr_spec gemm_attrs[] = {
    {"alpha", KILN_ATTR_FLOAT, false},
    {"beta", KILN_ATTR_FLOAT, false},
    {"transA", KILN_ATTR_INT, false},
    {"transB", KILN_ATTR_INT, false},
    {NULL},
};

static const kiln_attr_spec matmul_panels_attrs[] = {
    {"_n", KILN_ATTR_INT, true},
    {"alpha", KILN_ATTR_FLOAT, false},
    {"beta", KILN_ATTR_FLOAT, false},
    {"transA", KILN_ATTR_INT, false},
    {NULL},
};

const kiln_op_def kiln_ops_linalg[] = {
    {"MatMul", 2, 2, 1, 1, NULL, infer_matmul, lower_matmul, NULL, KILN_OP_PANEL_B | KILN_OP_SYMBOLIC},
    {"MatMulInteger", 2, 4, 1, 1, NULL, infer_matmul_integer, lower_matmul_integer, NULL, KILN_OP_SYMBOLIC},
    {"Gemm", 2, 3, 1, 1, gemm_attrs, infer_gemm, lower_gemm, NULL, KILN_OP_PANEL_B | KILN_OP_SYMBOLIC},
    {"MatMulPanels", 2, 3, 1, 1, matmul_panels_attrs, infer_matmul_panels, lower_matmul_panels,
     NULL, KILN_OP_SYMBOLIC},
    {NULL},
};
