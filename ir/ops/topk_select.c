/* TopK by selection: the k-th element's order key found bit by bit, then the k elements
 * that come before or equal it sorted by a radix sort. Ranking all n elements against each
 * other is n^2; this is 32 n for the key (one counting pass per bit; 64 n for 64-bit
 * types) + a few passes of n and of k, and its stages have the same form at every n and k,
 * so it also serves run-time sizes (an SSD head's TopK with k = min(count, 300) over 3234
 * scores: 3.3 ms as ranks).
 *   1. key[j]: an unsigned order key, larger first (ints as they are, offset from signed;
 *      floats by their bits; f16 and bf16 widened to f32);
 *   2. t, 32 or 64 stages: bit b of t is set where at least k keys are >= t's bits above b
 *      with b set: t ends as the largest value that k keys reach, the k-th key;
 *   3. above: the keys > t; the element is taken if its key is > t, or = t and among the
 *      first k - above of those, by index (running counts, in order): exactly k taken;
 *   4. the taken elements' indices in a list of k, in order (each at its running count);
 *   5. the list sorted by key, 8 bits a pass (radix_sort), and the outputs gathered. */
#include "ir/ops/select.h"
#include "ir/ops/topk.h"

#include "ir/dtype.h"

int kiln_topk_key_bits(kiln_dtype t) { return kiln_dtype_size(t) == 8 ? 64 : 32; }

/* The keys' type: u32 where they fit, 16 to an AVX-512 vector. */
static kiln_dtype key_type(int bits) { return bits == 64 ? KILN_U64 : KILN_U32; }

/* b + 2^31 for a 32-bit b widened, b + 2^63 (mod 2^64: the sign bit flipped) for a 64-bit
 * one: the signed order as an unsigned one. */
static kiln_expr *offset(kiln_kernel *k, kiln_expr *b, bool wide) {
  return wide ? kx_binary(k, KB_XOR, b, kx_idx(k, INT64_MIN)) : kx_addi(k, b, (int64_t)1 << 31);
}

/* x's order key, of key_type(kiln_topk_key_bits), larger first: with largest x's
 * order, else its reverse. A float's bits order it once the negative ones are flipped: a
 * non-negative one is its bits + 2^(bits-1), a negative one 2^(bits-1) - 1 - its
 * magnitude's bits. -0 counts as +0 and every NaN above +inf, equal to each other, as
 * comes_before (topk.c) orders them. f16 and bf16 are widened to f32. */
static kiln_expr *order_key(kiln_kernel *k, kiln_expr *x, bool largest) {
  bool wide = kiln_topk_key_bits(x->dtype) == 64;
  int64_t top = wide ? -1 : ((int64_t)1 << 32) - 1; /* the key type's largest */
  kiln_dtype kt = key_type(wide ? 64 : 32);
  kiln_expr *key;
  if (kiln_dtype_is_float(x->dtype)) {
    kiln_dtype ft = wide ? KILN_F64 : KILN_F32;
    x = kx_cast(k, x, ft);
    kiln_expr *zero = kx_const_f(k, ft, 0);
    x = kx_select(k, kx_binary(k, KB_EQ, x, zero), zero, x);
    kiln_expr *b = kx_cast(k, kx_bitcast(k, x, wide ? KILN_I64 : KILN_I32), KILN_I64);
    key = kx_select(k, kx_binary(k, KB_LT, b, kx_idx(k, 0)),
                    kx_binary(k, KB_SUB, kx_idx(k, -1), b), offset(k, b, wide));
    key = kx_select(k, kx_unary(k, KU_ISNAN, x), kx_idx(k, top), key);
  } else {
    key = kx_cast(k, x, KILN_I64);
    if (kiln_dtype_is_signed(x->dtype)) key = offset(k, key, wide);
  }
  key = kx_cast(k, key, kt); /* the same bits: it is below 2^bits */
  return largest ? key : kx_binary(k, KB_SUB, kx_const_i(k, kt, top), key);
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
  return kiln_topk_idx_replaced(rank, axis, v, &e, 1, out);
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

#define DIGITS 256 /* a radix pass's buckets: 8 bits of the key */

/* A radix pass's reads: element i's index along the axis (from the list, or from the
 * last pass's permutation after its counters) and its digit, byte `pass` of the
 * complement of its key (top - key: the sort is ascending). */
typedef struct sort_pass {
  int key, list, from, rank, axis, pass;
  int64_t n, top;
  kiln_dtype kt;
} sort_pass;

static kiln_expr *source(kiln_kernel *k, const sort_pass *p, kiln_expr *const *v) {
  kiln_expr *at[KILN_MAX_RANK], *i = v[p->axis];
  if (p->from != p->list) i = kx_addi(k, i, DIGITS);
  return kx_load(k, p->from, at_axis(p->rank, p->axis, v, i, at));
}

static kiln_expr *digit(kiln_kernel *k, const sort_pass *p, kiln_expr *const *v, kiln_expr *src) {
  kiln_expr *at[KILN_MAX_RANK];
  kiln_expr *key = kx_load(k, p->key, at_axis(p->rank, p->axis, v, kx_clamp_index(k, src, p->n), at));
  kiln_expr *rev = kx_binary(k, KB_SUB, kx_const_i(k, p->kt, p->top), key);
  kiln_expr *byte = kx_binary(k, KB_SHR, rev, kx_const_i(k, p->kt, 8 * p->pass));
  return kx_cast(k, kx_binary(k, KB_AND, byte, kx_const_i(k, p->kt, DIGITS - 1)), KILN_I64);
}

/* The k indices of list (along the axis of the key buffer `key`, which holds larger keys
 * first) sorted by key, larger first, ties by index: a stable radix sort of the keys'
 * complements, 8 bits a pass from the lowest, each pass in order (one element after
 * another) through a buffer [.., 256 + k] along the axis: the buckets' counters, then the
 * permutation (kd: the outputs' dims). Returns that buffer of the last pass. */
static int radix_sort(kiln_kernel *k, int key, int list, int rank, int axis, const int64_t *kd,
                      int bits) {
  int64_t bd[KILN_MAX_RANK], wd[KILN_MAX_RANK];
  for (int d = 0; d < rank; d++) bd[d] = wd[d] = kd[d];
  bd[axis] = DIGITS, wd[axis] = DIGITS + kd[axis];
  int hist = kiln_kernel_add_buffer(k, "bucket_sizes", KILN_BUF_TEMP, -1, KILN_I64, rank, bd);
  int perm[2] = {kiln_kernel_add_buffer(k, "sort_a", KILN_BUF_TEMP, -1, KILN_I64, rank, wd),
                 kiln_kernel_add_buffer(k, "sort_b", KILN_BUF_TEMP, -1, KILN_I64, rank, wd)};
  sort_pass p = {key, list, list, rank, axis, 0, k->bufs[key].dims[axis],
                 bits == 64 ? -1 : ((int64_t)1 << bits) - 1, key_type(bits)};
  kiln_expr *v[KILN_MAX_RANK], *w[KILN_MAX_RANK];
  for (p.pass = 0; p.pass < bits / 8; p.pass++) {
    int out = perm[p.pass & 1];
    kiln_stage *s = kiln_kernel_add_stage(k, "topk_sort_clear", hist);
    axes(k, s, rank, bd, v, -1);
    kiln_stage_store(k, s, v, kx_idx(k, 0));

    /* hist[digit] += 1, element after element */
    s = kiln_kernel_add_stage(k, "topk_sort_count", hist);
    s->ordered = true;
    axes(k, s, rank, kd, v, -1);
    kiln_expr **bin = at_axis(rank, axis, v, digit(k, &p, v, source(k, &p, v)), w);
    kiln_stage_store(k, s, bin, kx_addi(k, kx_load(k, hist, bin), 1));

    /* the buckets' starts: out[b] = out[b - 1] + hist[b - 1] */
    s = kiln_kernel_add_stage(k, "topk_sort_starts", out);
    axes(k, s, rank, bd, v, -1);
    kiln_expr *b1 = kx_binary(k, KB_MAX, kx_addi(k, v[axis], -1), kx_idx(k, 0));
    kiln_expr *prev = kx_load(k, hist, at_axis(rank, axis, v, b1, w));
    kiln_select_running(k, s, out, rank, axis, v,
                        kx_select(k, kx_binary(k, KB_GT, v[axis], kx_idx(k, 0)), prev, kx_idx(k, 0)));

    /* element i, in order: its bucket's counter counts it (a = 0), then it goes where the
     * counter says (a = 1): two points of one ordered stage, which stores one value a point */
    s = kiln_kernel_add_stage(k, "topk_sort_place", out);
    s->ordered = true;
    axes(k, s, rank, kd, v, -1);
    kiln_expr *a = kx_var(k, kiln_stage_axis(s, 2, false)), *src = source(k, &p, v);
    kiln_expr *dig = digit(k, &p, v, src);
    kiln_expr *counter = kx_load(k, out, at_axis(rank, axis, v, dig, w));
    kiln_expr *first = kx_binary(k, KB_EQ, a, kx_idx(k, 0));
    kiln_expr *slot = kx_select(k, first, dig, kx_addi(k, counter, DIGITS - 1));
    kiln_stage_store(k, s, at_axis(rank, axis, v, slot, w),
                     kx_select(k, first, kx_addi(k, counter, 1), src));
    p.from = out;
  }
  return p.from;
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
  int bits = kiln_topk_key_bits(x->dtype);
  kiln_dtype kt = key_type(bits);
  int key = kiln_kernel_add_buffer(k, "key", KILN_BUF_TEMP, -1, kt, rank, xd);
  int t2[2] = {kiln_kernel_add_buffer(k, "kth_key", KILN_BUF_TEMP, -1, kt, rank, rd),
               kiln_kernel_add_buffer(k, "kth_key_next", KILN_BUF_TEMP, -1, kt, rank, rd)};
  int above = kiln_kernel_add_buffer(k, "above", KILN_BUF_TEMP, -1, KILN_I64, rank, rd);
  int ties = kiln_kernel_add_buffer(k, "ties", KILN_BUF_TEMP, -1, KILN_I64, rank, xd);
  int count = kiln_kernel_add_buffer(k, "taken", KILN_BUF_TEMP, -1, KILN_I64, rank, xd);
  int list = kiln_kernel_add_buffer(k, "candidates", KILN_BUF_TEMP, -1, KILN_I64, rank, ld);
  kiln_expr *v[KILN_MAX_RANK], *w[KILN_MAX_RANK], *j;

  /* 1. keys */
  kiln_stage *s = kiln_kernel_add_stage(k, "topk_key", key);
  axes(k, s, rank, xd, v, -1);
  kiln_stage_store(k, s, v, order_key(k, kx_load(k, xb, v), largest));

  /* 2. the k-th key, from its top bit down */
  int t = -1;
  for (int bit = bits - 1; bit >= 0; bit--) {
    int next = t2[bit & 1];
    s = kiln_kernel_add_stage(k, "topk_kth_key", next);
    j = axes(k, s, rank, rd, v, n);
    kiln_expr *prev = t < 0 ? kx_const_i(k, kt, 0) : kx_load(k, t, v);
    kiln_expr *tried = kx_binary(k, KB_OR, prev, kx_const_i(k, kt, (int64_t)((uint64_t)1 << bit)));
    kiln_expr *reach = kx_binary(k, KB_GE, kx_load(k, key, at_axis(rank, axis, v, j, w)), tried);
    s->reduce = KR_SUM; /* counted in the output's type: a schedule may count in it */
    kiln_stage_store(k, s, v, kx_select(k, reach, kx_const_i(k, kt, 1), kx_const_i(k, kt, 0)));
    kiln_expr *reached = kx_cast(k, kx_acc(k, kt), KILN_I64); /* k: an i64, as sizes are */
    s->post = kx_select(k, kx_binary(k, KB_GE, reached, kx_idx(k, kk)), tried, prev);
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

  /* 5. sorted by key, ties by index, then output */
  int sorted = radix_sort(k, key, list, rank, axis, kd, bits);
  for (int out = 0; out < 2 && out < c->n->noutputs; out++) {
    if (c->out_buf[out] < 0) continue;
    s = kiln_kernel_add_stage(k, out ? "topk_indices" : "topk_values", c->out_buf[out]);
    axes(k, s, rank, kd, v, -1);
    kiln_expr *at = kx_load(k, sorted, at_axis(rank, axis, v, kx_addi(k, v[axis], DIGITS), w));
    kiln_expr *val = out ? at : kx_load(k, xb, at_axis(rank, axis, v, kx_clamp_index(k, at, n), w));
    kiln_stage_store(k, s, v, val);
  }
}
