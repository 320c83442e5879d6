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
/* Median nanoseconds of `repeat` runs after one warm-up run. */
kiln_status kiln_kernel_runner_time(kiln_kernel_runner *r, int repeat, double *median_ns,
                                    kiln_error *err);
/* The memory of buffer b of the kernel (inputs, outputs, temporaries; NULL for none). */
void *kiln_kernel_runner_buffer(const kiln_kernel_runner *r, int b);
void kiln_kernel_runner_free(kiln_kernel_runner *r);

#endif
