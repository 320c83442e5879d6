/* Run-time dims in CUDA C (ir/kernel_dyn.c), as the LLVM backend has them
 * (codegen/llvm_dyn.c): each stage function of a kernel with syms reads their values from
 * the kernel's dims buffer once (`kiln_d<i>`, in device memory where the buffer is) and
 * computes the stage's run-time extents (`kiln_e<axis>`) and the run-time strides and sizes
 * of its buffers (`kiln_s<buf>_<dim>`, `kiln_n<buf>`) there. Launch sizes stay the host's:
 * block loops over a run-time extent walk the grid in strides (cuda_stage.c). */
#include "codegen/cuda_emit.h"

#include <inttypes.h>

void kiln_cuda_dim_expr(kiln_cuda *c, const kiln_expr *x) {
  FILE *o = c->o;
  switch (x->kind) {
  case KX_CONST: fprintf(o, "(int64_t)%" PRId64, x->i); return;
  case KX_DIM: fprintf(o, "kiln_d%d", (int)x->i); return;
  default: break; /* a binary op (kiln_kernel_check_dyn) */
  }
  static const char *const ops[] = {[KB_ADD] = "+", [KB_SUB] = "-", [KB_MUL] = "*"};
  if (x->op == KB_ADD || x->op == KB_SUB || x->op == KB_MUL) {
    fputc('(', o);
    kiln_cuda_dim_expr(c, x->a);
    fprintf(o, " %s ", ops[x->op]);
    kiln_cuda_dim_expr(c, x->b);
    fputc(')', o);
    return;
  }
  /* a / b, a % b (0 where b is 0, as everywhere), min, max: a ? b : c of the operands */
  bool div = x->op == KB_DIV || x->op == KB_MOD;
  fputc('(', o);
  if (div) kiln_cuda_dim_expr(c, x->b);
  else {
    kiln_cuda_dim_expr(c, x->a);
    fputs(x->op == KB_MIN ? " < " : " > ", o);
    kiln_cuda_dim_expr(c, x->b);
  }
  fputs(div ? " == 0 ? (int64_t)0 : " : " ? ", o);
  kiln_cuda_dim_expr(c, x->a);
  if (div) {
    fputs(x->op == KB_DIV ? " / " : " % ", o);
    kiln_cuda_dim_expr(c, x->b);
  } else {
    fputs(" : ", o);
    kiln_cuda_dim_expr(c, x->b);
  }
  fputc(')', o);
}

void kiln_cuda_dyn_begin(kiln_cuda *c, const kiln_stage *s) {
  const kiln_kernel *k = c->k;
  for (int i = 0; i < k->nsyms; i++)
    kiln_cuda_line(c, "const int64_t kiln_d%d = b%d[%d]; /* %s */", i, k->dims_buf, i, k->syms[i]);
  for (int a = 0; a < s->naxes; a++) {
    if (!s->axes[a].dyn) continue;
    fprintf(c->o, "%*sconst int64_t kiln_e%d = ", 2 * c->indent, "", a);
    kiln_cuda_dim_expr(c, s->axes[a].dyn);
    fputs(";\n", c->o);
  }
  for (int b = 0; b < k->nbufs; b++) {
    const kiln_buffer *bf = &k->bufs[b];
    if (!kiln_buffer_is_dyn(bf)) continue;
    int64_t st = 1;
    bool named = false; /* the stride of dim d is kiln_s<b>_<d> (else st) */
    for (int d = bf->rank - 1; d >= 0; d--) {
      if (!named && !bf->dyn_dims[d]) {
        st *= bf->dims[d];
        continue;
      }
      if (d) fprintf(c->o, "%*sconst int64_t kiln_s%d_%d = ", 2 * c->indent, "", b, d - 1);
      else fprintf(c->o, "%*sconst int64_t kiln_n%d = ", 2 * c->indent, "", b);
      if (named) fprintf(c->o, "kiln_s%d_%d * ", b, d);
      else fprintf(c->o, "(int64_t)%" PRId64 " * ", st);
      if (bf->dyn_dims[d]) kiln_cuda_dim_expr(c, bf->dyn_dims[d]);
      else fprintf(c->o, "(int64_t)%" PRId64, bf->dims[d]);
      fputs(";\n", c->o);
      named = true;
    }
  }
}
