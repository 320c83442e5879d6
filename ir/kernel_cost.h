/* What a kernel costs in work and memory traffic, counted from its kernel IR (not from
 * its schedule): the numbers `kiln bench` divides by time, and the autotuner's roofline. */
#ifndef KILN_IR_KERNEL_COST_H
#define KILN_IR_KERNEL_COST_H

#include "ir/kernel.h"

typedef struct kiln_kernel_cost {
  double flops;         /* floating-point operations of one run of the kernel */
  double bytes_read;    /* sizes of the buffers it loads from */
  double bytes_written; /* sizes of the buffers its stages store into */
} kiln_kernel_cost;

/* The model (ir/kernel_cost.c says why):
 *  - a stage does, at every point of its iteration space (all axes, spatial and
 *    reduction), one operation per distinct unary or binary node of its value expression
 *    whose operands are floats (an FMA, a*b+c, is 2; exp, erf, tanh... count 1), plus one
 *    combine when it reduces into a float; its post expression's float operations count
 *    once per output point (spatial points). Index arithmetic, comparisons of indices,
 *    selects, casts, loads and integer ops are not floating-point work.
 *  - bytes: every buffer the kernel loads from counts its whole size once as read, every
 *    buffer a stage stores into its whole size once as written (compulsory traffic: what
 *    a kernel with perfect reuse moves; temporaries included). A buffer read only at
 *    indices loaded from another buffer (a Gather's table) counts at most the elements
 *    such a load reaches: its element size times the points of the axes its indices use. */
void kiln_kernel_cost_of(const kiln_kernel *k, kiln_kernel_cost *out);
/* The same with the kernel's syms (its free dims) at the values syms[] (the program's
 * syms, which every kernel with free dims declares in the same order): a run's work. */
void kiln_kernel_cost_at(const kiln_kernel *k, const int64_t *syms, kiln_kernel_cost *out);

/* Estimated nanoseconds one thread takes for stage s, from its expression alone: ops per
 * point times points (a transcendental call weighs as many ops as its polynomial), plus
 * the bytes its loads touch (each over the axes its indices use: reuse across the others
 * is from cache) and stores, at rates of a core of the development machines. Coarse by
 * design (within a few times of the truth): it decides whether a stage is worth the few
 * microseconds of splitting it over threads (passes/schedule.c). */
double kiln_stage_cost_ns(const kiln_stage *s);

/* flops / (bytes_read + bytes_written); 0 for a kernel that moves no bytes. */
double kiln_kernel_cost_intensity(const kiln_kernel_cost *c);

#endif
