/* Placing allocations with known lives in one arena (ir/arena_plan.h) with scratch from
 * kiln_xmalloc: the compile-time memory plan and the JIT's run-time plan. */
#include "ir/arena_plan.h"

#include <stdlib.h>

void kiln_arena_place(kiln_alloc **all, int n, int64_t *high) {
  kiln_alloc **scratch = kiln_xmalloc(sizeof *scratch * (size_t)(n ? n : 1));
  kiln_rt_arena_place(all, n, scratch, high);
  free(scratch);
}
