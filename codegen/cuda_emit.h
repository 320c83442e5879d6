/* Internal to codegen/cuda_*.c: the state of the kernel-IR -> CUDA C emitter.
 * cuda_emit.c writes the program (kernels, stage functions, host entry), cuda_stage.c one
 * stage's loop nests, cuda_expr.c expressions as C statements, one temporary per value. */
#ifndef KILN_CODEGEN_CUDA_EMIT_H
#define KILN_CODEGEN_CUDA_EMIT_H

#include "codegen/cuda.h"

typedef struct kiln_cuda {
  FILE *o;
  kiln_error *err;
  const kiln_program *prog;
  const kiln_kernel *k;
  const kiln_stage *st;
  int indent;
  int ntemps;
  int check_buf;                     /* the check record's buffer, else -1 */
  bool check_all;                    /* check_bounds: every element index is tested */
  char axis[KILN_MAX_AXES][24];      /* C expression of each axis's value, "" = undefined */
  int acc;                           /* temporary holding KX_ACC in a post, -1 = none */
  kiln_dtype acc_dtype;
  bool idx32;                        /* this kernel's indices are 32-bit (cuda_index.c) */
  const char *exit;                  /* the label a thread jumps to when it stops early */
  const char *ity;                   /* the C type of loop variables and axes */
  /* loads of these buffers read their tiles in shared memory (cuda_staged.c) */
  const struct kiln_cuda_shared *shared;
  int nshared;
  struct { const kiln_expr *x; int t; bool narrow; } *memo; /* values of the open scopes */
  int nmemo, memo_cap;
} kiln_cuda;

/* Fails with KILN_ERR_INTERNAL naming the kernel and stage; evaluates to -1. */
#define KILN_CUDA_FAIL(C, fmt, ...)                                                         \
  (kiln_fail((C)->err, KILN_ERR_INTERNAL, "cuda: kernel '%s': stage '%s': " fmt,            \
             (C)->k ? (C)->k->name : "?", (C)->st ? (C)->st->name : "-", ##__VA_ARGS__),    \
   -1)

/* cuda_emit.c: one line at the current indent. */
void kiln_cuda_line(kiln_cuda *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s as a C string literal (every byte outside [A-Za-z0-9_ .] escaped). */
void kiln_cuda_string(FILE *o, const char *s);

/* cuda_expr.c: C types of a dtype in registers and in memory (NULL: not computable). */
const char *kiln_cuda_reg_type(kiln_dtype t);
const char *kiln_cuda_mem_type(kiln_dtype t);
/* Emits x's value into a new temporary (or finds it in the memo); its number, or -1. */
int kiln_cuda_expr(kiln_cuda *c, const kiln_expr *x);
void kiln_cuda_memo_reset(kiln_cuda *c);
/* The temporary holding the linear element index of buf[idx...]; in a checked kernel
 * (check_bounds) an index outside the buffer is recorded and stops the thread. */
int kiln_cuda_index(kiln_cuda *c, int buf, kiln_expr *const *idx, int nidx, bool is_store);
/* Temporary t (register of type t) converted to buffer buf's memory representation. */
void kiln_cuda_store(kiln_cuda *c, int buf, int lin, int value);
/* A new temporary = buf[lin] in registers. */
int kiln_cuda_load(kiln_cuda *c, int buf, int lin);
/* The same from `array` (buffer buf's elements in its memory representation). */
int kiln_cuda_load_from(kiln_cuda *c, int buf, const char *array, int lin);
/* cuda_staged.c: x (a load of a buffer in c->shared) from its tile; -1 on failure. */
int kiln_cuda_shared_load(kiln_cuda *c, int i, const kiln_expr *x);
/* A new temporary = a (+) b for reduction op on registers of type t. */
int kiln_cuda_combine(kiln_cuda *c, kiln_reduce_op op, kiln_dtype t, int a, int b);
int kiln_cuda_identity(kiln_cuda *c, kiln_reduce_op op, kiln_dtype t);

/* cuda_dyn.c: run-time dims. A dim expression as C over kiln_d<i>; at the start of stage
 * s's function, the syms' values, s's run-time extents and the buffers' run-time strides. */
void kiln_cuda_dim_expr(kiln_cuda *c, const kiln_expr *x);
void kiln_cuda_dyn_begin(kiln_cuda *c, const kiln_stage *s);
/* cuda_index.c: may kernel k compute its indices in int32 (every buffer's element count
 * and every loop's range fit, and no extent is a run-time dim)? */
bool kiln_cuda_index32(const kiln_kernel *k);
/* Is x an index expression (i64, over axes and constants) that int32 computes exactly in
 * this kernel? Such values kiln_cuda_expr32 emits as int32_t temporaries. */
bool kiln_cuda_narrow(const kiln_cuda *c, const kiln_expr *x);
/* cuda_expr.c: x (kiln_cuda_narrow) into an int32_t temporary; its number, or -1. */
int kiln_cuda_expr32(kiln_cuda *c, const kiln_expr *x);

/* A buffer's tile in shared memory while its staging loop runs: kiln_sh<i>[], its box's
 * first index along dim d in kiln_sb<i>_<d> (cuda_staged.c). */
typedef struct kiln_cuda_shared {
  int buf, rank;
  int64_t ext[KILN_MAX_RANK];
  int64_t stride[KILN_MAX_RANK]; /* its layout: row-major, or one dim moved innermost */
} kiln_cuda_shared;

/* cuda_stage.c: the body of stage s's kernel function; *grid and *threads get its launch
 * size (*grid 0: the stage has no points and is not launched). */
kiln_status kiln_cuda_stage(kiln_cuda *c, const kiln_stage *s, int64_t *grid, int64_t *threads);
/* Do some threads of s share a reduction (a thread loop over a reduction axis)? Such a
 * stage's body runs in phases (cuda_reduce.c): it is not wrapped in KILN_KERNEL_BEGIN/END
 * and has no `kiln_next` label. */
bool kiln_cuda_cross_thread(const kiln_stage *s);
/* Does s's body run in phases (its own framing): threads share reductions or stage tiles? */
bool kiln_cuda_phased(const kiln_stage *s);
/* The launch size alone (what kiln_cuda_stage computes). */
void kiln_cuda_launch_size(const kiln_stage *s, int64_t *grid, int64_t *threads);

#endif
