/* ModelProto -> kiln_graph: the opset, initializers, typed graph inputs, nodes (Constant
 * nodes become constant values), graph outputs; subgraphs (If branches) become blocks whose
 * names resolve in their own scope first, then in the enclosing ones. Unsupported ops are
 * collected over the whole model and reported in one error; then every node is checked
 * against its op definition. In collect mode (ctx->diags, `kiln check`) each problem
 * confined to one value or node is recorded instead and the import goes on. */
#include "frontend/onnx_internal.h"

#include "ir/dtype.h"
#include "ir/op.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define KILN_ONNX_MAX_DEPTH 32 /* subgraph nesting */

/* Collect mode: records the problem in err as a diagnostic (kind: what it is about) and
 * clears err so the import goes on (the caller taints what the problem leaves undefined).
 * Otherwise returns st unchanged. */
static kiln_status collect(kiln_onnx_ctx *c, kiln_status st, const char *kind,
                           const char *node, const char *op, kiln_error *err) {
  if (!st || !c->diags || !err) return st;
  kiln_diag_add(c->diags, "import", kind, node, op, err);
  *err = (kiln_error){0};
  return KILN_OK;
}

static const char *tensor_kind(kiln_status st) {
  return st == KILN_ERR_NO_SUCH_FILE || st == KILN_ERR_IO ? "external data"
       : st == KILN_ERR_UNSUPPORTED ? "type" : NULL;
}

/* Adds a value named `name` to the current scope; a name defined twice in one scope is a
 * malformed model. */
static kiln_status define(kiln_onnx_ctx *c, kiln_onnx_symtab *scope, const char *name,
                          const char *what, int *id, kiln_error *err) {
  if (kiln_onnx_symtab_get_local(scope, name) >= 0)
    return kiln_fail(err, KILN_ERR_INVALID_MODEL, "%s: value '%s' is defined more than once", what, name);
  *id = kiln_graph_add_value(c->g, name);
  kiln_onnx_symtab_put(scope, name, *id);
  return KILN_OK;
}

static const char *type_kind(const Onnx__TypeProto *tp) {
  return tp->value_case == ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE ? "a sequence"
       : tp->value_case == ONNX__TYPE_PROTO__VALUE_MAP_TYPE ? "a map"
       : tp->value_case == ONNX__TYPE_PROTO__VALUE_OPTIONAL_TYPE ? "an optional"
       : tp->value_case == ONNX__TYPE_PROTO__VALUE_SPARSE_TENSOR_TYPE ? "a sparse tensor"
       : "an unknown";
}

/* The TypeProto of a sequence's or optional's element, or NULL. */
static const Onnx__TypeProto *elem_type(const Onnx__TypeProto *tp) {
  if (tp->value_case == ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE && tp->sequence_type)
    return tp->sequence_type->elem_type;
  if (tp->value_case == ONNX__TYPE_PROTO__VALUE_OPTIONAL_TYPE && tp->optional_type)
    return tp->optional_type->elem_type;
  return NULL;
}

/* dtype and shape of a graph input from its TypeProto: free dims keep their symbolic
 * name ("?" when anonymous) with dims[d] = -1 until bound at compile time. A sequence of
 * tensors or an optional tensor or sequence is marked unbound (nelems -1) with its
 * elements' type; an optional sequence holds the sequence it would hold as elems[0]
 * (passes/bind_seq.c binds them). */
static kiln_status set_type(kiln_graph *g, int id, const Onnx__TypeProto *tp, const char *what,
                            kiln_error *err) {
  if (!tp) return kiln_fail(err, KILN_ERR_INVALID_MODEL, "%s has no type", what);
  const Onnx__TypeProto *inner = elem_type(tp);
  if (inner && inner->value_case == ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE) {
    g->values[id].kind = tp->value_case == ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE
                             ? KILN_KIND_SEQUENCE : KILN_KIND_OPTIONAL;
    g->values[id].nelems = -1;
    return set_type(g, id, inner, what, err);
  }
  if (inner && tp->value_case == ONNX__TYPE_PROTO__VALUE_OPTIONAL_TYPE &&
      inner->value_case == ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE && elem_type(inner) &&
      elem_type(inner)->value_case == ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE) {
    int seq = kiln_graph_add_value(g, g->values[id].name);
    kiln_value_set_elems(&g->values[id], KILN_KIND_OPTIONAL, &seq, 1);
    g->values[id].nelems = -1;
    kiln_status st = set_type(g, seq, inner, what, err);
    g->values[id].dtype = g->values[seq].dtype;
    return st;
  }
  if (inner)
    return kiln_fail(err, KILN_ERR_UNSUPPORTED, "%s has %s type of %s; kiln supports sequences of tensors and optional tensors or sequences", what, type_kind(tp), type_kind(inner));
  if (tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type)
    return kiln_fail(err, KILN_ERR_UNSUPPORTED, "%s has %s type; only tensors, sequences and optionals are supported", what, type_kind(tp));
  kiln_value *v = &g->values[id];
  const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
  int32_t et = tt->has_elem_type ? tt->elem_type : 0;
  if (et <= 0 || et > KILN_DTYPE_LAST || !kiln_dtype_known((kiln_dtype)et))
    return kiln_fail(err, KILN_ERR_UNSUPPORTED, "%s has element type %d (not a kiln type), which kiln does not support", what, (int)et);
  v->dtype = (kiln_dtype)et;
  if (!tt->shape) return KILN_OK; /* rank unknown */
  if (tt->shape->n_dim > KILN_MAX_RANK)
    return kiln_fail(err, KILN_ERR_UNSUPPORTED, "%s has rank %zu; kiln supports at most %d", what, tt->shape->n_dim, KILN_MAX_RANK);
  v->rank = (int)tt->shape->n_dim;
  for (int d = 0; d < v->rank; d++) {
    const Onnx__TensorShapeProto__Dimension *dim = tt->shape->dim[d];
    v->dims[d] = -1;
    if (dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE) {
      if (dim->dim_value < 0)
        return kiln_fail(err, KILN_ERR_INVALID_MODEL, "%s: dim %d is negative", what, d);
      v->dims[d] = dim->dim_value;
    } else if (dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM &&
               dim->dim_param && *dim->dim_param) {
      v->dim_names[d] = kiln_xstrdup(dim->dim_param);
    } else {
      v->dim_names[d] = kiln_xstrdup("?");
    }
  }
  return KILN_OK;
}

static kiln_status import_initializers(kiln_onnx_ctx *c, const Onnx__GraphProto *gp,
                                       kiln_onnx_symtab *scope, kiln_error *err) {
  for (size_t i = 0; i < gp->n_initializer; i++) {
    const char *name = KILN_ONNX_STR(gp->initializer[i]->name);
    char *what = kiln_fmt("initializer '%s'", name);
    kiln_tensor t;
    int id = -1;
    kiln_status st = kiln_onnx_tensor_from_proto(gp->initializer[i], what, c->base_dir, &t, err);
    bool bad = st && c->diags; /* collect mode: defined without a value, tainted */
    if (bad) st = collect(c, st, tensor_kind(st), NULL, NULL, err);
    if (!st && (st = define(c, scope, name, what, &id, err)) && !bad) kiln_tensor_free(&t);
    if (!st && bad) kiln_diags_taint(c->diags, id);
    else if (!st) kiln_value_set_const(&c->g->values[id], &t);
    free(what);
    if (st) return st;
  }
  for (size_t i = 0; i < gp->n_sparse_initializer; i++) {
    const Onnx__SparseTensorProto *sp = gp->sparse_initializer[i];
    const char *name = KILN_ONNX_STR(sp->values ? sp->values->name : NULL);
    kiln_status st = kiln_fail(err, KILN_ERR_UNSUPPORTED, "initializer '%s': sparse initializers are not supported", name);
    int id = -1;
    if ((st = collect(c, st, "type", NULL, NULL, err)) || !*name) return st;
    char *what = kiln_fmt("initializer '%s'", name);
    st = define(c, scope, name, what, &id, err);
    free(what);
    if (st) return st;
    kiln_diags_taint(c->diags, id);
  }
  return KILN_OK;
}

/* Graph inputs that are not initializers (those are constants already). */
static kiln_status import_inputs(kiln_onnx_ctx *c, const Onnx__GraphProto *gp,
                                 kiln_onnx_symtab *scope, kiln_block *b, bool is_main,
                                 kiln_error *err) {
  for (size_t i = 0; i < gp->n_input; i++) {
    const Onnx__ValueInfoProto *vi = gp->input[i];
    const char *name = KILN_ONNX_STR(vi->name);
    if (!*name) return kiln_fail(err, KILN_ERR_INVALID_MODEL, "graph input %zu has no name", i);
    int prev = kiln_onnx_symtab_get_local(scope, name);
    if (prev >= 0 && !c->g->values[prev].is_input) continue; /* an initializer: a constant */
    char *what = kiln_fmt("graph input '%s'", name);
    int id = -1;
    kiln_status st = define(c, scope, name, what, &id, err);
    /* A loop body's inputs may leave their type to inference. */
    if (!st && (is_main || vi->type) && (st = set_type(c->g, id, vi->type, what, err)) &&
        c->diags) {
      st = collect(c, st, st == KILN_ERR_UNSUPPORTED ? "type" : NULL, NULL, NULL, err);
      kiln_diags_taint(c->diags, id);
    }
    free(what);
    if (st) return st;
    if (!is_main) { /* a loop body's parameters */
      b->inputs = kiln_xrealloc(b->inputs, sizeof(int) * (size_t)(b->ninputs + 1));
      b->inputs[b->ninputs++] = id;
    } else {
      c->g->values[id].is_input = true;
      c->g->inputs = kiln_xrealloc(c->g->inputs, sizeof(int) * (size_t)(c->g->ninputs + 1));
      c->g->inputs[c->g->ninputs++] = id;
    }
  }
  return KILN_OK;
}

static const Onnx__AttributeProto *find_attr(const Onnx__NodeProto *np, const char *name) {
  for (size_t i = 0; i < np->n_attribute; i++)
    if (strcmp(KILN_ONNX_STR(np->attribute[i]->name), name) == 0) return np->attribute[i];
  return NULL;
}

/* A Constant node becomes a constant value (no node). */
static kiln_status import_constant(kiln_onnx_ctx *c, const Onnx__NodeProto *np,
                                   kiln_onnx_symtab *scope, const char *node,
                                   kiln_error *err) {
  if (np->n_output != 1 || !np->output[0] || !*np->output[0])
    return kiln_fail(err, KILN_ERR_INVALID_MODEL, "node '%s' (Constant): needs exactly one output", node);
  static const char *const unsupported[] = {"value_string", "value_strings", "sparse_value"};
  for (int i = 0; i < 3; i++)
    if (find_attr(np, unsupported[i]))
      return kiln_fail(err, KILN_ERR_UNSUPPORTED, "node '%s' (Constant): attribute '%s' is not supported", node, unsupported[i]);
  kiln_tensor t;
  memset(&t, 0, sizeof t);
  const Onnx__AttributeProto *a;
  if ((a = find_attr(np, "value")) && a->t) {
    char *what = kiln_fmt("node '%s' (Constant): attribute 'value'", node);
    kiln_status st = kiln_onnx_tensor_from_proto(a->t, what, c->base_dir, &t, err);
    free(what);
    if (st) return st;
  } else if ((a = find_attr(np, "value_float"))) {
    t.dtype = KILN_F32;
    t.data = kiln_xmalloc(sizeof(float));
    *(float *)t.data = a->f;
  } else if ((a = find_attr(np, "value_int"))) {
    t.dtype = KILN_I64;
    t.data = kiln_xmalloc(sizeof(int64_t));
    *(int64_t *)t.data = a->i;
  } else if ((a = find_attr(np, "value_floats"))) {
    t.dtype = KILN_F32;
    t.rank = 1;
    t.dims[0] = (int64_t)a->n_floats;
    if (a->n_floats) t.data = kiln_xmalloc(a->n_floats * sizeof(float));
    if (a->n_floats) memcpy(t.data, a->floats, a->n_floats * sizeof(float));
  } else if ((a = find_attr(np, "value_ints"))) {
    t.dtype = KILN_I64;
    t.rank = 1;
    t.dims[0] = (int64_t)a->n_ints;
    if (a->n_ints) t.data = kiln_xmalloc(a->n_ints * sizeof(int64_t));
    if (a->n_ints) memcpy(t.data, a->ints, a->n_ints * sizeof(int64_t));
  } else {
    return kiln_fail(err, KILN_ERR_INVALID_MODEL, "node '%s' (Constant): has no value attribute", node);
  }
  char *what = kiln_fmt("node '%s' (Constant)", node);
  int id = -1;
  kiln_status st = define(c, scope, np->output[0], what, &id, err);
  free(what);
  if (st) {
    kiln_tensor_free(&t);
    return st;
  }
  kiln_value_set_const(&c->g->values[id], &t);
  return KILN_OK;
}

static void add_unsupported(kiln_onnx_ctx *c, const char *op, const char *node) {
  KILN_GROW(c->unsup, c->nunsup, c->unsup_cap);
  c->unsup[c->nunsup].op = kiln_xstrdup(op);
  c->unsup[c->nunsup].node = kiln_xstrdup(node);
  c->nunsup++;
}

static kiln_status import_node(kiln_onnx_ctx *c, const Onnx__NodeProto *np,
                               kiln_onnx_symtab *scope, kiln_block *b, const char *node,
                               kiln_error *err) {
  const char *op_type = np->op_type;
  const char *domain = KILN_ONNX_STR(np->domain);
  bool std_domain = !*domain || strcmp(domain, "ai.onnx") == 0;
  if (std_domain && strcmp(op_type, "Constant") == 0) {
    kiln_status st = import_constant(c, np, scope, node, err);
    /* collect mode: the output is defined, without a value, tainted (a second definition
     * is a malformed structure and stays fatal) */
    const char *o = np->n_output == 1 ? KILN_ONNX_STR(np->output[0]) : "";
    if (!st || !c->diags || !*o || kiln_onnx_symtab_get_local(scope, o) >= 0) return st;
    int id = -1;
    if ((st = collect(c, st, st == KILN_ERR_UNSUPPORTED ? "attribute" : NULL, node, op_type, err)) ||
        (st = define(c, scope, o, node, &id, err)))
      return st;
    kiln_diags_taint(c->diags, id);
    return KILN_OK;
  }
  if (np->n_input > INT_MAX / 2 || np->n_output > INT_MAX / 2 || np->n_attribute > INT_MAX / 2)
    return kiln_fail(err, KILN_ERR_INVALID_MODEL, "node '%s' (%s): too many inputs, outputs or attributes", node, op_type);

  int nin = (int)np->n_input, nout = (int)np->n_output, nattrs = 0;
  int *ins = kiln_xmalloc(sizeof(int) * (size_t)(nin + 1));
  int *outs = kiln_xmalloc(sizeof(int) * (size_t)(nout + 1));
  kiln_attr *attrs = kiln_xcalloc(np->n_attribute + 1, sizeof(kiln_attr));
  kiln_status st = KILN_OK;
  for (int i = 0; i < nin && !st; i++) {
    const char *in = KILN_ONNX_STR(np->input[i]);
    ins[i] = *in ? kiln_onnx_symtab_get(scope, in) : -1; /* "" = omitted optional input */
    if (*in && ins[i] < 0)
      st = kiln_fail(err, KILN_ERR_INVALID_MODEL, "node '%s' (%s): input '%s' is not defined", node, op_type, in);
  }
  /* Attributes before outputs: a subgraph must not see this node's own outputs. */
  bool bad = false; /* collect mode: an attribute failed, the node's outputs are tainted */
  for (size_t a = 0; a < np->n_attribute && !st; a++) {
    /* an empty optional's element type: nothing reads what an absent value would be */
    if (std_domain && !strcmp(op_type, "Optional") && np->attribute[a]->tp) continue;
    st = kiln_onnx_convert_attr(c, node, op_type, np->attribute[a], scope, &attrs[nattrs], err);
    if (!st) nattrs++; /* a failed one is already cleared */
    else if (c->diags) bad = true;
    st = collect(c, st, "attribute", node, op_type, err);
  }
  char *what = kiln_fmt("node '%s' (%s)", node, op_type);
  for (int i = 0; i < nout && !st; i++) {
    const char *o = KILN_ONNX_STR(np->output[i]);
    outs[i] = -1;
    if (*o) st = define(c, scope, o, what, &outs[i], err);
  }
  free(what);
  if (!st) {
    int id = kiln_graph_add_node(c->g, b, op_type, np->name, ins, nin, outs, nout);
    kiln_node *n = &c->g->nodes[id];
    n->attrs = attrs;
    n->nattrs = nattrs;
    attrs = NULL;
    char *full = std_domain ? kiln_xstrdup(op_type) : kiln_fmt("%s.%s", domain, op_type);
    n->op = kiln_op_find_in(std_domain ? NULL : domain, op_type); /* only that domain's */
    if (std_domain && !bad && (st = kiln_onnx_upgrade_node(c->g, id, err)) && c->diags) {
      bad = true;
      st = collect(c, st, NULL, node, op_type, err);
    }
    n = &c->g->nodes[id];
    if (!st && !n->op && !bad && c->diags) {
      if (std_domain) kiln_fail(err, KILN_ERR_UNSUPPORTED, "op not supported");
      else kiln_fail(err, KILN_ERR_UNSUPPORTED, "op not supported (domain '%s')", domain);
      st = collect(c, KILN_ERR_UNSUPPORTED, "op", n->name, full, err);
      bad = true;
    } else if (!st && !n->op && !bad) {
      add_unsupported(c, full, n->name);
    }
    free(full);
    for (int i = 0; bad && i < n->noutputs; i++) kiln_diags_taint(c->diags, n->outputs[i]);
    if (bad) n->op = NULL; /* not checked further */
  }
  for (int i = 0; attrs && i < nattrs; i++) kiln_attr_clear(&attrs[i]);
  free(attrs);
  free(ins);
  free(outs);
  return st;
}

static kiln_status import_outputs(kiln_onnx_ctx *c, const Onnx__GraphProto *gp,
                                  kiln_onnx_symtab *scope, kiln_block *b, bool is_main,
                                  kiln_error *err) {
  b->outputs = kiln_xmalloc(sizeof(int) * (gp->n_output + 1));
  for (size_t i = 0; i < gp->n_output; i++) {
    const char *name = KILN_ONNX_STR(gp->output[i]->name);
    int id = *name ? kiln_onnx_symtab_get(scope, name) : -1;
    if (id < 0)
      return kiln_fail(err, KILN_ERR_INVALID_MODEL, "%s output '%s' is not defined", is_main ? "graph" : "subgraph", name);
    b->outputs[b->noutputs++] = id;
    if (is_main) c->g->values[id].is_output = true;
  }
  return KILN_OK;
}

kiln_status kiln_onnx_import_graph(kiln_onnx_ctx *c, const Onnx__GraphProto *gp,
                                   const kiln_onnx_symtab *parent, kiln_block *b,
                                   kiln_error *err) {
  if (c->depth >= KILN_ONNX_MAX_DEPTH)
    return kiln_fail(err, KILN_ERR_LIMIT, "subgraph '%s': subgraphs nested deeper than %d", KILN_ONNX_STR(gp->name), KILN_ONNX_MAX_DEPTH);
  bool is_main = parent == NULL;
  kiln_onnx_symtab *scope = kiln_onnx_symtab_new(parent);
  c->depth++;
  kiln_status st = import_initializers(c, gp, scope, err);
  if (!st) st = import_inputs(c, gp, scope, b, is_main, err);
  for (size_t i = 0; i < gp->n_node && !st; i++) {
    const Onnx__NodeProto *np = gp->node[i];
    if (!np->op_type || !*np->op_type) {
      st = kiln_fail(err, KILN_ERR_INVALID_MODEL, "node '%s' has no op type", KILN_ONNX_STR(np->name));
      break;
    }
    /* The name kiln_graph_add_node will invent for an unnamed node. */
    char *node = np->name && *np->name ? kiln_xstrdup(np->name)
                                       : kiln_fmt("%s_%d", np->op_type, c->g->nnodes);
    st = import_node(c, np, scope, b, node, err);
    free(node);
  }
  if (!st) st = import_outputs(c, gp, scope, b, is_main, err);
  c->depth--;
  kiln_onnx_symtab_free(scope);
  return st;
}

/* The default-domain opset; models older than IR version 3 have no opset_import (1). */
static kiln_status model_opset(const Onnx__ModelProto *m, int *opset, kiln_error *err) {
  int64_t v = m->n_opset_import ? -1 : 1;
  for (size_t i = 0; i < m->n_opset_import; i++) {
    const char *d = KILN_ONNX_STR(m->opset_import[i]->domain);
    if (!*d || strcmp(d, "ai.onnx") == 0) v = m->opset_import[i]->version;
  }
  if (v == -1) v = 1; /* only other domains imported: default-domain ops at their first version */
  if (v < 1) return kiln_fail(err, KILN_ERR_INVALID_MODEL, "not a valid ONNX model: opset %lld", (long long)v);
  if (v > KILN_ONNX_MAX_OPSET)
    return kiln_fail(err, KILN_ERR_UNSUPPORTED, "ONNX opset %lld is not supported (kiln supports opsets 1 to %d)", (long long)v, KILN_ONNX_MAX_OPSET);
  *opset = (int)v;
  return KILN_OK;
}

kiln_status kiln_onnx_unpack(const void *data, size_t size, Onnx__ModelProto **out,
                             kiln_error *err) {
  const char *why;
  /* Subgraphs nest 3 messages deep (graph, node, attribute); types and tensors add a few. */
  if (!kiln_onnx_depth_ok(&onnx__model_proto__descriptor, data, size, 3 * KILN_ONNX_MAX_DEPTH + 16, &why))
    return kiln_fail(err, KILN_ERR_INVALID_MODEL, "not a valid ONNX model: %s", why);
  *out = onnx__model_proto__unpack(NULL, size, data);
  if (!*out)
    return kiln_fail(err, KILN_ERR_INVALID_MODEL, "not a valid ONNX model: protobuf parse failed (%zu bytes)", size);
  return KILN_OK;
}

/* Arity and attributes of every node against its op; in collect mode each node that fails
 * is recorded and its outputs tainted. */
static kiln_status check_nodes(kiln_onnx_ctx *c, kiln_error *err) {
  for (int i = 0; i < c->g->nnodes; i++) {
    kiln_node *n = &c->g->nodes[i];
    kiln_status st = kiln_onnx_check_node(n, err);
    if (!st) continue;
    if (!c->diags) return st;
    collect(c, st, NULL, n->name, n->op_type, err);
    for (int j = 0; j < n->noutputs; j++) kiln_diags_taint(c->diags, n->outputs[j]);
    n->op = NULL; /* not checked further */
  }
  return KILN_OK;
}

kiln_status kiln_onnx_import_model(const Onnx__ModelProto *m, const char *base_dir,
                                   kiln_diags *diags, kiln_graph **out, kiln_error *err) {
  *out = NULL;
  kiln_status st = KILN_OK;
  kiln_onnx_ctx c;
  memset(&c, 0, sizeof c);
  c.base_dir = base_dir ? base_dir : ".";
  c.diags = diags;
  c.g = kiln_graph_new();
  if (!m->graph) st = kiln_fail(err, KILN_ERR_INVALID_MODEL, "not a valid ONNX model: it has no graph");
  if (!st && (st = model_opset(m, &c.g->opset, err)) == KILN_ERR_UNSUPPORTED && diags) {
    st = collect(&c, st, "opset", NULL, NULL, err);
    c.g->opset = KILN_ONNX_MAX_OPSET; /* go on with the newest forms kiln knows */
  }
  if (!st) {
    c.g->name = kiln_xstrdup(KILN_ONNX_STR(m->graph->name));
    st = kiln_onnx_import_graph(&c, m->graph, NULL, &c.g->main, err);
  }
  if (!st) st = kiln_onnx_report_unsupported(&c, err);
  if (!st) st = check_nodes(&c, err);
  for (int i = 0; i < c.nunsup; i++) {
    free(c.unsup[i].op);
    free(c.unsup[i].node);
  }
  free(c.unsup);
  if (st) {
    kiln_graph_free(c.g);
    return st;
  }
  *out = c.g;
  return KILN_OK;
}

kiln_status kiln_onnx_import(const void *data, size_t size, const char *base_dir,
                             kiln_graph **out, kiln_error *err) {
  *out = NULL;
  Onnx__ModelProto *m = NULL;
  kiln_status st = kiln_onnx_unpack(data, size, &m, err);
  if (st) return st;
  st = kiln_onnx_import_model(m, base_dir, NULL, out, err);
  onnx__model_proto__free_unpacked(m, NULL);
  return st;
}
