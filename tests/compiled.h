/* Helpers for tests of what kiln compiles: a model from DSL text, and a search of its
 * kernels' expressions. */
#ifndef KILN_TESTS_COMPILED_H
#define KILN_TESTS_COMPILED_H

#include "check.h"

#include "ir/program.h"
#include "kiln.h"
#include "runtime/profile.h"

#include <stdio.h>
#include <string.h>

/* The model of DSL text compiled with o (NULL: defaults), or NULL after a failed CHECK. */
static inline kiln_model *compiled(const char *text, const kiln_options *o) {
  kiln_model *m = NULL;
  kiln_error err;
  if (kiln_compile_buffer(text, strlen(text), o, &m, &err)) fprintf(stderr, "%s\n", err.message);
  CHECK(m != NULL);
  return m;
}

/* Does e hold an expression of this kind and op (a KX_UNARY's or KX_BINARY's)? */
static inline bool expr_has(const kiln_expr *e, kiln_expr_kind kind, int op) {
  if (!e) return false;
  if (e->kind == kind && e->op == op) return true;
  for (int i = 0; e->kind == KX_LOAD && i < e->nidx; i++)
    if (expr_has(e->idx[i], kind, op)) return true;
  return expr_has(e->a, kind, op) || expr_has(e->b, kind, op) || expr_has(e->c, kind, op);
}

/* Does a stage of m's program (named `stage`, or any with NULL) compute such an
 * expression? */
static inline bool model_has(const kiln_model *m, const char *stage, kiln_expr_kind kind, int op) {
  const kiln_kernel *ks[64];
  int n = kiln_steps_kernels(&kiln_model_program(m)->main, ks, 64);
  for (int i = 0; i < n && i < 64; i++)
    for (int s = 0; s < ks[i]->nstages; s++)
      if ((!stage || !strcmp(ks[i]->stages[s].name, stage)) &&
          expr_has(ks[i]->stages[s].value, kind, op))
        return true;
  return false;
}

/* Does m's program have a stage of this name? */
static inline bool model_has_stage(const kiln_model *m, const char *stage) {
  const kiln_kernel *ks[64];
  int n = kiln_steps_kernels(&kiln_model_program(m)->main, ks, 64);
  for (int i = 0; i < n && i < 64; i++)
    for (int s = 0; s < ks[i]->nstages; s++)
      if (!strcmp(ks[i]->stages[s].name, stage)) return true;
  return false;
}

#endif
