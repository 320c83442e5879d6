/* Signal processing: the window functions (HannWindow, HammingWindow, BlackmanWindow) and
 * the discrete Fourier transforms (DFT, STFT). Sizes are compile-time constants (they make
 * the output's shape); a transform is the O(N^2) sum, one reduction over the signal axis. */
#include "ir/op.h"

#include "ir/dtype.h"

#include <math.h>
#include <string.h>

#define TWO_PI 6.283185307179586476925

/* ---- windows ------------------------------------------------------------------------------- */

/* w[n] = a0 - a1 cos(2 pi n / N) + a2 cos(4 pi n / N), N = size (periodic) or size - 1 */
static void window_coefs(const kiln_node *n, double a[3]) {
  const char *op = n->op->name;
  if (strcmp(op, "HannWindow") == 0) a[0] = 0.5, a[1] = 0.5, a[2] = 0;
  else if (strcmp(op, "HammingWindow") == 0) a[0] = 25.0 / 46, a[1] = 21.0 / 46, a[2] = 0;
  else a[0] = 0.42, a[1] = 0.5, a[2] = 0.08; /* BlackmanWindow */
}

static kiln_status window_size(const kiln_graph *g, const kiln_node *n, int64_t *size,
                               kiln_error *err) {
  int count = 0;
  if (kiln_const_ints(g, n, 0, size, 1, &count, err)) return err->code;
  if (count != 1 || *size < 0 || *size > ((int64_t)1 << 40))
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "size must be one integer >= 0");
  return KILN_OK;
}

static kiln_status infer_window(kiln_graph *g, kiln_node *n, kiln_error *err) {
  int64_t size;
  kiln_dtype t = (kiln_dtype)kiln_attr_int(n, "output_datatype", KILN_F32);
  if (!kiln_dtype_valid(t) || t == KILN_BOOL)
    return kiln_fail_node(n, err, KILN_ERR_UNSUPPORTED, "output_datatype is not a numeric type");
  if (window_size(g, n, &size, err)) return err->code;
  kiln_set_out(g, n, 0, t, 1, &size);
  return KILN_OK;
}

static kiln_status lower_window(kiln_lower_ctx *c) {
  kiln_kernel *k = c->k;
  int64_t size;
  if (window_size(c->g, c->n, &size, c->err)) return c->err->code;
  double a[3], den = (double)(kiln_attr_int(c->n, "periodic", 1) ? size : size - 1);
  window_coefs(c->n, a);
  kiln_expr *v[1];
  kiln_stage *s = kiln_elementwise_stage(k, "window", c->out_buf[0], v);
  kiln_expr *ang = kx_binary(k, KB_MUL, kx_cast(k, v[0], KILN_F64),
                             kx_const_f(k, KILN_F64, den ? TWO_PI / den : 0));
  kiln_expr *w = kx_binary(k, KB_SUB, kx_const_f(k, KILN_F64, a[0]),
                           kx_binary(k, KB_MUL, kx_const_f(k, KILN_F64, a[1]),
                                     kx_unary(k, KU_COS, ang)));
  if (a[2]) {
    kiln_expr *ang2 = kx_binary(k, KB_MUL, ang, kx_const_f(k, KILN_F64, 2));
    w = kx_binary(k, KB_ADD, w, kx_binary(k, KB_MUL, kx_const_f(k, KILN_F64, a[2]),
                                          kx_unary(k, KU_COS, ang2)));
  }
  kiln_stage_store(k, s, v, kx_cast(k, w, k->bufs[c->out_buf[0]].dtype));
  return KILN_OK;
}

/* ---- DFT ----------------------------------------------------------------------------------- */

typedef struct dft_plan {
  int axis;     /* the signal axis */
  int64_t len;  /* the input's extent along it */
  int64_t n;    /* dft_length: the transform's size */
  int64_t out;  /* the output's extent along the axis */
  int64_t terms; /* the input's points summed (along the axis) */
  bool inverse, onesided;
  bool irfft;   /* inverse and onesided: half a Hermitian spectrum to a real signal */
} dft_plan;

static kiln_status plan_dft(const kiln_graph *g, const kiln_node *n, dft_plan *p,
                            kiln_error *err) {
  const kiln_value *x = kiln_node_in(g, n, 0);
  memset(p, 0, sizeof *p);
  if (!kiln_dtype_is_float(x->dtype) || x->rank < 2 ||
      (x->dims[x->rank - 1] != 1 && x->dims[x->rank - 1] != 2))
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL,
                          "the input must be float [..., 1] (real) or [..., 2] (complex)");
  int64_t axis = -2, len = 0;
  int count = 0;
  if (kiln_node_in(g, n, 2) && kiln_const_ints(g, n, 2, &axis, 1, &count, err)) return err->code;
  if (axis < 0) axis += x->rank;
  if (axis < 0 || axis >= x->rank - 1)
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "axis must be a signal axis");
  p->axis = (int)axis;
  p->len = x->dims[axis];
  p->n = p->len;
  if (kiln_node_in(g, n, 1)) {
    if (kiln_const_ints(g, n, 1, &len, 1, &count, err)) return err->code;
    if (len < 1 || len > ((int64_t)1 << 32))
      return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "dft_length must be positive");
    p->n = len;
  }
  p->inverse = kiln_attr_int(n, "inverse", 0) != 0;
  p->onesided = kiln_attr_int(n, "onesided", 0) != 0;
  p->irfft = p->inverse && p->onesided;
  if (p->onesided && !p->inverse && x->dims[x->rank - 1] != 1)
    return kiln_fail_node(n, err, KILN_ERR_UNSUPPORTED,
                          "onesided forward transforms take a real input only");
  if (p->irfft && x->dims[x->rank - 1] != 2)
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL,
                          "an inverse onesided transform takes a complex input [..., 2]");
  if (p->irfft && !kiln_node_in(g, n, 1)) { /* numpy's irfft: an even length by default */
    if (p->len < 2)
      return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL,
                            "an inverse onesided transform of one point needs dft_length");
    p->n = 2 * (p->len - 1);
  }
  p->out = p->onesided && !p->inverse ? p->n / 2 + 1 : p->n;
  /* irfft reads the first n / 2 + 1 points, the rest of the spectrum their conjugates */
  int64_t half = p->n / 2 + 1;
  p->terms = p->irfft ? (p->len < half ? p->len : half) : (p->len < p->n ? p->len : p->n);
  return KILN_OK;
}

static kiln_status infer_dft(kiln_graph *g, kiln_node *n, kiln_error *err) {
  dft_plan p;
  if (plan_dft(g, n, &p, err)) return err->code;
  const kiln_value *x = kiln_node_in(g, n, 0);
  int64_t dims[KILN_MAX_RANK];
  memcpy(dims, x->dims, sizeof(int64_t) * (size_t)x->rank);
  dims[p.axis] = p.out;
  dims[x->rank - 1] = p.irfft ? 1 : 2;
  kiln_set_out(g, n, 0, x->dtype, x->rank, dims);
  return KILN_OK;
}

/* Component c (0 real, 1 imaginary) of (re + i im) e^(-+2 pi i k m / n), the angle from
 * (k m) mod n in integers so it stays exact for long signals. im may be NULL (real). */
static kiln_expr *dft_term(kiln_kernel *k, kiln_expr *re, kiln_expr *im, kiln_expr *kk,
                           kiln_expr *m, int64_t n, bool inverse, kiln_expr *c) {
  kiln_expr *km = kx_binary(k, KB_MOD, kx_mul(k, kk, m), kx_idx(k, n));
  double step = (inverse ? TWO_PI : -TWO_PI) / (double)n;
  kiln_expr *ang = kx_binary(k, KB_MUL, kx_cast(k, km, KILN_F64), kx_const_f(k, KILN_F64, step));
  kiln_expr *cs = kx_unary(k, KU_COS, ang), *sn = kx_unary(k, KU_SIN, ang);
  kiln_expr *yre = kx_binary(k, KB_MUL, re, cs), *yim = kx_binary(k, KB_MUL, re, sn);
  if (im) {
    yre = kx_binary(k, KB_SUB, yre, kx_binary(k, KB_MUL, im, sn));
    yim = kx_binary(k, KB_ADD, yim, kx_binary(k, KB_MUL, im, cs));
  }
  return kx_select(k, kx_binary(k, KB_EQ, c, kx_idx(k, 0)), yre, yim);
}

/* y[.., k, .., c] = sum over m < min(len, n) of x[.., m, ..] e^(-+2 pi i k m / n); the
 * inverse divides by n. irfft (numpy's) sums the real parts of the first n / 2 + 1 terms,
 * those with a conjugate in the other half twice: the rest of a Hermitian spectrum. Sums
 * run in f64 and round once. */
static kiln_status lower_dft(kiln_lower_ctx *c) {
  kiln_kernel *k = c->k;
  dft_plan p;
  if (plan_dft(c->g, c->n, &p, c->err)) return c->err->code;
  const kiln_buffer *xb = &k->bufs[c->in_buf[0]], *yb = &k->bufs[c->out_buf[0]];
  int r = xb->rank;
  bool complex = xb->dims[r - 1] == 2;
  int acc = kiln_kernel_add_buffer(k, "acc", KILN_BUF_TEMP, -1, KILN_F64, r, yb->dims);
  kiln_stage *s = kiln_kernel_add_stage(k, "dft", acc);
  kiln_expr *v[KILN_MAX_RANK], *src[KILN_MAX_RANK];
  for (int d = 0; d < r; d++)
    v[d] = src[d] = kx_var(k, kiln_stage_axis(s, yb->dims[d], false));
  kiln_expr *m = kx_var(k, kiln_stage_axis(s, p.terms, true));
  src[p.axis] = m;
  src[r - 1] = kx_idx(k, 0);
  kiln_expr *re = kx_cast(k, kx_load(k, c->in_buf[0], src), KILN_F64), *im = NULL;
  if (complex) {
    src[r - 1] = kx_idx(k, 1);
    im = kx_cast(k, kx_load(k, c->in_buf[0], src), KILN_F64);
  }
  s->reduce = KR_SUM;
  kiln_expr *once = NULL; /* irfft: the first term, and the middle one of an even length */
  if (p.irfft) {
    once = kx_binary(k, KB_EQ, m, kx_idx(k, 0));
    if (p.n % 2 == 0)
      once = kx_binary(k, KB_OR, once, kx_binary(k, KB_EQ, m, kx_idx(k, p.n / 2)));
    im = kx_select(k, once, kx_const_f(k, KILN_F64, 0), im); /* real, as numpy takes them */
  }
  kiln_expr *term = dft_term(k, re, im, v[p.axis], m, p.n, p.inverse, v[r - 1]);
  if (once) /* the others stand for themselves and their conjugates */
    term = kx_binary(k, KB_MUL, term, kx_select(k, once, kx_const_f(k, KILN_F64, 1),
                                                kx_const_f(k, KILN_F64, 2)));
  kiln_stage_store(k, s, v, term);
  if (p.inverse)
    s->post = kx_binary(k, KB_DIV, kx_acc(k, KILN_F64), kx_const_f(k, KILN_F64, (double)p.n));
  s = kiln_elementwise_stage(k, "round", c->out_buf[0], v);
  kiln_stage_store(k, s, v, kx_cast(k, kx_load(k, acc, v), yb->dtype));
  return KILN_OK;
}

/* ---- STFT ---------------------------------------------------------------------------------- */

typedef struct stft_plan {
  int64_t len, step, frame, frames, bins;
  bool complex;
} stft_plan;

/* signal [B, len, 1|2], frame_step, window [L]?, frame_length? -> [B, frames, bins, 2] */
static kiln_status plan_stft(const kiln_graph *g, const kiln_node *n, stft_plan *p,
                             kiln_error *err) {
  const kiln_value *x = kiln_node_in(g, n, 0), *w = kiln_node_in(g, n, 2);
  memset(p, 0, sizeof *p);
  if (!kiln_dtype_is_float(x->dtype) || x->rank != 3 || (x->dims[2] != 1 && x->dims[2] != 2))
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL,
                          "the signal must be float [batch, length, 1 or 2]");
  p->len = x->dims[1];
  p->complex = x->dims[2] == 2;
  int count = 0;
  if (kiln_const_ints(g, n, 1, &p->step, 1, &count, err)) return err->code;
  p->frame = p->len;
  if (w && (w->rank != 1 || w->dtype != x->dtype))
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "the window must be 1-D of the signal's type");
  if (w) p->frame = w->dims[0];
  if (kiln_node_in(g, n, 3) && kiln_const_ints(g, n, 3, &p->frame, 1, &count, err))
    return err->code;
  if (w && w->dims[0] != p->frame)
    return kiln_fail_node(n, err, KILN_ERR_SHAPE, "the window's length is not frame_length");
  if (p->step < 1 || p->frame < 1 || p->frame > p->len)
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL,
                          "frame_step must be >= 1 and frame_length in [1, signal length]");
  bool onesided = kiln_attr_int(n, "onesided", 1) != 0;
  if (onesided && p->complex)
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "onesided needs a real signal");
  p->frames = (p->len - p->frame) / p->step + 1;
  p->bins = onesided ? p->frame / 2 + 1 : p->frame;
  return KILN_OK;
}

static kiln_status infer_stft(kiln_graph *g, kiln_node *n, kiln_error *err) {
  stft_plan p;
  if (plan_stft(g, n, &p, err)) return err->code;
  const kiln_value *x = kiln_node_in(g, n, 0);
  int64_t dims[4] = {x->dims[0], p.frames, p.bins, 2};
  kiln_set_out(g, n, 0, x->dtype, 4, dims);
  return KILN_OK;
}

/* y[b, f, k, c] = sum over m < frame of x[b, f step + m] w[m] e^(-2 pi i k m / frame) */
static kiln_status lower_stft(kiln_lower_ctx *c) {
  kiln_kernel *k = c->k;
  stft_plan p;
  if (plan_stft(c->g, c->n, &p, c->err)) return c->err->code;
  const kiln_buffer *yb = &k->bufs[c->out_buf[0]];
  int acc = kiln_kernel_add_buffer(k, "acc", KILN_BUF_TEMP, -1, KILN_F64, 4, yb->dims);
  kiln_stage *s = kiln_kernel_add_stage(k, "stft", acc);
  kiln_expr *v[4];
  for (int d = 0; d < 4; d++) v[d] = kx_var(k, kiln_stage_axis(s, yb->dims[d], false));
  kiln_expr *m = kx_var(k, kiln_stage_axis(s, p.frame, true));
  kiln_expr *src[3] = {v[0], kx_add(k, kx_muli(k, v[1], p.step), m), kx_idx(k, 0)};
  kiln_expr *re = kx_cast(k, kx_load(k, c->in_buf[0], src), KILN_F64), *im = NULL;
  if (p.complex) {
    src[2] = kx_idx(k, 1);
    im = kx_cast(k, kx_load(k, c->in_buf[0], src), KILN_F64);
  }
  if (c->n->ninputs > 2 && c->in_buf[2] >= 0) {
    kiln_expr *w = kx_cast(k, kx_load(k, c->in_buf[2], &m), KILN_F64);
    re = kx_binary(k, KB_MUL, re, w);
    if (im) im = kx_binary(k, KB_MUL, im, w);
  }
  s->reduce = KR_SUM;
  kiln_stage_store(k, s, v, dft_term(k, re, im, v[2], m, p.frame, false, v[3]));
  s = kiln_elementwise_stage(k, "round", c->out_buf[0], v);
  kiln_stage_store(k, s, v, kx_cast(k, kx_load(k, acc, v), yb->dtype));
  return KILN_OK;
}

static const kiln_attr_spec window_attrs[] = {
    {"output_datatype", KILN_ATTR_INT, false}, {"periodic", KILN_ATTR_INT, false}, {NULL}};
static const kiln_attr_spec stft_attrs[] = {{"onesided", KILN_ATTR_INT, false}, {NULL}};
static const kiln_attr_spec dft_attrs[] = {
    {"inverse", KILN_ATTR_INT, false}, {"onesided", KILN_ATTR_INT, false}, {NULL}};

const kiln_op_def kiln_ops_signal[] = {
    {"HannWindow", 1, 1, 1, 1, window_attrs, infer_window, lower_window, NULL, 0},
    {"HammingWindow", 1, 1, 1, 1, window_attrs, infer_window, lower_window, NULL, 0},
    {"BlackmanWindow", 1, 1, 1, 1, window_attrs, infer_window, lower_window, NULL, 0},
    {"DFT", 1, 3, 1, 1, dft_attrs, infer_dft, lower_dft, NULL, 0},
    {"STFT", 2, 4, 1, 1, stft_attrs, infer_stft, lower_stft, NULL, 0},
    {NULL},
};
