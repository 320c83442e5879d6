/* Run-time dims in the kernel IR (symbolic shapes): a kernel's syms, the dim expressions
 * that symbolic axis extents and buffer dims are, and which loops of a schedule run a
 * run-time number of times. Codegen (codegen/llvm_dyn.c) and the interpreter read the
 * syms' values from the kernel's dims buffer. */
#include "ir/kernel.h"

#include <string.h>

int kiln_kernel_sym(kiln_kernel *k, const char *name, int64_t hint) {
  if (k->nsyms == KILN_MAX_SYMS) return -1;
  if (!k->nsyms) {
    int64_t one = 1;
    k->dims_buf = kiln_kernel_add_buffer(k, "dims", KILN_BUF_INPUT, -1, KILN_I64, 1, &one);
  }
  k->syms[k->nsyms] = kiln_arena_strdup(&k->arena, name);
  k->sym_hint[k->nsyms] = hint < 1 ? 1 : hint;
  k->bufs[k->dims_buf].dims[0] = k->nsyms + 1;
  return k->nsyms++;
}

kiln_expr *kx_dim(kiln_kernel *k, int sym) {
  kiln_expr *e = kx_idx(k, 0);
  e->kind = KX_DIM;
  e->i = sym;
  return e;
}

static bool dim_ok(const kiln_kernel *k, const kiln_expr *x, int depth) {
  if (!x || x->dtype != KILN_I64 || depth > 32) return false;
  switch (x->kind) {
  case KX_CONST: return true;
  case KX_DIM: return x->i >= 0 && x->i < k->nsyms;
  case KX_BINARY:
    if (x->op != KB_ADD && x->op != KB_SUB && x->op != KB_MUL && x->op != KB_DIV &&
        x->op != KB_MOD && x->op != KB_MIN && x->op != KB_MAX)
      return false;
    return dim_ok(k, x->a, depth + 1) && dim_ok(k, x->b, depth + 1);
  default: return false;
  }
}

bool kiln_dim_expr_ok(const kiln_kernel *k, const kiln_expr *x) { return dim_ok(k, x, 0); }

bool kiln_dim_expr_equal(const kiln_expr *a, const kiln_expr *b) {
  if (!a || !b) return a == b;
  return a->kind == b->kind && a->op == b->op && a->i == b->i &&
         kiln_dim_expr_equal(a->a, b->a) && kiln_dim_expr_equal(a->b, b->b);
}

kiln_expr *kiln_dim_expr_copy(kiln_kernel *k, const kiln_expr *x) {
  if (!x) return NULL;
  if (x->kind == KX_CONST) return kx_idx(k, x->i);
  if (x->kind == KX_DIM) return kx_dim(k, (int)x->i);
  return kx_binary(k, (kiln_binary_op)x->op, kiln_dim_expr_copy(k, x->a),
                   kiln_dim_expr_copy(k, x->b));
}

int64_t kiln_dim_eval(const kiln_expr *x, const int64_t *dims) {
  if (x->kind == KX_CONST) return x->i;
  if (x->kind == KX_DIM) return dims[x->i];
  uint64_t a = (uint64_t)kiln_dim_eval(x->a, dims), b = (uint64_t)kiln_dim_eval(x->b, dims);
  int64_t sa = (int64_t)a, sb = (int64_t)b;
  switch (x->op) { /* wrapping, as generated code and the interpreter compute */
  case KB_ADD: return (int64_t)(a + b);
  case KB_SUB: return (int64_t)(a - b);
  case KB_MUL: return (int64_t)(a * b);
  case KB_DIV: return sb == 0 ? 0 : sb == -1 ? (int64_t)(0 - a) : sa / sb;
  case KB_MOD: return sb == 0 || sb == -1 ? 0 : sa % sb;
  case KB_MIN: return sa < sb ? sa : sb;
  case KB_MAX: return sa > sb ? sa : sb;
  default: return 0;
  }
}

int kiln_stage_axis_dyn(kiln_kernel *k, kiln_stage *s, kiln_expr *dim, bool reduce) {
  int64_t hint = kiln_dim_expr_ok(k, dim) ? kiln_dim_eval(dim, k->sym_hint) : 1;
  int a = kiln_stage_axis(s, hint < 1 ? 1 : hint, reduce);
  s->axes[a].dyn = dim;
  return a;
}

void kiln_buffer_dyn_dim(kiln_kernel *k, int b, int d, kiln_expr *dim) {
  kiln_buffer *buf = &k->bufs[b];
  int64_t hint = kiln_dim_expr_ok(k, dim) ? kiln_dim_eval(dim, k->sym_hint) : 1;
  buf->dims[d] = hint < 0 ? 0 : hint;
  buf->dyn_dims[d] = dim;
}

bool kiln_buffer_is_dyn(const kiln_buffer *b) {
  for (int d = 0; d < b->rank && d < KILN_MAX_RANK; d++)
    if (b->dyn_dims[d]) return true;
  return false;
}

kiln_status kiln_kernel_check_dyn(const kiln_kernel *k, kiln_error *err) {
  if (k->nsyms < 0 || k->nsyms > KILN_MAX_SYMS ||
      (k->nsyms && (k->dims_buf < 0 || k->dims_buf >= k->nbufs ||
                    k->bufs[k->dims_buf].dtype != KILN_I64 || k->bufs[k->dims_buf].rank != 1 ||
                    k->bufs[k->dims_buf].dims[0] != k->nsyms ||
                    kiln_buffer_is_dyn(&k->bufs[k->dims_buf]))))
    return kiln_fail(err, KILN_ERR_INTERNAL, "kernel '%s': bad run-time dims (%d syms)",
                     k->name, k->nsyms);
  for (int b = 0; b < k->nbufs; b++)
    for (int d = 0; d < k->bufs[b].rank && d < KILN_MAX_RANK; d++)
      if (k->bufs[b].dyn_dims[d] && !kiln_dim_expr_ok(k, k->bufs[b].dyn_dims[d]))
        return kiln_fail(err, KILN_ERR_INTERNAL, "kernel '%s': buffer '%s': dim %d is not a "
                         "dim expression of the kernel's syms", k->name, k->bufs[b].name, d);
  for (int i = 0; i < k->nstages; i++)
    for (int a = 0; a < k->stages[i].naxes; a++) {
      const kiln_axis *ax = &k->stages[i].axes[a];
      if (ax->dyn && (!kiln_dim_expr_ok(k, ax->dyn) || ax->extent < 1))
        return kiln_fail(err, KILN_ERR_INTERNAL, "kernel '%s': stage '%s': axis %d's extent is "
                         "not a dim expression of the kernel's syms with a hint >= 1", k->name,
                         k->stages[i].name, a);
    }
  return KILN_OK;
}

bool kiln_loop_is_dyn(const kiln_stage *s, const kiln_schedule *sc, int l) {
  const kiln_loop *lp = &sc->loops[l];
  if (lp->axis < 0 || lp->axis >= s->naxes || !s->axes[lp->axis].dyn) return false;
  for (int j = 0; j < sc->nloops; j++)
    if (sc->loops[j].axis == lp->axis && sc->loops[j].stride > lp->stride) return false;
  return true;
}
