/* The autotuner (runtime/tune.c): searches, within a wall-clock budget, schedules faster
 * than the default scheduler's for each distinct kernel of a model, measuring each
 * candidate alone (runtime/kernel_run.h), and writes them as a tuning log
 * (ir/tuning_log.h) that kiln_options.tuning_log applies. Internal to kiln and its tools
 * (`kiln tune`); the library prints nothing, progress goes to a callback. */
#ifndef KILN_RUNTIME_TUNE_H
#define KILN_RUNTIME_TUNE_H

#include "kiln.h"

#include "ir/kernel.h"
#include "ir/choice.h"
#include "ir/kernel_sig.h"

/* One distinct kernel (by content hash) of the model. */
typedef struct kiln_tune_kernel {
  char *name, *op;       /* of its first instance */
  char hash[KILN_KERNEL_HASH_LEN + 1];
  int count;             /* kernels of the model with this hash */
  double flops;          /* per run (ir/kernel_cost.h) */
  double model_ns;       /* all its instances in a profiled run of the untuned model */
  double bytes;          /* read and written per run (ir/kernel_cost.h) */
  double cost_ns;        /* all its instances at a nominal 100 GFLOP/s and 10 GB/s: what
                            shards are balanced by, before anything is measured */
  int shard;             /* 1..nshards: which shard tunes it */
  double default_ns;     /* median with the default schedules; 0 = not measured */
  double best_ns;        /* the best found (default_ns when none beat it) */
  double search_s;       /* seconds spent searching it */
  int candidates;        /* measured */
  int refused;           /* edits kiln_schedule_apply refused (never measured) */
  int wrong;             /* measured, outputs differed from the default's: dropped */
  bool from_log;         /* the best came from a record of the log read first */
  bool model_slower;     /* its best alone was not 2% faster inside the tuned model: it
                            went back to its defaults (best_ns = default_ns) */
} kiln_tune_kernel;

/* One distinct choice point (ir/choice.h) of the model, by key: its instances share it. */
typedef struct kiln_tune_choice {
  kiln_choice point;       /* its first instance: key, choice, node, op, default, values */
  int count;               /* nodes of the model with this key */
  int best;                /* the best value found (point.def when none beat it) */
  double default_ns;       /* its instances' kernels, summed, with the default value */
  double best_ns;          /* the same with the best value: its measured ratio to the
                              default applied to default_ns */
  int tried;               /* other values measured */
} kiln_tune_choice;

typedef struct kiln_tune_progress {
  double elapsed_s, budget_s;
  int kernels_done, nkernels;        /* distinct kernels searched / all */
  double untuned_ns, tuned_ns;       /* the kernels' times in the untuned model, and the
                                        same scaled by each kernel's tuned/default ratio */
} kiln_tune_progress;

typedef struct kiln_tune_options {
  double budget_s;        /* wall clock for the whole call, compiles included */
  const char *log_path;   /* read first when it exists (the search resumes from its
                             records); written at the end: its lines, then the new records */
  uint32_t seed;          /* of the search and of the random inputs */
  void (*progress)(void *ctx, const kiln_tune_progress *p); /* after each step; may be NULL */
  void *ctx;
  int corrupt_every;      /* tests: every Nth candidate's output is altered before it is
                             compared, as a wrong schedule's would be; 0 = never */
  int shard, nshards;     /* tune only the distinct kernels of shard `shard` (1..nshards;
                             kiln_tune_list says which); nshards 0 = all */
  double tuned_scale;     /* tests: the tuned model's end-to-end time is taken as this
                             times what it measured (0: 1) */
  double alone_scale;     /* tests: each candidate's time alone is taken as this times what
                             it measured (0: 1; 0.1 makes most candidates the best) */
  double model_scale;     /* tests: each tuned kernel's time inside the tuned model is taken
                             as this times what it measured (0: 1) */
} kiln_tune_options;

typedef struct kiln_tune_result {
  int nkernels;
  kiln_tune_kernel *kernels;   /* by share of the model's time, largest first */
  int nchoices;
  kiln_tune_choice *choices;   /* the graph passes' choice points, in the model's order */
  int variants, variants_wrong; /* models compiled with other choices; of them, those whose
                                   outputs differed from the untuned model's (dropped) */
  double untuned_ms, tuned_ms; /* end to end, median; 0 = not measured */
  double max_error;            /* largest output difference tuned vs untuned, relative
                                  to the output's largest magnitude */
  int candidates, refused, wrong, records_read, records_written;
  double elapsed_s;
  double compile_s, measure_s; /* the candidates' compiles and measurements, in seconds */
  double hidden_s;             /* of compile_s, what ran while another was measured */
  bool overlap;                /* compiles overlapped measurements (a CPU was spare) */
  bool cold_weights;           /* kernels were timed with their weights evicted (the
                                  model's exceed the last-level cache) */
  bool kept_defaults;          /* the tuned model ran over 3% slower end to end than the
                                  untuned one: the log records every default as best */
  bool unchanged;              /* the log changes no kernel of the model: the tuned model
                                  is the untuned one, not timed again (tuned_ms 0) */
  int model_slower;            /* kernels whose best went back to the default, not being
                                  faster inside the model (kiln_tune_kernel.model_slower) */
} kiln_tune_result;

/* Tunes the model at path compiled with opts (threads: opts->num_threads, else the
 * default count). Fails on a model that does not compile, a log that cannot be read or is
 * malformed (naming the line), or a log that cannot be written; running out of budget is
 * no failure (the best so far is kept). */
kiln_status kiln_tune(const char *path, const kiln_options *opts, const kiln_tune_options *t,
                      kiln_tune_result *res, kiln_error *err);
/* The distinct kernels of the model at path, measuring nothing, each with the shard
 * (1..nshards, nshards >= 1) that tunes it: kernels by nominal cost, largest first, each
 * to the shard with the least cost so far (the lowest number on a tie), so shards are
 * deterministic and about even. res->kernels are in that order of cost. */
kiln_status kiln_tune_list(const char *path, const kiln_options *opts, int nshards,
                           kiln_tune_result *res, kiln_error *err);
void kiln_tune_result_free(kiln_tune_result *res);
/* Whether the tuner passes over stage s as scheduled now (runtime/tune_cost.c): code LLVM
 * would take seconds to compile for a target with vf floats per vector register. */
bool kiln_tune_too_costly(const kiln_stage *s, int vf);

#endif
