/* An SVM classifier's probability estimates (prob_a, prob_b), as onnxruntime and libsvm
 * compute them from the one-vs-one decisions d [N, P] (Wu, Lin and Weng's pairwise
 * coupling), in f32:
 *
 *   r     = clip(1 - logistic(d A + B), 1e-7, 1 - 1e-7)      each pair (i, j), i < j
 *   R     [C, C]: R[i][j] = r, R[j][i] = 1 - r, 0 on the diagonal
 *   Q     [C, C]: Q[t][t] = sum over j of R[j][t]^2, Q[t][j] = -R[j][t] R[t][j]
 *   p     = 1/C each, then up to 100 rounds of
 *             Qp = Q p, pQp = p.Qp; stop when max |Qp[t] - pQp| < 0.005 / C;
 *             for each t in turn: diff = (pQp - Qp[t]) / Q[t][t], p[t] += diff,
 *             pQp = (pQp + diff (diff Q[t][t] + 2 Qp[t])) / (1 + diff)^2,
 *             Qp = (Qp + diff Q[t]) / (1 + diff), p /= 1 + diff
 *
 * The rounds are a Loop run at run time (ir/ops/loop.c) over all rows at once: a row that
 * has met the stopping rule keeps its p (a Where), so each row stops where onnxruntime's
 * does, and the loop ends when every row has. A NaN error counts as none, as there. */
#include "ir/ops/ml.h"

#include <stdlib.h>

#define ROUNDS 100

/* [N, 1]: column t of v [N, C] */
static int column(kiln_ex *x, int v, int64_t t, const char *what) {
  int64_t at[2] = {t, t + 1}, axis = 1;
  return kiln_ex_node1(x, "Slice", (int[]){v, kiln_ex_ints(x, 1, &at[0]), kiln_ex_ints(x, 1, &at[1]),
                                           kiln_ex_ints(x, 1, &axis)}, 4, -1, what);
}

/* R [N, C, C] of the pairs' r [N, P] (eye: C x C bools, true on the diagonal) */
static int pair_matrix(kiln_ex *x, int r, int64_t c, int64_t pairs, int eye) {
  int other = kiln_ex_binary(x, "Sub", kiln_ex_scalar(x, 1, "one"), r, "r_ji");
  int both = kiln_ex_node1(x, "Concat", (int[]){r, other}, 2, -1, "r_both");
  kiln_ex_attr_i(x, "axis", 1);
  double *at = kiln_xcalloc((size_t)(c * c), sizeof(double));
  for (int64_t i = 0, p = 0; i < c; i++)
    for (int64_t j = i + 1; j < c; j++, p++) at[i * c + j] = (double)p, at[j * c + i] = (double)(pairs + p);
  int idx = kiln_ex_const(x, "pair_at", KILN_I64, 1, (int64_t[]){c * c}, at);
  free(at);
  int g = kiln_ex_node1(x, "Gather", (int[]){both, idx}, 2, -1, "r_flat");
  kiln_ex_attr_i(x, "axis", 1);
  int m = kiln_ex_reshape(x, g, 3, (int64_t[]){-1, c, c}, -1, "r_matrix");
  return kiln_ex_node1(x, "Where", (int[]){eye, kiln_ex_scalar(x, 0, "zero"), m}, 3, -1, "r_matrix");
}

/* One round's body: (i, cond, p) -> (any row still moving, p after the round) */
static kiln_block *round_body(kiln_ex *outer, int64_t c, int q, int diag) {
  kiln_block *nb = kiln_block_new();
  kiln_ex x;
  kiln_ex_into(&x, outer->g, nb, outer->name, KILN_F32);
  nb->ninputs = 3;
  nb->inputs = kiln_xmalloc(sizeof(int) * 3);
  nb->inputs[0] = kiln_ex_value(&x, "round");
  nb->inputs[1] = kiln_ex_value(&x, "go_on");
  int p0 = nb->inputs[2] = kiln_ex_value(&x, "p");
  int qp = kiln_ex_binary(&x, "MatMul", q, kiln_ex_binary(&x, "Unsqueeze", p0, kiln_ex_int1(&x, 2), "p_col"), "qp");
  qp = kiln_ex_binary(&x, "Squeeze", qp, kiln_ex_int1(&x, 2), "qp");
  int pqp = kiln_ex_binary(&x, "ReduceSum", kiln_ex_binary(&x, "Mul", p0, qp, "p_qp"), kiln_ex_int1(&x, 1), "pqp");
  int e = kiln_ex_unary(&x, "Abs", kiln_ex_binary(&x, "Sub", qp, pqp, "error"), "error");
  e = kiln_ex_node1(&x, "Where", (int[]){kiln_ex_unary(&x, "IsNaN", e, "nan"), kiln_ex_scalar(&x, 0, "zero"), e},
                    3, -1, "error");
  int err = kiln_ex_binary(&x, "ReduceMax", e, kiln_ex_int1(&x, 1), "max_error");
  int done = kiln_ex_binary(&x, "Less", err, kiln_ex_scalar(&x, 0.005 / (double)c, "eps"), "done");
  int p = p0;
  for (int64_t t = 0; t < c; t++) {
    double *hot = kiln_xcalloc((size_t)c, sizeof(double));
    hot[t] = 1;
    int at_t = kiln_ex_const(&x, "at_t", KILN_BOOL, 1, &c, hot);
    free(hot);
    int qp_t = column(&x, qp, t, "qp_t"), q_tt = column(&x, diag, t, "q_tt");
    int diff = kiln_ex_binary(&x, "Div", kiln_ex_binary(&x, "Sub", pqp, qp_t, "gap"), q_tt, "diff");
    p = kiln_ex_node1(&x, "Where", (int[]){at_t, kiln_ex_binary(&x, "Add", p, diff, "p_t"), p}, 3, -1, "p");
    int step = kiln_ex_binary(&x, "Add", kiln_ex_scalar(&x, 1, "one"), diff, "step");
    int inner = kiln_ex_binary(&x, "Add", kiln_ex_binary(&x, "Mul", diff, q_tt, "d_qtt"),
                               kiln_ex_binary(&x, "Mul", kiln_ex_scalar(&x, 2, "two"), qp_t, "two_qp"), "inner");
    pqp = kiln_ex_binary(&x, "Add", pqp, kiln_ex_binary(&x, "Mul", diff, inner, "d_inner"), "pqp");
    pqp = kiln_ex_binary(&x, "Div", kiln_ex_binary(&x, "Div", pqp, step, "pqp"), step, "pqp");
    int q_t = kiln_ex_node1(&x, "Gather", (int[]){q, kiln_ex_i64(&x, t, "t")}, 2, -1, "q_t");
    kiln_ex_attr_i(&x, "axis", 1);
    qp = kiln_ex_binary(&x, "Div", kiln_ex_binary(&x, "Add", qp, kiln_ex_binary(&x, "Mul", diff, q_t, "d_q"), "qp"),
                        step, "qp");
    p = kiln_ex_binary(&x, "Div", p, step, "p");
  }
  nb->noutputs = 2;
  nb->outputs = kiln_xmalloc(sizeof(int) * 2);
  nb->outputs[1] = kiln_ex_node1(&x, "Where", (int[]){done, p0, p}, 3, -1, "p_next");
  int moving = kiln_ex_unary(&x, "Cast", kiln_ex_unary(&x, "Not", done, "moving"), "moving");
  kiln_ex_attr_i(&x, "to", KILN_F32);
  int most = kiln_ex_unary(&x, "ReduceMax", moving, "any_moving");
  kiln_ex_attr_i(&x, "keepdims", 0);
  nb->outputs[0] = kiln_ex_binary(&x, "Greater", most, kiln_ex_scalar(&x, 0, "zero"), "go_on");
  kiln_ex_end(&x);
  return nb;
}

int kiln_svm_coupling(kiln_ex *x, int d, int64_t c, int64_t pairs, const double *pa,
                      const double *pb) {
  int a = kiln_ex_const(x, "prob_a", KILN_F32, 1, &pairs, pa);
  int b = kiln_ex_const(x, "prob_b", KILN_F32, 1, &pairs, pb);
  int v = kiln_ex_binary(x, "Add", kiln_ex_binary(x, "Mul", d, a, "d_a"), b, "d_ab");
  int r = kiln_ex_binary(x, "Sub", kiln_ex_scalar(x, 1, "one"), kiln_ex_unary(x, "Sigmoid", v, "logistic"), "r");
  r = kiln_ex_node1(x, "Clip", (int[]){r, kiln_ex_scalar(x, 1e-7, "lo"), kiln_ex_scalar(x, 1 - 1e-7, "hi")}, 3, -1, "r");
  double *ones = kiln_xcalloc((size_t)(c * c), sizeof(double));
  for (int64_t i = 0; i < c; i++) ones[i * c + i] = 1;
  int eye = kiln_ex_const(x, "eye", KILN_BOOL, 2, (int64_t[]){c, c}, ones);
  free(ones);
  int m = pair_matrix(x, r, c, pairs, eye);
  int diag = kiln_ex_binary(x, "ReduceSum", kiln_ex_binary(x, "Mul", m, m, "r_sq"), kiln_ex_int1(x, 1), "q_diag");
  kiln_ex_attr_i(x, "keepdims", 0);
  int mt = kiln_ex_transpose(x, m, 3, (int64_t[]){0, 2, 1}, -1, "r_t");
  int off = kiln_ex_unary(x, "Neg", kiln_ex_binary(x, "Mul", m, mt, "r_rt"), "q_off");
  int q = kiln_ex_node1(x, "Where", (int[]){eye, kiln_ex_binary(x, "Unsqueeze", diag, kiln_ex_int1(x, 2), "q_diag3"), off},
                        3, -1, "q");
  double share = 1.0 / (double)c;
  int p0 = kiln_ex_node1(x, "Expand", (int[]){kiln_ex_scalar(x, share, "share"), kiln_ex_unary(x, "Shape", diag, "p_shape")},
                         2, -1, "p0");
  double go = 1;
  int lin[3] = {kiln_ex_i64(x, ROUNDS, "rounds"), kiln_ex_const(x, "go", KILN_BOOL, 0, NULL, &go), p0};
  int p = -1;
  kiln_block *body = round_body(x, c, q, diag);
  kiln_ex_node(x, "Loop", lin, 3, &p, 1, "coupling");
  kiln_attr *at = kiln_node_add_attr(&x->g->nodes[x->last], "body", KILN_ATTR_GRAPH);
  at->graphs = kiln_xcalloc(2, sizeof(kiln_block *));
  at->graphs[0] = body;
  at->count = 1;
  return p;
}
