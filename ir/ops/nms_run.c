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
 *                                      each one's rank counted, then scattered.
 *   NMSMask(boxes, order)           -> mask [B, C, M]: whether the box at each rank is
 *                                      selected: a candidate that overlaps no box selected
 *                                      at an earlier rank by more than iou_threshold,
 *                                      among the first `keep` so selected.
 *   NonZeroList(mask)               -> the selected ranks, flat, and their count.
 *   NMSSelected(order, list)        -> out [count, 3]: (batch, class, box) per selected rank.
 *
 * Stages that read what earlier points of their own stage wrote (running counts, the
 * suppression of each rank by the ranks before it) or store where values say are ordered
 * (kiln_stage.ordered). The selection is onnxruntime's (ir/ops/nms.c does the same at
 * compile time), in f32. Ranking and suppression cost O(M^2) per class, where onnxruntime
 * sorts (O(M log M)) and tests each candidate against the boxes kept before it. */
#include "ir/op.h"
#include "ir/ops/expand.h"
#include "ir/ops/select.h"


static kiln_status fail_node(const kiln_node *n, kiln_error *err, kiln_status code,
                             const char *what) {
  return kiln_fail(err, code, "node '%s' (%s): %s", n->name, n->op_type, what);
}

/* The count's data sym of n, added when new. */
static int count_sym(kiln_graph *g, const kiln_node *n, const kiln_nms_limits *l,
                     kiln_error *err) {
  const kiln_value *boxes = kiln_node_in(g, n, 0), *scores = kiln_node_in(g, n, 1);
  kiln_symdim bound = kiln_value_symdim(g, boxes, 0), c = kiln_value_symdim(g, scores, 1);
  kiln_symdim per = kiln_value_symdim(g, boxes, 1);
  if (!boxes->sym[1] && l->keep < boxes->dims[1]) per = kiln_symdim_const(l->keep);
  if (!kiln_symdim_mul(&bound, &c, &bound) || !kiln_symdim_mul(&bound, &per, &bound)) {
    fail_node(n, err, KILN_ERR_UNSUPPORTED, "its output's size overflows");
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
    return fail_node(n, err, KILN_ERR_SHAPE, "its shapes hold for some values of the free "
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
  kiln_ex e;
  kiln_ex_begin(&e, g, b, pos, KILN_I64); /* n is stale from here */
  int cands = kiln_ex_node1(&e, "NMSCandidates", &scores, 1, -1, "candidates");
  kiln_ex_attr_i(&e, "sym", most);
  if (l->has_score) kiln_ex_attr_f(&e, "score_threshold", l->score);
  int order = kiln_ex_node1(&e, "NMSOrder", (int[]){scores, cands}, 2, -1, "order");
  kiln_ex_attr_i(&e, "sym", most);
  int mask = kiln_ex_node1(&e, "NMSMask", (int[]){boxes, order}, 2, -1, "mask");
  kiln_ex_attr_i(&e, "keep", l->keep);
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
    return fail_node(c->n, c->err, KILN_ERR_INTERNAL,
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
  kiln_select_running(k, s, cnt, 3, v,
                      kx_select(k, candidate(c, scores, v), kx_idx(k, 1), kx_idx(k, 0)));

  /* out[b, c, count[b, c, i] - 1] = i for the candidates; the others go to the spare slot */
  s = kiln_kernel_add_stage(k, "nms_candidates", out);
  s->ordered = true;
  for (int d = 0; d < 3; d++) v[d] = kx_var(k, kiln_stage_axis(s, dims[d], false));
  kiln_expr *at = kx_select(k, candidate(c, scores, v), kx_addi(k, kx_load(k, cnt, v), -1),
                            kx_idx(k, nb));
  kiln_expr *to[3] = {v[0], v[1], at};
  kiln_stage_store(k, s, to, v[2]);

  /* the run's dims: [sym] = the most candidates of a class */
  s = kiln_kernel_add_stage(k, "nms_most", kiln_lower_dims_buf(k, c->g));
  s->ordered = true;
  kiln_stage_axis(s, 1, false);
  for (int d = 0; d < 3; d++) v[d] = kx_var(k, kiln_stage_axis(s, dims[d], true));
  s->reduce = KR_MAX;
  s->init = kx_idx(k, 0);
  kiln_expr *slot = kx_idx(k, sym);
  kiln_stage_store(k, s, &slot, kx_load(k, cnt, v));
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

/* rank[b, c, t] = the candidates of (b, c) that go before candidate t; then
 * order[b, c, rank] = its box */
static kiln_status lower_order(kiln_lower_ctx *c) {
  kiln_kernel *k = c->k;
  if (check_scores(c, c->in_buf[0])) return c->err->code;
  const kiln_buffer *sc = &k->bufs[c->in_buf[0]], *out = &k->bufs[c->out_buf[0]];
  int64_t nb = sc->dims[2], dims[3] = {out->dims[0], out->dims[1], out->dims[2]};
  int scores = c->in_buf[0], cands = c->in_buf[1];
  int rank = kiln_kernel_add_buffer(k, "rank", KILN_BUF_TEMP, -1, KILN_I64, 3, dims);
  int key = kiln_kernel_add_buffer(k, "key", KILN_BUF_TEMP, -1, KILN_F32, 3, dims);
  kiln_expr *v[4];

  /* key[b, c, t] = candidate t's score, read in order below */
  kiln_stage *s = kiln_kernel_add_stage(k, "nms_key", key);
  for (int d = 0; d < 3; d++) v[d] = kx_var(k, kiln_stage_axis(s, dims[d], false));
  kiln_expr *box = clamped(k, kx_load(k, cands, v), nb);
  kiln_stage_store(k, s, v, kx_load(k, scores, (kiln_expr *[]){v[0], v[1], box}));

  s = kiln_kernel_add_stage(k, "nms_rank", rank);
  for (int d = 0; d < 3; d++) v[d] = kx_var(k, kiln_stage_axis(s, dims[d], false));
  v[3] = kx_var(k, kiln_stage_axis(s, dims[2], true));
  kiln_expr *at_u[3] = {v[0], v[1], v[3]};
  kiln_expr *vt = kx_binary(k, KB_GE, kx_load(k, cands, v), kx_idx(k, 0));
  kiln_expr *vu = kx_binary(k, KB_GE, kx_load(k, cands, at_u), kx_idx(k, 0));
  kiln_expr *st = kx_load(k, key, v), *su = kx_load(k, key, at_u);
  kiln_expr *nt = kx_unary(k, KU_ISNAN, st), *nu = kx_unary(k, KU_ISNAN, su);
  /* u before t: a candidate before none; a higher score (NaN lowest), or the same (both
   * NaN) at a lower index (candidates are in index order); none in slot order */
  kiln_expr *higher = kx_and(k, kx_unary(k, KU_NOT, nu),
                             kx_binary(k, KB_OR, nt, kx_binary(k, KB_GT, su, st)));
  kiln_expr *same = kx_binary(k, KB_OR, kx_binary(k, KB_EQ, su, st), kx_and(k, nt, nu));
  kiln_expr *lower = kx_binary(k, KB_LT, v[3], v[2]);
  kiln_expr *both = kx_binary(k, KB_OR, higher, kx_and(k, same, lower));
  kiln_expr *alike = kx_and(k, kx_binary(k, KB_EQ, vu, vt), kx_select(k, vu, both, lower));
  kiln_expr *before = kx_binary(k, KB_OR, kx_and(k, vu, kx_unary(k, KU_NOT, vt)), alike);
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

static kiln_status lower_mask(kiln_lower_ctx *c) {
  kiln_kernel *k = c->k;
  const kiln_buffer *bx = &k->bufs[c->in_buf[0]], *ob = &k->bufs[c->in_buf[1]];
  if (bx->rank != 3 || bx->dims[2] != 4 || ob->rank != 3)
    return fail_node(c->n, c->err, KILN_ERR_INTERNAL, "boxes must be [batches, boxes, 4]");
  int64_t nb = bx->dims[1], dims[3] = {ob->dims[0], ob->dims[1], ob->dims[2]};
  int boxes = c->in_buf[0], order = c->in_buf[1];
  int64_t keep = kiln_attr_int(c->n, "keep", 1);
  double iou = kiln_attr_float(c->n, "iou_threshold", 0);
  bool center = kiln_attr_int(c->n, "center_point_box", 0) != 0;
  int64_t sdims[4] = {dims[0], dims[1], dims[2], 5};
  int sorted = kiln_kernel_add_buffer(k, "sorted", KILN_BUF_TEMP, -1, KILN_F32, 4, sdims);
  int kept = kiln_kernel_add_buffer(k, "kept", KILN_BUF_TEMP, -1, KILN_I64, 3, dims);
  int seen = kiln_kernel_add_buffer(k, "seen", KILN_BUF_TEMP, -1, KILN_I64, 3, dims);
  kiln_expr *v[4];

  /* sorted[b, c, r] = the corners and area of the box at rank r, read in order below */
  kiln_stage *s = kiln_kernel_add_stage(k, "nms_boxes", sorted);
  for (int d = 0; d < 4; d++) v[d] = kx_var(k, kiln_stage_axis(s, sdims[d], false));
  kiln_expr *box = clamped(k, kx_load(k, order, v), nb);
  kiln_stage_store(k, s, v, box_slot(k, boxes, v[0], box, center, v[3]));

  /* kept[b, c, r]: the box at rank r is a candidate that no kept box of an earlier rank
   * suppresses (the limit not yet applied: it only cuts the list short) */
  s = kiln_kernel_add_stage(k, "nms_suppress", kept);
  s->ordered = true;
  for (int d = 0; d < 3; d++) v[d] = kx_var(k, kiln_stage_axis(s, dims[d], false));
  v[3] = kx_var(k, kiln_stage_axis(s, dims[2], true));
  kiln_expr *at_q[3] = {v[0], v[1], v[3]}, *a[5], *o[5];
  for (int j = 0; j < 5; j++) {
    a[j] = kx_load(k, sorted, (kiln_expr *[]){v[0], v[1], v[2], kx_idx(k, j)});
    o[j] = kx_load(k, sorted, (kiln_expr *[]){v[0], v[1], v[3], kx_idx(k, j)});
  }
  kiln_expr *earlier = kx_and(k, kx_binary(k, KB_LT, v[3], v[2]),
                              kx_binary(k, KB_NE, kx_load(k, kept, at_q), kx_idx(k, 0)));
  kiln_expr *hit = kx_and(k, earlier, overlaps(k, a, o, iou));
  s->reduce = KR_MAX;
  s->init = kx_idx(k, 0);
  kiln_expr *cand = kx_and(k, kx_binary(k, KB_GE, kx_load(k, order, v), kx_idx(k, 0)),
                           kx_binary(k, KB_EQ, kx_acc(k, KILN_I64), kx_idx(k, 0)));
  s->post = kx_select(k, cand, kx_idx(k, 1), kx_idx(k, 0));
  kiln_stage_store(k, s, v, kx_select(k, hit, kx_idx(k, 1), kx_idx(k, 0)));

  /* seen[b, c, r]: the boxes kept at ranks 0 .. r */
  s = kiln_kernel_add_stage(k, "nms_seen", seen);
  for (int d = 0; d < 3; d++) v[d] = kx_var(k, kiln_stage_axis(s, dims[d], false));
  kiln_select_running(k, s, seen, 3, v, kx_load(k, kept, v));

  /* mask: kept, and among the first `keep` */
  s = kiln_kernel_add_stage(k, "nms_mask", c->out_buf[0]);
  for (int d = 0; d < 3; d++) v[d] = kx_var(k, kiln_stage_axis(s, dims[d], false));
  kiln_expr *sel = kx_and(k, kx_binary(k, KB_NE, kx_load(k, kept, v), kx_idx(k, 0)),
                          kx_binary(k, KB_LE, kx_load(k, seen, v), kx_idx(k, keep)));
  kiln_stage_store(k, s, v, kx_select(k, sel, kx_idx(k, 1), kx_idx(k, 0)));
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
