/* The whole pass pipeline, graph in, program out, as one list: the API compiles with all
 * of it and `kiln dump --after PASS` stops after any pass, so both always see the same
 * passes in the same order. Graph passes come first; `lower` turns the graph into the
 * program the passes after it work on. Each pass is timed, for reports (the program's
 * kiln_compile_times). */
#include "passes/passes.h"

#include "passes/instrument.h"
#include "passes/tune.h"
#include "rt/parallel.h"

#include <string.h>

#define FOLD_MAX_ELEMS (INT64_C(1) << 22)
#define DEFAULT_MAX_NODES 100000

typedef struct state {
  kiln_graph *g;
  const kiln_options *opts;
  kiln_program *p; /* from `lower` on */
  kiln_error *err;
  bool log_read;   /* opts->tuning_log is read into log, for target (read once, when a
                      pass first needs it) */
  kiln_tuning_log log;
  kiln_tuning_target target;
} state;

/* The tuning log (NULL: none given); any error names the file and line. */
static kiln_status tuning_log(state *s, const kiln_tuning_log **log) {
  *log = NULL;
  if (!s->opts->tuning_log) return KILN_OK;
  if (!s->log_read) {
    kiln_status st = kiln_tuning_log_read(&s->log, s->opts->tuning_log, s->err);
    if (st) return st;
    kiln_tuning_target_of(s->opts, &s->target);
    s->log_read = true;
  }
  *log = &s->log;
  return KILN_OK;
}

/* Refuses graphs over max_nodes (as imported, then with expansions) before anything is
 * built per node: lowering makes a kernel per node. */
static kiln_status limit(state *s) {
  int64_t max = s->opts->max_nodes > 0 ? s->opts->max_nodes : DEFAULT_MAX_NODES;
  if (s->g->nnodes <= max) return KILN_OK;
  return kiln_fail(s->err, KILN_ERR_LIMIT,
                   "the graph has %d nodes, over the limit of %lld (kiln_options.max_nodes)",
                   s->g->nnodes, (long long)max);
}

static kiln_status bind(state *s) { return kiln_pass_bind_inputs(s->g, s->opts, s->err); }
static kiln_status infer(state *s) {
  return kiln_pass_infer(s->g, s->opts, s->err) ? s->err->code : limit(s);
}
static kiln_status fold(state *s) { return kiln_pass_fold(s->g, FOLD_MAX_ELEMS, s->err); }
static kiln_status fold_bn(state *s) {
  kiln_pass_fold_batchnorm(s->g);
  return KILN_OK;
}
static kiln_status layout(state *s) {
  const kiln_tuning_log *log;
  if (s->opts->no_layout || kiln_target_gpu(s->opts)) return KILN_OK;
  if (tuning_log(s, &log)) return s->err->code;
  return kiln_pass_layout(s->g, kiln_target_vector_floats(s->opts), log, &s->target, s->err);
}
static kiln_status panels(state *s) { /* logs hold CPU choices */
  const kiln_tuning_log *log;
  if (kiln_target_gpu(s->opts)) return KILN_OK;
  if (tuning_log(s, &log)) return s->err->code;
  return kiln_pass_pack_panels(s->g, kiln_target_vector_floats(s->opts), log, &s->target, s->err);
}
static kiln_status dce(state *s) {
  kiln_pass_dce(s->g);
  return KILN_OK;
}
static kiln_status place(state *s) {
  kiln_pass_place_concat(s->g);
  return KILN_OK;
}
static kiln_status lower(state *s) {
  s->g->lower_gpu = kiln_target_gpu(s->opts);
  return kiln_pass_lower(s->g, &s->p, s->err);
}
static kiln_status fuse(state *s) {
  if (!s->opts->no_fuse) kiln_pass_fuse(s->g, s->p);
  return KILN_OK;
}
static kiln_status memplan(state *s) { return kiln_plan_memory(s->g, s->p, s->err); }
static kiln_status coalesce(state *s) {
  kiln_pass_coalesce(&s->p->main);
  return KILN_OK;
}
static kiln_status schedule(state *s) {
  if (kiln_target_gpu(s->opts)) return kiln_pass_schedule_gpu(&s->p->main, s->err);
  return kiln_pass_schedule(&s->p->main, kiln_target_vector_floats(s->opts), s->err);
}
static kiln_status tune(state *s) { /* logs hold CPU schedules */
  const kiln_tuning_log *log;
  if (kiln_target_gpu(s->opts)) return KILN_OK;
  if (tuning_log(s, &log)) return s->err->code;
  if (log) kiln_pass_tune(s->p, log, &s->target);
  return KILN_OK;
}
static kiln_status instrument(state *s) {
  kiln_loop_limits(&s->p->main, s->opts->max_loop_iterations > 0 ? s->opts->max_loop_iterations
                                                                   : KILN_DEFAULT_LOOP_ITERATIONS);
  kiln_check_instrument(s->p, s->opts->check_bounds); /* index checks are always on */
  if (s->opts->profile) kiln_profile_instrument(s->p);
  return KILN_OK;
}

/* `rewrite` marks the optimizations that change what the graph or its kernels compute
 * in (the same values, other operations or views): the reference program `kiln verify`
 * checks a model against is built without them (kiln_passes_reference), so its kernels
 * see each value in its node's shape. */
static const struct {
  const char *name;
  kiln_status (*run)(state *s);
  bool rewrite;
} PASSES[] = {
    {"limit", limit, false},     /* the node count as imported */
    {"bind", bind, false},       /* free dims and input values from the options */
    {"infer", infer, false},     /* dtypes and shapes; ops that expand into simpler ones */
    {"fold", fold, false},       /* constant folding with the interpreter */
    {"fold-bn", fold_bn, true},  /* BatchNormalization into the Conv before it */
    {"layout", layout, true},    /* convolution networks into the blocked layout NCHWc */
    {"panels", panels, true},    /* constant GEMM weights packed as register-tile panels */
    {"dce", dce, false},         /* dead nodes */
    {"place", place, false},     /* a Concat's inputs written straight into its output */
    {"lower", lower, false},     /* one kernel per node: the program */
    {"fuse", fuse, true},        /* elementwise kernels into their producers */
    {"memplan", memplan, false}, /* storage of every buffer: inputs, outputs, constants, arena */
    {"coalesce", coalesce, true},      /* a kernel's contiguous axes as one */
    {"schedule", schedule, false},     /* default schedules, as recipes */
    {"tune", tune, false},             /* a tuning log's schedules (kiln_options.tuning_log) */
    {"instrument", instrument, false}, /* check record, timing slots */
};
#define NPASSES (int)(sizeof PASSES / sizeof PASSES[0])
_Static_assert(NPASSES <= KILN_MAX_PASSES, "kiln_compile_times holds every pass");

const char *kiln_pass_name(int i) { return i >= 0 && i < NPASSES ? PASSES[i].name : NULL; }

/* Index of the pass named name, NPASSES when there is none. */
static int pass_index(const char *name) {
  int i = 0;
  while (i < NPASSES && strcmp(PASSES[i].name, name)) i++;
  return i;
}

void kiln_progress(const kiln_options *opts, const char *step) {
  if (!opts || !opts->progress) return;
  int done = !step ? NPASSES + 1 : !strcmp(step, "codegen") ? NPASSES : pass_index(step);
  opts->progress(opts->progress_user, step, done, NPASSES + 1);
}

/* The passes from first to last; with reference, without those that rewrite. */
static kiln_status run_passes(kiln_graph *g, const kiln_options *opts, const char *first,
                              const char *last, bool reference, kiln_program **out,
                              const char **failed, kiln_error *err) {
  kiln_error local = {0};
  kiln_options none = {0};
  state s = {g, opts ? opts : &none, NULL, err ? err : &local, false, {0}, {0}};
  *out = NULL;
  if (failed) *failed = NULL;
  int begin = first ? pass_index(first) : 0, end = last ? pass_index(last) : NPASSES - 1;
  if (begin == NPASSES || end == NPASSES)
    return kiln_fail(s.err, KILN_ERR_INVALID_ARGUMENT, "no pass '%s'",
                     begin == NPASSES ? first : last);
  double ms[NPASSES] = {0};
  kiln_status st = KILN_OK;
  for (int i = begin; i <= end && !st; i++) {
    if (reference && PASSES[i].rewrite) continue;
    kiln_progress(opts, PASSES[i].name);
    int64_t t0 = kiln_rt_clock_ns();
    if ((st = PASSES[i].run(&s)) && failed) *failed = PASSES[i].name;
    ms[i] = (double)(kiln_rt_clock_ns() - t0) / 1e6;
  }
  kiln_tuning_log_free(&s.log);
  kiln_tuning_target_clear(&s.target);
  if (st) {
    kiln_program_free(s.p);
    return s.err->code;
  }
  if (s.p) {
    s.p->times = kiln_xcalloc(1, sizeof *s.p->times);
    s.p->times->npasses = end + 1;
    for (int i = 0; i <= end; i++) s.p->times->pass_ms[i] = ms[i];
  }
  *out = s.p;
  return KILN_OK;
}

kiln_status kiln_passes_until(kiln_graph *g, const kiln_options *opts, const char *last,
                              kiln_program **out, kiln_error *err) {
  return run_passes(g, opts, NULL, last, false, out, NULL, err);
}

kiln_status kiln_passes_range(kiln_graph *g, const kiln_options *opts, const char *first,
                              const char *last, kiln_program **out, const char **failed,
                              kiln_error *err) {
  return run_passes(g, opts, first, last, false, out, failed, err);
}

kiln_status kiln_passes_reference(kiln_graph *g, const kiln_options *opts, kiln_program **out,
                                  kiln_error *err) {
  return run_passes(g, opts, NULL, NULL, true, out, NULL, err);
}

kiln_status kiln_passes_run(kiln_graph *g, const kiln_options *opts, kiln_program **out,
                            kiln_error *err) {
  return kiln_passes_until(g, opts, NULL, out, err);
}
