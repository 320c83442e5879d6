/* The tuner's graph-level choices (runtime/tune_choice.c): the choice points graph passes
 * record (ir/choice.h), each value measured in the kernel where it lands. */
#ifndef KILN_RUNTIME_TUNE_CHOICE_H
#define KILN_RUNTIME_TUNE_CHOICE_H

#include "ir/program.h"
#include "ir/tempfile.h"
#include "ir/tuning_log.h"
#include "runtime/tune.h"
#include "runtime/tune_model.h"

typedef struct kiln_choice_tuner {
  const char *path;                 /* the model */
  const kiln_options *opts;         /* profiling on, no tuning log */
  const kiln_model *m0;             /* the untuned model, compiled with opts */
  kiln_tune_io *b0;                 /* its buffers, inputs filled */
  const kiln_tuning_target *target;
  const char *scratch;              /* a prefix for temporary logs ("LOG.choices") */
  double end_s;                     /* kiln_rt_clock_ns() / 1e9 at which to stop */
  double compile_s;                 /* one compile of the model, as measured */
  double run_ms;                    /* one run of it */
  int corrupt_every, *ncandidates;  /* kiln_tune_options.corrupt_every, applied to variants */
} kiln_choice_tuner;

/* res->choices: the distinct choice points of p (by key and choice), nothing measured. */
void kiln_tune_choices_list(const kiln_program *p, kiln_tune_result *res);
/* Fills res->choices from m0's program and, while models fit before end_s, compiles the
 * model with each other value given to every point that allows it (through a temporary
 * log), runs it in turns with m0, profiled, and keeps per point the value whose kernels
 * ran fastest by 3%, if its outputs match m0's (res->variants, res->variants_wrong). The
 * best values are then measured again together, and kept where they still win. When
 * some differ from the defaults: *chosen is a temporary log setting them (kiln_temp_forget
 * and unlink it) and *kernel_ns (malloc'd, *nk kernels) the profiled kernel times of the
 * model compiled with it; else chosen->path stays NULL. */
kiln_status kiln_tune_choices(const kiln_choice_tuner *c, kiln_tune_result *res, kiln_temp *chosen,
                              double **kernel_ns, int *nk, kiln_error *err);
/* A record per choice point of res measured (its best value, the default's when none
 * won); returns how many. */
int kiln_tune_choices_write(const kiln_tune_result *res, const kiln_tuning_target *target,
                            FILE *out);
/* The share of m0's profiled time (kernel_ns, nk kernels) spent in kernels holding a
 * choice point. */
double kiln_tune_choices_share(const kiln_model *m0, const double *kernel_ns, int nk);

#endif
