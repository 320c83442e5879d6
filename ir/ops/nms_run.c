/* NonMaxSuppression of boxes and scores computed at run time: how many boxes it keeps
 * only the run knows, so, as for NonZero (ir/ops/select_run.c), that count is a data sym
 * of the graph, bounded by batches x classes x min(limit, boxes) (with a free box count:
 * batches x classes x boxes), and written into the run's dims by NonZeroList. So is a
 * second one, the most candidates (boxes above score_threshold) of any batch and class:
 * ranking and suppression test pairs of candidates only. The node expands into
 *
 *   NMSCandidates(scores)           -> cands [B, C, N + 1]: per batch and class, its
 *                                      candidates' box indices in order, then -1s; the
 *                                      most candidates M written into the dims.
 *   NMSOrder(scores, cands)         -> order [B, C, M]: the candidates by descending score
 *                                      (ties: the lower index first; NaN last), then -1s:
 *                                      each one's rank counted (one f64 key compared per
 *                                      pair), then scattered.
 *   NMSMask(boxes, order)           -> mask [B, C, M]: whether the box at each rank is
 *                                      selected: a candidate that overlaps no box selected
 *                                      at an earlier rank by more than iou_threshold,
 *                                      among the first `keep` so selected; built as a
 *                                      list each rank is tested against and appended to.
 *   NonZeroList(mask)               -> the selected ranks, flat, and their count.
 *   NMSSelected(order, list)        -> out [count, 3]: (batch, class, box) per selected rank.
 *
 * Stages that read what earlier points of their own stage wrote (running counts, the
 * selection's list) or store where values say are ordered
 * (kiln_stage.ordered). The selection is onnxruntime's (ir/ops/nms.c does the same at
 * compile time), in f32. Ranking costs O(M^2) compares per class, where onnxruntime sorts
 * (O(M log M)); suppression, as onnxruntime's, tests each candidate against the boxes
 * kept before it, O(M x keep). */
#include "ir/op.h"
#include "ir/ops/expand.h"
#include "ir/ops/select.h"

#include <math.h>


/* The count's data sym of n, added when new. */
static int count_sym(kiln_graph *g, const kiln_node *n, const kiln_nms_limits *l,
                     kiln_error *err) {
  const kiln_value *boxes = kiln_node_in(g, n, 0), *scores = kiln_node_in(g, n, 1);
  kiln_symdim bound = kiln_value_symdim(g, boxes, 0), c = kiln_value_symdim(g, scores, 1);
  kiln_symdim per = kiln_value_symdim(g, boxes, 1);
  if (!boxes->sym[1] && l->keep < boxes->dims[1]) per = kiln_symdim_const(l->keep);
  if (!kiln_symdim_mul(&bound, &c, &bound) || !kiln_symdim_mul(&bound, &per, &bound)) {
    kiln_fail_node(n, err, KILN_ERR_UNSUPPORTED, "its output's size overflows");
    return -1;
  }
  return kiln_select_data_sym(g, n, "count", &bound, err);
}

/* Output 0 of n: [count, 3]. */
static kiln_status set_selected(kiln_graph *g, const kiln_node *n, int sym, kiln_error *err) {
  if (kiln_select_check_count(g, n, sym, err)) return err->code;
  kiln_symdim dims[2] = {kiln_symdim_sym(sym), kiln_symdim_const(3)};
  return kiln_set_out_sym(g, n, 0, KILN_I64, 2, dims, err);
}

kiln_status kiln_nms_infer_run(kiln_graph *g, kiln_node *n, const kiln_nms_limits *l,
                               kiln_error *err) {
  /* its infer runs once (KILN_OP_DATA_DIMS), not at inference points: free dims of boxes
   * and scores must agree as expressions, or some run would pair them wrongly */
  const kiln_value *boxes = kiln_node_in(g, n, 0), *scores = kiln_node_in(g, n, 1);
  kiln_symdim bb = kiln_value_symdim(g, boxes, 0), sb = kiln_value_symdim(g, scores, 0);
  kiln_symdim bn = kiln_value_symdim(g, boxes, 1), sn = kiln_value_symdim(g, scores, 2);
  if (boxes->sym[2] || !kiln_symdim_equal(&bb, &sb) || !kiln_symdim_equal(&bn, &sn))
    return kiln_fail_node(n, err, KILN_ERR_SHAPE, "its shapes hold for some values of the free "
                          "dims only (boxes [batches, boxes, 4] and scores [batches, classes, boxes] "
                          "with other free dims); bind them (kiln_options.shapes, --shape)");
  int sym = count_sym(g, n, l, err);
  return sym < 0 ? err->code : set_selected(g, n, sym, err);
}

kiln_status kiln_nms_expand_run(kiln_graph *g, kiln_block *b, int pos, const kiln_nms_limits *l,
                                kiln_error *err) {
  const kiln_node *n = &g->nodes[b->nodes[pos]];
  int sym = count_sym(g, n, l, err);
  if (sym < 0) return err->code;
  kiln_symdim bound = kiln_value_symdim(g, kiln_node_in(g, n, 0), 1);
  int most = kiln_select_data_sym(g, n, "candidates", &bound, err);
  if (most < 0) return err->code;
  int boxes = n->inputs[0], scores = n->inputs[1], out = n->outputs[0];
  /* the selection's list holds keep boxes when fewer than the boxes, else every candidate */
  const kiln_value *bv = kiln_node_in(g, n, 0);
  int64_t cap = !bv->sym[1] && l->keep < bv->dims[1] ? l->keep : 0;
  kiln_ex e;
  kiln_ex_begin(&e, g, b, pos, KILN_I64); /* n is stale from here */
  int cands = kiln_ex_node1(&e, "NMSCandidates", &scores, 1, -1, "candidates");
  kiln_ex_attr_i(&e, "sym", most);
  if (l->has_score) kiln_ex_attr_f(&e, "score_threshold", l->score);
  int order = kiln_ex_node1(&e, "NMSOrder", (int[]){scores, cands}, 2, -1, "order");
  kiln_ex_attr_i(&e, "sym", most);
  int mask = kiln_ex_node1(&e, "NMSMask", (int[]){boxes, order}, 2, -1, "mask");
  kiln_ex_attr_i(&e, "keep", l->keep);
  if (cap) kiln_ex_attr_i(&e, "list", cap);
  kiln_ex_attr_f(&e, "iou_threshold", l->iou);
  kiln_ex_attr_i(&e, "center_point_box", l->center);
  int list = kiln_ex_node1(&e, "NonZeroList", &mask, 1, -1, "list");
  kiln_ex_attr_i(&e, "sym", sym);
  kiln_ex_node1(&e, "NMSSelected", (int[]){order, list}, 2, out, "selected");
  kiln_ex_attr_i(&e, "sym", sym);
  kiln_ex_end(&e);
  return KILN_OK;
}

static kiln_status check_scores(const kiln_lower_ctx *c, int buf) {
  const kiln_buffer *s = &c->k->bufs[buf];
  if (s->rank != 3 || s->dtype != KILN_F32)
    return kiln_fail_node(c->n, c->err, KILN_ERR_INTERNAL,
                          "scores must be f32 [batches, classes, boxes]");
  return KILN_OK;
}

/* An index loaded from cands or order as an index of boxes: -1 for none, else in range by
 * construction; clamped all the same, so that no value can make a load stray. */
static kiln_expr *clamped(kiln_kernel *k, kiln_expr *i, int64_t n) {
  return kx_select(k, kx_in_range(k, i, n), i, kx_idx(k, 0));
}

/* ---- NMSCandidates -------------------------------------------------------------------- */

static kiln_status infer_cands(kiln_graph *g, kiln_node *n, kiln_error *err) {
  (void)err;
  const kiln_value *s = kiln_node_in(g, n, 0);
  int64_t dims[3] = {s->dims[0], s->dims[1], s->dims[2] + 1};
  kiln_set_out(g, n, 0, KILN_I64, 3, dims);
  return KILN_OK;
}

/* Is box v[2] of batch v[0], class v[1] a candidate? */
static kiln_expr *candidate(const kiln_lower_ctx *c, int scores, kiln_expr *const *v) {
  kiln_kernel *k = c->k;
  if (!kiln_node_attr(c->n, "score_threshold")) return kx_binary(k, KB_EQ, v[2], v[2]);
  double thr = kiln_attr_float(c->n, "score_threshold", 0);
  return kx_binary(k, KB_GT, kx_load(k, scores, v), kx_const_f(k, KILN_F32, (float)thr));
}

static kiln_status lower_cands(kiln_lower_ctx *c) {
  kiln_kernel *k = c->k;
  if (check_scores(c, c->in_buf[0])) return c->err->code;
  const kiln_buffer *sc = &k->bufs[c->in_buf[0]];
  int64_t dims[3] = {sc->dims[0], sc->dims[1], sc->dims[2]}, nb = dims[2];
  int scores = c->in_buf[0], out = c->out_buf[0];
  int sym = (int)kiln_attr_int(c->n, "sym", -1);
  int cnt = kiln_kernel_add_buffer(k, "count", KILN_BUF_TEMP, -1, KILN_I64, 3, dims);
  kiln_expr *v[3];

  /* out[b, c, i] = -1 */
  kiln_stage *s = kiln_kernel_add_stage(k, "nms_none", out);
  for (int d = 0; d < 3; d++) v[d] = kx_var(k, kiln_stage_axis(s, d < 2 ? dims[d] : nb + 1, false));
  kiln_stage_store(k, s, v, kx_idx(k, -1));

  /* count[b, c, i] = count[b, c, i - 1] + (box i a candidate) */
  s = kiln_kernel_add_stage(k, "nms_count", cnt);
  for (int d = 0; d < 3; d++) v[d] = kx_var(k, kiln_stage_axis(s, dims[d], false));
  kiln_select_running(k, s, cnt, 3, 2, v,
                      kx_select(k, candidate(c, scores, v), kx_idx(k, 1), kx_idx(k, 0)));

  /* out[b, c, count[b, c, i] - 1] = i for the candidates; the others go to the spare slot */
  s = kiln_kernel_add_stage(k, "nms_candidates", out);
  s->ordered = true;
  for (int d = 0; d < 3; d++) v[d] = kx_var(k, kiln_stage_axis(s, dims[d], false));
  kiln_expr *at = kx_select(k, candidate(c, scores, v), kx_addi(k, kx_load(k, cnt, v), -1),
                            kx_idx(k, nb));
  kiln_expr *to[3] = {v[0], v[1], at};
  kiln_stage_store(k, s, to, v[2]);

  /* the run's dims: [sym] = the most candidates of a class, each class's last count */
  s = kiln_kernel_add_stage(k, "nms_most", kiln_lower_dims_buf(k, c->g));
  s->ordered = true;
  kiln_stage_axis(s, 1, false);
  for (int d = 0; d < 2; d++) v[d] = kx_var(k, kiln_stage_axis(s, dims[d], true));
  v[2] = kx_idx(k, nb - 1);
  s->reduce = KR_MAX;
  s->init = kx_idx(k, 0);
  kiln_expr *slot = kx_idx(k, sym);
  kiln_stage_store(k, s, &slot, nb > 0 ? kx_load(k, cnt, v) : kx_idx(k, 0));
  return KILN_OK;
}

/* ---- NMSOrder ------------------------------------------------------------------------- */

/* Output 0 of n: [B, C, M] of input 0's B and C, M the data sym `sym`. */
static kiln_status set_ranked(kiln_graph *g, const kiln_node *n, kiln_error *err) {
  const kiln_value *x = kiln_node_in(g, n, 0);
  int sym = (int)kiln_attr_int(n, "sym", -1);
  if (kiln_select_check_count(g, n, sym, err)) return err->code;
  kiln_symdim dims[3] = {kiln_value_symdim(g, x, 0), kiln_value_symdim(g, x, 1),
                         kiln_symdim_sym(sym)};
  return kiln_set_out_sym(g, n, 0, KILN_I64, 3, dims, err);
}

static kiln_status infer_order(kiln_graph *g, kiln_node *n, kiln_error *err) {
  return set_ranked(g, n, err);
}

/* The order of candidates as one f64 per slot, ascending: minus the score, then a score
 * of -inf, NaN, and slots of no candidate, each above every negated f32; equal keys go in
 * slot order (candidates are in index order, so the lower index first). */
static kiln_expr *order_key(kiln_kernel *k, kiln_expr *is_cand, kiln_expr *score) {
  kiln_expr *d = kx_cast(k, score, KILN_F64);
  kiln_expr *minus_inf = kx_binary(k, KB_EQ, d, kx_const_f(k, KILN_F64, -INFINITY));
  kiln_expr *key = kx_select(k, minus_inf, kx_const_f(k, KILN_F64, 1e300),
                             kx_unary(k, KU_NEG, d));
  key = kx_select(k, kx_unary(k, KU_ISNAN, d), kx_const_f(k, KILN_F64, 2e300), key);
  return kx_select(k, is_cand, key, kx_const_f(k, KILN_F64, 3e300));
}

/* key[b, c, t] = candidate t's order key; rank[b, c, t] = the slots whose keys go before
 * t's; then order[b, c, rank] = its box. */
static kiln_status lower_order(kiln_lower_ctx *c) {
  kiln_kernel *k = c->k;
  if (check_scores(c, c->in_buf[0])) return c->err->code;
  const kiln_buffer *sc = &k->bufs[c->in_buf[0]], *out = &k->bufs[c->out_buf[0]];
  int64_t nb = sc->dims[2], dims[3] = {out->dims[0], out->dims[1], out->dims[2]};
  int scores = c->in_buf[0], cands = c->in_buf[1];
  int rank = kiln_kernel_add_buffer(k, "rank", KILN_BUF_TEMP, -1, KILN_I64, 3, dims);
  int key = kiln_kernel_add_buffer(k, "key", KILN_BUF_TEMP, -1, KILN_F64, 3, dims);
  kiln_expr *v[4];

  kiln_stage *s = kiln_kernel_add_stage(k, "nms_key", key);
  for (int d = 0; d < 3; d++) v[d] = kx_var(k, kiln_stage_axis(s, dims[d], false));
  kiln_expr *cand = kx_load(k, cands, v);
  kiln_expr *score = kx_load(k, scores, (kiln_expr *[]){v[0], v[1], clamped(k, cand, nb)});
  kiln_stage_store(k, s, v, order_key(k, kx_binary(k, KB_GE, cand, kx_idx(k, 0)), score));

  /* O(M^2) compares of two f64s: M, the most candidates of a class, is small next to the
   * boxes in real detectors (tens to a few thousand) */
  s = kiln_kernel_add_stage(k, "nms_rank", rank);
  for (int d = 0; d < 3; d++) v[d] = kx_var(k, kiln_stage_axis(s, dims[d], false));
  v[3] = kx_var(k, kiln_stage_axis(s, dims[2], true));
  kiln_expr *kt = kx_load(k, key, v), *ku = kx_load(k, key, (kiln_expr *[]){v[0], v[1], v[3]});
  kiln_expr *before = kx_binary(k, KB_OR, kx_binary(k, KB_LT, ku, kt),
                                kx_and(k, kx_binary(k, KB_EQ, ku, kt),
                                       kx_binary(k, KB_LT, v[3], v[2])));
  s->reduce = KR_SUM;
  kiln_stage_store(k, s, v, kx_select(k, before, kx_idx(k, 1), kx_idx(k, 0)));

  /* ranks are a permutation of 0 .. M-1 (before is a strict total order) */
  s = kiln_kernel_add_stage(k, "nms_order", c->out_buf[0]);
  s->ordered = true;
  for (int d = 0; d < 3; d++) v[d] = kx_var(k, kiln_stage_axis(s, dims[d], false));
  kiln_expr *to[3] = {v[0], v[1], kx_load(k, rank, v)};
  kiln_stage_store(k, s, to, kx_load(k, cands, v));
  return KILN_OK;
}

/* ---- NMSMask -------------------------------------------------------------------------- */

/* Box i of batch b as x0, x1, y0, y1 (min then max) and its area: slot d of 5. */
static kiln_expr *box_slot(kiln_kernel *k, int buf, kiln_expr *b, kiln_expr *i, bool center,
                           kiln_expr *d) {
  kiln_expr *e[4], *x[5];
  for (int j = 0; j < 4; j++) e[j] = kx_load(k, buf, (kiln_expr *[]){b, i, kx_idx(k, j)});
  if (center) {
    kiln_expr *half = kx_const_f(k, KILN_F32, 0.5);
    kiln_expr *hw = kx_binary(k, KB_MUL, e[2], half), *hh = kx_binary(k, KB_MUL, e[3], half);
    x[0] = kx_binary(k, KB_SUB, e[0], hw), x[1] = kx_binary(k, KB_ADD, e[0], hw);
    x[2] = kx_binary(k, KB_SUB, e[1], hh), x[3] = kx_binary(k, KB_ADD, e[1], hh);
  } else { /* [y1, x1, y2, x2], either corner first */
    x[0] = kx_binary(k, KB_MIN, e[1], e[3]), x[1] = kx_binary(k, KB_MAX, e[1], e[3]);
    x[2] = kx_binary(k, KB_MIN, e[0], e[2]), x[3] = kx_binary(k, KB_MAX, e[0], e[2]);
  }
  x[4] = kx_binary(k, KB_MUL, kx_binary(k, KB_SUB, x[1], x[0]), kx_binary(k, KB_SUB, x[3], x[2]));
  kiln_expr *r = x[4];
  for (int j = 3; j >= 0; j--) r = kx_select(k, kx_binary(k, KB_EQ, d, kx_idx(k, j)), x[j], r);
  return r;
}

/* onnxruntime's SuppressByIOU: do boxes a and b (x0, x1, y0, y1, area) overlap by more than
 * iou? */
static kiln_expr *overlaps(kiln_kernel *k, kiln_expr *const *a, kiln_expr *const *b, double iou) {
  kiln_expr *ix0 = kx_binary(k, KB_MAX, a[0], b[0]), *ix1 = kx_binary(k, KB_MIN, a[1], b[1]);
  kiln_expr *iy0 = kx_binary(k, KB_MAX, a[2], b[2]), *iy1 = kx_binary(k, KB_MIN, a[3], b[3]);
  kiln_expr *inter = kx_binary(k, KB_MUL, kx_binary(k, KB_SUB, ix1, ix0),
                               kx_binary(k, KB_SUB, iy1, iy0));
  kiln_expr *uni = kx_binary(k, KB_SUB, kx_binary(k, KB_ADD, a[4], b[4]), inter);
  kiln_expr *zero = kx_const_f(k, KILN_F32, 0);
  kiln_expr *ok = kx_and(k, kx_binary(k, KB_GT, ix1, ix0), kx_binary(k, KB_GT, iy1, iy0));
  ok = kx_and(k, ok, kx_binary(k, KB_GT, inter, zero));
  ok = kx_and(k, ok, kx_and(k, kx_binary(k, KB_GT, a[4], zero), kx_binary(k, KB_GT, b[4], zero)));
  ok = kx_and(k, ok, kx_binary(k, KB_GT, uni, zero));
  kiln_expr *ratio = kx_binary(k, KB_DIV, inter, uni);
  return kx_and(k, ok, kx_binary(k, KB_GT, ratio, kx_const_f(k, KILN_F32, (float)iou)));
}

static kiln_status infer_mask(kiln_graph *g, kiln_node *n, kiln_error *err) {
  const kiln_value *o = kiln_node_in(g, n, 1);
  (void)err;
  kiln_set_out(g, n, 0, KILN_I64, o->rank, o->dims);
  return KILN_OK;
}

/* The boxes selected per batch and class, as a list of ranks: a candidate is appended
 * when no box in the list overlaps it and the list holds fewer than `keep` (onnxruntime's
 * greedy selection), so each test is against the boxes kept so far, O(M x list) where
 * testing every earlier rank was O(M^2). `list` > 0: the list's capacity (keep, smaller
 * than the boxes); 0: M, the candidates (every candidate may be kept). */
static kiln_status lower_mask(kiln_lower_ctx *c) {
  kiln_kernel *k = c->k;
  const kiln_buffer *bx = &k->bufs[c->in_buf[0]], *ob = &k->bufs[c->in_buf[1]];
  if (bx->rank != 3 || bx->dims[2] != 4 || ob->rank != 3)
    return kiln_fail_node(c->n, c->err, KILN_ERR_INTERNAL, "boxes must be [batches, boxes, 4]");
  int64_t nb = bx->dims[1], dims[3] = {ob->dims[0], ob->dims[1], ob->dims[2]};
  int boxes = c->in_buf[0], order = c->in_buf[1];
  int64_t keep = kiln_attr_int(c->n, "keep", 1), cap = kiln_attr_int(c->n, "list", 0);
  double iou = kiln_attr_float(c->n, "iou_threshold", 0);
  bool center = kiln_attr_int(c->n, "center_point_box", 0) != 0;
  bool static_cap = cap > 0;
  if (!static_cap) cap = dims[2];
  int64_t sdims[4] = {dims[0], dims[1], dims[2], 5}, ldims[3] = {dims[0], dims[1], cap + 1};
  int sorted = kiln_kernel_add_buffer(k, "sorted", KILN_BUF_TEMP, -1, KILN_F32, 4, sdims);
  int list = kiln_kernel_add_buffer(k, "list", KILN_BUF_TEMP, -1, KILN_I64, 3, ldims);
  kiln_expr *v[4];

  /* sorted[b, c, r] = the corners and area of the box at rank r, read in order below */
  kiln_stage *s = kiln_kernel_add_stage(k, "nms_boxes", sorted);
  for (int d = 0; d < 4; d++) v[d] = kx_var(k, kiln_stage_axis(s, sdims[d], false));
  kiln_expr *box = clamped(k, kx_load(k, order, v), nb);
  kiln_stage_store(k, s, v, box_slot(k, boxes, v[0], box, center, v[3]));

  /* list[b, c, j] = -1: empty (slot cap takes the candidates not appended) */
  s = kiln_kernel_add_stage(k, "nms_empty", list);
  for (int d = 0; d < 3; d++) v[d] = kx_var(k, kiln_stage_axis(s, ldims[d], false));
  kiln_stage_store(k, s, v, kx_idx(k, -1));

  /* For rank r, over the list's slots j: max of j + 1 for a listed box, or INT64_MAX for
   * one that overlaps r's; then r goes to the slot that max says (the list's length) when
   * none overlaps, it is a candidate and the list is not full. The list fills from slot
   * 0, so its length is the max. */
  s = kiln_kernel_add_stage(k, "nms_select", list);
  s->ordered = true;
  for (int d = 0; d < 3; d++) v[d] = kx_var(k, kiln_stage_axis(s, dims[d], false));
  v[3] = kx_var(k, kiln_stage_axis(s, cap, true));
  kiln_expr *q = kx_load(k, list, (kiln_expr *[]){v[0], v[1], v[3]});
  kiln_expr *listed = kx_binary(k, KB_GE, q, kx_idx(k, 0)), *a[5], *o[5];
  kiln_expr *qc = kx_select(k, listed, q, kx_idx(k, 0)); /* a rank < M, listed by this stage */
  for (int j = 0; j < 5; j++) {
    a[j] = kx_load(k, sorted, (kiln_expr *[]){v[0], v[1], v[2], kx_idx(k, j)});
    o[j] = kx_load(k, sorted, (kiln_expr *[]){v[0], v[1], qc, kx_idx(k, j)});
  }
  kiln_expr *cand = kx_binary(k, KB_GE, kx_load(k, order, v), kx_idx(k, 0));
  kiln_expr *hit = kx_select(k, overlaps(k, a, o, iou), kx_idx(k, INT64_MAX), kx_addi(k, v[3], 1));
  s->reduce = KR_MAX;
  s->init = kx_idx(k, 0);
  if (static_cap) /* a full list takes no more: no need to test r against it */
    cand = kx_and(k, cand, kx_binary(k, KB_LT, kx_load(k, list, (kiln_expr *[]){v[0], v[1],
                                     kx_idx(k, cap - 1)}), kx_idx(k, 0)));
  kiln_stage_store(k, s, v, kx_select(k, kx_and(k, cand, listed), hit, kx_idx(k, 0)));
  kiln_expr *acc = kx_acc(k, KILN_I64);
  kiln_expr *append = kx_and(k, cand, kx_binary(k, KB_LT, acc, kx_idx(k, keep)));
  s->out_idx[2] = kx_select(k, append, acc, kx_idx(k, cap));
  s->post = v[2];

  /* mask[b, c, r]: the box at rank r is listed */
  s = kiln_kernel_add_stage(k, "nms_mask", c->out_buf[0]);
  for (int d = 0; d < 3; d++) v[d] = kx_var(k, kiln_stage_axis(s, dims[d], false));
  v[3] = kx_var(k, kiln_stage_axis(s, cap, true));
  q = kx_load(k, list, (kiln_expr *[]){v[0], v[1], v[3]});
  s->reduce = KR_MAX;
  s->init = kx_idx(k, 0);
  kiln_stage_store(k, s, v, kx_select(k, kx_binary(k, KB_EQ, q, v[2]), kx_idx(k, 1),
                                      kx_idx(k, 0)));
  return KILN_OK;
}

/* ---- NMSSelected ---------------------------------------------------------------------- */

static kiln_status infer_selected(kiln_graph *g, kiln_node *n, kiln_error *err) {
  return set_selected(g, n, (int)kiln_attr_int(n, "sym", -1), err);
}

/* out[j] = (b, c, order[b, c, r]) for the flat rank list[j] = (b * C + c) * M + r */
static kiln_status lower_selected(kiln_lower_ctx *c) {
  kiln_kernel *k = c->k;
  const kiln_buffer *order = &k->bufs[c->in_buf[0]], *out = &k->bufs[c->out_buf[0]];
  int64_t C = order->dims[1], M = order->dims[2];
  kiln_stage *s = kiln_kernel_add_stage(k, "nms_selected", c->out_buf[0]);
  kiln_expr *v[2];
  for (int d = 0; d < 2; d++) v[d] = kx_var(k, kiln_stage_axis(s, out->dims[d], false));
  kiln_expr *p = kx_load(k, c->in_buf[1], &v[0]);
  kiln_expr *at[3] = {kx_binary(k, KB_DIV, p, kx_idx(k, C * M)),
                      kx_binary(k, KB_MOD, kx_binary(k, KB_DIV, p, kx_idx(k, M)), kx_idx(k, C)),
                      kx_binary(k, KB_MOD, p, kx_idx(k, M))};
  kiln_expr *box = kx_load(k, c->in_buf[0], at);
  kiln_expr *value = kx_select(k, kx_binary(k, KB_EQ, v[1], kx_idx(k, 0)), at[0],
                               kx_select(k, kx_binary(k, KB_EQ, v[1], kx_idx(k, 1)), at[1], box));
  kiln_stage_store(k, s, v, value);
  return KILN_OK;
}

static const kiln_attr_spec cand_attrs[] = {{"sym", KILN_ATTR_INT, true},
                                            {"score_threshold", KILN_ATTR_FLOAT, false},
                                            {NULL}};
static const kiln_attr_spec mask_attrs[] = {{"keep", KILN_ATTR_INT, true},
                                            {"list", KILN_ATTR_INT, false},
                                            {"iou_threshold", KILN_ATTR_FLOAT, true},
                                            {"center_point_box", KILN_ATTR_INT, false},
                                            {NULL}};
static const kiln_attr_spec sym_attrs[] = {{"sym", KILN_ATTR_INT, true}, {NULL}};

const kiln_op_def kiln_ops_nms_run[] = {
    {"NMSCandidates", 1, 1, 1, 1, cand_attrs, infer_cands, lower_cands, NULL, KILN_OP_SYMBOLIC},
    {"NMSOrder", 2, 2, 1, 1, sym_attrs, infer_order, lower_order, NULL,
     KILN_OP_SYMBOLIC | KILN_OP_DATA_DIMS},
    {"NMSMask", 2, 2, 1, 1, mask_attrs, infer_mask, lower_mask, NULL, KILN_OP_SYMBOLIC},
    {"NMSSelected", 2, 2, 1, 1, sym_attrs, infer_selected, lower_selected, NULL,
     KILN_OP_SYMBOLIC | KILN_OP_DATA_DIMS},
    {NULL},
};
