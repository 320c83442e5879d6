/* Internal to codegen/llvm_*.c: the state shared by the kernel-IR -> LLVM IR emitter.
 * llvm_emit.c emits the entry function, kernels and steps; llvm_stage.c one stage's loop
 * nests (reductions, parallel outlining); llvm_expr.c expressions, dtypes and element
 * loads/stores. */
#ifndef KILN_CODEGEN_LLVM_EMIT_H
#define KILN_CODEGEN_LLVM_EMIT_H

#include "codegen/codegen.h"

/* Memo of emitted expressions (a kernel's trees are DAGs). Entries are valid only where
 * they dominate: a select branch opens a scope whose entries are dropped when it closes. */
typedef struct kiln_emit_memo {
  const kiln_expr *x;
  LLVMValueRef v;
} kiln_emit_memo;

typedef struct kiln_emit_dyn kiln_emit_dyn; /* llvm_dyn.c */

#define KILN_EMIT_MAX_MODULES 4

typedef struct kiln_emit {
  LLVMModuleRef mod;      /* the module being emitted into (one of mods), its context, */
  LLVMContextRef ctx;     /* its builder; t_* below are types of that context */
  LLVMBuilderRef b;
  /* the modules a program's kernels are spread over (kiln_llvm_emit_modules): 0 holds the
   * entry, the others define kernels the entry calls by name */
  LLVMModuleRef mods[KILN_EMIT_MAX_MODULES];
  LLVMBuilderRef builders[KILN_EMIT_MAX_MODULES];
  int64_t weight[KILN_EMIT_MAX_MODULES]; /* instructions of the kernels each module holds */
  int nmods;
  kiln_error *err;
  const kiln_program *prog;
  int nfns; /* for unique internal function names */
  int nkernel_steps; /* kernel steps emitted so far: a profiled program's slot index */

  /* the function being emitted */
  LLVMValueRef fn;
  LLVMBasicBlockRef alloca_bb; /* allocas go here; branches to the body at the end */
  LLVMBasicBlockRef start_bb;

  /* the kernel and stage being emitted */
  const kiln_kernel *k;
  const char *kfn_name;
  const kiln_stage *st;
  int check_buf;                       /* the check record's buffer, else -1 */
  bool check_all;                      /* checked kernels: test every load and store */
  bool exact;                          /* the binary being emitted: no `contract` (kx_binary_exact) */
  bool clamp_loads;                    /* loads clamp each index into its dim (the taken
                                          side of a select whose guard keeps them in range) */
  LLVMValueRef *bufs;                  /* base pointer of each kernel buffer */
  kiln_emit_dyn *dyn;                  /* a kernel with run-time dims: their values in the
                                          function being emitted (llvm_dyn.c); else NULL */
  LLVMValueRef *local;                 /* per buffer: the local array standing for a
                                          per-row temporary of a row kernel, or NULL */
  int local_lane;                      /* the loop whose variable indexes it, -1: none
                                          (one element) */
  bool by_rows;                        /* emitting a row kernel row by row */
  bool masked_tails;                   /* the target masks a vector's tail cheaply
                                          (AVX-512) */
  LLVMValueRef axis[KILN_MAX_AXES];    /* current value of each axis (i64), NULL = none */
  LLVMValueRef lv[KILN_MAX_LOOPS];     /* current loop variables */
  LLVMValueRef acc;                    /* KX_ACC in a post expression */
  kiln_dtype acc_dtype;

  /* kernel functions emitted so far, by content signature (ir/kernel_sig.h): a kernel
   * equal to an earlier one calls its function */
  struct { char *sig; size_t len; LLVMValueRef fn; } *kfns;
  int nkfns, kfns_cap;

  kiln_emit_memo *memo; /* stack of live entries */
  int nmemo, memo_cap;
  struct { const kiln_expr *x; int idx; } *memo_tab; /* open addressing, x -> memo index */
  int memo_tab_cap, memo_tab_used; /* slots taken, stale ones (a closed branch's) too */

  LLVMTypeRef t_i1, t_i8, t_i16, t_i32, t_i64, t_f32, t_f64, t_half, t_ptr, t_void;
} kiln_emit;

/* Fails with KILN_ERR_INTERNAL naming the kernel and stage; evaluates to NULL. */
#define KILN_EMIT_FAIL(E, fmt, ...)                                                         \
  (kiln_fail((E)->err, KILN_ERR_INTERNAL, "kernel '%s': stage '%s': " fmt,                  \
             (E)->k ? (E)->k->name : "?", (E)->st ? (E)->st->name : "-", ##__VA_ARGS__),    \
   (LLVMValueRef)NULL)

/* llvm_emit.c */
LLVMValueRef kiln_emit_alloca(kiln_emit *e, LLVMTypeRef t, const char *name);
/* Starts emitting into fn (a new alloca block + start block); kiln_emit_end_function
 * closes the alloca block. Callers save and restore e->fn etc. around nested functions. */
void kiln_emit_begin_function(kiln_emit *e, LLVMValueRef fn);
void kiln_emit_end_function(kiln_emit *e);
void kiln_emit_fn_attr(kiln_emit *e, LLVMValueRef fn, const char *name, uint64_t val);
/* noalias/nonnull/dereferenceable on pointer parameter i (0-based) for buffer buf. */
void kiln_emit_buffer_param_attrs(kiln_emit *e, LLVMValueRef fn, int i, const kiln_buffer *buf);

/* llvm_expr.c */
LLVMTypeRef kiln_emit_reg_type(kiln_emit *e, kiln_dtype t); /* NULL: not computable */
LLVMTypeRef kiln_emit_mem_type(kiln_emit *e, kiln_dtype t);
LLVMValueRef kiln_emit_expr(kiln_emit *e, const kiln_expr *x);
void kiln_emit_memo_reset(kiln_emit *e);
void kiln_emit_memo_free(kiln_emit *e);
/* Address of buf[idx...]: base + sum idx_d * stride_d. This is the stage's output element
 * (its store, and the load of an accumulation); KX_LOADs get theirs inside llvm_expr.c. */
LLVMValueRef kiln_emit_addr(kiln_emit *e, int buf, kiln_expr *const *idx, int nidx);
LLVMValueRef kiln_emit_load_elem(kiln_emit *e, kiln_dtype t, LLVMValueRef ptr);
void kiln_emit_store_elem(kiln_emit *e, kiln_dtype t, LLVMValueRef v, LLVMValueRef ptr);
/* a (+) b for reduction op; float combines carry reassoc so reductions vectorize. */
LLVMValueRef kiln_emit_combine(kiln_emit *e, kiln_reduce_op op, kiln_dtype t, LLVMValueRef a,
                               LLVMValueRef b);
LLVMValueRef kiln_emit_identity(kiln_emit *e, kiln_reduce_op op, kiln_dtype t);

/* llvm_math.c: scalar operators. `at` is the operand dtype, `rt` the result dtype. */
LLVMValueRef kiln_emit_unary(kiln_emit *e, kiln_unary_op op, kiln_dtype at, kiln_dtype rt,
                             LLVMValueRef a);
LLVMValueRef kiln_emit_binary(kiln_emit *e, kiln_binary_op op, kiln_dtype at, kiln_dtype rt,
                              LLVMValueRef a, LLVMValueRef b);
/* A call of an intrinsic overloaded on its first argument's type (llvm.maximum...). */
LLVMValueRef kiln_emit_intrinsic(kiln_emit *e, const char *name, LLVMValueRef *args, int nargs);
LLVMValueRef kiln_emit_intrinsic2(kiln_emit *e, const char *name, LLVMValueRef a, LLVMValueRef b);

/* llvm_minifloat.c: an 8-bit float's byte (i8) <-> its f32 value, kiln_minifloat_to_f32 and
 * kiln_f32_to_minifloat of ir/dtype.c as straight-line IR. */
LLVMValueRef kiln_emit_minifloat_decode(kiln_emit *e, kiln_dtype t, LLVMValueRef byte);
LLVMValueRef kiln_emit_minifloat_encode(kiln_emit *e, kiln_dtype t, LLVMValueRef v, bool saturate);

/* llvm_vmath.c: f32 exp, log, tanh, sigmoid and erf of a float register as inline
 * straight-line IR (no calls), so loops over them vectorize; within 2.5 ulp, special
 * values as libm. */
LLVMValueRef kiln_emit_vexp(kiln_emit *e, LLVMValueRef x);
LLVMValueRef kiln_emit_vlog(kiln_emit *e, LLVMValueRef x);
LLVMValueRef kiln_emit_vtanh(kiln_emit *e, LLVMValueRef x);
LLVMValueRef kiln_emit_vsigmoid(kiln_emit *e, LLVMValueRef x);
LLVMValueRef kiln_emit_verf(kiln_emit *e, LLVMValueRef x);

/* llvm_check.c: checked kernels (runtime/check.h) */
int kiln_emit_check_buffer(const kiln_kernel *k); /* the record's buffer, or -1 */
/* The address of element lin of buf, or of a scratch cell after recording a violation
 * when lin is outside the buffer. */
LLVMValueRef kiln_emit_check_addr(kiln_emit *e, int buf, LLVMValueRef lin, bool is_store);
/* The place of flat element lin of a strided buffer (kiln_buffer_place). */
LLVMValueRef kiln_emit_place(kiln_emit *e, const kiln_buffer *bf, LLVMValueRef lin);
/* At the start of the entry function: clears the run's violation record, if any. */
void kiln_emit_check_init(kiln_emit *e, LLVMValueRef arena);
/* At its end: the run's status (i32), from the record's state. */
LLVMValueRef kiln_emit_check_status(kiln_emit *e, LLVMValueRef arena);
/* Returns (ret, or void when NULL) from the current function when the check record at rec
 * holds a failure: what ran after a failed check would read what it left unwritten (a
 * scatter's found positions), so a kernel stops between its stages and the run between
 * its kernels. */
void kiln_emit_check_stop(kiln_emit *e, LLVMValueRef rec, LLVMValueRef ret);
/* In the entry function: records that the loop step `what` reached its iteration limit
 * (KILN_CHECK_LOOP) in the record at arena offset `offset`. */
void kiln_emit_check_loop(kiln_emit *e, LLVMValueRef arena, int64_t offset, const char *what,
                          int64_t limit);
/* A KX_CHECK: the index in [0, n), after recording a violation and yielding 0 outside. */
LLVMValueRef kiln_emit_check_index(kiln_emit *e, const kiln_expr *x);

/* llvm_dyn.c: run-time dims. At a function's start, after e->bufs: loads the syms and
 * computes the buffers' run-time dims and strides there (nothing for a static kernel);
 * returns the previous function's state, which kiln_emit_dyn_end restores. */
kiln_emit_dyn *kiln_emit_dyn_begin(kiln_emit *e);
void kiln_emit_dyn_end(kiln_emit *e, kiln_emit_dyn *saved);
/* A dim expression's value (an i64) in the current function. */
LLVMValueRef kiln_emit_dim_expr(kiln_emit *e, const kiln_expr *x);
/* Dim d of buffer buf: a constant, or its run-time value. */
LLVMValueRef kiln_emit_buf_dim(kiln_emit *e, int buf, int d);
/* The stride of dim d of buf when a run-time dim is in it; NULL: the product of the
 * static dims after d. */
LLVMValueRef kiln_emit_buf_stride(kiln_emit *e, int buf, int d);

/* llvm_stage.c */
kiln_status kiln_emit_stage(kiln_emit *e, const kiln_stage *s);
/* A kernel's stages: one after the other, or a row kernel's inside shared row loops. */
kiln_status kiln_emit_stages(kiln_emit *e, const kiln_kernel *k);

#endif
