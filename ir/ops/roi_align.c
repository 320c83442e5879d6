/* RoiAlign: out[r, c, ph, pw] pools X[batch_indices[r], c] over output bin (ph, pw) of
 * region r, averaging (avg) or taking the largest (max) of a grid of bilinear samples, as
 * ONNX's reference does (a sample outside [-1, H] x [-1, W] counts as 0).
 *
 * With sampling_ratio 0 the grid of each region is g = ceil(bin size) samples per dim, so
 * it depends on the rois' values. Samples are bin / g > (g - 1) / g apart, so at most
 * min(g, (H + 1) g / (g - 1) + 1) <= H + 2 of a bin's sample rows lie in [-1, H] (W + 2
 * columns in [-1, W]). The stage reduces over a window of H + 5 rows (W + 5 columns;
 * the spare ones absorb rounding) that starts just before the first row inside, masking
 * those past the grid. Rows before or after the window lie outside and add 0 (they still
 * count in the average, and a max with some outside includes 0). That is exact for any
 * roi, at the price of a window larger than the typical grid; a fixed sampling_ratio
 * reduces over its grid alone.
 *
 * Per-region terms are computed once, in stages over the regions, and so is each sample
 * row's and column's pair of taps (indices, weights, whether it is a grid point and whether
 * it lies outside: stages over [R, bins, window]), which the pooling stage then loads for
 * every channel rather than computing again (Faster R-CNN: 256 channels). batch_indices are
 * checked at run time; taps are loaded at indices clamped into the image, so no roi value
 * (NaN included) reads out of bounds. Arithmetic is f64 for f64 and f32 otherwise. */
#include "ir/op.h"

#include "ir/dtype.h"

#include <stdio.h>
#include <string.h>

typedef struct roi_cfg {
  bool max;        /* mode max, else avg */
  bool half_pixel; /* coordinates shift by -0.5; sizes may be below 1 */
  int64_t out[2];  /* output_height, output_width */
  int64_t ratio;   /* sampling_ratio; 0: adaptive */
  double scale;    /* spatial_scale */
} roi_cfg;

static kiln_status roi_config(const kiln_node *n, roi_cfg *r, kiln_error *err) {
  const char *mode = kiln_attr_str(n, "mode", "avg");
  const char *ct = kiln_attr_str(n, "coordinate_transformation_mode", "half_pixel");
  if (strcmp(mode, "avg") && strcmp(mode, "max"))
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "mode must be avg or max");
  if (strcmp(ct, "half_pixel") && strcmp(ct, "output_half_pixel"))
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL,
                          "coordinate_transformation_mode must be half_pixel or output_half_pixel");
  r->max = !strcmp(mode, "max");
  r->half_pixel = !strcmp(ct, "half_pixel");
  r->out[0] = kiln_attr_int(n, "output_height", 1);
  r->out[1] = kiln_attr_int(n, "output_width", 1);
  r->ratio = kiln_attr_int(n, "sampling_ratio", 0);
  r->scale = kiln_attr_float(n, "spatial_scale", 1.0);
  const int64_t limit = (int64_t)1 << 20;
  if (r->out[0] < 1 || r->out[1] < 1 || r->out[0] > limit || r->out[1] > limit ||
      r->ratio < 0 || r->ratio > limit)
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL,
                          "output_height and output_width must be >= 1, sampling_ratio >= 0");
  return KILN_OK;
}

static kiln_status infer_roi_align(kiln_graph *g, kiln_node *n, kiln_error *err) {
  const kiln_value *x = kiln_node_in(g, n, 0), *rois = kiln_node_in(g, n, 1);
  const kiln_value *bi = kiln_node_in(g, n, 2);
  roi_cfg r;
  if (roi_config(n, &r, err)) return err->code;
  if (x->rank != 4 || !kiln_dtype_is_float(x->dtype) || x->dims[2] < 1 || x->dims[3] < 1)
    return kiln_fail_node(n, err, KILN_ERR_SHAPE,
                          "X must be a float tensor [N, C, H, W] with H and W >= 1");
  if (rois->rank != 2 || rois->dims[1] != 4 || !kiln_dtype_is_float(rois->dtype) ||
      bi->rank != 1 || bi->dims[0] != rois->dims[0] || !kiln_dtype_is_int(bi->dtype))
    return kiln_fail_node(n, err, KILN_ERR_SHAPE,
                          "rois must be floats [num_rois, 4] and batch_indices integers [num_rois]");
  int64_t dims[4] = {rois->dims[0], x->dims[1], r.out[0], r.out[1]};
  kiln_set_out(g, n, 0, x->dtype, 4, dims);
  return KILN_OK;
}

typedef struct roi {
  kiln_kernel *k;
  kiln_dtype ct;
  roi_cfg cfg;
  int64_t ext[2];   /* H, W */
  int64_t win[2];   /* the reduction's extent per dim */
  int start, bin, grid, first; /* per-region temporaries [R, 2] ([R, 2, P] for first) */
  int tapi[2], tapw[2];         /* per dim, [R, bins, window, 4] indices lo, hi, grid point,
                                   outside; [R, bins, window, 2] weights lo, hi */
} roi;

static kiln_expr *F(roi *s, double v) { return kx_const_f(s->k, s->ct, v); }
static kiln_expr *B(roi *s, kiln_binary_op op, kiln_expr *a, kiln_expr *b) {
  return kx_binary(s->k, op, a, b);
}
static kiln_expr *ld2(roi *s, int buf, kiln_expr *a, kiln_expr *b) {
  kiln_expr *idx[2] = {a, b};
  return kx_load(s->k, buf, idx);
}

/* Stage `name` over [R, 2] (dim e: 0 height, 1 width) storing what(region, e) in buf. */
static kiln_stage *region_stage(roi *s, const char *name, int buf, int64_t nrois, kiln_expr **r,
                                kiln_expr **e) {
  kiln_stage *st = kiln_kernel_add_stage(s->k, name, buf);
  *r = kx_var(s->k, kiln_stage_axis(st, nrois, false));
  *e = kx_var(s->k, kiln_stage_axis(st, 2, false));
  return st;
}

/* The per-region terms: start, bin size and grid per dim, and for an adaptive grid the
 * first row (column) of each output bin's window. */
static void region_terms(roi *s, int rois, int64_t nrois) {
  kiln_kernel *k = s->k;
  kiln_expr *r, *e, *at[2];
  double off = s->cfg.half_pixel ? 0.5 : 0;
  int bufs[3] = {s->start, s->bin, s->grid};
  const char *names[3] = {"roi_start", "roi_bin", "roi_grid"};
  for (int q = 0; q < 3; q++) {
    kiln_stage *st = region_stage(s, names[q], bufs[q], nrois, &r, &e);
    /* rois hold (x1, y1, x2, y2): dim e starts at column 1 - e and ends at 3 - e */
    kiln_expr *col = B(s, KB_SUB, kx_idx(k, 1), e);
    kiln_expr *lo = B(s, KB_SUB, B(s, KB_MUL, kx_cast(k, ld2(s, rois, r, col), s->ct),
                                   F(s, s->cfg.scale)), F(s, off));
    kiln_expr *hi = B(s, KB_SUB, B(s, KB_MUL, kx_cast(k, ld2(s, rois, r, kx_addi(k, col, 2)),
                                                      s->ct), F(s, s->cfg.scale)), F(s, off));
    kiln_expr *len = B(s, KB_SUB, hi, lo);
    if (!s->cfg.half_pixel) len = B(s, KB_MAX, len, F(s, 1));
    kiln_expr *pooled = kx_select(k, B(s, KB_EQ, e, kx_idx(k, 0)), F(s, (double)s->cfg.out[0]),
                                  F(s, (double)s->cfg.out[1]));
    kiln_expr *bin = B(s, KB_DIV, len, pooled);
    kiln_expr *val = q == 0 ? lo : q == 1 ? bin : s->cfg.ratio > 0 ? F(s, (double)s->cfg.ratio)
                                                                : kx_unary(k, KU_CEIL, bin);
    at[0] = r;
    at[1] = e;
    kiln_stage_store(k, st, at, val);
  }
  if (s->cfg.ratio > 0) return;
  /* first = the first sample i with start + p bin + (i + 0.5) bin / grid >= -1, less one
   * for rounding, clamped to [0, 2^40] (NaN -> 0) */
  int64_t P = s->cfg.out[0] > s->cfg.out[1] ? s->cfg.out[0] : s->cfg.out[1];
  kiln_stage *st = kiln_kernel_add_stage(k, "roi_first", s->first);
  r = kx_var(k, kiln_stage_axis(st, nrois, false));
  e = kx_var(k, kiln_stage_axis(st, 2, false));
  kiln_expr *p = kx_var(k, kiln_stage_axis(st, P, false));
  kiln_expr *bin = ld2(s, s->bin, r, e);
  kiln_expr *base = B(s, KB_ADD, ld2(s, s->start, r, e), B(s, KB_MUL, kx_cast(k, p, s->ct), bin));
  kiln_expr *step = B(s, KB_DIV, bin, ld2(s, s->grid, r, e));
  kiln_expr *i = B(s, KB_SUB, B(s, KB_DIV, B(s, KB_SUB, F(s, -1), base), step), F(s, 1.5));
  i = B(s, KB_MAX, kx_unary(k, KU_CEIL, i), F(s, 0));
  i = B(s, KB_MIN, i, F(s, (double)((int64_t)1 << 40)));
  kiln_expr *fi[3] = {r, e, p};
  kiln_stage_store(k, st, fi, kx_cast(k, i, KILN_I64));
}

/* One dim of a sample: its coordinate, whether it is a grid point, whether it lies outside
 * the image, and its two taps (clamped indices) with their weights. */
typedef struct axis_sample {
  kiln_expr *valid, *outside, *idx[2], *w[2];
} axis_sample;

static axis_sample sample_axis(roi *s, int d, kiln_expr *r, kiln_expr *p, kiln_expr *t) {
  kiln_kernel *k = s->k;
  axis_sample a;
  kiln_expr *e = kx_idx(k, d);
  kiln_expr *grid = ld2(s, s->grid, r, e), *bin = ld2(s, s->bin, r, e);
  kiln_expr *it = t;
  if (s->cfg.ratio == 0) {
    kiln_expr *fi[3] = {r, e, p};
    it = kx_add(k, kx_load(k, s->first, fi), t);
  }
  kiln_expr *itf = kx_cast(k, it, s->ct);
  a.valid = B(s, KB_LT, itf, grid);
  /* start + p bin + (i + 0.5) bin / grid, in the reference's order */
  kiln_expr *y = B(s, KB_ADD, B(s, KB_ADD, ld2(s, s->start, r, e),
                                B(s, KB_MUL, kx_cast(k, p, s->ct), bin)),
                   B(s, KB_DIV, B(s, KB_MUL, B(s, KB_ADD, itf, F(s, 0.5)), bin), grid));
  double top = (double)s->ext[d] - 1;
  a.outside = B(s, KB_OR, B(s, KB_LT, y, F(s, -1)), B(s, KB_GT, y, F(s, (double)s->ext[d])));
  y = B(s, KB_MAX, y, F(s, 0));
  kiln_expr *low = kx_unary(k, KU_FLOOR, y);
  kiln_expr *edge = B(s, KB_GE, low, F(s, top));
  kiln_expr *lo = kx_select(k, edge, F(s, top), low);
  kiln_expr *hi = kx_select(k, edge, F(s, top), B(s, KB_ADD, low, F(s, 1)));
  kiln_expr *frac = B(s, KB_SUB, kx_select(k, edge, lo, y), lo);
  a.w[0] = B(s, KB_SUB, F(s, 1), frac);
  a.w[1] = frac;
  kiln_expr *ends[2] = {lo, hi};
  for (int j = 0; j < 2; j++) /* any float -> an index inside (NaN saturates to 0) */
    a.idx[j] = kx_cast(k, B(s, KB_MIN, B(s, KB_MAX, ends[j], F(s, 0)), F(s, top)), KILN_I64);
  return a;
}

static kiln_expr *flag(kiln_kernel *k, kiln_expr *b) {
  return kx_select(k, b, kx_idx(k, 1), kx_idx(k, 0));
}

/* Dim d's taps of every region, bin and sample of the window, into s->tapi[d], tapw[d]. */
static void tap_tables(roi *s, int d, int64_t nrois) {
  kiln_kernel *k = s->k;
  int64_t di[4] = {nrois, s->cfg.out[d], s->win[d], 4}, dw[4] = {nrois, s->cfg.out[d], s->win[d], 2};
  s->tapi[d] = kiln_kernel_add_buffer(k, d ? "taps_x" : "taps_y", KILN_BUF_TEMP, -1, KILN_I64, 4, di);
  s->tapw[d] = kiln_kernel_add_buffer(k, d ? "weights_x" : "weights_y", KILN_BUF_TEMP, -1, s->ct, 4, dw);
  for (int w = 0; w < 2; w++) {
    kiln_stage *st = kiln_kernel_add_stage(k, w ? "roi_weights" : "roi_taps", w ? s->tapw[d] : s->tapi[d]);
    kiln_expr *v[4];
    for (int a = 0; a < 4; a++) v[a] = kx_var(k, kiln_stage_axis(st, w ? dw[a] : di[a], false));
    axis_sample a = sample_axis(s, d, v[0], v[1], v[2]);
    kiln_expr *q = v[3], *val;
    if (w)
      val = kx_select(k, B(s, KB_EQ, q, kx_idx(k, 0)), a.w[0], a.w[1]);
    else
      val = kx_select(k, B(s, KB_EQ, q, kx_idx(k, 0)), a.idx[0],
                      kx_select(k, B(s, KB_EQ, q, kx_idx(k, 1)), a.idx[1],
                                kx_select(k, B(s, KB_EQ, q, kx_idx(k, 2)), flag(k, a.valid),
                                          flag(k, a.outside))));
    kiln_stage_store(k, st, v, val);
  }
}

/* Dim d's taps of region r, bin p, sample t, loaded from the tables. */
static axis_sample loaded_axis(roi *s, int d, kiln_expr *r, kiln_expr *p, kiln_expr *t) {
  kiln_kernel *k = s->k;
  axis_sample a;
  kiln_expr *at[4] = {r, p, t, NULL};
  for (int j = 0; j < 2; j++) {
    at[3] = kx_idx(k, j);
    a.idx[j] = kx_load(k, s->tapi[d], at);
    a.w[j] = kx_load(k, s->tapw[d], at);
  }
  at[3] = kx_idx(k, 2);
  a.valid = B(s, KB_NE, kx_load(k, s->tapi[d], at), kx_idx(k, 0));
  at[3] = kx_idx(k, 3);
  a.outside = B(s, KB_NE, kx_load(k, s->tapi[d], at), kx_idx(k, 0));
  return a;
}

static kiln_status lower_roi_align(kiln_lower_ctx *c) {
  kiln_kernel *k = c->k;
  roi s = {.k = k};
  if (roi_config(c->n, &s.cfg, c->err)) return c->err->code;
  const kiln_buffer *x = &k->bufs[c->in_buf[0]], *y = &k->bufs[c->out_buf[0]];
  kiln_dtype t = x->dtype;
  s.ct = t == KILN_F64 ? KILN_F64 : KILN_F32;
  int64_t nrois = y->dims[0], d2[2] = {nrois, 2};
  for (int d = 0; d < 2; d++) {
    s.ext[d] = x->dims[2 + d];
    s.win[d] = s.cfg.ratio > 0 ? s.cfg.ratio : s.ext[d] + 5;
  }
  s.start = kiln_kernel_add_buffer(k, "start", KILN_BUF_TEMP, -1, s.ct, 2, d2);
  s.bin = kiln_kernel_add_buffer(k, "bin", KILN_BUF_TEMP, -1, s.ct, 2, d2);
  s.grid = kiln_kernel_add_buffer(k, "grid", KILN_BUF_TEMP, -1, s.ct, 2, d2);
  if (s.cfg.ratio == 0) {
    int64_t d3[3] = {nrois, 2, s.cfg.out[0] > s.cfg.out[1] ? s.cfg.out[0] : s.cfg.out[1]};
    s.first = kiln_kernel_add_buffer(k, "first", KILN_BUF_TEMP, -1, KILN_I64, 3, d3);
  }
  region_terms(&s, c->in_buf[1], nrois);
  for (int d = 0; d < 2; d++) tap_tables(&s, d, nrois);

  /* each region's batch entry, checked once */
  int batch = kiln_kernel_add_buffer(k, "batch", KILN_BUF_TEMP, -1, KILN_I64, 1, &nrois);
  kiln_expr *r;
  kiln_stage *st = kiln_elementwise_stage(k, "roi_batch", batch, &r);
  const kiln_value *bv = kiln_node_in(c->g, c->n, 2);
  char what[512];
  snprintf(what, sizeof what, "node '%s' (%s): input '%s'", c->n->name, c->n->op_type,
           bv->name ? bv->name : "?");
  kiln_stage_store(k, st, &r, kx_check_index(k, kx_cast(k, kx_load(k, c->in_buf[2], &r), KILN_I64),
                                             x->dims[0], false, what));

  int out = c->out_buf[0];
  if (s.ct != t) out = kiln_kernel_add_buffer(k, "pooled", KILN_BUF_TEMP, -1, s.ct, 4, y->dims);
  st = kiln_kernel_add_stage(k, "roi_align", out);
  kiln_expr *v[4];
  for (int d = 0; d < 4; d++) v[d] = kx_var(k, kiln_stage_axis(st, y->dims[d], false));
  kiln_expr *ty = kx_var(k, kiln_stage_axis(st, s.win[0], true));
  kiln_expr *tx = kx_var(k, kiln_stage_axis(st, s.win[1], true));
  axis_sample sy = loaded_axis(&s, 0, v[0], v[2], ty), sx = loaded_axis(&s, 1, v[0], v[3], tx);
  kiln_expr *n = kx_load(k, batch, &v[0]), *val = NULL;
  for (int i = 0; i < 2; i++)
    for (int j = 0; j < 2; j++) { /* taps in the reference's order: (lo, lo), (lo, hi)... */
      kiln_expr *idx[4] = {n, v[1], sy.idx[i], sx.idx[j]};
      kiln_expr *tap = B(&s, KB_MUL, B(&s, KB_MUL, sy.w[i], sx.w[j]),
                         kx_cast(k, kx_load(k, c->in_buf[0], idx), s.ct));
      val = !val ? tap : B(&s, s.cfg.max ? KB_MAX : KB_ADD, val, tap);
    }
  kiln_expr *valid = B(&s, KB_AND, sy.valid, sx.valid);
  kiln_expr *outside = B(&s, KB_OR, sy.outside, sx.outside);
  val = kx_select(k, outside, F(&s, 0), val);
  st->reduce = s.cfg.max ? KR_MAX : KR_SUM;
  kiln_expr *gy = ld2(&s, s.grid, v[0], kx_idx(k, 0)), *gx = ld2(&s, s.grid, v[0], kx_idx(k, 1));
  kiln_expr *acc = kx_acc(k, s.ct);
  if (!s.cfg.max) {
    st->post = B(&s, KB_DIV, acc, B(&s, KB_MAX, B(&s, KB_MUL, gy, gx), F(&s, 1)));
  } else {
    /* no grid: 0; samples past the window (outside the image) add a 0 */
    kiln_expr *missing = NULL;
    if (s.cfg.ratio == 0) {
      kiln_expr *p[2] = {v[2], v[3]}, *g[2] = {gy, gx};
      for (int d = 0; d < 2; d++) {
        kiln_expr *fi[3] = {v[0], kx_idx(k, d), p[d]};
        kiln_expr *a = kx_load(k, s.first, fi);
        kiln_expr *before = B(&s, KB_GT, a, kx_idx(k, 0));
        kiln_expr *after = B(&s, KB_LT, kx_cast(k, kx_addi(k, a, s.win[d]), s.ct), g[d]);
        missing = missing ? B(&s, KB_OR, missing, B(&s, KB_OR, before, after))
                          : B(&s, KB_OR, before, after);
      }
    }
    kiln_expr *res = missing ? kx_select(k, missing, B(&s, KB_MAX, acc, F(&s, 0)), acc) : acc;
    kiln_expr *some = B(&s, KB_AND, B(&s, KB_GT, gy, F(&s, 0)), B(&s, KB_GT, gx, F(&s, 0)));
    st->post = kx_select(k, some, res, F(&s, 0));
  }
  kiln_stage_store(k, st, v, kx_select(k, valid, val, kx_reduce_identity(k, st->reduce, s.ct)));
  if (out != c->out_buf[0]) {
    st = kiln_elementwise_stage(k, "roi_round", c->out_buf[0], v);
    kiln_stage_store(k, st, v, kx_cast(k, kx_load(k, out, v), t));
  }
  return KILN_OK;
}

static const kiln_attr_spec roi_attrs[] = {
    {"coordinate_transformation_mode", KILN_ATTR_STRING, false},
    {"mode", KILN_ATTR_STRING, false},
    {"output_height", KILN_ATTR_INT, false},
    {"output_width", KILN_ATTR_INT, false},
    {"sampling_ratio", KILN_ATTR_INT, false},
    {"spatial_scale", KILN_ATTR_FLOAT, false},
    {NULL}};

const kiln_op_def kiln_ops_roi_align[] = {
    {"RoiAlign", 3, 3, 1, 1, roi_attrs, infer_roi_align, lower_roi_align, NULL, KILN_OP_SYMBOLIC},
    {NULL},
};
