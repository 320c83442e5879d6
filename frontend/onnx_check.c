/* Import-time validation: every unsupported op of the model in one error (users should not
 * find them one at a time), then each node against its op definition. */
#include "frontend/onnx_internal.h"

#include "ir/op.h"

#include <stdlib.h>
#include <string.h>

#define MAX_NAMES_PER_OP 4 /* the message has 1 KiB: name a few nodes, count the rest */

/* Appends printf-style text to a growing string. */
static void append(char **s, const char *fmt, const char *a) {
  char *part = kiln_fmt(fmt, a);
  char *joined = kiln_fmt("%s%s", *s, part);
  free(part);
  free(*s);
  *s = joined;
}

kiln_status kiln_onnx_report_unsupported(const kiln_onnx_ctx *c, kiln_error *err) {
  if (!c->nunsup) return KILN_OK;
  char *msg = kiln_xstrdup("unsupported ops:");
  bool *done = kiln_xcalloc((size_t)c->nunsup, sizeof(bool));
  for (int i = 0, nops = 0; i < c->nunsup; i++) {
    if (done[i]) continue;
    append(&msg, nops++ ? ", %s (node " : " %s (node ", c->unsup[i].op);
    int named = 0, more = 0;
    for (int j = i; j < c->nunsup; j++) {
      if (done[j] || strcmp(c->unsup[j].op, c->unsup[i].op) != 0) continue;
      done[j] = true;
      if (named < MAX_NAMES_PER_OP) append(&msg, named++ ? ", '%s'" : "'%s'", c->unsup[j].node);
      else more++;
    }
    if (more) {
      char *n = kiln_fmt("%d", more);
      append(&msg, " and %s more", n);
      free(n);
    }
    append(&msg, "%s", ")");
  }
  kiln_status st = kiln_fail(err, KILN_ERR_UNSUPPORTED, "%s", msg);
  free(done);
  free(msg);
  return st;
}

static kiln_status check_arity(const kiln_node *n, kiln_error *err) {
  const kiln_op_def *op = n->op;
  int nin = n->ninputs;
  while (nin > 0 && n->inputs[nin - 1] < 0) nin--; /* trailing omitted optional inputs */
  if (nin < op->min_inputs || (op->max_inputs >= 0 && n->ninputs > op->max_inputs)) {
    if (op->max_inputs < 0)
      return kiln_fail(err, KILN_ERR_INVALID_MODEL, "node '%s' (%s): has %d inputs, %s takes at least %d", n->name, n->op_type, nin, op->name, op->min_inputs);
    return kiln_fail(err, KILN_ERR_INVALID_MODEL, "node '%s' (%s): has %d inputs, %s takes %d to %d", n->name, n->op_type, n->ninputs, op->name, op->min_inputs, op->max_inputs);
  }
  if (kiln_node_check_required(n, err)) return err->code;
  int nout = n->noutputs;
  while (nout > 0 && n->outputs[nout - 1] < 0) nout--; /* trailing omitted outputs */
  if (nout < op->min_outputs || (op->max_outputs >= 0 && n->noutputs > op->max_outputs))
    return kiln_fail(err, KILN_ERR_INVALID_MODEL, "node '%s' (%s): has %d outputs, %s gives %d to %d", n->name, n->op_type, n->noutputs, op->name, op->min_outputs, op->max_outputs);
  for (int i = 0; i < op->min_outputs; i++)
    if (n->outputs[i] < 0)
      return kiln_fail(err, KILN_ERR_INVALID_MODEL, "node '%s' (%s): required output %d is omitted", n->name, n->op_type, i);
  return KILN_OK;
}

kiln_status kiln_onnx_check_node(const kiln_node *n, kiln_error *err) {
  if (!n->op) return KILN_OK;
  if (check_arity(n, err)) return err->code;
  for (const kiln_attr_spec *s = n->op->attrs; s && s->name; s++) {
    const kiln_attr *a = kiln_node_attr(n, s->name);
    if (!a && s->required)
      return kiln_fail(err, KILN_ERR_INVALID_MODEL, "node '%s' (%s): required attribute '%s' is missing", n->name, n->op_type, s->name);
    bool listed = a && a->type == KILN_ATTR_STRINGS && s->type == KILN_ATTR_TENSOR;
    if (listed && !(n->op->flags & KILN_OP_STRING_ATTRS))
      return kiln_fail(err, KILN_ERR_UNSUPPORTED, "node '%s' (%s): attribute '%s': a string tensor "
                       "as a constant; kiln takes strings as graph inputs only", n->name, n->op_type, s->name);
    if (a && a->type != s->type && !listed)
      return kiln_fail(err, KILN_ERR_INVALID_MODEL, "node '%s' (%s): attribute '%s' is %s, expected %s", n->name, n->op_type, s->name, kiln_onnx_attr_type_name(a->type), kiln_onnx_attr_type_name(s->type));
  }
  return KILN_OK;
}
