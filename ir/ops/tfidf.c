/* TfIdfVectorizer on integer tokens: counts how often each n-gram of the pool occurs in
 * each row of the input (with up to max_skip_count tokens skipped between consecutive
 * items, unigrams counted once) and weights the counts (TF, IDF, TFIDF), as ONNX's
 * reference does.
 *
 * The pool is an attribute, so the op expands into TfIdfCount, an internal op that reads
 * it as constant tables indexed by output slot: tokens [C, R, L] and lengths [C, R] (R:
 * the most n-grams sharing one slot, L: the longest n-gram, length 0 an unused entry),
 * and the weights [C]. Its one stage reduces over entries, skips and start positions:
 * O(rows x C x R x skips x N x L), every point independent. String pools are not
 * supported (kiln has no string tensors). */
#include "ir/op.h"

#include "ir/dtype.h"
#include "ir/ops/expand.h"

#include <stdlib.h>
#include <string.h>

typedef enum { TF_TF, TF_IDF, TF_TFIDF } tf_mode;

/* One n-gram of the pool that the op counts. */
typedef struct gram {
  int len;
  const int64_t *tok;
  int64_t slot; /* its output index */
} gram;

typedef struct tf_pool {
  int64_t slots; /* C: the output's last dim */
  int ngrams;
  gram *grams;   /* the n-grams within [min_gram_length, max_gram_length] */
} tf_pool;

static kiln_status tf_mode_of(const kiln_node *n, tf_mode *m, kiln_error *err) {
  const char *s = kiln_attr_str(n, "mode", "");
  if (!strcmp(s, "TF")) *m = TF_TF;
  else if (!strcmp(s, "IDF")) *m = TF_IDF;
  else if (!strcmp(s, "TFIDF")) *m = TF_TFIDF;
  else return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "mode must be TF, IDF or TFIDF");
  return KILN_OK;
}

/* Reads and checks the pool attributes; with keep, p->grams (malloc'd) lists the n-grams. */
static kiln_status tf_pool_read(const kiln_node *n, tf_pool *p, bool keep, kiln_error *err) {
  const int64_t *pool, *counts, *slots;
  memset(p, 0, sizeof *p);
  int npool = kiln_attr_ints(n, "pool_int64s", &pool);
  if (npool < 0)
    return kiln_fail_node(n, err, KILN_ERR_UNSUPPORTED,
                          "needs pool_int64s (string pools are not supported)");
  int ncounts = kiln_attr_ints(n, "ngram_counts", &counts);
  int nslots = kiln_attr_ints(n, "ngram_indexes", &slots);
  int64_t lo = kiln_attr_int(n, "min_gram_length", 0);
  int64_t hi = kiln_attr_int(n, "max_gram_length", 0);
  if (ncounts < 1 || nslots < 1 || lo < 1 || hi < lo || kiln_attr_int(n, "max_skip_count", 0) < 0)
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL,
                          "needs ngram_counts, ngram_indexes, 1 <= min_gram_length <= "
                          "max_gram_length and max_skip_count >= 0");
  for (int i = 0; i < nslots; i++) {
    if (slots[i] < 0 || slots[i] >= ((int64_t)1 << 30))
      return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "ngram_indexes must be in [0, 2^30)");
    if (slots[i] + 1 > p->slots) p->slots = slots[i] + 1;
  }
  /* n-grams of size i + 1 fill [counts[i], counts[i + 1]) (the last: to the pool's end) */
  int64_t total = 0;
  for (int i = 0; i < ncounts; i++) {
    int64_t start = counts[i], end = i + 1 < ncounts ? counts[i + 1] : npool;
    if (start < 0 || end < start || end > npool)
      return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL,
                            "ngram_counts must be nondecreasing starts within the pool");
    total += (end - start) / (i + 1);
  }
  if (total > nslots)
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL,
                          "ngram_indexes has fewer entries than the pool has n-grams");
  if (!keep) return KILN_OK;
  p->grams = kiln_xmalloc(sizeof(gram) * (size_t)(total ? total : 1));
  int id = 0;
  for (int i = 0; i < ncounts; i++) {
    int64_t start = counts[i], end = i + 1 < ncounts ? counts[i + 1] : npool, size = i + 1;
    for (int64_t at = start; at + size <= end; at += size, id++)
      if (size >= lo && size <= hi) p->grams[p->ngrams++] = (gram){(int)size, pool + at, slots[id]};
  }
  return KILN_OK;
}

static int gram_cmp(const void *pa, const void *pb) {
  const gram *a = pa, *b = pb;
  if (a->len != b->len) return a->len < b->len ? -1 : 1;
  for (int i = 0; i < a->len; i++)
    if (a->tok[i] != b->tok[i]) return a->tok[i] < b->tok[i] ? -1 : 1;
  return 0;
}

static kiln_status infer_tfidf(kiln_graph *g, kiln_node *n, kiln_error *err) {
  const kiln_value *x = kiln_node_in(g, n, 0);
  tf_mode m = TF_TF;
  tf_pool p;
  if (!kiln_dtype_is_int(x->dtype) || x->rank < 1 || x->rank > 2)
    return kiln_fail_node(n, err, KILN_ERR_UNSUPPORTED, "X must be integer tokens [N] or [B, N]");
  if (tf_mode_of(n, &m, err) || tf_pool_read(n, &p, false, err)) return err->code;
  const double *w;
  int nw = kiln_attr_floats(n, "weights", &w);
  if (nw >= 0 && nw < p.slots)
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "weights needs one value per output index");
  int64_t dims[2] = {x->dims[0], p.slots};
  if (x->rank == 1) dims[0] = p.slots;
  kiln_set_out(g, n, 0, KILN_F32, x->rank, dims);
  return KILN_OK;
}

/* TfIdfCount(X, tokens, lengths, weights), its attributes moved from the expanded node. */
static kiln_status expand_tfidf(kiln_graph *g, kiln_block *b, int pos, kiln_error *err) {
  const kiln_node *n = &g->nodes[b->nodes[pos]];
  tf_pool p;
  if (tf_pool_read(n, &p, true, err)) return err->code;
  /* a repeated n-gram would count twice (onnxruntime refuses such a pool too) */
  qsort(p.grams, (size_t)p.ngrams, sizeof(gram), gram_cmp);
  for (int i = 0; i + 1 < p.ngrams; i++)
    if (!gram_cmp(&p.grams[i], &p.grams[i + 1])) {
      free(p.grams);
      return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "the pool repeats an n-gram");
    }
  int64_t C = p.slots, R = 1, L = 1;
  int64_t *fill = kiln_xcalloc((size_t)C, sizeof(int64_t));
  for (int i = 0; i < p.ngrams; i++) {
    if (++fill[p.grams[i].slot] > R) R = fill[p.grams[i].slot];
    if (p.grams[i].len > L) L = p.grams[i].len;
  }
  const double *w;
  int nw = kiln_attr_floats(n, "weights", &w);
  int x = n->inputs[0], y = n->outputs[0];
  kiln_ex e;
  kiln_ex_begin(&e, g, b, pos, KILN_F32); /* n is invalid from here */
  int64_t tdims[3] = {C, R, L};
  int tok = kiln_ex_const(&e, "tokens", KILN_I64, 3, tdims, NULL);
  int len = kiln_ex_const(&e, "lengths", KILN_I64, 2, tdims, NULL);
  int wt = kiln_ex_const(&e, "weights", KILN_F32, 1, &C, NULL);
  int64_t *td = g->values[tok].data, *ld = g->values[len].data;
  float *wd = g->values[wt].data;
  memset(fill, 0, sizeof(int64_t) * (size_t)C);
  for (int i = 0; i < p.ngrams; i++) {
    const gram *a = &p.grams[i];
    int64_t at = a->slot * R + fill[a->slot]++;
    ld[at] = a->len;
    memcpy(td + at * L, a->tok, sizeof(int64_t) * (size_t)a->len);
  }
  for (int64_t i = 0; i < C; i++) wd[i] = nw >= 0 ? (float)w[i] : 1.0f;
  free(fill);
  free(p.grams);
  kiln_ex_node1(&e, "TfIdfCount", (int[]){x, tok, len, wt}, 4, y, "count");
  kiln_ex_take_attrs(&e);
  kiln_ex_end(&e);
  return KILN_OK;
}

static kiln_status infer_count(kiln_graph *g, kiln_node *n, kiln_error *err) {
  const kiln_value *x = kiln_node_in(g, n, 0), *tok = kiln_node_in(g, n, 1);
  const kiln_value *len = kiln_node_in(g, n, 2), *w = kiln_node_in(g, n, 3);
  tf_mode m = TF_TF;
  if (tf_mode_of(n, &m, err)) return err->code;
  if (!kiln_dtype_is_int(x->dtype) || x->rank < 1 || x->rank > 2 || tok->dtype != KILN_I64 ||
      tok->rank != 3 || len->dtype != KILN_I64 || len->rank != 2 ||
      len->dims[0] != tok->dims[0] || len->dims[1] != tok->dims[1] || w->rank != 1 ||
      w->dtype != KILN_F32 || w->dims[0] != tok->dims[0])
    return kiln_fail_node(n, err, KILN_ERR_SHAPE, "needs tokens [N] or [B, N], i64 tables [C, R, L] "
                                             "and [C, R], f32 weights [C]");
  int64_t dims[2] = {x->dims[0], tok->dims[0]};
  if (x->rank == 1) dims[0] = tok->dims[0];
  kiln_set_out(g, n, 0, KILN_F32, x->rank, dims);
  return KILN_OK;
}

/* out[b, o] = weigh(sum over entries r, skips d, starts i of [entry (o, r) occurs at i with
 * d tokens skipped]); loads past the row are never taken (selects guard them). */
static kiln_status lower_count(kiln_lower_ctx *c) {
  kiln_kernel *k = c->k;
  tf_mode mode = TF_TF;
  if (tf_mode_of(c->n, &mode, c->err)) return c->err->code;
  const kiln_buffer *x = &k->bufs[c->in_buf[0]], *tok = &k->bufs[c->in_buf[1]];
  int64_t C = tok->dims[0], R = tok->dims[1], L = tok->dims[2], N = x->dims[x->rank - 1];
  int64_t skips = kiln_attr_int(c->n, "max_skip_count", 0) + 1;
  kiln_stage *s = kiln_kernel_add_stage(k, "tfidf", c->out_buf[0]);
  kiln_expr *v[2], *bv = NULL;
  int r0 = 0;
  if (x->rank == 2) v[r0++] = bv = kx_var(k, kiln_stage_axis(s, x->dims[0], false));
  kiln_expr *o = v[r0] = kx_var(k, kiln_stage_axis(s, C, false));
  kiln_expr *r = kx_var(k, kiln_stage_axis(s, R, true));
  kiln_expr *d = kx_var(k, kiln_stage_axis(s, skips, true));
  kiln_expr *i = kx_var(k, kiln_stage_axis(s, N, true));
  kiln_expr *lr[2] = {o, r};
  kiln_expr *len = kx_load(k, c->in_buf[2], lr);
  kiln_expr *step = kx_addi(k, d, 1);
  /* a used entry; unigrams at the first skip only; the whole n-gram inside the row */
  kiln_expr *match = kx_binary(k, KB_GT, len, kx_idx(k, 0));
  match = kx_and(k, match, kx_binary(k, KB_OR, kx_binary(k, KB_NE, len, kx_idx(k, 1)),
                                     kx_binary(k, KB_EQ, d, kx_idx(k, 0))));
  kiln_expr *end = kx_add(k, i, kx_mul(k, kx_addi(k, len, -1), step));
  match = kx_and(k, match, kx_binary(k, KB_LT, end, kx_idx(k, N)));
  kiln_expr *yes = kx_const_i(k, KILN_BOOL, 1), *no = kx_const_i(k, KILN_BOOL, 0);
  for (int64_t m = 0; m < L; m++) {
    kiln_expr *p = kx_add(k, i, kx_muli(k, step, m));
    kiln_expr *xi[2] = {bv ? bv : p, p};
    kiln_expr *ti[3] = {o, r, kx_idx(k, m)};
    kiln_expr *same = kx_binary(k, KB_EQ, kx_cast(k, kx_load(k, c->in_buf[0], xi), KILN_I64),
                                kx_load(k, c->in_buf[1], ti));
    kiln_expr *ok = kx_select(k, kx_binary(k, KB_LT, p, kx_idx(k, N)), same, no);
    match = kx_and(k, match, kx_select(k, kx_binary(k, KB_LT, kx_idx(k, m), len), ok, yes));
  }
  s->reduce = KR_SUM;
  kiln_expr *acc = kx_acc(k, KILN_F32), *w = kx_load(k, c->in_buf[3], &o);
  kiln_expr *zero = kx_const_f(k, KILN_F32, 0);
  if (mode == TF_IDF) s->post = kx_select(k, kx_binary(k, KB_GT, acc, zero), w, zero);
  else if (mode == TF_TFIDF) s->post = kx_binary(k, KB_MUL, acc, w);
  kiln_stage_store(k, s, v, kx_select(k, match, kx_const_f(k, KILN_F32, 1), zero));
  return KILN_OK;
}

static const kiln_attr_spec tfidf_attrs[] = {
    {"max_gram_length", KILN_ATTR_INT, true}, {"max_skip_count", KILN_ATTR_INT, true},
    {"min_gram_length", KILN_ATTR_INT, true}, {"mode", KILN_ATTR_STRING, true},
    {"ngram_counts", KILN_ATTR_INTS, true},   {"ngram_indexes", KILN_ATTR_INTS, true},
    {"pool_int64s", KILN_ATTR_INTS, false},   {"pool_strings", KILN_ATTR_STRINGS, false},
    {"weights", KILN_ATTR_FLOATS, false},     {NULL}};

const kiln_op_def kiln_ops_tfidf[] = {
    {"TfIdfVectorizer", 1, 1, 1, 1, tfidf_attrs, infer_tfidf, NULL, expand_tfidf, 0},
    {"TfIdfCount", 4, 4, 1, 1, tfidf_attrs, infer_count, lower_count, NULL, 0},
    {NULL},
};
