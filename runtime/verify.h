/* Differential verification (`kiln verify`): a model compiled as kiln_compile would, checked
 * kernel by kernel against kiln's reference interpreter (ir/interp.h), and against the
 * interpreter on the unoptimized program (passes/passes.h: kiln_passes_reference).
 *
 * The model's program is run step by step by the interpreter on the given inputs. Before
 * each kernel, its generated code is compiled alone (runtime/kernel_run.h) and run on the
 * interpreter's inputs of that kernel, so an error is charged to the kernel that makes it
 * and not to the ones it reaches. Three checks, in execution order, the first failure
 * ending the run:
 *   code     the kernel's code against the interpreter on the same kernel IR: a schedule
 *            or code generation bug (bounds per op: runtime/verify_compare.c);
 *   rewrite  each value the kernel writes against the same value (by name; a blocked twin
 *            "x.blocked" against "x") in the unoptimized program: a graph rewrite (fold-bn,
 *            layout, panels, fusion) that changed what is computed;
 *   model    at the end, the whole compiled model's outputs against the unoptimized
 *            program's: what no kernel alone shows (memory plan, steps).
 * Internal to kiln and its tools; the library prints nothing. */
#ifndef KILN_RUNTIME_VERIFY_H
#define KILN_RUNTIME_VERIFY_H

#include "kiln.h"

#include "ir/program.h"

typedef enum kiln_verify_check {
  KILN_VERIFY_NONE,    /* everything agreed */
  KILN_VERIFY_CODE,
  KILN_VERIFY_REWRITE,
  KILN_VERIFY_MODEL
} kiln_verify_check;

/* A disagreement: one buffer of one kernel (or, for MODEL, one model output). */
typedef struct kiln_verify_diverged {
  kiln_verify_check check;
  int kernel_index;           /* in execution order (kiln_steps_kernels); -1 for MODEL */
  char *kernel, *op, *nodes;  /* its name, ops ("ConvBlocked+Add+Relu") and graph nodes */
  char *buffer;               /* the buffer (value) that differs */
  char *reference;            /* what it was compared with: the same buffer run by the
                                 interpreter (code), or a value of the unoptimized program */
  char *text;                 /* the kernel as `kiln dump --kernels` prints it: buffers,
                                 stages, loops and recipes; NULL for MODEL */
  int rank;
  int64_t index[KILN_MAX_RANK]; /* the worst element, in the buffer's dims */
  int64_t flat;                 /* ... as a row-major offset */
  double got, want, error, tolerance; /* at the worst element */
  int64_t bad, total;         /* elements out of tolerance, elements compared */
} kiln_verify_diverged;

typedef struct kiln_verify_report {
  int nkernels;        /* kernels of the program (both branches of an If) */
  int checked;         /* kernels whose code was compared (run before the first failure) */
  int values_matched;  /* kernel outputs compared with the unoptimized program */
  int outputs_checked; /* model outputs compared (0 when a kernel failed first) */
  double max_code_error, max_rewrite_error; /* largest error / tolerance seen, of elements
                                               within tolerance and out of it */
  kiln_verify_diverged first; /* check == KILN_VERIFY_NONE when all agreed */
} kiln_verify_report;

typedef struct kiln_verify kiln_verify;

/* Test-only (tests/unit_verify.c): called around the compile of each kernel's code alone,
 * before (so it may change what is compiled, e.g. a loop dropping its tail, as a
 * miscompiled schedule would) and after (to restore the kernel, which the interpreter then
 * runs as it was). Never set by kiln itself or reachable through include/kiln.h. */
typedef void (*kiln_verify_compile_hook)(void *ctx, kiln_kernel *k, bool before);

/* Imports the model at path and builds its program with opts, as kiln_compile_file does,
 * and the unoptimized reference program. */
kiln_status kiln_verify_new(const char *path, const kiln_options *opts, kiln_verify **out,
                            kiln_error *err);
/* The program verified: its kernels, constants, schedules. Tests edit it between
 * kiln_verify_new and kiln_verify_run to inject a fault. */
kiln_program *kiln_verify_program(kiln_verify *v);
void kiln_verify_set_compile_hook(kiln_verify *v, kiln_verify_compile_hook hook, void *ctx);
/* Runs the checks on inputs (one buffer per input of the program, in its order, of
 * p->inputs[i].bytes). A disagreement is no error: it is in rep->first. Errors are what
 * stops a check from running: a kernel that does not compile, an input index out of
 * range (KILN_ERR_INVALID_INPUT), memory. */
kiln_status kiln_verify_run(kiln_verify *v, const void *const *inputs, kiln_verify_report *rep,
                            kiln_error *err);
void kiln_verify_report_free(kiln_verify_report *rep);
void kiln_verify_free(kiln_verify *v);

#endif
