/* Expressions: literals, names, lists, arithmetic. Arithmetic on numbers is done here
 * (dims like `c * 4`); with a tensor operand it becomes an op (Add, Sub, Mul, Div, Pow,
 * Neg, Equal, Less, ...), a number operand becoming a scalar constant of the tensor's
 * dtype. Also: unique value names, and the types of inputs and params. */
#include "frontend/dsl_elab.h"

#include "ir/dtype.h"
#include "ir/op.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- unique value names ---------------------------------------------------------------- */

static uint64_t hash_str(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

static int name_slot(dsl_ctx *c, const char *name) {
  int mask = c->names_cap - 1;
  int i = (int)(hash_str(name) & (uint64_t)mask);
  while (c->names[i] && strcmp(c->names[i], name) != 0) i = (i + 1) & mask;
  return i;
}

bool dsl_name_taken(dsl_ctx *c, const char *name) {
  return c->names_cap && c->names[name_slot(c, name)];
}

void dsl_name_reserve(dsl_ctx *c, const char *name) {
  if (2 * (c->names_used + 1) > c->names_cap) { /* keep the table at most half full */
    char **old = c->names;
    int *old_next = c->next_suffix, old_cap = c->names_cap;
    c->names_cap = old_cap ? 2 * old_cap : 64;
    c->names = kiln_xcalloc((size_t)c->names_cap, sizeof(char *));
    c->next_suffix = kiln_xcalloc((size_t)c->names_cap, sizeof(int));
    for (int i = 0; i < old_cap; i++) {
      if (!old[i]) continue;
      int j = name_slot(c, old[i]);
      c->names[j] = old[i];
      c->next_suffix[j] = old_next[i];
    }
    free(old);
    free(old_next);
  }
  int i = name_slot(c, name);
  if (!c->names[i]) {
    c->names[i] = kiln_xstrdup(name);
    c->names_used++;
  }
}

/* name, else name_2, name_3, ... (malloc'd): from the suffix after the last one given for
 * name, so that a name reassigned n times costs O(n), not O(n^2) (`repeat`). */
static char *unique(dsl_ctx *c, const char *name) {
  if (!dsl_name_taken(c, name)) return kiln_xstrdup(name);
  int at = name_slot(c, name);
  for (int k = c->next_suffix[at] > 2 ? c->next_suffix[at] : 2;; k++) {
    char *s = kiln_fmt("%s_%d", name, k);
    if (!dsl_name_taken(c, s)) {
      c->next_suffix[at] = k + 1;
      return s;
    }
    free(s);
  }
}

int dsl_new_value(dsl_ctx *c, const char *base) {
  char *full = kiln_fmt("%s%s", c->prefix, base);
  char *name = unique(c, full);
  int id = kiln_graph_add_value(c->g, name);
  dsl_name_reserve(c, name);
  free(name);
  free(full);
  return id;
}

void dsl_rename(dsl_ctx *c, int id, const char *name) {
  if (strcmp(c->g->values[id].name, name) == 0) return; /* `relu = Relu(x)`: already so */
  char *u = unique(c, name);
  dsl_name_reserve(c, u);
  free(c->g->values[id].name);
  c->g->values[id].name = u;
}

const char *dsl_kind_name(dsl_vkind k) {
  static const char *const names[] = {"an erroneous value", "'_' (no tensor)", "a tensor",
                                      "an integer", "a number", "a string", "a list", "a block"};
  return names[k];
}

/* ---- types ----------------------------------------------------------------------------- */

static kiln_dtype dtype_named(const char *s) {
  static const kiln_dtype all[] = {KILN_F32, KILN_F64, KILN_F16, KILN_BF16, KILN_I8, KILN_I16,
                                   KILN_I32, KILN_I64, KILN_U8,  KILN_U16,  KILN_U32, KILN_U64,
                                   KILN_BOOL, KILN_STRING};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
    if (strcmp(kiln_dtype_name(all[i]), s) == 0) return all[i];
  return KILN_UNDEFINED;
}

bool dsl_eval_int(dsl_ctx *c, const dsl_ast *e, const char *what, int64_t *out) {
  dsl_val v = dsl_eval(c, e);
  if (v.kind == V_INT) {
    *out = v.i;
    return true;
  }
  if (v.kind != V_ERROR)
    dsl_error(&c->diag, KILN_ERR_INVALID_MODEL, e->loc, "expected an integer for %s, got %s",
              what, dsl_kind_name(v.kind));
  return false;
}

bool dsl_eval_type(dsl_ctx *c, const dsl_ast *type, bool symbolic, kiln_value *v) {
  v->dtype = dtype_named(type->s);
  if (v->dtype == KILN_UNDEFINED) {
    dsl_error(&c->diag, KILN_ERR_INVALID_MODEL, type->loc,
              "unknown element type '%s' (expected f32, f64, f16, bf16, i8, i16, i32, i64, u8, u16, u32, u64, bool or string)",
              type->s);
    return false;
  }
  if (type->i) { /* `[*]`: the rank too is given when compiling */
    if (symbolic) return v->rank = -1, true;
    dsl_error(&c->diag, KILN_ERR_INVALID_MODEL, type->loc,
              "only a model's input may have any rank (`[*]`); expected a list of dims");
    return false;
  }
  if (type->nkids > KILN_MAX_RANK) {
    dsl_error(&c->diag, KILN_ERR_UNSUPPORTED, type->loc, "rank %d is over kiln's limit of %d",
              type->nkids, KILN_MAX_RANK);
    return false;
  }
  v->rank = type->nkids;
  bool ok = true;
  for (int d = 0; d < type->nkids && ok; d++) {
    const dsl_ast *e = type->kids[d];
    dsl_val bound;
    /* a name that is not a number is a dim's name, even one an input has too */
    if (symbolic && e->kind == A_NAME && (!dsl_lookup(c, e->s, &bound) || bound.kind != V_INT)) {
      v->dim_names[d] = kiln_xstrdup(e->s);
      v->dims[d] = 1; /* a placeholder while elaborating; bound at compile time */
      continue;
    }
    ok = dsl_eval_int(c, e, "a dim", &v->dims[d]);
    if (ok && v->dims[d] < 0) {
      dsl_error(&c->diag, KILN_ERR_SHAPE, e->loc, "dim %d is %lld (expected a size >= 0)", d,
                (long long)v->dims[d]);
      ok = false;
    }
  }
  if (!ok)
    for (int d = 0; d < KILN_MAX_RANK; d++) {
      free(v->dim_names[d]);
      v->dim_names[d] = NULL;
    }
  return ok;
}

/* ---- values ---------------------------------------------------------------------------- */

static dsl_val error_val(dsl_loc loc) { return (dsl_val){.kind = V_ERROR, .loc = loc}; }

static dsl_val eval_list(dsl_ctx *c, const dsl_ast *e) {
  dsl_val v = {.kind = V_LIST, .n = e->nkids, .loc = e->loc};
  v.items = kiln_arena_alloc(&c->arena, sizeof(dsl_val) * (size_t)(e->nkids + 1));
  for (int i = 0; i < e->nkids; i++) {
    v.items[i] = dsl_eval(c, e->kids[i]);
    dsl_vkind k = v.items[i].kind;
    if (k == V_ERROR) return error_val(e->loc);
    if (k != V_INT && k != V_FLOAT && k != V_STRING && k != V_LIST) {
      dsl_error(&c->diag, KILN_ERR_INVALID_MODEL, e->kids[i]->loc,
                "a list holds numbers, strings or lists, not %s", dsl_kind_name(k));
      return error_val(e->loc);
    }
  }
  return v;
}

static double num(dsl_val v) { return v.kind == V_INT ? (double)v.i : v.f; }

/* Arithmetic on two numbers: integers stay integers where the result is exact. */
static dsl_val fold_numbers(dsl_ctx *c, int op, dsl_val a, dsl_val b, dsl_loc loc) {
  dsl_val r = {.kind = V_INT, .loc = loc};
  bool ints = a.kind == V_INT && b.kind == V_INT;
  double x = num(a), y = num(b);
  switch (op) {
  case DSL_OP_ADD: if (ints && !__builtin_add_overflow(a.i, b.i, &r.i)) return r; r.f = x + y; break;
  case DSL_OP_SUB: if (ints && !__builtin_sub_overflow(a.i, b.i, &r.i)) return r; r.f = x - y; break;
  case DSL_OP_MUL: if (ints && !__builtin_mul_overflow(a.i, b.i, &r.i)) return r; r.f = x * y; break;
  case DSL_OP_DIV:
    if (ints && b.i == 0) {
      dsl_error(&c->diag, KILN_ERR_INVALID_MODEL, loc, "integer division by zero");
      return error_val(loc);
    }
    if (ints && b.i != -1 && a.i % b.i == 0) return r.i = a.i / b.i, r;
    r.f = x / y;
    break;
  case DSL_OP_POW: r.f = pow(x, y); if (ints && b.i >= 0 && fabs(r.f) < 9e15) return r.i = (int64_t)r.f, r; break;
  case DSL_OP_EQ: r.i = x == y; return r;
  case DSL_OP_NE: r.i = x != y; return r;
  case DSL_OP_LT: r.i = x < y; return r;
  case DSL_OP_LE: r.i = x <= y; return r;
  case DSL_OP_GT: r.i = x > y; return r;
  case DSL_OP_GE: r.i = x >= y; return r;
  default: break;
  }
  r.kind = V_FLOAT;
  if (isnan(r.f)) r.f = NAN; /* one NaN, whatever the machine makes: 0.0 / 0 is exact */
  return r;
}

/* `a op b` with at least one tensor: an op node. */
static dsl_val tensor_binop(dsl_ctx *c, int op, dsl_val a, dsl_val b, dsl_loc loc) {
  static const char *const ops[] = {NULL, "Add", "Sub", "Mul", "Div", "Pow", "Equal", "Equal",
                                    "Less", "LessOrEqual", "Greater", "GreaterOrEqual"};
  dsl_val args[2] = {a, b};
  int ins[2];
  for (int i = 0; i < 2; i++) {
    const dsl_val *other = &args[1 - i];
    kiln_dtype t = other->kind == V_TENSOR ? c->g->values[other->id].dtype : KILN_UNDEFINED;
    if (args[i].kind == V_NONE) {
      dsl_error(&c->diag, KILN_ERR_INVALID_MODEL, args[i].loc,
                "operator '%s' needs a tensor or a number here, not '_'", dsl_op_text(op));
      return error_val(loc);
    }
    bool number = args[i].kind == V_INT || args[i].kind == V_FLOAT || args[i].kind == V_LIST;
    if (number && other->kind == V_TENSOR && !kiln_dtype_valid(t) ? !dsl_number_like(c, &args[i], other->id, &ins[i])
                                                                   : !dsl_to_tensor(c, &args[i], t, &ins[i]))
      return error_val(loc);
  }
  static const char *const names[] = {NULL, "add", "sub", "mul", "div", "pow", "equal", "equal",
                                      "less", "lessorequal", "greater", "greaterorequal"};
  int out = dsl_new_value(c, names[op]);
  dsl_add_node(c, ops[op], loc, ins, 2, &out, 1, NULL, 0);
  if (op == DSL_OP_NE) {
    int eq = out;
    out = dsl_new_value(c, "not");
    dsl_add_node(c, "Not", loc, &eq, 1, &out, 1, NULL, 0);
  }
  return (dsl_val){.kind = V_TENSOR, .id = out, .loc = loc};
}

static dsl_val eval_binop(dsl_ctx *c, const dsl_ast *e) {
  dsl_val a = dsl_eval(c, e->kids[0]), b = dsl_eval(c, e->kids[1]);
  if (a.kind == V_ERROR || b.kind == V_ERROR) return error_val(e->loc);
  bool an = a.kind == V_INT || a.kind == V_FLOAT, bn = b.kind == V_INT || b.kind == V_FLOAT;
  if (an && bn) return fold_numbers(c, e->op, a, b, e->loc);
  if (a.kind == V_TENSOR || b.kind == V_TENSOR) return tensor_binop(c, e->op, a, b, e->loc);
  const dsl_val *bad = an ? &b : &a;
  dsl_error(&c->diag, KILN_ERR_INVALID_MODEL, e->loc,
            "operator '%s' applies to tensors and numbers, not %s", dsl_op_text(e->op),
            dsl_kind_name(bad->kind));
  return error_val(e->loc);
}

static dsl_val eval_neg(dsl_ctx *c, const dsl_ast *e) {
  dsl_val a = dsl_eval(c, e->kids[0]);
  /* wrapping, so that -9223372036854775808 (2^63, read as INT64_MIN) is INT64_MIN */
  if (a.kind == V_INT) return a.i = (int64_t)(0 - (uint64_t)a.i), a.loc = e->loc, a;
  if (a.kind == V_INT || a.kind == V_FLOAT) return (dsl_val){.kind = V_FLOAT, .f = -num(a), .loc = e->loc};
  if (a.kind == V_TENSOR) {
    int out = dsl_new_value(c, "neg");
    dsl_add_node(c, "Neg", e->loc, &a.id, 1, &out, 1, NULL, 0);
    return (dsl_val){.kind = V_TENSOR, .id = out, .loc = e->loc};
  }
  if (a.kind != V_ERROR)
    dsl_error(&c->diag, KILN_ERR_INVALID_MODEL, e->loc, "unary '-' applies to tensors and numbers, not %s",
              dsl_kind_name(a.kind));
  return error_val(e->loc);
}

static dsl_val eval_name(dsl_ctx *c, const dsl_ast *e) {
  dsl_val v;
  if (!e->i && (strcmp(e->s, "_") == 0 || strcmp(e->s, "none") == 0)) return (dsl_val){.kind = V_NONE, .loc = e->loc};
  if (dsl_lookup(c, e->s, &v)) {
    v.loc = e->loc;
    return v;
  }
  if (dsl_find_def(c, e->s) || dsl_find_op(e->s))
    dsl_error(&c->diag, KILN_ERR_INVALID_MODEL, e->loc, "'%s' is a function; call it as %s(...)", e->s, e->s);
  else
    dsl_error(&c->diag, KILN_ERR_INVALID_MODEL, e->loc, "name '%s' is not defined%s", e->s,
              c->in_function ? " (a function sees only its parameters and its own names)" : "");
  return error_val(e->loc);
}

dsl_val dsl_eval(dsl_ctx *c, const dsl_ast *e) {
  switch (e->kind) {
  case A_INT: return (dsl_val){.kind = V_INT, .i = e->i, .loc = e->loc};
  case A_FLOAT: return (dsl_val){.kind = V_FLOAT, .f = e->f, .loc = e->loc};
  case A_STRING: return (dsl_val){.kind = V_STRING, .s = e->s, .loc = e->loc};
  case A_NAME: return eval_name(c, e);
  case A_LIST: return eval_list(c, e);
  case A_NEG: return eval_neg(c, e);
  case A_BINOP: return eval_binop(c, e);
  case A_CALL: {
    dsl_val v;
    dsl_eval_call(c, e, 1, &v);
    return v;
  }
  default:
    dsl_error(&c->diag, KILN_ERR_INVALID_MODEL, e->loc, "expected an expression");
    return error_val(e->loc);
  }
}
