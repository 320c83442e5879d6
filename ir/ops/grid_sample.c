/* GridSample on 4-D and 5-D inputs: out[n, c, h, w] samples X[n, c] at the point
 * grid[n, h, w] gives ((x, y) in [-1, 1]; volumes: out[n, c, d, h, w] at (x, y, z)), by
 * nearest, (bi/tri)linear or (2-D only, as onnxruntime) bicubic interpolation, following
 * ONNX's reference (PyTorch's grid_sample): coordinates are denormalized (align_corners),
 * nearest rounds half to even, a point outside is clamped (border) or reflected
 * (reflection) first, and each tap outside reads 0 (zeros), the edge (border) or its
 * reflection. Taps are loaded at indices clamped into the image, so no grid value, NaN
 * included, reads out of bounds. Arithmetic is f32, as the reference's. */
#include "ir/op.h"

#include "ir/dtype.h"

#include <string.h>

typedef enum { GS_NEAREST, GS_LINEAR, GS_CUBIC } gs_mode;
typedef enum { GS_ZEROS, GS_BORDER, GS_REFLECTION } gs_pad;

static kiln_status gs_config(const kiln_node *n, gs_mode *m, gs_pad *p, kiln_error *err) {
  const char *mode = kiln_attr_str(n, "mode", "linear");
  const char *pad = kiln_attr_str(n, "padding_mode", "zeros");
  if (!strcmp(mode, "nearest")) *m = GS_NEAREST;
  else if (!strcmp(mode, "linear") || !strcmp(mode, "bilinear")) *m = GS_LINEAR;
  else if (!strcmp(mode, "cubic") || !strcmp(mode, "bicubic")) *m = GS_CUBIC;
  else return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "unknown mode");
  if (!strcmp(pad, "zeros")) *p = GS_ZEROS;
  else if (!strcmp(pad, "border")) *p = GS_BORDER;
  else if (!strcmp(pad, "reflection")) *p = GS_REFLECTION;
  else return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "unknown padding_mode");
  return KILN_OK;
}

static kiln_status infer_grid_sample(kiln_graph *g, kiln_node *n, kiln_error *err) {
  const kiln_value *x = kiln_node_in(g, n, 0), *grid = kiln_node_in(g, n, 1);
  gs_mode m;
  gs_pad p;
  if (gs_config(n, &m, &p, err)) return err->code;
  if ((x->rank != 4 && x->rank != 5) || !kiln_dtype_is_float(x->dtype))
    return kiln_fail_node(n, err, KILN_ERR_UNSUPPORTED,
                          "X must be a float tensor [N, C, H, W] or [N, C, D, H, W]");
  if (m == GS_CUBIC && x->rank != 4)
    return kiln_fail_node(n, err, KILN_ERR_UNSUPPORTED, "bicubic mode takes 4-D inputs only");
  int r = x->rank - 2;
  if (grid->rank != x->rank || grid->dims[0] != x->dims[0] || grid->dims[r + 1] != r ||
      !kiln_dtype_is_float(grid->dtype))
    return kiln_fail_node(n, err, KILN_ERR_SHAPE, r == 2 ? "grid must be floats [N, H_out, W_out, 2]"
                                                         : "grid must be floats [N, D_out, H_out, W_out, 3]");
  int64_t dims[5] = {x->dims[0], x->dims[1], grid->dims[1], grid->dims[2], grid->dims[3]};
  kiln_set_out(g, n, 0, x->dtype, x->rank, dims);
  return KILN_OK;
}

/* Expression helpers over f32 */
typedef struct gs {
  kiln_kernel *k;
  gs_pad pad;
  bool align;
  int x;             /* X's buffer */
  kiln_expr *n, *c;  /* the output's batch and channel */
  int r;             /* spatial dims: 2 or 3 */
  int64_t dim[3];    /* (D,) H, W */
} gs;

static kiln_expr *F(gs *s, double v) { return kx_const_f(s->k, KILN_F32, v); }
static kiln_expr *B(gs *s, kiln_binary_op op, kiln_expr *a, kiln_expr *b) {
  return kx_binary(s->k, op, a, b);
}
static kiln_expr *U(gs *s, kiln_unary_op op, kiln_expr *a) { return kx_unary(s->k, op, a); }
static kiln_expr *clampf(gs *s, kiln_expr *v, double lo, double hi) {
  return B(s, KB_MIN, B(s, KB_MAX, v, F(s, lo)), F(s, hi));
}

/* Reflects v into [lo, hi] by the nearer border, as often as it takes. */
static kiln_expr *reflect(gs *s, kiln_expr *v, double lo, double hi) {
  double range = hi - lo;
  if (range <= 0) return F(s, lo);
  kiln_expr *below = B(s, KB_LT, v, F(s, lo));
  kiln_expr *dx = kx_select(s->k, below, B(s, KB_SUB, F(s, lo), v), B(s, KB_SUB, v, F(s, hi)));
  kiln_expr *n = U(s, KU_FLOOR, B(s, KB_DIV, dx, F(s, range)));
  kiln_expr *r = B(s, KB_SUB, dx, B(s, KB_MUL, n, F(s, range)));
  kiln_expr *even = B(s, KB_EQ, B(s, KB_MOD, n, F(s, 2)), F(s, 0));
  kiln_expr *from_lo = B(s, KB_ADD, F(s, lo), r), *from_hi = B(s, KB_SUB, F(s, hi), r);
  kiln_expr *low = kx_select(s->k, even, from_lo, from_hi);
  kiln_expr *high = kx_select(s->k, even, from_hi, from_lo);
  kiln_expr *out = kx_select(s->k, below, low, high);
  kiln_expr *inside = kx_and(s->k, B(s, KB_GE, v, F(s, lo)), B(s, KB_LE, v, F(s, hi)));
  return kx_select(s->k, inside, v, out);
}

/* The range a coordinate of dim d may take before it counts as outside. */
static double lo_of(const gs *s) { return s->align ? 0 : -0.5; }
static double hi_of(const gs *s, int d) { return (double)s->dim[d] - (s->align ? 1 : 0.5); }

/* The tap at integer coordinates (float-valued) at[0 .. r), with the padding rule. */
static kiln_expr *tap(gs *s, kiln_expr *const *at) {
  kiln_expr *ok = NULL, *idx[5] = {s->n, s->c};
  for (int d = 0; d < s->r; d++) {
    kiln_expr *v = at[d];
    double top = (double)s->dim[d] - 1;
    if (s->pad == GS_ZEROS)
      ok = kx_and(s->k, ok, kx_and(s->k, B(s, KB_GE, v, F(s, 0)), B(s, KB_LE, v, F(s, top))));
    else if (s->pad == GS_REFLECTION) /* truncated toward zero as int(): >= -0.5 here */
      v = U(s, KU_FLOOR, B(s, KB_MAX, reflect(s, v, lo_of(s), hi_of(s, d)), F(s, 0)));
    /* any float -> an index inside (NaN saturates to 0) */
    idx[2 + d] = kx_cast(s->k, clampf(s, v, 0, top), KILN_I64);
  }
  kiln_expr *val = kx_cast(s->k, kx_load(s->k, s->x, idx), KILN_F32);
  return ok ? kx_select(s->k, ok, val, F(s, 0)) : val;
}

/* Keys' cubic weights (A = -0.75) of the four taps around t in [0, 1). */
static void cubic_weights(gs *s, kiln_expr *t, kiln_expr **w) {
  const double A = -0.75;
  kiln_expr *d[4] = {B(s, KB_ADD, t, F(s, 1)), t, B(s, KB_SUB, F(s, 1), t),
                     B(s, KB_SUB, F(s, 2), t)};
  for (int i = 0; i < 4; i++) {
    kiln_expr *x = d[i];
    if (i == 0 || i == 3) /* ((A x - 5A) x + 8A) x - 4A */
      w[i] = B(s, KB_SUB,
               B(s, KB_MUL, B(s, KB_ADD, B(s, KB_MUL, B(s, KB_SUB, B(s, KB_MUL, F(s, A), x),
                                                            F(s, 5 * A)), x), F(s, 8 * A)), x),
               F(s, 4 * A));
    else /* ((A + 2) x - (A + 3)) x x + 1 */
      w[i] = B(s, KB_ADD, B(s, KB_MUL, B(s, KB_MUL, B(s, KB_SUB, B(s, KB_MUL, F(s, A + 2), x),
                                                        F(s, A + 3)), x), x), F(s, 1));
  }
}

/* The sum over the taps of dims d .. r of their weights times their values, at[0 .. d)
 * fixed: nested so that 2-D sums rows first. */
static kiln_expr *taps_sum(gs *s, int d, int taps, int first, kiln_expr **base,
                           kiln_expr *(*w)[4], kiln_expr **at) {
  if (d >= s->r || d >= 3) return tap(s, at); /* r <= 3 */
  kiln_expr *sum = NULL;
  for (int i = 0; i < taps; i++) {
    at[d] = B(s, KB_ADD, base[d], F(s, first + i));
    kiln_expr *term = B(s, KB_MUL, w[d][i], taps_sum(s, d + 1, taps, first, base, w, at));
    sum = sum ? B(s, KB_ADD, sum, term) : term;
  }
  return sum;
}

static kiln_status lower_grid_sample(kiln_lower_ctx *c) {
  kiln_kernel *k = c->k;
  gs_mode mode;
  gs s = {.k = k, .x = c->in_buf[0]};
  if (gs_config(c->n, &mode, &s.pad, c->err)) return c->err->code;
  s.align = kiln_attr_int(c->n, "align_corners", 0) != 0;
  const kiln_buffer *x = &k->bufs[c->in_buf[0]];
  s.r = x->rank - 2;
  for (int d = 0; d < s.r; d++) s.dim[d] = x->dims[2 + d];
  kiln_expr *v[5];
  kiln_stage *st = kiln_elementwise_stage(k, "grid_sample", c->out_buf[0], v);
  s.n = v[0];
  s.c = v[1];
  kiln_expr *p[3]; /* (z,) y, x: the grid holds (x, y, z) */
  for (int d = 0; d < s.r; d++) {
    kiln_expr *gi[5] = {v[0], v[2], v[3], v[4]};
    gi[s.r + 1] = kx_idx(k, s.r - 1 - d);
    kiln_expr *g = kx_cast(k, kx_load(k, c->in_buf[1], gi), KILN_F32);
    double len = (double)s.dim[d];
    p[d] = s.align ? B(&s, KB_MUL, B(&s, KB_ADD, g, F(&s, 1)), F(&s, (len - 1) / 2))
                   : B(&s, KB_DIV, B(&s, KB_SUB, B(&s, KB_MUL, B(&s, KB_ADD, g, F(&s, 1)),
                                                   F(&s, len)), F(&s, 1)), F(&s, 2));
    if (mode == GS_NEAREST) p[d] = U(&s, KU_ROUND, p[d]);
    /* bicubic with border padding clamps each tap, not the point: PyTorch's and
     * onnxruntime's semantics (ONNX's reference clamps the point too) */
    if (s.pad == GS_BORDER && mode != GS_CUBIC) p[d] = clampf(&s, p[d], 0, len - 1);
    else if (s.pad == GS_REFLECTION) p[d] = reflect(&s, p[d], lo_of(&s), hi_of(&s, d));
  }
  kiln_expr *y;
  if (mode == GS_NEAREST) {
    y = tap(&s, p);
  } else {
    int taps = mode == GS_LINEAR ? 2 : 4, first = mode == GS_LINEAR ? 0 : -1;
    kiln_expr *base[3], *w[3][4], *at[3] = {NULL};
    for (int d = 0; d < s.r; d++) {
      base[d] = U(&s, KU_FLOOR, p[d]);
      kiln_expr *t = B(&s, KB_SUB, p[d], base[d]);
      if (mode == GS_LINEAR) w[d][0] = B(&s, KB_SUB, F(&s, 1), t), w[d][1] = t;
      else cubic_weights(&s, t, w[d]);
    }
    y = taps_sum(&s, 0, taps, first, base, w, at);
  }
  kiln_stage_store(k, st, v, kx_cast(k, y, x->dtype));
  return KILN_OK;
}

static const kiln_attr_spec gs_attrs[] = {
    {"align_corners", KILN_ATTR_INT, false}, {"mode", KILN_ATTR_STRING, false},
    {"padding_mode", KILN_ATTR_STRING, false}, {NULL}};

const kiln_op_def kiln_ops_grid_sample[] = {
    {"GridSample", 2, 2, 1, 1, gs_attrs, infer_grid_sample, lower_grid_sample, NULL, KILN_OP_SYMBOLIC},
    {NULL},
};
