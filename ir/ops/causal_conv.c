/* CausalConvWithState (opset 27), the short convolution of Mamba and Gated DeltaNet: a
 * depthwise 1-D convolution of X [B, C, L] by W [C, 1, K] that sees only the current and
 * past positions, the K - 1 before X coming from past_state [B, C, K - 1] (zeros without
 * it), with an optional bias and a fused SiLU. present_state is the last K - 1 positions of
 * past and X together, for the next decoding step. Expanded like ONNX's reference:
 *
 *     padded = Concat(past_state, X) or X zero-padded on the left    [B, C, K - 1 + L]
 *     y      = Conv(padded, W, bias, group = C), then y * Sigmoid(y) (f32 for halves)
 *     present_state = padded[:, :, L:] */
#include "ir/ops/expand.h"

#include "ir/dtype.h"

#include <string.h>

/* 1 with a SiLU, 0 without, -1 for an unknown activation. */
static int silu_of(const kiln_node *n) {
  const char *a = kiln_attr_str(n, "activation", "none");
  if (!strcmp(a, "none")) return 0;
  return !strcmp(a, "silu") || !strcmp(a, "swish") ? 1 : -1;
}

static kiln_status infer_causal_conv(kiln_graph *g, kiln_node *n, kiln_error *err) {
  const kiln_value *x = kiln_node_in(g, n, 0), *w = kiln_node_in(g, n, 1);
  const kiln_value *b = kiln_node_in(g, n, 2), *past = kiln_node_in(g, n, 3);
  if (silu_of(n) < 0)
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "activation must be none, silu or swish");
  if (x->rank != 3 || !kiln_dtype_is_float(x->dtype))
    return kiln_fail_node(n, err, KILN_ERR_SHAPE, "input must be floats [B, C, L]");
  int64_t c = x->dims[1];
  if (w->rank != 3 || w->dims[0] != c || w->dims[1] != 1 || w->dims[2] < 1 || w->dtype != x->dtype)
    return kiln_fail_node(n, err, KILN_ERR_SHAPE, "weight must be [C, 1, K] of the input's type");
  int64_t k = w->dims[2];
  if (b && (b->rank != 1 || b->dims[0] != c || b->dtype != x->dtype))
    return kiln_fail_node(n, err, KILN_ERR_SHAPE, "bias must be [C] of the input's type");
  if (past && (past->rank != 3 || past->dims[0] != x->dims[0] || past->dims[1] != c ||
               past->dims[2] != k - 1 || past->dtype != x->dtype))
    return kiln_fail_node(n, err, KILN_ERR_SHAPE, "past_state must be [B, C, K - 1] of the input's type");
  kiln_set_out(g, n, 0, x->dtype, 3, x->dims);
  if (n->noutputs > 1) kiln_set_out(g, n, 1, x->dtype, 3, (int64_t[]){x->dims[0], c, k - 1});
  return KILN_OK;
}

static kiln_status expand_causal_conv(kiln_graph *g, kiln_block *blk, int pos, kiln_error *err) {
  (void)err;
  const kiln_node *n = &g->nodes[blk->nodes[pos]];
  int in[4], out[2];
  for (int i = 0; i < 4; i++) in[i] = i < n->ninputs ? n->inputs[i] : -1;
  for (int i = 0; i < 2; i++) out[i] = i < n->noutputs ? n->outputs[i] : -1;
  const kiln_value *xv = &g->values[in[0]];
  kiln_dtype t = xv->dtype;
  int64_t c = xv->dims[1], len = xv->dims[2], k = g->values[in[1]].dims[2];
  bool silu = silu_of(n) == 1;
  kiln_ex x;
  kiln_ex_begin(&x, g, blk, pos, t); /* n is invalid from here */
  int padded = in[0];
  if (in[3] >= 0) {
    padded = kiln_ex_node1(&x, "Concat", (int[]){in[3], in[0]}, 2, -1, "padded");
    kiln_ex_attr_i(&x, "axis", 2);
  } else if (k > 1) {
    double pads[6] = {0, 0, (double)(k - 1), 0, 0, 0};
    int p = kiln_ex_const(&x, "pads", KILN_I64, 1, (int64_t[]){6}, pads);
    padded = kiln_ex_node1(&x, "Pad", (int[]){in[0], p}, 2, -1, "padded");
  }
  int conv_in[3] = {padded, in[1], in[2]};
  int y = kiln_ex_node1(&x, "Conv", conv_in, in[2] >= 0 ? 3 : 2, silu ? -1 : out[0], "conv");
  kiln_ex_attr_i(&x, "group", c);
  kiln_ex_attr_ints(&x, "kernel_shape", 1, (int64_t[]){k});
  if (silu) {
    bool half = t == KILN_F16 || t == KILN_BF16;
    if (half) y = kiln_ex_cast(&x, y, KILN_F32, -1, "conv_f32");
    int s = kiln_ex_unary(&x, "Sigmoid", y, "sigmoid");
    y = kiln_ex_node1(&x, "Mul", (int[]){y, s}, 2, half ? -1 : out[0], "silu");
    if (half) kiln_ex_cast(&x, y, t, out[0], "output");
  }
  if (out[1] >= 0) {
    int sl[3] = {padded, kiln_ex_int1(&x, len), kiln_ex_int1(&x, len + k - 1)};
    int ax = kiln_ex_int1(&x, 2);
    kiln_ex_node1(&x, "Slice", (int[]){sl[0], sl[1], sl[2], ax}, 4, out[1], "present_state");
  }
  kiln_ex_end(&x);
  return KILN_OK;
}

static const kiln_attr_spec causal_conv_attrs[] = {{"activation", KILN_ATTR_STRING, false}, {NULL}};

const kiln_op_def kiln_ops_causal_conv[] = {
    {"CausalConvWithState", 2, 4, 1, 2, causal_conv_attrs, infer_causal_conv, NULL,
     expand_causal_conv, 0},
    {NULL},
};
