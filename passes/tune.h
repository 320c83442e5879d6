/* Applying a tuning log (ir/tuning_log.h) to a scheduled program: the `tune` pass, after
 * the default schedules, and the target key records are matched by. */
#ifndef KILN_PASSES_TUNE_H
#define KILN_PASSES_TUNE_H

#include "ir/program.h"
#include "ir/tuning_log.h"

/* The target code is generated for with opts, as codegen resolves it (codegen/
 * llvm_target.c): the triple, else the host's; the CPU, else the host's on the host's
 * architecture ("generic" on another); the features, else the host's when neither CPU nor
 * triple is named. Threads: opts->num_threads, else what the calling thread's parallel
 * loops use now (KILN_NUM_THREADS or the affinity mask). Clear it with
 * kiln_tuning_target_clear. */
void kiln_tuning_target_of(const kiln_options *opts, kiln_tuning_target *t);

/* Gives k's stages recipes[0..n) through kiln_schedule_apply: all of them, or (when n is
 * not k's stage count or one does not apply) none, k left as it was. */
bool kiln_kernel_apply_recipes(kiln_kernel *k, const kiln_recipe *recipes, int n);

/* Gives every kernel of p with a matching record of log (kiln_tuning_log_best) that
 * record's stage recipes through kiln_schedule_apply; a record whose recipes do not all
 * apply is ignored (the kernel keeps its default schedules). p->tuning then lists what
 * was applied: these schedules and the choices the graph passes took from the log. */
void kiln_pass_tune(kiln_program *p, const kiln_tuning_log *log, const kiln_tuning_target *target);
/* The kernels of steps only; adds what it applies to *note (a
 * malloc'd text, may be NULL) and counts kernels and applied kernels. */
void kiln_tune_apply_log(kiln_steps *steps, const kiln_tuning_log *log,
                         const kiln_tuning_target *target, FILE *note, int *nkernels,
                         int *napplied);

#endif
