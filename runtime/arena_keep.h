/* The scratch arena a model keeps between runs (runtime/arena_keep.c). */
#ifndef KILN_RUNTIME_ARENA_KEEP_H
#define KILN_RUNTIME_ARENA_KEEP_H

#include <pthread.h>
#include <stdint.h>

typedef struct kiln_arena_keep {
  pthread_mutex_t mu;
  void *mem;     /* the arena the last run gave back, or NULL */
  int64_t bytes; /* its size */
} kiln_arena_keep;

void kiln_arena_keep_init(kiln_arena_keep *k);
void kiln_arena_keep_free(kiln_arena_keep *k);
/* An arena of at least `bytes` (> 0), 64-byte aligned: the kept one when it is large enough
 * and no other run holds it, else a new one; NULL when out of memory. *size: its size,
 * what to give back (a smaller run in a kept arena leaves it as large as it was). */
void *kiln_arena_take(kiln_arena_keep *k, int64_t bytes, int64_t *size);
/* Gives an arena of `bytes` from kiln_arena_take back: kept for the next run (a smaller
 * kept one is freed), or freed when one as large is kept already. */
void kiln_arena_give(kiln_arena_keep *k, void *mem, int64_t bytes);

#endif
