/* One kernel of a compiled program, compiled and run alone on buffers of its own: what a
 * tuner measures a candidate schedule with, and how a test compares one kernel's code with
 * the interpreter. Inputs are filled with seeded random values (floats in [-1, 1), integers
 * 0, a valid index anywhere), constants are the program's, temporaries get an arena. */
#ifndef KILN_RUNTIME_KERNEL_RUN_H
#define KILN_RUNTIME_KERNEL_RUN_H

#include "ir/program.h"

typedef struct kiln_kernel_runner kiln_kernel_runner;

/* Compiles kernel k of program p (its constants are read from p, which must outlive the
 * runner) with its current schedules. k is left as it was. */
kiln_status kiln_kernel_runner_new(const kiln_program *p, kiln_kernel *k,
                                   const kiln_options *opts, uint32_t seed,
                                   kiln_kernel_runner **out, kiln_error *err);
/* The same for a kernel with run-time dims (kiln_kernel.syms): buffers are allocated for
 * the syms' values max_dims (NULL: their hints), and runs use those until
 * kiln_kernel_runner_set_dims. kiln_kernel_runner_new is this with NULL. */
kiln_status kiln_kernel_runner_new_dims(const kiln_program *p, kiln_kernel *k,
                                        const kiln_options *opts, uint32_t seed,
                                        const int64_t *max_dims, kiln_kernel_runner **out,
                                        kiln_error *err);
/* The syms' values of the next runs (the kernel's dims buffer); fails with
 * KILN_ERR_INVALID_ARGUMENT, changing nothing, when one is negative or a buffer would not
 * fit what was allocated. The code is not compiled again. */
kiln_status kiln_kernel_runner_set_dims(kiln_kernel_runner *r, const int64_t *dims,
                                        kiln_error *err);
/* One run; fails with the kernel's check status (an index out of range...). */
kiln_status kiln_kernel_runner_run(kiln_kernel_runner *r, kiln_error *err);
/* With cold set, every timed run starts with the kernel's constants (its weights) evicted
 * from the caches, as in a model whose weights exceed the last-level cache and so come
 * from memory at each inference (x86 only; elsewhere nothing is evicted). */
void kiln_kernel_runner_set_cold(kiln_kernel_runner *r, bool cold);
/* Median nanoseconds of `repeat` runs after one warm-up run, or of those done when the
 * runs (warm-up included) have taken max_ns (at least one). */
kiln_status kiln_kernel_runner_time(kiln_kernel_runner *r, int repeat, double max_ns,
                                    double *median_ns, kiln_error *err);
/* The memory of buffer b of the kernel (inputs, outputs, temporaries; NULL for none). */
void *kiln_kernel_runner_buffer(const kiln_kernel_runner *r, int b);
void kiln_kernel_runner_free(kiln_kernel_runner *r);

/* A compile on a thread of its own, so the caller can time another kernel meanwhile: of a
 * copy of k as scheduled when it starts (buffers and stages copied, expressions shared),
 * so the caller may reschedule k at once (not free it). The thread is kept off CPU
 * avoid_cpu when the process may use another (-1: anywhere). p and opts must outlive the
 * join. Never fails to start: without a thread, the compile runs here. */
typedef struct kiln_kernel_compile kiln_kernel_compile;
kiln_kernel_compile *kiln_kernel_compile_start(const kiln_program *p, const kiln_kernel *k,
                                               const kiln_options *opts, uint32_t seed,
                                               int avoid_cpu);
/* Waits for the compile (on any CPU from now: the caller waits) and frees c: its runner
 * (which owns the copy of the kernel) or its error, and when it ran (kiln_rt_clock_ns, in
 * *t0 and *t1). */
kiln_status kiln_kernel_compile_join(kiln_kernel_compile *c, kiln_kernel_runner **out,
                                     int64_t *t0, int64_t *t1, kiln_error *err);

#endif
