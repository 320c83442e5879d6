/* Loops compiled once (ir/ops/loop.c), which the Loop op (ir/ops/control.c) becomes unless
 * it is unrolled. */
#ifndef KILN_IR_OPS_LOOP_H
#define KILN_IR_OPS_LOOP_H

#include "ir/op.h"

/* Does Loop n's body (NULL: missing) take the iteration, the condition and the carried
 * values, and yield the condition and n's outputs, n reading the carried values (and, after
 * `done` unrolled iterations, each of their scan outputs)? Else an error naming n. */
kiln_status kiln_loop_check(const kiln_node *n, const kiln_block *body, int64_t done,
                            kiln_error *err);
/* Does Loop n (ncarried carried values, its body body) compute constants only, in few
 * enough iterations to unroll? Then it is unrolled, and folding computes it. */
bool kiln_loop_folds(const kiln_graph *g, const kiln_node *n, const kiln_block *body,
                     int ncarried);
/* Turns the Loop at position pos of b into a CompiledLoop (its body a copy, parameters
 * typed), to be inferred next. */
kiln_status kiln_loop_compile(kiln_graph *g, kiln_block *b, int pos);

#endif
