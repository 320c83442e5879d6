/* Checks in generated code, and the record they fill. Two kinds:
 *  - always: an index read from data (KX_CHECK: Gather's indices...) outside its dim fails
 *    the run with KILN_ERR_INVALID_INPUT; the load it feeds uses index 0 instead.
 *  - debug (kiln_options.check_bounds): every load and store is tested against its
 *    buffer's element count; an access outside goes to a scratch cell instead and fails
 *    the run with KILN_ERR_INTERNAL.
 * The first violation of a run is written to a record at the end of that run's arena,
 * which the entry function turns into its return status and kiln_run into a message. The
 * record lives in the per-run arena, not in global state, so concurrent runs report their
 * own violations. */
#ifndef KILN_RUNTIME_CHECK_H
#define KILN_RUNTIME_CHECK_H

#include "ir/program.h"

/* The name of the buffer kiln_check_instrument adds to the kernels that need it (as last
 * buffer): its storage is the violation record. */
#define KILN_CHECK_BUFFER "kiln.check"
#define KILN_CHECK_RECORD_BYTES 64

/* Layout of the record; generated code writes it field by field (codegen/llvm_check.c). */
typedef enum kiln_check_kind {
  KILN_CHECK_LOAD, KILN_CHECK_STORE, /* check_bounds: `index` outside [0, size) of `buffer` */
  KILN_CHECK_INDEX,                  /* KX_CHECK: `index` outside [0, size) */
  KILN_CHECK_INDEX_FROM_END,         /* KX_CHECK: `index` outside [-size, size) */
  KILN_CHECK_INDEX_UNSIGNED          /* KX_CHECK: `index` (a u64) outside [0, size) */
} kiln_check_kind;

typedef struct kiln_check_record {
  int32_t state;    /* 0: clean; 1: being written; 2: holds a violation */
  int32_t kind;     /* kiln_check_kind */
  const char *kernel, *stage, *buffer; /* strings in the compiled module's constants; for
                                          an index, `kernel` names the node and input */
  int64_t index, size;
} kiln_check_record;

/* Reserves the record at the end of p's arena and gives each kernel that has a KX_CHECK
 * (every kernel, when all is set: check_bounds) a buffer bound to it; all also sets
 * kiln_kernel.check_all. Run after memory planning, before codegen. */
void kiln_check_instrument(kiln_program *p, bool all);
/* Arena offset of p's record, or -1 when p is not instrumented. */
int64_t kiln_check_record_offset(const kiln_program *p);
/* After a run of p on arena: KILN_OK, or the run's first violation: KILN_ERR_INVALID_INPUT
 * naming the node, input, index and range, or KILN_ERR_INTERNAL naming the kernel, stage,
 * buffer and index of an out-of-bounds access. */
kiln_status kiln_check_result(const kiln_program *p, const uint8_t *arena, kiln_error *err);

#endif
