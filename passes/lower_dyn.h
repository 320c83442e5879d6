/* What symbolic lowering (passes/lower_dyn.c) and its probes below the points
 * (passes/lower_probe.c) share: the numbers of a node's kernel that follow the free dims. */
#ifndef KILN_PASSES_LOWER_DYN_H
#define KILN_PASSES_LOWER_DYN_H

#include "ir/graph.h"
#include "ir/kernel.h"

/* A number of the kernel lowered at point 0 that changes between points: the dim
 * expression x it is at every point. */
typedef struct dyn_num {
  int buf, dim;       /* a buffer dim, or with buf -1 */
  int stage, axis;    /* a stage's axis, or with stage -1 */
  kiln_expr *e;       /* an i64 constant in an expression (a window's bound H) */
  kiln_symdim x;
  kiln_expr *chk;     /* or a checked index's bound (a Gather along a free dim) */
  int fkind;          /* e a float constant: 1 x as a float, 2 x / y in f64 (a scale) */
  kiln_symdim y;
} dyn_num;

typedef struct dyn_nums {
  dyn_num *v;
  int n, cap;
} dyn_nums;

/* Lowers n again at each size below the points of each sym a division reads (the others at
 * their hints) and compares the kernel with k0, lowered at point 0, whose numbers nums
 * follow the dims: sizes from the first where they differ down are refused at run time
 * (kiln_graph.sym_lo, by kiln_sym_probe). */
void kiln_lower_probe(kiln_graph *g, const kiln_node *n, const kiln_kernel *k0,
                      const dyn_nums *nums);

#endif
