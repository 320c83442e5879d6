/* LinearAttention (opset 27): the recurrent state S [B, Hkv, dk, dv] of linear attention,
 * Gated DeltaNet and their kin, updated token by token and read by the queries:
 *
 *     gated rules:  S <- exp(g_t) * S                  (g_t per key dim or per head)
 *     delta rules:  v_t <- beta_t * (v_t - S^T k_t)
 *     every rule:   S <- S + k_t (x) v_t;    o_t = scale * q_t^T S
 *
 * with each query head reading the state of its key/value head (GQA: Hq / Hkv query heads
 * share one). Expanded like ONNX's reference, in f32 whatever the inputs' type, one step per
 * token: the sequence length must be known at compile time, and the graph grows with it
 * (about 15 nodes a token), as kiln's RNN expansions do. */
#include "ir/ops/expand.h"

#include "ir/dtype.h"

#include <math.h>
#include <string.h>

typedef struct la {
  int64_t b, t, qh, kvh, dk, dv;
  int64_t decay_last, beta_last; /* 0: no such input */
  bool gated, delta;
} la;

static kiln_status la_plan(const kiln_graph *g, const kiln_node *n, la *a, kiln_error *err) {
  memset(a, 0, sizeof *a);
  const char *rule = kiln_attr_str(n, "update_rule", "gated_delta");
  if (!strcmp(rule, "gated") || !strcmp(rule, "gated_delta")) a->gated = true;
  if (!strcmp(rule, "delta") || !strcmp(rule, "gated_delta")) a->delta = true;
  if (!a->gated && !a->delta && strcmp(rule, "linear"))
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL,
                          "update_rule must be linear, gated, delta or gated_delta");
  a->qh = kiln_attr_int(n, "q_num_heads", 0);
  a->kvh = kiln_attr_int(n, "kv_num_heads", 0);
  if (a->qh <= 0 || a->kvh <= 0 || a->qh % a->kvh)
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL,
                          "q_num_heads must be a positive multiple of kv_num_heads (both required)");
  const kiln_value *q = kiln_node_in(g, n, 0), *k = kiln_node_in(g, n, 1), *v = kiln_node_in(g, n, 2);
  const kiln_value *past = kiln_node_in(g, n, 3), *decay = kiln_node_in(g, n, 4),
                   *beta = kiln_node_in(g, n, 5);
  if (!kiln_dtype_is_float(q->dtype) || k->dtype != q->dtype || v->dtype != q->dtype)
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL, "query, key and value must be floats of one type");
  if (q->rank != 3 || k->rank != 3 || v->rank != 3 || k->dims[0] != q->dims[0] ||
      v->dims[0] != q->dims[0] || k->dims[1] != q->dims[1] || v->dims[1] != q->dims[1] ||
      q->dims[2] % a->qh || k->dims[2] % a->kvh || v->dims[2] % a->kvh ||
      q->dims[2] / a->qh != k->dims[2] / a->kvh)
    return kiln_fail_node(n, err, KILN_ERR_SHAPE,
                          "query, key and value must be [B, T, heads x size] with the heads given and "
                          "query's size equal to key's");
  a->b = q->dims[0], a->t = q->dims[1];
  a->dk = q->dims[2] / a->qh, a->dv = v->dims[2] / a->kvh;
  if (a->gated != (decay != NULL) || a->delta != (beta != NULL))
    return kiln_fail_node(n, err, KILN_ERR_INVALID_MODEL,
                          "decay is for the gated rules only and beta for the delta rules, each required there");
  if (past && (past->rank != 4 || past->dims[0] != a->b || past->dims[1] != a->kvh ||
               past->dims[2] != a->dk || past->dims[3] != a->dv || !kiln_dtype_is_float(past->dtype)))
    return kiln_fail_node(n, err, KILN_ERR_SHAPE, "past_state must be floats [B, kv_num_heads, dk, dv]");
  if (decay) {
    a->decay_last = decay->dims[decay->rank - 1];
    if (decay->rank != 3 || decay->dims[0] != a->b || decay->dims[1] != a->t ||
        (a->decay_last != a->kvh && a->decay_last != a->kvh * a->dk) || decay->dtype != q->dtype)
      return kiln_fail_node(n, err, KILN_ERR_SHAPE,
                            "decay must be [B, T, kv_num_heads] or [B, T, kv_num_heads x dk] of query's type");
  }
  if (beta) {
    a->beta_last = beta->dims[beta->rank - 1];
    if (beta->rank != 3 || beta->dims[0] != a->b || beta->dims[1] != a->t ||
        (a->beta_last != a->kvh && a->beta_last != 1) || beta->dtype != q->dtype)
      return kiln_fail_node(n, err, KILN_ERR_SHAPE,
                            "beta must be [B, T, kv_num_heads] or [B, T, 1] of query's type");
  }
  return KILN_OK;
}

static kiln_status infer_la(kiln_graph *g, kiln_node *n, kiln_error *err) {
  la a;
  if (la_plan(g, n, &a, err)) return err->code;
  const kiln_value *q = kiln_node_in(g, n, 0), *past = kiln_node_in(g, n, 3);
  kiln_set_out(g, n, 0, q->dtype, 3, (int64_t[]){a.b, a.t, a.qh * a.dv});
  if (n->noutputs > 1)
    kiln_set_out(g, n, 1, past ? past->dtype : q->dtype, 4, (int64_t[]){a.b, a.kvh, a.dk, a.dv});
  return KILN_OK;
}

/* v as type `to` (into out, or a new value when out < 0) */
static int cast_to(kiln_ex *x, int v, kiln_dtype to, int out, const char *what) {
  return x->g->values[v].dtype == to && out < 0 ? v : kiln_ex_cast(x, v, to, out, what);
}

/* [B, T, heads x size] -> [B, heads, T, size], f32 */
static int heads_first(kiln_ex *x, int v, int64_t b, int64_t len, int64_t heads, int64_t size,
                       const char *what) {
  int r = kiln_ex_reshape(x, cast_to(x, v, KILN_F32, -1, what), 4,
                          (int64_t[]){b, len, heads, size}, -1, what);
  return kiln_ex_transpose(x, r, 4, (int64_t[]){0, 2, 1, 3}, -1, what);
}

/* The n values at v joined along axis, 16 at a time (a node has at most 32 inputs). */
static int concat(kiln_ex *x, int *v, int n, int axis, const char *what) {
  while (n > 1) {
    int m = 0;
    for (int i = 0; i < n; i += 16, m++) {
      int c = n - i < 16 ? n - i : 16;
      if (c == 1) {
        v[m] = v[i];
        continue;
      }
      v[m] = kiln_ex_node1(x, "Concat", v + i, c, -1, what);
      kiln_ex_attr_i(x, "axis", axis);
    }
    n = m;
  }
  return v[0];
}

/* v[..., s:s+1, ...] along axis */
static int step(kiln_ex *x, int v, int axis, int64_t s, const char *what) {
  int in[4] = {v, kiln_ex_int1(x, s), kiln_ex_int1(x, s + 1), kiln_ex_int1(x, axis)};
  return kiln_ex_node1(x, "Slice", in, 4, -1, what);
}

static kiln_status expand_la(kiln_graph *g, kiln_block *blk, int pos, kiln_error *err) {
  const kiln_node *n = &g->nodes[blk->nodes[pos]];
  la a;
  if (la_plan(g, n, &a, err)) return err->code;
  int in[6], out[2];
  for (int i = 0; i < 6; i++) in[i] = i < n->ninputs ? n->inputs[i] : -1;
  for (int i = 0; i < 2; i++) out[i] = i < n->noutputs ? n->outputs[i] : -1;
  kiln_dtype t = g->values[in[0]].dtype, st = in[3] >= 0 ? g->values[in[3]].dtype : t;
  double scale = kiln_attr_float(n, "scale", 0.0);
  if (scale == 0.0) scale = 1.0 / sqrt((double)a.dk);
  int64_t grp = a.qh / a.kvh;

  kiln_ex x;
  kiln_ex_begin(&x, g, blk, pos, KILN_F32); /* n is invalid from here */
  /* query as [B, Hkv, G, T, dk]: query head h reads key/value head h / G */
  int q = kiln_ex_reshape(&x, cast_to(&x, in[0], KILN_F32, -1, "q32"), 5,
                          (int64_t[]){a.b, a.t, a.kvh, grp, a.dk}, -1, "q5");
  q = kiln_ex_transpose(&x, q, 5, (int64_t[]){0, 2, 3, 1, 4}, -1, "q5");
  int k = heads_first(&x, in[1], a.b, a.t, a.kvh, a.dk, "k4");
  int v = heads_first(&x, in[2], a.b, a.t, a.kvh, a.dv, "v4");
  int decay = -1, beta = -1;
  if (a.gated) { /* [B, Hkv, dk or 1, T]: a step's slice scales S's rows */
    decay = kiln_ex_unary(&x, "Exp", cast_to(&x, in[4], KILN_F32, -1, "g32"), "decay");
    decay = kiln_ex_reshape(&x, decay, 4, (int64_t[]){a.b, a.t, a.kvh, a.decay_last / a.kvh}, -1,
                            "decay4");
    decay = kiln_ex_transpose(&x, decay, 4, (int64_t[]){0, 2, 3, 1}, -1, "decay4");
  }
  if (a.delta) { /* [B, Hkv or 1, T, 1] */
    beta = kiln_ex_reshape(&x, cast_to(&x, in[5], KILN_F32, -1, "b32"), 4,
                           (int64_t[]){a.b, a.t, a.beta_last, 1}, -1, "beta4");
    beta = kiln_ex_transpose(&x, beta, 4, (int64_t[]){0, 2, 1, 3}, -1, "beta4");
  }
  int s = in[3] >= 0 ? cast_to(&x, in[3], KILN_F32, -1, "state0")
                     : kiln_ex_const(&x, "state0", KILN_F32, 4, (int64_t[]){a.b, a.kvh, a.dk, a.dv}, NULL);
  int sc = kiln_ex_scalar(&x, scale, "scale");
  int outs[1024];
  if (a.t > (int64_t)(sizeof outs / sizeof *outs)) {
    kiln_ex_end(&x);
    return kiln_fail(err, KILN_ERR_UNSUPPORTED, "LinearAttention: a sequence of %lld tokens (at most %d)",
                     (long long)a.t, (int)(sizeof outs / sizeof *outs));
  }
  for (int64_t i = 0; i < a.t; i++) {
    snprintf(x.tag, sizeof x.tag, "t%lld", (long long)i);
    int kt = step(&x, k, 2, i, "k");                                   /* [B, Hkv, 1, dk] */
    int vt = step(&x, v, 2, i, "v");                                   /* [B, Hkv, 1, dv] */
    if (a.gated) s = kiln_ex_binary(&x, "Mul", s, step(&x, decay, 3, i, "g"), "decayed");
    if (a.delta) {
      int got = kiln_ex_binary(&x, "MatMul", kt, s, "retrieved");      /* [B, Hkv, 1, dv] */
      vt = kiln_ex_binary(&x, "Mul", step(&x, beta, 2, i, "beta"),
                          kiln_ex_binary(&x, "Sub", vt, got, "error"), "v");
    }
    int kc = kiln_ex_transpose(&x, kt, 4, (int64_t[]){0, 1, 3, 2}, -1, "k_col"); /* [B, Hkv, dk, 1] */
    s = kiln_ex_binary(&x, "Add", s, kiln_ex_binary(&x, "Mul", kc, vt, "write"), "state");
    int qt = kiln_ex_reshape(&x, step(&x, q, 3, i, "q"), 4, (int64_t[]){a.b, a.kvh, grp, a.dk}, -1, "q");
    int o = kiln_ex_binary(&x, "MatMul", qt, s, "read");              /* [B, Hkv, G, dv] */
    outs[i] = kiln_ex_reshape(&x, kiln_ex_binary(&x, "Mul", o, sc, "scaled"), 5,
                              (int64_t[]){a.b, a.kvh, grp, 1, a.dv}, -1, "o");
  }
  x.tag[0] = '\0';
  int o = concat(&x, outs, (int)a.t, 3, "outputs");
  o = kiln_ex_transpose(&x, o, 5, (int64_t[]){0, 3, 1, 2, 4}, -1, "o_t");   /* [B, T, Hkv, G, dv] */
  o = kiln_ex_reshape(&x, o, 3, (int64_t[]){a.b, a.t, a.qh * a.dv}, -1, "o3");
  cast_to(&x, o, t, out[0], "output");
  if (out[1] >= 0) cast_to(&x, s, st, out[1], "present_state");
  kiln_ex_end(&x);
  return KILN_OK;
}

static const kiln_attr_spec la_attrs[] = {
    {"chunk_size", KILN_ATTR_INT, false}, {"kv_num_heads", KILN_ATTR_INT, false},
    {"q_num_heads", KILN_ATTR_INT, false}, {"scale", KILN_ATTR_FLOAT, false},
    {"update_rule", KILN_ATTR_STRING, false}, {NULL}};

const kiln_op_def kiln_ops_linear_attention[] = {
    {"LinearAttention", 3, 6, 1, 2, la_attrs, infer_la, NULL, expand_la, 0},
    {NULL},
};
