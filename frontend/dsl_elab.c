/* Statements, scopes and user functions. A function call is inlined: its body runs in a
 * fresh scope holding its parameters, its params and values are named under a per-call
 * prefix ("block_2.w"), and its results flow back as values, so passes see one flat
 * graph and fuse across function boundaries. */
#include "frontend/dsl_elab.h"

#include "ir/op.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CALL_DEPTH DSL_MAX_CALLS
#define MAX_REPEAT 100000

dsl_def *dsl_find_def(dsl_ctx *c, const char *name) {
  for (int i = 0; i < c->ndefs; i++)
    if (strcmp(c->defs[i].name, name) == 0) return &c->defs[i];
  return NULL;
}

bool dsl_lookup(dsl_ctx *c, const char *name, dsl_val *out) {
  for (int i = c->nenv - 1; i >= c->floor; i--)
    if (strcmp(c->env[i].name, name) == 0) {
      *out = c->env[i].val;
      return true;
    }
  return false;
}

void dsl_bind(dsl_ctx *c, const char *name, dsl_val v) {
  /* a name bound again in the same block takes the place of its binding (what lookups see
   * either way), so the environment holds each name of a block once, however many times
   * a `repeat` binds it */
  for (int i = c->nenv - 1; i >= c->scope && i >= c->floor; i--)
    if (strcmp(c->env[i].name, name) == 0) {
      c->env[i].val = v;
      return;
    }
  KILN_GROW(c->env, c->nenv, c->env_cap);
  c->env[c->nenv++] = (dsl_binding){name, v};
}

static void param_stmt(dsl_ctx *c, const dsl_ast *s) {
  kiln_value shape;
  memset(&shape, 0, sizeof shape);
  char *full = kiln_fmt("%s%s", c->prefix, s->s);
  kiln_tensor t;
  memset(&t, 0, sizeof t);
  dsl_val v = {.kind = V_ERROR, .loc = s->loc};
  if (dsl_eval_type(c, s->kids[0], false, &shape)) {
    t.dtype = shape.dtype;
    t.rank = shape.rank;
    memcpy(t.dims, shape.dims, sizeof t.dims);
    if (dsl_param_init(c, s->kids[1], full, &t)) {
      v.kind = V_TENSOR;
      v.id = dsl_new_value(c, s->s);
      kiln_value_set_const(&c->g->values[v.id], &t);
    }
  }
  free(full);
  dsl_bind(c, s->s, v);
}

/* `a, b = expr`: values made by this statement take the target names. */
static void assign_stmt(dsl_ctx *c, const dsl_ast *s) {
  const dsl_ast *targets = s->kids[0];
  int n = targets->nkids, first_new = c->g->nvalues;
  dsl_val *vals = kiln_arena_alloc(&c->arena, sizeof(dsl_val) * (size_t)n);
  if (n == 1) {
    vals[0] = dsl_eval(c, s->kids[1]);
  } else if (s->kids[1]->kind == A_CALL) {
    dsl_eval_call(c, s->kids[1], n, vals);
  } else {
    dsl_error(&c->diag, KILN_ERR_INVALID_MODEL, s->kids[1]->loc,
              "%d names on the left need a call giving %d results on the right", n, n);
    for (int i = 0; i < n; i++) vals[i].kind = V_ERROR;
  }
  for (int i = 0; i < n; i++) {
    const char *name = targets->kids[i]->s;
    if (!targets->kids[i]->i && strcmp(name, "_") == 0) continue;
    if (vals[i].kind == V_TENSOR && vals[i].id >= first_new) {
      char *full = kiln_fmt("%s%s", c->prefix, name);
      dsl_rename(c, vals[i].id, full);
      free(full);
    }
    dsl_bind(c, name, vals[i]);
  }
}

static void repeat_stmt(dsl_ctx *c, const dsl_ast *s) {
  int64_t n;
  if (!dsl_eval_int(c, s->kids[0], "a repeat count", &n)) return;
  if (n < 0 || n > MAX_REPEAT) {
    dsl_error(&c->diag, KILN_ERR_LIMIT, s->kids[0]->loc,
              "repeat count %lld is out of range (expected 0 to %d)", (long long)n, MAX_REPEAT);
    return;
  }
  const dsl_ast *body = s->kids[1];
  for (int k = 0; k < body->nkids; k++)
    if (body->kids[k]->kind == A_RETURN) {
      dsl_error(&c->diag, KILN_ERR_INVALID_MODEL, body->kids[k]->loc,
                "'return' inside 'repeat' (expected it at the end of a function or model)");
      return;
    }
  int before = c->diag.count;
  for (int64_t i = 0; i < n && c->diag.count == before; i++) /* one report, not n */
    dsl_elab_block(c, body, NULL, NULL);
}

void dsl_elab_block(dsl_ctx *c, const dsl_ast *block, dsl_val **rets, int *nrets) {
  for (int k = 0; k < block->nkids; k++) {
    const dsl_ast *s = block->kids[k];
    switch (s->kind) {
    case A_PARAM: param_stmt(c, s); break;
    case A_ASSIGN: assign_stmt(c, s); break;
    case A_REPEAT: repeat_stmt(c, s); break;
    case A_RETURN:
      if (k + 1 < block->nkids) {
        dsl_error(&c->diag, KILN_ERR_INVALID_MODEL, block->kids[k + 1]->loc,
                  "statement after 'return' (expected 'return' to end the block)");
        return;
      }
      if (!rets) return; /* reported by repeat_stmt */
      *nrets = s->nkids;
      *rets = kiln_arena_alloc(&c->arena, sizeof(dsl_val) * (size_t)s->nkids);
      for (int i = 0; i < s->nkids; i++) (*rets)[i] = dsl_eval(c, s->kids[i]->kids[0]);
      break;
    default: break;
    }
  }
}

/* Binds a function's parameters to the call's arguments (positional, then by name). */
static bool bind_args(dsl_ctx *c, const dsl_def *d, const dsl_ast *call, dsl_val *args) {
  const dsl_ast *params = d->ast->kids[0];
  int np = params->nkids;
  bool *set = kiln_arena_alloc(&c->arena, (size_t)np + 1);
  bool ok = true;
  int pos = 0;
  for (int i = 0; i < call->nkids; i++) {
    const dsl_ast *a = call->kids[i];
    int slot = -1;
    if (!a->s) {
      slot = pos++;
      if (slot >= np) {
        dsl_error(&c->diag, KILN_ERR_INVALID_MODEL, a->loc, "%s takes %d argument%s, got %d",
                  d->name, np, np == 1 ? "" : "s", call->nkids);
        return false;
      }
    } else {
      for (int p = 0; p < np; p++)
        if (strcmp(params->kids[p]->s, a->s) == 0) slot = p;
      if (slot < 0) {
        dsl_error(&c->diag, KILN_ERR_INVALID_MODEL, a->loc, "%s has no parameter '%s'", d->name, a->s);
        ok = false;
        continue;
      }
    }
    if (set[slot]) {
      dsl_error(&c->diag, KILN_ERR_INVALID_MODEL, a->loc, "parameter '%s' of %s is given twice",
                params->kids[slot]->s, d->name);
      ok = false;
      continue;
    }
    set[slot] = true;
    args[slot] = a->kids[0]->kind == A_BLOCK ? (dsl_val){.kind = V_BLOCK, .block = a->kids[0]}
                                             : dsl_eval(c, a->kids[0]);
  }
  for (int p = 0; p < np && ok; p++)
    if (!set[p]) {
      dsl_error(&c->diag, KILN_ERR_INVALID_MODEL, call->loc, "%s needs argument '%s' (it takes %d)",
                d->name, params->kids[p]->s, np);
      ok = false;
    }
  return ok;
}

void dsl_call_def(dsl_ctx *c, dsl_def *d, const dsl_ast *call, int n, dsl_val *out) {
  for (int i = 0; i < n; i++) out[i] = (dsl_val){.kind = V_ERROR, .loc = call->loc};
  /* reported: the rest would take exponential time (f1 calling a failing f0 twice, f2
   * calling f1 twice...: every call again reports the same errors) */
  if (c->calls_over || d->failed) return;
  if (c->depth >= MAX_CALL_DEPTH || c->calls >= DSL_MAX_TOTAL_CALLS) {
    if (c->depth >= MAX_CALL_DEPTH)
      dsl_error(&c->diag, KILN_ERR_LIMIT, call->loc,
                "calls nested deeper than %d (does '%s' call itself?)", MAX_CALL_DEPTH, d->name);
    else
      dsl_error(&c->diag, KILN_ERR_LIMIT, call->loc,
                "more than %d calls in all, '%s' among them (each call inlines the body "
                "again: calls of calls multiply)", DSL_MAX_TOTAL_CALLS, d->name);
    c->calls_over = true;
    return;
  }
  c->calls++;
  const dsl_ast *params = d->ast->kids[0];
  dsl_val *args = kiln_arena_alloc(&c->arena, sizeof(dsl_val) * (size_t)(params->nkids + 1));
  if (!bind_args(c, d, call, args)) return;
  /* A fresh scope: the body sees its parameters, not the caller's names. */
  int saved_env = c->nenv, saved_floor = c->floor, saved_scope = c->scope;
  bool saved_in_fn = c->in_function;
  char saved_prefix[sizeof c->prefix];
  memcpy(saved_prefix, c->prefix, sizeof saved_prefix);
  size_t len = strlen(c->prefix);
  snprintf(c->prefix + len, sizeof c->prefix - len, "%s_%d.", d->name, ++d->calls);
  c->floor = c->scope = c->nenv;
  c->diag.calls[c->diag.ncalls++] = (struct dsl_call_frame){d->name, call->loc}; /* for notes */
  c->depth++;
  c->in_function = true;
  for (int p = 0; p < params->nkids; p++) dsl_bind(c, params->kids[p]->s, args[p]);
  const dsl_ast *body = d->ast->kids[1];
  dsl_val *rets = NULL;
  int nrets = 0, before = c->diag.count;
  if (body->kind == A_BLOCK) {
    dsl_elab_block(c, body, &rets, &nrets);
  } else {
    rets = kiln_arena_alloc(&c->arena, sizeof(dsl_val));
    rets[0] = dsl_eval(c, body);
    nrets = 1;
  }
  c->diag.ncalls--; /* what is wrong with the results is wrong at the call */
  d->failed = c->diag.count != before;
  if (c->diag.count == before) {
    if (nrets == 0)
      dsl_error(&c->diag, KILN_ERR_INVALID_MODEL, d->ast->loc,
                "function '%s' returns nothing (expected a 'return' at the end of its body)", d->name);
    else if (nrets != n)
      dsl_error(&c->diag, KILN_ERR_INVALID_MODEL, call->loc,
                "%s gives %d result%s, %d expected here", d->name, nrets, nrets == 1 ? "" : "s", n);
    else
      memcpy(out, rets, sizeof(dsl_val) * (size_t)n);
  }
  c->in_function = saved_in_fn;
  c->depth--;
  c->floor = saved_floor;
  c->scope = saved_scope;
  c->nenv = saved_env;
  memcpy(c->prefix, saved_prefix, sizeof saved_prefix);
}

/* The size opts->shapes gives dim d (named name) of input `input` of rank `rank`: its own
 * binding, else one for a dim of another input with the same name; -1 if none. */
static int64_t bound_size(const dsl_ctx *c, const dsl_ast *inputs, const kiln_value *shapes,
                          const char *input, int rank, int d, const char *name) {
  const kiln_options *o = c->opts;
  for (int b = 0; o && o->shapes && b < o->nshapes; b++)
    if (o->shapes[b].input && strcmp(o->shapes[b].input, input) == 0 && o->shapes[b].rank == rank)
      return o->shapes[b].dims[d];
  if (strcmp(name, "?") == 0) return -1; /* anonymous: binds itself only */
  for (int b = 0; o && o->shapes && b < o->nshapes; b++)
    for (int i = 0; i < inputs->nkids; i++) {
      const kiln_value *v = &shapes[i];
      if (!o->shapes[b].input || strcmp(o->shapes[b].input, inputs->kids[i]->s) != 0 ||
          o->shapes[b].rank != v->rank)
        continue;
      for (int e = 0; e < v->rank; e++)
        if (v->dim_names[e] && strcmp(v->dim_names[e], name) == 0) return o->shapes[b].dims[e];
    }
  return -1;
}

/* Graph inputs. A free dim takes the size kiln_options.shapes binds it to when given (so
 * that errors depending on it are found here, at their line), else it is elaborated with
 * two sizes (dsl_alt_shape); either way it is left free in the graph for binding. */
static void model_inputs(dsl_ctx *c, const dsl_ast *inputs) {
  kiln_value *shapes = kiln_xcalloc((size_t)inputs->nkids + 1, sizeof(kiln_value));
  bool *ok = kiln_arena_alloc(&c->arena, (size_t)inputs->nkids + 1);
  for (int i = 0; i < inputs->nkids; i++) {
    const dsl_ast *in = inputs->kids[i];
    ok[i] = false;
    bool twice = false;
    for (int j = 0; j < i; j++) twice |= strcmp(inputs->kids[j]->s, in->s) == 0;
    if (twice)
      dsl_error(&c->diag, KILN_ERR_INVALID_MODEL, in->loc, "input '%s' is declared twice", in->s);
    else
      ok[i] = dsl_eval_type(c, in->kids[0], true, &shapes[i]);
  }
  for (int i = 0; i < inputs->nkids; i++) {
    const dsl_ast *in = inputs->kids[i];
    bool twice = false;
    for (int j = 0; j < i; j++) twice |= strcmp(inputs->kids[j]->s, in->s) == 0;
    if (twice) continue;
    dsl_val v = {.kind = V_ERROR, .loc = in->loc};
    if (ok[i]) {
      v.kind = V_TENSOR;
      v.id = dsl_new_value(c, in->s);
      kiln_value *iv = &c->g->values[v.id];
      const kiln_value *shape = &shapes[i];
      iv->dtype = shape->dtype;
      iv->rank = shape->rank;
      memcpy(iv->dims, shape->dims, sizeof iv->dims);
      memcpy(iv->dim_names, shape->dim_names, sizeof iv->dim_names);
      dsl_alt_shape alt = {false, iv->rank < 0, iv->rank, {0}};
      memcpy(alt.dims, iv->dims, sizeof alt.dims);
      for (int b = 0; alt.any_rank && c->opts && c->opts->shapes && b < c->opts->nshapes; b++)
        if (c->opts->shapes[b].input && strcmp(c->opts->shapes[b].input, in->s) == 0 &&
            c->opts->shapes[b].rank >= 0 && c->opts->shapes[b].rank <= KILN_MAX_RANK) {
          iv->rank = alt.rank = c->opts->shapes[b].rank; /* checked with it, left free */
          memcpy(iv->dims, c->opts->shapes[b].dims, sizeof iv->dims);
          memcpy(alt.dims, iv->dims, sizeof alt.dims);
        }
      for (int d = 0; d < iv->rank; d++) {
        if (!iv->dim_names[d]) continue;
        int64_t size = bound_size(c, inputs, shapes, in->s, iv->rank, d, iv->dim_names[d]);
        if (size >= 0) {
          iv->dims[d] = alt.dims[d] = size;
        } else {
          alt.free = true;
          alt.dims[d] = DSL_FREE_DIM_ALT;
        }
      }
      *dsl_alt(c, v.id) = alt;
      iv->is_input = true;
      c->g->inputs = kiln_xrealloc(c->g->inputs, sizeof(int) * (size_t)(c->g->ninputs + 1));
      c->g->inputs[c->g->ninputs++] = v.id;
    }
    dsl_bind(c, in->s, v);
  }
  free(shapes); /* the dim names went to the graph's inputs */
}

/* The value a model returns under `name`. An input keeps its own name, and a value is
 * one output only: returning either under another name goes through an Identity. */
static void model_output(dsl_ctx *c, dsl_val v, const char *name, dsl_loc loc) {
  if (v.kind != V_TENSOR) {
    if (v.kind != V_ERROR)
      dsl_error(&c->diag, KILN_ERR_INVALID_MODEL, loc, "a model returns tensors, not %s",
                dsl_kind_name(v.kind));
    return;
  }
  kiln_graph *g = c->g;
  for (int i = 0; i < g->main.noutputs; i++)
    if (strcmp(g->values[g->main.outputs[i]].name, name) == 0) {
      dsl_error(&c->diag, KILN_ERR_INVALID_MODEL, loc, "output '%s' is returned twice", name);
      return;
    }
  int id = v.id;
  if ((g->values[id].is_input && strcmp(g->values[id].name, name) != 0) || g->values[id].is_output) {
    int out = dsl_new_value(c, "output");
    dsl_add_node(c, "Identity", loc, &id, 1, &out, 1, NULL, 0);
    id = out;
  }
  if (strcmp(g->values[id].name, name) != 0) {
    /* The output owns its name: a value already called that is renamed. */
    for (int i = 0; i < g->nvalues; i++)
      if (i != id && strcmp(g->values[i].name, name) == 0) dsl_rename(c, i, name);
    free(g->values[id].name);
    g->values[id].name = kiln_xstrdup(name);
    dsl_name_reserve(c, name);
  }
  g->values[id].is_output = true;
  g->main.outputs = kiln_xrealloc(g->main.outputs, sizeof(int) * (size_t)(g->main.noutputs + 1));
  g->main.outputs[g->main.noutputs++] = id;
}

void dsl_elab_model(dsl_ctx *c, const dsl_ast *model) {
  c->g->name = kiln_xstrdup(model->s);
  c->g->opset = 21; /* the op table's signatures are the newest ONNX ones */
  c->seed = model->nkids > 2 && model->kids[2] ? (uint64_t)model->kids[2]->i : 0;
  model_inputs(c, model->kids[0]);
  const dsl_ast *body = model->kids[1];
  dsl_val *rets = NULL;
  int nrets = 0, before = c->diag.count;
  dsl_elab_block(c, body, &rets, &nrets);
  const dsl_ast *ret = body->nkids ? body->kids[body->nkids - 1] : NULL;
  if (!ret || ret->kind != A_RETURN) {
    if (c->diag.count == before)
      dsl_error(&c->diag, KILN_ERR_INVALID_MODEL, model->loc,
                "model '%s' returns nothing (expected a 'return' at the end of its body)", model->s);
    return;
  }
  for (int i = 0; i < nrets; i++) {
    const dsl_ast *r = ret->kids[i];
    const dsl_ast *e = r->kids[0];
    char *name = r->s ? kiln_xstrdup(r->s) : e->kind == A_NAME ? kiln_xstrdup(e->s)
                                                                : kiln_fmt("output_%d", i);
    model_output(c, rets[i], name, r->loc);
    free(name);
  }
}
