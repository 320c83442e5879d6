/* Normalizations: BatchNormalization (inference and training forms),
 * InstanceNormalization, LayerNormalization, RMSNormalization, LpNormalization, LRN. Statistics are
 * reduction stages into keepdims-shaped buffers (temporaries, or the op's own Mean /
 * InvStdDev outputs), then one elementwise stage normalizes. MeanVarianceNormalization
 * expands into reductions as ONNX's function body does. */
#include "ir/op.h"

#include "ir/dtype.h"
#include "ir/ops/expand.h"

#include <string.h>

/* A stage over x's dims, reducing those marked in red, writing a keepdims-shaped buffer;
 * vars[d] indexes x, kept[] the buffer. */
static kiln_stage *kept_stage(kiln_kernel *k, const char *name, int out, const kiln_buffer *x,
                              const bool *red, kiln_expr **vars, kiln_expr **kept) {
  kiln_stage *s = kiln_kernel_add_stage(k, name, out);
  for (int d = 0; d < x->rank; d++) {
    vars[d] = kx_var(k, kiln_stage_axis(s, x->dims[d], red[d]));
    kept[d] = red[d] ? kx_idx(k, 0) : vars[d];
  }
  return s;
}

/* mean = E[x] and var = E[(x - mean)^2] over the dims marked in red, computed in type of
 * the mean buffer; with rstd, var receives 1/sqrt(var + eps) instead. */
static void moments(kiln_kernel *k, int xb, const bool *red, int mean, int var, bool rstd,
                    double eps) {
  const kiln_buffer *x = &k->bufs[xb];
  kiln_dtype ct = k->bufs[mean].dtype;
  int64_t count = 1;
  for (int d = 0; d < x->rank; d++)
    if (red[d]) count *= x->dims[d];
  kiln_expr *v[KILN_MAX_RANK], *o[KILN_MAX_RANK];
  kiln_stage *s = kept_stage(k, "mean", mean, x, red, v, o);
  s->reduce = KR_SUM;
  s->post = kx_binary(k, KB_DIV, kx_acc(k, ct), kx_const_i(k, ct, count));
  kiln_stage_store(k, s, o, kx_cast(k, kx_load(k, xb, v), ct));

  s = kept_stage(k, "var", var, x, red, v, o);
  s->reduce = KR_SUM;
  kiln_expr *dev = kx_binary(k, KB_SUB, kx_cast(k, kx_load(k, xb, v), ct), kx_load(k, mean, o));
  kiln_expr *vr = kx_binary(k, KB_DIV, kx_acc(k, ct), kx_const_i(k, ct, count));
  s->post = rstd ? kx_unary(k, KU_RECIP, kx_unary(k, KU_SQRT, kx_binary(k, KB_ADD, vr, kx_const_f(k, ct, eps))))
                 : vr;
  kiln_stage_store(k, s, o, kx_binary(k, KB_MUL, dev, dev));
}

static int kept_temp(kiln_kernel *k, const char *name, const kiln_buffer *x, const bool *red,
                     kiln_dtype t) {
  int64_t dims[KILN_MAX_RANK];
  for (int d = 0; d < x->rank; d++) dims[d] = red[d] ? 1 : x->dims[d];
  return kiln_kernel_add_buffer(k, name, KILN_BUF_TEMP, -1, t, x->rank, dims);
}

static kiln_expr *load_chan(kiln_kernel *k, int buf, kiln_expr *c, kiln_dtype t) {
  return kx_cast(k, kx_load(k, buf, &c), t);
}

static kiln_status check_float(const kiln_graph *g, const kiln_node *n, kiln_error *err) {
  const kiln_value *x = kiln_node_in(g, n, 0);
  if (!kiln_dtype_is_float(x->dtype))
    return kiln_fail(err, KILN_ERR_UNSUPPORTED, "node '%s' (%s): needs a float input, got %s",
                     n->name, n->op_type, kiln_dtype_name(x->dtype));
  return KILN_OK;
}

static kiln_status infer_same(kiln_graph *g, kiln_node *n, kiln_error *err) {
  if (check_float(g, n, err)) return err->code;
  const kiln_value *x = kiln_node_in(g, n, 0);
  kiln_set_out(g, n, 0, x->dtype, x->rank, x->dims);
  return KILN_OK;
}

/* ---- BatchNormalization --------------------------------------------------------------- */

static kiln_status infer_batchnorm(kiln_graph *g, kiln_node *n, kiln_error *err) {
  if (infer_same(g, n, err)) return err->code;
  const kiln_value *x = kiln_node_in(g, n, 0);
  if (x->rank < 2)
    return kiln_fail(err, KILN_ERR_SHAPE, "node '%s' (%s): input must have rank >= 2", n->name,
                     n->op_type);
  for (int i = 1; i < 5; i++)
    if (kiln_value_numel(kiln_node_in(g, n, i)) != x->dims[1])
      return kiln_fail(err, KILN_ERR_SHAPE, "node '%s' (%s): input %d must hold %lld values",
                       n->name, n->op_type, i, (long long)x->dims[1]);
  for (int i = 1; i < 3; i++) kiln_set_out(g, n, i, kiln_node_in(g, n, 3)->dtype, 1, &x->dims[1]);
  return KILN_OK;
}

/* y = (x - mean[c]) / sqrt(var[c] + eps) * scale[c] + B[c]; in training mode mean and var
 * are the batch's (population variance), and the running statistics are updated. */
static kiln_status lower_batchnorm(kiln_lower_ctx *c) {
  kiln_kernel *k = c->k;
  int xb = c->in_buf[0];
  const kiln_buffer *x = &k->bufs[xb];
  kiln_dtype t = x->dtype;
  double eps = kiln_attr_float(c->n, "epsilon", 1e-5);
  bool training = kiln_attr_int(c->n, "training_mode", 0) != 0;
  kiln_expr *v[KILN_MAX_RANK];
  int mean = -1, var = -1;
  if (training) {
    bool red[KILN_MAX_RANK];
    for (int d = 0; d < x->rank; d++) red[d] = d != 1;
    mean = kept_temp(k, "batch_mean", x, red, t);
    var = kept_temp(k, "batch_var", x, red, t);
    moments(k, xb, red, mean, var, false, eps);
  }
  kiln_stage *s = kiln_elementwise_stage(k, "batchnorm", c->out_buf[0], v);
  kiln_expr *kept[KILN_MAX_RANK];
  for (int d = 0; d < x->rank; d++) kept[d] = d == 1 ? v[1] : kx_idx(k, 0);
  kiln_expr *m = training ? kx_load(k, mean, kept) : load_chan(k, c->in_buf[3], v[1], t);
  kiln_expr *vr = training ? kx_load(k, var, kept) : load_chan(k, c->in_buf[4], v[1], t);
  kiln_expr *rstd = kx_unary(k, KU_RECIP, kx_unary(k, KU_SQRT, kx_binary(k, KB_ADD, vr, kx_const_f(k, t, eps))));
  kiln_expr *y = kx_binary(k, KB_MUL, kx_binary(k, KB_SUB, kx_load(k, xb, v), m),
                           kx_binary(k, KB_MUL, rstd, load_chan(k, c->in_buf[1], v[1], t)));
  kiln_stage_store(k, s, v, kx_binary(k, KB_ADD, y, load_chan(k, c->in_buf[2], v[1], t)));
  if (!training) return KILN_OK;

  /* running = input * momentum + batch * (1 - momentum) */
  double mom = kiln_attr_float(c->n, "momentum", 0.9);
  for (int i = 1; i < 3 && i < c->n->noutputs; i++) {
    if (c->n->outputs[i] < 0) continue;
    int ob = c->out_buf[i];
    kiln_dtype ot = k->bufs[ob].dtype;
    kiln_expr *ch[1];
    s = kiln_elementwise_stage(k, i == 1 ? "running_mean" : "running_var", ob, ch);
    for (int d = 0; d < x->rank; d++) kept[d] = d == 1 ? ch[0] : kx_idx(k, 0);
    kiln_expr *batch = kx_cast(k, kx_load(k, i == 1 ? mean : var, kept), ot);
    kiln_expr *run = kx_cast(k, kx_load(k, c->in_buf[i + 2], ch), ot);
    kiln_stage_store(k, s, ch,
                     kx_binary(k, KB_ADD, kx_binary(k, KB_MUL, run, kx_const_f(k, ot, mom)),
                               kx_binary(k, KB_MUL, batch, kx_const_f(k, ot, 1 - mom))));
  }
  return KILN_OK;
}

/* ---- InstanceNormalization ------------------------------------------------------------ */

static kiln_status lower_instancenorm(kiln_lower_ctx *c) {
  kiln_kernel *k = c->k;
  int xb = c->in_buf[0];
  const kiln_buffer *x = &k->bufs[xb];
  kiln_dtype t = x->dtype;
  bool red[KILN_MAX_RANK];
  for (int d = 0; d < x->rank; d++) red[d] = d >= 2;
  int mean = kept_temp(k, "mean", x, red, t), rstd = kept_temp(k, "rstd", x, red, t);
  moments(k, xb, red, mean, rstd, true, kiln_attr_float(c->n, "epsilon", 1e-5));
  kiln_expr *v[KILN_MAX_RANK], *kept[KILN_MAX_RANK];
  kiln_stage *s = kiln_elementwise_stage(k, "instancenorm", c->out_buf[0], v);
  for (int d = 0; d < x->rank; d++) kept[d] = red[d] ? kx_idx(k, 0) : v[d];
  kiln_expr *y = kx_binary(k, KB_MUL, kx_binary(k, KB_SUB, kx_load(k, xb, v), kx_load(k, mean, kept)),
                           kx_load(k, rstd, kept));
  y = kx_binary(k, KB_MUL, y, load_chan(k, c->in_buf[1], v[1], t));
  kiln_stage_store(k, s, v, kx_binary(k, KB_ADD, y, load_chan(k, c->in_buf[2], v[1], t)));
  return KILN_OK;
}

/* ---- LayerNormalization --------------------------------------------------------------- */

/* The axis of a LayerNormalization or RMSNormalization; red[d]: dim d is reduced (axis and
 * after). */
static kiln_status norm_axis_dims(kiln_lower_ctx *c, int rank, int *axis, bool *red) {
  if (kiln_norm_axis(c->n, kiln_attr_int(c->n, "axis", -1), rank, axis, c->err)) return c->err->code;
  for (int d = 0; d < rank; d++) red[d] = d >= *axis;
  return KILN_OK;
}

/* Statistics over dims axis..rank-1, in f32 unless stash_type asks for the input type. */
static kiln_dtype layernorm_stash(const kiln_graph *g, const kiln_node *n) {
  kiln_dtype t = kiln_node_in(g, n, 0)->dtype;
  return kiln_attr_int(n, "stash_type", 1) == 1 && t != KILN_F64 ? KILN_F32 : t;
}

static kiln_status infer_layernorm(kiln_graph *g, kiln_node *n, kiln_error *err) {
  if (infer_same(g, n, err)) return err->code;
  const kiln_value *x = kiln_node_in(g, n, 0);
  int axis;
  if (kiln_norm_axis(n, kiln_attr_int(n, "axis", -1), x->rank, &axis, err)) return err->code;
  int64_t dims[KILN_MAX_RANK];
  for (int d = 0; d < x->rank; d++) dims[d] = d >= axis ? 1 : x->dims[d];
  kiln_set_out(g, n, 1, layernorm_stash(g, n), x->rank, dims);
  kiln_set_out(g, n, 2, layernorm_stash(g, n), x->rank, dims);
  return KILN_OK;
}

static kiln_status lower_layernorm(kiln_lower_ctx *c) {
  kiln_kernel *k = c->k;
  int xb = c->in_buf[0];
  const kiln_buffer *x = &k->bufs[xb];
  int axis;
  bool red[KILN_MAX_RANK];
  if (norm_axis_dims(c, x->rank, &axis, red)) return c->err->code;
  kiln_dtype t = x->dtype, st = layernorm_stash(c->g, c->n);
  bool has_mean = c->n->noutputs > 1 && c->n->outputs[1] >= 0;
  bool has_rstd = c->n->noutputs > 2 && c->n->outputs[2] >= 0;
  int mean = has_mean ? c->out_buf[1] : kept_temp(k, "mean", x, red, st);
  int rstd = has_rstd ? c->out_buf[2] : kept_temp(k, "rstd", x, red, st);
  moments(k, xb, red, mean, rstd, true, kiln_attr_float(c->n, "epsilon", 1e-5));
  kiln_expr *v[KILN_MAX_RANK], *kept[KILN_MAX_RANK];
  kiln_stage *s = kiln_elementwise_stage(k, "layernorm", c->out_buf[0], v);
  for (int d = 0; d < x->rank; d++) kept[d] = red[d] ? kx_idx(k, 0) : v[d];
  kiln_expr *y = kx_binary(k, KB_MUL,
                           kx_binary(k, KB_SUB, kx_cast(k, kx_load(k, xb, v), st), kx_load(k, mean, kept)),
                           kx_load(k, rstd, kept));
  y = kx_binary(k, KB_MUL, kx_cast(k, y, t), kiln_load_broadcast(k, c->in_buf[1], x->rank, v));
  if (c->n->ninputs > 2 && c->in_buf[2] >= 0)
    y = kx_binary(k, KB_ADD, y, kiln_load_broadcast(k, c->in_buf[2], x->rank, v));
  kiln_stage_store(k, s, v, y);
  return KILN_OK;
}

/* ---- RMSNormalization (opset 23): x / sqrt(mean(x^2) + epsilon) * scale ----------------
 * The mean over dims axis..rank-1, in LayerNormalization's stash type. */

static kiln_status infer_rmsnorm(kiln_graph *g, kiln_node *n, kiln_error *err) {
  if (infer_same(g, n, err)) return err->code;
  const kiln_value *x = kiln_node_in(g, n, 0), *sc = kiln_node_in(g, n, 1);
  int axis, rank;
  int64_t dims[KILN_MAX_RANK];
  if (kiln_norm_axis(n, kiln_attr_int(n, "axis", -1), x->rank, &axis, err) ||
      kiln_broadcast_shape(n, x->rank, x->dims, sc->rank, sc->dims, &rank, dims, err))
    return err->code;
  if (rank != x->rank || memcmp(dims, x->dims, sizeof(int64_t) * (size_t)rank) || sc->dtype != x->dtype)
    return kiln_fail(err, KILN_ERR_SHAPE, "node '%s' (%s): scale '%s' must be of X's type and "
                     "broadcast to X's shape", n->name, n->op_type, sc->name);
  return KILN_OK;
}

static kiln_status lower_rmsnorm(kiln_lower_ctx *c) {
  kiln_kernel *k = c->k;
  int xb = c->in_buf[0];
  const kiln_buffer *x = &k->bufs[xb];
  int axis;
  bool red[KILN_MAX_RANK];
  if (norm_axis_dims(c, x->rank, &axis, red)) return c->err->code;
  kiln_dtype t = x->dtype, st = layernorm_stash(c->g, c->n);
  int64_t count = 1;
  for (int d = axis; d < x->rank; d++) count *= x->dims[d];
  int rms = kept_temp(k, "rms", x, red, st);
  kiln_expr *v[KILN_MAX_RANK], *kept[KILN_MAX_RANK];
  kiln_stage *s = kept_stage(k, "rms", rms, x, red, v, kept);
  s->reduce = KR_SUM;
  kiln_expr *ms = kx_binary(k, KB_DIV, kx_acc(k, st), kx_const_i(k, st, count));
  s->post = kx_unary(k, KU_SQRT, kx_binary(k, KB_ADD, ms,
                                           kx_const_f(k, st, kiln_attr_float(c->n, "epsilon", 1e-5))));
  kiln_expr *xv = kx_cast(k, kx_load(k, xb, v), st);
  kiln_stage_store(k, s, kept, kx_binary(k, KB_MUL, xv, xv));
  s = kiln_elementwise_stage(k, "rmsnorm", c->out_buf[0], v);
  for (int d = 0; d < x->rank; d++) kept[d] = red[d] ? kx_idx(k, 0) : v[d];
  kiln_expr *y = kx_binary(k, KB_DIV, kx_cast(k, kx_load(k, xb, v), st), kx_load(k, rms, kept));
  y = kx_binary(k, KB_MUL, kx_cast(k, y, t), kiln_load_broadcast(k, c->in_buf[1], x->rank, v));
  kiln_stage_store(k, s, v, y);
  return KILN_OK;
}

/* ---- LpNormalization: x / ||x||_p along one axis ----------------------------------------- */

static kiln_status lower_lpnorm(kiln_lower_ctx *c) {
  kiln_kernel *k = c->k;
  int xb = c->in_buf[0];
  const kiln_buffer *x = &k->bufs[xb];
  int axis;
  if (kiln_norm_axis(c->n, kiln_attr_int(c->n, "axis", -1), x->rank, &axis, c->err))
    return c->err->code;
  int64_t p = kiln_attr_int(c->n, "p", 2);
  if (p != 1 && p != 2)
    return kiln_fail(c->err, KILN_ERR_UNSUPPORTED, "node '%s' (%s): p must be 1 or 2, got %lld",
                     c->n->name, c->n->op_type, (long long)p);
  bool red[KILN_MAX_RANK] = {false};
  red[axis] = true;
  int norm = kept_temp(k, "norm", x, red, x->dtype);
  kiln_expr *v[KILN_MAX_RANK], *kept[KILN_MAX_RANK];
  kiln_stage *s = kept_stage(k, "norm", norm, x, red, v, kept);
  kiln_expr *xv = kx_load(k, xb, v);
  s->reduce = KR_SUM;
  if (p == 2) s->post = kx_unary(k, KU_SQRT, kx_acc(k, x->dtype));
  kiln_stage_store(k, s, kept, p == 1 ? kx_unary(k, KU_ABS, xv) : kx_binary(k, KB_MUL, xv, xv));
  s = kiln_elementwise_stage(k, "lpnorm", c->out_buf[0], v);
  for (int d = 0; d < x->rank; d++) kept[d] = red[d] ? kx_idx(k, 0) : v[d];
  kiln_expr *nv = kx_load(k, norm, kept), *zero = kx_const_f(k, x->dtype, 0);
  /* a zero norm gives 0 rather than NaN, as the reference */
  kiln_stage_store(k, s, v, kx_select(k, kx_binary(k, KB_EQ, nv, zero), zero,
                                      kx_binary(k, KB_DIV, kx_load(k, xb, v), nv)));
  return KILN_OK;
}

/* ---- LRN: x / (bias + alpha/size * sum of squares over nearby channels)^beta ------------- */

static kiln_status lower_lrn(kiln_lower_ctx *c) {
  kiln_kernel *k = c->k;
  int xb = c->in_buf[0];
  const kiln_buffer *x = &k->bufs[xb];
  kiln_dtype t = x->dtype;
  int64_t size = kiln_attr_int(c->n, "size", 1);
  if (size < 1 || x->rank < 2)
    return kiln_fail(c->err, KILN_ERR_INVALID_MODEL, "node '%s' (%s): bad size or input rank",
                     c->n->name, c->n->op_type);
  double alpha = kiln_attr_float(c->n, "alpha", 1e-4), beta = kiln_attr_float(c->n, "beta", 0.75);
  double bias = kiln_attr_float(c->n, "bias", 1.0);
  kiln_stage *s = kiln_kernel_add_stage(k, "lrn", c->out_buf[0]);
  kiln_expr *v[KILN_MAX_RANK], *xi[KILN_MAX_RANK];
  for (int d = 0; d < x->rank; d++) v[d] = xi[d] = kx_var(k, kiln_stage_axis(s, x->dims[d], false));
  kiln_expr *r = kx_var(k, kiln_stage_axis(s, size, true));
  xi[1] = kx_add(k, kx_addi(k, v[1], -((size - 1) / 2)), r);
  kiln_expr *xv = kx_load(k, xb, xi);
  s->reduce = KR_SUM;
  kiln_expr *den = kx_binary(k, KB_ADD, kx_const_f(k, t, bias),
                             kx_binary(k, KB_MUL, kx_const_f(k, t, alpha / (double)size), kx_acc(k, t)));
  s->post = kx_binary(k, KB_DIV, kx_load(k, xb, v), kx_binary(k, KB_POW, den, kx_const_f(k, t, beta)));
  kiln_stage_store(k, s, v, kx_select(k, kx_in_range(k, xi[1], x->dims[1]),
                                      kx_binary(k, KB_MUL, xv, xv), kx_const_f(k, t, 0)));
  return KILN_OK;
}

static const kiln_attr_spec batchnorm_attrs[] = {{"epsilon", KILN_ATTR_FLOAT, false},
                                                 {"momentum", KILN_ATTR_FLOAT, false},
                                                 {"training_mode", KILN_ATTR_INT, false},
                                                 {NULL}};
static const kiln_attr_spec eps_attrs[] = {{"epsilon", KILN_ATTR_FLOAT, false}, {NULL}};
static const kiln_attr_spec layernorm_attrs[] = {{"axis", KILN_ATTR_INT, false},
                                                 {"epsilon", KILN_ATTR_FLOAT, false},
                                                 {"stash_type", KILN_ATTR_INT, false},
                                                 {NULL}};
static const kiln_attr_spec lpnorm_attrs[] = {
    {"axis", KILN_ATTR_INT, false}, {"p", KILN_ATTR_INT, false}, {NULL}};
static const kiln_attr_spec lrn_attrs[] = {{"alpha", KILN_ATTR_FLOAT, false},
                                           {"beta", KILN_ATTR_FLOAT, false},
                                           {"bias", KILN_ATTR_FLOAT, false},
                                           {"size", KILN_ATTR_INT, true},
                                           {NULL}};

/* (x - E[x]) / (sqrt(E[x^2] - E[x]^2) + 1e-9) over `axes` (default 0, 2, 3) */
static kiln_status expand_mvn(kiln_graph *g, kiln_block *b, int pos, kiln_error *err) {
  const kiln_node *n = &g->nodes[b->nodes[pos]];
  const kiln_value *xv = kiln_node_in(g, n, 0);
  const int64_t *axes, dflt[3] = {0, 2, 3};
  int na = kiln_attr_ints(n, "axes", &axes);
  if (na < 0) axes = dflt, na = 3;
  if (na > KILN_MAX_RANK) return kiln_fail(err, KILN_ERR_INVALID_MODEL, "node '%s' (%s): too "
                                           "many axes", n->name, n->op_type);
  int64_t ax[KILN_MAX_RANK];
  for (int i = 0; i < na; i++) {
    int a;
    if (kiln_norm_axis(n, axes[i], xv->rank, &a, err)) return err->code;
    ax[i] = a;
  }
  int x = n->inputs[0], y = n->outputs[0];
  kiln_ex e;
  kiln_ex_begin(&e, g, b, pos, xv->dtype);
  int64_t dim = na;
  int axes_c = kiln_ex_const(&e, "axes", KILN_I64, 1, &dim, NULL);
  for (int i = 0; i < na; i++) ((int64_t *)g->values[axes_c].data)[i] = ax[i];
  int mean = kiln_ex_binary(&e, "ReduceMean", x, axes_c, "mean");
  int sq = kiln_ex_binary(&e, "Mul", x, x, "x_squared");
  int mean_sq = kiln_ex_binary(&e, "ReduceMean", sq, axes_c, "mean_of_squares");
  int mean2 = kiln_ex_binary(&e, "Mul", mean, mean, "mean_squared");
  int var = kiln_ex_binary(&e, "Sub", mean_sq, mean2, "variance");
  int std = kiln_ex_binary(&e, "Add", kiln_ex_unary(&e, "Sqrt", var, "std"),
                           kiln_ex_scalar(&e, 1e-9, "epsilon"), "std_eps");
  kiln_ex_node1(&e, "Div", (int[]){kiln_ex_binary(&e, "Sub", x, mean, "centered"), std}, 2, y,
                "normalized");
  kiln_ex_end(&e);
  return KILN_OK;
}

static const kiln_attr_spec mvn_attrs[] = {{"axes", KILN_ATTR_INTS, false}, {NULL}};

/* ---- GroupNormalization: InstanceNormalization over [N, G, C/G x spatial] ------------------ */

/* Its scale and bias hold one value per group (opset 18) or per channel (opset 21; the
 * same where G = C). */
static kiln_status group_norm_shape(const kiln_graph *g, const kiln_node *n, int64_t *groups,
                                    bool *per_channel, kiln_error *err) {
  const kiln_value *x = kiln_node_in(g, n, 0);
  int64_t G = kiln_attr_int(n, "num_groups", 0), C = x->rank >= 2 ? x->dims[1] : 0;
  if (x->rank >= 2 && x->sym[1])
    return kiln_fail(err, KILN_ERR_UNSUPPORTED, "node '%s' (%s): the channels of input '%s' "
                     "are a free dim", n->name, n->op_type, x->name);
  if (x->rank < 2 || G <= 0 || C % G != 0)
    return kiln_fail(err, KILN_ERR_SHAPE, "node '%s' (%s): num_groups %lld must divide the "
                     "%lld channels of an input of rank >= 2", n->name, n->op_type,
                     (long long)G, (long long)C);
  int64_t ks = kiln_value_numel(kiln_node_in(g, n, 1)), kb = kiln_value_numel(kiln_node_in(g, n, 2));
  if (ks != kb || (ks != G && ks != C))
    return kiln_fail(err, KILN_ERR_SHAPE, "node '%s' (%s): scale and bias hold %lld and %lld "
                     "values, not both one per group (%lld) or per channel (%lld)", n->name,
                     n->op_type, (long long)ks, (long long)kb, (long long)G, (long long)C);
  *groups = G;
  *per_channel = ks != G;
  return KILN_OK;
}

static kiln_status infer_groupnorm(kiln_graph *g, kiln_node *n, kiln_error *err) {
  int64_t G;
  bool per_channel;
  if (infer_same(g, n, err) || group_norm_shape(g, n, &G, &per_channel, err)) return err->code;
  return KILN_OK;
}

/* Reshape to [N, G, -1], InstanceNormalization (the scale and bias per group, or 1 and 0),
 * Reshape back; per-channel scale and bias then apply as [C, 1, ...]. */
static kiln_status expand_groupnorm(kiln_graph *g, kiln_block *b, int pos, kiln_error *err) {
  const kiln_node *n = &g->nodes[b->nodes[pos]];
  const kiln_value *xv = kiln_node_in(g, n, 0);
  int64_t G;
  bool per_channel;
  if (group_norm_shape(g, n, &G, &per_channel, err)) return err->code;
  int x = n->inputs[0], y = n->outputs[0], scale = n->inputs[1], bias = n->inputs[2];
  int64_t C = xv->dims[1], nd = xv->rank - 1;
  double eps = kiln_attr_float(n, "epsilon", 1e-5);
  kiln_ex e;
  kiln_ex_begin(&e, g, b, pos, xv->dtype);
  int grouped = kiln_ex_binary(&e, "Reshape", x, kiln_ex_ints(&e, 3, (int64_t[]){0, G, -1}), "grouped");
  int gs = scale, gb = bias;
  if (per_channel) {
    gs = kiln_ex_const(&e, "ones", xv->dtype, 1, &G, NULL);
    gb = kiln_ex_const(&e, "zeros", xv->dtype, 1, &G, NULL);
    for (int64_t j = 0; j < G; j++) kiln_store_f64(xv->dtype, g->values[gs].data, j, 1.0);
  }
  int normed = kiln_ex_node1(&e, "InstanceNormalization", (int[]){grouped, gs, gb}, 3, -1, "normalized");
  kiln_ex_attr_f(&e, "epsilon", eps);
  int shape = kiln_ex_unary(&e, "Shape", x, "shape");
  int back = kiln_ex_node1(&e, "Reshape", (int[]){normed, shape}, 2, per_channel ? -1 : y, "ungrouped");
  if (per_channel) {
    int cs = kiln_ex_const(&e, "channel_shape", KILN_I64, 1, &nd, NULL);
    int64_t *d = g->values[cs].data;
    for (int i = 0; i < nd; i++) d[i] = i ? 1 : C;
    int s_col = kiln_ex_binary(&e, "Reshape", scale, cs, "scale");
    int b_col = kiln_ex_binary(&e, "Reshape", bias, cs, "bias");
    int scaled = kiln_ex_binary(&e, "Mul", back, s_col, "scaled");
    kiln_ex_node1(&e, "Add", (int[]){scaled, b_col}, 2, y, "shifted");
  }
  kiln_ex_end(&e);
  return KILN_OK;
}

static const kiln_attr_spec groupnorm_attrs[] = {{"epsilon", KILN_ATTR_FLOAT, false},
                                                 {"num_groups", KILN_ATTR_INT, true},
                                                 {"stash_type", KILN_ATTR_INT, false},
                                                 {NULL}};

const kiln_op_def kiln_ops_norm[] = {
    {"MeanVarianceNormalization", 1, 1, 1, 1, mvn_attrs, infer_same, NULL, expand_mvn, 0},
    {"GroupNormalization", 3, 3, 1, 1, groupnorm_attrs, infer_groupnorm, NULL, expand_groupnorm,
     KILN_OP_SYMBOLIC},
    {"BatchNormalization", 5, 5, 1, 3, batchnorm_attrs, infer_batchnorm, lower_batchnorm, NULL, KILN_OP_SYMBOLIC},
    {"InstanceNormalization", 3, 3, 1, 1, eps_attrs, infer_same, lower_instancenorm, NULL, KILN_OP_SYMBOLIC},
    {"LayerNormalization", 2, 3, 1, 3, layernorm_attrs, infer_layernorm, lower_layernorm, NULL, KILN_OP_SYMBOLIC},
    {"RMSNormalization", 2, 2, 1, 1, layernorm_attrs, infer_rmsnorm, lower_rmsnorm, NULL, KILN_OP_SYMBOLIC},
    {"LpNormalization", 1, 1, 1, 1, lpnorm_attrs, infer_same, lower_lpnorm, NULL, KILN_OP_SYMBOLIC},
    {"LRN", 1, 1, 1, 1, lrn_attrs, infer_same, lower_lrn, NULL, KILN_OP_SYMBOLIC},
    {NULL},
};
