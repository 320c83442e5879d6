/* Elaboration of the kiln model language: syntax tree -> graph IR. Shared between
 * dsl_import.c (files, imports, the entry point), dsl_elab.c (statements, functions),
 * dsl_expr.c (expressions, op calls) and dsl_params.c (parameter initialisers). */
#ifndef KILN_FRONTEND_DSL_ELAB_H
#define KILN_FRONTEND_DSL_ELAB_H

#include "frontend/dsl.h"
#include "frontend/dsl_ast.h"

/* What a name or an expression stands for during elaboration. V_ERROR marks the result
 * of a failed expression: it is accepted everywhere silently, so one mistake gives one
 * diagnostic. */
typedef enum dsl_vkind {
  V_ERROR, V_NONE, V_TENSOR, V_INT, V_FLOAT, V_STRING, V_LIST, V_BLOCK
} dsl_vkind;

typedef struct dsl_val {
  dsl_vkind kind;
  int id;                /* V_TENSOR: value id */
  int64_t i;             /* V_INT */
  double f;              /* V_FLOAT */
  const char *s;         /* V_STRING */
  struct dsl_val *items; /* V_LIST (arena) */
  int n;
  const dsl_ast *block;  /* V_BLOCK */
  dsl_loc loc;           /* where it was written (for diagnostics about it) */
} dsl_val;

typedef struct dsl_binding {
  const char *name;
  dsl_val val;
} dsl_binding;

typedef struct dsl_def {
  const char *name;
  const dsl_ast *ast; /* A_DEF */
  int calls;          /* instances so far: the k of the `name_k.` param prefix */
  bool failed;        /* a call's body reported an error: later calls give errors at once */
} dsl_def;

typedef struct dsl_onnx_file dsl_onnx_file; /* a parsed .onnx for onnx("f", "name") */

/* Free dims not bound by kiln_options.shapes are sized twice while elaborating: 1 in the
 * graph (broadcasts with anything), DSL_FREE_DIM_ALT here (fits any window). A value whose
 * shape depends on a free dim keeps its second shape; a node reading one is inferred with
 * both, and its error is reported only when both fail, so that no size the dim could
 * later be given is refused. */
#define DSL_FREE_DIM_ALT 224
typedef struct dsl_alt_shape {
  bool free; /* the shape depends on a free dim: rank and dims are its second shape */
  bool any_rank; /* an input declared `[*]` (its rank is bound at compile time) */
  int rank;
  int64_t dims[KILN_MAX_RANK];
} dsl_alt_shape;

typedef struct dsl_ctx {
  kiln_graph *g;
  kiln_block *block;      /* where new nodes go: the main graph or an If branch */
  const kiln_options *opts;
  dsl_diag diag;
  kiln_arena arena;
  const char *base_dir;   /* for "<buffer>" text */
  dsl_source **sources;   /* every file read, for diagnostics */
  int nsources, sources_cap;
  struct dsl_chain {       /* the import chain being read, for cycle errors */
    char *canon, *shown;   /* canonical path; path as resolved (for messages) */
  } *chain;
  int nchain, chain_cap;
  dsl_def *defs;
  int ndefs, defs_cap;
  dsl_binding *env;       /* scopes: a function call sees bindings from `floor` on */
  int nenv, env_cap, floor;
  int scope;              /* bindings from here on are the innermost block's (a function
                             body, an If branch), dropped at its end */
  dsl_loc *node_locs;     /* node id -> the call that made it */
  int node_locs_cap;
  dsl_alt_shape *alt;     /* value id -> its second shape (dsl_call.c) */
  int alt_cap;
  char **names;           /* value names in use (open addressing), for unique names */
  int *next_suffix;       /* per names slot: the suffix to try first for a name based on it */
  int names_cap, names_used;
  char prefix[512];       /* param and value name prefix inside calls: "block_2." */
  int depth;              /* call nesting */
  int64_t calls;          /* calls elaborated, all together */
  bool calls_over;        /* a limit on calls was passed (reported once): no more calls */
  bool in_function;
  uint64_t seed;
  dsl_onnx_file *onnx_files;
  int nonnx_files;
} dsl_ctx;

/* ---- dsl_elab.c --------------------------------------------------------------------- */
/* Builds the model's graph into c->g. */
void dsl_elab_model(dsl_ctx *c, const dsl_ast *model);
/* Runs a block's statements; its `return` values go to rets (arena array, *nrets). */
void dsl_elab_block(dsl_ctx *c, const dsl_ast *block, dsl_val **rets, int *nrets);
/* Inlines a call of user function d, giving n results. */
void dsl_call_def(dsl_ctx *c, dsl_def *d, const dsl_ast *call, int n, dsl_val *out);
dsl_def *dsl_find_def(dsl_ctx *c, const char *name);
bool dsl_lookup(dsl_ctx *c, const char *name, dsl_val *out);
void dsl_bind(dsl_ctx *c, const char *name, dsl_val v);

/* ---- dsl_expr.c --------------------------------------------------------------------- */
dsl_val dsl_eval(dsl_ctx *c, const dsl_ast *e);
/* Evaluates a call giving n results (n > 1 only for multi-output ops and functions). */
void dsl_eval_call(dsl_ctx *c, const dsl_ast *call, int n, dsl_val *out);
/* An integer (dims, counts): false after reporting an error. */
bool dsl_eval_int(dsl_ctx *c, const dsl_ast *e, const char *what, int64_t *out);
/* dtype and dims of an A_TYPE; `symbolic` allows free dims named by unbound names. */
bool dsl_eval_type(dsl_ctx *c, const dsl_ast *type, bool symbolic, kiln_value *v);
/* A fresh value named prefix + base (made unique). */
int dsl_new_value(dsl_ctx *c, const char *base);
/* Renames value id to a unique variant of name. */
void dsl_rename(dsl_ctx *c, int id, const char *name);
/* Whether name is taken by a value; reserve marks it taken. */
bool dsl_name_taken(dsl_ctx *c, const char *name);
void dsl_name_reserve(dsl_ctx *c, const char *name);
const char *dsl_kind_name(dsl_vkind k);

/* ---- dsl_call.c --------------------------------------------------------------------- */
/* Adds a node (taking ownership of attrs) to c->block, remembers loc for it, and infers
 * it when its inputs' types are known; an inference error is reported at loc. */
int dsl_add_node(dsl_ctx *c, const char *op, dsl_loc loc, const int *ins, int nin,
                 const int *outs, int nout, kiln_attr *attrs, int nattrs);
/* Value id's second shape (see dsl_alt_shape), made on first use. */
dsl_alt_shape *dsl_alt(dsl_ctx *c, int id);
/* The op named name, ignoring case; NULL if none. */
const kiln_op_def *dsl_find_op(const char *name);
/* A tensor operand: a tensor's id, -1 for '_', or a new constant from a number or list
 * (of dtype `want` when given; else i64 for integers, f32 otherwise). False after an error. */
bool dsl_to_tensor(dsl_ctx *c, const dsl_val *v, kiln_dtype want, int *id);
/* A number or list as an operand beside tensor `like`, whose type is known only once
 * shapes are folded: a constant CastLike'd to it (a node at v's place). */
bool dsl_number_like(dsl_ctx *c, const dsl_val *v, int like, int *id);
/* A tensor from a number or a (nested) list, as dsl_to_tensor makes them. */
bool dsl_value_tensor(dsl_ctx *c, const dsl_val *v, kiln_dtype want, kiln_tensor *t);

/* ---- dsl_attr.c --------------------------------------------------------------------- */
/* Attribute `arg` (A_ARG with a keyword) of a call of op, typed by the op's spec. */
bool dsl_make_attr(dsl_ctx *c, const kiln_op_def *op, const dsl_ast *arg, kiln_attr *out);

/* ---- dsl_params.c ------------------------------------------------------------------- */
/* Fills t (dtype and dims set by the caller) from a param's initialiser; false after
 * reporting an error. */
bool dsl_param_init(dsl_ctx *c, const dsl_ast *init, const char *full_name, kiln_tensor *t);
/* Resolves a file named in src's text: relative to src's directory (or c->base_dir). */
char *dsl_resolve_path(dsl_ctx *c, const dsl_source *src, const char *file);
void dsl_free_onnx_files(dsl_ctx *c);

#endif
