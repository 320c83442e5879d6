/* Syntax-tree construction; every node and kid array lives in the import's arena. */
#include "frontend/dsl_ast.h"

#include <string.h>

dsl_ast *dsl_ast_new(kiln_arena *a, dsl_kind kind, dsl_loc loc) {
  dsl_ast *n = kiln_arena_alloc(a, sizeof *n);
  n->kind = kind;
  n->loc = loc;
  return n;
}

dsl_ast *dsl_ast_add(kiln_arena *a, dsl_ast *parent, dsl_ast *kid) {
  if (parent->nkids == parent->cap) {
    int cap = parent->cap ? 2 * parent->cap : 4;
    dsl_ast **kids = kiln_arena_alloc(a, sizeof(dsl_ast *) * (size_t)cap);
    if (parent->nkids) memcpy(kids, parent->kids, sizeof(dsl_ast *) * (size_t)parent->nkids);
    parent->kids = kids;
    parent->cap = cap;
  }
  parent->kids[parent->nkids++] = kid;
  return parent;
}

const char *dsl_op_text(int op) {
  static const char *const text[] = {"?", "+", "-", "*", "/", "**", "==", "!=", "<", "<=", ">", ">="};
  return op > 0 && op <= DSL_OP_GE ? text[op] : "?";
}
