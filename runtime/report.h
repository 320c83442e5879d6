/* Reports on a compiled program (docs/reports.md), for `kiln compile --report` (through
 * kiln_options.report) and `kiln bench --json`: per kernel the graph nodes it computes,
 * its buffers' layouts, its schedule, its FLOPs and bytes (ir/kernel_cost.h) and how long
 * building its code took, and the pipeline's pass times; a bench adds measured times and
 * the roofline. One writer for both, so a script reads their kernels the same way. Internal
 * to kiln and its tools. */
#ifndef KILN_RUNTIME_REPORT_H
#define KILN_RUNTIME_REPORT_H

#include "kiln.h"

#include "ir/kernel_cost.h"
#include "ir/program.h"

#include <stdio.h>

typedef struct kiln_report_kernel {
  const kiln_kernel *k;
  kiln_kernel_cost cost;
  /* measured (kiln_report_measure) */
  double ns, calls, gflops, gbs, roofline_pct; /* ns: all its calls' (a loop runs it again) */
} kiln_report_kernel;

/* What a bench measured besides kernel times. */
typedef struct kiln_report_bench {
  int threads, repeat;         /* of the per-kernel times */
  double peak_gflops, peak_gbs; /* the roofline's peaks */
  bool peaks_measured;         /* false: given by the user */
  int ncounts;                 /* end-to-end medians: at each thread count */
  const int *thread_counts;
  const double *e2e_ms;
  const int64_t *syms; /* the program's free dims, their values in these runs (NULL: none) */
} kiln_report_bench;

typedef struct kiln_report {
  const char *model;
  const kiln_program *p;
  char *triple, *cpu; /* the target compiled for */
  int nkernels;
  kiln_report_kernel *kernels; /* kiln_steps_kernels order */
  const kiln_report_bench *bench; /* NULL: a compile report */
} kiln_report;

/* A report of program p compiled from `model` with opts (both kept by reference). */
void kiln_report_init(kiln_report *r, const kiln_program *p, const char *model,
                      const kiln_options *opts);
/* Adds measured times, kernel_ns[i] per kernel, and their rates against b's peaks: GFLOP/s,
 * the work counted at b->syms (a free-dims program's runs) when given,
 * GB/s and % of the roofline min(peak GFLOP/s, peak GB/s * flops/byte) (bandwidth alone
 * for a kernel without floating-point work; all 0 for a kernel that did not run, 0 ns).
 * b is kept by reference. */
void kiln_report_measure(kiln_report *r, const double *kernel_ns, const double *kernel_calls,
                         const kiln_report_bench *b);
void kiln_report_free(kiln_report *r);

/* The report as one JSON object. */
void kiln_report_json(const kiln_report *r, FILE *out);
/* ... written to path atomically: the whole report or, on failure, no file. */
kiln_status kiln_report_write(const kiln_report *r, const char *path, kiln_error *err);
/* Fails unless a report could be written to path (its folder exists and takes new files):
 * checked before compiling, so a compile does not end in an unwritable report. */
kiln_status kiln_report_check_path(const char *path, kiln_error *err);

#endif
