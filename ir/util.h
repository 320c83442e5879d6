/* Small helpers every stage uses: error reporting, checked allocation, a bump arena. */
#ifndef KILN_IR_UTIL_H
#define KILN_IR_UTIL_H

#include "kiln.h"
#include <setjmp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Fills err (if not NULL) with code and a printf-style message; returns code, so a
 * failing path reads `return kiln_fail(err, KILN_ERR_SHAPE, "node '%s': ...", n);`.
 * A message already set is kept: the first, innermost error is the one reported. */
kiln_status kiln_fail(kiln_error *err, kiln_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Allocation that never returns NULL: on failure it jumps back to the innermost recovery
 * point of this thread (kiln_out_of_memory), else the process aborts (printing nothing).
 * Used for compiler-internal bookkeeping only; sizes from model files are checked against
 * kiln's limits before anything of that size is allocated. */
void *kiln_xmalloc(size_t n);
void *kiln_xcalloc(size_t count, size_t size);
void *kiln_xrealloc(void *p, size_t n);
char *kiln_xstrdup(const char *s);
char *kiln_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2))); /* malloc'd */
/* The folder part of a path: "." when it has none, "/" for a file at the root; malloc'd. */
char *kiln_dir_of(const char *path);
/* The bytes of the well-formed UTF-8 character s starts with (1 to 4), or 0 when s does
 * not start one (a stray byte, an overlong form, a surrogate): writers of text formats that
 * must be UTF-8 (JSON, XML) put U+FFFD for such a byte of a name read from a model. */
int kiln_utf8_len(const char *s);
/* The median of v[0..n), n >= 1; sorts v in place (so v[0] is then the minimum). */
double kiln_median(double *v, int n);

/* Out of memory inside a public call: the public entry points (runtime/api.c) push a
 * recovery point and setjmp on it; an allocation failing below them longjmps there, and
 * the call returns KILN_ERR_OUT_OF_MEMORY. What the call had allocated is not freed (the
 * frames between are skipped), so code between a push and its pop takes no lock and
 * leaves nothing another call depends on half-done; what must not stay (a half-written
 * file) is pushed as an undo point, run on the way out. Per thread: a failure on a thread
 * with no recovery point aborts. */
typedef struct kiln_recovery {
  jmp_buf env;             /* where to return to, when undo is NULL */
  void (*undo)(void *arg); /* else what to undo (allocating nothing) before going on */
  void *arg;
  struct kiln_recovery *prev;
} kiln_recovery;
void kiln_recovery_push(kiln_recovery *r);
void kiln_recovery_pop(kiln_recovery *r); /* r must be the innermost */
/* Pops recovery points, running their undos, up to the first jump point and longjmps to
 * it (aborts when there is none); n, the size that failed, is then kiln_recovery_bytes(). */
_Noreturn void kiln_out_of_memory(size_t n);
size_t kiln_recovery_bytes(void);
/* Test hook (fault injection): the n-th kiln_x* allocation from now on, on this thread,
 * fails; 0 = none. Returns how many allocations the previous setting had left to go. */
long kiln_alloc_countdown(long n);

/* Grows a dynamic array `arr` with count `n` and capacity `cap` to hold one more. */
#define KILN_GROW(arr, n, cap)                                                       \
  do {                                                                               \
    if ((n) >= (cap)) {                                                              \
      (cap) = (cap) ? 2 * (cap) : 8;                                                 \
      (arr) = kiln_xrealloc((arr), (size_t)(cap) * sizeof(*(arr)));                  \
    }                                                                                \
  } while (0)

/* A bump allocator: many small objects freed at once (kernel IR expressions). */
typedef struct kiln_arena {
  struct kiln_arena_block *head;
} kiln_arena;
void *kiln_arena_alloc(kiln_arena *a, size_t n); /* zeroed, 16-byte aligned */
char *kiln_arena_strdup(kiln_arena *a, const char *s);
void kiln_arena_free(kiln_arena *a);

/* Writes head then data (either may be empty) to path through a temporary file in the
 * same folder and rename(): a reader sees the old file or the whole new one, never a
 * torn one, and a failure leaves nothing behind. Mode 0644. */
kiln_status kiln_write_file_atomic(const char *path, const void *head, size_t nhead,
                                   const void *data, size_t n, kiln_error *err);

/* Overflow-checked size arithmetic: true when the result would not fit. */
bool kiln_mul_overflows(int64_t a, int64_t b, int64_t *out);
bool kiln_add_overflows(int64_t a, int64_t b, int64_t *out);
/* The greatest common divisor of a and b, >= 0 (0 when both are 0). */
int64_t kiln_gcd(int64_t a, int64_t b);

/* 64-bit FNV-1a: h (KILN_FNV1A_START for a new hash) extended with bytes[0..len). */
#define KILN_FNV1A_START UINT64_C(14695981039346656037)
uint64_t kiln_fnv1a(uint64_t h, const void *bytes, size_t len);
/* The hex digits of the FNV-1a hash of bytes[0..len): the keys of tuning logs. */
#define KILN_HASH_HEX_LEN 16
void kiln_hash_hex(const void *bytes, size_t len, char out[KILN_HASH_HEX_LEN + 1]);
/* a / b rounded toward negative infinity (b != 0): C's division rounds toward zero. */
static inline int64_t kiln_floor_div(int64_t a, int64_t b) {
  return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

#endif
