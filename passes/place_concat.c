/* In-place Concat: the kernels that produce a Concat's inputs write them straight into
 * their slots of its output, so the Concat copies nothing (DenseNet, Inception, U-Net and
 * YOLO join feature maps this way at every block). An input placed so keeps its own value
 * id and view; its buffers become strided (kernel.h: rows of row elements, pitch apart)
 * and memory planning gives them the output's storage at the slot's offset. Along axis a
 * of output dims D, input i of dims D_i at offset o along a: row = prod(D_i[a:]),
 * pitch = prod(D[a:]), offset o * prod(D[a+1:]). With one row (batch 1 along channels,
 * the common case) that is a plain offset.
 *
 * An input is placed only where nothing else claims its bytes: an arena value (no graph
 * input, output or constant) with static dims, written by a kernel of the main block (no
 * alias: a Reshape's output lives in its input), listed once, not hosting placements
 * itself and not placed already (a value two Concats read goes to the first). The output
 * must be an arena value that is not itself placed. Inputs left unplaced are copied by
 * the Concat's kernel as before (ir/ops/movement.c); one with every input placed has no
 * kernel (passes/lower.c). */
#include "passes/passes.h"

#include "ir/op.h"

#include <stdlib.h>

static bool arena_value(const kiln_graph *g, int v) {
  const kiln_value *x = &g->values[v];
  if (x->is_input || x->is_output || x->kind != KILN_KIND_TENSOR || x->rank < 0 ||
      kiln_value_is_const(g, v) || kiln_value_is_symbolic(x))
    return false;
  for (int d = 0; d < x->rank; d++)
    if (x->dims[d] < 0 || x->dim_names[d]) return false;
  return kiln_value_numel(x) > 0;
}

/* v is written by a kernel of the main block (in_main: per node id). */
static bool kernel_written(const kiln_graph *g, int v, const bool *in_main) {
  int p = g->values[v].producer;
  if (p < 0 || !in_main[p]) return false;
  const kiln_op_def *op = g->nodes[p].op;
  return op && op->lower && !(op->flags & KILN_OP_ALIAS);
}

static void place_node(kiln_graph *g, const kiln_node *n, const bool *in_main, bool *hosts) {
  if (!(n->op->flags & KILN_OP_CONCAT) || n->noutputs != 1 || n->outputs[0] < 0) return;
  int y = n->outputs[0], axis;
  const kiln_value *yv = &g->values[y];
  if (!arena_value(g, y) || yv->placed_in || hosts[y]) return;
  if (kiln_norm_axis(n, kiln_attr_int(n, "axis", 0), yv->rank, &axis, NULL)) return;
  int64_t inner = 1;
  for (int d = axis + 1; d < yv->rank; d++) inner *= yv->dims[d];
  int64_t off = 0;
  for (int i = 0; i < n->ninputs; i++) {
    int x = n->inputs[i];
    if (x < 0) return;
    kiln_value *xv = &g->values[x];
    int64_t len = xv->rank == yv->rank ? xv->dims[axis] : -1;
    if (len < 0) return; /* malformed: the Concat's own lowering reports it */
    bool once = true;
    for (int j = 0; j < n->ninputs; j++) once &= j == i || n->inputs[j] != x;
    if (once && arena_value(g, x) && xv->dtype == yv->dtype && !xv->placed_in && !hosts[x] &&
        kernel_written(g, x, in_main)) {
      xv->placed_in = y + 1;
      xv->place_off = off * inner;
      xv->place_row = len * inner;
      xv->place_pitch = yv->dims[axis] * inner;
      hosts[y] = true;
    }
    off += len;
  }
}

void kiln_pass_place_concat(kiln_graph *g) {
  bool *in_main = calloc((size_t)g->nnodes + 1, 1), *hosts = calloc((size_t)g->nvalues + 1, 1);
  if (!in_main || !hosts) abort(); /* like kiln_xmalloc */
  for (int i = 0; i < g->main.nnodes; i++) in_main[g->main.nodes[i]] = true;
  for (int i = 0; i < g->main.nnodes; i++) {
    const kiln_node *n = &g->nodes[g->main.nodes[i]];
    if (n->op) place_node(g, n, in_main, hosts);
  }
  free(in_main);
  free(hosts);
}
