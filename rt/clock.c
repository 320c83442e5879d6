/* The clock profiled code reads around each kernel (rt/parallel.h). It is called through
 * the JIT's symbol table, like kiln_rt_parallel_for; a vDSO clock_gettime costs some 20 ns
 * per call, small beside a kernel. */
#include "rt/parallel.h"

#include <time.h>

int64_t kiln_rt_clock_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
