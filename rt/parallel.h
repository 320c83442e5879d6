/* The support library generated code calls (rt/): a parallel-for on kiln's thread pool and
 * a clock. Linked into libkiln for JIT code and into AOT shared libraries; it depends on
 * nothing else of kiln, and nothing in it is public API. */
#ifndef KILN_RT_PARALLEL_H
#define KILN_RT_PARALLEL_H

#include <stdint.h>

/* A parallel loop body: runs iterations [begin, end) with the kernel's context. */
typedef void (*kiln_rt_body)(void *ctx, int64_t begin, int64_t end);

/* Runs body over [0, n) on the calling thread and the pool's workers (rt/parallel.c),
 * in contiguous chunks. Nested calls, and calls while another thread's loop runs, run
 * serially on the caller. */
void kiln_rt_parallel_for(kiln_rt_body body, void *ctx, int64_t n);

/* Threads the calling thread's parallel loops use from now on (its own included); 0 = the
 * default: KILN_NUM_THREADS, else the CPUs of the process's affinity mask. */
void kiln_rt_set_num_threads(int n);
/* What the calling thread's loops would use now (starts the pool). */
int kiln_rt_num_threads(void);

/* The CPU the pool's pinned workers leave to the thread that started it (starts the pool):
 * where a benchmark pins its calling thread so that it never shares a core with a worker;
 * -1 when the workers are not pinned. */
int kiln_rt_caller_cpu(void);

/* CLOCK_MONOTONIC in nanoseconds: what profiled code calls around each kernel (rt/clock.c). */
int64_t kiln_rt_clock_ns(void);

#endif
