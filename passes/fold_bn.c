/* BatchNormalization folded into the convolution before it, at compile time: with
 * constant conv weights and constant statistics, BN(Conv(x, W, b)) is Conv(x, W', b')
 * where per output channel c
 *     s = scale[c] / sqrt(var[c] + epsilon)
 *     W'[c] = W[c] * s,    b'[c] = (b[c] - mean[c]) * s + B[c],
 * so the network makes one pass over each activation instead of two. Only a conv whose
 * output nothing else reads is folded (float32, inference-mode BN with one output). */
#include "passes/passes.h"

#include "ir/op.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static bool is_op(const kiln_node *n, const char *name) {
  return n->op && strcmp(n->op->name, name) == 0;
}

static void count_uses(const kiln_graph *g, const kiln_block *b, int *uses) {
  for (int i = 0; i < b->noutputs; i++)
    if (b->outputs[i] >= 0) uses[b->outputs[i]]++;
  for (int i = 0; i < b->nnodes; i++) {
    const kiln_node *n = &g->nodes[b->nodes[i]];
    for (int j = 0; j < n->ninputs; j++)
      if (n->inputs[j] >= 0) uses[n->inputs[j]]++;
    for (int a = 0; a < n->nattrs; a++) {
      const kiln_attr *at = &n->attrs[a];
      int nb = at->type == KILN_ATTR_GRAPH ? 1 : at->type == KILN_ATTR_GRAPHS ? at->count : 0;
      for (int k = 0; k < nb && at->graphs; k++) count_uses(g, at->graphs[k], uses);
    }
  }
}

/* A constant f32 vector of n elements, or NULL. */
static const float *const_vec(const kiln_graph *g, int v, int64_t n) {
  if (v < 0) return NULL;
  const kiln_value *x = &g->values[v];
  return x->data && x->dtype == KILN_F32 && kiln_value_numel(x) == n ? x->data : NULL;
}

static int new_const(kiln_graph *g, const char *base, const char *suffix, int rank,
                     const int64_t *dims, float *data) {
  char *name = kiln_fmt("%s.%s", base, suffix);
  int id = kiln_graph_add_value(g, name);
  free(name);
  kiln_tensor t = {KILN_F32, rank, {0}, data};
  memcpy(t.dims, dims, sizeof(int64_t) * (size_t)rank);
  kiln_value_set_const(&g->values[id], &t);
  return id;
}

/* Folds BN node at position pos of the main block into its producer; true if it did. */
static bool fold_one(kiln_graph *g, int pos, const int *uses) {
  kiln_node *bn = &g->nodes[g->main.nodes[pos]];
  if (bn->ninputs != 5 || bn->noutputs != 1 || kiln_attr_int(bn, "training_mode", 0)) return false;
  int x = bn->inputs[0];
  if (x < 0 || uses[x] != 1 || g->values[x].is_output || g->values[x].producer < 0) return false;
  kiln_node *conv = &g->nodes[g->values[x].producer];
  if (!is_op(conv, "Conv") || conv->noutputs != 1 || conv->ninputs < 2) return false;
  const kiln_value *w = &g->values[conv->inputs[1]];
  if (!w->data || w->dtype != KILN_F32 || w->rank < 1 || g->values[x].dtype != KILN_F32) return false;
  int64_t co = w->dims[0], per = kiln_value_numel(w) / (co ? co : 1);
  const float *scale = const_vec(g, bn->inputs[1], co), *bias = const_vec(g, bn->inputs[2], co);
  const float *mean = const_vec(g, bn->inputs[3], co), *var = const_vec(g, bn->inputs[4], co);
  const float *cb = conv->ninputs > 2 && conv->inputs[2] >= 0 ? const_vec(g, conv->inputs[2], co) : NULL;
  if (!scale || !bias || !mean || !var || co <= 0 ||
      (conv->ninputs > 2 && conv->inputs[2] >= 0 && !cb))
    return false;
  /* epsilon as the f32 the unfolded kernel adds (an ONNX attribute is a float; DSL text
   * gives a double), so both forms of a model fold to the same weights */
  double eps = (float)kiln_attr_float(bn, "epsilon", 1e-5);
  int wrank = w->rank;
  int64_t wdims[KILN_MAX_RANK];
  memcpy(wdims, w->dims, sizeof wdims); /* adding values below may move g->values */
  float *nw = kiln_xmalloc(sizeof(float) * (size_t)(co * per)), *nb = kiln_xmalloc(sizeof(float) * (size_t)co);
  const float *ow = w->data;
  for (int64_t c = 0; c < co; c++) {
    double s = scale[c] / sqrt((double)var[c] + eps);
    for (int64_t i = 0; i < per; i++) nw[c * per + i] = (float)(ow[c * per + i] * s);
    nb[c] = (float)(((cb ? cb[c] : 0.0) - mean[c]) * s + bias[c]);
  }
  int wid = new_const(g, conv->name, "bn_weight", wrank, wdims, nw);
  int bid = new_const(g, conv->name, "bn_bias", 1, &co, nb);
  if (conv->ninputs < 3) {
    conv->inputs = kiln_xrealloc(conv->inputs, sizeof(int) * 3);
    conv->ninputs = 3;
  }
  conv->inputs[1] = wid;
  conv->inputs[2] = bid;
  int y = bn->outputs[0];
  conv->outputs[0] = y;
  g->values[y].producer = g->values[x].producer;
  g->values[x].producer = -1;
  kiln_block_remove(g, &g->main, pos);
  return true;
}

void kiln_pass_fold_batchnorm(kiln_graph *g) {
  int *uses = kiln_xcalloc((size_t)(g->nvalues ? g->nvalues : 1), sizeof(int));
  count_uses(g, &g->main, uses);
  for (int pos = 0; pos < g->main.nnodes; pos++) {
    if (!is_op(&g->nodes[g->main.nodes[pos]], "BatchNormalization")) continue;
    if (fold_one(g, pos, uses)) pos--; /* the block moved up by one */
  }
  free(uses);
}
