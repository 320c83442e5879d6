/* A compiled program: what the passes hand to a code generator. Kernels in execution
 * order (with If blocks and loops), the constants they read, and the arena all
 * intermediates share.
 * Every kernel buffer's `storage` says where it lives. */
#ifndef KILN_IR_PROGRAM_H
#define KILN_IR_PROGRAM_H

#include "ir/choice.h"
#include "ir/kernel.h"

typedef struct kiln_steps kiln_steps;

typedef enum kiln_step_kind { KILN_STEP_KERNEL, KILN_STEP_IF, KILN_STEP_LOOP } kiln_step_kind;

/* When a loop step copies bytes (ONNX Loop semantics, passes/lower.c):
 *   ENTER  before the first iteration: initial carried values into the body's parameters;
 *   SCAN   after each iteration: a body output into row `iteration` of a stacked output;
 *   NEXT   after each iteration (after SCAN): carried results into the parameters;
 *   EXIT   after the last: the parameters into the final carried outputs. */
typedef enum kiln_move_when { KILN_MOVE_ENTER, KILN_MOVE_SCAN, KILN_MOVE_NEXT, KILN_MOVE_EXIT } kiln_move_when;

typedef struct kiln_move {
  kiln_move_when when;
  kiln_storage src, dst; /* value ids in `index` until memory planning */
  int64_t bytes;
  /* NEXT: src is another carried parameter, which an earlier move may overwrite: every
   * staged move first copies its src to the step's staging area at stage_offset */
  bool staged;
  int64_t stage_offset;
} kiln_move;

/* A loop (KILN_STEP_LOOP): the body's steps run while the iteration i < trip (when there
 * is a trip count) and the condition holds; the body reads i and the condition through
 * its parameters, which the step writes before each iteration. */
typedef struct kiln_loop_step {
  kiln_storage trip;     /* i64 scalar; KILN_STORE_NONE: no trip count */
  kiln_storage cond0;    /* bool scalar, the initial condition; NONE: true */
  kiln_storage iter;     /* the body's i64 iteration parameter */
  kiln_storage cond;     /* the body's bool condition parameter */
  kiln_storage cond_out; /* the condition the body computes for the next iteration */
  int count;             /* the data sym (graph.h) the iterations run are stored into, in
                            the run's dims, after the loop (its scan outputs' length); -1 */
  kiln_steps *body;
  int nmoves;
  kiln_move *moves;
  kiln_storage stage;    /* arena bytes the staged moves pass through */
  int64_t stage_bytes;
  char *what;            /* "node 'name' (Loop)", for the error at the iteration limit */
  int64_t limit;         /* iterations the run may reach (kiln_options.max_loop_iterations):
                            reaching it fails the run through the check record */
  int64_t check_offset;  /* the record's arena offset (passes/instrument.c) */
} kiln_loop_step;

typedef struct kiln_step {
  kiln_step_kind kind;
  kiln_kernel *kernel;       /* KERNEL */
  kiln_storage cond;         /* IF: a bool scalar */
  kiln_steps *then_steps;    /* IF */
  kiln_steps *else_steps;    /* IF */
  kiln_loop_step *loop;           /* LOOP (owned) */
} kiln_step;

struct kiln_steps {
  int n, cap;
  kiln_step *steps;
};

typedef struct kiln_const {
  kiln_dtype dtype;
  int64_t bytes;
  void *data;     /* owned, 64-byte aligned */
} kiln_const;

typedef struct kiln_io {
  char *name;
  kiln_dtype dtype;
  int rank;
  int64_t dims[KILN_MAX_RANK];
  int64_t bytes;
  kiln_symdim *sdims;  /* with free dims: one polynomial per dim (owned), dims[d] -1 where it
                          is not constant; NULL: static */
} kiln_io;

/* A buffer whose size depends on free dims, placed at run time (KILN_STORE_DYN): its size
 * is buf's (a buffer of some kernel of the program) and it lives during steps start..end. */
typedef struct kiln_dyn_slot {
  const kiln_buffer *buf;
  int64_t start, end;
} kiln_dyn_slot;

#define KILN_MAX_PASSES 32

/* How long compiling a program took, for reports (runtime/report.h), filled in as the work
 * is done: the pipeline's passes, then code generation. Codegen takes the program const,
 * so the program holds these through a pointer. */
typedef struct kiln_compile_times {
  int npasses;
  double pass_ms[KILN_MAX_PASSES]; /* pass i of the pipeline (kiln_pass_name(i)) */
  int nkernels;
  double *emit_ms;    /* per kernel (kiln_steps_kernels order): building its LLVM IR; ~0 for
                         a kernel whose code an identical earlier kernel's function serves */
  double optimize_ms; /* LLVM's optimization of the whole module (all kernels together) */
  double machine_ms;  /* machine code: JIT compilation, or an object file and its link */
} kiln_compile_times;

typedef struct kiln_program {
  kiln_steps main;
  int nconsts;
  kiln_const *consts;
  int64_t arena_bytes;   /* 64-byte aligned size of the shared scratch arena */
  int ninputs, noutputs;
  kiln_io *inputs, *outputs;
  bool profile;           /* kernels are timed (runtime/profile.h): codegen adds each kernel
                             call's nanoseconds, and counts its calls, in the arena at
                             profile_offset, two i64 per kernel in kiln_steps_kernels order */
  int64_t profile_offset;
  char *tuning;           /* what the tune pass applied from kiln_options.tuning_log (text,
                             passes/tune.h), recorded in AOT libraries; NULL = no log */
  kiln_choices choices;   /* the graph passes' choice points (ir/choice.h), for the tuner */
  kiln_compile_times *times; /* set by the pipeline (kiln_passes_until); may be NULL */
  /* Free dims (kiln_options.symbolic_dims); nsyms 0: every dim is static. A run writes the
   * syms' values (i64) at dims_offset in the arena and the ndyn slots' offsets after them;
   * the slots lie past arena_bytes, placed for each distinct shape (runtime/dyn_plan.c). */
  int nsyms;
  char *sym_names[KILN_MAX_SYMS];
  int64_t sym_hint[KILN_MAX_SYMS];
  kiln_symdiv sym_def[KILN_MAX_SYMS]; /* derived syms (ir/symdim.h), computed by each run */
  int64_t sym_min[KILN_MAX_SYMS]; /* the least value a free dim may take at run time */
  int64_t sym_max[KILN_MAX_SYMS]; /* the most, 0: up to the run's limit on dims */
  int64_t sym_step[KILN_MAX_SYMS]; /* a multiple of which it must be, 0: any (graph.h) */
  int64_t dims_offset;
  /* String tensors (rt/strings.h): the run's string heap, a kiln_rt_strings at
   * strings_offset in the arena, which each run starts empty and frees at its end */
  bool strings;
  int64_t strings_offset;
  int ndyn;
  kiln_dyn_slot *dyn;
  /* Shape buckets of an AOT library (kiln_options.buckets): one static program each (owned),
   * which the library runs when the input shapes match its inputs' exactly. */
  int nbuckets;
  struct kiln_program **buckets;
} kiln_program;

/* The start of the text an AOT object or library carries as `<name>_tuning` (codegen/
 * aot.c): kiln_program.tuning, or "no tuning log". */
#define KILN_TUNING_MARK "kiln-tuning-v1\n"
/* The start of an AOT library's `<name>_manifest` (codegen/aot_manifest.c): then JSON. */
#define KILN_MANIFEST_MARK "kiln-manifest-v1\n"

/* Free dim d of io as the index of the sym it is, or -1 (a static dim or an expression). */
int kiln_io_sym(const kiln_io *io, int d);
kiln_program *kiln_program_new(void);
void kiln_program_free(kiln_program *p);
kiln_steps *kiln_steps_new(void);
void kiln_steps_free(kiln_steps *s);
kiln_step *kiln_steps_add(kiln_steps *s, kiln_step_kind kind);
/* The step lists nested in st (an If's then- and else-steps, a loop's body) into out[0..2);
 * returns how many (0 for a kernel). */
int kiln_step_lists(const kiln_step *st, kiln_steps *out[2]);
/* The kernels of steps in execution order, an If's then-steps before its else-steps (the
 * order codegen emits them); fills out[0..max) and returns how many there are. */
int kiln_steps_kernels(const kiln_steps *s, const kiln_kernel **out, int max);
/* The same list, newly allocated (a NULL after the last), and its length in *n. */
const kiln_kernel **kiln_steps_kernel_list(const kiln_steps *s, int *n);

#endif
