/* TopK by selection: the k-th element's order key found bit by bit, then the k elements
 * that come before or equal it ranked among themselves. Ranking all n elements is n^2; this
 * is 32 n for the key (one counting pass per bit) + a few passes of n + k^2 for the ranks,
 * and its stages have the same form at every n and k, so it also serves run-time sizes (an
 * SSD head's TopK with k = min(count, 300) over 3234 scores: 3.3 ms as ranks, 0.12 so).
 *   1. key[j]: a 32-bit order key, larger first (ints of up to 32 bits, floats by their
 *      bits: f32, f16 and bf16 widened);
 *   2. t, 32 stages: bit b of t is set where at least k keys are >= t's bits above b with
 *      b set: t ends as the largest value that k keys reach, the k-th key;
 *   3. above: the keys > t; the element is taken if its key is > t, or = t and among the
 *      first k - above of those, by index (running counts, in order): exactly k taken;
 *   4. the taken elements' indices in a list of k (in order, each at its running count),
 *      ranked among themselves and output as ranks are (ir/ops/topk.c). */
#include "ir/ops/select.h"
#include "ir/ops/topk.h"

#include "ir/dtype.h"

bool kiln_topk_select_ok(kiln_dtype t) {
  switch (t) {
  case KILN_F32: case KILN_F16: case KILN_BF16: case KILN_I8: case KILN_U8: case KILN_I16:
  case KILN_U16: case KILN_I32: case KILN_U32: return true;
  default: return false;
  }
}

/* x's order key in [0, 2^32) as an i64, larger first: with largest x's order, else its
 * reverse. A float's bits order it once the negative ones are flipped: a non-negative one
 * is its bits + 2^31, a negative one 2^31 - 1 - its magnitude's bits. -0 counts as +0 and
 * every NaN above +inf, equal to each other, as comes_before (topk.c) orders them. */
static kiln_expr *order_key(kiln_kernel *k, kiln_expr *x, bool largest) {
  const int64_t half = (int64_t)1 << 31, top = ((int64_t)1 << 32) - 1;
  kiln_expr *key;
  if (kiln_dtype_is_float(x->dtype)) {
    x = kx_cast(k, x, KILN_F32);
    kiln_expr *zero = kx_const_f(k, KILN_F32, 0);
    x = kx_select(k, kx_binary(k, KB_EQ, x, zero), zero, x);
    kiln_expr *b = kx_cast(k, kx_bitcast(k, x, KILN_I32), KILN_I64);
    key = kx_select(k, kx_binary(k, KB_LT, b, kx_idx(k, 0)),
                    kx_binary(k, KB_SUB, kx_idx(k, -1), b), kx_addi(k, b, half));
    key = kx_select(k, kx_unary(k, KU_ISNAN, x), kx_idx(k, top), key);
  } else {
    key = kx_cast(k, x, KILN_I64);
    if (kiln_dtype_is_signed(x->dtype)) key = kx_addi(k, key, half);
  }
  return largest ? key : kx_binary(k, KB_SUB, kx_idx(k, top), key);
}

/* The stage's axes over dims (rank of them) into v, then with n >= 0 a reduction axis of
 * extent n: its variable. */
static kiln_expr *axes(kiln_kernel *k, kiln_stage *s, int rank, const int64_t *dims,
                       kiln_expr **v, int64_t n) {
  for (int d = 0; d < rank; d++) v[d] = kx_var(k, kiln_stage_axis(s, dims[d], false));
  return n >= 0 ? kx_var(k, kiln_stage_axis(s, n, true)) : NULL;
}

/* v with index `axis` replaced by e. */
static kiln_expr **at_axis(int rank, int axis, kiln_expr *const *v, kiln_expr *e,
                           kiln_expr **out) {
  for (int d = 0; d < rank; d++) out[d] = d == axis ? e : v[d];
  return out;
}

/* Is element v taken: its key above t, or equal and within the first k - above ties? */
static kiln_expr *taken(kiln_kernel *k, int key, int t, int above, int ties, int rank,
                        int axis, kiln_expr **v, int64_t kk) {
  kiln_expr *row[KILN_MAX_RANK];
  at_axis(rank, axis, v, kx_idx(k, 0), row);
  kiln_expr *kv = kx_load(k, key, v), *tv = kx_load(k, t, row);
  kiln_expr *room = kx_binary(k, KB_SUB, kx_idx(k, kk), kx_load(k, above, row));
  kiln_expr *tie = kx_and(k, kx_binary(k, KB_EQ, kv, tv),
                          kx_binary(k, KB_LE, kx_load(k, ties, v), room));
  return kx_binary(k, KB_OR, kx_binary(k, KB_GT, kv, tv), tie);
}

void kiln_topk_by_select(kiln_lower_ctx *c, int axis, bool largest, int64_t kk) {
  kiln_kernel *k = c->k;
  const kiln_buffer *x = &k->bufs[c->in_buf[0]];
  int xb = c->in_buf[0], rank = x->rank;
  int64_t n = x->dims[axis], one = 1, kp1 = kk + 1;
  int64_t xd[KILN_MAX_RANK], rd[KILN_MAX_RANK], ld[KILN_MAX_RANK], kd[KILN_MAX_RANK];
  for (int d = 0; d < rank; d++) xd[d] = x->dims[d];
  kiln_topk_axis_replaced(x, axis, &one, 1, rd);
  kiln_topk_axis_replaced(x, axis, &kp1, 1, ld);
  kiln_topk_axis_replaced(x, axis, &kk, 1, kd);
  int key = kiln_kernel_add_buffer(k, "key", KILN_BUF_TEMP, -1, KILN_I64, rank, xd);
  int t2[2] = {kiln_kernel_add_buffer(k, "kth_key", KILN_BUF_TEMP, -1, KILN_I64, rank, rd),
               kiln_kernel_add_buffer(k, "kth_key_next", KILN_BUF_TEMP, -1, KILN_I64, rank, rd)};
  int above = kiln_kernel_add_buffer(k, "above", KILN_BUF_TEMP, -1, KILN_I64, rank, rd);
  int ties = kiln_kernel_add_buffer(k, "ties", KILN_BUF_TEMP, -1, KILN_I64, rank, xd);
  int count = kiln_kernel_add_buffer(k, "taken", KILN_BUF_TEMP, -1, KILN_I64, rank, xd);
  int list = kiln_kernel_add_buffer(k, "candidates", KILN_BUF_TEMP, -1, KILN_I64, rank, ld);
  int cval = kiln_kernel_add_buffer(k, "candidate_values", KILN_BUF_TEMP, -1, x->dtype, rank, kd);
  int crank = kiln_kernel_add_buffer(k, "candidate_rank", KILN_BUF_TEMP, -1, KILN_I64, rank, kd);
  kiln_expr *v[KILN_MAX_RANK], *w[KILN_MAX_RANK], *j;

  /* 1. keys */
  kiln_stage *s = kiln_kernel_add_stage(k, "topk_key", key);
  axes(k, s, rank, xd, v, -1);
  kiln_stage_store(k, s, v, order_key(k, kx_load(k, xb, v), largest));

  /* 2. the k-th key, from its top bit down */
  int t = -1;
  for (int bit = 31; bit >= 0; bit--) {
    int next = t2[bit & 1];
    s = kiln_kernel_add_stage(k, "topk_kth_key", next);
    j = axes(k, s, rank, rd, v, n);
    kiln_expr *prev = t < 0 ? kx_idx(k, 0) : kx_load(k, t, v);
    kiln_expr *tried = kx_binary(k, KB_OR, prev, kx_idx(k, (int64_t)1 << bit));
    kiln_expr *reach = kx_binary(k, KB_GE, kx_load(k, key, at_axis(rank, axis, v, j, w)), tried);
    s->reduce = KR_SUM;
    kiln_stage_store(k, s, v, kx_select(k, reach, kx_idx(k, 1), kx_idx(k, 0)));
    s->post = kx_select(k, kx_binary(k, KB_GE, kx_acc(k, KILN_I64), kx_idx(k, kk)), tried, prev);
    t = next;
  }

  /* 3. the keys above it; the ties' and the taken elements' running counts */
  s = kiln_kernel_add_stage(k, "topk_above", above);
  j = axes(k, s, rank, rd, v, n);
  kiln_expr *gt = kx_binary(k, KB_GT, kx_load(k, key, at_axis(rank, axis, v, j, w)),
                            kx_load(k, t, v));
  s->reduce = KR_SUM;
  kiln_stage_store(k, s, v, kx_select(k, gt, kx_idx(k, 1), kx_idx(k, 0)));

  s = kiln_kernel_add_stage(k, "topk_ties", ties);
  axes(k, s, rank, xd, v, -1);
  kiln_expr *tv = kx_load(k, t, at_axis(rank, axis, v, kx_idx(k, 0), w));
  kiln_select_running(k, s, ties, rank, axis, v,
                      kx_select(k, kx_binary(k, KB_EQ, kx_load(k, key, v), tv), kx_idx(k, 1),
                                kx_idx(k, 0)));

  s = kiln_kernel_add_stage(k, "topk_taken", count);
  axes(k, s, rank, xd, v, -1);
  kiln_select_running(k, s, count, rank, axis, v,
                      kx_select(k, taken(k, key, t, above, ties, rank, axis, v, kk),
                                kx_idx(k, 1), kx_idx(k, 0)));

  /* 4. list[count - 1] = j for the taken, the others to the spare slot k */
  s = kiln_kernel_add_stage(k, "topk_list", list);
  s->ordered = true;
  axes(k, s, rank, xd, v, -1);
  kiln_expr *slot = kx_select(k, taken(k, key, t, above, ties, rank, axis, v, kk),
                              kx_addi(k, kx_load(k, count, v), -1), kx_idx(k, kk));
  kiln_stage_store(k, s, at_axis(rank, axis, v, slot, w), v[axis]);

  kiln_topk_rank_candidates(k, xb, axis, largest, list, cval, crank, kd, 1);
  kiln_topk_outputs(c, axis, crank, kd, 1, list);
}
