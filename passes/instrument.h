/* Instrumentation of a planned program, after memory planning and scheduling: the check
 * record that checked kernels fill (rt/check_record.h) and the timing slots of a profiled
 * program (kiln_options.profile, for `kiln bench`). Both live at the end of the arena. */
#ifndef KILN_PASSES_INSTRUMENT_H
#define KILN_PASSES_INSTRUMENT_H

#include "ir/program.h"

/* Reserves the record at the end of p's arena and gives each kernel that has a KX_CHECK
 * (every kernel, when all is set: check_bounds) a buffer bound to it, and each loop step its
 * offset; all also sets kiln_kernel.check_all. Run after memory planning, before codegen. */
void kiln_check_instrument(kiln_program *p, bool all);
/* Sets every loop step's iteration limit (kiln_options.max_loop_iterations). */
void kiln_loop_limits(kiln_steps *steps, int64_t limit);
/* Arena offset of p's record, or -1 when p is not instrumented. */
int64_t kiln_check_record_offset(const kiln_program *p);
/* Reserves the timing slots at the end of p's arena (two i64 per kernel, in
 * kiln_steps_kernels order: codegen adds each call's nanoseconds to the first and counts
 * the calls in the second, which a run zeroes first) and sets p->profile. Run last, after
 * kiln_check_instrument. */
void kiln_profile_instrument(kiln_program *p);

#endif
