/* Control flow: If. Neither lowered nor expanded here: lowering turns it into a
 * KILN_STEP_IF holding both branches, and folding inlines the taken branch when the
 * condition is constant. Only its shape inference lives in the op table. */
#include "ir/op.h"

#include <string.h>

static const kiln_block *branch(const kiln_node *n, const char *name) {
  const kiln_attr *a = kiln_node_attr(n, name);
  return a && a->type == KILN_ATTR_GRAPH && a->graphs ? a->graphs[0] : NULL;
}

/* Outputs take their types from the then-branch; both branches must agree, since every
 * shape is static and one buffer receives whichever branch runs. */
static kiln_status infer_if(kiln_graph *g, kiln_node *n, kiln_error *err) {
  const kiln_block *then_b = branch(n, "then_branch"), *else_b = branch(n, "else_branch");
  if (!then_b || !else_b)
    return kiln_fail(err, KILN_ERR_INVALID_MODEL, "node '%s' (%s): a branch is missing", n->name,
                     n->op_type);
  const kiln_value *cond = kiln_node_in(g, n, 0);
  if (kiln_value_numel(cond) != 1)
    return kiln_fail(err, KILN_ERR_INVALID_MODEL,
                     "node '%s' (%s): condition '%s' must hold one element", n->name, n->op_type,
                     cond->name);
  if (then_b->noutputs != n->noutputs || else_b->noutputs != n->noutputs)
    return kiln_fail(err, KILN_ERR_INVALID_MODEL,
                     "node '%s' (%s): branches yield %d and %d values, the node has %d outputs",
                     n->name, n->op_type, then_b->noutputs, else_b->noutputs, n->noutputs);
  for (int i = 0; i < n->noutputs; i++) {
    const kiln_value *t = &g->values[then_b->outputs[i]], *e = &g->values[else_b->outputs[i]];
    if (t->kind != KILN_KIND_TENSOR || e->kind != KILN_KIND_TENSOR) /* lists exist only at compile time */
      return kiln_need_value(g, n, cond, "a value (its branches yield sequences or optionals)", err);
    if (t->rank < 0 || e->rank < 0)
      return kiln_fail(err, KILN_ERR_INTERNAL,
                       "node '%s' (%s): branch output %d is not inferred", n->name, n->op_type, i);
    if (t->dtype != e->dtype || t->rank != e->rank ||
        memcmp(t->dims, e->dims, sizeof(int64_t) * (size_t)t->rank) != 0) {
      char tb[128], eb[128];
      return kiln_fail(err, KILN_ERR_SHAPE,
                       "node '%s' (%s): output %d is %s in the then-branch but %s in the "
                       "else-branch (kiln needs one static type and shape)",
                       n->name, n->op_type, i, kiln_value_type_str(t, tb, sizeof tb),
                       kiln_value_type_str(e, eb, sizeof eb));
    }
    kiln_set_out(g, n, i, t->dtype, t->rank, t->dims);
  }
  return KILN_OK;
}

static const kiln_attr_spec if_attrs[] = {
    {"then_branch", KILN_ATTR_GRAPH, true},
    {"else_branch", KILN_ATTR_GRAPH, true},
    {NULL},
};

const kiln_op_def kiln_ops_control[] = {
    {"If", 1, 1, 1, -1, if_attrs, infer_if, NULL, NULL, 0},
    {NULL},
};
