/* Constant folding: a node whose inputs are all known is lowered to a kernel and run by
 * the kernel-IR interpreter; its outputs become constants and the node goes away (not an
 * unseeded random op: its numbers come from a key each process draws). An If
 * with a known condition is replaced by the nodes of its taken branch. Shape inference
 * calls kiln_fold_node eagerly (small outputs) so shape computations resolve in time. */
#include "passes/passes.h"

#include "ir/dtype.h"
#include "ir/interp.h"
#include "ir/op.h"
#include "passes/sym_points.h"

#include <stdlib.h>
#include <string.h>

bool kiln_value_is_const(const kiln_graph *g, int id) {
  const kiln_value *v = &g->values[id];
  if (v->data) return true;
  if (v->is_input || v->rank < 0 || kiln_value_numel(v) != 0) return false;
  /* zero-sized: constant unless a live node still produces it */
  return v->producer < 0 || g->nodes[v->producer].op == NULL;
}

static bool is_if(const kiln_node *n) {
  return strcmp(n->op_type, "If") == 0 && kiln_node_attr(n, "then_branch") &&
         kiln_node_attr(n, "else_branch");
}

static bool foldable(const kiln_graph *g, const kiln_node *n, int64_t max_elems) {
  if (!n->op || !n->op->lower) return false;
  if ((n->op->flags & KILN_OP_RANDOM) && !kiln_node_attr(n, "seed")) return false;
  if (n->op->flags & KILN_OP_AT_RUN) return false;
  for (int i = 0; i < n->ninputs; i++) {
    if (n->inputs[i] < 0 || (i == 0 && (n->op->flags & KILN_OP_SHAPE_OF))) continue;
    if (!kiln_value_is_const(g, n->inputs[i])) return false;
  }
  for (int i = 0; i < n->noutputs; i++) {
    const kiln_value *v = kiln_node_out(g, n, i);
    /* an output whose size follows free dims is computed at run time, and strings live in
     * a run's heap (rt/strings.h): a graph holds no string constants */
    if (v && (v->rank < 0 || kiln_value_numel(v) > max_elems || kiln_value_is_symbolic(v) ||
              v->dtype == KILN_STRING))
      return false;
  }
  return true;
}

kiln_status kiln_fold_run(const kiln_graph *g, const kiln_node *n, void **outs,
                          kiln_error *err) {
  kiln_kernel *k;
  for (int i = 0; i < n->noutputs; i++) outs[i] = NULL;
  /* a shape computation reads its inputs' data and dims as they are (at the hints, or at
   * a point of the free dims: passes/fold_sym.c), so it is lowered for those numbers */
  if (kiln_lower_node_static(g, n, &k, err)) return err->code;
  void **bufs = kiln_xcalloc((size_t)(k->nbufs ? k->nbufs : 1), sizeof(void *));
  kiln_status st = KILN_OK;
  bool shape_of = n->op->flags & KILN_OP_SHAPE_OF;
  for (int b = 0; b < k->nbufs && !st; b++) {
    const kiln_buffer *buf = &k->bufs[b];
    if (buf->role == KILN_BUF_INPUT && !(shape_of && buf->value == n->inputs[0])) {
      bufs[b] = g->values[buf->value].data;
    } else if (buf->role == KILN_BUF_OUTPUT) {
      int64_t count = kiln_shape_numel(buf->rank, buf->dims);
      if (count > 0 && !(bufs[b] = calloc((size_t)count, kiln_dtype_size(buf->dtype))))
        st = kiln_fail(err, KILN_ERR_OUT_OF_MEMORY,
                       "node '%s' (%s): no memory to fold output '%s' (%lld elements)", n->name,
                       n->op_type, buf->name, (long long)count);
    }
  }
  if (!st) st = kiln_interp_run(k, bufs, err);
  /* an index out of range in constants is the model's fault, found at compile time */
  if (st == KILN_ERR_INVALID_INPUT && err) st = err->code = KILN_ERR_INVALID_MODEL;
  for (int b = 0; b < k->nbufs; b++) {
    const kiln_buffer *buf = &k->bufs[b];
    if (buf->role != KILN_BUF_OUTPUT) continue;
    int o = 0;
    while (o < n->noutputs && n->outputs[o] != buf->value) o++;
    if (st || o == n->noutputs || outs[o]) free(bufs[b]);
    else outs[o] = bufs[b];
  }
  free(bufs);
  kiln_kernel_free(k);
  return st;
}

/* Runs n with the interpreter; outputs become constants (with free dims, polynomials of
 * them where they follow the dims: kiln_fold_sym_data). *done false: n is not folded (a
 * shape computation kiln cannot express in the free dims; it runs at run time). */
static kiln_status evaluate(kiln_graph *g, const kiln_node *n, bool *done, kiln_error *err) {
  void *outs[64];
  *done = false;
  if (n->noutputs > 64) return KILN_OK;
  bool sym = g->nsyms && kiln_node_is_symbolic(g, n);
  int **sym_data = NULL;
  if (sym && kiln_fold_sym_data(g, n, &sym_data, err)) return err->code;
  if (sym && !sym_data) return KILN_OK;
  kiln_status st = kiln_fold_run(g, n, outs, err);
  for (int o = 0; o < n->noutputs; o++) {
    kiln_value *v = kiln_node_out(g, n, o);
    if (st || !v) {
      free(outs[o]);
      if (sym_data) free(sym_data[o]);
      continue;
    }
    /* the value keeps its own shape: the kernel may view it with other dims (Conv's
     * flattened output) */
    kiln_tensor t = {v->dtype, v->rank, {0}, outs[o]};
    memcpy(t.dims, v->dims, sizeof(int64_t) * (size_t)v->rank);
    kiln_value_set_const(v, &t);
    if (sym_data) v->sym_data = sym_data[o];
  }
  free(sym_data);
  *done = !st;
  return st;
}

/* ---- If with a known condition --------------------------------------------------------- */

static void replace_in_block(kiln_graph *g, kiln_block *b, int from, int to);

static void replace_in_node(kiln_graph *g, kiln_node *n, int from, int to) {
  for (int i = 0; i < n->ninputs; i++)
    if (n->inputs[i] == from) n->inputs[i] = to;
  for (int i = 0; i < n->noutputs; i++)
    if (n->outputs[i] == from) n->outputs[i] = to;
  for (int a = 0; a < n->nattrs; a++) {
    const kiln_attr *at = &n->attrs[a];
    int nb = at->type == KILN_ATTR_GRAPH ? 1 : at->type == KILN_ATTR_GRAPHS ? at->count : 0;
    for (int j = 0; j < nb && at->graphs; j++) replace_in_block(g, at->graphs[j], from, to);
  }
}

static void replace_in_block(kiln_graph *g, kiln_block *b, int from, int to) {
  for (int i = 0; i < b->nnodes; i++) replace_in_node(g, &g->nodes[b->nodes[i]], from, to);
  for (int i = 0; i < b->noutputs; i++)
    if (b->outputs[i] == from) b->outputs[i] = to;
}

/* Every reference to value `from` (node inputs and outputs, block and graph outputs)
 * becomes `to`, which takes over from's type and producer. */
static void rename_value(kiln_graph *g, int from, int to) {
  replace_in_block(g, &g->main, from, to);
  kiln_value *f = &g->values[from], *t = &g->values[to];
  t->dtype = f->dtype;
  t->rank = f->rank;
  memcpy(t->dims, f->dims, sizeof t->dims);
  memcpy(t->sym, f->sym, sizeof t->sym);
  t->producer = f->producer;
  f->producer = -1;
}

static kiln_status inline_if(kiln_graph *g, kiln_block *b, int pos, int *inlined,
                             kiln_error *err) {
  int id = b->nodes[pos];
  kiln_node *n = &g->nodes[id];
  const kiln_value *cond = kiln_node_in(g, n, 0);
  if (!cond || kiln_value_numel(cond) < 1)
    return kiln_fail(err, KILN_ERR_SHAPE, "node '%s' (If): condition must have one element",
                     n->name);
  bool taken = kiln_load_f64(cond->dtype, cond->data, 0) != 0;
  kiln_block *br = kiln_node_attr(n, taken ? "then_branch" : "else_branch")->graphs[0];
  if (br->noutputs != n->noutputs)
    return kiln_fail(err, KILN_ERR_INVALID_MODEL,
                     "node '%s' (If): branch yields %d values, the node has %d outputs",
                     n->name, br->noutputs, n->noutputs);
  /* the branch's nodes take the If's place */
  int m = br->nnodes;
  kiln_block_remove(g, b, pos);
  for (int i = 0; i < m; i++) {
    KILN_GROW(b->nodes, b->nnodes, b->cap);
    memmove(&b->nodes[pos + i + 1], &b->nodes[pos + i], sizeof(int) * (size_t)(b->nnodes - pos - i));
    b->nodes[pos + i] = br->nodes[i];
    b->nnodes++;
  }
  br->nnodes = 0;
  for (int j = 0; j < n->noutputs; j++) {
    int o = n->outputs[j], r = br->outputs[j];
    if (o < 0) continue;
    bool dup = false;
    for (int i = 0; i < j; i++) dup |= br->outputs[i] == r;
    kiln_value *rv = &g->values[r], *ov = &g->values[o];
    if (rv->kind != KILN_KIND_TENSOR) { /* a sequence or optional: the same list */
      kiln_value_set_elems(ov, rv->kind, rv->elems, rv->nelems);
      ov->dtype = rv->dtype;
      continue;
    }
    ov->dtype = rv->dtype; /* the taken branch decides, even where the branches differ */
    ov->rank = rv->rank;
    memcpy(ov->dims, rv->dims, sizeof ov->dims);
    memcpy(ov->sym, rv->sym, sizeof ov->sym); /* and its free dims */
    if (rv->data && !dup) { /* a constant result: the If output becomes a copy of it */
      size_t bytes = (size_t)kiln_value_numel(rv) * kiln_dtype_size(rv->dtype);
      kiln_tensor t = {rv->dtype, rv->rank, {0}, kiln_xmalloc(bytes ? bytes : 1)};
      memcpy(t.dims, rv->dims, sizeof t.dims);
      memcpy(t.data, rv->data, bytes);
      kiln_value_set_const(&g->values[o], &t);
      g->values[o].producer = -1;
      if (rv->sym_data) { /* a shape computation's elements */
        size_t n = (size_t)kiln_value_numel(rv);
        g->values[o].sym_data = kiln_xmalloc(sizeof(int) * (n ? n : 1));
        memcpy(g->values[o].sym_data, rv->sym_data, sizeof(int) * n);
      }
    } else if (rv->is_input || rv->is_output || dup || kiln_value_is_const(g, r)) {
      /* the value must stay where it is: an Identity writes the If's output */
      int src = dup ? g->nodes[id].outputs[0] : r;
      for (int i = 0; i < j && dup; i++)
        if (br->outputs[i] == r) src = g->nodes[id].outputs[i];
      char *name = kiln_fmt("%s_out%d", g->nodes[id].name, j);
      kiln_graph_insert_node(g, b, pos + m, "Identity", name, &src, 1, &o, 1);
      free(name);
      m++;
      n = &g->nodes[id]; /* the node table may have moved */
    } else {
      rename_value(g, r, o); /* o keeps its name (it may be a graph output) */
    }
  }
  *inlined = m;
  return KILN_OK;
}

kiln_status kiln_fold_node(kiln_graph *g, kiln_block *b, int pos, int64_t max_elems,
                           bool *folded, int *inlined, kiln_error *err) {
  kiln_node *n = &g->nodes[b->nodes[pos]];
  *folded = false;
  *inlined = 0;
  if (!n->op) return KILN_OK;
  if (is_if(n)) {
    if (n->ninputs < 1 || n->inputs[0] < 0 || !g->values[n->inputs[0]].data) return KILN_OK;
    *folded = true;
    return inline_if(g, b, pos, inlined, err);
  }
  if (!foldable(g, n, max_elems)) return KILN_OK;
  bool done;
  if (evaluate(g, n, &done, err)) return err->code;
  if (!done) return KILN_OK;
  kiln_block_remove(g, b, pos);
  *folded = true;
  return KILN_OK;
}

static kiln_status fold_block(kiln_graph *g, kiln_block *b, int64_t max_elems,
                              kiln_error *err) {
  for (int pos = 0; pos < b->nnodes;) {
    kiln_node *n = &g->nodes[b->nodes[pos]];
    for (int a = 0; a < n->nattrs; a++) {
      const kiln_attr *at = &n->attrs[a];
      int nb = at->type == KILN_ATTR_GRAPH ? 1 : at->type == KILN_ATTR_GRAPHS ? at->count : 0;
      for (int j = 0; j < nb && at->graphs; j++)
        if (fold_block(g, at->graphs[j], max_elems, err)) return err->code;
    }
    bool folded;
    int inlined;
    if (kiln_fold_node(g, b, pos, max_elems, &folded, &inlined, err)) return err->code;
    if (!folded) pos++;
    /* an inlined branch's nodes are visited next (pos stays) */
  }
  return KILN_OK;
}

kiln_status kiln_pass_fold(kiln_graph *g, int64_t max_elems, kiln_error *err) {
  return fold_block(g, &g->main, max_elems, err);
}
