/* Lowering in collect mode, for `kiln check`: some problems (an attribute value a
 * lowering does not implement, a type a kernel cannot compute in) show only when a node
 * is lowered, and the lowering pass stops at the first. This lowers every node on its own,
 * records each failure, and counts the kernels' floating-point work for the report. */
#include "passes/passes.h"

#include "ir/dtype.h"
#include "ir/kernel_cost.h"
#include "ir/op.h"

#include <string.h>

typedef struct lower_check {
  const kiln_graph *g;
  kiln_diags *diags;
  double flops;
  int nlowered;
} lower_check;

static bool tainted(const lower_check *c, const kiln_node *n) {
  for (int i = 0; i < n->ninputs; i++)
    if (kiln_diags_tainted(c->diags, n->inputs[i])) return true;
  for (int i = 0; i < n->noutputs; i++)
    if (kiln_diags_tainted(c->diags, n->outputs[i])) return true;
  return false;
}

static void check_block(lower_check *c, const kiln_block *b);

/* An If runs its branches' nodes, not a kernel of its own (passes/lower.c): the taken
 * branch when the condition is known, both otherwise. */
static void check_if(lower_check *c, const kiln_node *n) {
  const kiln_value *cond = kiln_node_in(c->g, n, 0);
  bool known = cond && cond->data && kiln_value_numel(cond) == 1;
  bool taken = known && kiln_load_f64(cond->dtype, cond->data, 0) != 0;
  const kiln_attr *then_b = kiln_node_attr(n, "then_branch");
  const kiln_attr *else_b = kiln_node_attr(n, "else_branch");
  if (then_b && then_b->graphs && (!known || taken)) check_block(c, then_b->graphs[0]);
  if (else_b && else_b->graphs && (!known || !taken)) check_block(c, else_b->graphs[0]);
}

static void check_block(lower_check *c, const kiln_block *b) {
  for (int i = 0; i < b->nnodes; i++) {
    const kiln_node *n = &c->g->nodes[b->nodes[i]];
    if (!n->op || tainted(c, n)) continue;
    if (!strcmp(n->op_type, "If")) {
      check_if(c, n);
      continue;
    }
    if (n->op->flags & KILN_OP_LOOP) { /* a loop step over its body's kernels */
      const kiln_attr *body = kiln_node_attr(n, "body");
      if (body && body->graphs && body->graphs[0]) check_block(c, body->graphs[0]);
      continue;
    }
    kiln_kernel *k = NULL;
    kiln_error err = {0};
    if (kiln_lower_node(c->g, n, &k, &err)) {
      kiln_diag_add(c->diags, "lower", kiln_diag_kind(n, &err), n->name, n->op_type, &err);
      continue;
    }
    kiln_kernel_cost cost;
    kiln_kernel_cost_of(k, &cost);
    c->flops += cost.flops;
    c->nlowered++;
    kiln_kernel_free(k);
  }
}

void kiln_pass_lower_collect(const kiln_graph *g, kiln_diags *diags, double *flops,
                             int *nlowered) {
  lower_check c = {g, diags, 0, 0};
  check_block(&c, &g->main);
  *flops = c.flops;
  *nlowered = c.nlowered;
}
