/* Recurrent ops (RNN, GRU, LSTM) as expansions. After inference a node is replaced by
 * simpler ops unrolled over its sequence length (so that must be static): per direction, the
 * input projection X·W^T + bias for every step at once (one MatMul), then per step a Gemm
 * with the recurrence weights, a Split into gates, activations and the state update; Y,
 * Y_h and Y_c are assembled with Unsqueeze/Concat. Weight preparation (slicing a direction,
 * transposing, summing biases) folds away when the weights are constants. Sequences shorter
 * than the tensor (sequence_lens) are masked per step with Less/Where. No constant has
 * the batch size (zero states are [1, H], broadcast by the first step), so the batch may
 * be a free dim. */
#include "ir/op.h"
#include "ir/ops/expand.h"

#include "ir/dtype.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- configuration -------------------------------------------------------------------- */

/* The activation functions the spec lists, the ONNX op computing each (NULL: composed of
 * Mul/Add/Tanh) and how many of activation_alpha / activation_beta each consumes. */
static const struct act_def {
  const char *name, *op;
  int nalpha, nbeta;
  double alpha, beta; /* defaults, those of the ONNX op */
} act_defs[] = {
    {"Sigmoid", "Sigmoid", 0, 0, 0, 0},         {"Tanh", "Tanh", 0, 0, 0, 0},
    {"Relu", "Relu", 0, 0, 0, 0},               {"LeakyRelu", "LeakyRelu", 1, 0, 0.01, 0},
    {"ThresholdedRelu", "ThresholdedRelu", 1, 0, 1, 0}, {"Elu", "Elu", 1, 0, 1, 0},
    {"HardSigmoid", "HardSigmoid", 1, 1, 0.2, 0.5}, {"Softsign", "Softsign", 0, 0, 0, 0},
    {"Softplus", "Softplus", 0, 0, 0, 0},       {"Affine", NULL, 1, 1, 1, 0},
    {"ScaledTanh", NULL, 1, 1, 1, 1},
};

typedef struct act {
  const struct act_def *def;
  double alpha, beta;
} act;

typedef struct rnn_cfg {
  int gates, nact;  /* RNN 1/1, GRU 3/2, LSTM 4/3 */
  int dirs;
  bool reverse;     /* direction "reverse" (bidirectional runs direction 1 reversed) */
  int layout;
  int64_t S, B, I, H;
  kiln_dtype t;
  bool clip, input_forget, lbr;
  double clip_at;
  act acts[2][3];   /* [direction][f, g, h] */
  int one, clip_lo, clip_hi; /* scalar constants of type t, made by the expansion when needed */
} rnn_cfg;

static kiln_status want_shape(const kiln_node *n, const kiln_value *v, kiln_dtype t, int rank,
                              const int64_t *dims, kiln_error *err) {
  if (!v) return KILN_OK;
  bool ok = v->dtype == t && v->rank == rank;
  for (int d = 0; ok && d < rank; d++) ok = v->dims[d] == dims[d];
  if (ok) return KILN_OK;
  char have[128], want[128];
  int len = snprintf(want, sizeof want, "%s[", kiln_dtype_name(t));
  for (int d = 0; d < rank; d++)
    len += snprintf(want + len, sizeof want - (size_t)len, "%s%lld", d ? "," : "", (long long)dims[d]);
  snprintf(want + len, sizeof want - (size_t)len, "]");
  return kiln_fail(err, KILN_ERR_SHAPE, "node '%s' (%s): input '%s' is %s, expected %s", n->name,
                   n->op_type, v->name, kiln_value_type_str(v, have, sizeof have), want);
}

/* Activations from the attributes (or the defaults); alphas and betas are consumed in
 * order by the activations that take them. */
static kiln_status parse_acts(const kiln_node *n, rnn_cfg *c, kiln_error *err) {
  static const char *const dflt[3] = {"Sigmoid", "Tanh", "Tanh"};
  const kiln_attr *a = kiln_node_attr(n, "activations");
  const double *alphas = NULL, *betas = NULL;
  int na = kiln_attr_floats(n, "activation_alpha", &alphas);
  int nb = kiln_attr_floats(n, "activation_beta", &betas);
  int ia = 0, ib = 0;
  if (a && a->count != c->nact && a->count != c->nact * c->dirs)
    return kiln_fail(err, KILN_ERR_INVALID_MODEL, "node '%s' (%s): %d activations, expected %d",
                     n->name, n->op_type, a->count, c->nact * c->dirs);
  for (int d = 0; d < c->dirs; d++)
    for (int j = 0; j < c->nact; j++) {
      const char *name = c->gates == 1 ? "Tanh" : dflt[j];
      if (a) name = a->strings[a->count == c->nact ? j : d * c->nact + j];
      const struct act_def *def = NULL;
      for (size_t k = 0; k < sizeof act_defs / sizeof act_defs[0]; k++)
        if (strcasecmp(name, act_defs[k].name) == 0) def = &act_defs[k];
      if (!def || !kiln_op_find(def->op ? def->op : "Tanh"))
        return kiln_fail(err, KILN_ERR_UNSUPPORTED, "node '%s' (%s): activation '%s'", n->name,
                         n->op_type, name);
      act *x = &c->acts[d][j];
      x->def = def;
      x->alpha = def->nalpha && ia < na ? alphas[ia++] : def->alpha;
      x->beta = def->nbeta && ib < nb ? betas[ib++] : def->beta;
    }
  return KILN_OK;
}

/* Reads the attributes and checks every input's type and shape. */
static kiln_status rnn_config(const kiln_graph *g, const kiln_node *n, rnn_cfg *c,
                              kiln_error *err) {
  memset(c, 0, sizeof *c);
  bool lstm = strcmp(n->op->name, "LSTM") == 0, gru = strcmp(n->op->name, "GRU") == 0;
  c->gates = lstm ? 4 : gru ? 3 : 1;
  c->nact = lstm ? 3 : gru ? 2 : 1;
  const char *dir = kiln_attr_str(n, "direction", "forward");
  c->dirs = strcmp(dir, "bidirectional") == 0 ? 2 : 1;
  c->reverse = strcmp(dir, "reverse") == 0;
  c->layout = (int)kiln_attr_int(n, "layout", 0);
  if ((c->dirs == 1 && !c->reverse && strcmp(dir, "forward") != 0) || (c->layout & ~1))
    return kiln_fail(err, KILN_ERR_INVALID_MODEL, "node '%s' (%s): bad direction or layout",
                     n->name, n->op_type);
  c->clip = kiln_node_attr(n, "clip") != NULL;
  c->clip_at = kiln_attr_float(n, "clip", 0);
  c->input_forget = kiln_attr_int(n, "input_forget", 0) != 0;
  c->lbr = kiln_attr_int(n, "linear_before_reset", 0) != 0;

  const kiln_value *x = kiln_node_in(g, n, 0), *r = kiln_node_in(g, n, 2);
  if (x->rank != 3 || !kiln_dtype_is_float(x->dtype) || r->rank != 3)
    return kiln_fail(err, KILN_ERR_UNSUPPORTED,
                     "node '%s' (%s): X and R must be 3-D floating-point tensors", n->name,
                     n->op_type);
  c->t = x->dtype;
  c->S = x->dims[c->layout];
  c->B = x->dims[1 - c->layout];
  c->I = x->dims[2];
  c->H = kiln_attr_int(n, "hidden_size", r->dims[2]);
  int64_t GH = c->gates * c->H, D = c->dirs, H = c->H;
  int64_t w[3] = {D, GH, c->I}, rr[3] = {D, GH, H}, bias[2] = {D, 2 * GH}, p[2] = {D, 3 * H};
  int64_t state[3] = {D, c->B, H};
  if (c->layout) state[0] = c->B, state[1] = D;
  if (want_shape(n, kiln_node_in(g, n, 1), c->t, 3, w, err) ||
      want_shape(n, r, c->t, 3, rr, err) ||
      want_shape(n, kiln_node_in(g, n, 3), c->t, 2, bias, err) ||
      want_shape(n, kiln_node_in(g, n, 5), c->t, 3, state, err) ||
      (lstm && want_shape(n, kiln_node_in(g, n, 6), c->t, 3, state, err)) ||
      want_shape(n, kiln_node_in(g, n, 4), KILN_I32, 1, &c->B, err) ||
      (lstm && want_shape(n, kiln_node_in(g, n, 7), c->t, 2, p, err)))
    return err->code;
  return parse_acts(n, c, err);
}

static kiln_status infer_rnn(kiln_graph *g, kiln_node *n, kiln_error *err) {
  rnn_cfg c;
  if (rnn_config(g, n, &c, err)) return err->code;
  int64_t y[4] = {c.S, c.dirs, c.B, c.H}, state[3] = {c.dirs, c.B, c.H};
  if (c.layout) {
    int64_t y1[4] = {c.B, c.S, c.dirs, c.H}, s1[3] = {c.B, c.dirs, c.H};
    memcpy(y, y1, sizeof y);
    memcpy(state, s1, sizeof state);
  }
  kiln_set_out(g, n, 0, c.t, 4, y);
  kiln_set_out(g, n, 1, c.t, 3, state);
  kiln_set_out(g, n, 2, c.t, 3, state);
  return KILN_OK;
}

/* ---- building the expansion ----------------------------------------------------------- */

/* v with index i of `axis` taken and that axis dropped (n: the axis's extent). */
static int take(kiln_ex *x, int v, int axis, int64_t i, int64_t n, const char *what) {
  if (n > 1) {
    int in[4] = {v, kiln_ex_int1(x, i), kiln_ex_int1(x, i + 1), kiln_ex_int1(x, axis)};
    char w[64];
    snprintf(w, sizeof w, "%s.slice", what);
    v = kiln_ex_node1(x, "Slice", in, 4, -1, w);
  }
  return kiln_ex_binary(x, "Squeeze", v, kiln_ex_int1(x, axis), what);
}

static void split(kiln_ex *x, int v, int axis, int n, int64_t size, int64_t last, int *outs,
                  const char *what) {
  int64_t sizes[4] = {size, size, size, size};
  sizes[n - 1] = last;
  for (int i = 0; i < n; i++) outs[i] = -1;
  int in[2] = {v, kiln_ex_ints(x, n, sizes)};
  kiln_ex_node(x, "Split", in, 2, outs, n, what);
  kiln_ex_attr_i(x, "axis", axis);
}

static bool all_zero(const kiln_value *v) {
  if (!v->data) return false;
  int64_t n = kiln_value_numel(v);
  for (int64_t i = 0; i < n; i++)
    if (kiln_load_f64(v->dtype, v->data, i) != 0) return false;
  return true;
}

/* Gemm(a, b^T) + c (c < 0: none): the recurrence term of a step. A zero state adds
 * nothing, which also keeps the first step's [1, H] zeros from narrowing its rows. */
static int gemm_bt(kiln_ex *x, int a, int b, int c, const char *what) {
  if (c >= 0 && all_zero(&x->g->values[a])) return c;
  int in[3] = {a, b, c};
  int out = kiln_ex_node1(x, "Gemm", in, c < 0 ? 2 : 3, -1, what);
  kiln_ex_attr_i(x, "transB", 1);
  return out;
}

/* Applies activation a to v, clipped first where the node has `clip` and `clip_in`. */
static int activation(kiln_ex *x, const rnn_cfg *c, const act *a, int v, bool clip_in,
                      const char *what) {
  char w[64];
  if (c->clip && clip_in) {
    snprintf(w, sizeof w, "%s.clip", what);
    v = kiln_ex_node1(x, "Clip", (int[]){v, c->clip_lo, c->clip_hi}, 3, -1, w);
  }
  bool affine = strcmp(a->def->name, "Affine") == 0;
  if (affine || strcmp(a->def->name, "ScaledTanh") == 0) {
    /* alpha * x + beta, or alpha * tanh(beta * x) */
    snprintf(w, sizeof w, "%s.alpha", what);
    int alpha = kiln_ex_scalar(x, a->alpha, w);
    snprintf(w, sizeof w, "%s.beta", what);
    int beta = kiln_ex_scalar(x, a->beta, w);
    snprintf(w, sizeof w, "%s.in", what);
    if (affine) return kiln_ex_binary(x, "Add", kiln_ex_binary(x, "Mul", v, alpha, w), beta, what);
    snprintf(w, sizeof w, "%s.tanh", what);
    int th = kiln_ex_unary(x, "Tanh", kiln_ex_binary(x, "Mul", v, beta, w), w);
    return kiln_ex_binary(x, "Mul", th, alpha, what);
  }
  int out = kiln_ex_unary(x, a->def->op, v, what);
  if (a->def->nalpha) kiln_ex_attr_f(x, "alpha", a->alpha);
  if (a->def->nbeta) kiln_ex_attr_f(x, "beta", a->beta);
  return out;
}

/* The most inputs one Concat gets: lowering passes at most 32 buffers per node. */
#define CONCAT_MAX 16

/* Unsqueezes each of parts (axes) and concatenates them along `axis` into out (a new value
 * when out < 0); long lists are concatenated in groups. */
static int join(kiln_ex *x, const int *parts, int n, const int64_t *axes, int naxes, int axis,
                int out, const char *what) {
  int *u = kiln_xmalloc(sizeof(int) * (size_t)n);
  char w[64];
  for (int i = 0; i < n; i++) {
    snprintf(w, sizeof w, "%s.u%d", what, i);
    u[i] = kiln_ex_node1(x, "Unsqueeze", (int[]){parts[i], kiln_ex_ints(x, naxes, axes)}, 2,
                         n == 1 ? out : -1, w);
  }
  for (int level = 0; n > CONCAT_MAX; level++) {
    int m = 0;
    for (int i = 0; i < n; i += CONCAT_MAX) {
      int cnt = n - i < CONCAT_MAX ? n - i : CONCAT_MAX;
      snprintf(w, sizeof w, "%s.g%d.%d", what, level, m);
      u[m++] = cnt == 1 ? u[i] : kiln_ex_node1(x, "Concat", &u[i], cnt, -1, w);
      if (cnt > 1) kiln_ex_attr_i(x, "axis", axis);
    }
    n = m;
  }
  if (n > 1) {
    out = kiln_ex_node1(x, "Concat", u, n, out, what);
    kiln_ex_attr_i(x, "axis", axis);
  } else {
    out = u[0];
  }
  free(u);
  return out;
}

/* ---- the cells ------------------------------------------------------------------------ */

/* One direction's prepared weights. */
typedef struct dir_w {
  int xw;       /* [S, B, G*H]: X·W^T plus the biases that do not depend on the state */
  int r, r2;    /* recurrence weights [G*H, H]; GRU: r = R[zr], r2 = R[h] */
  int rb_h;     /* GRU: Rb[h], or -1 */
  int p[3];     /* LSTM peepholes i, o, f, or -1 */
  const act *acts;
} dir_w;

static void prep_dir(kiln_ex *x, const rnn_cfg *c, const int *in, int d, int xs, dir_w *w) {
  int64_t H = c->H, GH = c->gates * H;
  int wt = kiln_ex_transpose(x, take(x, in[1], 0, d, c->dirs, "W"), 2, (int64_t[]){1, 0}, -1, "WT");
  w->xw = kiln_ex_binary(x, "MatMul", xs, wt, "XW");
  w->r = take(x, in[2], 0, d, c->dirs, "R");
  w->r2 = w->rb_h = -1;
  w->p[0] = w->p[1] = w->p[2] = -1;
  w->acts = c->acts[d];
  int rs[2];
  if (c->gates == 3) {
    split(x, w->r, 0, 2, 2 * H, H, rs, "Rs");
    w->r = rs[0];
    w->r2 = rs[1];
  }
  if (in[3] >= 0) {
    int wrb[2];
    split(x, take(x, in[3], 0, d, c->dirs, "B"), 0, 2, GH, GH, wrb, "Bs");
    int rb = wrb[1];
    if (c->gates == 3) {
      /* Rb[h] is applied inside the reset gate's product: only Rb[zr] joins X·W^T */
      split(x, rb, 0, 2, 2 * H, H, rs, "Rbs");
      w->rb_h = rs[1];
      double *mask = kiln_xcalloc((size_t)GH, sizeof(double));
      for (int64_t i = 0; i < 2 * H; i++) mask[i] = 1;
      rb = kiln_ex_binary(x, "Mul", rb, kiln_ex_const(x, "Rb_mask", c->t, 1, &GH, mask), "Rb_zr");
      free(mask);
    }
    w->xw = kiln_ex_binary(x, "Add", w->xw, kiln_ex_binary(x, "Add", wrb[0], rb, "bias"), "XWb");
  }
  if (c->gates == 4 && in[7] >= 0) split(x, take(x, in[7], 0, d, c->dirs, "P"), 0, 3, H, H, w->p, "Ps");
}

static void rnn_step(kiln_ex *x, const rnn_cfg *c, const dir_w *w, int xt, int *h) {
  *h = activation(x, c, &w->acts[0], gemm_bt(x, *h, w->r, xt, "pre"), true, "H");
}

/* Ht = (1 - z) * h~ + z * Ht-1, computed as h~ + z * (Ht-1 - h~). */
static void gru_step(kiln_ex *x, const rnn_cfg *c, const dir_w *w, int xt, int *h) {
  int xs[2], zr[2];
  split(x, xt, 1, 2, 2 * c->H, c->H, xs, "xs");
  split(x, gemm_bt(x, *h, w->r, xs[0], "zr_pre"), 1, 2, c->H, c->H, zr, "zr");
  int z = activation(x, c, &w->acts[0], zr[0], true, "z");
  int r = activation(x, c, &w->acts[0], zr[1], true, "r");
  int hh = c->lbr ? kiln_ex_binary(x, "Mul", r, gemm_bt(x, *h, w->r2, w->rb_h, "hR"), "r_hR")
                  : gemm_bt(x, kiln_ex_binary(x, "Mul", r, *h, "rh"), w->r2, w->rb_h, "rh_R");
  int hpre = kiln_ex_binary(x, "Add", xs[1], hh, "h_pre");
  int ht = activation(x, c, &w->acts[1], hpre, true, "h_hat");
  int dh = kiln_ex_binary(x, "Sub", *h, ht, "dh");
  *h = kiln_ex_binary(x, "Add", ht, kiln_ex_binary(x, "Mul", z, dh, "z_dh"), "H");
}

static void lstm_step(kiln_ex *x, const rnn_cfg *c, const dir_w *w, int xt, int *h, int *cs) {
  int g[4]; /* i, o, f, c */
  split(x, gemm_bt(x, *h, w->r, xt, "gates"), 1, 4, c->H, c->H, g, "gate");
  int i = g[0], o = g[1], f = g[2];
  if (w->p[0] >= 0) {
    i = kiln_ex_binary(x, "Add", i, kiln_ex_binary(x, "Mul", *cs, w->p[0], "Pi_C"), "i_pre");
    f = kiln_ex_binary(x, "Add", f, kiln_ex_binary(x, "Mul", *cs, w->p[2], "Pf_C"), "f_pre");
  }
  i = activation(x, c, &w->acts[0], i, true, "i");
  f = c->input_forget ? kiln_ex_binary(x, "Sub", c->one, i, "f")
                      : activation(x, c, &w->acts[0], f, true, "f");
  int ct = activation(x, c, &w->acts[1], g[3], true, "c_hat");
  int fc = kiln_ex_binary(x, "Mul", f, *cs, "f_C");
  *cs = kiln_ex_binary(x, "Add", fc, kiln_ex_binary(x, "Mul", i, ct, "i_c"), "C");
  if (w->p[1] >= 0)
    o = kiln_ex_binary(x, "Add", o, kiln_ex_binary(x, "Mul", *cs, w->p[1], "Po_C"), "o_pre");
  o = activation(x, c, &w->acts[0], o, true, "o");
  *h = kiln_ex_binary(x, "Mul", o, activation(x, c, &w->acts[2], *cs, false, "h_C"), "H");
}

/* ---- the expansion -------------------------------------------------------------------- */

/* Initial state input `v` for direction d, or zeros [1, H] (broadcast over the batch). */
static int initial(kiln_ex *x, const rnn_cfg *c, int v, int d, const char *what) {
  int64_t dims[2] = {1, c->H};
  return v >= 0 ? take(x, v, c->layout, d, c->dirs, what)
                : kiln_ex_const(x, what, c->t, 2, dims, NULL);
}

/* Where(mask, a, b) */
static int where(kiln_ex *x, int mask, int a, int b, const char *what) {
  return kiln_ex_node1(x, "Where", (int[]){mask, a, b}, 3, -1, what);
}

/* lens >= 0: sequence_lens as [B, 1], for sequences shorter than S. A step t past a
 * sequence's length keeps its state and yields zeros in Y; reversed, such a sequence thus
 * starts from the initial state at its own last element. */
static void build(kiln_ex *x, rnn_cfg *c, const int *in, const int *out, int lens) {
  int ta = c->layout; /* the time axis of Y, and the direction axis of Y_h and Y_c */
  int64_t state[2] = {1, c->H};
  int zeros = lens >= 0 ? kiln_ex_const(x, "zeros", c->t, 2, state, NULL) : -1;
  if (c->clip) {
    c->clip_lo = kiln_ex_scalar(x, -c->clip_at, "clip_lo");
    c->clip_hi = kiln_ex_scalar(x, c->clip_at, "clip_hi");
  }
  if (c->input_forget) c->one = kiln_ex_scalar(x, 1, "one");
  int xs = c->layout ? kiln_ex_transpose(x, in[0], 3, (int64_t[]){1, 0, 2}, -1, "X_seq") : in[0];
  int ydir[2], hlast[2], clast[2];
  int *hs = kiln_xmalloc(sizeof(int) * (size_t)c->S);
  for (int d = 0; d < c->dirs; d++) {
    snprintf(x->tag, sizeof x->tag, "d%d", d);
    dir_w w;
    prep_dir(x, c, in, d, xs, &w);
    int h = initial(x, c, in[5], d, "h0");
    int cs = c->gates == 4 ? initial(x, c, in[6], d, "c0") : -1;
    for (int64_t step = 0; step < c->S; step++) {
      int64_t t = c->reverse || d == 1 ? c->S - 1 - step : step;
      snprintf(x->tag, sizeof x->tag, "d%d/t%lld", d, (long long)t);
      int xt = take(x, w.xw, 0, t, c->S, "xw"), hp = h, cp = cs;
      if (c->gates == 4) lstm_step(x, c, &w, xt, &h, &cs);
      else if (c->gates == 3) gru_step(x, c, &w, xt, &h);
      else rnn_step(x, c, &w, xt, &h);
      hs[t] = h;
      if (lens >= 0) {
        double tv = (double)t;
        int tc = kiln_ex_const(x, "t", KILN_I32, 0, NULL, &tv);
        int live = kiln_ex_binary(x, "Less", tc, lens, "live");
        hs[t] = where(x, live, h, zeros, "Y_t");
        h = where(x, live, h, hp, "H_kept");
        if (cs >= 0) cs = where(x, live, cs, cp, "C_kept");
      }
    }
    snprintf(x->tag, sizeof x->tag, "d%d", d);
    hlast[d] = h;
    clast[d] = cs;
    if (out[0] >= 0)
      ydir[d] = join(x, hs, (int)c->S, (int64_t[]){ta, ta + 1}, 2, ta,
                     c->dirs == 1 ? out[0] : -1, "Y");
  }
  free(hs);
  x->tag[0] = 0;
  if (out[0] >= 0 && c->dirs == 2) {
    kiln_ex_node1(x, "Concat", ydir, 2, out[0], "Y");
    kiln_ex_attr_i(x, "axis", ta + 1);
  }
  int64_t ax = ta;
  if (out[1] >= 0) join(x, hlast, c->dirs, &ax, 1, ta, out[1], "Y_h");
  if (out[2] >= 0) join(x, clast, c->dirs, &ax, 1, ta, out[2], "Y_c");
}

static kiln_status expand_rnn(kiln_graph *g, kiln_block *b, int pos, kiln_error *err) {
  const kiln_node *n = &g->nodes[b->nodes[pos]];
  rnn_cfg c;
  if (rnn_config(g, n, &c, err)) return err->code;
  if (c.S < 1 || c.S > INT32_MAX)
    return kiln_fail(err, KILN_ERR_UNSUPPORTED, "node '%s' (%s): sequence length %lld",
                     n->name, n->op_type, (long long)c.S);
  if (kiln_node_in(g, n, 0)->sym[c.layout])
    return kiln_fail(err, KILN_ERR_UNSUPPORTED, "node '%s' (%s): the sequence length is a free "
                     "dim; kiln unrolls the steps, so bind it (kiln_options.shapes, --shape)",
                     n->name, n->op_type);
  /* sequence_lens known to be all S needs no masking */
  const kiln_value *lens = kiln_node_in(g, n, 4);
  bool full = !lens || (lens->data && !kiln_value_has_sym_data(lens));
  for (int64_t i = 0; full && lens && i < c.B; i++)
    full = full && kiln_load_i64(lens->dtype, lens->data, i) == c.S;
  int in[8], out[3];
  for (int i = 0; i < 8; i++) in[i] = i < n->ninputs ? n->inputs[i] : -1;
  for (int i = 0; i < 3; i++) out[i] = i < n->noutputs ? n->outputs[i] : -1;
  kiln_ex x;
  kiln_ex_begin(&x, g, b, pos, c.t);
  int lens_b1 = full ? -1 : kiln_ex_node1(&x, "Unsqueeze", (int[]){in[4], kiln_ex_int1(&x, 1)},
                                          2, -1, "lens");
  build(&x, &c, in, out, lens_b1);
  kiln_ex_end(&x);
  return KILN_OK;
}

static const kiln_attr_spec rnn_attrs[] = {
    {"activation_alpha", KILN_ATTR_FLOATS, false},
    {"activation_beta", KILN_ATTR_FLOATS, false},
    {"activations", KILN_ATTR_STRINGS, false},
    {"clip", KILN_ATTR_FLOAT, false},
    {"direction", KILN_ATTR_STRING, false},
    {"hidden_size", KILN_ATTR_INT, false},
    {"layout", KILN_ATTR_INT, false},
    {"input_forget", KILN_ATTR_INT, false},       /* LSTM */
    {"linear_before_reset", KILN_ATTR_INT, false}, /* GRU */
    {NULL},
};

const kiln_op_def kiln_ops_rnn[] = {
    {"RNN", 3, 6, 0, 2, rnn_attrs, infer_rnn, NULL, expand_rnn, KILN_OP_SYMBOLIC},
    {"GRU", 3, 6, 0, 2, rnn_attrs, infer_rnn, NULL, expand_rnn, KILN_OP_SYMBOLIC},
    {"LSTM", 3, 8, 0, 3, rnn_attrs, infer_rnn, NULL, expand_rnn, KILN_OP_SYMBOLIC},
    {NULL},
};
