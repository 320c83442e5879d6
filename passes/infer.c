/* Shape inference: every node in execution order (an If's branches before the If, since
 * its outputs come from theirs), expanding composite ops into simpler nodes and folding
 * small all-constant nodes as soon as they are inferred, so that shape computations
 * (Shape -> Gather -> Concat -> Reshape) are constant by the time a consumer needs them.
 * In collect mode (`kiln check`) a node's problem is recorded and inference goes on. */
#include "passes/passes.h"

#include "ir/dtype.h"
#include "ir/op.h"
#include "ir/ops/subgraph.h"
#include "passes/sym_points.h"

#include <stdio.h>
#include <string.h>

#define EAGER_FOLD_ELEMS 65536
#define DEFAULT_MAX_BYTES (INT64_C(16) << 30)

typedef struct infer_ctx {
  kiln_graph *g;
  int64_t max_bytes;
  kiln_error *err;
  kiln_diags *diags; /* collect mode, else NULL */
  bool skip;         /* collect mode: the node failed only through a tainted branch */
} infer_ctx;

static kiln_status infer_block(infer_ctx *c, kiln_block *b);
static kiln_status infer_plain(infer_ctx *c, kiln_block *b, int pos, int *next);

static kiln_status check_arity(const kiln_node *n, kiln_error *err) {
  const kiln_op_def *op = n->op;
  if (n->ninputs < op->min_inputs || (op->max_inputs >= 0 && n->ninputs > op->max_inputs))
    return kiln_fail(err, KILN_ERR_INVALID_MODEL, "node '%s' (%s): %d inputs, expected %d to %d",
                     n->name, n->op_type, n->ninputs, op->min_inputs, op->max_inputs);
  if (kiln_node_check_required(n, err)) return err->code;
  if (n->noutputs < op->min_outputs || (op->max_outputs >= 0 && n->noutputs > op->max_outputs))
    return kiln_fail(err, KILN_ERR_INVALID_MODEL,
                     "node '%s' (%s): %d outputs, expected %d to %d", n->name, n->op_type,
                     n->noutputs, op->min_outputs, op->max_outputs);
  return KILN_OK;
}

static kiln_status check_inputs(const kiln_graph *g, const kiln_node *n, kiln_error *err) {
  for (int i = 0; i < n->ninputs; i++) {
    const kiln_value *v = kiln_node_in(g, n, i);
    bool list = v && v->kind != KILN_KIND_TENSOR; /* resolved ops check what they hold */
    if (v && (list ? v->nelems < 0 : v->rank < 0 || !kiln_dtype_known(v->dtype)))
      return kiln_fail(err, KILN_ERR_INVALID_MODEL,
                       "node '%s' (%s): input '%s' has no known type or shape (is it produced "
                       "before it is used?)",
                       n->name, n->op_type, v->name);
    if (v && !list && v->dtype == KILN_STRING && !(n->op->flags & (KILN_OP_STRINGS | KILN_OP_SHAPE_OF)))
      return kiln_fail(err, KILN_ERR_UNSUPPORTED, "node '%s' (%s): input '%s' has type "
                       "string, which %s does not take in kiln", n->name, n->op_type, v->name,
                       n->op_type);
  }
  return KILN_OK;
}

static kiln_status check_outputs(infer_ctx *c, const kiln_node *n) {
  for (int i = 0; i < n->noutputs; i++) {
    const kiln_value *v = kiln_node_out(c->g, n, i);
    if (!v) continue;
    if (!kiln_dtype_known(v->dtype) || v->rank < 0 || v->rank > KILN_MAX_RANK)
      return kiln_fail(c->err, KILN_ERR_INTERNAL,
                       "node '%s' (%s): output '%s' was not inferred", n->name, n->op_type,
                       v->name);
    if (v->dtype == KILN_STRING && !(n->op->flags & KILN_OP_STRINGS))
      return kiln_fail(c->err, KILN_ERR_UNSUPPORTED, "node '%s' (%s): output '%s' has type "
                       "string, which %s does not make in kiln", n->name, n->op_type, v->name,
                       n->op_type);
    int64_t bytes = (int64_t)kiln_dtype_size(v->dtype);
    for (int d = 0; d < v->rank; d++) {
      if (v->dims[d] < 0)
        return kiln_fail(c->err, KILN_ERR_SHAPE, "node '%s' (%s): output '%s' dim %d is %lld",
                         n->name, n->op_type, v->name, d, (long long)v->dims[d]);
      /* a free dim's size is a run's (checked then); its hint is no size */
      if (!v->sym[d] && kiln_mul_overflows(bytes, v->dims[d], &bytes)) bytes = INT64_MAX;
    }
    if (bytes > c->max_bytes)
      return kiln_fail(c->err, KILN_ERR_LIMIT,
                       "node '%s' (%s): output '%s' needs %lld bytes, over the limit of %lld "
                       "(max_tensor_bytes)",
                       n->name, n->op_type, v->name, (long long)bytes, (long long)c->max_bytes);
  }
  return KILN_OK;
}

static bool block_tainted(const infer_ctx *c, const kiln_block *b) {
  for (int i = 0; i < b->noutputs; i++)
    if (kiln_diags_tainted(c->diags, b->outputs[i])) return true;
  return false;
}

/* Infers the node at pos; *next gets the position to continue from. */
static kiln_status infer_one(infer_ctx *c, kiln_block *b, int pos, int *next) {
  kiln_graph *g = c->g;
  int id = b->nodes[pos];
  kiln_node *n = &g->nodes[id];
  if (!n->op)
    return kiln_fail(c->err, KILN_ERR_UNSUPPORTED, "node '%s': op '%s' is not supported",
                     n->name, n->op_type);
  if (check_arity(n, c->err) || check_inputs(g, n, c->err)) return c->err->code;
  if (n->op->flags & KILN_OP_RESOLVE) { /* rewritten before its outputs are known */
    if (n->op->expand(g, b, pos, c->err)) return c->err->code;
    *next = pos;
    return KILN_OK;
  }
  bool done;
  if (kiln_seq_plain(g, b, pos, &done, c->err)) return c->err->code;
  if (done) return *next = pos, KILN_OK;
  if (n->op->flags & KILN_OP_LOOP) { /* in collect mode too, its body's first error counts */
    kiln_error *outer = c->err, mine = {0}, again = {0};
    kiln_diags *diags = c->diags;
    c->err = &mine;
    c->diags = NULL;
    kiln_status st = infer_plain(c, b, pos, next);
    c->err = outer;
    c->diags = diags;
    if (!st) return KILN_OK;
    if (g->nodes[id].op->expand(g, b, pos, &again)) { /* its own error tells less */
      *c->err = mine;
      return mine.code;
    }
    *next = pos;
    return KILN_OK;
  }
  return infer_plain(c, b, pos, next);
}

/* A node reading free dims failed its infer at their hints: say so, naming them, since the
 * sizes in its message are the hints', not any the user gave. */
static kiln_status at_hints(const kiln_graph *g, kiln_error *err) {
  char hints[160] = "", msg[sizeof err->message];
  size_t len = 0;
  for (int s = 0; s < g->nsyms && len < sizeof hints - 40; s++)
    len += (size_t)snprintf(hints + len, sizeof hints - len, "%s%s = %lld", s ? ", " : "",
                            g->sym_names[s], (long long)g->sym_hint[s]);
  snprintf(msg, sizeof msg, "%s", err->message);
  kiln_status code = err->code;
  err->code = KILN_OK; /* kiln_fail keeps a first error */
  return kiln_fail(err, code,
                   "%s, with the free dims at their compile-time sizes (%s): its shapes hold for "
                   "some values of the free dims only; bind them (kiln_options.shapes, --shape)",
                   msg, hints);
}

/* infer_one for a node that stays: its subgraphs, then itself, then its expansion or
 * folding. */
static kiln_status infer_plain(infer_ctx *c, kiln_block *b, int pos, int *next) {
  kiln_graph *g = c->g;
  int id = b->nodes[pos];
  kiln_node *n = &g->nodes[id];
  bool known_if = strcmp(n->op_type, "If") == 0 && n->ninputs > 0 && n->inputs[0] >= 0 &&
                  g->values[n->inputs[0]].data && kiln_value_numel(&g->values[n->inputs[0]]) > 0;
  /* a known If inlines one branch: the other, never run, is not inferred (its shapes may
   * not even agree with the inputs, as in a function body's branch for another rank) */
  const char *skip = !known_if ? NULL
                     : kiln_load_f64(g->values[n->inputs[0]].dtype, g->values[n->inputs[0]].data, 0)
                         ? "else_branch" : "then_branch";
  for (int a = 0; a < n->nattrs; a++) {
    const kiln_attr *at = &n->attrs[a];
    if (at->name[0] == '_') continue; /* kept aside, not run (KILN_OP_LOOP) */
    if (skip && !strcmp(at->name, skip)) continue;
    int nb = at->type == KILN_ATTR_GRAPH ? 1 : at->type == KILN_ATTR_GRAPHS ? at->count : 0;
    for (int j = 0; j < nb && at->graphs; j++) {
      if (infer_block(c, at->graphs[j])) return c->err->code;
      if (c->diags && block_tainted(c, at->graphs[j])) return c->skip = true, KILN_ERR_INTERNAL;
    }
    n = &g->nodes[id]; /* branches may have added nodes */
  }
  if (!known_if && n->op->infer(g, n, c->err)) { /* a known If is inlined below instead */
    if (!c->err->code)
      kiln_fail(c->err, KILN_ERR_INTERNAL, "node '%s' (%s): inference failed", n->name,
                n->op_type);
    else if (c->err->code == KILN_ERR_SHAPE && g->nsyms && kiln_node_is_symbolic(g, n))
      return at_hints(g, c->err);
    return c->err->code;
  }
  if (!known_if && (kiln_infer_symbolic(g, n, c->err) || check_outputs(c, n)))
    return c->err->code;
  if (n->op->expand && !(n->op->flags & KILN_OP_LOOP)) {
    if (n->op->expand(g, b, pos, c->err)) return c->err->code;
    if (pos < b->nnodes && b->nodes[pos] == id)
      return kiln_fail(c->err, KILN_ERR_INTERNAL, "node '%s' (%s): expansion kept the node",
                       g->nodes[id].name, g->nodes[id].op_type);
    *next = pos; /* the new nodes are inferred next */
    return KILN_OK;
  }
  bool folded;
  int inlined;
  if (kiln_fold_node(g, b, pos, EAGER_FOLD_ELEMS, &folded, &inlined, c->err))
    return c->err->code;
  /* an inlined branch was inferred with its If */
  *next = folded ? pos + inlined : pos + 1;
  return KILN_OK;
}

static bool reads_tainted(const infer_ctx *c, const kiln_node *n) {
  for (int i = 0; i < n->ninputs; i++)
    if (kiln_diags_tainted(c->diags, n->inputs[i])) return true;
  for (int i = 0; i < n->noutputs; i++)
    if (kiln_diags_tainted(c->diags, n->outputs[i])) return true;
  return false;
}

/* Collect mode around infer_one: a node already reported (no op) or reading a tainted
 * value is skipped, a failure recorded; either way its outputs are tainted. */
static kiln_status infer_node(infer_ctx *c, kiln_block *b, int pos, int *next) {
  if (!c->diags) return infer_one(c, b, pos, next);
  int id = b->nodes[pos];
  kiln_node *n = &c->g->nodes[id];
  *next = pos + 1;
  kiln_error local = {0}, *outer = c->err;
  bool skip = !n->op || reads_tainted(c, n);
  if (!skip) {
    c->err = &local;
    c->skip = false;
    kiln_status st = infer_one(c, b, pos, next);
    c->err = outer;
    if (!st) return KILN_OK;
    skip = c->skip;
    n = &c->g->nodes[id]; /* expansions may have added nodes */
    if (!skip)
      kiln_diag_add(c->diags, "infer", kiln_diag_kind(n, &local), n->name, n->op_type, &local);
    /* continue after the node, wherever a failed expansion left it */
    *next = pos;
    for (int i = pos; i < b->nnodes; i++)
      if (b->nodes[i] == id) *next = i + 1;
  }
  if (skip && n->op) c->diags->skipped++;
  for (int i = 0; i < n->noutputs; i++) kiln_diags_taint(c->diags, n->outputs[i]);
  return KILN_OK;
}

static kiln_status infer_block(infer_ctx *c, kiln_block *b) {
  for (int pos = 0; pos < b->nnodes;)
    if (infer_node(c, b, pos, &pos)) return c->err->code;
  for (int i = 0; i < b->noutputs; i++) {
    const kiln_value *v = &c->g->values[b->outputs[i]];
    bool known = v->kind != KILN_KIND_TENSOR ? v->nelems >= 0
                                             : v->rank >= 0 && kiln_dtype_known(v->dtype);
    if (known || (c->diags && kiln_diags_tainted(c->diags, b->outputs[i]))) continue;
    kiln_fail(c->err, KILN_ERR_INVALID_MODEL,
              "output '%s' has no known type or shape (nothing produces it)", v->name);
    if (!c->diags) return c->err->code;
    kiln_diag_add(c->diags, "infer", NULL, NULL, NULL, c->err);
    *c->err = (kiln_error){0};
    kiln_diags_taint(c->diags, b->outputs[i]);
  }
  return KILN_OK;
}

kiln_status kiln_pass_infer(kiln_graph *g, const kiln_options *opts, kiln_error *err) {
  kiln_error local = {0};
  infer_ctx c = {g, opts && opts->max_tensor_bytes > 0 ? opts->max_tensor_bytes
                                                       : DEFAULT_MAX_BYTES,
                 err ? err : &local, NULL, false};
  if (infer_block(&c, &g->main)) return c.err->code;
  /* sequence and optional outputs: one tensor output per element, written by Identities
   * inferred here */
  int from = g->main.nnodes;
  if (kiln_seq_outputs(g, c.err)) return c.err->code;
  for (int pos = from; pos < g->main.nnodes;)
    if (infer_node(&c, &g->main, pos, &pos)) return c.err->code;
  return KILN_OK;
}

kiln_status kiln_pass_infer_collect(kiln_graph *g, const kiln_options *opts, kiln_diags *diags,
                                    kiln_error *err) {
  kiln_error local = {0};
  infer_ctx c = {g, opts && opts->max_tensor_bytes > 0 ? opts->max_tensor_bytes
                                                       : DEFAULT_MAX_BYTES,
                 err ? err : &local, diags, false};
  return infer_block(&c, &g->main);
}
