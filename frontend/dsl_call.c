/* Calls: a user function (inlined, dsl_elab.c) or an op of the op table, matched by name
 * ignoring case. An op call's positional arguments are its inputs, its keyword arguments
 * its attributes (typed by the op's attribute specs); each node is inferred as soon as
 * it is made so that type and shape errors point at the call that caused them. */
#include "frontend/dsl_elab.h"

#include "ir/dtype.h"
#include "ir/op.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const kiln_op_def *dsl_find_op(const char *name) {
  const kiln_op_def *const *ops;
  int n = kiln_op_list(&ops);
  for (int i = 0; i < n; i++)
    if (strcasecmp(ops[i]->name, name) == 0) return ops[i];
  return NULL;
}

static void unknown_callee(dsl_ctx *c, const dsl_ast *call) {
  const kiln_op_def *const *ops;
  int n = kiln_op_list(&ops), best = 3;
  const char *guess = NULL;
  for (int i = 0; i < n; i++) {
    int d = dsl_distance(call->s, ops[i]->name);
    if (d < best) best = d, guess = ops[i]->name;
  }
  for (int i = 0; i < c->ndefs; i++) {
    int d = dsl_distance(call->s, c->defs[i].name);
    if (d < best) best = d, guess = c->defs[i].name;
  }
  if (guess)
    dsl_error(&c->diag, KILN_ERR_UNSUPPORTED, call->loc, "unknown function or op '%s' (did you mean '%s'?)",
              call->s, guess);
  else
    dsl_error(&c->diag, KILN_ERR_UNSUPPORTED, call->loc, "unknown function or op '%s'", call->s);
}

/* ---- constants from numbers and lists -------------------------------------------------- */

/* Shape of a (possibly nested) list; false when it is ragged or holds strings. */
static bool list_shape(const dsl_val *v, int depth, int *rank, int64_t *dims) {
  if (v->kind != V_LIST) {
    if (v->kind != V_INT && v->kind != V_FLOAT) return false;
    if (*rank < 0) *rank = depth;
    return *rank == depth;
  }
  if (depth >= KILN_MAX_RANK) return false;
  if (*rank >= 0 && depth >= *rank) return false;
  if (*rank < 0 || dims[depth] < 0) dims[depth] = v->n;
  if (dims[depth] != v->n) return false;
  if (v->n == 0) {
    if (*rank < 0) *rank = depth + 1;
    return *rank == depth + 1;
  }
  for (int i = 0; i < v->n; i++)
    if (!list_shape(&v->items[i], depth + 1, rank, dims)) return false;
  return true;
}

static void list_fill(const dsl_val *v, kiln_dtype t, void *data, int64_t *pos, bool *all_int) {
  if (v->kind == V_LIST) {
    for (int i = 0; i < v->n; i++) list_fill(&v->items[i], t, data, pos, all_int);
  } else if (v->kind == V_INT) {
    if (data) {
      if (kiln_dtype_is_float(t)) kiln_store_f64(t, data, *pos, (double)v->i);
      else kiln_store_i64(t, data, *pos, v->i);
    }
    (*pos)++;
  } else {
    if (data) kiln_store_f64(t, data, *pos, v->f);
    *all_int = false;
    (*pos)++;
  }
}

bool dsl_value_tensor(dsl_ctx *c, const dsl_val *v, kiln_dtype want, kiln_tensor *t) {
  memset(t, 0, sizeof *t);
  int64_t dims[KILN_MAX_RANK];
  for (int d = 0; d < KILN_MAX_RANK; d++) dims[d] = -1;
  int rank = -1;
  if (!list_shape(v, 0, &rank, dims)) {
    dsl_error(&c->diag, KILN_ERR_INVALID_MODEL, v->loc,
              "expected a number or a rectangular list of numbers (at most %d deep)", KILN_MAX_RANK);
    return false;
  }
  bool all_int = true;
  int64_t count = 0;
  list_fill(v, KILN_F32, NULL, &count, &all_int);
  t->dtype = want ? want : all_int ? KILN_I64 : KILN_F32;
  t->rank = rank;
  if (rank > 0) memcpy(t->dims, dims, sizeof(int64_t) * (size_t)rank);
  if (count) t->data = kiln_xcalloc((size_t)count, kiln_dtype_size(t->dtype));
  count = 0;
  list_fill(v, t->dtype, t->data, &count, &all_int);
  return true;
}

bool dsl_to_tensor(dsl_ctx *c, const dsl_val *v, kiln_dtype want, int *id) {
  switch (v->kind) {
  case V_TENSOR: *id = v->id; return true;
  case V_NONE: *id = -1; return true;
  case V_INT: case V_FLOAT: case V_LIST: {
    kiln_tensor t;
    if (!dsl_value_tensor(c, v, kiln_dtype_valid(want) ? want : KILN_UNDEFINED, &t)) return false;
    *id = dsl_new_value(c, "const");
    kiln_value_set_const(&c->g->values[*id], &t);
    return true;
  }
  case V_ERROR: return false;
  default:
    dsl_error(&c->diag, KILN_ERR_INVALID_MODEL, v->loc, "expected a tensor, got %s", dsl_kind_name(v->kind));
    return false;
  }
}

static bool all_ints(const dsl_val *v) {
  if (v->kind != V_LIST) return v->kind == V_INT;
  for (int i = 0; i < v->n; i++)
    if (!all_ints(&v->items[i])) return false;
  return true;
}

bool dsl_number_like(dsl_ctx *c, const dsl_val *v, int like, int *id) {
  kiln_tensor t;
  if (!dsl_value_tensor(c, v, all_ints(v) ? KILN_I64 : KILN_F64, &t)) return false;
  int k = dsl_new_value(c, "const");
  kiln_value_set_const(&c->g->values[k], &t);
  *id = dsl_new_value(c, "castlike");
  int ins[2] = {k, like};
  dsl_add_node(c, "CastLike", v->loc, ins, 2, id, 1, NULL, 0);
  return true;
}

/* ---- nodes ----------------------------------------------------------------------------- */

static void remember_loc(dsl_ctx *c, int node, dsl_loc loc) {
  if (node >= c->node_locs_cap) {
    int cap = c->node_locs_cap ? c->node_locs_cap : 64;
    while (cap <= node) cap *= 2;
    c->node_locs = kiln_xrealloc(c->node_locs, sizeof(dsl_loc) * (size_t)cap);
    c->node_locs_cap = cap;
  }
  c->node_locs[node] = loc;
}

dsl_alt_shape *dsl_alt(dsl_ctx *c, int id) {
  if (id >= c->alt_cap) {
    int cap = c->alt_cap ? c->alt_cap : 64;
    while (cap <= id) cap *= 2;
    c->alt = kiln_xrealloc(c->alt, sizeof(dsl_alt_shape) * (size_t)cap);
    memset(c->alt + c->alt_cap, 0, sizeof(dsl_alt_shape) * (size_t)(cap - c->alt_cap));
    c->alt_cap = cap;
  }
  return &c->alt[id];
}

/* The values n's inference reads the shapes of: its inputs, and an If's branch results
 * (which may be outer values). Returns how many; ids (arena) receives them. */
static int read_values(dsl_ctx *c, const kiln_node *n, int **ids) {
  int k = n->ninputs;
  for (int a = 0; a < n->nattrs; a++)
    for (int b = 0; n->attrs[a].type == KILN_ATTR_GRAPH && n->attrs[a].graphs && b < n->attrs[a].count; b++)
      k += n->attrs[a].graphs[b]->noutputs;
  *ids = kiln_arena_alloc(&c->arena, sizeof(int) * (size_t)(k + 1));
  k = 0;
  for (int i = 0; i < n->ninputs; i++)
    if (n->inputs[i] >= 0) (*ids)[k++] = n->inputs[i];
  for (int a = 0; a < n->nattrs; a++)
    for (int b = 0; n->attrs[a].type == KILN_ATTR_GRAPH && n->attrs[a].graphs && b < n->attrs[a].count; b++)
      for (int i = 0; i < n->attrs[a].graphs[b]->noutputs; i++) (*ids)[k++] = n->attrs[a].graphs[b]->outputs[i];
  return k;
}

#define DEFAULT_MAX_BYTES (INT64_C(16) << 30) /* kiln_options.max_tensor_bytes's default */

/* What shape inference (passes/infer.c) refuses in an op's result: a negative dim, or more
 * bytes than max_tensor_bytes allows. */
static kiln_status check_outputs(const dsl_ctx *c, const kiln_node *n, kiln_error *e) {
  int64_t max = c->opts && c->opts->max_tensor_bytes > 0 ? c->opts->max_tensor_bytes : DEFAULT_MAX_BYTES;
  for (int i = 0; i < n->noutputs; i++) {
    const kiln_value *v = kiln_node_out(c->g, n, i);
    if (!v || v->rank < 0) continue;
    int64_t bytes = (int64_t)kiln_dtype_size(v->dtype);
    for (int d = 0; d < v->rank; d++) {
      if (v->dims[d] < 0)
        return kiln_fail(e, KILN_ERR_SHAPE, "node '%s' (%s): output %d would have dim %d of size %lld",
                         n->name, n->op_type, i, d, (long long)v->dims[d]);
      if (kiln_mul_overflows(bytes, v->dims[d], &bytes)) bytes = INT64_MAX;
    }
    if (bytes > max)
      return kiln_fail(e, KILN_ERR_LIMIT, "node '%s' (%s): output %d needs %lld bytes, over the limit of %lld "
                       "(max_tensor_bytes)", n->name, n->op_type, i, (long long)bytes, (long long)max);
  }
  return KILN_OK;
}

/* Infers n and checks its results as the passes would, then lowers it into a kernel that
 * is thrown away: some attribute checks (Softmax's axis, say) live only in an op's
 * lowering, and the passes would report them without a place in the text. Ops that
 * expand into others are checked by inference only. */
static kiln_status check_node(dsl_ctx *c, kiln_node *n, kiln_error *e) {
  kiln_graph *g = c->g;
  int nsyms = g->nsyms;
  if (kiln_node_check_required(n, e)) return e->code; /* `_` for a needed value */
  kiln_status st = n->op->infer(g, n, e);
  /* a count the run computes (NonZero's) is the passes' to declare, at their shapes */
  for (int s = nsyms; s < g->nsyms; s++) {
    free(g->sym_names[s]);
    g->sym_names[s] = NULL;
    g->sym_def[s] = (kiln_symdiv){kiln_symdim_const(0), 0};
  }
  for (int i = 0; g->nsyms > nsyms && i < n->noutputs; i++) {
    kiln_value *v = kiln_node_out(g, n, i);
    if (v) memset(v->sym, 0, sizeof v->sym);
  }
  g->nsyms = nsyms;
  if (!st) st = check_outputs(c, n, e);
  if (st || !n->op->lower || n->ninputs > 32 || n->noutputs > 32) return st;
  kiln_kernel *k = kiln_kernel_new(n->name);
  kiln_lower_ctx lc = {.g = g, .n = n, .k = k, .err = e};
  for (int i = 0; i < 32; i++) { /* -1 past ninputs too: trailing omitted inputs */
    const kiln_value *v = kiln_node_in(g, n, i);
    lc.in_buf[i] = v ? kiln_kernel_add_buffer(k, v->name, KILN_BUF_INPUT, n->inputs[i], v->dtype, v->rank, v->dims) : -1;
  }
  for (int i = 0; i < 32; i++) {
    const kiln_value *v = kiln_node_out(g, n, i);
    lc.out_buf[i] = v ? kiln_kernel_add_buffer(k, v->name, KILN_BUF_OUTPUT, n->outputs[i], v->dtype, v->rank, v->dims) : -1;
  }
  st = n->op->lower(&lc);
  if (st && !e->message[0]) kiln_fail(e, st, "node '%s' (%s): cannot be lowered", n->name, n->op_type);
  kiln_kernel_free(k);
  return st;
}

/* Checks n with the second shapes of the values it reads that have one (swapped in, then
 * back); their outputs' second shapes are kept when it succeeds. */
static kiln_status check_alt(dsl_ctx *c, kiln_node *n, const int *ids, int nids, kiln_error *e) {
  kiln_graph *g = c->g;
  typedef struct { int rank; int64_t dims[KILN_MAX_RANK]; } shape;
  shape *saved = kiln_xcalloc((size_t)nids + 1, sizeof(shape)), *outs = kiln_xcalloc((size_t)n->noutputs + 1, sizeof(shape));
  for (int i = 0; i < n->noutputs; i++) {
    const kiln_value *v = kiln_node_out(g, n, i);
    if (v) outs[i].rank = v->rank, memcpy(outs[i].dims, v->dims, sizeof v->dims);
  }
  for (int i = 0; i < nids; i++) {
    kiln_value *v = &g->values[ids[i]];
    saved[i].rank = v->rank;
    memcpy(saved[i].dims, v->dims, sizeof v->dims);
    const dsl_alt_shape *a = dsl_alt(c, ids[i]);
    if (a->free) v->rank = a->rank, memcpy(v->dims, a->dims, sizeof v->dims);
  }
  kiln_status st = check_node(c, n, e);
  for (int i = nids - 1; i >= 0; i--) { /* backwards: a value read twice ends as it began */
    kiln_value *v = &g->values[ids[i]];
    v->rank = saved[i].rank;
    memcpy(v->dims, saved[i].dims, sizeof v->dims);
  }
  for (int i = 0; i < n->noutputs; i++) {
    kiln_value *v = kiln_node_out(g, n, i);
    if (!v) continue;
    if (!st) {
      dsl_alt_shape *a = dsl_alt(c, n->outputs[i]);
      a->free = true;
      a->rank = v->rank;
      memcpy(a->dims, v->dims, sizeof a->dims);
    }
    v->rank = outs[i].rank;
    memcpy(v->dims, outs[i].dims, sizeof v->dims);
  }
  free(saved);
  free(outs);
  return st;
}

/* The op's message without the "node 'Conv_3' (Conv): " the passes put first. */
static const char *strip_node(const char *msg) {
  if (strncmp(msg, "node '", 6) != 0) return msg;
  const char *p = strstr(msg, "): ");
  return p ? p + 3 : msg;
}

int dsl_add_node(dsl_ctx *c, const char *op, dsl_loc loc, const int *ins, int nin,
                 const int *outs, int nout, kiln_attr *attrs, int nattrs) {
  kiln_graph *g = c->g;
  int id = kiln_graph_add_node(g, c->block, op, NULL, ins, nin, outs, nout);
  kiln_node *n = &g->nodes[id];
  n->attrs = attrs;
  n->nattrs = nattrs;
  remember_loc(c, id, loc);
  int *ids;
  int nids = read_values(c, n, &ids);
  bool free_dims = false;
  for (int i = 0; i < nids; i++) {
    const kiln_value *v = &g->values[ids[i]];
    /* after an earlier error, or a shape known only once folded: inference will tell */
    if (v->rank < 0 || !kiln_dtype_valid(v->dtype)) return id;
    free_dims |= dsl_alt(c, ids[i])->free;
  }
  kiln_error e = {0};
  kiln_status st = check_node(c, n, &e);
  if (free_dims) {
    kiln_error e2 = {0};
    kiln_status st2 = check_alt(c, n, ids, nids, &e2);
    if (!st && !st2) return id;
    if (!st || !st2) { /* wrong for one size of a free dim: the sizes bound later decide */
      for (int i = 0; i < nout; i++) g->values[outs[i]].rank = -1;
      return id;
    }
  } else if (!st) {
    return id;
  }
  for (int i = 0; i < nout; i++) g->values[outs[i]].rank = -1;
  /* Shapes computed from shapes are constant only after folding: inference will know. */
  if (!strstr(e.message, "known at compile time"))
    dsl_error(&c->diag, e.code ? e.code : KILN_ERR_SHAPE, loc, "%s: %s", n->op->name, strip_node(e.message));
  return id;
}

/* ---- op calls -------------------------------------------------------------------------- */

/* Ops whose inputs share one dtype: a number given to them takes the tensors' dtype. */
static bool shares_dtype(const kiln_op_def *op) {
  static const char *const names[] = {"Equal", "Less", "Greater", "LessOrEqual",
                                      "GreaterOrEqual", "Where", "Pow", NULL};
  if (op->infer == kiln_infer_broadcast) return true;
  for (int i = 0; names[i]; i++)
    if (strcmp(op->name, names[i]) == 0) return true;
  return false;
}

static void arity_error(dsl_ctx *c, dsl_loc loc, const char *op, const char *what, int lo,
                        int hi, int got) {
  if (lo == hi)
    dsl_error(&c->diag, KILN_ERR_INVALID_MODEL, loc, "%s takes %d %s%s, got %d", op, lo, what,
              lo == 1 ? "" : "s", got);
  else if (hi < 0)
    dsl_error(&c->diag, KILN_ERR_INVALID_MODEL, loc, "%s takes at least %d %ss, got %d", op, lo, what, got);
  else
    dsl_error(&c->diag, KILN_ERR_INVALID_MODEL, loc, "%s takes %d to %d %ss, got %d", op, lo, hi, what, got);
}

/* Inputs from the positional arguments; false after an error. */
static bool op_inputs(dsl_ctx *c, const kiln_op_def *op, const dsl_ast *call, int *ins, int *nin) {
  dsl_val *args = kiln_arena_alloc(&c->arena, sizeof(dsl_val) * (size_t)(call->nkids + 1));
  int n = 0;
  bool ok = true;
  for (int i = 0; i < call->nkids; i++) {
    const dsl_ast *a = call->kids[i];
    if (a->s) continue;
    if (a->kids[0]->kind == A_BLOCK) {
      dsl_error(&c->diag, KILN_ERR_INVALID_MODEL, a->loc, "a block is an attribute value (name = { ... })");
      ok = false;
      continue;
    }
    args[n] = dsl_eval(c, a->kids[0]);
    if (args[n].kind == V_ERROR) ok = false;
    n++;
  }
  if (!ok) return false;
  if (n < op->min_inputs || (op->max_inputs >= 0 && n > op->max_inputs)) {
    arity_error(c, call->loc, op->name, "input", op->min_inputs, op->max_inputs, n);
    return false;
  }
  kiln_dtype common = KILN_UNDEFINED;
  int like = -1; /* a tensor whose type is known only after folding */
  if (shares_dtype(op)) {
    for (int i = strcmp(op->name, "Where") == 0 ? 1 : 0; i < n && !common; i++)
      if (args[i].kind == V_TENSOR) {
        common = c->g->values[args[i].id].dtype;
        if (!kiln_dtype_valid(common)) like = args[i].id;
      }
    if (!kiln_dtype_valid(common)) common = KILN_F32;
  }
  for (int i = 0; i < n; i++) {
    bool number = args[i].kind == V_INT || args[i].kind == V_FLOAT || args[i].kind == V_LIST;
    if (like >= 0 && number ? !dsl_number_like(c, &args[i], like, &ins[i])
                            : !dsl_to_tensor(c, &args[i], common, &ins[i]))
      return false;
  }
  while (n > 0 && ins[n - 1] < 0) n--; /* trailing omitted inputs */
  *nin = n;
  return true;
}

static void free_attrs(kiln_attr *attrs, int n) {
  for (int i = 0; i < n; i++) kiln_attr_clear(&attrs[i]);
  free(attrs);
}

static void op_call(dsl_ctx *c, const kiln_op_def *op, const dsl_ast *call, int n, dsl_val *out) {
  int *ins = kiln_arena_alloc(&c->arena, sizeof(int) * (size_t)(call->nkids + 1));
  int nin = 0, nattrs = 0;
  bool ok = op_inputs(c, op, call, ins, &nin);
  kiln_attr *attrs = kiln_xcalloc((size_t)call->nkids + 1, sizeof(kiln_attr));
  for (int i = 0; i < call->nkids; i++) {
    const dsl_ast *a = call->kids[i];
    if (!a->s) continue;
    bool dup = false;
    for (int j = 0; j < nattrs; j++) dup |= strcmp(attrs[j].name, a->s) == 0;
    if (dup) {
      dsl_error(&c->diag, KILN_ERR_INVALID_MODEL, a->loc, "attribute '%s' is given twice", a->s);
      ok = false;
    } else if (dsl_make_attr(c, op, a, &attrs[nattrs])) {
      nattrs++;
    } else {
      ok = false;
    }
  }
  for (const kiln_attr_spec *s = op->attrs; ok && s && s->name; s++) {
    bool have = false;
    for (int j = 0; j < nattrs; j++) have |= strcmp(attrs[j].name, s->name) == 0;
    if (s->required && !have) {
      dsl_error(&c->diag, KILN_ERR_INVALID_MODEL, call->loc, "%s needs attribute '%s'", op->name, s->name);
      ok = false;
    }
  }
  if (ok && (n < op->min_outputs || (op->max_outputs >= 0 && n > op->max_outputs))) {
    arity_error(c, call->loc, op->name, "output", op->min_outputs, op->max_outputs, n);
    ok = false;
  }
  if (!ok) {
    free_attrs(attrs, nattrs);
    return;
  }
  char lower[64];
  snprintf(lower, sizeof lower, "%s", op->name);
  for (char *p = lower; *p; p++) *p = (char)tolower((unsigned char)*p);
  int *outs = kiln_arena_alloc(&c->arena, sizeof(int) * (size_t)n);
  for (int i = 0; i < n; i++) outs[i] = dsl_new_value(c, lower);
  if (!nattrs) {
    free(attrs);
    attrs = NULL;
  }
  dsl_add_node(c, op->name, call->loc, ins, nin, outs, n, attrs, nattrs);
  for (int i = 0; i < n; i++) out[i] = (dsl_val){.kind = V_TENSOR, .id = outs[i], .loc = call->loc};
}

void dsl_eval_call(dsl_ctx *c, const dsl_ast *call, int n, dsl_val *out) {
  for (int i = 0; i < n; i++) out[i] = (dsl_val){.kind = V_ERROR, .loc = call->loc};
  dsl_def *d = dsl_find_def(c, call->s);
  const kiln_op_def *op = d ? NULL : dsl_find_op(call->s);
  /* Functions and values have separate names: `relu = Relu(x)` is fine. */
  if (d)
    dsl_call_def(c, d, call, n, out);
  else if (op)
    op_call(c, op, call, n, out);
  else
    unknown_callee(c, call);
}
