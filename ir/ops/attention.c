/* Attention (opsets 23-25): scaled dot-product attention, expanded into the ops ONNX's
 * function body and reference use, in their order:
 *
 *   Q, K, V 3-D [B, S, heads x size] -> 4-D [B, heads, S, size] (Reshape, Transpose)
 *   K, V after past_key / past_value along the sequence (present_key / present_value)
 *   K, V heads repeated for grouped queries (q_num_heads a multiple of kv_num_heads)
 *   scores = (Q sqrt(scale)) (K sqrt(scale))^T, softcap c tanh(scores / c) when c > 0
 *   bias   = attn_mask (bool: 0 or -inf; shorter than the keys: -inf past its end)
 *          + causal (key j <= query i + offset) + window (offset + i - j within
 *            [-right, left]) + padding (j < nonpad_kv_seqlen[b]), each 0 or -inf;
 *            offset the past's length, nonpad_kv_seqlen[b] - S_q, or 0
 *   P      = Softmax(scores + bias) in softmax_precision, rows whose bias is all -inf
 *            zero (no key to attend); Y = P V, back to 3-D for 3-D inputs
 *   qk_matmul_output: the scores (modes 0, 1), with the bias (2), or P (3).
 * f16 and bf16 inputs are computed in f32, rounded once at the outputs.
 * Shapes must be static (the expansion reshapes by constants).
 *
 * RotaryEmbedding (opset 23), one elementwise stage: along the head's first R dims (R =
 * rotary_embedding_dim, else the head size), pairs (x1, x2) of entries, the two halves or
 * (interleaved) neighbours, turn by the angle of the token's position j:
 *   x1' = cos x1 - sin x2,  x2' = sin x1 + cos x2,  cos and sin of cache row
 * position_ids[b, s] (checked against the cache's rows), or without position_ids the
 * caches' own [b, s] row; the rest of the head is copied. */
#include "ir/op.h"

#include "ir/dtype.h"
#include "ir/ops/expand.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct att {
  int64_t b, qh, kvh, sq, skv, past, hd, vhd; /* skv: keys with the past */
  bool three_d;
} att;

static kiln_status att_plan(const kiln_graph *g, const kiln_node *n, att *a, kiln_error *err) {
  const kiln_value *q = kiln_node_in(g, n, 0), *k = kiln_node_in(g, n, 1), *v = kiln_node_in(g, n, 2);
  const kiln_value *pk = kiln_node_in(g, n, 4), *pv = kiln_node_in(g, n, 5), *np = kiln_node_in(g, n, 6);
  const kiln_value *mask = kiln_node_in(g, n, 3);
  memset(a, 0, sizeof *a);
  if (q->rank != k->rank || q->rank != v->rank || (q->rank != 3 && q->rank != 4))
    return kiln_fail_node(n, err, KILN_ERR_SHAPE, "Q, K and V must all be 3-D or all 4-D");
  if (!kiln_dtype_is_float(q->dtype) || k->dtype != q->dtype || v->dtype != q->dtype)
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "Q, K and V must be floats of one type");
  a->three_d = q->rank == 3;
  a->b = q->dims[0];
  if (a->three_d) {
    a->qh = kiln_attr_int(n, "q_num_heads", 0);
    a->kvh = kiln_attr_int(n, "kv_num_heads", 0);
    if (a->qh < 1 || a->kvh < 1 || q->dims[2] % a->qh || k->dims[2] % a->kvh || v->dims[2] % a->kvh)
      return kiln_fail_node(n, err, KILN_ERR_SHAPE, "3-D inputs need q_num_heads and kv_num_heads "
                            "dividing their hidden sizes");
    a->sq = q->dims[1];
    a->skv = k->dims[1];
    a->hd = q->dims[2] / a->qh;
    a->vhd = v->dims[2] / a->kvh;
    if (k->dims[2] / a->kvh != a->hd || v->dims[1] != a->skv)
      return kiln_fail_node(n, err, KILN_ERR_SHAPE, "K's head size or V's length disagrees with Q and K");
  } else {
    if (kiln_node_attr(n, "q_num_heads") || kiln_node_attr(n, "kv_num_heads"))
      return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL,
                            "q_num_heads and kv_num_heads are for 3-D inputs only");
    a->qh = q->dims[1];
    a->kvh = k->dims[1];
    a->sq = q->dims[2];
    a->skv = k->dims[2];
    a->hd = q->dims[3];
    a->vhd = v->dims[3];
    if (k->dims[3] != a->hd || v->dims[1] != a->kvh || v->dims[2] != a->skv)
      return kiln_fail_node(n, err, KILN_ERR_SHAPE, "K's head size or V's heads and length disagree");
  }
  if (k->dims[0] != a->b || v->dims[0] != a->b || a->qh % a->kvh)
    return kiln_fail_node(n, err, KILN_ERR_SHAPE, "batch sizes differ, or q heads are not a "
                          "multiple of kv heads");
  if (!pk != !pv) return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "past_key and past_value go together");
  if (pk && np)
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "nonpad_kv_seqlen with a past cache");
  if (pk) {
    if (pk->rank != 4 || pv->rank != 4 || pk->dtype != q->dtype || pv->dtype != q->dtype ||
        pk->dims[0] != a->b || pk->dims[1] != a->kvh || pk->dims[3] != a->hd ||
        pv->dims[0] != a->b || pv->dims[1] != a->kvh || pv->dims[2] != pk->dims[2] ||
        pv->dims[3] != a->vhd)
      return kiln_fail_node(n, err, KILN_ERR_SHAPE, "past_key / past_value must be [B, kv heads, "
                            "past, head size] of Q's type");
    a->past = pk->dims[2];
    a->skv += a->past;
  }
  if (np && (np->dtype != KILN_I64 || np->rank != 1 || np->dims[0] != a->b))
    return kiln_fail_node(n, err, KILN_ERR_SHAPE, "nonpad_kv_seqlen must be int64 [batch]");
  if (mask) {
    if (mask->dtype != KILN_BOOL && mask->dtype != q->dtype)
      return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "attn_mask must be bool or Q's type");
    if (mask->rank < 1 || mask->rank > 4 || mask->dims[mask->rank - 1] > a->skv)
      return kiln_fail_node(n, err, KILN_ERR_SHAPE, "attn_mask must have rank 1 to 4 and at most "
                            "as many keys as K");
    int64_t full[4] = {a->b, a->qh, a->sq, mask->dims[mask->rank - 1]};
    for (int d = 0; d < mask->rank - 1; d++) {
      int64_t m = mask->dims[d], f = full[4 - mask->rank + d];
      if (m != 1 && m != f)
        return kiln_fail_node(n, err, KILN_ERR_SHAPE, "attn_mask does not broadcast to [B, heads, "
                              "S_q, keys]");
    }
  }
  if (kiln_attr_int(n, "left_window_size", -1) < -1 || kiln_attr_int(n, "right_window_size", -1) < -1)
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "window sizes must be -1 or more");
  int64_t mode = kiln_attr_int(n, "qk_matmul_output_mode", 0);
  if (mode < 0 || mode > 3) return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "qk_matmul_output_mode is 0 to 3");
  int64_t sp = kiln_attr_int(n, "softmax_precision", 0);
  if (sp && sp != KILN_F32 && sp != KILN_F16 && sp != KILN_F64 && sp != KILN_BF16)
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "softmax_precision must be a float type");
  return KILN_OK;
}

static kiln_status infer_attention(kiln_graph *g, kiln_node *n, kiln_error *err) {
  att a;
  if (att_plan(g, n, &a, err)) return err->code;
  kiln_dtype t = kiln_node_in(g, n, 0)->dtype;
  int64_t y3[3] = {a.b, a.sq, a.qh * a.vhd}, y4[4] = {a.b, a.qh, a.sq, a.vhd};
  int64_t pk[4] = {a.b, a.kvh, a.skv, a.hd}, pv[4] = {a.b, a.kvh, a.skv, a.vhd};
  int64_t qk[4] = {a.b, a.qh, a.sq, a.skv};
  kiln_set_out(g, n, 0, t, a.three_d ? 3 : 4, a.three_d ? y3 : y4);
  if (n->noutputs > 1) kiln_set_out(g, n, 1, t, 4, pk);
  if (n->noutputs > 2) kiln_set_out(g, n, 2, t, 4, pv);
  if (n->noutputs > 3) kiln_set_out(g, n, 3, t, 4, qk);
  return KILN_OK;
}

static int shape_const(kiln_ex *x, int rank, const int64_t *dims) {
  double v[8];
  for (int i = 0; i < rank; i++) v[i] = (double)dims[i];
  return kiln_ex_const(x, "shape", KILN_I64, 1, (int64_t[]){rank}, v);
}

/* [B, S, heads x size] -> [B, heads, S, size] */
static int to_4d(kiln_ex *x, int v, int64_t b, int64_t s, int64_t heads, int64_t size,
                 const char *what) {
  int r = kiln_ex_reshape(x, v, 4, (int64_t[]){b, s, heads, size}, -1, what);
  return kiln_ex_transpose(x, r, 4, (int64_t[]){0, 2, 1, 3}, -1, what);
}

/* kv [B, kvh, S, size] with each head repeated r times in place: [B, kvh r, S, size] */
static int repeat_heads(kiln_ex *x, const att *a, int kv, int64_t size, const char *what) {
  int64_t r = a->qh / a->kvh;
  int u = kiln_ex_reshape(x, kv, 5, (int64_t[]){a->b, a->kvh, 1, a->skv, size}, -1, what);
  int e = kiln_ex_node1(x, "Expand", (int[]){u, shape_const(x, 5, (int64_t[]){a->b, a->kvh, r, a->skv, size})},
                        2, -1, what);
  return kiln_ex_reshape(x, e, 4, (int64_t[]){a->b, a->qh, a->skv, size}, -1, what);
}

/* 0, 1, ..., n - 1 (i64) */
static int positions(kiln_ex *x, int64_t n, const char *what) {
  int ins[3] = {kiln_ex_i64(x, 0, "i"), kiln_ex_i64(x, n, "i"), kiln_ex_i64(x, 1, "i")};
  return kiln_ex_node1(x, "Range", ins, 3, -1, what);
}

/* 0 where allowed, else -inf, of the builder's type */
static int to_bias(kiln_ex *x, int allowed, const char *what) {
  int zero = kiln_ex_scalar(x, 0, "zero"), ninf = kiln_ex_scalar(x, -INFINITY, "neg_inf");
  return kiln_ex_node1(x, "Where", (int[]){allowed, zero, ninf}, 3, -1, what);
}

static int add(kiln_ex *x, int a, int b, const char *what) {
  return a < 0 ? b : kiln_ex_binary(x, "Add", a, b, what);
}

/* v, of the builder's type, into out of type t */
static void qk_output(kiln_ex *x, int v, kiln_dtype t, int out) {
  if (t != x->t) kiln_ex_cast(x, v, t, out, "qk");
  else kiln_ex_node1(x, "Identity", &v, 1, out, "qk");
}

static kiln_status expand_attention(kiln_graph *g, kiln_block *blk, int pos, kiln_error *err) {
  const kiln_node *n = &g->nodes[blk->nodes[pos]];
  att a;
  if (att_plan(g, n, &a, err)) return err->code;
  int in[7], out[4];
  for (int i = 0; i < 7; i++) in[i] = i < n->ninputs ? n->inputs[i] : -1;
  for (int i = 0; i < 4; i++) out[i] = i < n->noutputs ? n->outputs[i] : -1;
  kiln_dtype t = g->values[in[0]].dtype;
  /* 16-bit inputs are computed in f32 and rounded once, at the outputs, as onnxruntime's
   * f32 kernel gives them: rounding every step, as ONNX's reference does, doubles the error
   * against the exact result */
  bool half = t == KILN_F16 || t == KILN_BF16;
  kiln_dtype ct = half ? KILN_F32 : t;
  bool bool_mask = in[3] >= 0 && g->values[in[3]].dtype == KILN_BOOL;
  int64_t mask_keys = in[3] >= 0 ? g->values[in[3]].dims[g->values[in[3]].rank - 1] : 0;
  int mask_rank = in[3] >= 0 ? g->values[in[3]].rank : 0;
  bool causal = kiln_attr_int(n, "is_causal", 0) != 0;
  int64_t left = kiln_attr_int(n, "left_window_size", -1), right = kiln_attr_int(n, "right_window_size", -1);
  int64_t mode = kiln_attr_int(n, "qk_matmul_output_mode", 0);
  kiln_dtype sp = (kiln_dtype)kiln_attr_int(n, "softmax_precision", 0);
  double softcap = kiln_attr_float(n, "softcap", 0.0);
  double scale = kiln_node_attr(n, "scale") ? kiln_attr_float(n, "scale", 1.0) : 1.0 / sqrt((double)a.hd);

  kiln_ex x;
  kiln_ex_begin(&x, g, blk, pos, ct); /* n is invalid from here */
  int q = in[0], k = in[1], v = in[2];
  if (a.three_d) {
    q = to_4d(&x, q, a.b, a.sq, a.qh, a.hd, "q4");
    k = to_4d(&x, k, a.b, a.skv - a.past, a.kvh, a.hd, "k4");
    v = to_4d(&x, v, a.b, a.skv - a.past, a.kvh, a.vhd, "v4");
  }
  if (in[4] >= 0) {
    k = kiln_ex_node1(&x, "Concat", (int[]){in[4], k}, 2, out[1], "present_key");
    kiln_ex_attr_i(&x, "axis", 2);
    v = kiln_ex_node1(&x, "Concat", (int[]){in[5], v}, 2, out[2], "present_value");
    kiln_ex_attr_i(&x, "axis", 2);
  } else {
    if (out[1] >= 0) kiln_ex_node1(&x, "Identity", &k, 1, out[1], "present_key");
    if (out[2] >= 0) kiln_ex_node1(&x, "Identity", &v, 1, out[2], "present_value");
  }
  if (half) {
    q = kiln_ex_cast(&x, q, ct, -1, "q_f32");
    k = kiln_ex_cast(&x, k, ct, -1, "k_f32");
    v = kiln_ex_cast(&x, v, ct, -1, "v_f32");
  }
  if (a.qh != a.kvh) {
    k = repeat_heads(&x, &a, k, a.hd, "k_rep");
    v = repeat_heads(&x, &a, v, a.vhd, "v_rep");
  }

  /* the bias, each part 0 or -inf, broadcast to [B, heads, S_q, S_kv] */
  int bias = -1;
  if (in[3] >= 0) {
    int m = bool_mask ? to_bias(&x, in[3], "mask_bias")
            : half    ? kiln_ex_cast(&x, in[3], ct, -1, "mask_f32")
                      : in[3];
    if (mask_keys < a.skv) { /* keys past the mask's end: -inf */
      int64_t pads[8] = {0};
      pads[2 * mask_rank - 1] = a.skv - mask_keys;
      double pv[8];
      for (int i = 0; i < 2 * mask_rank; i++) pv[i] = (double)pads[i];
      int p = kiln_ex_const(&x, "pads", KILN_I64, 1, (int64_t[]){2 * mask_rank}, pv);
      m = kiln_ex_node1(&x, "Pad", (int[]){m, p, kiln_ex_scalar(&x, -INFINITY, "neg_inf")}, 3, -1,
                        "mask_padded");
    }
    bias = m;
  }
  bool windowed = left >= 0 || right >= 0;
  if (causal || windowed) {
    /* diff = i + offset - j: offset a scalar, or [B, 1, 1, 1] from nonpad_kv_seqlen */
    int i = positions(&x, a.sq, "qi");
    i = kiln_ex_binary(&x, "Unsqueeze", i, kiln_ex_int1(&x, 1), "qi");
    int j = positions(&x, a.skv, "kj");
    int off;
    if (in[6] >= 0) {
      off = kiln_ex_binary(&x, "Sub", in[6], kiln_ex_i64(&x, a.sq, "i"), "offset");
      off = kiln_ex_reshape(&x, off, 4, (int64_t[]){a.b, 1, 1, 1}, -1, "offset");
    } else {
      off = kiln_ex_i64(&x, a.past, "i");
    }
    int diff = kiln_ex_binary(&x, "Sub", kiln_ex_binary(&x, "Add", i, off, "pos"), j, "diff");
    int allowed = -1;
    if (causal) allowed = kiln_ex_binary(&x, "GreaterOrEqual", diff, kiln_ex_i64(&x, 0, "i"), "causal");
    if (left >= 0) {
      int l = kiln_ex_binary(&x, "LessOrEqual", diff, kiln_ex_i64(&x, left, "i"), "left");
      allowed = allowed < 0 ? l : kiln_ex_binary(&x, "And", allowed, l, "allowed");
    }
    if (right >= 0) {
      int r = kiln_ex_binary(&x, "GreaterOrEqual", diff, kiln_ex_i64(&x, -right, "i"), "right");
      allowed = allowed < 0 ? r : kiln_ex_binary(&x, "And", allowed, r, "allowed");
    }
    bias = add(&x, bias, to_bias(&x, allowed, "window_bias"), "bias");
  }
  if (in[6] >= 0) { /* keys at or past nonpad_kv_seqlen[b] */
    int j = positions(&x, a.skv, "kj");
    int len = kiln_ex_reshape(&x, in[6], 4, (int64_t[]){a.b, 1, 1, 1}, -1, "nonpad");
    bias = add(&x, bias, to_bias(&x, kiln_ex_binary(&x, "Less", j, len, "valid"), "pad_bias"), "bias");
  }

  double s = sqrt(scale);
  int sq = kiln_ex_scalar(&x, s, "scale_sqrt");
  int qs = kiln_ex_binary(&x, "Mul", q, sq, "q_scaled");
  int ks = kiln_ex_binary(&x, "Mul", k, sq, "k_scaled");
  int kt = kiln_ex_transpose(&x, ks, 4, (int64_t[]){0, 1, 3, 2}, -1, "k_t");
  int scores = kiln_ex_binary(&x, "MatMul", qs, kt, "scores");
  if (softcap > 0) {
    int c = kiln_ex_scalar(&x, softcap, "softcap");
    scores = kiln_ex_binary(&x, "Mul", kiln_ex_unary(&x, "Tanh", kiln_ex_binary(&x, "Div", scores, c, "capped"),
                                                       "capped"), c, "capped");
  }
  int logits = bias >= 0 ? kiln_ex_binary(&x, "Add", scores, bias, "logits") : scores;
  if (out[3] >= 0 && mode < 3) qk_output(&x, mode == 2 ? logits : scores, t, out[3]);
  if (sp && sp != ct) logits = kiln_ex_cast(&x, logits, sp, -1, "logits_sp");
  int p = kiln_ex_unary(&x, "Softmax", logits, "probs");
  kiln_ex_attr_i(&x, "axis", -1);
  if (sp && sp != ct) p = kiln_ex_cast(&x, p, ct, -1, "probs_t");
  if (bias >= 0) { /* rows with no key to attend: 0, not NaN */
    int mx = kiln_ex_binary(&x, "ReduceMax", bias, kiln_ex_int1(&x, -1), "bias_max");
    int none = kiln_ex_binary(&x, "Equal", mx, kiln_ex_scalar(&x, -INFINITY, "neg_inf"), "masked_row");
    p = kiln_ex_node1(&x, "Where", (int[]){none, kiln_ex_scalar(&x, 0, "zero"), p}, 3, -1, "probs");
  }
  if (out[3] >= 0 && mode == 3) qk_output(&x, p, t, out[3]);
  int y = kiln_ex_binary(&x, "MatMul", p, v, "y4");
  if (half) y = kiln_ex_cast(&x, y, t, -1, "y_round");
  if (a.three_d) {
    y = kiln_ex_transpose(&x, y, 4, (int64_t[]){0, 2, 1, 3}, -1, "y_t");
    kiln_ex_reshape(&x, y, 3, (int64_t[]){a.b, a.sq, a.qh * a.vhd}, out[0], "y");
  } else {
    kiln_ex_node1(&x, "Identity", &y, 1, out[0], "y");
  }
  kiln_ex_end(&x);
  return KILN_OK;
}

/* ---- RotaryEmbedding ---------------------------------------------------------------- */

typedef struct rope {
  int64_t b, s, h, d, r; /* batch, sequence, heads, head size, rotated dims */
  bool three_d, ids;
} rope;

static kiln_status rope_plan(const kiln_graph *g, const kiln_node *n, rope *p, kiln_error *err) {
  const kiln_value *x = kiln_node_in(g, n, 0), *cs = kiln_node_in(g, n, 1), *sn = kiln_node_in(g, n, 2);
  const kiln_value *ids = kiln_node_in(g, n, 3);
  memset(p, 0, sizeof *p);
  if (!kiln_dtype_is_float(x->dtype) || cs->dtype != x->dtype || sn->dtype != x->dtype)
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "X and the caches must be floats of one type");
  p->three_d = x->rank == 3;
  if (x->rank == 4) {
    p->b = x->dims[0], p->h = x->dims[1], p->s = x->dims[2], p->d = x->dims[3];
  } else if (x->rank == 3) {
    p->h = kiln_attr_int(n, "num_heads", 0);
    if (p->h < 1 || x->dims[2] % p->h)
      return kiln_fail_node(n, err, KILN_ERR_SHAPE, "a 3-D X needs num_heads dividing its last dim");
    p->b = x->dims[0], p->s = x->dims[1], p->d = x->dims[2] / p->h;
  } else {
    return kiln_fail_node(n, err, KILN_ERR_SHAPE, "X must be 3-D or 4-D");
  }
  p->r = kiln_attr_int(n, "rotary_embedding_dim", 0);
  if (!p->r) p->r = p->d;
  if (p->r < 2 || p->r > p->d || p->r % 2)
    return kiln_fail_node(n, err, KILN_ERR_SHAPE, "rotary_embedding_dim must be even and at most the head size");
  p->ids = ids != NULL;
  if (ids && (!kiln_dtype_is_int(ids->dtype) || ids->rank != 2 || ids->dims[0] != p->b ||
              ids->dims[1] != p->s))
    return kiln_fail_node(n, err, KILN_ERR_SHAPE, "position_ids must be integers [batch, sequence]");
  bool ok = cs->rank == sn->rank && memcmp(cs->dims, sn->dims, sizeof(int64_t) * (size_t)cs->rank) == 0;
  if (ids) ok = ok && cs->rank == 2 && cs->dims[0] >= 1 && cs->dims[1] == p->r / 2;
  else ok = ok && cs->rank == 3 && cs->dims[0] == p->b && cs->dims[1] == p->s && cs->dims[2] == p->r / 2;
  if (!ok)
    return kiln_fail_node(n, err, KILN_ERR_SHAPE, "cos_cache and sin_cache must be [positions, R/2] "
                          "with position_ids, else [batch, sequence, R/2]");
  return KILN_OK;
}

static kiln_status infer_rope(kiln_graph *g, kiln_node *n, kiln_error *err) {
  rope p;
  if (rope_plan(g, n, &p, err)) return err->code;
  const kiln_value *x = kiln_node_in(g, n, 0);
  kiln_set_out(g, n, 0, x->dtype, x->rank, x->dims);
  return KILN_OK;
}

static kiln_status lower_rope(kiln_lower_ctx *c) {
  rope p;
  if (rope_plan(c->g, c->n, &p, c->err)) return c->err->code;
  kiln_kernel *k = c->k;
  bool inter = kiln_attr_int(c->n, "interleaved", 0) != 0;
  kiln_expr *v[4], *xi[4];
  kiln_stage *s = kiln_elementwise_stage(k, "rotary", c->out_buf[0], v);
  /* batch, sequence, and the dim within the head, d */
  kiln_expr *b = v[0], *sq, *d, *base; /* base: X's last index less d */
  if (p.three_d) {
    sq = v[1];
    d = kx_binary(k, KB_MOD, v[2], kx_idx(k, p.d));
    base = kx_binary(k, KB_SUB, v[2], d);
  } else {
    sq = v[2];
    d = v[3];
    base = kx_idx(k, 0);
  }
  int64_t half = p.r / 2;
  kiln_expr *first, *partner, *j; /* first: d holds x1 of its pair */
  if (inter) {
    first = kx_binary(k, KB_EQ, kx_binary(k, KB_MOD, d, kx_idx(k, 2)), kx_idx(k, 0));
    partner = kx_select(k, first, kx_binary(k, KB_MIN, kx_addi(k, d, 1), kx_idx(k, p.d - 1)),
                        kx_addi(k, d, -1));
    j = kx_binary(k, KB_DIV, d, kx_idx(k, 2));
  } else {
    first = kx_binary(k, KB_LT, d, kx_idx(k, half));
    partner = kx_select(k, first, kx_addi(k, d, half), kx_addi(k, d, -half));
    j = kx_select(k, first, d, kx_addi(k, d, -half));
  }
  j = kx_binary(k, KB_MIN, j, kx_idx(k, half - 1)); /* past R: not used, kept in the cache */
  memcpy(xi, v, sizeof xi);
  int last = p.three_d ? 2 : 3;
  kiln_expr *xv = kx_load(k, c->in_buf[0], v);
  xi[last] = kx_add(k, base, partner);
  kiln_expr *xp = kx_load(k, c->in_buf[0], xi);
  kiln_expr *ci[3]; /* the caches' index: [row, j], or [b, s, j] */
  if (p.ids) {
    kiln_expr *pi[2] = {b, sq};
    kiln_expr *row = kx_cast(k, kx_load(k, c->in_buf[3], pi), KILN_I64);
    int64_t rows = k->bufs[c->in_buf[1]].dims[0];
    ci[0] = kiln_checked_index(c, 3, row, rows), ci[1] = j;
  } else {
    ci[0] = b, ci[1] = sq, ci[2] = j;
  }
  kiln_expr *cv = kx_load(k, c->in_buf[1], ci), *sv = kx_load(k, c->in_buf[2], ci);
  /* x1' = cos x1 - sin x2 (d first), x2' = sin x1 + cos x2 (xp is x1) */
  kiln_expr *y1 = kx_binary(k, KB_SUB, kx_binary(k, KB_MUL, cv, xv), kx_binary(k, KB_MUL, sv, xp));
  kiln_expr *y2 = kx_binary(k, KB_ADD, kx_binary(k, KB_MUL, sv, xp), kx_binary(k, KB_MUL, cv, xv));
  kiln_expr *y = kx_select(k, first, y1, y2);
  kiln_stage_store(k, s, v, kx_select(k, kx_binary(k, KB_LT, d, kx_idx(k, p.r)), y, xv));
  return KILN_OK;
}

static const kiln_attr_spec rope_attrs[] = {
    {"interleaved", KILN_ATTR_INT, false}, {"num_heads", KILN_ATTR_INT, false},
    {"rotary_embedding_dim", KILN_ATTR_INT, false}, {NULL}};

static const kiln_attr_spec attention_attrs[] = {
    {"is_causal", KILN_ATTR_INT, false},         {"kv_num_heads", KILN_ATTR_INT, false},
    {"q_num_heads", KILN_ATTR_INT, false},       {"qk_matmul_output_mode", KILN_ATTR_INT, false},
    {"scale", KILN_ATTR_FLOAT, false},           {"softcap", KILN_ATTR_FLOAT, false},
    {"softmax_precision", KILN_ATTR_INT, false}, {"left_window_size", KILN_ATTR_INT, false},
    {"right_window_size", KILN_ATTR_INT, false}, {NULL}};

const kiln_op_def kiln_ops_attention[] = {
    {"Attention", 3, 7, 1, 4, attention_attrs, infer_attention, NULL, expand_attention, 0},
    {"RotaryEmbedding", 3, 4, 1, 1, rope_attrs, infer_rope, lower_rope, NULL, 0},
    {NULL},
};
