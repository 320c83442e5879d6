/* Weight panels: a MatMul or Gemm whose B is a constant f32 matrix reads it, once packed,
 * in exactly the order its register tile does. B [K,N] becomes panels [N/nr][K][nr] (the
 * last one zero-padded), a new constant, and the product a MatMulPanels reading them: one
 * tile's k-loop then walks B contiguously instead of jumping a row of N floats per step
 * (TLB misses, no prefetch on large weights). nr is the register tile's width
 * (passes/schedule.c): two target vectors, four for fewer than 4 rows of A (a GEMV needs
 * more accumulators to hide the FMA latency). A B packed once serves all products of one
 * panel width; DCE drops the unpacked B when nothing else reads it. Packing is a copy
 * done here rather than an op folded by the interpreter, which takes seconds per
 * BERT-base weight. */
#include "passes/passes.h"

#include "ir/op.h"

#include <stdlib.h>
#include <string.h>

/* The product node n as a GEMM on a constant B: its transB, or -1 when it is not one;
 * *nr is its panel width for vectors of vf floats. */
static int constant_b(const kiln_graph *g, const kiln_node *n, int vf, int64_t *nr) {
  if (!(n->op->flags & KILN_OP_PANEL_B)) return -1;
  const kiln_value *a = kiln_node_in(g, n, 0), *b = kiln_node_in(g, n, 1);
  if (!a || !b || !b->data || b->rank != 2 || a->rank < 2 || a->dtype != KILN_F32 ||
      b->dtype != KILN_F32)
    return -1;
  int tb = kiln_attr_int(n, "transB", 0) != 0, ta = kiln_attr_int(n, "transA", 0) != 0;
  /* rows: every row of A, its batch dims included (they share the 2-D B) */
  int64_t k = b->dims[tb], nn = b->dims[!tb], m = a->dims[a->rank - 2 + ta];
  for (int d = 0; d < a->rank - 2; d++) m *= a->dims[d];
  *nr = (m < 4 ? 4 : 2) * (int64_t)vf;
  /* under one panel there is nothing to stream */
  return k >= 1 && nn >= *nr ? tb : -1;
}

/* A new constant: B (value b, transposed with tb) as panels nr wide. */
static int pack(kiln_graph *g, int b, int tb, int64_t nr) {
  const kiln_value *v = &g->values[b];
  int64_t k = v->dims[tb], nn = v->dims[!tb], np = (nn + nr - 1) / nr;
  const float *src = v->data;
  float *p = kiln_xcalloc((size_t)(np * k * nr), sizeof(float));
  for (int64_t j0 = 0; j0 < nn; j0 += nr) { /* the panel of columns j0.. */
    int64_t w = nn - j0 < nr ? nn - j0 : nr;
    float *panel = p + j0 * k;
    for (int64_t q = 0; q < k; q++)
      for (int64_t j = 0; j < w; j++)
        panel[q * nr + j] = tb ? src[(j0 + j) * k + q] : src[q * nn + j0 + j];
  }
  char *name = kiln_fmt("%s%s.panels%lld", v->name, tb ? ".T" : "", (long long)nr);
  int id = kiln_graph_add_value(g, name);
  free(name);
  kiln_tensor t = {KILN_F32, 3, {np, k, nr}, p};
  kiln_value_set_const(&g->values[id], &t);
  g->values[id].layout = kiln_fmt("NK%lldn", (long long)nr); /* [N/nr][K][nr] of B [K, N] */
  return id;
}

static kiln_status pack_block(kiln_graph *g, kiln_block *blk, int vf, int *packed,
                              kiln_error *err) {
  for (int pos = 0; pos < blk->nnodes; pos++) {
    kiln_node *n = &g->nodes[blk->nodes[pos]];
    if (!n->op) continue;
    int64_t nr;
    int tb = constant_b(g, n, vf, &nr);
    if (tb < 0) continue;
    int b = n->inputs[1], *slot = &packed[4 * b + 2 * tb + (nr > 2 * vf)];
    if (*slot < 0) *slot = pack(g, b, tb, nr);
    /* the product, same inputs but the panels and same output: MatMulPanels in its place */
    int ins[3] = {n->inputs[0], *slot, n->ninputs > 2 ? n->inputs[2] : -1}, y = n->outputs[0];
    int64_t nn = g->values[b].dims[!tb];
    bool ta = kiln_attr_int(n, "transA", 0);
    double alpha = kiln_attr_float(n, "alpha", 1.0), beta = kiln_attr_float(n, "beta", 1.0);
    char *name = kiln_xstrdup(n->name);
    kiln_block_remove(g, blk, pos);
    int id = kiln_graph_insert_node(g, blk, pos, "MatMulPanels", name, ins, ins[2] >= 0 ? 3 : 2, &y, 1);
    free(name);
    kiln_node *mn = &g->nodes[id];
    kiln_node_add_attr(mn, "_n", KILN_ATTR_INT)->i = nn;
    if (ta) kiln_node_add_attr(mn, "transA", KILN_ATTR_INT)->i = 1;
    if (alpha != 1.0) kiln_node_add_attr(mn, "alpha", KILN_ATTR_FLOAT)->f = alpha;
    if (beta != 1.0) kiln_node_add_attr(mn, "beta", KILN_ATTR_FLOAT)->f = beta;
    if (mn->op->infer(g, mn, err) || kiln_infer_symbolic(g, mn, err)) return err->code;
  }
  return KILN_OK;
}

kiln_status kiln_pass_pack_panels(kiln_graph *g, int vector_floats, kiln_error *err) {
  int nvalues = g->nvalues; /* values added here are never a B */
  /* the panels of each B, by transB and width */
  int *packed = kiln_xmalloc(sizeof(int) * 4 * (size_t)(nvalues ? nvalues : 1));
  for (int i = 0; i < 4 * nvalues; i++) packed[i] = -1;
  kiln_status st = pack_block(g, &g->main, vector_floats, packed, err);
  free(packed);
  return st;
}
