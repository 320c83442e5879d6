/* FlexAttention (ai.onnx.preview 1): attention whose scores and probabilities pass through
 * the model's own subgraphs, expanded into the ops of the function ONNX defines for it:
 *
 *   Q, K scaled by sqrt(scale) each (scale: the attribute, else 1 / sqrt(head size), in
 *   f32), K and V repeated per group of query heads (GQA: head h reads K/V head h / group),
 *   scores = Q K^T, cast to softmax_precision (f64 inputs: f64; others: f32),
 *   scores = score_mod(scores), probs = Softmax(scores), probs = prob_mod(probs),
 *   Y = probs V (V cast to that precision and Y back, where it differs),
 *
 * the subgraphs inlined where their results are needed. */
#include "ir/ops/subgraph.h"

#include "ir/dtype.h"

#include <math.h>
#include <string.h>

/* K or V [B, KV, S, E] as [B, H, S, E], each of its heads read by `group` query heads */
static int repeat_heads(kiln_ex *x, int v, int64_t heads, int64_t group, int64_t e, const char *what) {
  if (group == 1) return v;
  int u = kiln_ex_binary(x, "Unsqueeze", v, kiln_ex_int1(x, 2), what);
  int shape = kiln_ex_const(x, "group", KILN_I64, 1, (int64_t[]){5}, (double[]){1, 1, (double)group, 1, 1});
  u = kiln_ex_binary(x, "Expand", u, shape, what); /* [B, KV, group, S, E] */
  /* 0 keeps the batch, -1 is the sequence: both may be free */
  return kiln_ex_reshape(x, u, 4, (int64_t[]){0, heads, -1, e}, -1, what);
}

static int cast_to(kiln_ex *x, int v, kiln_dtype from, kiln_dtype to, const char *what) {
  return from == to ? v : kiln_ex_cast(x, v, to, -1, what);
}

/* The modifier subgraph mod inlined on v, or v when there is none. */
static int modify(kiln_ex *x, kiln_block *mod, int v) {
  if (!mod) return v;
  int out = -1;
  kiln_ex_inline(x, mod, &v, &out);
  return out;
}

static kiln_status expand_flex(kiln_graph *g, kiln_block *b, int pos, kiln_error *err) {
  const kiln_node *n = &g->nodes[b->nodes[pos]];
  const kiln_value *q = kiln_node_in(g, n, 0), *k = kiln_node_in(g, n, 1), *v = kiln_node_in(g, n, 2);
  if (!q || !k || !v || q->rank != 4 || k->rank != 4 || v->rank != 4)
    return kiln_fail_node(n, err, KILN_ERR_SHAPE, "Q, K and V must be rank-4 tensors");
  kiln_dtype t = q->dtype;
  if (!kiln_dtype_is_float(t) || k->dtype != t || v->dtype != t)
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "Q, K and V must be floats of one type");
  if (q->sym[1] || k->sym[1] || q->sym[3] || k->sym[3] || v->sym[3])
    return kiln_fail_node(n, err, KILN_ERR_UNSUPPORTED, "its head counts and head sizes must be known when compiling");
  int64_t qh = q->dims[1], kvh = k->dims[1], e = q->dims[3], ev = v->dims[3];
  if (v->dims[1] != kvh || k->dims[3] != e || kvh < 1 || qh % kvh)
    return kiln_fail_node(n, err, KILN_ERR_SHAPE, "needs K and V of one head count dividing Q's, "
                          "and Q and K of one head size");
  kiln_dtype sp = (kiln_dtype)kiln_attr_int(n, "softmax_precision", t == KILN_F64 ? KILN_F64 : KILN_F32);
  if (!kiln_dtype_is_float(sp))
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "softmax_precision must be a float type");
  kiln_block *score_mod = kiln_subgraph(n, "score_mod"), *prob_mod = kiln_subgraph(n, "prob_mod");
  if ((score_mod && (score_mod->ninputs != 1 || score_mod->noutputs != 1)) ||
      (prob_mod && (prob_mod->ninputs != 1 || prob_mod->noutputs != 1)))
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "score_mod and prob_mod take one tensor and give one");
  /* the scale and its square root in f32, as the function computes them */
  float scale = kiln_node_attr(n, "scale") ? (float)kiln_attr_float(n, "scale", 1)
                                           : 1.0f / sqrtf((float)e);
  double root = (double)sqrtf(scale);
  int qi = n->inputs[0], ki = n->inputs[1], vi = n->inputs[2], out = n->outputs[0];
  kiln_ex x;
  kiln_ex_begin(&x, g, b, pos, t); /* n is stale from here; its subgraphs are not */
  int s = kiln_ex_scalar(&x, root, "scale_root");
  int kr = repeat_heads(&x, ki, qh, qh / kvh, e, "k_heads");
  int vr = repeat_heads(&x, vi, qh, qh / kvh, ev, "v_heads");
  int qs = kiln_ex_binary(&x, "Mul", qi, s, "q_scaled");
  int ks = kiln_ex_transpose(&x, kiln_ex_binary(&x, "Mul", kr, s, "k_scaled"), 4,
                             (int64_t[]){0, 1, 3, 2}, -1, "k_t");
  int scores = cast_to(&x, kiln_ex_binary(&x, "MatMul", qs, ks, "scores"), t, sp, "scores_sp");
  scores = modify(&x, score_mod, scores);
  int probs = kiln_ex_unary(&x, "Softmax", scores, "probs");
  kiln_ex_attr_i(&x, "axis", 3);
  probs = modify(&x, prob_mod, probs);
  int y = kiln_ex_binary(&x, "MatMul", probs, cast_to(&x, vr, t, sp, "v_sp"), "y");
  if (sp == t) kiln_ex_node1(&x, "Identity", &y, 1, out, "output");
  else kiln_ex_cast(&x, y, t, out, "output");
  kiln_ex_end(&x);
  return KILN_OK;
}

static const kiln_attr_spec flex_attrs[] = {
    {"prob_mod", KILN_ATTR_GRAPH, false}, {"score_mod", KILN_ATTR_GRAPH, false},
    {"scale", KILN_ATTR_FLOAT, false}, {"softmax_precision", KILN_ATTR_INT, false}, {NULL}};

const kiln_op_def kiln_ops_flex_attention[] = {
    {"FlexAttention", 3, 3, 1, 1, flex_attrs, kiln_infer_resolved, NULL, expand_flex, KILN_OP_RESOLVE},
    {NULL},
};
