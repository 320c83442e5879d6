/* Per-kernel timing of JIT runs, for `kiln bench` (and later the autotuner). A program
 * compiled with kiln_options.profile gets two i64 per kernel at the end of its arena
 * (passes/instrument.h); codegen wraps each kernel step of the entry function in two
 * calls of kiln_rt_clock_ns (rt/) and adds the difference there, and counts the call, so
 * concurrent runs time themselves into their own arenas. Code compiled without profile is unchanged. Internal
 * to kiln and its tools. */
#ifndef KILN_RUNTIME_PROFILE_H
#define KILN_RUNTIME_PROFILE_H

#include "kiln.h"

#include "ir/program.h"

/* The program a model runs (its kernels, in kiln_steps_kernels order, are what
 * kiln_run_profiled times). */
const kiln_program *kiln_model_program(const kiln_model *m);
/* The threads the model's runs use from now on (as kiln_options.num_threads; 0 = the
 * default). Not for a model being run on another thread. */
void kiln_model_set_num_threads(kiln_model *m, int n);
/* kiln_run that also fills kernel_ns[i] with the nanoseconds kernel i took in all (0 for a
 * kernel in an If branch not taken) and, unless NULL, kernel_calls[i] with how many times
 * it ran (a loop's body runs once per iteration). The model must have been compiled with
 * profile. */
kiln_status kiln_run_profiled(const kiln_model *m, const void *const *inputs,
                              void *const *outputs, double *kernel_ns, double *kernel_calls,
                              kiln_error *err);
/* kiln_run_arrays (a model with free dims) that also fills kernel_ns as kiln_run_profiled
 * and syms[] with the values its free dims took (the program's nsyms), always running the
 * generic code, never a bucket. */
kiln_status kiln_run_arrays_profiled(const kiln_model *m, const kiln_array *inputs,
                                     kiln_array *outputs, double *kernel_ns,
                                     double *kernel_calls, int64_t *syms, kiln_error *err);
/* The model file at path imported and run through the passes up to `last` (NULL: all of
 * them; passes/passes.h), not compiled: what the autotuner measures kernels of. */
kiln_status kiln_program_from_file(const char *path, const kiln_options *opts,
                                   const char *last, kiln_program **out, kiln_error *err);
/* The same through the pipeline without its rewrites (kiln_passes_reference): the
 * unoptimized program `kiln verify` checks a model against. */
kiln_status kiln_reference_program_from_file(const char *path, const kiln_options *opts,
                                             kiln_program **out, kiln_error *err);

#endif
