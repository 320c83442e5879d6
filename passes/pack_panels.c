/* Weight panels: a MatMul or Gemm whose B is a constant f32 matrix reads it, once packed,
 * in exactly the order its register tile does. B [K,N] becomes panels [N/nr][K][nr] (the
 * last one zero-padded), a new constant, and the product a MatMulPanels reading them: one
 * tile's k-loop then walks B contiguously instead of jumping a row of N floats per step
 * (TLB misses, no prefetch on large weights). nr is the register tile's width
 * (passes/schedule.c): two target vectors, four for fewer than 4 rows of A (a GEMV needs
 * more accumulators to hide the FMA latency). A B packed once serves all products of one
 * panel width; DCE drops the unpacked B when nothing else reads it. Packing is a copy
 * done here rather than an op folded by the interpreter, which takes seconds per
 * BERT-base weight.
 *
 * The width is a choice point (ir/choice.h) a tuning log may set per node: no panels (the
 * plain MatMul), or panels of one, two or four vectors; `kiln tune` measures them. */
#include "passes/passes.h"

#include "ir/op.h"
#include "ir/tuning_log.h"

#include <stdlib.h>
#include <string.h>

/* The product node n as a GEMM on a constant B: its transB, or -1 when it is not one;
 * *nr is its default panel width for vectors of vf floats (0: not packed), *nn its
 * columns. */
static int constant_b(const kiln_graph *g, const kiln_node *n, int vf, int64_t *nr, int64_t *nn) {
  if (!(n->op->flags & KILN_OP_PANEL_B)) return -1;
  const kiln_value *a = kiln_node_in(g, n, 0), *b = kiln_node_in(g, n, 1);
  if (!a || !b || !b->data || b->rank != 2 || a->rank < 2 || a->dtype != KILN_F32 ||
      b->dtype != KILN_F32)
    return -1;
  int tb = kiln_attr_int(n, "transB", 0) != 0, ta = kiln_attr_int(n, "transA", 0) != 0;
  /* rows: every row of A, its batch dims included (they share the 2-D B) */
  int64_t k = b->dims[tb];
  *nn = b->dims[!tb];
  int64_t m = a->dims[a->rank - 2 + ta];
  for (int d = 0; d < a->rank - 2; d++) m *= a->dims[d];
  *nr = (m < 4 ? 4 : 2) * (int64_t)vf;
  if (*nn < *nr) *nr = 0; /* under one panel there is nothing to stream */
  return k >= 1 ? tb : -1;
}

/* n's choice point: the widths allowed (none, and 1, 2 or 4 vectors up to the columns),
 * keyed by what the product's code depends on: op, operand shapes (C's too) and
 * attributes, not the weights' values. False
 * when there is nothing to choose, or A's shape is free (the generic code of a model
 * with free dims keeps its defaults). */
static bool choice_point(const kiln_graph *g, const kiln_node *n, int vf, int64_t nr, int64_t nn,
                         kiln_choice *c) {
  const kiln_value *a = kiln_node_in(g, n, 0), *b = kiln_node_in(g, n, 1), *y = &g->values[n->outputs[0]];
  if (kiln_value_is_symbolic(a) || kiln_value_is_symbolic(y)) return false;
  *c = (kiln_choice){.what = "panels", .node = n->name, .op = n->op_type, .value = (int)nr,
                     .def = (int)nr, .nvalues = 1};
  for (int w = 1; w <= 4; w *= 2)
    if (nn >= w * vf) c->values[c->nvalues++] = w * vf;
  if (c->nvalues < 2) return false;
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  if (!f) return false;
  const kiln_value *vs[4] = {a, b, y, kiln_node_in(g, n, 2)}; /* C: a Gemm's, or none */
  fprintf(f, "%s", n->op_type);
  for (int i = 0; i < 4; i++) {
    fputc(';', f);
    for (int d = 0; vs[i] && d < vs[i]->rank; d++) fprintf(f, "%lld,", (long long)vs[i]->dims[d]);
  }
  fprintf(f, ";ta=%lld;tb=%lld;alpha=%a;beta=%a;c=%d", (long long)kiln_attr_int(n, "transA", 0),
          (long long)kiln_attr_int(n, "transB", 0), kiln_attr_float(n, "alpha", 1.0),
          kiln_attr_float(n, "beta", 1.0), vs[3] != NULL);
  fclose(f);
  kiln_hash_hex(text, len, c->key);
  free(text);
  return true;
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

typedef struct packer {
  kiln_graph *g;
  int vf;
  int *packed; /* per value id, transB and width (1, 2 or 4 vectors): its panels, -1 */
  const kiln_tuning_log *log;
  const kiln_tuning_target *target;
} packer;

/* n's panel width: the default, or a log's record for its choice point (one whose value
 * n does not allow is ignored); the point is recorded in the graph either way. */
static int64_t width(packer *P, const kiln_node *n, int64_t nr, int64_t nn) {
  kiln_choice c;
  if (!choice_point(P->g, n, P->vf, nr, nn, &c)) return nr;
  return kiln_choice_take(&P->g->choices, &c, P->log, P->target);
}

static kiln_status pack_block(packer *P, kiln_block *blk, kiln_error *err) {
  kiln_graph *g = P->g;
  int vf = P->vf;
  for (int pos = 0; pos < blk->nnodes; pos++) {
    kiln_node *n = &g->nodes[blk->nodes[pos]];
    if (!n->op) continue;
    int64_t nr, nn;
    int tb = constant_b(g, n, vf, &nr, &nn);
    if (tb < 0 || !(nr = width(P, n, nr, nn))) continue;
    int b = n->inputs[1], *slot = &P->packed[6 * b + 3 * tb + (nr > vf) + (nr > 2 * vf)];
    if (*slot < 0) *slot = pack(g, b, tb, nr);
    /* the product, same inputs but the panels and same output: MatMulPanels in its place */
    int ins[3] = {n->inputs[0], *slot, n->ninputs > 2 ? n->inputs[2] : -1}, y = n->outputs[0];
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

kiln_status kiln_pass_pack_panels(kiln_graph *g, int vector_floats, const kiln_tuning_log *log,
                                  const kiln_tuning_target *target, kiln_error *err) {
  int nvalues = g->nvalues; /* values added here are never a B */
  packer P = {g, vector_floats, kiln_xmalloc(sizeof(int) * 6 * (size_t)(nvalues ? nvalues : 1)),
              log, target};
  for (int i = 0; i < 6 * nvalues; i++) P.packed[i] = -1;
  kiln_status st = pack_block(&P, &g->main, err);
  free(P.packed);
  return st;
}
