/* Greedy best-fit placement of allocations whose lives (step ranges) are known, 64-byte
 * aligned: allocations whose lives overlap get disjoint bytes (ir/arena_plan.c). */
#ifndef KILN_IR_ARENA_PLAN_H
#define KILN_IR_ARENA_PLAN_H

#include "ir/util.h"

typedef struct kiln_alloc {
  int64_t start, end; /* steps, inclusive */
  int64_t size, offset;
  bool used;
} kiln_alloc;

/* Sets every allocation's offset (all is reordered: by start, larger first) and raises
 * *high to the end of the highest. */
void kiln_arena_place(kiln_alloc **all, int n, int64_t *high);

#endif
