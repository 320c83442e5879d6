/* The record checked kernels fill (rt/): the first violation of a run, at the end of that
 * run's arena, written by generated code (codegen/llvm_check.c) and read back by kiln_run
 * (runtime/check.c). Two kinds of checks, and loops:
 *  - always: an index read from data (KX_CHECK: Gather's indices...) outside its dim fails
 *    the run with KILN_ERR_INVALID_INPUT; the load it feeds uses index 0 instead.
 *  - debug (kiln_options.check_bounds): every load and store is tested against its
 *    buffer's element count; an access outside goes to a scratch cell instead and fails
 *    the run with KILN_ERR_INTERNAL.
 *  - a loop step reaching kiln_options.max_loop_iterations fails the run with
 *    KILN_ERR_INVALID_INPUT (a hostile trip count or condition never hangs a run).
 * The record lives in the per-run arena, not in global state, so concurrent runs report
 * their own violations. */
#ifndef KILN_RT_CHECK_RECORD_H
#define KILN_RT_CHECK_RECORD_H

#include <stdint.h>

/* The name of the buffer the check instrumentation (passes/instrument.h) adds to the kernels that need it (as last
 * buffer): its storage is the violation record. */
#define KILN_CHECK_BUFFER "kiln.check"
#define KILN_CHECK_RECORD_BYTES 64

/* Layout of the record; generated code writes it field by field (codegen/llvm_check.c). */
typedef enum kiln_check_kind {
  KILN_CHECK_LOAD, KILN_CHECK_STORE, /* check_bounds: `index` outside [0, size) of `buffer` */
  KILN_CHECK_INDEX,                  /* KX_CHECK: `index` outside [0, size) */
  KILN_CHECK_INDEX_FROM_END,         /* KX_CHECK: `index` outside [-size, size) */
  KILN_CHECK_INDEX_UNSIGNED,         /* KX_CHECK: `index` (a u64) outside [0, size) */
  KILN_CHECK_LOOP                    /* a loop step (ir/program.h) reached its iteration limit
                                        `index`; `kernel` names the node */
} kiln_check_kind;

typedef struct kiln_check_record {
  int32_t state;    /* 0: clean; 1: being written; 2: holds a violation */
  int32_t kind;     /* kiln_check_kind */
  const char *kernel, *stage, *buffer; /* strings in the compiled module's constants; for
                                          an index, `kernel` names the node and input */
  int64_t index, size;
} kiln_check_record;

#endif
