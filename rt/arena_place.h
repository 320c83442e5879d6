/* Greedy best-fit placement of allocations whose lives (step ranges) are known, 64-byte
 * aligned: allocations whose lives overlap get disjoint bytes (rt/arena_place.c). In rt/ so
 * that the compiler's memory plan and the run-time plan of an AOT library with free dims
 * (rt/dyn_run.c) are one algorithm. */
#ifndef KILN_RT_ARENA_PLACE_H
#define KILN_RT_ARENA_PLACE_H

#include <stdbool.h>
#include <stdint.h>

typedef struct kiln_rt_alloc {
  int64_t start, end; /* steps, inclusive */
  int64_t size, offset;
  bool used;
} kiln_rt_alloc;

/* Sets every allocation's offset (all is reordered: by start, larger first) and raises
 * *high to the end of the highest; scratch holds n pointers (it allocates nothing). */
void kiln_rt_arena_place(kiln_rt_alloc **all, int n, kiln_rt_alloc **scratch, int64_t *high);

#endif
