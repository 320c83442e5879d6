/* Det: the determinant of each square matrix of a [..., M, M] batch, by LU factorization
 * with partial pivoting (LAPACK's getrf, which numpy's det calls). The factorization is
 * sequential in its M steps but parallel within one, so each step is a few stages of the
 * kernel: find the pivot row of the current Schur complement, record the pivot (negated
 * when rows swap), and eliminate into the next complement, one row and column smaller.
 * The determinant is the product of the recorded pivots. Arithmetic is f64 for f64 and
 * f32 otherwise (half types round once at the end). */
#include "ir/op.h"

#include "ir/dtype.h"

static kiln_status infer_det(kiln_graph *g, kiln_node *n, kiln_error *err) {
  const kiln_value *x = kiln_node_in(g, n, 0);
  if (!kiln_dtype_is_float(x->dtype) || x->rank < 2 ||
      x->dims[x->rank - 1] != x->dims[x->rank - 2])
    return kiln_fail_node(n, err, KILN_ERR_SHAPE, "X must be float square matrices [..., M, M]");
  kiln_set_out(g, n, 0, x->dtype, x->rank - 2, x->dims);
  return KILN_OK;
}

/* The row-major number of the point vars[0..rank) of dims (0 for rank 0). */
static kiln_expr *flat(kiln_kernel *k, kiln_expr *const *vars, const int64_t *dims, int rank) {
  kiln_expr *f = kx_idx(k, 0);
  for (int d = 0; d < rank; d++) f = kx_add(k, kx_muli(k, f, dims[d]), vars[d]);
  return f;
}

/* Element (i, j) of the m x m complement of matrix b stored row-major in buf [batch, M*M]. */
static kiln_expr *at(kiln_kernel *k, int buf, kiln_expr *b, kiln_expr *i, kiln_expr *j,
                     int64_t m) {
  kiln_expr *idx[2] = {b, kx_add(k, kx_muli(k, i, m), j)};
  return kx_load(k, buf, idx);
}

static kiln_status lower_det(kiln_lower_ctx *c) {
  kiln_kernel *k = c->k;
  const kiln_buffer *x = &k->bufs[c->in_buf[0]];
  int br = x->rank - 2;
  int64_t n = x->dims[br], batch = kiln_shape_numel(br, x->dims);
  kiln_dtype t = x->dtype, ct = t == KILN_F64 ? KILN_F64 : KILN_F32;
  kiln_expr *v[KILN_MAX_RANK];
  kiln_stage *s;
  if (n == 0) { /* the empty product */
    s = kiln_elementwise_stage(k, "det_empty", c->out_buf[0], v);
    kiln_stage_store(k, s, v, kx_const_f(k, t, 1));
    return KILN_OK;
  }
  int64_t dims[2] = {batch, n * n}, pdims[2] = {batch, n};
  int buf[2];
  buf[0] = kiln_kernel_add_buffer(k, "lu0", KILN_BUF_TEMP, -1, ct, 2, dims);
  buf[1] = kiln_kernel_add_buffer(k, "lu1", KILN_BUF_TEMP, -1, ct, 2, dims);
  int piv = kiln_kernel_add_buffer(k, "pivots", KILN_BUF_TEMP, -1, ct, 2, pdims);
  int mx = kiln_kernel_add_buffer(k, "colmax", KILN_BUF_TEMP, -1, ct, 1, &batch);
  int row = kiln_kernel_add_buffer(k, "pivot_row", KILN_BUF_TEMP, -1, KILN_I64, 1, &batch);

  s = kiln_kernel_add_stage(k, "det_load", buf[0]);
  for (int d = 0; d < x->rank; d++) v[d] = kx_var(k, kiln_stage_axis(s, x->dims[d], false));
  kiln_expr *dst[2] = {flat(k, v, x->dims, br), kx_add(k, kx_muli(k, v[br], n), v[br + 1])};
  kiln_stage_store(k, s, dst, kx_cast(k, kx_load(k, c->in_buf[0], v), ct));

  kiln_expr *zero = kx_const_f(k, ct, 0);
  for (int64_t step = 0; step < n; step++) {
    int64_t m = n - step;
    int cur = buf[step % 2], next = buf[(step + 1) % 2];
    /* the largest |a(i, 0)| */
    s = kiln_kernel_add_stage(k, "det_colmax", mx);
    kiln_expr *b = kx_var(k, kiln_stage_axis(s, batch, false));
    kiln_expr *i = kx_var(k, kiln_stage_axis(s, m, true));
    s->reduce = KR_MAX;
    kiln_stage_store(k, s, &b, kx_unary(k, KU_ABS, at(k, cur, b, i, kx_idx(k, 0), m)));
    /* its first row: max of m - i over the rows reaching it; none (a NaN) keeps row 0 */
    s = kiln_kernel_add_stage(k, "det_pivot", row);
    b = kx_var(k, kiln_stage_axis(s, batch, false));
    i = kx_var(k, kiln_stage_axis(s, m, true));
    kiln_expr *hit = kx_binary(k, KB_EQ, kx_unary(k, KU_ABS, at(k, cur, b, i, kx_idx(k, 0), m)),
                               kx_load(k, mx, &b));
    s->reduce = KR_MAX;
    s->init = kx_idx(k, 0);
    kiln_expr *acc = kx_acc(k, KILN_I64);
    s->post = kx_select(k, kx_binary(k, KB_EQ, acc, kx_idx(k, 0)), kx_idx(k, 0),
                        kx_binary(k, KB_SUB, kx_idx(k, m), acc));
    kiln_stage_store(k, s, &b, kx_select(k, hit, kx_binary(k, KB_SUB, kx_idx(k, m), i),
                                         kx_idx(k, 0)));
    /* the pivot, negated when its row is swapped with row 0 */
    s = kiln_kernel_add_stage(k, "det_record", piv);
    b = kx_var(k, kiln_stage_axis(s, batch, false));
    kiln_expr *p = kx_load(k, row, &b);
    kiln_expr *pv = at(k, cur, b, p, kx_idx(k, 0), m);
    kiln_expr *swapped = kx_binary(k, KB_NE, p, kx_idx(k, 0));
    kiln_expr *rec[2] = {b, kx_idx(k, step)};
    kiln_stage_store(k, s, rec, kx_select(k, swapped, kx_unary(k, KU_NEG, pv), pv));
    if (m == 1) break;
    /* next(i, j) = a(r, j + 1) - a(r, 0) / pivot * a(p, j + 1), r = row i + 1 after the
     * swap; a zero pivot (a singular matrix, its determinant 0) eliminates nothing */
    s = kiln_kernel_add_stage(k, "det_eliminate", next);
    b = kx_var(k, kiln_stage_axis(s, batch, false));
    i = kx_var(k, kiln_stage_axis(s, m - 1, false));
    kiln_expr *j = kx_var(k, kiln_stage_axis(s, m - 1, false));
    p = kx_load(k, row, &b);
    pv = at(k, cur, b, p, kx_idx(k, 0), m);
    kiln_expr *r = kx_addi(k, i, 1);
    r = kx_select(k, kx_binary(k, KB_EQ, r, p), kx_idx(k, 0), r);
    kiln_expr *j1 = kx_addi(k, j, 1);
    kiln_expr *f = kx_binary(k, KB_DIV, at(k, cur, b, r, kx_idx(k, 0), m), pv);
    f = kx_select(k, kx_binary(k, KB_EQ, pv, zero), zero, f);
    kiln_expr *val = kx_binary(k, KB_SUB, at(k, cur, b, r, j1, m),
                               kx_binary(k, KB_MUL, f, at(k, cur, b, p, j1, m)));
    kiln_expr *out[2] = {b, kx_add(k, kx_muli(k, i, m - 1), j)};
    kiln_stage_store(k, s, out, val);
  }

  /* half types: the product in a temporary of the compute type, then rounded once */
  int prod = c->out_buf[0];
  if (ct != t) prod = kiln_kernel_add_buffer(k, "det", KILN_BUF_TEMP, -1, ct, br, x->dims);
  s = kiln_kernel_add_stage(k, "det", prod);
  for (int d = 0; d < br; d++) v[d] = kx_var(k, kiln_stage_axis(s, x->dims[d], false));
  kiln_expr *col = kx_var(k, kiln_stage_axis(s, n, true));
  kiln_expr *src[2] = {flat(k, v, x->dims, br), col};
  s->reduce = KR_PROD;
  kiln_stage_store(k, s, v, kx_load(k, piv, src));
  if (prod != c->out_buf[0]) {
    s = kiln_elementwise_stage(k, "det_round", c->out_buf[0], v);
    kiln_stage_store(k, s, v, kx_cast(k, kx_load(k, prod, v), t));
  }
  return KILN_OK;
}

const kiln_op_def kiln_ops_det[] = {
    {"Det", 1, 1, 1, 1, NULL, infer_det, lower_det, NULL, 0},
    {NULL},
};
