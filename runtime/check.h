/* Checked kernels (kiln_options.check_bounds): every load and store of generated code is
 * tested against its buffer's element count. An access outside is not performed (it goes
 * to a scratch cell instead) and the first one of a run is written to a violation record
 * at the end of that run's arena, which kiln_run reads after the run. The record lives in
 * the per-run arena, not in global state, so concurrent runs report their own violations. */
#ifndef KILN_RUNTIME_CHECK_H
#define KILN_RUNTIME_CHECK_H

#include "ir/program.h"

/* The name of the buffer kiln_check_instrument adds to every kernel: its storage is the
 * violation record. Codegen checks the accesses of kernels that have it (as last buffer). */
#define KILN_CHECK_BUFFER "kiln.check"
#define KILN_CHECK_RECORD_BYTES 64

/* Layout of the record; generated code writes it field by field (codegen/llvm_check.c). */
typedef struct kiln_check_record {
  int32_t state;    /* 0: clean; 1: being written; 2: holds a violation */
  int32_t is_store;
  const char *kernel, *stage, *buffer; /* strings in the compiled module's constants */
  int64_t index, size;
} kiln_check_record;

/* Reserves the record at the end of p's arena and gives every kernel (If branches
 * included) a buffer bound to it. Run after memory planning, before codegen. */
void kiln_check_instrument(kiln_program *p);
/* Arena offset of p's record, or -1 when p is not instrumented. */
int64_t kiln_check_record_offset(const kiln_program *p);
/* After a run of p on arena: KILN_OK, or KILN_ERR_INTERNAL naming the kernel, stage,
 * buffer and index of the run's first out-of-bounds access. */
kiln_status kiln_check_result(const kiln_program *p, const uint8_t *arena, kiln_error *err);

#endif
