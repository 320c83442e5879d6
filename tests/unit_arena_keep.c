/* The arena a model keeps between runs (runtime/arena_keep.c): a run given back is taken
 * again by the next run that fits in it; a larger run gets a larger arena, which is then
 * kept; a run while another holds the kept arena gets its own; every arena is 64-byte
 * aligned and as large as asked (ASan checks the writes). Runs of models at several
 * shapes and from many threads (dyn_ops, unit_concurrency) check the results. */
#include "runtime/arena_keep.h"
#include "tests/check.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int64_t size; /* of the last arena taken */

static void *take(kiln_arena_keep *k, int64_t bytes) {
  void *p = kiln_arena_take(k, bytes, &size);
  CHECK(p && (uintptr_t)p % 64 == 0 && size >= bytes);
  if (p) memset(p, 0xab, (size_t)bytes);
  return p;
}

int main(void) {
  kiln_arena_keep k;
  kiln_arena_keep_init(&k);
  void *a = take(&k, 1000);
  kiln_arena_give(&k, a, 1000);
  CHECK(take(&k, 1000) == a);         /* the same one again */
  void *b = take(&k, 10);             /* another run meanwhile: its own */
  CHECK(b && b != a);
  kiln_arena_give(&k, a, 1000);
  kiln_arena_give(&k, b, 10);         /* smaller than the kept one: freed */
  CHECK(take(&k, 500) == a);          /* a smaller run fits in the kept one... */
  CHECK(size == 1000);
  kiln_arena_give(&k, a, size);
  CHECK(take(&k, 800) == a);          /* ...and gives it back as large as it was */
  kiln_arena_give(&k, a, size);
  void *c = take(&k, 1 << 20);        /* a larger run: a larger arena... */
  kiln_arena_give(&k, c, 1 << 20);
  CHECK(take(&k, 1000) == c);         /* ...which is kept */
  kiln_arena_give(&k, c, 1 << 20);
  kiln_arena_keep_free(&k);           /* frees the kept one (ASan: no leak) */
  return check_report();
}
