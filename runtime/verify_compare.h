/* How close `kiln verify` (runtime/verify.h) wants a value to its reference, and the
 * element-by-element comparison that says how far it is. Internal to runtime/verify*.c. */
#ifndef KILN_RUNTIME_VERIFY_COMPARE_H
#define KILN_RUNTIME_VERIFY_COMPARE_H

#include "ir/kernel.h"

/* A float element w' passes against w when |w' - w| <= eps * (ulps |w| + (ulps + terms) S),
 * S the largest finite |w| of the tensor and eps the dtype's machine epsilon; integers and
 * bools, and floats with ulps = terms = 0 (pure data movement), must be equal. NaN must
 * meet NaN, an infinity the same infinity. */
typedef struct kiln_tolerance {
  double ulps;  /* rounding of the operations between inputs and output, in ulps */
  double terms; /* reordered accumulation: twice the terms summed (or multiplied) */
} kiln_tolerance;

/* The bound for kernel k's code against the interpreter (runtime/verify_compare.c says
 * how it is counted). */
kiln_tolerance kiln_verify_code_tolerance(const kiln_kernel *k);
/* The bound for a value against the unoptimized program: the same computation with other
 * roundings (sums reordered by blocking, BN folded into weights), grown over the layers
 * before it, for a value of dtype t. */
kiln_tolerance kiln_verify_rewrite_tolerance(kiln_dtype t);

typedef struct kiln_comparison {
  int64_t total, bad;
  int64_t worst;          /* offset into `got` of the element furthest out (or, with none
                             out, closest to the bound); -1 when there are no elements */
  double got, want, error, tolerance; /* at worst */
  double max_ratio;       /* largest error / tolerance (infinity: an exact one differs) */
} kiln_comparison;

/* Compares n elements of dtype t: got[map[i]] (got[i] when map is NULL) against want[i]. */
void kiln_verify_compare(kiln_dtype t, const void *got, const void *want, int64_t n,
                         const int64_t *map, kiln_tolerance tol, kiln_comparison *c);

#endif
