/* Turning a run's check record (rt/check_record.h) into an error message. */
#ifndef KILN_RUNTIME_CHECK_H
#define KILN_RUNTIME_CHECK_H

#include "ir/program.h"
#include "passes/instrument.h"
#include "rt/check_record.h"

/* After a run of p on arena: KILN_OK, or the run's first violation: KILN_ERR_INVALID_INPUT
 * naming the node, input, index and range, or KILN_ERR_INTERNAL naming the kernel, stage,
 * buffer and index of an out-of-bounds access. */
kiln_status kiln_check_result(const kiln_program *p, const uint8_t *arena, kiln_error *err);
/* The same for a record at byte `offset` of arena (-1: none). */
kiln_status kiln_check_result_at(int64_t offset, const uint8_t *arena, kiln_error *err);
/* The error of a loop step `what` that reached its iteration limit (KILN_CHECK_LOOP). */
kiln_status kiln_check_loop_limit(const char *what, int64_t limit, kiln_error *err);

#endif
