/* Dead-code removal. Every value gets a use count (node inputs in every live block, block
 * outputs, graph outputs); blocks are walked backwards, so a node's readers are decided
 * before it: a node none of whose outputs is read goes, and its own reads are released. */
#include "passes/passes.h"

#include <stdlib.h>

static void count_block(const kiln_graph *g, const kiln_block *b, int *uses, int delta);

/* The uses node n makes: its inputs, and everything in its subgraphs. */
static void count_node(const kiln_graph *g, const kiln_node *n, int *uses, int delta) {
  for (int i = 0; i < n->ninputs; i++)
    if (n->inputs[i] >= 0) uses[n->inputs[i]] += delta;
  for (int a = 0; a < n->nattrs; a++) {
    const kiln_attr *at = &n->attrs[a];
    int nb = at->type == KILN_ATTR_GRAPH ? 1 : at->type == KILN_ATTR_GRAPHS ? at->count : 0;
    for (int j = 0; j < nb && at->graphs; j++) count_block(g, at->graphs[j], uses, delta);
  }
}

static void count_block(const kiln_graph *g, const kiln_block *b, int *uses, int delta) {
  for (int i = 0; i < b->nnodes; i++) count_node(g, &g->nodes[b->nodes[i]], uses, delta);
  for (int i = 0; i < b->noutputs; i++)
    if (b->outputs[i] >= 0) uses[b->outputs[i]] += delta;
}

static void dce_block(kiln_graph *g, kiln_block *b, int *uses) {
  for (int pos = b->nnodes - 1; pos >= 0; pos--) {
    kiln_node *n = &g->nodes[b->nodes[pos]];
    bool used = false;
    for (int i = 0; i < n->noutputs; i++)
      if (n->outputs[i] >= 0 && uses[n->outputs[i]] > 0) used = true;
    if (!used) {
      count_node(g, n, uses, -1);
      kiln_block_remove(g, b, pos);
      continue;
    }
    for (int a = 0; a < n->nattrs; a++) {
      const kiln_attr *at = &n->attrs[a];
      int nb = at->type == KILN_ATTR_GRAPH ? 1 : at->type == KILN_ATTR_GRAPHS ? at->count : 0;
      for (int j = 0; j < nb && at->graphs; j++) dce_block(g, at->graphs[j], uses);
    }
  }
}

void kiln_pass_dce(kiln_graph *g) {
  int *uses = kiln_xcalloc((size_t)(g->nvalues ? g->nvalues : 1), sizeof(int));
  count_block(g, &g->main, uses, 1);
  dce_block(g, &g->main, uses);
  free(uses);
}
