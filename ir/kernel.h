/* The kernel IR: *what* a kernel computes, as loop nests over index spaces, kept apart
 * from *how* it runs (the schedule, below).
 *
 * A kernel owns buffers (its inputs, outputs and temporaries) and runs its stages in
 * order. A stage is one loop nest in the style of Halide/TVM's compute:
 *
 *     for every point of the iteration space (axes 0..naxes-1):
 *         out[out_idx(spatial axes)]  =  value(all axes)                  (reduce == NONE)
 *         out[out_idx(spatial axes)]  =  post( reduce_{reduction axes} value )   (otherwise)
 *
 * Axes are either spatial (they index the output) or reductions (folded with `reduce`).
 * Expressions are trees of scalar operations over loop variables, constants and loads;
 * indices are expressions too (affine in most ops, general where an op needs it: Gather
 * indexes by a loaded value, Resize by a floor()). A load from a padded or clipped region
 * is written as select(in_bounds, load(...), 0): the loads inside a select's untaken side
 * are never executed (codegen emits a branch or a masked load), so they may be out of bounds.
 *
 * Expressions live in the kernel's arena and are shared freely (a tree may be a DAG). */
#ifndef KILN_IR_KERNEL_H
#define KILN_IR_KERNEL_H

#include "ir/symdim.h"
#include "ir/util.h"

#include <stdio.h>

#define KILN_MAX_AXES 12
#define KILN_MAX_LOOPS 24
#define KILN_MAX_BUFS 128 /* a node's inputs and outputs (32 each) and its temporaries */

typedef enum kiln_expr_kind {
  KX_CONST,  /* dtype + value (f for floats, i for ints/bool) */
  KX_VAR,    /* the current value of axis `axis` (i64) */
  KX_LOAD,   /* buf[idx[0], ..., idx[rank-1]]; indices are i64 */
  KX_UNARY,  /* op(a) */
  KX_BINARY, /* op(a, b); comparisons yield bool. With i = 1 (kx_binary_exact) a float op
              * is never contracted with its operands into an FMA: x - max(x) where x is
              * computed again (a fused producer a * w) must round x as the max saw it */
  KX_SELECT, /* a ? b : c, a is bool; only the taken side is evaluated */
  KX_CAST,   /* a converted to dtype (ONNX Cast semantics: float->int truncates); with
              * op KX_CAST_BITS (kx_bitcast) a's bits read as dtype, f32 <-> i32/u32,
              * f64 <-> i64/u64; with op KX_CAST_NOSAT (kx_cast_nosat) to an 8-bit float,
              * values beyond its range become NaN (E5M2: infinity), not its largest */
  KX_ACC,    /* in a stage's `post`: the reduced value */
  KX_CHECK,  /* an index read from data, checked: a (an integer) must lie in [-i, i) when
              * op is 1 (negative counts from the end) or in [0, i) when op is 0; the value
              * is a as an i64 in [0, i). Outside, the run fails with KILN_ERR_INVALID_INPUT
              * (`what` names the node and tensor) and the kernel stops there, so the load
              * it feeds never runs. With b, the bound is the dim expression b (a free dim,
              * ir/kernel_dyn.c) and i its hint. */
  KX_DIM,    /* the value of the kernel's run-time dim number i (i64; kiln_kernel.syms) */
  KX_CALL    /* a string function of the run-time library (rt/strings.h) on a and b (those
              * it takes): op its kiln_rt_fn, i an int argument, what a text one; one that
              * makes strings (or can run out of memory) takes the run's string heap, buffer
              * buf (kiln_kernel_strings_buf) */
} kiln_expr_kind;

/* KX_CALL's functions (ir/kernel_call.c lists their C names and types). */
typedef enum kiln_rt_fn {
  KF_STR_CONCAT,   /* (a, b) -> string */
  KF_STR_CASE,     /* (a), i: 1 upper, 0 lower -> string */
  KF_STR_EQ,       /* (a, b) -> bool */
  KF_STR_INDEX,    /* (a), what: a word list, i: 1 ignoring case -> i64: a's position, -1 */
  KF_STR_TO_F64,   /* (a) -> f64 */
  KF_STR_TO_I64,   /* (a) -> i64 */
  KF_STR_FROM_F64, /* (a: f64), i: 1 as an f32's digits -> string */
  KF_STR_FROM_I64, /* (a: i64), i: 1 unsigned -> string */
  KF_STR_MATCH,    /* (a), what: an RE2 pattern -> bool: a full match */
  KF_STR_WORD,     /* (a: i64), what: a word list -> string: word a ("" outside) */
  KF_SPLIT_COUNT,  /* (a), what: a delimiter, i: maxsplit -> i64: StringSplit's pieces of a */
  KF_SPLIT_SPAN,   /* (a, b: the span before), what: a delimiter -> i64: the next piece's span */
  KF_STR_SPAN,     /* (a, b: a span) -> string: that piece of a */
  KF_COUNT
} kiln_rt_fn;

typedef enum kiln_unary_op {
  KU_NEG, KU_ABS, KU_SQRT, KU_EXP, KU_LOG, KU_TANH, KU_ERF, KU_SIN, KU_COS,
  KU_FLOOR, KU_CEIL, KU_ROUND, /* round half to even */
  KU_NOT,   /* logical not of a bool */
  KU_ISNAN, /* bool result */
  KU_SIGMOID, KU_RECIP,
  KU_TAN, KU_ASIN, KU_ACOS, KU_ATAN, KU_SINH, KU_COSH, KU_ASINH, KU_ACOSH, KU_ATANH
} kiln_unary_op;

typedef enum kiln_binary_op {
  KB_ADD, KB_SUB, KB_MUL, KB_DIV, /* integer DIV truncates toward zero (C) */
  KB_MOD,  /* C remainder (fmod for floats) */
  KB_POW, KB_MIN, KB_MAX,         /* float MIN/MAX propagate NaN like ONNX Min/Max */
  KB_EQ, KB_NE, KB_LT, KB_LE, KB_GT, KB_GE, /* -> bool */
  KB_AND, KB_OR, KB_XOR,          /* bools, or bitwise on ints */
  KB_SHL, KB_SHR                  /* logical shift right for unsigned, arithmetic for signed */
} kiln_binary_op;

typedef struct kiln_expr kiln_expr;
struct kiln_expr {
  kiln_expr_kind kind;
  kiln_dtype dtype; /* the result type */
  int op;           /* kiln_unary_op / kiln_binary_op */
  double f;         /* KX_CONST of a float type */
  int64_t i;        /* KX_CONST of an int or bool type */
  int axis;         /* KX_VAR */
  int buf;          /* KX_LOAD */
  int nidx;
  kiln_expr **idx;  /* KX_LOAD */
  kiln_expr *a, *b, *c;
  const char *what; /* KX_CHECK: "node 'g' (Gather): input 'idx'", for the error */
};

typedef enum kiln_buf_role {
  KILN_BUF_INPUT,  /* read-only: a node input (graph value) */
  KILN_BUF_OUTPUT, /* a node output (graph value) */
  KILN_BUF_TEMP    /* scratch the kernel alone uses (planned into the arena) */
} kiln_buf_role;

/* Where a buffer lives at run time; filled by memory planning, read by codegen. */
typedef enum kiln_storage_kind {
  KILN_STORE_NONE, KILN_STORE_INPUT, KILN_STORE_OUTPUT, KILN_STORE_CONST, KILN_STORE_ARENA,
  /* free dims (kiln_program.nsyms): the syms' values, i64s at kiln_program.dims_offset in the
   * arena (a kernel's dims_buf); and a buffer whose size depends on them, placed at run time:
   * its arena offset is the i64 number `index` after the syms' values */
  KILN_STORE_DIMS, KILN_STORE_DYN,
  /* the run's string heap (rt/strings.h) at kiln_program.strings_offset in the arena */
  KILN_STORE_STRINGS
} kiln_storage_kind;

typedef struct kiln_storage {
  kiln_storage_kind kind;
  int index;      /* graph input / output / constant number */
  int64_t offset; /* byte offset into the arena */
} kiln_storage;

typedef struct kiln_buffer {
  char *name;
  kiln_buf_role role;
  int value;      /* graph value id for INPUT/OUTPUT; -1 for TEMP */
  kiln_dtype dtype;
  int rank;                    /* this kernel's view of the value: any dims with its */
  int64_t dims[KILN_MAX_RANK]; /* element count (Conv merges H and W), row-major */
  kiln_storage storage;
  const char *layout;          /* its value's kiln_value.layout (in the arena); NULL = none */
  /* A dim known only at run time: a dim expression (kiln_dim_expr_ok) of the kernel's
   * syms, and dims[d] its hint (its value at the syms' hints); NULL: dims[d] is exact.
   * Addresses then use strides computed at run time, once per kernel entry. */
  kiln_expr *dyn_dims[KILN_MAX_RANK];
  /* Its elements' layout in its storage: element e of the view (row-major over dims) lives
   * at (e / row) * pitch + e % row; row 0: dense. A value placed in a slot of a larger one
   * (an in-place Concat) is strided so; kiln_buffer_strides gives per-dim strides. */
  int64_t row, pitch;
} kiln_buffer;

typedef enum kiln_reduce_op { KR_NONE, KR_SUM, KR_PROD, KR_MAX, KR_MIN } kiln_reduce_op;

/* ---- schedule: how a stage's loops run ----------------------------------------------
 * The loops of a stage, outermost first. Each loop walks one axis with a stride: an axis's
 * value is the sum of (loop variable * stride) over its loops, so splitting an axis of
 * extent 100 by 16 gives loops {axis, stride 16, extent 7} and {axis, stride 1, extent 16};
 * a point past the axis's extent is skipped (a guard codegen emits only where a split is
 * inexact). Codegen must accept any valid order: when a spatial loop sits inside a
 * reduction loop, the stage keeps one register accumulator per point if those spatial loops
 * are a small unrolled/vector tile, else accumulates in its output buffer. */
typedef enum kiln_loop_kind {
  KILN_LOOP_SERIAL,
  KILN_LOOP_PARALLEL, /* iterations spread over threads (outermost loops only) */
  KILN_LOOP_VECTOR,   /* innermost loop as SIMD lanes; extent is the vector width */
  KILN_LOOP_UNROLL,   /* fully unrolled */
  /* GPU (codegen/cuda_*.c): a leading run of block loops is the grid (flattened into
   * blockIdx.x, the innermost fastest), the run of thread loops right after it the thread
   * block (threadIdx.x, at most KILN_MAX_BLOCK_THREADS threads). Block loops are spatial.
   * Thread loops over reductions, if any, come last among the threads and number a power
   * of two of threads together: each such group shares one output point's reduction
   * (warp shuffles, shared memory), so every spatial loop is then a block or thread loop.
   * Otherwise each thread owns the output points it computes. The CPU backend runs them
   * serially. */
  KILN_LOOP_BLOCK,
  KILN_LOOP_THREAD
} kiln_loop_kind;

#define KILN_MAX_BLOCK_THREADS 1024

#define KILN_MAX_SHARE 4 /* buffers one loop stages in shared memory */

typedef struct kiln_loop {
  int axis;
  int64_t stride;
  int64_t extent;
  kiln_loop_kind kind;
} kiln_loop;

typedef struct kiln_schedule {
  int nloops;
  /* A CPU cache hint (ignored where it cannot apply): with prefetch_ahead > 0, a register
   * tile prefetches the operands that stream along its vector loop prefetch_ahead points
   * ahead along axis prefetch_axis (a reduction: the slice of a weight panel it reads soon) */
  int prefetch_axis;
  kiln_loop loops[KILN_MAX_LOOPS];
  int64_t prefetch_ahead;
  /* GPU: at the top of each iteration of loop share_loop, the block's threads copy the tile
   * of input buffers share[0..nshare) that the loops inside it and the thread loops read
   * into shared memory (ir/staging.h); moves keep it on its loop, splitting it drops it */
  int nshare, share_loop;
  int share[KILN_MAX_SHARE];
} kiln_schedule;

/* A schedule as a recipe (ir/schedule.h): transformations of the stage's default nest, in
 * order. The loop list above is what they produce; emitters read the loops. */
typedef enum kiln_sched_op {
  KS_SPLIT,    /* loop -> an outer loop of extent ceil(e / arg) and an inner one of extent
                * arg, 2 <= arg <= e */
  KS_MOVE,     /* loop moves to position arg, the loops between shift by one */
  KS_VECTOR,   /* loop (the innermost) runs as SIMD lanes */
  KS_UNROLL,   /* loop is fully unrolled */
  KS_PARALLEL, /* loops 0 .. loop run in parallel (spatial loops only) */
  KS_SERIAL,   /* loop runs as a plain loop again */
  KS_BLOCK,    /* loops 0 .. loop are bound to GPU blocks (spatial loops only) */
  KS_THREAD,   /* loop is bound to GPU threads (right after the block loops; a reduction
                * loop: threads share the reduction) */
  KS_PREFETCH, /* prefetch arg iterations of loop ahead along its axis (kiln_schedule) */
  KS_SHARE     /* loop stages buffer arg in shared memory (kiln_schedule.share, ir/staging.h) */
} kiln_sched_op;

typedef struct kiln_sched_step {
  kiln_sched_op op;
  int loop;    /* position in the loop list when the step is applied */
  int64_t arg; /* KS_SPLIT: the inner extent; KS_MOVE: the new position; KS_PREFETCH: the
                * distance in iterations; KS_SHARE: the buffer */
} kiln_sched_step;

#define KILN_MAX_RECIPE 64

typedef struct kiln_recipe {
  int nsteps;
  kiln_sched_step steps[KILN_MAX_RECIPE];
} kiln_recipe;

/* An axis of extent `extent`, or with `dyn` a symbolic one: its extent is the dim
 * expression dyn (kiln_dim_expr_ok) evaluated at run time, and `extent` only its hint (its
 * value at the syms' hints, >= 1), what schedulers and cost models size tiles by and what
 * the schedule's loop extents describe. The outermost loop of a symbolic axis (the one of
 * the largest stride) then runs ceil(dyn / stride) times at run time (kiln_loop_is_dyn),
 * the others keep their extents, and points past the extent are skipped. */
typedef struct kiln_axis {
  int64_t extent;
  bool reduce;
  kiln_expr *dyn;
} kiln_axis;

typedef struct kiln_stage {
  char *name;
  int naxes;
  kiln_axis axes[KILN_MAX_AXES];
  int out_buf;
  int nout_idx;
  kiln_expr **out_idx; /* one per dim of the output buffer; uses spatial axes only, and
                        * in an ordered reduction KX_ACC too: the point stores where its
                        * reduction says (an append at a list's length, ir/ops/nms_run.c) */
  kiln_expr *value;
  kiln_reduce_op reduce;
  kiln_expr *init;     /* reductions: starting value; NULL = the op's identity */
  kiln_expr *post;     /* reductions: applied to the result (uses KX_ACC); NULL = none */
  /* Its points run one after another in axis order: it reads what it stored at earlier
   * points (a running count) or stores where values say (a compaction), so its schedule
   * is the default serial nest and nothing else (kiln_schedule_check). */
  bool ordered;
  kiln_schedule sched;
  kiln_recipe recipe;  /* the steps that made sched (ir/schedule.h); none: the default nest */
} kiln_stage;

typedef struct kiln_kernel {
  char *name;
  const char *op;   /* the op(s) it computes ("MatMul", "Copy"), in the arena; for tools */
  /* the names of the graph nodes it computes, in order: the node it was lowered from, then
   * those fused into it (none for a copy); in the arena */
  int nnodes;
  const char **nodes;
  kiln_arena arena; /* expressions, names, index arrays */
  int nbufs;
  kiln_buffer bufs[KILN_MAX_BUFS]; /* fixed: a kiln_buffer pointer stays valid while
                                      lowerings add temporaries */
  int nstages, stages_cap;
  kiln_stage *stages;
  /* Row kernels (passes/fuse_rows.c): the axes (bit a for axis a) every stage has,
   * spatial and of the same extent, along which each stage reads what earlier stages wrote
   * only at its own point; codegen may then run all stages for one row (one point of these
   * axes) before the next. 0: stage after stage. */
  uint32_t row_axes;
  bool has_checks;  /* some expression is a KX_CHECK (it needs the check record) */
  bool check_all;   /* debug (check_bounds): every load and store is tested */
  /* Run-time dims (symbolic shapes): syms[i] names dim i, sym_hint[i] a typical value. The
   * kernel reads their values from its buffer dims_buf (an INPUT of nsyms i64s that the
   * caller fills before each run, kiln_kernel_sym adds it), so a kernel with syms keeps the
   * calling convention and storage of every other kernel. nsyms 0: a static kernel. */
  int nsyms;
  int dims_buf;
  const char *syms[KILN_MAX_SYMS];
  int64_t sym_hint[KILN_MAX_SYMS];
} kiln_kernel;

kiln_kernel *kiln_kernel_new(const char *name);
void kiln_kernel_free(kiln_kernel *k);
int kiln_kernel_add_buffer(kiln_kernel *k, const char *name, kiln_buf_role role, int value,
                           kiln_dtype dtype, int rank, const int64_t *dims);

/* Adds a stage writing buffer out_buf; axes are added with kiln_stage_axis. The returned
 * pointer is valid until the next kiln_kernel_add_stage. */
kiln_stage *kiln_kernel_add_stage(kiln_kernel *k, const char *name, int out_buf);
int kiln_stage_axis(kiln_stage *s, int64_t extent, bool reduce); /* returns the axis id */
/* Sets out[idx] = value; idx has one entry per dim of the output buffer. */
void kiln_stage_store(kiln_kernel *k, kiln_stage *s, kiln_expr *const *idx, kiln_expr *value);

/* Expression constructors (allocated in k's arena). Binary ops want equal operand types;
 * kx_binary inserts no casts. */
kiln_expr *kx_const_f(kiln_kernel *k, kiln_dtype t, double v);
kiln_expr *kx_const_i(kiln_kernel *k, kiln_dtype t, int64_t v);
kiln_expr *kx_idx(kiln_kernel *k, int64_t v); /* an i64 constant */
kiln_expr *kx_var(kiln_kernel *k, int axis);
kiln_expr *kx_load(kiln_kernel *k, int buf, kiln_expr *const *idx); /* rank of buf indices */
kiln_expr *kx_unary(kiln_kernel *k, kiln_unary_op op, kiln_expr *a);
kiln_expr *kx_binary(kiln_kernel *k, kiln_binary_op op, kiln_expr *a, kiln_expr *b);
kiln_expr *kx_binary_exact(kiln_kernel *k, kiln_binary_op op, kiln_expr *a, kiln_expr *b);
kiln_expr *kx_select(kiln_kernel *k, kiln_expr *cond, kiln_expr *a, kiln_expr *b);
kiln_expr *kx_cast(kiln_kernel *k, kiln_expr *a, kiln_dtype t);
enum { KX_CAST_BITS = 1, KX_CAST_NOSAT = 2 }; /* KX_CAST's op */
/* ONNX Cast with saturate = 0: differs from kx_cast for 8-bit float targets only. */
kiln_expr *kx_cast_nosat(kiln_kernel *k, kiln_expr *a, kiln_dtype t);
/* A call of f (KX_CALL) on a and b (NULL where f takes fewer), with its int and text
 * arguments; the heap buffer is added to k when f takes it. */
kiln_expr *kx_call(kiln_kernel *k, kiln_rt_fn f, kiln_expr *a, kiln_expr *b, int64_t i,
                   const char *what);
/* What a backend needs of f (ir/kernel_call.c): C's arguments are the heap (when it takes
 * it), a and b (those given), the text (when given), then i (when it takes it). */
typedef struct kiln_rt_fn_def {
  const char *name;  /* its C name in rt/strings.h */
  uintptr_t addr;    /* where it is in this process, for the JIT */
  kiln_dtype result;
  bool heap;         /* it takes the run's heap first: it makes strings, or may fail */
  bool int_arg;      /* it takes i last */
} kiln_rt_fn_def;
/* f's entry, or NULL for no such f. */
const kiln_rt_fn_def *kiln_rt_fn_def_of(kiln_rt_fn f);
/* The kernel's string heap buffer (an input of 2 i64s at KILN_STORE_STRINGS), added once. */
int kiln_kernel_strings_buf(kiln_kernel *k);
/* a's bits as t, of a's width (a float's order key: ir/ops/topk.c). */
kiln_expr *kx_bitcast(kiln_kernel *k, kiln_expr *a, kiln_dtype t);
kiln_expr *kx_acc(kiln_kernel *k, kiln_dtype t);
/* A data-dependent index `raw` checked against a dim of size n (KX_CHECK); with
 * from_end, -n..-1 count from the end. `what` is copied. */
kiln_expr *kx_check_index(kiln_kernel *k, kiln_expr *raw, int64_t n, bool from_end,
                          const char *what);

/* ---- buffer layout (ir/kernel_layout.c) ---- */
/* Element strides of each dim of b's view; false when its view does not split at b's row
 * (an element's place then needs kiln_buffer_place's division). Dense: row-major. */
bool kiln_buffer_strides(const kiln_buffer *b, int64_t *strides);
/* Where element e of b's view lives, in elements from its storage. */
int64_t kiln_buffer_place(const kiln_buffer *b, int64_t e);
/* Elements from b's storage to one past its last element (its numel when dense). */
int64_t kiln_buffer_span(const kiln_buffer *b);
/* Copies b's elements between its storage at base and a dense array. */
void kiln_buffer_gather(const kiln_buffer *b, const void *base, void *dense);
void kiln_buffer_scatter(const kiln_buffer *b, void *base, const void *dense);

/* ---- run-time dims (ir/kernel_dyn.c) ---- */
/* Declares run-time dim `name` with a typical value hint >= 1; its number, or -1 when the
 * kernel has KILN_MAX_SYMS already. The first one adds the dims buffer. */
int kiln_kernel_sym(kiln_kernel *k, const char *name, int64_t hint);
kiln_expr *kx_dim(kiln_kernel *k, int sym);
/* A dim expression: an i64 tree of integer constants, KX_DIM of a declared sym, and
 * + - * / % min max over them (what extents and buffer dims may be). */
bool kiln_dim_expr_ok(const kiln_kernel *k, const kiln_expr *x);
/* Two dim expressions alike (NULL only equals NULL). */
bool kiln_dim_expr_equal(const kiln_expr *a, const kiln_expr *b);
/* Dim expression x of another kernel, declaring the same syms, rebuilt in k (NULL: NULL). */
kiln_expr *kiln_dim_expr_copy(kiln_kernel *k, const kiln_expr *x);
/* x's value for the syms' values dims (integer division by 0 is 0, as the interpreter). */
int64_t kiln_dim_eval(const kiln_expr *x, const int64_t *dims);
/* A symbolic axis of extent dim (a dim expression), hint its value at the syms' hints. */
int kiln_stage_axis_dyn(kiln_kernel *k, kiln_stage *s, kiln_expr *dim, bool reduce);
/* Makes dim d of buffer b the dim expression dim; dims[d] becomes its hint. */
void kiln_buffer_dyn_dim(kiln_kernel *k, int b, int d, kiln_expr *dim);
bool kiln_buffer_is_dyn(const kiln_buffer *b);
/* Every dyn extent and dim a dim expression, every symbolic axis's hint >= 1: what codegen
 * and the interpreter accept; the error names the kernel and the stage or buffer. */
kiln_status kiln_kernel_check_dyn(const kiln_kernel *k, kiln_error *err);
/* Does loop l of sc (a schedule of s) run a run-time number of times: the outermost loop of
 * a symbolic axis? Such a loop may be serial or parallel, not unrolled, vector or GPU
 * threads (kiln_schedule_check). */
bool kiln_loop_is_dyn(const kiln_stage *s, const kiln_schedule *sc, int l);

/* Shorthands for index arithmetic on i64 expressions (fold constants). */
kiln_expr *kx_add(kiln_kernel *k, kiln_expr *a, kiln_expr *b);
kiln_expr *kx_mul(kiln_kernel *k, kiln_expr *a, kiln_expr *b);
kiln_expr *kx_addi(kiln_kernel *k, kiln_expr *a, int64_t b);
kiln_expr *kx_muli(kiln_kernel *k, kiln_expr *a, int64_t b);
/* 0 <= a < n, as a bool expression. */
kiln_expr *kx_in_range(kiln_kernel *k, kiln_expr *a, int64_t n);
/* a (i64) clamped into [0, n): an index computed from data that no value can send astray */
kiln_expr *kx_clamp_index(kiln_kernel *k, kiln_expr *a, int64_t n);
kiln_expr *kx_and(kiln_kernel *k, kiln_expr *a, kiln_expr *b); /* NULL-tolerant */

/* True when evaluating x cannot fault (no loads, checks or integer division, and not too
 * deep to tell): an emitter may then evaluate both sides of a select. */
bool kx_cannot_fault(const kiln_expr *x);
/* Does e mention axis a (in a load's indices too)? */
bool kx_uses_axis(const kiln_expr *e, int a);
/* Does e load (anywhere in it)? */
bool kx_has_load(const kiln_expr *e);
/* Does e load at an index loaded from another buffer (a gather's table)? */
bool kx_gathers(const kiln_expr *e);

/* The identity of a reduction for dtype t (0, 1, lowest, highest). */
kiln_expr *kx_reduce_identity(kiln_kernel *k, kiln_reduce_op op, kiln_dtype t);

/* The simple schedule every stage starts with: one serial loop per axis in axis order. */
void kiln_schedule_default(kiln_stage *s);
/* Checks that the loops cover every axis exactly (mixed radix) and kinds are legal. */
kiln_status kiln_schedule_check(const kiln_stage *s, kiln_error *err);
/* Splits loop `loop` into an outer and an inner loop of extent `factor`. */
void kiln_schedule_split(kiln_schedule *sc, int loop, int64_t factor);

/* Human-readable dump of a kernel (stages, expressions, schedules). */
void kiln_kernel_print(const kiln_kernel *k, FILE *out);
/* A schedule's loops, outermost first: "a0:64(parallel) a1*16:49 a1:16(vector)" (axis,
 * stride when not 1, extent, kind when not serial, "[share b1,b2]" for staged buffers). */
void kiln_schedule_print(const kiln_schedule *sc, FILE *out);

#endif
