/* The entry points of an AOT library with free dims: `<name>_run_dims`,
 * `<name>_output_shapes`, `<name>_workspace_size`, `<name>_check_inputs` and
 * `<name>_run_variant`, each a call
 * into rt/dyn_aot.c (linked from libkiln_rt_aot.a) with the table describing the model's
 * shapes and its run-time memory plan (the layout rt/dyn_aot.h gives): input dims as sizes
 * or syms, output dims as polynomials over the syms, the dyn slots' lives and dims as
 * postfix dim expressions, and the shape buckets' input shapes and arena sizes (their entry
 * functions and constant tables in two arrays beside it). The logic lives once in C; the
 * module holds only data. */
#include "codegen/plumbing.h"
#include "ir/kernel.h"
#include "ir/dtype.h"
#include "rt/dyn_aot.h"

#include <stdlib.h>
#include <string.h>

_Static_assert(KILN_RT_OK == KILN_OK && KILN_RT_ERR_INVALID_ARGUMENT == KILN_ERR_INVALID_ARGUMENT &&
                   KILN_RT_ERR_OUT_OF_MEMORY == KILN_ERR_OUT_OF_MEMORY &&
                   KILN_RT_ERR_INVALID_INPUT == KILN_ERR_INVALID_INPUT &&
                   KILN_RT_ERR_INTERNAL == KILN_ERR_INTERNAL,
               "rt/dyn_aot.h's status codes are kiln.h's");
_Static_assert(KILN_RT_MAX_RANK == KILN_MAX_RANK && KILN_RT_MAX_SYMS == KILN_MAX_SYMS,
               "rt/dyn_aot.h's limits are kiln's");
_Static_assert(KILN_RT_STRING == KILN_STRING, "rt/dyn_aot.h's string type is kiln's");
_Static_assert(sizeof(kiln_rt_tensor) == sizeof(kiln_array) &&
                   offsetof(kiln_rt_tensor, dims) == offsetof(kiln_array, dims),
               "<name>_tensor is laid out as kiln_array");

typedef struct words {
  int64_t *w;
  size_t n, cap;
} words;

static void put(words *t, int64_t x) {
  if (t->n == t->cap) {
    t->cap = t->cap ? 2 * t->cap : 256;
    t->w = kiln_xrealloc(t->w, t->cap * sizeof *t->w);
  }
  t->w[t->n++] = x;
}

static void put_poly(words *t, const kiln_symdim *x) {
  put(t, x->nterms);
  for (int i = 0; i < x->nterms; i++) {
    put(t, x->coef[i]);
    for (int s = 0; s < KILN_MAX_SYMS; s++) put(t, x->pow[i][s]);
  }
}

static int rt_op(kiln_binary_op op) {
  switch (op) {
  case KB_ADD: return KILN_RT_OP_ADD;
  case KB_SUB: return KILN_RT_OP_SUB;
  case KB_MUL: return KILN_RT_OP_MUL;
  case KB_DIV: return KILN_RT_OP_DIV;
  case KB_MOD: return KILN_RT_OP_MOD;
  case KB_MIN: return KILN_RT_OP_MIN;
  case KB_MAX: return KILN_RT_OP_MAX;
  default: return -1;
  }
}

/* x in postfix into t (its token count at t->w[at]); false for what the table cannot hold */
static bool put_expr(words *t, const kiln_expr *x, int depth, size_t at) {
  if (!x || depth >= KILN_RT_EXPR_STACK - 1) return false;
  t->w[at]++;
  if (x->kind == KX_CONST || x->kind == KX_DIM) {
    put(t, x->kind == KX_CONST ? KILN_RT_TOK_CONST : KILN_RT_TOK_SYM);
    put(t, x->i);
    return true;
  }
  if (x->kind != KX_BINARY || rt_op(x->op) < 0) return false;
  if (!put_expr(t, x->a, depth, at) || !put_expr(t, x->b, depth + 1, at)) return false;
  put(t, KILN_RT_TOK_OP);
  put(t, rt_op(x->op));
  return true;
}

/* The table of rt/dyn_aot.h for p. */
static kiln_status build_table(const kiln_program *p, words *t, kiln_error *err) {
  put(t, p->nsyms), put(t, p->ninputs), put(t, p->noutputs), put(t, p->ndyn);
  put(t, p->arena_bytes), put(t, p->dims_offset), put(t, p->strings ? p->strings_offset : -1);
  for (int s = 0; s < p->nsyms; s++) { /* derived syms (a strided window's output size), counts */
    bool data = p->sym_def[s].den == KILN_SYMDIV_DATA;
    put(t, p->sym_min[s]), put(t, p->sym_max[s]), put(t, p->sym_step[s]);
    put(t, data ? -1 : p->sym_def[s].den > 0 ? p->sym_def[s].den : 0);
    if (data || p->sym_def[s].den > 0) put_poly(t, &p->sym_def[s].num);
  }
  for (int i = 0; i < p->ninputs; i++) {
    const kiln_io *io = &p->inputs[i];
    put(t, io->dtype), put(t, (int64_t)kiln_dtype_size(io->dtype)), put(t, io->rank);
    for (int d = 0; d < io->rank; d++) {
      int s = kiln_io_sym(io, d);
      if (s < 0 && io->dims[d] < 0)
        return kiln_fail(err, KILN_ERR_UNSUPPORTED, "AOT: input '%s' dim %d is an expression "
                         "of free dims, not one free dim", io->name, d);
      put(t, s < 0 ? io->dims[d] : -1 - s);
    }
  }
  for (int i = 0; i < p->noutputs; i++) {
    const kiln_io *io = &p->outputs[i];
    put(t, io->dtype), put(t, (int64_t)kiln_dtype_size(io->dtype)), put(t, io->rank);
    for (int d = 0; d < io->rank; d++) {
      kiln_symdim c = kiln_symdim_const(io->dims[d]);
      put_poly(t, io->sdims ? &io->sdims[d] : &c);
    }
  }
  for (int i = 0; i < p->ndyn; i++) {
    const kiln_buffer *b = p->dyn[i].buf;
    put(t, p->dyn[i].start), put(t, p->dyn[i].end);
    put(t, (int64_t)kiln_dtype_size(b->dtype)), put(t, b->rank);
    for (int d = 0; d < b->rank; d++) {
      size_t at = t->n;
      put(t, 0);
      kiln_expr c = {.kind = KX_CONST, .dtype = KILN_I64, .i = b->dims[d]};
      if (!put_expr(t, b->dyn_dims[d] ? b->dyn_dims[d] : &c, 0, at))
        return kiln_fail(err, KILN_ERR_UNSUPPORTED, "AOT: buffer '%s' dim %d is a dim "
                         "expression too deep for the library's table", b->name, d);
    }
  }
  put(t, p->nbuckets);
  for (int b = 0; b < p->nbuckets; b++)
    if (p->buckets[b]->nsyms) /* its entry would need its own dims */
      return kiln_fail(err, KILN_ERR_UNSUPPORTED, "AOT: bucket %d computes sizes at run time "
                       "('%s'); an AOT library runs such a model without buckets (the JIT "
                       "takes them)", b, p->buckets[b]->sym_names[0]);
  for (int b = 0; b < p->nbuckets; b++) {
    put(t, p->buckets[b]->arena_bytes);
    put(t, p->buckets[b]->strings ? p->buckets[b]->strings_offset : -1);
    for (int i = 0; i < p->ninputs; i++)
      for (int d = 0; d < p->inputs[i].rank; d++) put(t, p->buckets[b]->inputs[i].dims[d]);
  }
  return KILN_OK;
}

static LLVMValueRef private_global(LLVMModuleRef m, LLVMValueRef init, const char *name) {
  LLVMValueRef g = LLVMAddGlobal(m, LLVMTypeOf(init), name);
  LLVMSetInitializer(g, init);
  LLVMSetGlobalConstant(g, 1);
  LLVMSetLinkage(g, LLVMPrivateLinkage);
  return g;
}

/* const char *names[]: the inputs' names, then the syms' */
static LLVMValueRef names_table(LLVMModuleRef m, const kiln_program *p) {
  LLVMContextRef ctx = LLVMGetModuleContext(m);
  LLVMTypeRef ptr = LLVMPointerTypeInContext(ctx, 0);
  int n = p->ninputs + p->nsyms;
  LLVMValueRef *elems = kiln_xcalloc((size_t)n + 1, sizeof *elems);
  for (int i = 0; i < n; i++) {
    const char *s = i < p->ninputs ? p->inputs[i].name : p->sym_names[i - p->ninputs];
    if (!s) s = "";
    elems[i] = private_global(m, LLVMConstStringInContext2(ctx, s, strlen(s), 0), "kiln_name");
  }
  LLVMValueRef arr = LLVMConstArray2(ptr, elems, (uint64_t)n);
  free(elems);
  return private_global(m, arr, "kiln_names");
}

typedef struct fns {
  LLVMModuleRef m;
  LLVMContextRef ctx;
  LLVMBuilderRef b;
  LLVMTypeRef ptr, i32, i64;
  LLVMValueRef desc, names;
  const char *name;
} fns;

/* int|int64 <name>_<what>(ptr x nparams): its builder positioned in its entry block */
static LLVMValueRef define(fns *f, const char *what, LLVMTypeRef ret, LLVMTypeRef *params, int n) {
  char *fname = kiln_fmt("%s_%s", f->name, what);
  LLVMValueRef fn = LLVMAddFunction(f->m, fname, LLVMFunctionType(ret, params, (unsigned)n, 0));
  free(fname);
  LLVMPositionBuilderAtEnd(f->b, LLVMAppendBasicBlockInContext(f->ctx, fn, "entry"));
  return fn;
}

/* kiln_rt_dyn_shapes(desc, names, in, out, workspace, msg, size) */
static LLVMValueRef call_shapes(fns *f, LLVMValueRef in, LLVMValueRef out, LLVMValueRef ws,
                                LLVMValueRef msg, LLVMValueRef size) {
  LLVMTypeRef p = f->ptr;
  LLVMTypeRef ty = LLVMFunctionType(f->i32, (LLVMTypeRef[]){p, p, p, p, p, p, f->i64}, 7, 0);
  LLVMValueRef fn = LLVMGetNamedFunction(f->m, "kiln_rt_dyn_shapes");
  if (!fn) fn = LLVMAddFunction(f->m, "kiln_rt_dyn_shapes", ty);
  LLVMValueRef args[7] = {f->desc, f->names, in, out, ws, msg, size};
  return LLVMBuildCall2(f->b, ty, fn, args, 7, "");
}

/* a private array of the n pointers v */
static LLVMValueRef pointers(LLVMModuleRef m, LLVMTypeRef ptr, const LLVMValueRef *v, int n,
                             const char *name) {
  return private_global(m, LLVMConstArray2(ptr, (LLVMValueRef *)v, (uint64_t)n), name);
}

kiln_status kiln_aot_add_dyn_wrappers(LLVMModuleRef m, const kiln_program *p, const char *name,
                                      const LLVMValueRef *entries, const LLVMValueRef *consts,
                                      kiln_error *err) {
  words t = {0};
  kiln_status st = build_table(p, &t, err);
  if (st) {
    free(t.w);
    return st;
  }
  fns f = {.m = m, .ctx = LLVMGetModuleContext(m), .name = name};
  f.ptr = LLVMPointerTypeInContext(f.ctx, 0);
  f.i32 = LLVMInt32TypeInContext(f.ctx);
  f.i64 = LLVMInt64TypeInContext(f.ctx);
  LLVMValueRef *vals = kiln_xcalloc(t.n, sizeof *vals);
  for (size_t i = 0; i < t.n; i++) vals[i] = LLVMConstInt(f.i64, (uint64_t)t.w[i], 1);
  f.desc = private_global(m, LLVMConstArray2(f.i64, vals, t.n), "kiln_dyn_table");
  free(vals);
  free(t.w);
  f.names = names_table(m, p);
  f.b = LLVMCreateBuilderInContext(f.ctx);
  LLVMTypeRef P = f.ptr, null_ty = f.ptr;
  LLVMValueRef null = LLVMConstPointerNull(null_ty), zero = LLVMConstInt(f.i64, 0, 0);

  /* int run_dims(const tensor *in, tensor *out, void *workspace) */
  LLVMValueRef fn = define(&f, "run_dims", f.i32, (LLVMTypeRef[]){P, P, P}, 3);
  LLVMTypeRef run_ty = LLVMFunctionType(f.i32, (LLVMTypeRef[]){P, P, P, P, P, P, P}, 7, 0);
  LLVMValueRef run = LLVMAddFunction(m, "kiln_rt_dyn_run", run_ty);
  LLVMValueRef args[7] = {f.desc, f.names,
                          pointers(m, f.ptr, entries, p->nbuckets + 1, "kiln_entries"),
                          pointers(m, f.ptr, consts, p->nbuckets + 1, "kiln_const_tables"),
                          LLVMGetParam(fn, 0), LLVMGetParam(fn, 1), LLVMGetParam(fn, 2)};
  LLVMBuildRet(f.b, LLVMBuildCall2(f.b, run_ty, run, args, 7, ""));

  /* int run_variant(const tensor *in): the bucket a run at these shapes runs, or -1 */
  fn = define(&f, "run_variant", f.i32, (LLVMTypeRef[]){P}, 1);
  LLVMTypeRef var_ty = LLVMFunctionType(f.i32, (LLVMTypeRef[]){P, P, P}, 3, 0);
  LLVMValueRef var = LLVMAddFunction(m, "kiln_rt_dyn_variant", var_ty);
  LLVMBuildRet(f.b, LLVMBuildCall2(f.b, var_ty, var,
                                   (LLVMValueRef[]){f.desc, f.names, LLVMGetParam(fn, 0)}, 3, ""));

  /* int output_shapes(const tensor *in, tensor *out) */
  fn = define(&f, "output_shapes", f.i32, (LLVMTypeRef[]){P, P}, 2);
  LLVMBuildRet(f.b, call_shapes(&f, LLVMGetParam(fn, 0), LLVMGetParam(fn, 1), null, null, zero));

  /* int check_inputs(const tensor *in, char *msg, size_t size) */
  fn = define(&f, "check_inputs", f.i32, (LLVMTypeRef[]){P, P, f.i64}, 3);
  LLVMBuildRet(f.b, call_shapes(&f, LLVMGetParam(fn, 0), null, null, LLVMGetParam(fn, 1),
                                LLVMGetParam(fn, 2)));

  /* int64_t workspace_size(const tensor *in): -1 for shapes the model cannot take */
  fn = define(&f, "workspace_size", f.i64, (LLVMTypeRef[]){P}, 1);
  LLVMValueRef ws = LLVMBuildAlloca(f.b, f.i64, "ws");
  LLVMValueRef rc = call_shapes(&f, LLVMGetParam(fn, 0), null, ws, null, zero);
  LLVMValueRef ok = LLVMBuildICmp(f.b, LLVMIntEQ, rc, LLVMConstInt(f.i32, 0, 0), "");
  LLVMBuildRet(f.b, LLVMBuildSelect(f.b, ok, LLVMBuildLoad2(f.b, f.i64, ws, ""),
                                    LLVMConstInt(f.i64, (uint64_t)-1, 1), ""));
  LLVMDisposeBuilder(f.b);
  return KILN_OK;
}
