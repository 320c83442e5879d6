/* The autotuner's runs of a whole model (runtime/tune_model.c): kiln_tune times the untuned
 * model to share its budget among the kernels, and the tuned one against it at the end. */
#ifndef KILN_RUNTIME_TUNE_MODEL_H
#define KILN_RUNTIME_TUNE_MODEL_H

#include "kiln.h"

/* A model's input and output buffers. */
typedef struct kiln_tune_io {
  int nin, nout;
  void **in, **out;
  kiln_tensor_info *oinfo;
} kiln_tune_io;

/* Buffers for m: float inputs seeded random in [-1, 1), the others zero. */
void kiln_tune_io_make(const kiln_model *m, uint32_t seed, kiln_tune_io *b);
void kiln_tune_io_free(kiln_tune_io *b);
/* Models m[0..nm) run profiled in turns (a warm-up of each first), until `runs` each or
 * max_s: each one's median wall time in ms[i] (ms may be NULL) and each of its kernels'
 * median nanoseconds in kernel_ns[i][0..nk[i]) (kiln_steps_kernels order). */
kiln_status kiln_tune_time_profiled(const kiln_model *const *m, kiln_tune_io *const *b, int nm,
                                    int runs, double max_s, const int *nk, double *const *kernel_ns,
                                    double *ms, kiln_error *err);
/* Untuned and tuned runs taking turns (a warm-up of each first), until `runs` each or
 * max_s: the medians, so a machine busy with something else slows both alike. */
kiln_status kiln_tune_time_pair(const kiln_model *m0, kiln_tune_io *b0, const kiln_model *m1,
                                kiln_tune_io *b1, int runs, double max_s, double *ms0, double *ms1,
                                kiln_error *err);
/* The largest difference between a's outputs and b's, relative to each output's largest
 * magnitude in b; infinity where integers differ or NaNs disagree. */
double kiln_tune_max_error(const kiln_tune_io *a, const kiln_tune_io *b);

#endif
