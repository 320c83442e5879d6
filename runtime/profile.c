/* Timing slots for profiled programs, and the clock their code reads (runtime/profile.h).
 * The clock is called through the JIT's symbol table, like kiln_rt_parallel_for; a vDSO
 * clock_gettime costs some 20 ns per call, small beside a kernel. */
#include "runtime/profile.h"

#include <time.h>

int64_t kiln_rt_clock_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void kiln_profile_instrument(kiln_program *p) {
  if (p->profile) return;
  int n = kiln_steps_kernels(&p->main, NULL, 0);
  p->profile_offset = (p->arena_bytes + 63) / 64 * 64;
  p->arena_bytes = p->profile_offset + ((int64_t)n * 8 + 63) / 64 * 64;
  p->profile = true;
}
