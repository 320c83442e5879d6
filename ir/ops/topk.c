/* TopK: the k largest (or smallest) elements along an axis, sorted, ties by index, with
 * their indices. Three forms:
 *   select   the k-th element's order key, bit by bit, then the k up to it sorted by a
 *            radix sort (ir/ops/topk_select.c): 32 n (64 n for 64-bit types) + a few
 *            passes of n and k, the form for most sizes and for sizes known only at run time;
 *   ranks    an element's rank is how many elements come before it, and output q takes
 *            the element of rank q: every element against every other (n^2), short axes;
 *   leaders  blocks of the axis, those whose first elements rank below k, and only their
 *            first few ranked (topk_by_leaders): for a small k along a long axis (k = 3 of
 *            5000: 10 us, selection 21-33).
 * lower_topk counts each form's comparisons and takes the fewest. */
#include "ir/ops/topk.h"

#include "ir/dtype.h"

#include <math.h>
#include <string.h>

static kiln_status topk_plan(const kiln_graph *g, const kiln_node *n, int *axis, int64_t *k,
                             kiln_error *err) {
  const kiln_value *x = kiln_node_in(g, n, 0);
  int count = 0;
  if (x->rank < 1 || x->dtype == KILN_BOOL)
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "needs a numeric input of rank >= 1");
  if (kiln_norm_axis(n, kiln_attr_int(n, "axis", -1), x->rank, axis, err)) return err->code;
  if (kiln_const_ints(g, n, 1, k, 1, &count, err)) return err->code;
  if (count != 1 || *k < 0 || *k > x->dims[*axis])
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "K must be one integer in [0, the axis]");
  return KILN_OK;
}

static kiln_status infer_topk(kiln_graph *g, kiln_node *n, kiln_error *err) {
  const kiln_value *x = kiln_node_in(g, n, 0);
  int axis;
  int64_t k, dims[KILN_MAX_RANK];
  if (topk_plan(g, n, &axis, &k, err)) return err->code;
  memcpy(dims, x->dims, sizeof(int64_t) * (size_t)x->rank);
  dims[axis] = k;
  kiln_set_out(g, n, 0, x->dtype, x->rank, dims);
  if (n->noutputs > 1) kiln_set_out(g, n, 1, KILN_I64, x->rank, dims);
  return KILN_OK;
}

/* Is x NaN? NULL for an integer type. */
static kiln_expr *nan_of(kiln_kernel *k, kiln_expr *x) {
  return kiln_dtype_is_float(x->dtype) ? kx_unary(k, KU_ISNAN, x) : NULL;
}

/* Does element j come before element p along the axis (larger, or smaller with largest=0;
 * equal ones by index, so that ranks are a permutation)? xj and xp are their values. NaN
 * counts as larger than any number and equal to NaN, as in onnxruntime: first among the
 * largest, last among the smallest. */
static kiln_expr *comes_before(kiln_kernel *k, bool largest, kiln_expr *xj, kiln_expr *j,
                               kiln_expr *xp, kiln_expr *p) {
  kiln_expr *beats = kx_binary(k, largest ? KB_GT : KB_LT, xj, xp);
  kiln_expr *equal = kx_binary(k, KB_EQ, xj, xp);
  kiln_expr *nj = nan_of(k, xj), *np = nan_of(k, xp);
  if (nj) {
    kiln_expr *nan_first = largest ? kx_and(k, nj, kx_unary(k, KU_NOT, np))
                                   : kx_and(k, kx_unary(k, KU_NOT, nj), np);
    beats = kx_binary(k, KB_OR, beats, nan_first);
    equal = kx_binary(k, KB_OR, equal, kx_and(k, nj, np));
  }
  kiln_expr *tie = kx_and(k, equal, kx_binary(k, KB_LT, j, p));
  return kx_binary(k, KB_OR, beats, tie);
}

/* Output q (values, or indices with out 1) takes the entry of `rank` (x's dims with the
 * axis's replaced, `dims`) whose rank is q: a max reduction selecting it. The entry's index
 * along the axis is its own (cand -1) or the one `cand` holds. */
static void topk_outputs(kiln_lower_ctx *c, int axis, int rank, const int64_t *dims, int cand) {
  kiln_kernel *k = c->k;
  const kiln_buffer *x = &k->bufs[c->in_buf[0]];
  int64_t n = x->dims[axis];
  for (int out = 0; out < 2 && out < c->n->noutputs; out++) {
    if (c->out_buf[out] < 0) continue;
    const kiln_buffer *y = &k->bufs[c->out_buf[out]];
    kiln_stage *s = kiln_kernel_add_stage(k, out ? "topk_indices" : "topk_values", c->out_buf[out]);
    kiln_expr *v[KILN_MAX_RANK], *o[KILN_MAX_RANK], *xi[KILN_MAX_RANK];
    for (int d = 0; d < y->rank; d++) v[d] = kx_var(k, kiln_stage_axis(s, y->dims[d], false));
    for (int d = 0; d < y->rank; d++)
      o[d] = d == axis ? kx_var(k, kiln_stage_axis(s, dims[d], true)) : v[d];
    kiln_expr *j = cand >= 0 ? kx_load(k, cand, o) : o[axis];
    for (int d = 0; d < x->rank; d++) xi[d] = d == axis ? kx_clamp_index(k, j, n) : v[d];
    kiln_expr *hit = kx_binary(k, KB_EQ, kx_load(k, rank, o), v[axis]);
    kiln_expr *val = out ? j : kx_load(k, c->in_buf[0], xi);
    s->reduce = KR_MAX;
    kiln_stage_store(k, s, v, kx_select(k, hit, val, kx_reduce_identity(k, KR_MAX, y->dtype)));
  }
}

/* rank[p] = how many elements along the axis come before x[p]; then output q takes the
 * element of rank q, always sorted. O(n^2) along the axis: for class scores. */
static void topk_by_ranks(kiln_lower_ctx *c, int axis, bool largest) {
  kiln_kernel *k = c->k;
  const kiln_buffer *x = &k->bufs[c->in_buf[0]];
  int rank = kiln_kernel_add_buffer(k, "rank", KILN_BUF_TEMP, -1, KILN_I64, x->rank, x->dims);
  kiln_stage *s = kiln_kernel_add_stage(k, "topk_rank", rank);
  kiln_expr *v[KILN_MAX_RANK], *o[KILN_MAX_RANK];
  for (int d = 0; d < x->rank; d++)
    v[d] = o[d] = kx_var(k, kiln_stage_axis(s, x->dims[d], false));
  kiln_expr *j = kx_var(k, kiln_stage_axis(s, x->dims[axis], true));
  o[axis] = j;
  kiln_expr *before = comes_before(k, largest, kx_load(k, c->in_buf[0], o), j,
                                   kx_load(k, c->in_buf[0], v), v[axis]);
  s->reduce = KR_SUM;
  kiln_stage_store(k, s, v, kx_select(k, before, kx_idx(k, 1), kx_idx(k, 0)));
  topk_outputs(c, axis, rank, x->dims, -1);
}

/* x's dims with the axis replaced by the nrep dims of rep: the layout of per-block and
 * per-candidate buffers. Returns their rank. */
int kiln_topk_axis_replaced(const kiln_buffer *x, int axis, const int64_t *rep, int nrep,
                         int64_t *out) {
  int e = 0;
  for (int d = 0; d < x->rank; d++)
    if (d == axis)
      for (int r = 0; r < nrep; r++) out[e++] = rep[r];
    else
      out[e++] = x->dims[d];
  return e;
}

kiln_expr **kiln_topk_idx_replaced(int rank, int axis, kiln_expr *const *v, kiln_expr *const *rep,
                                   int nrep, kiln_expr **out) {
  int e = 0;
  for (int d = 0; d < rank; d++)
    if (d == axis)
      for (int r = 0; r < nrep; r++) out[e++] = rep[r];
    else
      out[e++] = v[d];
  return out;
}

/* The candidates' values side by side (cval: the rank stage compares them without
 * gathering), then each candidate's rank among them (crank; a missing one, index -1, goes
 * past every real one). Candidates are laid out as x with the axis's dim replaced: cdims,
 * the entries of cand the indices along the axis. */
static void rank_candidates(kiln_kernel *k, int xb, int axis, bool largest, int cand, int cval,
                            int crank, const int64_t *cdims) {
  const kiln_buffer *x = &k->bufs[xb];
  int rank = x->rank;
  int64_t n = x->dims[axis];
  kiln_expr *v[KILN_MAX_RANK], *w[KILN_MAX_RANK], *in[KILN_MAX_RANK];
  kiln_stage *s = kiln_kernel_add_stage(k, "topk_candidate_values", cval);
  for (int d = 0; d < rank; d++) v[d] = kx_var(k, kiln_stage_axis(s, cdims[d], false));
  for (int d = 0; d < rank; d++)
    in[d] = d == axis ? kx_clamp_index(k, kx_load(k, cand, v), n) : v[d];
  kiln_stage_store(k, s, v, kx_load(k, xb, in));

  s = kiln_kernel_add_stage(k, "topk_candidate_rank", crank);
  for (int d = 0; d < rank; d++) v[d] = w[d] = kx_var(k, kiln_stage_axis(s, cdims[d], false));
  w[axis] = kx_var(k, kiln_stage_axis(s, cdims[axis], true));
  kiln_expr *p = kx_load(k, cand, v), *q = kx_load(k, cand, w);
  kiln_expr *ahead = comes_before(k, largest, kx_load(k, cval, w), q, kx_load(k, cval, v), p);
  kiln_expr *first = kx_binary(k, KB_OR, kx_binary(k, KB_LT, p, kx_idx(k, 0)), ahead);
  kiln_expr *counts = kx_and(k, kx_binary(k, KB_GE, q, kx_idx(k, 0)), first);
  s->reduce = KR_SUM;
  kiln_stage_store(k, s, v, kx_select(k, counts, kx_idx(k, 1), kx_idx(k, 0)));
}

/* Candidates before block r of the leaders' order, which keeps k - r' of block r'. */
static kiln_expr *cands_before(kiln_kernel *k, kiln_expr *r, int64_t kk) {
  kiln_expr *tri = kx_binary(k, KB_DIV, kx_mul(k, r, kx_addi(k, r, -1)), kx_idx(k, 2));
  return kx_binary(k, KB_SUB, kx_muli(k, r, kk), tri);
}

/* Blocks of B elements (B >= k) along an axis of n, nb of them:
 *   1. each block's leader, its first element (the maximum, first on ties): 2n;
 *   2. the leaders' ranks among themselves (nb^2); the K = min(k, nb) blocks whose leaders
 *      rank below K, in that order;
 *   3. ranks within those K blocks (K x B^2); the block of leader rank r keeps its first
 *      k - r: k(k+1)/2 candidates at most (C), in a table of their blocks;
 *   4. the candidates' ranks among themselves (C^2).
 * An element of global rank g < k whose block's leader ranks r, and which ranks t in its
 * block, comes after the r leaders before its own and the t elements before it in its
 * block, so r + t <= g < k: it is a candidate. So is everything before it, so its rank
 * among the candidates is g; any other candidate has the k first before it. A vocabulary of
 * 50257 with k = 50: 2.5M comparisons, where ranks take 2.5G. */
static void topk_by_leaders(kiln_lower_ctx *c, int axis, bool largest, int64_t kk, int64_t B) {
  kiln_kernel *k = c->k;
  const kiln_buffer *x = &k->bufs[c->in_buf[0]];
  int xb = c->in_buf[0], rank = x->rank;
  int64_t n = x->dims[axis], nb = (n + B - 1) / B, K = kk < nb ? kk : nb;
  int64_t C = K * kk - K * (K - 1) / 2, dims[KILN_MAX_RANK + 1], kb[2] = {K, B};
  kiln_reduce_op best = largest ? KR_MAX : KR_MIN;
  kiln_expr *v[KILN_MAX_RANK + 1], *o[KILN_MAX_RANK + 1], *w[KILN_MAX_RANK + 1];
  kiln_expr *in[KILN_MAX_RANK], *r2[2];

  int nd = kiln_topk_axis_replaced(x, axis, &nb, 1, dims);
  int best_val = kiln_kernel_add_buffer(k, "best_values", KILN_BUF_TEMP, -1, x->dtype, nd, dims);
  int bval = kiln_kernel_add_buffer(k, "leader_values", KILN_BUF_TEMP, -1, x->dtype, nd, dims);
  int lead = kiln_kernel_add_buffer(k, "leaders", KILN_BUF_TEMP, -1, KILN_I64, nd, dims);
  int lrank = kiln_kernel_add_buffer(k, "leader_rank", KILN_BUF_TEMP, -1, KILN_I64, nd, dims);
  nd = kiln_topk_axis_replaced(x, axis, &K, 1, dims);
  int sel = kiln_kernel_add_buffer(k, "blocks", KILN_BUF_TEMP, -1, KILN_I64, nd, dims);
  nd = kiln_topk_axis_replaced(x, axis, kb, 2, dims);
  int gval = kiln_kernel_add_buffer(k, "block_values", KILN_BUF_TEMP, -1, x->dtype, nd, dims);
  int wrank = kiln_kernel_add_buffer(k, "block_rank", KILN_BUF_TEMP, -1, KILN_I64, nd, dims);
  int tab = kiln_kernel_add_buffer(k, "candidate_block", KILN_BUF_TEMP, -1, KILN_I64, 1, &C);
  nd = kiln_topk_axis_replaced(x, axis, &C, 1, dims);
  int cand = kiln_kernel_add_buffer(k, "candidates", KILN_BUF_TEMP, -1, KILN_I64, nd, dims);
  int cval = kiln_kernel_add_buffer(k, "candidate_values", KILN_BUF_TEMP, -1, x->dtype, nd, dims);
  int crank = kiln_kernel_add_buffer(k, "candidate_rank", KILN_BUF_TEMP, -1, KILN_I64, nd, dims);

  /* 1. the block's best number (NaN aside; elements past n are not in it), then its
   * leader: the first NaN, else the first holding that number, with largest; the first
   * holding it, else the first NaN, without (a NaN's index offset by n, the other kind
   * first) */
  for (int pass = 0; pass < 2; pass++) {
    kiln_stage *s = kiln_kernel_add_stage(k, pass ? "topk_leaders" : "topk_best_values",
                                          pass ? lead : best_val);
    nd = kiln_topk_axis_replaced(x, axis, &nb, 1, dims);
    for (int d = 0; d < nd; d++) v[d] = kx_var(k, kiln_stage_axis(s, dims[d], false));
    kiln_expr *j = kx_add(k, kx_muli(k, v[axis], B), kx_var(k, kiln_stage_axis(s, B, true)));
    kiln_expr *jc = kx_binary(k, KB_MIN, j, kx_idx(k, n - 1));
    kiln_topk_idx_replaced(rank, axis, v, &jc, 1, in);
    kiln_expr *xj = kx_load(k, xb, in), *real = kx_binary(k, KB_LT, j, kx_idx(k, n));
    kiln_expr *nan = nan_of(k, xj);
    if (!pass) {
      s->reduce = best;
      kiln_expr *number = kx_and(k, real, nan ? kx_unary(k, KU_NOT, nan) : NULL);
      kiln_stage_store(k, s, v, kx_select(k, number, xj, kx_reduce_identity(k, best, x->dtype)));
    } else {
      s->reduce = KR_MIN;
      kiln_expr *none = kx_reduce_identity(k, KR_MIN, KILN_I64);
      kiln_expr *is = kx_and(k, real, kx_binary(k, KB_EQ, xj, kx_load(k, best_val, v)));
      kiln_expr *val = kx_select(k, is, largest ? kx_addi(k, j, n) : j, none);
      if (nan)
        val = kx_select(k, kx_and(k, real, nan), largest ? j : kx_addi(k, j, n), val);
      kiln_stage_store(k, s, v, val);
      kiln_expr *acc = kx_acc(k, KILN_I64);
      s->post = kx_select(k, kx_binary(k, KB_GE, acc, kx_idx(k, n)), kx_addi(k, acc, -n), acc);
    }
  }

  /* the leaders' values side by side */
  kiln_stage *s = kiln_kernel_add_stage(k, "topk_leader_values", bval);
  for (int d = 0; d < nd; d++) v[d] = kx_var(k, kiln_stage_axis(s, dims[d], false));
  kiln_expr *lc = kx_clamp_index(k, kx_load(k, lead, v), n);
  kiln_topk_idx_replaced(rank, axis, v, &lc, 1, in);
  kiln_stage_store(k, s, v, kx_load(k, xb, in));

  /* 2. the leaders' ranks; the block of each rank below K */
  s = kiln_kernel_add_stage(k, "topk_leader_rank", lrank);
  for (int d = 0; d < nd; d++) v[d] = o[d] = kx_var(k, kiln_stage_axis(s, dims[d], false));
  o[axis] = kx_var(k, kiln_stage_axis(s, nb, true));
  s->reduce = KR_SUM;
  kiln_expr *ahead = comes_before(k, largest, kx_load(k, bval, o), kx_load(k, lead, o),
                                  kx_load(k, bval, v), kx_load(k, lead, v));
  kiln_stage_store(k, s, v, kx_select(k, ahead, kx_idx(k, 1), kx_idx(k, 0)));

  s = kiln_kernel_add_stage(k, "topk_blocks", sel);
  nd = kiln_topk_axis_replaced(x, axis, &K, 1, dims);
  for (int d = 0; d < nd; d++) v[d] = o[d] = kx_var(k, kiln_stage_axis(s, dims[d], false));
  o[axis] = kx_var(k, kiln_stage_axis(s, nb, true));
  s->reduce = KR_MAX;
  kiln_expr *is = kx_binary(k, KB_EQ, kx_load(k, lrank, o), v[axis]);
  kiln_stage_store(k, s, v, kx_select(k, is, o[axis], kx_idx(k, 0)));

  /* 3. those blocks' values side by side, then ranks within them */
  s = kiln_kernel_add_stage(k, "topk_block_values", gval);
  nd = kiln_topk_axis_replaced(x, axis, kb, 2, dims);
  for (int d = 0; d < nd; d++) v[d] = kx_var(k, kiln_stage_axis(s, dims[d], false));
  kiln_topk_idx_replaced(rank, axis, v, &v[axis], 1, o);
  for (int d = axis + 1; d < rank; d++) o[d] = v[d + 1];
  kiln_expr *j = kx_add(k, kx_muli(k, kx_load(k, sel, o), B), v[axis + 1]);
  kiln_expr *jc = kx_clamp_index(k, j, n);
  kiln_topk_idx_replaced(rank, axis, o, &jc, 1, in);
  kiln_stage_store(k, s, v, kx_load(k, xb, in));

  s = kiln_kernel_add_stage(k, "topk_block_rank", wrank);
  for (int d = 0; d < nd; d++) v[d] = w[d] = kx_var(k, kiln_stage_axis(s, dims[d], false));
  w[axis + 1] = kx_var(k, kiln_stage_axis(s, B, true));
  kiln_topk_idx_replaced(rank, axis, v, &v[axis], 1, o);
  for (int d = axis + 1; d < rank; d++) o[d] = v[d + 1];
  kiln_expr *base = kx_muli(k, kx_load(k, sel, o), B);
  kiln_expr *p = kx_add(k, base, v[axis + 1]), *q = kx_add(k, base, w[axis + 1]);
  s->reduce = KR_SUM;
  ahead = kx_and(k, kx_binary(k, KB_LT, q, kx_idx(k, n)),
                 comes_before(k, largest, kx_load(k, gval, w), q, kx_load(k, gval, v), p));
  kiln_stage_store(k, s, v, kx_select(k, ahead, kx_idx(k, 1), kx_idx(k, 0)));

  /* candidate c's block r: the blocks whose candidates all come before c */
  s = kiln_kernel_add_stage(k, "topk_candidate_block", tab);
  kiln_expr *cc = kx_var(k, kiln_stage_axis(s, C, false));
  kiln_expr *m = kx_addi(k, kx_var(k, kiln_stage_axis(s, K, true)), 1);
  s->reduce = KR_SUM;
  kiln_expr *past = kx_and(k, kx_binary(k, KB_LT, m, kx_idx(k, K)),
                           kx_binary(k, KB_LE, cands_before(k, m, kk), cc));
  kiln_stage_store(k, s, &cc, kx_select(k, past, kx_idx(k, 1), kx_idx(k, 0)));

  /* candidate c: the element of rank c - cands_before(r) in block r, -1 if none */
  s = kiln_kernel_add_stage(k, "topk_candidates", cand);
  nd = kiln_topk_axis_replaced(x, axis, &C, 1, dims);
  for (int d = 0; d < nd; d++) v[d] = kx_var(k, kiln_stage_axis(s, dims[d], false));
  kiln_expr *r = kx_load(k, tab, &v[axis]), *e = kx_var(k, kiln_stage_axis(s, B, true));
  kiln_expr *t = kx_binary(k, KB_SUB, v[axis], cands_before(k, r, kk));
  r2[0] = r, r2[1] = e;
  kiln_topk_idx_replaced(rank, axis, v, r2, 2, w);
  kiln_topk_idx_replaced(rank, axis, v, &r, 1, o);
  j = kx_add(k, kx_muli(k, kx_load(k, sel, o), B), e);
  is = kx_and(k, kx_binary(k, KB_LT, j, kx_idx(k, n)), kx_binary(k, KB_EQ, kx_load(k, wrank, w), t));
  s->reduce = KR_MAX;
  kiln_stage_store(k, s, v, kx_select(k, is, j, kx_idx(k, -1)));

  /* 4. the candidates' ranks among themselves */
  rank_candidates(k, xb, axis, largest, cand, cval, crank, dims);
  topk_outputs(c, axis, crank, dims, cand);
}

/* Comparisons each form makes (the forms above); the fewest wins. Selection's passes over
 * the keys compare integers, 8 to a vector: counted as a quarter of a comparison each; its
 * running counts and radix passes go one element after another. Where n or k is known
 * only at run time one kernel serves every size: selection. */
static kiln_status lower_topk(kiln_lower_ctx *c) {
  kiln_kernel *k = c->k;
  int axis;
  int64_t kk;
  if (topk_plan(c->g, c->n, &axis, &kk, c->err)) return c->err->code;
  const kiln_buffer *x = &k->bufs[c->in_buf[0]];
  bool largest = kiln_attr_int(c->n, "largest", 1) != 0;
  int64_t n = x->dims[axis];
  bool dyn = kiln_node_in(c->g, c->n, 0)->sym[axis] || c->g->values[c->n->outputs[0]].sym[axis];
  bool select = x->rank < KILN_MAX_RANK;
  double dn = (double)n, dk = (double)kk, ranks = dn * dn;
  if (dyn) {
    if (select)
      kiln_topk_by_select(c, axis, largest, kk);
    else
      topk_by_ranks(c, axis, largest);
    return KILN_OK;
  }
  if (kk <= 0 || x->rank >= KILN_MAX_RANK) {
    topk_by_ranks(c, axis, largest);
    return KILN_OK;
  }
  double bits = kiln_topk_key_bits(x->dtype);
  double selection = select ? (bits + 1) * dn / 4 + 3 * dn + bits / 8 * (3 * dk + 512) : INFINITY;
  /* leaders: B near (n^2 / k)^(1/4), balancing nb^2 against k B^2, and at least k */
  int64_t Bl = (int64_t)sqrt(dn / sqrt(dk));
  if (Bl < kk) Bl = kk;
  Bl = (Bl + 15) / 16 * 16;
  double nb = (double)((n + Bl - 1) / Bl), K = dk < nb ? dk : nb, B = (double)Bl;
  double C = K * dk - K * (K - 1) / 2;
  double leaders = Bl < n ? 2 * dn + nb * nb + K * nb + K * B * B + C * (K + B) + C * C + 2 * dk * C
                          : INFINITY;
  if (selection < leaders && selection < ranks / 2)
    kiln_topk_by_select(c, axis, largest, kk);
  else if (leaders < ranks / 2)
    topk_by_leaders(c, axis, largest, kk, Bl);
  else
    topk_by_ranks(c, axis, largest);
  return KILN_OK;
}

static const kiln_attr_spec topk_attrs[] = {
    {"axis", KILN_ATTR_INT, false}, {"largest", KILN_ATTR_INT, false},
    {"sorted", KILN_ATTR_INT, false}, {NULL}};

const kiln_op_def kiln_ops_topk[] = {
    {"TopK", 2, 2, 1, 2, topk_attrs, infer_topk, lower_topk, NULL, KILN_OP_SYMBOLIC},
    {NULL},
};
