/* Resize: nearest, n-linear and cubic interpolation, following the ONNX reference
 * implementation exactly where it matters (output sizes, coordinate transforms, tie
 * breaking). Source coordinates depend on one output index each and are computed in f64
 * in the order the reference uses, so nearest-neighbour ties land the same way.
 *
 * Nearest is one gather stage (by an integer factor, in the modes where that is exact, an
 * integer division). Linear and cubic of f32 and static shapes resize one dim at a time
 * from tables of taps (lower_separable), antialiased downscales among them (aa_tables);
 * otherwise they are one reduction stage with an
 * axis of extent 2 or 4 per resized dim walking the neighbours, the value the product of
 * the per-dim weights times the (edge-clamped) input element. */
#include "ir/op.h"

#include "ir/dtype.h"

#include <math.h>
#include <string.h>

typedef enum { M_NEAREST, M_LINEAR, M_CUBIC } resize_mode;

#define AA_MAX_TAPS 1024

typedef struct resize_plan {
  int rank;
  int64_t in[KILN_MAX_RANK], out[KILN_MAX_RANK];
  double scale[KILN_MAX_RANK], roi_lo[KILN_MAX_RANK], roi_hi[KILN_MAX_RANK];
  bool active[KILN_MAX_RANK]; /* the dim is resized (not an identity) */
  bool aa[KILN_MAX_RANK];     /* antialiased: a downscale, linear or cubic, with antialias */
  int taps[KILN_MAX_RANK];    /* input elements an output one weighs along the dim */
  resize_mode mode;
  const char *ctm; /* coordinate_transformation_mode */
} resize_plan;

/* The values of constant float input i (count 0 when omitted or empty). */
static kiln_status const_floats(const kiln_graph *g, const kiln_node *n, int i, double *out,
                                int *count, kiln_error *err) {
  const kiln_value *v = kiln_node_in(g, n, i);
  *count = 0;
  if (!v || kiln_value_numel(v) == 0) return KILN_OK;
  if (!v->data) return kiln_need_value(g, n, v, "a value", err);
  int64_t numel = kiln_value_numel(v);
  if (numel > 2 * KILN_MAX_RANK)
    return kiln_fail(err, KILN_ERR_INVALID_MODEL, "node '%s' (%s): input '%s' has %lld values",
                     n->name, n->op_type, v->name, (long long)numel);
  for (int64_t j = 0; j < numel; j++) out[j] = kiln_load_f64(v->dtype, v->data, j);
  *count = (int)numel;
  return KILN_OK;
}

static bool near_one(double x) { return fabs(x - 1.0) <= 1e-9 * fmax(1.0, fabs(x)); }

/* v (a whole number) as an output size; -1 where it is none (negative, NaN, past 2^62) */
static int64_t out_size(double v) { return v >= 0 && v <= 0x1p62 ? (int64_t)v : -1; }

static kiln_status resize_plan_make(const kiln_graph *g, const kiln_node *n, resize_plan *p,
                                    kiln_error *err) {
  const kiln_value *x = kiln_node_in(g, n, 0);
  int r = x->rank;
  memset(p, 0, sizeof *p);
  p->rank = r;
  memcpy(p->in, x->dims, sizeof(int64_t) * (size_t)r);
  const char *mode = kiln_attr_str(n, "mode", "nearest");
  p->mode = !strcmp(mode, "linear") ? M_LINEAR : !strcmp(mode, "cubic") ? M_CUBIC : M_NEAREST;
  if (p->mode == M_NEAREST && strcmp(mode, "nearest"))
    return kiln_fail(err, KILN_ERR_UNSUPPORTED, "node '%s' (%s): unknown mode '%s'", n->name,
                     n->op_type, mode);
  p->ctm = kiln_attr_str(n, "coordinate_transformation_mode", "half_pixel");

  int axes[KILN_MAX_RANK];
  const int64_t *ax;
  int na = kiln_attr_ints(n, "axes", &ax);
  if (na > r)
    return kiln_fail(err, KILN_ERR_INVALID_MODEL, "node '%s' (%s): %d axes for rank %d",
                     n->name, n->op_type, na, r);
  if (na < 0) {
    na = r;
    for (int i = 0; i < r; i++) axes[i] = i;
  } else {
    for (int i = 0; i < na; i++)
      if (kiln_norm_axis(n, ax[i], r, &axes[i], err)) return err->code;
  }

  double roi[2 * KILN_MAX_RANK], scales[2 * KILN_MAX_RANK], sizes[2 * KILN_MAX_RANK];
  int nroi, nscales, nsizes;
  if (const_floats(g, n, 1, roi, &nroi, err) || const_floats(g, n, 2, scales, &nscales, err) ||
      const_floats(g, n, 3, sizes, &nsizes, err))
    return err->code;
  if ((nscales && nscales != na) || (nsizes && nsizes != na) || (nroi && nroi != 2 * na) ||
      !nscales == !nsizes)
    return kiln_fail(err, KILN_ERR_INVALID_MODEL,
                     "node '%s' (%s): needs exactly one of scales and sizes with one value per "
                     "axis (and roi with two)",
                     n->name, n->op_type);
  for (int d = 0; d < r; d++) {
    p->scale[d] = 1.0;
    p->out[d] = p->in[d];
    p->roi_lo[d] = 0.0;
    p->roi_hi[d] = 1.0;
  }
  for (int i = 0; i < na; i++) {
    int d = axes[i];
    if (nroi) p->roi_lo[d] = roi[i], p->roi_hi[d] = roi[na + i];
    if (nscales) {
      p->scale[d] = scales[i];
      p->out[d] = out_size(floor(scales[i] * (double)p->in[d]));
    } else {
      p->out[d] = out_size(sizes[i]);
      p->scale[d] = (double)p->out[d] / (double)p->in[d];
    }
  }
  const char *policy = kiln_attr_str(n, "keep_aspect_ratio_policy", "stretch");
  if (nsizes && strcmp(policy, "stretch")) {
    bool larger = !strcmp(policy, "not_smaller");
    if (!larger && strcmp(policy, "not_larger"))
      return kiln_fail(err, KILN_ERR_UNSUPPORTED, "node '%s' (%s): keep_aspect_ratio_policy '%s'",
                       n->name, n->op_type, policy);
    double s = p->scale[axes[0]];
    for (int i = 1; i < na; i++) s = larger ? fmax(s, p->scale[axes[i]]) : fmin(s, p->scale[axes[i]]);
    for (int i = 0; i < na; i++) {
      p->scale[axes[i]] = s;
      p->out[axes[i]] = out_size(s * (double)p->in[axes[i]] + 0.5);
    }
  }
  bool crop = !strcmp(p->ctm, "tf_crop_and_resize");
  for (int d = 0; d < r; d++) {
    if (p->out[d] < 0)
      return kiln_fail(err, KILN_ERR_SHAPE, "node '%s' (%s): output size out of range along "
                       "dim %d", n->name, n->op_type, d);
    if (p->out[d] < 1 || p->scale[d] <= 0)
      return kiln_fail(err, KILN_ERR_SHAPE, "node '%s' (%s): output size %lld along dim %d",
                       n->name, n->op_type, (long long)p->out[d], d);
    bool full_roi = !crop || (fabs(p->roi_lo[d]) <= 1e-9 && near_one(p->roi_hi[d]));
    p->active[d] = !(near_one(p->scale[d]) && p->out[d] == p->in[d] && full_roi);
    p->taps[d] = p->mode == M_LINEAR ? 2 : 4;
    p->aa[d] = p->active[d] && kiln_attr_int(n, "antialias", 0) && p->mode != M_NEAREST &&
               p->scale[d] < 1;
    if (p->aa[d]) { /* the filter stretched by 1 / scale: the reference's footprint */
      double reach = p->mode == M_LINEAR ? 1 : 2;
      double taps = 2 - 2 * (floor(-reach / p->scale[d]) + 1);
      if (taps > AA_MAX_TAPS)
        return kiln_fail(err, KILN_ERR_UNSUPPORTED,
                         "node '%s' (%s): antialias of a downscale by %g along dim %d (%g taps, "
                         "at most %d)", n->name, n->op_type, p->scale[d], d, taps, AA_MAX_TAPS);
      p->taps[d] = (int)taps;
    }
  }
  if (crop && !nroi)
    return kiln_fail(err, KILN_ERR_INVALID_MODEL,
                     "node '%s' (%s): tf_crop_and_resize needs roi", n->name, n->op_type);
  return KILN_OK;
}

static kiln_status infer_resize(kiln_graph *g, kiln_node *n, kiln_error *err) {
  resize_plan p;
  if (resize_plan_make(g, n, &p, err)) return err->code;
  kiln_set_out(g, n, 0, kiln_node_in(g, n, 0)->dtype, p.rank, p.out);
  return KILN_OK;
}

/* ---- lowering ------------------------------------------------------------------------- */

static kiln_expr *f64(kiln_kernel *k, double v) { return kx_const_f(k, KILN_F64, v); }
static kiln_expr *fadd(kiln_kernel *k, kiln_expr *a, kiln_expr *b) { return kx_binary(k, KB_ADD, a, b); }
static kiln_expr *fsub(kiln_kernel *k, kiln_expr *a, kiln_expr *b) { return kx_binary(k, KB_SUB, a, b); }
static kiln_expr *fmul(kiln_kernel *k, kiln_expr *a, kiln_expr *b) { return kx_binary(k, KB_MUL, a, b); }
static kiln_expr *fdiv(kiln_kernel *k, kiln_expr *a, kiln_expr *b) { return kx_binary(k, KB_DIV, a, b); }

/* The source coordinate of output index y along dim d (f64), as the reference computes it;
 * *outside receives the tf_crop_and_resize extrapolation test (else NULL). */
static kiln_status source_coord(kiln_lower_ctx *c, const resize_plan *p, int d, kiln_expr *yi,
                                kiln_expr **xo, kiln_expr **outside) {
  kiln_kernel *k = c->k;
  kiln_expr *y = kx_cast(k, yi, KILN_F64);
  double in = (double)p->in[d], s = p->scale[d], ow = s * in;
  const char *m = p->ctm;
  *outside = NULL;
  if (!strcmp(m, "align_corners")) {
    *xo = ow == 1 ? f64(k, 0) : fdiv(k, fmul(k, y, f64(k, in - 1)), f64(k, ow - 1));
  } else if (!strcmp(m, "asymmetric")) {
    *xo = fdiv(k, y, f64(k, s));
  } else if (!strcmp(m, "tf_crop_and_resize")) {
    double span = p->roi_hi[d] - p->roi_lo[d];
    kiln_expr *x = ow == 1 ? f64(k, span * (in - 1) / 2)
                           : fdiv(k, fmul(k, fmul(k, y, f64(k, span)), f64(k, in - 1)), f64(k, ow - 1));
    *xo = fadd(k, x, f64(k, p->roi_lo[d] * (in - 1)));
    *outside = kx_binary(k, KB_OR, kx_binary(k, KB_LT, *xo, f64(k, 0)),
                         kx_binary(k, KB_GT, *xo, f64(k, in - 1)));
  } else if (!strcmp(m, "pytorch_half_pixel")) {
    *xo = ow == 1 ? f64(k, -0.5) : fsub(k, fdiv(k, fadd(k, y, f64(k, 0.5)), f64(k, s)), f64(k, 0.5));
  } else if (!strcmp(m, "half_pixel")) {
    *xo = fsub(k, fdiv(k, fadd(k, y, f64(k, 0.5)), f64(k, s)), f64(k, 0.5));
  } else if (!strcmp(m, "tf_half_pixel_for_nn")) { /* opset 11 only */
    *xo = fdiv(k, fadd(k, y, f64(k, 0.5)), f64(k, s));
  } else if (!strcmp(m, "half_pixel_symmetric")) {
    double offset = in / 2 * (1 - (double)p->out[d] / ow);
    *xo = fadd(k, f64(k, offset), fsub(k, fdiv(k, fadd(k, y, f64(k, 0.5)), f64(k, s)), f64(k, 0.5)));
  } else {
    return kiln_fail(c->err, KILN_ERR_UNSUPPORTED,
                     "node '%s' (%s): coordinate_transformation_mode '%s'", c->n->name,
                     c->n->op_type, m);
  }
  return KILN_OK;
}

/* The integer factor s when dim d's nearest neighbour of output index o is exactly o / s:
 * an integer scale with asymmetric coordinates rounded down (what PyTorch exports), or
 * half-pixel ones rounded to nearest (ONNX's default: the fraction stays within
 * 0.5 - 0.5/s of the neighbour, never a tie). 0 otherwise. */
static int64_t nearest_factor(const resize_plan *p, int d, const char *nm) {
  double s = p->scale[d];
  if (s < 1 || s > 64 || s != floor(s) || p->out[d] != p->in[d] * (int64_t)s) return 0;
  bool round = !strcmp(nm, "round_prefer_floor") || !strcmp(nm, "round_prefer_ceil");
  if ((!strcmp(p->ctm, "asymmetric") && !strcmp(nm, "floor")) ||
      ((!strcmp(p->ctm, "half_pixel") ||
        (!strcmp(p->ctm, "pytorch_half_pixel") && p->out[d] > 1)) && round))
    return (int64_t)s;
  return 0;
}

/* Nearest neighbour of source coordinate x per nearest_mode (ties as the reference). */
static kiln_status nearest_index(kiln_lower_ctx *c, kiln_expr *x, int64_t n, kiln_expr **out) {
  kiln_kernel *k = c->k;
  const char *nm = kiln_attr_str(c->n, "nearest_mode", "round_prefer_floor");
  kiln_expr *fl = kx_unary(k, KU_FLOOR, x), *i;
  if (!strcmp(nm, "floor")) i = fl;
  else if (!strcmp(nm, "ceil")) i = kx_unary(k, KU_CEIL, x);
  else {
    bool prefer_ceil = !strcmp(nm, "round_prefer_ceil");
    if (!prefer_ceil && strcmp(nm, "round_prefer_floor"))
      return kiln_fail(c->err, KILN_ERR_UNSUPPORTED, "node '%s' (%s): nearest_mode '%s'",
                       c->n->name, c->n->op_type, nm);
    kiln_expr *up = kx_binary(k, prefer_ceil ? KB_GE : KB_GT, fsub(k, x, fl), f64(k, 0.5));
    i = kx_select(k, up, fadd(k, fl, f64(k, 1)), fl);
  }
  *out = kx_clamp_index(k, kx_cast(k, i, KILN_I64), n);
  return KILN_OK;
}

/* Weight of neighbour j (0..1 linear, 0..3 cubic) at fraction t = x - floor(x). */
static kiln_expr *interp_weight(kiln_kernel *k, resize_mode mode, kiln_expr *t, int j, double a) {
  if (mode == M_LINEAR) return j == 0 ? fsub(k, f64(k, 1), t) : t;
  /* the reference's cubic coefficients, written in the same order of operations */
  kiln_expr *u = j < 2 ? t : fsub(k, f64(k, 1), t);
  if (j == 1 || j == 2) {
    kiln_expr *p = fsub(k, fmul(k, f64(k, a + 2), u), f64(k, a + 3));
    return fadd(k, fmul(k, fmul(k, p, u), u), f64(k, 1));
  }
  kiln_expr *u1 = fadd(k, u, f64(k, 1));
  kiln_expr *p = fadd(k, fmul(k, fsub(k, fmul(k, f64(k, a), u1), f64(k, 5 * a)), u1), f64(k, 8 * a));
  return fsub(k, fmul(k, p, u1), f64(k, 4 * a));
}

/* The weight of tap j (an axis of extent taps) at source coordinate x along dim d, and
 * the tap's edge-clamped input index (*idx). */
static kiln_expr *tap_weight(kiln_lower_ctx *c, const resize_plan *p, int d, kiln_expr *x,
                             kiln_expr *j, kiln_expr **idx) {
  kiln_kernel *k = c->k;
  int taps = p->mode == M_LINEAR ? 2 : 4;
  double a = kiln_attr_float(c->n, "cubic_coeff_a", -0.75);
  bool exclude = kiln_attr_int(c->n, "exclude_outside", 0) != 0;
  /* neighbours floor(x) + j (linear) or floor(x) - 1 + j (cubic), edge-clamped */
  kiln_expr *fl = kx_unary(k, KU_FLOOR, x), *fr = fsub(k, x, fl);
  kiln_expr *first = kx_addi(k, kx_cast(k, fl, KILN_I64), p->mode == M_CUBIC ? -1 : 0);
  kiln_expr *w = NULL, *wsum = NULL;
  for (int tap = taps - 1; tap >= 0; tap--) {
    kiln_expr *wt = interp_weight(k, p->mode, fr, tap, a);
    if (exclude) {
      kiln_expr *in = kx_in_range(k, kx_addi(k, first, tap), p->in[d]);
      wt = kx_select(k, in, wt, f64(k, 0));
      wsum = wsum ? fadd(k, wt, wsum) : wt;
    }
    w = w ? kx_select(k, kx_binary(k, KB_EQ, j, kx_idx(k, tap)), wt, w) : wt;
  }
  if (exclude) /* renormalize over the taps inside the input (a zero sum divides by 1) */
    w = fdiv(k, w, kx_select(k, kx_binary(k, KB_EQ, wsum, f64(k, 0)), f64(k, 1), wsum));
  *idx = kx_clamp_index(k, kx_add(k, first, j), p->in[d]);
  return w;
}

/* The tap tables of dim d: each tap's input index into ib, its weight into wb. */
static kiln_status tap_tables(kiln_lower_ctx *c, const resize_plan *p, int d, int ib, int wb) {
  kiln_kernel *k = c->k;
  kiln_expr *x, *outside, *idx, *tv[2];
  for (int b = 0; b < 2; b++) {
    kiln_stage *s = kiln_kernel_add_stage(k, b ? "resize_weights" : "resize_taps", b ? wb : ib);
    tv[0] = kx_var(k, kiln_stage_axis(s, p->taps[d], false));
    tv[1] = kx_var(k, kiln_stage_axis(s, p->out[d], false));
    if (source_coord(c, p, d, tv[1], &x, &outside)) return c->err->code;
    kiln_expr *w = tap_weight(c, p, d, x, tv[0], &idx);
    kiln_stage_store(k, s, tv, b ? kx_cast(k, w, KILN_F32) : idx);
  }
  return KILN_OK;
}

/* Antialiased downscaling, as ONNX's reference: the linear (triangle) or cubic filter is
 * stretched by 1 / scale over p->taps[d] taps, the window of that many input elements
 * nearest to x (ties to the smaller). The filter's value at tap j (0 outside the input
 * with exclude_outside), not yet normalized, and the tap's edge-clamped input index (*idx). */
static kiln_expr *aa_tap(kiln_lower_ctx *c, const resize_plan *p, int d, kiln_expr *x,
                         kiln_expr *j, kiln_expr **idx) {
  kiln_kernel *k = c->k;
  int n = p->taps[d];
  double s = p->scale[d], a = kiln_attr_float(c->n, "cubic_coeff_a", -0.75);
  kiln_expr *fl = kx_unary(k, KU_FLOOR, x);
  kiln_expr *r = kx_select(k, kx_binary(k, KB_EQ, x, fl), f64(k, 1), fsub(k, x, fl));
  double start = floor(-(p->mode == M_LINEAR ? 1 : 2) / s) + 1;
  /* the window: n / 2 on each side of x, one more on the left when x is integral */
  int64_t pad = (n + 1) / 2;
  kiln_expr *xp = fadd(k, x, f64(k, (double)pad)), *pf = kx_unary(k, KU_FLOOR, xp);
  kiln_expr *left = kx_select(k, kx_binary(k, KB_EQ, xp, pf), f64(k, (double)-(n / 2)),
                              f64(k, (double)(1 - n / 2)));
  kiln_expr *first = kx_addi(k, kx_cast(k, fadd(k, pf, left), KILN_I64), -pad);
  kiln_expr *dist = fsub(k, fadd(k, f64(k, start), kx_cast(k, j, KILN_F64)), r);
  kiln_expr *u = kx_unary(k, KU_ABS, fmul(k, f64(k, s), dist));
  kiln_expr *cf;
  if (p->mode == M_LINEAR) {
    cf = kx_binary(k, KB_MAX, fsub(k, f64(k, 1), u), f64(k, 0));
  } else { /* the reference's order of operations */
    kiln_expr *u2 = fmul(k, u, u), *u3 = fmul(k, u, u2);
    kiln_expr *near = fadd(k, fsub(k, fmul(k, f64(k, a + 2), u3), fmul(k, f64(k, a + 3), u2)), f64(k, 1));
    kiln_expr *far = fsub(k, fadd(k, fsub(k, fmul(k, f64(k, a), u3), fmul(k, f64(k, 5 * a), u2)),
                                  fmul(k, f64(k, 8 * a), u)), f64(k, 4 * a));
    cf = kx_select(k, kx_binary(k, KB_LE, u, f64(k, 1)), near,
                   kx_select(k, kx_binary(k, KB_LT, u, f64(k, 2)), far, f64(k, 0)));
  }
  kiln_expr *at = kx_add(k, first, j);
  if (kiln_attr_int(c->n, "exclude_outside", 0))
    cf = kx_select(k, kx_in_range(k, at, p->in[d]), cf, f64(k, 0));
  *idx = kx_clamp_index(k, at, p->in[d]);
  return cf;
}

/* The tap tables of an antialiased dim (as tap_tables): weights normalized to sum 1 (the
 * reference normalizes, then again over the taps inside with exclude_outside: the same
 * ratios) into wb, through the filter's values and their sums in f64. */
static kiln_status aa_tables(kiln_lower_ctx *c, const resize_plan *p, int d, int ib, int wb) {
  kiln_kernel *k = c->k;
  int64_t tdims[2] = {p->taps[d], p->out[d]};
  int rb = kiln_kernel_add_buffer(k, "resize_filter", KILN_BUF_TEMP, -1, KILN_F64, 2, tdims);
  int sb = kiln_kernel_add_buffer(k, "resize_filter_sum", KILN_BUF_TEMP, -1, KILN_F64, 1, tdims + 1);
  kiln_expr *tv[2], *x, *outside, *idx;
  for (int b = 0; b < 2; b++) {
    kiln_stage *s = kiln_kernel_add_stage(k, b ? "resize_filter" : "resize_taps", b ? rb : ib);
    tv[0] = kx_var(k, kiln_stage_axis(s, tdims[0], false));
    tv[1] = kx_var(k, kiln_stage_axis(s, tdims[1], false));
    if (source_coord(c, p, d, tv[1], &x, &outside)) return c->err->code;
    kiln_expr *cf = aa_tap(c, p, d, x, tv[0], &idx);
    kiln_stage_store(k, s, tv, b ? cf : idx);
  }
  kiln_stage *s = kiln_kernel_add_stage(k, "resize_filter_sum", sb);
  kiln_expr *o = kx_var(k, kiln_stage_axis(s, tdims[1], false));
  kiln_expr *j = kx_var(k, kiln_stage_axis(s, tdims[0], true)), *jo[2] = {j, o};
  s->reduce = KR_SUM;
  kiln_stage_store(k, s, &o, kx_load(k, rb, jo));
  s = kiln_kernel_add_stage(k, "resize_weights", wb);
  tv[0] = kx_var(k, kiln_stage_axis(s, tdims[0], false));
  tv[1] = kx_var(k, kiln_stage_axis(s, tdims[1], false));
  kiln_expr *sum = kx_load(k, sb, tv + 1); /* a zero sum divides by 1 */
  sum = kx_select(k, kx_binary(k, KB_EQ, sum, f64(k, 0)), f64(k, 1), sum);
  kiln_stage_store(k, s, tv, kx_cast(k, fdiv(k, kx_load(k, rb, tv), sum), KILN_F32));
  return KILN_OK;
}

/* Linear or cubic f32 interpolation of static shapes, one resized dim at a time (the
 * weights factor per dim), innermost first, where the others are still their input
 * size: the innermost dim's stage gathers along rows of the input's height, the outer
 * dims' stages read whole rows, contiguous and vectorized. Each dim's taps (index and
 * weight per output coordinate) are computed once, in tables of taps x out, rather than
 * at every output element (DeepLab's bilinear 4x upsample of 64 channels at 32x32: 4.5 ->
 * 0.49 ms on Zen 5). */
static kiln_status lower_separable(kiln_lower_ctx *c, const resize_plan *p) {
  kiln_kernel *k = c->k;
  int in = c->in_buf[0], last = -1;
  int64_t dims[KILN_MAX_RANK];
  memcpy(dims, p->in, sizeof(int64_t) * (size_t)p->rank);
  for (int d = p->rank - 1; d >= 0; d--)
    if (p->active[d]) last = d; /* the outermost, resized last */
  for (int d = p->rank - 1; d >= 0; d--) {
    if (!p->active[d]) continue;
    int taps = p->taps[d];
    int64_t tdims[2] = {taps, p->out[d]}; /* along the output: contiguous vectors */
    int ib = kiln_kernel_add_buffer(k, "resize_index", KILN_BUF_TEMP, -1, KILN_I64, 2, tdims);
    int wb = kiln_kernel_add_buffer(k, "resize_weight", KILN_BUF_TEMP, -1, KILN_F32, 2, tdims);
    if (p->aa[d] ? aa_tables(c, p, d, ib, wb) : tap_tables(c, p, d, ib, wb)) return c->err->code;
    dims[d] = p->out[d];
    int ob = d == last ? c->out_buf[0]
                       : kiln_kernel_add_buffer(k, "resized", KILN_BUF_TEMP, -1, KILN_F32,
                                                p->rank, dims);
    kiln_stage *s = kiln_kernel_add_stage(k, "resize", ob);
    kiln_expr *o[KILN_MAX_RANK], *xi[KILN_MAX_RANK];
    for (int e = 0; e < p->rank; e++) o[e] = xi[e] = kx_var(k, kiln_stage_axis(s, dims[e], false));
    kiln_expr *j = kx_var(k, kiln_stage_axis(s, taps, true)), *tj[2] = {j, o[d]};
    xi[d] = kx_clamp_index(k, kx_load(k, ib, tj), p->in[d]);
    s->reduce = KR_SUM;
    kiln_stage_store(k, s, o, kx_binary(k, KB_MUL, kx_load(k, wb, tj), kx_load(k, in, xi)));
    in = ob;
  }
  return KILN_OK;
}

static kiln_status lower_resize(kiln_lower_ctx *c) {
  kiln_kernel *k = c->k;
  resize_plan p;
  if (resize_plan_make(c->g, c->n, &p, c->err)) return c->err->code;
  int xb = c->in_buf[0];
  kiln_dtype t = k->bufs[xb].dtype;
  if (p.mode != M_NEAREST && (t == KILN_BOOL || !kiln_dtype_valid(t)))
    return kiln_fail(c->err, KILN_ERR_UNSUPPORTED, "node '%s' (%s): %s mode needs a numeric input",
                     c->n->name, c->n->op_type, kiln_attr_str(c->n, "mode", ""));
  /* the fast forms depend on the sizes: not with free dims, whose kernel is one for all */
  bool any = false, fixed = !kiln_value_is_symbolic(kiln_node_in(c->g, c->n, 0)) &&
                            !kiln_value_is_symbolic(kiln_node_out(c->g, c->n, 0));
  bool aa = false;
  for (int d = 0; d < p.rank; d++) any |= p.active[d], aa |= p.aa[d];
  if (p.mode != M_NEAREST && t == KILN_F32 && any && fixed && strcmp(p.ctm, "tf_crop_and_resize"))
    return lower_separable(c, &p);
  if (aa)
    return kiln_fail(c->err, KILN_ERR_UNSUPPORTED,
                     "node '%s' (%s): antialias needs an f32 input of static shape and a "
                     "coordinate_transformation_mode other than tf_crop_and_resize",
                     c->n->name, c->n->op_type);
  int naxes = p.rank;
  for (int d = 0; d < p.rank; d++) naxes += p.active[d] && p.mode != M_NEAREST;
  if (naxes > KILN_MAX_AXES)
    return kiln_fail(c->err, KILN_ERR_UNSUPPORTED, "node '%s' (%s): too many resized dims",
                     c->n->name, c->n->op_type);
  int taps = p.mode == M_LINEAR ? 2 : 4;
  kiln_stage *s = kiln_kernel_add_stage(k, "resize", c->out_buf[0]);
  kiln_expr *o[KILN_MAX_RANK], *xi[KILN_MAX_RANK], *outside = NULL, *weight = NULL;
  for (int d = 0; d < p.rank; d++) o[d] = kx_var(k, kiln_stage_axis(s, p.out[d], false));
  for (int d = 0; d < p.rank; d++) {
    xi[d] = o[d];
    if (!p.active[d]) continue;
    kiln_expr *x = NULL, *out_d = NULL;
    if (source_coord(c, &p, d, o[d], &x, &out_d)) return c->err->code;
    outside = out_d ? (outside ? kx_binary(k, KB_OR, outside, out_d) : out_d) : outside;
    const char *nm = kiln_attr_str(c->n, "nearest_mode", "round_prefer_floor");
    int64_t f = p.mode == M_NEAREST && fixed ? nearest_factor(&p, d, nm) : 0;
    if (f) { /* the same index without floating point: LLVM vectorizes it */
      xi[d] = kx_clamp_index(k, kx_binary(k, KB_DIV, o[d], kx_idx(k, f)), p.in[d]);
      continue;
    }
    if (p.mode == M_NEAREST) {
      if (nearest_index(c, x, p.in[d], &xi[d])) return c->err->code;
      continue;
    }
    kiln_expr *j = kx_var(k, kiln_stage_axis(s, taps, true));
    kiln_expr *w = tap_weight(c, &p, d, x, j, &xi[d]);
    weight = weight ? fmul(k, weight, w) : w;
  }
  kiln_expr *v = kx_load(k, xb, xi);
  /* integers interpolate in f64 and convert back truncating toward zero, as onnxruntime
   * does, after clamping to the type's range (cubic overshoots); a value within 1e-6
   * below an integer is that integer (the weights' rounding, not the interpolation, put
   * it there) */
  kiln_dtype at = kiln_dtype_is_float(t) || !weight ? t : KILN_F64;
  if (weight) {
    s->reduce = KR_SUM;
    v = kx_binary(k, KB_MUL, kx_cast(k, weight, at), kx_cast(k, v, at));
  }
  kiln_expr *ev = outside ? kx_const_f(k, at, kiln_attr_float(c->n, "extrapolation_value", 0.0))
                          : NULL;
  if (outside && !weight) v = kx_select(k, outside, kx_cast(k, ev, t), v);
  if (weight && (outside || at != t)) {
    kiln_expr *r = outside ? kx_select(k, outside, ev, kx_acc(k, at)) : kx_acc(k, at);
    if (at != t) {
      double lo, hi;
      kiln_dtype_range(t, &lo, &hi);
      kiln_expr *pos = kx_binary(k, KB_GE, r, kx_const_f(k, at, 0));
      r = kx_binary(k, KB_ADD, r,
                    kx_select(k, pos, kx_const_f(k, at, 1e-6), kx_const_f(k, at, -1e-6)));
      r = kx_binary(k, KB_MIN, kx_binary(k, KB_MAX, r, kx_const_f(k, at, lo)), kx_const_f(k, at, hi));
      r = kx_cast(k, r, t);
    }
    s->post = r;
  }
  kiln_stage_store(k, s, o, v);
  return KILN_OK;
}

static const kiln_attr_spec resize_attrs[] = {
    {"antialias", KILN_ATTR_INT, false},
    {"axes", KILN_ATTR_INTS, false},
    {"coordinate_transformation_mode", KILN_ATTR_STRING, false},
    {"cubic_coeff_a", KILN_ATTR_FLOAT, false},
    {"exclude_outside", KILN_ATTR_INT, false},
    {"extrapolation_value", KILN_ATTR_FLOAT, false},
    {"keep_aspect_ratio_policy", KILN_ATTR_STRING, false},
    {"mode", KILN_ATTR_STRING, false},
    {"nearest_mode", KILN_ATTR_STRING, false},
    {NULL}};

const kiln_op_def kiln_ops_resize[] = {
    {"Resize", 1, 4, 1, 1, resize_attrs, infer_resize, lower_resize, NULL, KILN_OP_SYMBOLIC},
    {NULL},
};
