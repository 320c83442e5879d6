/* Run-time dims in generated code (ir/kernel_dyn.c). At the start of every function that
 * runs a kernel's loops (the kernel's function, an outlined parallel range), the syms'
 * values are loaded from the kernel's dims buffer and each buffer's run-time dims and
 * strides computed, once; extents (llvm_stage.c) and addresses (llvm_expr.c) use those
 * values. A static kernel gets none of this, so its code is what it was. */
#include "codegen/llvm_emit.h"

#include <stdlib.h>

struct kiln_emit_dyn {
  LLVMValueRef sym[KILN_MAX_SYMS];
  LLVMValueRef *dim;    /* [buf * KILN_MAX_RANK + d]: a run-time dim's value, else NULL */
  LLVMValueRef *stride; /* [buf * KILN_MAX_RANK + d]: a run-time stride, else NULL */
};

static LLVMValueRef i64c(kiln_emit *e, int64_t v) { return LLVMConstInt(e->t_i64, (uint64_t)v, 0); }

LLVMValueRef kiln_emit_dim_expr(kiln_emit *e, const kiln_expr *x) {
  switch (x->kind) {
  case KX_CONST: return i64c(e, x->i);
  case KX_DIM:
    if (!e->dyn || x->i < 0 || x->i >= e->k->nsyms)
      return KILN_EMIT_FAIL(e, "run-time dim %lld is not defined here", (long long)x->i);
    return e->dyn->sym[x->i];
  case KX_BINARY: {
    LLVMValueRef a = kiln_emit_dim_expr(e, x->a), b = a ? kiln_emit_dim_expr(e, x->b) : NULL;
    return b ? kiln_emit_binary(e, (kiln_binary_op)x->op, KILN_I64, KILN_I64, a, b) : NULL;
  }
  default: return KILN_EMIT_FAIL(e, "not a dim expression");
  }
}

kiln_emit_dyn *kiln_emit_dyn_begin(kiln_emit *e) {
  kiln_emit_dyn *saved = e->dyn;
  e->dyn = NULL;
  const kiln_kernel *k = e->k;
  if (!k->nsyms) return saved;
  kiln_emit_dyn *d = kiln_xcalloc(1, sizeof *d);
  size_t n = (size_t)k->nbufs * KILN_MAX_RANK;
  d->dim = kiln_xcalloc(n ? n : 1, sizeof(LLVMValueRef));
  d->stride = kiln_xcalloc(n ? n : 1, sizeof(LLVMValueRef));
  for (int i = 0; i < k->nsyms; i++) {
    LLVMValueRef ix = i64c(e, i);
    LLVMValueRef p = LLVMBuildInBoundsGEP2(e->b, e->t_i64, e->bufs[k->dims_buf], &ix, 1, "");
    d->sym[i] = LLVMBuildLoad2(e->b, e->t_i64, p, k->syms[i]);
  }
  e->dyn = d;
  for (int b = 0; b < k->nbufs; b++) {
    const kiln_buffer *bf = &k->bufs[b];
    if (!kiln_buffer_is_dyn(bf)) continue;
    LLVMValueRef run = NULL; /* the stride so far, once a run-time dim is in it */
    int64_t st = 1;
    for (int j = bf->rank - 1; j >= 0; j--) {
      LLVMValueRef *dim = &d->dim[b * KILN_MAX_RANK + j];
      d->stride[b * KILN_MAX_RANK + j] = run;
      if (bf->dyn_dims[j]) *dim = kiln_emit_dim_expr(e, bf->dyn_dims[j]);
      if (bf->dyn_dims[j] || run)
        run = LLVMBuildNSWMul(e->b, run ? run : i64c(e, st), *dim ? *dim : i64c(e, bf->dims[j]), "");
      else
        st *= bf->dims[j];
    }
  }
  return saved;
}

void kiln_emit_dyn_end(kiln_emit *e, kiln_emit_dyn *saved) {
  if (e->dyn) {
    free(e->dyn->dim);
    free(e->dyn->stride);
    free(e->dyn);
  }
  e->dyn = saved;
}

LLVMValueRef kiln_emit_buf_dim(kiln_emit *e, int buf, int d) {
  LLVMValueRef v = e->dyn ? e->dyn->dim[buf * KILN_MAX_RANK + d] : NULL;
  return v ? v : i64c(e, e->k->bufs[buf].dims[d]);
}

LLVMValueRef kiln_emit_buf_stride(kiln_emit *e, int buf, int d) {
  return e->dyn ? e->dyn->stride[buf * KILN_MAX_RANK + d] : NULL;
}
