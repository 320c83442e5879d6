/* Keyword arguments into attributes, typed by the op's attribute specs: integers, floats,
 * strings and lists of them; a tensor from a number, a list or a param; a graph (an If
 * branch) from a block `{ ... return v }` elaborated into a block of its own that sees
 * the enclosing names. */
#include "frontend/dsl_elab.h"

#include "ir/dtype.h"
#include "ir/op.h"

#include <stdlib.h>
#include <string.h>

static const char *type_words(kiln_attr_type t) {
  switch (t) {
  case KILN_ATTR_FLOAT: return "a number";
  case KILN_ATTR_INT: return "an integer";
  case KILN_ATTR_STRING: return "a string";
  case KILN_ATTR_TENSOR: return "a tensor (a number, a list or a param)";
  case KILN_ATTR_GRAPH: return "a block { ... return v }";
  case KILN_ATTR_FLOATS: return "a list of numbers";
  case KILN_ATTR_INTS: return "a list of integers";
  case KILN_ATTR_STRINGS: return "a list of strings";
  default: return "a kind of value the DSL cannot write";
  }
}

static void no_such_attr(dsl_ctx *c, const kiln_op_def *op, const dsl_ast *arg) {
  char list[512] = "";
  size_t len = 0;
  for (const kiln_attr_spec *s = op->attrs; s && s->name && len < sizeof list; s++)
    if (s->name[0] != '_') /* internal attributes importers set are not offered */
      len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", len ? ", " : "", s->name);
  if (len)
    dsl_error(&c->diag, KILN_ERR_INVALID_MODEL, arg->loc, "%s has no attribute '%s' (expected one of: %s)",
              op->name, arg->s, list);
  else
    dsl_error(&c->diag, KILN_ERR_INVALID_MODEL, arg->loc, "%s has no attribute '%s' (it takes none)",
              op->name, arg->s);
}

/* An If branch: a block of its own whose names do not leak out. */
static bool make_graph(dsl_ctx *c, const dsl_ast *block, kiln_attr *a) {
  kiln_block *b = kiln_block_new();
  kiln_block *saved_block = c->block;
  int saved_env = c->nenv, saved_scope = c->scope, before = c->diag.count;
  c->block = b;
  c->scope = c->nenv;
  dsl_val *rets = NULL;
  int nrets = 0;
  dsl_elab_block(c, block, &rets, &nrets);
  c->block = saved_block;
  c->nenv = saved_env;
  c->scope = saved_scope;
  if (c->diag.count == before && nrets == 0)
    dsl_error(&c->diag, KILN_ERR_INVALID_MODEL, block->loc, "this block returns nothing (expected a 'return' at its end)");
  b->outputs = kiln_xmalloc(sizeof(int) * (size_t)(nrets + 1));
  bool ok = c->diag.count == before;
  for (int i = 0; i < nrets && ok; i++) {
    int id;
    /* an erroneous value (V_ERROR) was reported where it went wrong */
    ok = rets[i].kind != V_ERROR && dsl_to_tensor(c, &rets[i], KILN_UNDEFINED, &id);
    if (ok && id < 0) {
      dsl_error(&c->diag, KILN_ERR_INVALID_MODEL, rets[i].loc, "a block returns tensors, not '_'");
      ok = false;
    }
    if (ok) b->outputs[b->noutputs++] = id;
  }
  a->graphs = kiln_xmalloc(sizeof(kiln_block *));
  a->graphs[0] = b;
  a->count = 1;
  return ok && c->diag.count == before;
}

/* A list's items as ints, floats or strings; false (silently) when one is of another kind. */
static bool list_items(const dsl_val *v, kiln_attr *a) {
  a->count = v->n;
  if (a->type == KILN_ATTR_INTS) a->ints = kiln_xcalloc((size_t)v->n + 1, sizeof(int64_t));
  if (a->type == KILN_ATTR_FLOATS) a->floats = kiln_xcalloc((size_t)v->n + 1, sizeof(double));
  if (a->type == KILN_ATTR_STRINGS) a->strings = kiln_xcalloc((size_t)v->n + 1, sizeof(char *));
  for (int i = 0; i < v->n; i++) {
    const dsl_val *it = &v->items[i];
    if (a->type == KILN_ATTR_INTS && it->kind == V_INT) a->ints[i] = it->i;
    else if (a->type == KILN_ATTR_FLOATS && (it->kind == V_INT || it->kind == V_FLOAT))
      a->floats[i] = it->kind == V_INT ? (double)it->i : it->f;
    else if (a->type == KILN_ATTR_STRINGS && it->kind == V_STRING) a->strings[i] = kiln_xstrdup(it->s);
    else return false;
  }
  return true;
}

static bool make_tensor(dsl_ctx *c, const dsl_val *v, kiln_attr *a) {
  kiln_tensor t;
  if (v->kind == V_TENSOR) {
    const kiln_value *p = &c->g->values[v->id];
    if (!p->data && kiln_value_numel(p) != 0) return false;
    t.dtype = p->dtype;
    t.rank = p->rank;
    memcpy(t.dims, p->dims, sizeof t.dims);
    size_t bytes = (size_t)kiln_value_numel(p) * kiln_dtype_size(p->dtype);
    t.data = bytes ? kiln_xmalloc(bytes) : NULL;
    if (bytes) memcpy(t.data, p->data, bytes);
  } else if (v->kind == V_INT || v->kind == V_FLOAT) {
    dsl_val one = {.kind = V_LIST, .items = (dsl_val *)v, .n = 1, .loc = v->loc};
    if (!dsl_value_tensor(c, &one, KILN_UNDEFINED, &t)) return false; /* ONNX's shape [1] */
  } else if (v->kind == V_LIST) {
    if (!dsl_value_tensor(c, v, KILN_UNDEFINED, &t)) return false;
  } else {
    return false;
  }
  a->tensors = kiln_xmalloc(sizeof(kiln_tensor));
  a->tensors[0] = t;
  a->count = 1;
  return true;
}

bool dsl_make_attr(dsl_ctx *c, const kiln_op_def *op, const dsl_ast *arg, kiln_attr *out) {
  const kiln_attr_spec *spec = NULL;
  for (const kiln_attr_spec *s = op->attrs; s && s->name; s++)
    if (strcmp(s->name, arg->s) == 0) spec = s;
  if (!spec) {
    no_such_attr(c, op, arg);
    return false;
  }
  memset(out, 0, sizeof *out);
  out->name = kiln_xstrdup(spec->name);
  out->type = spec->type;
  const dsl_ast *e = arg->kids[0];
  bool ok = false;
  if (spec->type == KILN_ATTR_GRAPH) {
    if (e->kind == A_BLOCK) {
      if (!make_graph(c, e, out)) {
        kiln_attr_clear(out);
        return false;
      }
      return true;
    }
  } else if (e->kind != A_BLOCK) {
    dsl_val v = dsl_eval(c, e);
    if (v.kind == V_ERROR) {
      kiln_attr_clear(out);
      return false;
    }
    switch (spec->type) {
    case KILN_ATTR_INT: ok = v.kind == V_INT; out->i = v.i; break;
    case KILN_ATTR_FLOAT:
      ok = v.kind == V_INT || v.kind == V_FLOAT;
      out->f = v.kind == V_INT ? (double)v.i : v.f;
      break;
    case KILN_ATTR_STRING: ok = v.kind == V_STRING; out->s = ok ? kiln_xstrdup(v.s) : NULL; break;
    case KILN_ATTR_INTS: case KILN_ATTR_FLOATS: case KILN_ATTR_STRINGS:
      ok = v.kind == V_LIST && list_items(&v, out);
      break;
    case KILN_ATTR_TENSOR: ok = make_tensor(c, &v, out); break;
    default: break;
    }
  }
  if (!ok) {
    dsl_error(&c->diag, KILN_ERR_INVALID_MODEL, e->loc, "attribute '%s' of %s wants %s",
              spec->name, op->name, type_words(spec->type));
    kiln_attr_clear(out);
  }
  return ok;
}
