/* The parallel-for generated kernels call: a static split of [0, n) over OpenMP threads.
 * Linked into libkiln (for JIT code) and into every AOT library. */
#include "runtime/parallel.h"

#include <omp.h>

void kiln_rt_parallel_for(kiln_rt_body body, void *ctx, int64_t n) {
  if (n <= 0) return;
  int max = omp_get_max_threads();
  if (n == 1 || max == 1 || omp_in_parallel()) {
    body(ctx, 0, n);
    return;
  }
  int nth = max < n ? max : (int)n;
#pragma omp parallel num_threads(nth)
  {
    int t = omp_get_thread_num(), T = omp_get_num_threads();
    int64_t begin = n * t / T, end = n * (t + 1) / T;
    if (begin < end) body(ctx, begin, end);
  }
}
