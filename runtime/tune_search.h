/* The search of one distinct kernel's schedules (runtime/tune_search.c), and the tuner's
 * state that kiln_tune (runtime/tune.c) shares with it. Internal to runtime/tune*.c. */
#ifndef KILN_RUNTIME_TUNE_SEARCH_H
#define KILN_RUNTIME_TUNE_SEARCH_H

#include "ir/schedule.h"
#include "ir/tuning_log.h"
#include "runtime/kernel_run.h"
#include "runtime/tune.h"

/* One distinct kernel of the model being tuned. */
typedef struct kiln_tune_unique {
  kiln_kernel *k;           /* the first instance; the others share its hash */
  kiln_tune_kernel *info;
  kiln_recipe *def, *best;  /* per stage */
  void *ref[KILN_MAX_BUFS]; /* the default schedules' outputs, per output buffer */
  int nseen, seen_cap;
  uint64_t *seen;           /* loop nests measured or queued, hashed */
  double compile_s, measure_s; /* one candidate's compile and measurement, estimated */
  kiln_kernel_runner *def_r, *best_r; /* compiled default and best, timed again at the end */
} kiln_tune_unique;

/* One kiln_tune call. */
typedef struct kiln_tuner {
  kiln_options opts;        /* the caller's, without tuning_log and profile */
  const kiln_tune_options *t;
  kiln_tune_result *res;
  kiln_program *p;
  int64_t t0;
  double search_end;        /* seconds since t0 */
  double slowest_compile_s; /* the longest candidate compile so far: on a loaded machine one
                             * takes many times the average, and none may start that could
                             * run past search_end (the budget's reserve is for the end) */
  uint32_t rng;
  int nunique;
  kiln_tune_unique *u;
  int ncandidates;          /* for corrupt_every */
  int done;                 /* kernels whose search is over */
  bool cold;                /* the weights exceed the last-level cache: time kernels with
                             * theirs evicted, as the model runs them */
  bool overlap;             /* a CPU is spare: compile the next candidate while measuring */
  int vf;                   /* floats in a vector register of the target */
} kiln_tuner;

/* Seconds since T->t0. */
double kiln_tuner_elapsed(const kiln_tuner *T);
/* Reports progress through T->t->progress, when set. */
void kiln_tuner_progress(kiln_tuner *T);
/* Gives u's kernel the recipes r, one per stage. */
void kiln_tune_install(kiln_tune_unique *u, const kiln_recipe *r);
/* Measures u's default alone (its time and reference outputs), then a matching record of
 * the log read first, which becomes u's best when faster. */
kiln_status kiln_tune_start(kiln_tuner *T, kiln_tune_unique *u, const kiln_tuning_log *log,
                            const kiln_tuning_target *target, kiln_error *err);
/* Candidates for u until `end` (seconds since T->t0), then its best confirmed against its
 * default, timed again in turns. */
void kiln_tune_search(kiln_tuner *T, kiln_tune_unique *u, double end);
/* Frees what u holds (not u). */
void kiln_tune_unique_free(kiln_tune_unique *u);

#endif
