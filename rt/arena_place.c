/* Placing allocations with known lives in one arena (rt/arena_place.h): memory planning at
 * compile time (ir/arena_plan.c), and at run time for buffers whose sizes depend on free
 * dims, in libkiln (runtime/dyn_run.c) and in AOT libraries (rt/dyn_run.c). */
#include "rt/arena_place.h"

#include <stdlib.h>

#define ALIGN 64

static int64_t round_up(int64_t n) { return (n + ALIGN - 1) / ALIGN * ALIGN; }

/* Places a (by offset) clear of every placed allocation whose life overlaps. */
static void place_one(kiln_rt_alloc *a, kiln_rt_alloc **placed, int nplaced,
                      kiln_rt_alloc **live, int64_t *high) {
  if (a->size == 0) {
    a->offset = 0;
    return;
  }
  int n = 0;
  for (int i = 0; i < nplaced; i++)
    if (placed[i]->size && placed[i]->start <= a->end && a->start <= placed[i]->end)
      live[n++] = placed[i];
  for (int i = 1; i < n; i++) /* insertion sort by offset */
    for (int j = i; j > 0 && live[j]->offset < live[j - 1]->offset; j--) {
      kiln_rt_alloc *x = live[j];
      live[j] = live[j - 1];
      live[j - 1] = x;
    }
  int64_t need = round_up(a->size), best = -1, best_gap = INT64_MAX, cursor = 0;
  for (int i = 0; i <= n; i++) {
    int64_t limit = i < n ? live[i]->offset : INT64_MAX;
    int64_t gap = limit - cursor;
    if (gap >= need && (gap < best_gap || (i == n && best < 0))) {
      best = cursor;
      best_gap = gap;
    }
    if (i < n && live[i]->offset + round_up(live[i]->size) > cursor)
      cursor = live[i]->offset + round_up(live[i]->size);
  }
  a->offset = best;
  if (best + need > *high) *high = best + need;
}

static int by_start(const void *x, const void *y) {
  const kiln_rt_alloc *a = *(kiln_rt_alloc *const *)x, *b = *(kiln_rt_alloc *const *)y;
  if (a->start != b->start) return a->start < b->start ? -1 : 1;
  if (a->size != b->size) return a->size > b->size ? -1 : 1;
  return a < b ? -1 : a > b;
}

void kiln_rt_arena_place(kiln_rt_alloc **all, int n, kiln_rt_alloc **scratch, int64_t *high) {
  qsort(all, (size_t)n, sizeof *all, by_start);
  for (int i = 0; i < n; i++) place_one(all[i], all, i, scratch, high);
}
