/* Greedy best-fit placement of allocations whose lives (step ranges) are known, 64-byte
 * aligned: allocations whose lives overlap get disjoint bytes. The algorithm is
 * rt/arena_place.c's (AOT libraries with free dims run it too); this allocates its scratch. */
#ifndef KILN_IR_ARENA_PLAN_H
#define KILN_IR_ARENA_PLAN_H

#include "ir/util.h"
#include "rt/arena_place.h"

typedef kiln_rt_alloc kiln_alloc;

/* Sets every allocation's offset (all is reordered: by start, larger first) and raises
 * *high to the end of the highest. */
void kiln_arena_place(kiln_alloc **all, int n, int64_t *high);

#endif
