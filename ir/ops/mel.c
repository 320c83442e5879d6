/* MelWeightMatrix: the [dft_length / 2 + 1, num_mel_bins] matrix that maps a one-sided
 * spectrum onto triangular mel-scale filters, as ONNX's reference builds it. The two sizes
 * make the output's shape, so they are compile-time constants; the sample rate and the
 * band edges may be computed at run time. Arithmetic is f64. */
#include "ir/op.h"

#include "ir/dtype.h"

#include <math.h>

static kiln_status mel_sizes(const kiln_graph *g, const kiln_node *n, int64_t *bins,
                             int64_t *dft, kiln_error *err) {
  int count = 0, count2 = 0;
  if (kiln_const_ints(g, n, 0, bins, 1, &count, err) ||
      kiln_const_ints(g, n, 1, dft, 1, &count2, err))
    return err->code;
  const int64_t limit = (int64_t)1 << 30;
  if (count != 1 || count2 != 1 || *bins < 0 || *bins > limit || *dft < 0 || *dft > limit)
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL,
                          "num_mel_bins and dft_length must be integers >= 0");
  return KILN_OK;
}

static kiln_status infer_mel(kiln_graph *g, kiln_node *n, kiln_error *err) {
  int64_t bins, dft;
  kiln_dtype t = (kiln_dtype)kiln_attr_int(n, "output_datatype", KILN_F32);
  if (!kiln_dtype_valid(t) || t == KILN_BOOL)
    return kiln_fail_node(n, err, KILN_ERR_UNSUPPORTED, "output_datatype is not a numeric type");
  for (int i = 2; i < 5; i++) {
    const kiln_value *v = kiln_node_in(g, n, i);
    if (kiln_shape_numel(v->rank, v->dims) != 1 || v->dtype == KILN_BOOL)
      return kiln_fail_node(n, err, KILN_ERR_SHAPE,
                            "sample_rate and the band edges must be numeric scalars");
  }
  if (mel_sizes(g, n, &bins, &dft, err)) return err->code;
  int64_t dims[2] = {dft / 2 + 1, bins};
  kiln_set_out(g, n, 0, t, 2, dims);
  return KILN_OK;
}

static kiln_expr *F(kiln_kernel *k, double v) { return kx_const_f(k, KILN_F64, v); }

/* mel(hz) = 2595 log10(1 + hz / 700) */
static kiln_expr *to_mel(kiln_kernel *k, kiln_expr *hz) {
  kiln_expr *r = kx_binary(k, KB_ADD, F(k, 1), kx_binary(k, KB_DIV, hz, F(k, 700)));
  kiln_expr *l = kx_unary(k, KU_LOG, r);
  return kx_binary(k, KB_MUL, l, F(k, 2595 / log(10.0)));
}

/* The spectrum bin of mel point i of bins + 2 equal steps from low to high:
 * floor((dft + 1) * hz(i) / sample_rate). */
static kiln_expr *edge_bin(kiln_kernel *k, kiln_expr *i, kiln_expr *low, kiln_expr *step,
                           kiln_expr *dft1, kiln_expr *rate) {
  kiln_expr *mel = kx_binary(k, KB_ADD, kx_binary(k, KB_MUL, i, step), low);
  kiln_expr *e = kx_unary(k, KU_EXP, kx_binary(k, KB_MUL, mel, F(k, log(10.0) / 2595)));
  kiln_expr *hz = kx_binary(k, KB_MUL, F(k, 700), kx_binary(k, KB_SUB, e, F(k, 1)));
  return kx_unary(k, KU_FLOOR, kx_binary(k, KB_DIV, kx_binary(k, KB_MUL, dft1, hz), rate));
}

/* Filter m rises from bin l to its center cc and falls to bin h:
 *   cc <= j < h:            (h - j) / (h - cc)
 *   else l <= j <= cc:      (j - l) / (cc - l), or 1 at j = cc when l = cc
 *   else 0 */
static kiln_status lower_mel(kiln_lower_ctx *c) {
  kiln_kernel *k = c->k;
  int64_t bins, dft;
  if (mel_sizes(c->g, c->n, &bins, &dft, c->err)) return c->err->code;
  kiln_expr *v[2];
  kiln_stage *s = kiln_elementwise_stage(k, "mel_weights", c->out_buf[0], v);
  kiln_expr *in[5];
  for (int i = 2; i < 5; i++)
    in[i] = kx_cast(k, kiln_load_broadcast(k, c->in_buf[i], 2, v), KILN_F64);
  kiln_expr *low = to_mel(k, in[3]);
  kiln_expr *step = kx_binary(k, KB_DIV, kx_binary(k, KB_SUB, to_mel(k, in[4]), low),
                              F(k, (double)(bins + 2)));
  kiln_expr *dft1 = F(k, (double)dft + 1), *m = kx_cast(k, v[1], KILN_F64);
  kiln_expr *e[3];
  for (int i = 0; i < 3; i++)
    e[i] = edge_bin(k, kx_binary(k, KB_ADD, m, F(k, i)), low, step, dft1, in[2]);
  kiln_expr *l = e[0], *cc = e[1], *h = e[2], *j = kx_cast(k, v[0], KILN_F64);
  kiln_expr *fall = kx_and(k, kx_binary(k, KB_GE, j, cc), kx_binary(k, KB_LT, j, h));
  kiln_expr *rise = kx_and(k, kx_binary(k, KB_GE, j, l), kx_binary(k, KB_LE, j, cc));
  kiln_expr *flat = kx_binary(k, KB_EQ, cc, l);
  kiln_expr *up = kx_select(k, flat, F(k, 1),
                            kx_binary(k, KB_DIV, kx_binary(k, KB_SUB, j, l),
                                      kx_binary(k, KB_SUB, cc, l)));
  kiln_expr *down = kx_binary(k, KB_DIV, kx_binary(k, KB_SUB, h, j), kx_binary(k, KB_SUB, h, cc));
  kiln_expr *w = kx_select(k, fall, down, kx_select(k, rise, up, F(k, 0)));
  kiln_stage_store(k, s, v, kx_cast(k, w, k->bufs[c->out_buf[0]].dtype));
  return KILN_OK;
}

static const kiln_attr_spec mel_attrs[] = {{"output_datatype", KILN_ATTR_INT, false}, {NULL}};

const kiln_op_def kiln_ops_mel[] = {
    {"MelWeightMatrix", 5, 5, 1, 1, mel_attrs, infer_mel, lower_mel, NULL, 0},
    {NULL},
};
