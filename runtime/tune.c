/* The autotuner (runtime/tune.h). The model is built up to its default schedules and its
 * kernels grouped by content hash (ir/kernel_sig.h), so repeated blocks are tuned once.
 * A profiled run of the untuned model gives each distinct kernel its share of the model's
 * time. The graph passes' choice points are measured first (runtime/tune_choice.c). A log
 * read first contributes its matching records as starting points (a resumed search). The
 * search time left after reserving the final compile is then divided among kernels in
 * proportion to their shares, largest first; each is measured alone with its default
 * schedules (runtime/kernel_run.h: its own JIT build, seeded random inputs), which gives
 * the reference outputs, and searched (runtime/tune_search.c). At the end the log is
 * written and the model compiled with it and run against the untuned one: a kernel whose
 * best is no faster inside the model goes back to its default, and the log is written and
 * the model timed again. */
#define _GNU_SOURCE /* sched_getaffinity */
#include "runtime/tune.h"

#include "ir/kernel_cost.h"
#include "ir/tuning_log.h"
#include "passes/instrument.h"
#include "passes/passes.h"
#include "passes/tune.h"
#include "rt/parallel.h"
#include "runtime/options.h"
#include "runtime/profile.h"
#include "runtime/tune_choice.h"
#include "runtime/tune_model.h"
#include "runtime/tune_search.h"

#include <errno.h>
#include <math.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define E2E_SLOWER 1.03 /* a tuned model this much slower than the untuned keeps the
                          default schedules */

/* The last-level cache of CPU 0 (Linux sysfs); 32 MiB where it cannot be read. */
static int64_t last_level_cache_bytes(void) {
  int64_t best = 0;
  for (int i = 0; i < 8; i++) {
    char path[96];
    snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/size", i);
    FILE *f = fopen(path, "r");
    if (!f) break;
    long long v = 0;
    char unit = 0;
    if (fscanf(f, "%lld%c", &v, &unit) >= 1) {
      int64_t b = unit == 'K' ? v << 10 : unit == 'M' ? v << 20 : unit == 'G' ? v << 30 : v;
      if (b > best) best = b;
    }
    fclose(f);
  }
  return best > 0 ? best : INT64_C(32) << 20;
}


/* Do a and b run the same kernels with the same schedules (a log that changed nothing)? */
static bool same_code(const kiln_program *a, const kiln_program *b) {
  int n, nb;
  const kiln_kernel **ka = kiln_steps_kernel_list(&a->main, &n);
  const kiln_kernel **kb = kiln_steps_kernel_list(&b->main, &nb);
  bool same = n == nb;
  for (int i = 0; i < n && same; i++) {
    char ha[KILN_KERNEL_HASH_LEN + 1], hb[KILN_KERNEL_HASH_LEN + 1];
    same = ka[i]->nstages == kb[i]->nstages && kiln_kernel_hash(ka[i], ha) &&
           kiln_kernel_hash(kb[i], hb) && !strcmp(ha, hb);
    for (int s = 0; s < ka[i]->nstages && same; s++) {
      char *ra = kiln_recipe_text(&ka[i]->stages[s].recipe);
      char *rb = kiln_recipe_text(&kb[i]->stages[s].recipe);
      same = !strcmp(ra, rb);
      free(ra);
      free(rb);
    }
  }
  free(ka);
  free(kb);
  return same;
}

/* ---- the log file -------------------------------------------------------------------- */

/* Writes the log: old[0..oldlen), then a record per choice point and per kernel measured,
 * with its best (defaults: with its default, as measured best). */
static kiln_status write_log(kiln_tuner *T, const char *old, size_t oldlen,
                             const kiln_tuning_target *target, bool defaults, kiln_error *err) {
  kiln_tune_result *res = T->res;
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  if (!f) return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "tuning log: out of memory");
  res->records_written = 0;
  if (oldlen && old[oldlen - 1] != '\n') fputc('\n', f);
  /* the defaults after a choice point took another value: the kernels measured are those
   * of that value, which this log no longer makes, so none is recorded */
  bool other_kernels = false;
  for (int i = 0; defaults && i < res->nchoices; i++) {
    other_kernels |= res->choices[i].best != res->choices[i].point.def;
    res->choices[i].best = res->choices[i].point.def;
    res->choices[i].best_ns = res->choices[i].default_ns;
  }
  res->records_written += kiln_tune_choices_write(res, target, f);
  for (int i = 0; i < T->nunique && !other_kernels; i++) {
    kiln_tune_unique *u = &T->u[i];
    if (!u->info->default_ns) continue;
    if (defaults) kiln_tune_install(u, u->def);
    kiln_tuning_record rec;
    kiln_tuning_record_init(&rec, u->k, u->info->hash, target,
                            defaults ? u->info->default_ns : u->info->best_ns,
                            u->info->default_ns, u->def);
    kiln_tuning_record_write(&rec, f);
    kiln_tuning_record_clear(&rec);
    res->records_written++;
  }
  fclose(f);
  kiln_status st = kiln_write_file_atomic(T->t->log_path, old ? old : "", oldlen, text ? text : "",
                                          len, err);
  free(text);
  return st;
}

static kiln_status read_raw(const char *path, char **text, size_t *len, kiln_error *err) {
  *text = NULL;
  *len = 0;
  FILE *f = fopen(path, "rb");
  if (!f) {
    if (errno == ENOENT) return KILN_OK;
    return kiln_fail(err, KILN_ERR_IO, "cannot open tuning log '%s': %s", path, strerror(errno));
  }
  struct stat sb;
  if (fstat(fileno(f), &sb) || !S_ISREG(sb.st_mode) || sb.st_size > (INT64_C(1) << 30)) {
    fclose(f);
    return kiln_fail(err, KILN_ERR_IO, "tuning log '%s' is not a regular file of at most 1 GiB",
                     path);
  }
  *text = kiln_xmalloc((size_t)sb.st_size + 1);
  *len = fread(*text, 1, (size_t)sb.st_size, f);
  bool bad = ferror(f) || *len != (size_t)sb.st_size;
  fclose(f);
  if (bad) return kiln_fail(err, KILN_ERR_IO, "cannot read tuning log '%s'", path);
  return KILN_OK;
}

/* ---- the end: the tuned model against the untuned one ---------------------------------- */

/* Each distinct kernel's best kept only where it runs 2% faster inside the tuned model as
 * well: alone, a kernel runs with its weights evicted and its neighbours' data out of the
 * caches, and a schedule faster there can be none in the model (ResNet-50's stride-2 1x1
 * Conv: 1.10x alone, no faster in the model). ns0 and ns1: the untuned and tuned models'
 * kernels' times, in T->p's kernel order (nk of them). Returns how many went back to
 * their defaults. */
static int confirm_in_model(kiln_tuner *T, const double *ns0, const double *ns1, int nk) {
  int n, back = 0;
  const kiln_kernel **ks = kiln_steps_kernel_list(&T->p->main, &n);
  double *sum = kiln_xcalloc(2 * (size_t)T->nunique + 1, sizeof *sum);
  for (int i = 0; i < n && n == nk; i++) {
    char hash[KILN_KERNEL_HASH_LEN + 1];
    if (!kiln_kernel_hash(ks[i], hash)) continue;
    for (int j = 0; j < T->nunique; j++)
      if (!strcmp(T->u[j].info->hash, hash)) {
        sum[2 * j] += ns0[i];
        sum[2 * j + 1] += ns1[i];
      }
  }
  double scale = T->t->model_scale > 0 ? T->t->model_scale : 1;
  for (int j = 0; j < T->nunique && n == nk; j++) {
    kiln_tune_unique *u = &T->u[j];
    if (!(u->info->best_ns < u->info->default_ns) || sum[2 * j] <= 0) continue;
    if (sum[2 * j + 1] * scale < 0.98 * sum[2 * j]) continue;
    u->info->best_ns = u->info->default_ns;
    u->info->from_log = false;
    u->info->model_slower = true;
    for (int s = 0; s < u->k->nstages; s++) u->best[s] = u->def[s];
    kiln_tune_install(u, u->def);
    back++;
  }
  free(sum);
  free(ks);
  return back;
}

/* The model as the log makes it, compiled (profiled, as m0 is) and run against the untuned
 * m0 in turns: same outputs, both models' times, and each kernel's inside them. Kernels
 * whose best is no faster in the model go back to their defaults (confirm_in_model: not
 * where a choice point changed the kernels), and the log is written again and its model
 * timed again. A tuned model over 3% slower end to end than the untuned one gives a log of
 * every default. Planned to end within the budget: the 10% the command may take over is
 * for a compile slower than estimated, which is not interrupted. */
static kiln_status finish(kiln_tuner *T, const char *path, const kiln_options *prof,
                          const kiln_model *m0, kiln_tune_io *b0, const char *old,
                          size_t oldlen, const kiln_tuning_target *target, double compile_s,
                          bool choices_changed, kiln_error *err) {
  const kiln_tune_options *t = T->t;
  kiln_tune_result *res = T->res;
  kiln_model *m1 = NULL;
  kiln_tune_io b1 = {0};
  kiln_status st = KILN_OK;
  for (int pass = 0; pass < 2 && !st; pass++) {
    if (kiln_tuner_elapsed(T) + compile_s >= t->budget_s) break;
    kiln_options o = *prof;
    o.tuning_log = t->log_path;
    kiln_model_free(m1);
    kiln_tune_io_free(&b1);
    m1 = NULL;
    b1 = (kiln_tune_io){0};
    st = kiln_compile_file(path, &o, &m1, err);
    /* the same code (nothing beat a default): nothing to time; the test hook tuned_scale
     * times it all the same */
    res->unchanged = !st && !(t->tuned_scale > 0) &&
                     same_code(kiln_model_program(m0), kiln_model_program(m1));
    if (st || res->unchanged) break;
    kiln_tune_io_make(m1, t->seed, &b1);
    double left = fmax(0, t->budget_s - kiln_tuner_elapsed(T)), ms[2] = {0, 0};
    const kiln_model *pair[2] = {m0, m1};
    kiln_tune_io *io[2] = {b0, &b1};
    int nk[2] = {kiln_steps_kernels(&kiln_model_program(m0)->main, NULL, 0),
                 kiln_steps_kernels(&kiln_model_program(m1)->main, NULL, 0)};
    double *ns[2] = {kiln_xcalloc((size_t)nk[0] + 1, sizeof(double)),
                     kiln_xcalloc((size_t)nk[1] + 1, sizeof(double))};
    st = kiln_tune_time_profiled(pair, io, 2, 30, left, nk, ns, ms, err);
    if (!st) {
      res->untuned_ms = ms[0];
      res->tuned_ms = ms[1];
      res->max_error = kiln_tune_max_error(&b1, b0);
    }
    int back = !st && pass == 0 && !choices_changed && nk[0] == nk[1]
                   ? confirm_in_model(T, ns[0], ns[1], nk[0])
                   : 0;
    free(ns[0]);
    free(ns[1]);
    res->model_slower += back;
    if (!back) break;
    res->tuned_ms = 0; /* that model is not the log's any more: timed again next pass */
    st = write_log(T, old, oldlen, target, false, err);
  }
  /* kernels faster alone but the model slower with them (their neighbours' caches, the
   * thread pool's hand-offs): the log records the defaults, as measured best */
  double scale = t->tuned_scale > 0 ? t->tuned_scale : 1;
  if (!st && !res->unchanged && res->tuned_ms > 0 &&
      res->tuned_ms * scale > E2E_SLOWER * res->untuned_ms) {
    res->kept_defaults = true;
    st = write_log(T, old, oldlen, target, true, err);
  }
  kiln_model_free(m1);
  kiln_tune_io_free(&b1);
  return st;
}

/* ---- kiln_tune ------------------------------------------------------------------------- */

static int by_share(const void *a, const void *b) {
  const kiln_tune_unique *x = a, *y = b;
  double sx = x->info->model_ns, sy = y->info->model_ns;
  return sx > sy ? -1 : sx < sy ? 1 : strcmp(x->info->hash, y->info->hash);
}

static void group_kernels(kiln_tuner *T, const double *kernel_ns, int nprofiled) {
  int nk;
  const kiln_kernel **ks = kiln_steps_kernel_list(&T->p->main, &nk);
  T->u = kiln_xcalloc((size_t)nk + 1, sizeof *T->u);
  T->res->kernels = kiln_xcalloc((size_t)nk + 1, sizeof *T->res->kernels);
  for (int i = 0; i < nk; i++) {
    char hash[KILN_KERNEL_HASH_LEN + 1];
    if (!kiln_kernel_hash(ks[i], hash)) continue;
    int j = 0;
    while (j < T->nunique && strcmp(T->u[j].info->hash, hash)) j++;
    double ns = i < nprofiled ? kernel_ns[i] : 0;
    if (j < T->nunique) {
      T->u[j].info->count++;
      T->u[j].info->model_ns += ns;
      continue;
    }
    kiln_tune_unique *u = &T->u[T->nunique];
    kiln_tune_kernel *info = &T->res->kernels[T->nunique++];
    u->k = (kiln_kernel *)ks[i]; /* the program's own, which this tuner owns */
    u->info = info;
    memcpy(info->hash, hash, sizeof hash);
    info->name = kiln_xstrdup(ks[i]->name);
    info->op = kiln_xstrdup(ks[i]->op ? ks[i]->op : "?");
    info->count = 1;
    info->model_ns = ns;
    kiln_kernel_cost cost;
    kiln_kernel_cost_of(ks[i], &cost);
    info->flops = cost.flops;
    info->bytes = cost.bytes_read + cost.bytes_written;
    u->def = kiln_xcalloc((size_t)u->k->nstages + 1, sizeof *u->def);
    u->best = kiln_xcalloc((size_t)u->k->nstages + 1, sizeof *u->best);
    for (int s = 0; s < u->k->nstages; s++) u->def[s] = u->best[s] = u->k->stages[s].recipe;
  }
  T->res->nkernels = T->nunique;
  free(ks);
}

static int by_cost(const void *a, const void *b) {
  const kiln_tune_kernel *x = *(kiln_tune_kernel *const *)a, *y = *(kiln_tune_kernel *const *)b;
  return x->cost_ns > y->cost_ns ? -1 : x->cost_ns < y->cost_ns ? 1 : strcmp(x->hash, y->hash);
}

/* Nominal costs and the shard of every distinct kernel (kiln_tune_list). */
static void assign_shards(kiln_tune_kernel *ks, int n, int nshards) {
  kiln_tune_kernel **order = kiln_xcalloc((size_t)n + 1, sizeof *order);
  double *load = kiln_xcalloc((size_t)nshards, sizeof *load);
  for (int i = 0; i < n; i++) {
    kiln_tune_kernel *k = &ks[i];
    k->cost_ns = k->count * fmax(k->flops / 100.0, k->bytes / 10.0); /* 100 GFLOP/s, 10 GB/s */
    order[i] = k;
  }
  qsort(order, (size_t)n, sizeof *order, by_cost);
  for (int i = 0; i < n; i++) {
    int s = 0;
    for (int j = 1; j < nshards; j++)
      if (load[j] < load[s]) s = j;
    load[s] += order[i]->cost_ns;
    order[i]->shard = s + 1;
  }
  free(order);
  free(load);
}

static int by_kernel_share(const void *a, const void *b) {
  const kiln_tune_kernel *x = a, *y = b;
  double sx = x->model_ns, sy = y->model_ns;
  return sx > sy ? -1 : sx < sy ? 1 : strcmp(x->hash, y->hash);
}

static int by_kernel_cost(const void *a, const void *b) {
  const kiln_tune_kernel *x = a, *y = b;
  return x->cost_ns > y->cost_ns ? -1 : x->cost_ns < y->cost_ns ? 1 : strcmp(x->hash, y->hash);
}

/* Compiles may overlap measurements only on a CPU the measurement leaves free: with fewer
 * threads (the calling thread's count, kiln_rt_set_num_threads) than CPUs kiln may use. */
static bool spare_cpu(void) {
  cpu_set_t mask;
  int cpus = sched_getaffinity(0, sizeof mask, &mask) == 0 ? CPU_COUNT(&mask) : 1;
  return kiln_rt_num_threads() < cpus;
}

/* A program with syms left (a size its run computes, NonZero's count) is not tuned. */
static kiln_status check_tunable(const kiln_program *p, kiln_error *err) {
  if (p && p->strings) /* its runs' outputs would be strings to compare and free */
    return kiln_fail(err, KILN_ERR_UNSUPPORTED, "the model has string tensors: tuning them is "
                     "not supported yet");
  if (!p || !p->nsyms) return KILN_OK;
  return kiln_fail(err, KILN_ERR_UNSUPPORTED, "'%s' is a size the run computes from values: "
                   "tuning kernels with run-time sizes is not supported yet", p->sym_names[0]);
}

/* A tuner compiling with opts, minus what the tuner sets itself (no log, no profiling). */
static kiln_status tuner_init(kiln_tuner *T, const kiln_options *opts, kiln_tune_result *res,
                              kiln_error *err) {
  memset(res, 0, sizeof *res);
  T->res = res;
  kiln_status st = kiln_options_read(opts, &T->opts, err);
  if (!st && T->opts.symbolic_dims)
    st = kiln_fail(err, KILN_ERR_UNSUPPORTED, "symbolic_dims: the generic code of a model with "
                   "free dims is not tuned: tune its shapes bound (kiln_options.shapes), as "
                   "`kiln tune --bucket` tunes each bucket");
  T->opts.tuning_log = NULL;
  T->opts.profile = 0;
  T->vf = kiln_target_vector_floats(&T->opts);
  return st;
}

kiln_status kiln_tune(const char *path, const kiln_options *opts, const kiln_tune_options *t,
                      kiln_tune_result *res, kiln_error *err) {
  kiln_tuner T = {0};
  kiln_status st = tuner_init(&T, opts, res, err);
  T.t = t;
  T.t0 = kiln_rt_clock_ns();
  T.rng = t->seed * 2654435761u + 1;
  kiln_tuning_log log = {0};
  kiln_tuning_target target = {0};
  kiln_model *m0 = NULL;
  kiln_tune_io b0 = {0};
  char *old = NULL;
  size_t oldlen = 0;
  kiln_rt_set_num_threads(T.opts.num_threads);
  T.overlap = res->overlap = spare_cpu();
  kiln_tuning_target_of(&T.opts, &target);

  /* the log first: a malformed one fails before any work */
  if (!st && t->log_path) st = read_raw(t->log_path, &old, &oldlen, err);
  if (!st && old) st = kiln_tuning_log_parse(&log, old, oldlen, t->log_path, err);
  res->records_read = log.n;
  /* the untuned model, profiled: each kernel's share of its time (profiling adds two
   * clock reads per kernel); its compile time sizes the reserve for the tuned one */
  kiln_options prof = T.opts;
  prof.profile = 1;
  if (!st) st = kiln_compile_file(path, &prof, &m0, err);
  if (!st) st = check_tunable(kiln_model_program(m0), err);
  double compile_s = kiln_tuner_elapsed(&T);
  int nk = m0 ? kiln_steps_kernels(&kiln_model_program(m0)->main, NULL, 0) : 0;
  double *kernel_ns = kiln_xcalloc((size_t)nk + 1, sizeof *kernel_ns);
  if (!st) {
    kiln_tune_io_make(m0, t->seed, &b0);
    kiln_tune_io *bs = &b0;
    st = kiln_tune_time_profiled((const kiln_model *const *)&m0, &bs, 1, 10, 0.02 * t->budget_s,
                                 &nk, &kernel_ns, &res->untuned_ms, err);
  }
  double e2e_s = kiln_tuner_elapsed(&T) - compile_s;
  /* the reserve: the tuned model compiled and timed, twice when kernels go back (finish) */
  T.search_end = t->budget_s - (2.3 * compile_s + 3 * e2e_s + 0.02 * t->budget_s + 0.05);
  /* the graph passes' choices first (not per shard: the kernels all shards measure must be
   * those of the model the merged log makes), with half the time their kernels' share of
   * the model would get; the kernels searched next are then those of the model as the
   * choices found make it, profiled again */
  kiln_temp chosen = {0};
  bool chosen_any = false; /* a choice point took another value than its default */
  kiln_options ko = T.opts; /* the kernels' compile: with the choices found */
  if (!st && t->log_path && t->nshards == 0 && kiln_model_program(m0)->choices.n) {
    char *scratch = kiln_fmt("%s.choices", t->log_path);
    int nvariants = 0; /* for corrupt_every */
    double share = kiln_tune_choices_share(m0, kernel_ns, nk), now = kiln_tuner_elapsed(&T);
    kiln_choice_tuner c = {path, &prof, m0, &b0, &target, scratch,
                           (double)T.t0 / 1e9 + now + 0.5 * share * (T.search_end - now),
                           compile_s, res->untuned_ms, t->corrupt_every, &nvariants};
    double *ns = NULL;
    int n = 0;
    st = kiln_tune_choices(&c, res, &chosen, &ns, &n, err);
    chosen_any = chosen.path != NULL;
    if (!st && chosen.path) { /* the kernels' shares in the model as the choices make it */
      ko.tuning_log = chosen.path;
      free(kernel_ns);
      kernel_ns = ns;
      nk = n;
    }
    free(scratch);
  }
  /* the kernels, before instrumentation (what the tune pass hashes), in the same order */
  if (!st) st = kiln_program_from_file(path, &ko, "schedule", &T.p, err);
  if (chosen.path) unlink(chosen.path);
  kiln_temp_forget(&chosen);
  if (!st) {
    int64_t weights = 0;
    for (int i = 0; i < T.p->nconsts; i++) weights += T.p->consts[i].bytes;
    T.cold = weights > last_level_cache_bytes();
    res->cold_weights = T.cold;
    group_kernels(&T, kernel_ns, nk);
    kiln_check_instrument(T.p, false);
    assign_shards(res->kernels, T.nunique, t->nshards > 0 ? t->nshards : 1);
    if (t->nshards > 0) /* another shard's kernels: no share of this one's time */
      for (int i = 0; i < T.nunique; i++)
        if (T.u[i].info->shard != t->shard) T.u[i].info->model_ns = 0;
  }
  free(kernel_ns);
  if (!st) kiln_tuner_progress(&T);
  /* by share, largest first: each kernel's default measured alone (its reference
   * outputs), a record of the log tried, then candidates, until its part of the time left */
  if (!st) {
    qsort(T.u, (size_t)T.nunique, sizeof *T.u, by_share);
    double left = 0, start_s = 0.1; /* what starting a kernel takes, as seen so far */
    for (int i = 0; i < T.nunique; i++) left += T.u[i].info->model_ns;
    for (int i = 0; i < T.nunique && left > 0 && !st; i++) {
      kiln_tune_unique *u = &T.u[i];
      double share = u->info->model_ns, now = kiln_tuner_elapsed(&T);
      if (now >= T.search_end) break;
      if (share <= 0) continue;
      /* the kernels after this one will need starting too: their time is kept aside */
      double free_s = T.search_end - now - start_s * (T.nunique - i - 1);
      st = kiln_tune_start(&T, u, &log, &target, err);
      start_s = 0.5 * start_s + 0.5 * (kiln_tuner_elapsed(&T) - now);
      if (!st && free_s > 0) kiln_tune_search(&T, u, now + free_s * share / left);
      left -= share;
      T.done = i + 1;
      kiln_tuner_progress(&T);
    }
  }
  /* the log: its old lines, then a record per measured kernel (its best, which may be the
   * default: a resumed search then knows it) */
  if (!st && t->log_path) st = write_log(&T, old, oldlen, &target, false, err);
  /* the model as the log makes it, checked against the untuned one and timed */
  if (!st && t->log_path)
    st = finish(&T, path, &prof, m0, &b0, old, oldlen, &target, compile_s, chosen_any, err);
  for (int i = 0; i < T.nunique; i++) kiln_tune_unique_free(&T.u[i]);
  free(T.u);
  if (res->nkernels)
    qsort(res->kernels, (size_t)res->nkernels, sizeof *res->kernels, by_kernel_share);
  kiln_program_free(T.p);
  kiln_model_free(m0);
  kiln_tune_io_free(&b0);
  free(old);
  kiln_tuning_log_free(&log);
  kiln_tuning_target_clear(&target);
  kiln_rt_set_num_threads(0);
  res->elapsed_s = kiln_tuner_elapsed(&T);
  return st;
}

kiln_status kiln_tune_list(const char *path, const kiln_options *opts, int nshards,
                           kiln_tune_result *res, kiln_error *err) {
  kiln_tuner T = {0};
  kiln_status st = tuner_init(&T, opts, res, err);
  if (!st) st = kiln_program_from_file(path, &T.opts, "schedule", &T.p, err);
  if (!st) st = check_tunable(T.p, err);
  if (!st) {
    group_kernels(&T, NULL, 0);
    kiln_tune_choices_list(T.p, res);
    assign_shards(res->kernels, T.nunique, nshards > 0 ? nshards : 1);
    qsort(res->kernels, (size_t)res->nkernels, sizeof *res->kernels, by_kernel_cost);
  }
  for (int i = 0; i < T.nunique; i++) kiln_tune_unique_free(&T.u[i]);
  free(T.u);
  kiln_program_free(T.p);
  return st;
}

void kiln_tune_result_free(kiln_tune_result *res) {
  for (int i = 0; i < res->nchoices; i++) {
    free(res->choices[i].point.node);
    free(res->choices[i].point.op);
  }
  free(res->choices);
  for (int i = 0; i < res->nkernels; i++) {
    free(res->kernels[i].name);
    free(res->kernels[i].op);
  }
  free(res->kernels);
  memset(res, 0, sizeof *res);
}
