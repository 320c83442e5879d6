/* A reference interpreter for the kernel IR: runs a kernel's stages with plain nested
 * loops, ignoring the schedule. Constant folding uses it, and it is the reference that
 * generated code can be checked against. Slow by design; simple enough to trust. */
#ifndef KILN_IR_INTERP_H
#define KILN_IR_INTERP_H

#include "ir/kernel.h"

/* bufs[i] is the dense row-major data of k->bufs[i]; for TEMP buffers it may be NULL, and
 * the interpreter allocates (and frees) them itself. */
kiln_status kiln_interp_run(const kiln_kernel *k, void *const *bufs, kiln_error *err);

#endif
