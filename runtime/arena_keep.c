/* The scratch arena a model keeps between runs. A run needs an arena that no concurrent run
 * of the same model touches; allocating it afresh each time costs a page fault per 4 KiB
 * of it whenever the allocator maps large blocks anew (glibc does above 32 MiB, and after
 * trimming its heap), which for a detection model's tens of megabytes is milliseconds a
 * run. So a run takes the arena the previous one gave back, when it is free and large
 * enough, and a second run at the same time allocates its own. */
#include "runtime/arena_keep.h"

#include <stdlib.h>

void kiln_arena_keep_init(kiln_arena_keep *k) {
  pthread_mutex_init(&k->mu, NULL);
  k->mem = NULL;
  k->bytes = 0;
}

void kiln_arena_keep_free(kiln_arena_keep *k) {
  free(k->mem);
  k->mem = NULL;
  pthread_mutex_destroy(&k->mu);
}

void *kiln_arena_take(kiln_arena_keep *k, int64_t bytes, int64_t *size) {
  pthread_mutex_lock(&k->mu);
  void *mem = k->mem;
  int64_t have = k->bytes;
  k->mem = NULL;
  k->bytes = 0;
  pthread_mutex_unlock(&k->mu);
  if (mem && have >= bytes) {
    *size = have;
    return mem;
  }
  free(mem); /* too small for this shape: a larger one replaces it */
  *size = bytes;
  /* aligned_alloc wants a multiple of the alignment */
  return aligned_alloc(64, ((size_t)bytes + 63) & ~(size_t)63);
}

void kiln_arena_give(kiln_arena_keep *k, void *mem, int64_t bytes) {
  pthread_mutex_lock(&k->mu);
  if (!k->mem || k->bytes < bytes) {
    void *old = k->mem;
    k->mem = mem;
    k->bytes = bytes;
    mem = old;
  }
  pthread_mutex_unlock(&k->mu);
  free(mem);
}
