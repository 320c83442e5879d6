/* The autotuner (runtime/tune.h). The model is built up to its default schedules and its
 * kernels grouped by content hash (ir/kernel_sig.h), so repeated blocks are tuned once.
 * Each distinct kernel is first measured alone with its default schedules
 * (runtime/kernel_run.h: its own JIT build, seeded random inputs): that gives its share of
 * the model's time and the reference outputs. A log read first contributes its matching
 * records as starting points (a resumed search). The search time left after reserving
 * the final compile is then divided among kernels in proportion to their shares, largest
 * first; for each, candidates are edits of the best recipes so far (a split factor
 * changed or added, a loop moved, unroll/vector/parallel toggled, a prefetch distance
 * set, a step removed), each
 * checked by kiln_schedule_apply before anything is compiled, deduplicated by the loop
 * nests they give, compiled, run once, compared with the default outputs (a tolerance
 * for floats, exact otherwise; a mismatch is dropped and counted), and timed (a warm-up,
 * then the median of enough runs) only when that first run is not already much slower.
 * One candidate is measured at a time; with a CPU the measurement leaves free (fewer
 * tuning threads than CPUs kiln may use), the next candidate, drawn from the best known
 * before this one is measured, compiles meanwhile on a thread of its own, off the
 * measuring thread's CPU. The best replaces the default only when faster,
 * so the result is never slower than the default as measured. At the end the log is
 * written and the model compiled with it and timed end to end against the untuned one. */
#define _GNU_SOURCE /* sched_getaffinity, sched_getcpu */
#include "runtime/tune.h"

#include "ir/dtype.h"
#include "ir/graph.h"
#include "ir/kernel_cost.h"
#include "ir/schedule.h"
#include "ir/tuning_log.h"
#include "passes/instrument.h"
#include "passes/passes.h"
#include "passes/tune.h"
#include "rt/parallel.h"
#include "runtime/kernel_run.h"
#include "runtime/options.h"
#include "runtime/profile.h"
#include "runtime/tune_choice.h"
#include "runtime/tune_model.h"

#include <errno.h>
#include <math.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_TRIES 300          /* edits tried for one new candidate */
#define E2E_SLOWER 1.03        /* a tuned model this much slower than the untuned keeps the
                                  default schedules */

static const int64_t FACTORS[] = {2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128};
#define NFACTORS (int)(sizeof FACTORS / sizeof FACTORS[0])

typedef struct unique {
  kiln_kernel *k;           /* the first instance; the others share its hash */
  kiln_tune_kernel *info;
  kiln_recipe *def, *best;  /* per stage */
  void *ref[KILN_MAX_BUFS]; /* the default schedules' outputs, per output buffer */
  int nseen, seen_cap;
  uint64_t *seen;           /* loop nests measured or queued, hashed */
  double compile_s, measure_s; /* one candidate's compile and measurement, estimated */
  kiln_kernel_runner *def_r, *best_r; /* compiled default and best, timed again at the end */
} unique;

typedef struct tuner {
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
  unique *u;
  int ncandidates;          /* for corrupt_every */
  int done;                 /* kernels whose search is over */
  bool cold;                /* the weights exceed the last-level cache: time kernels with
                             * theirs evicted, as the model runs them */
  bool overlap;             /* a CPU is spare: compile the next candidate while measuring */
  int vf;                   /* floats in a vector register of the target */
} tuner;

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

static double elapsed(const tuner *T) { return (double)(kiln_rt_clock_ns() - T->t0) / 1e9; }

static uint32_t rnd(tuner *T) {
  T->rng = T->rng * 1664525u + 1013904223u;
  return T->rng >> 8;
}

static void progress(tuner *T) {
  if (!T->t->progress) return;
  kiln_tune_progress pr = {elapsed(T), T->t->budget_s, T->done, T->nunique, 0, 0};
  for (int i = 0; i < T->nunique; i++) { /* the model's times, scaled by the kernels' gains */
    const kiln_tune_kernel *k = T->u[i].info;
    pr.untuned_ns += k->model_ns;
    pr.tuned_ns += k->default_ns > 0 ? k->model_ns * k->best_ns / k->default_ns : k->model_ns;
  }
  T->t->progress(T->t->ctx, &pr);
}

/* ---- one measurement --------------------------------------------------------------- */

static int64_t buf_bytes(const kiln_buffer *b) {
  return kiln_shape_numel(b->rank, b->dims) * (int64_t)kiln_dtype_size(b->dtype);
}

static bool is_output(const kiln_buffer *b) { return b->role == KILN_BUF_OUTPUT; }

/* got within tolerance of want: for floats |got - want| <= 1e-4 |want| + 1e-5 max|want|
 * (+ a tiny absolute term; NaN where want is NaN), reordered sums stay inside it and a
 * misplaced or missing term does not; integers and bools exactly. */
static bool same_values(kiln_dtype t, const void *got, const void *want, int64_t n) {
  if (!kiln_dtype_is_float(t)) return memcmp(got, want, (size_t)n * kiln_dtype_size(t)) == 0;
  double scale = 0;
  for (int64_t i = 0; i < n; i++) {
    double w = fabs(kiln_load_f64(t, want, i));
    if (isfinite(w) && w > scale) scale = w;
  }
  for (int64_t i = 0; i < n; i++) {
    double a = kiln_load_f64(t, got, i), b = kiln_load_f64(t, want, i);
    if (isnan(b) ? !isnan(a) : !(fabs(a - b) <= 1e-4 * fabs(b) + 1e-5 * scale + 1e-6) && a != b)
      return false;
  }
  return true;
}

typedef enum { M_DEFAULT, M_CHECK } mode;

/* A running estimate: the first sample, then halfway to each new one. */
static void estimate(double *e, double sample) { *e = *e > 0 ? 0.5 * *e + 0.5 * sample : sample; }

/* The median time of r over runs for about 2 ms by one run's time ns (5 to 200 runs),
 * cut short after 10 ms: on a loaded machine each run of a threaded kernel can wait for
 * a descheduled worker, and a count alone then takes seconds. */
static kiln_status time_runs(kiln_kernel_runner *r, double ns, double *median, kiln_error *err) {
  int repeat = ns > 0 ? (int)(2e6 / ns) : 200;
  repeat = repeat < 5 ? 5 : repeat > 200 ? 200 : repeat;
  return kiln_kernel_runner_time(r, repeat, 1e7, median, err);
}

/* Runs r (u's kernel compiled) once; M_DEFAULT keeps the outputs as the reference,
 * M_CHECK compares them with it (*wrong). Then, unless that run took over limit_ns, the
 * median of repeated runs into *ns (else the one run's time). Frees r unless *keep takes
 * it (keep non-NULL, r timed). */
static kiln_status check(tuner *T, unique *u, kiln_kernel_runner *r, mode m, double limit_ns,
                         double *ns, bool *wrong, kiln_kernel_runner **keep, kiln_error *err) {
  kiln_kernel *k = u->k; /* its buffers are r's kernel's */
  *wrong = false;
  kiln_rt_set_num_threads(T->opts.num_threads); /* kiln_run resets it */
  kiln_kernel_runner_set_cold(r, T->cold);
  int64_t t0 = kiln_rt_clock_ns();
  kiln_status st = kiln_kernel_runner_run(r, err);
  double first = (double)(kiln_rt_clock_ns() - t0);
  bool corrupt = m == M_CHECK && T->t->corrupt_every > 0 &&
                 ++T->ncandidates % T->t->corrupt_every == 0;
  for (int b = 0; b < k->nbufs && !st; b++) {
    const kiln_buffer *buf = &k->bufs[b];
    void *mem = kiln_kernel_runner_buffer(r, b);
    int64_t bytes = buf_bytes(buf);
    if (!is_output(buf) || !mem || bytes <= 0) continue;
    if (m == M_DEFAULT) {
      u->ref[b] = kiln_xmalloc((size_t)bytes);
      memcpy(u->ref[b], mem, (size_t)bytes);
      continue;
    }
    if (corrupt) {
      corrupt = false;
      /* a high bit of the first element's top byte: its exponent for floats */
      ((unsigned char *)mem)[kiln_dtype_size(buf->dtype) - 1] ^= 0x40;
    }
    if (!u->ref[b] || !same_values(buf->dtype, mem, u->ref[b], bytes / (int64_t)kiln_dtype_size(buf->dtype)))
      *wrong = true;
  }
  *ns = first;
  if (!st && !*wrong && first <= limit_ns) {
    st = time_runs(r, first, ns, err);
    if (!st && keep) { /* the caller keeps it, to time it again */
      *keep = r;
      r = NULL;
    }
  }
  kiln_kernel_runner_free(r);
  return st;
}

/* Compiles u's kernel as scheduled now (on this thread) and checks it: u's estimates of a
 * compile and a measurement get its times. */
static kiln_status measure(tuner *T, unique *u, mode m, double limit_ns, double *ns,
                           bool *wrong, kiln_kernel_runner **keep, kiln_error *err) {
  kiln_kernel_runner *r = NULL;
  *wrong = false;
  int64_t t0 = kiln_rt_clock_ns();
  kiln_status st = kiln_kernel_runner_new(T->p, u->k, &T->opts, T->t->seed, &r, err);
  int64_t t1 = kiln_rt_clock_ns();
  if (st) return st;
  estimate(&u->compile_s, (double)(t1 - t0) / 1e9);
  st = check(T, u, r, m, limit_ns, ns, wrong, keep, err);
  estimate(&u->measure_s, (double)(kiln_rt_clock_ns() - t1) / 1e9);
  return st;
}

/* ---- candidates --------------------------------------------------------------------- */

/* The loop nests of k's stages, stage s's replaced by sched, hashed. */
static uint64_t nest_hash(const kiln_kernel *k, int s, const kiln_schedule *sched) {
  uint64_t h = KILN_FNV1A_START;
  for (int i = 0; i < k->nstages; i++) {
    const kiln_schedule *sc = i == s ? sched : &k->stages[i].sched;
    for (int l = 0; l < sc->nloops; l++) {
      const kiln_loop *lp = &sc->loops[l];
      int64_t v[4] = {lp->axis, lp->stride, lp->extent, lp->kind};
      h = kiln_fnv1a(h, v, sizeof v);
    }
    if (sc->prefetch_ahead > 0) {
      int64_t v[2] = {sc->prefetch_axis, sc->prefetch_ahead};
      h = kiln_fnv1a(h, v, sizeof v);
    }
    h = kiln_fnv1a(h, "|", 1);
  }
  return h;
}

static bool seen(unique *u, uint64_t h) {
  for (int i = 0; i < u->nseen; i++)
    if (u->seen[i] == h) return true;
  KILN_GROW(u->seen, u->nseen, u->seen_cap);
  u->seen[u->nseen++] = h;
  return false;
}

static double iterations(const kiln_stage *s) {
  double n = 1;
  for (int a = 0; a < s->naxes; a++) n *= (double)s->axes[a].extent;
  return n;
}

/* One edit of r for a nest sc; false when the edit drawn does not fit, or sc has no loop
 * to edit (a scalar stage). */
static bool edit(tuner *T, kiln_recipe *r, const kiln_schedule *sc) {
  if (sc->nloops < 1) return false;
  int nl = sc->nloops, l = (int)(rnd(T) % (uint32_t)nl);
  int64_t f = FACTORS[rnd(T) % NFACTORS];
  switch (rnd(T) % 8) {
  case 0: { /* another split factor */
    int splits[KILN_MAX_RECIPE], n = 0;
    for (int i = 0; i < r->nsteps; i++)
      if (r->steps[i].op == KS_SPLIT) splits[n++] = i;
    if (!n) return false;
    r->steps[splits[rnd(T) % (uint32_t)n]].arg = f;
    return true;
  }
  case 1: return f < sc->loops[l].extent && kiln_recipe_add(r, KS_SPLIT, l, f);
  case 2: {
    int to = (int)(rnd(T) % (uint32_t)nl);
    return to != l && kiln_recipe_add(r, KS_MOVE, l, to);
  }
  case 3:
    return kiln_recipe_add(r, sc->loops[l].kind == KILN_LOOP_UNROLL ? KS_SERIAL : KS_UNROLL, l, 0);
  case 4:
    return kiln_recipe_add(r, sc->loops[nl - 1].kind == KILN_LOOP_VECTOR ? KS_SERIAL : KS_VECTOR,
                           nl - 1, 0);
  case 5:
    if (sc->loops[0].kind == KILN_LOOP_PARALLEL && rnd(T) % 2) {
      for (int i = 0; i < r->nsteps; i++) /* drop the parallel step: all serial again */
        if (r->steps[i].op == KS_PARALLEL) {
          memmove(&r->steps[i], &r->steps[i + 1], sizeof r->steps[0] * (size_t)(r->nsteps - i - 1));
          r->nsteps--;
          return true;
        }
      return false;
    }
    return kiln_recipe_add(r, KS_PARALLEL, l < 3 ? l : l % 3, 0);
  case 6: /* prefetch along loop l, f iterations ahead (a later step replaces an earlier) */
    return f <= sc->loops[l].extent && kiln_recipe_add(r, KS_PREFETCH, l, f);
  default: {
    if (!r->nsteps) return false;
    int i = (int)(rnd(T) % (uint32_t)r->nsteps);
    memmove(&r->steps[i], &r->steps[i + 1], sizeof r->steps[0] * (size_t)(r->nsteps - i - 1));
    r->nsteps--;
    return true;
  }
  }
}

/* A new legal candidate for one stage of u's kernel (installed at its best): *stage and
 * its recipe. False when MAX_TRIES edits gave none. */
static bool next_candidate(tuner *T, unique *u, int *stage, kiln_recipe *out) {
  kiln_kernel *k = u->k;
  double total = 0;
  for (int s = 0; s < k->nstages; s++) total += iterations(&k->stages[s]);
  for (int tries = 0; tries < MAX_TRIES; tries++) {
    /* a stage drawn in proportion to its iterations: the big nest of a conv kernel, not
     * the border copies around it */
    double x = (double)(rnd(T) % 1000000) / 1e6 * total;
    int s = 0;
    while (s < k->nstages - 1 && (x -= iterations(&k->stages[s])) >= 0) s++;
    kiln_stage tmp = k->stages[s]; /* a scratch copy: apply changes sched and recipe only */
    kiln_recipe r = u->best[s];
    if (!edit(T, &r, &tmp.sched)) continue;
    kiln_error e = {0};
    if (kiln_schedule_apply(&tmp, &r, &e)) {
      u->info->refused++;
      T->res->refused++;
      continue;
    }
    if (kiln_tune_too_costly(&tmp, T->vf) || seen(u, nest_hash(k, s, &tmp.sched))) continue;
    kiln_recipe canon; /* the same nest by the shortest recipe kiln_recipe_for makes */
    *out = kiln_recipe_for(&tmp, &tmp.sched, &canon) ? canon : r;
    *stage = s;
    return true;
  }
  return false;
}

/* ---- per kernel --------------------------------------------------------------------- */

static void install(unique *u, const kiln_recipe *r) {
  kiln_kernel_apply_recipes(u->k, r, u->k->nstages);
}

/* The default's time and outputs, then a matching record of the log read first. */
static kiln_status start(tuner *T, unique *u, const kiln_tuning_log *log,
                         const kiln_tuning_target *target, kiln_error *err) {
  double ns;
  bool wrong;
  kiln_status st = measure(T, u, M_DEFAULT, INFINITY, &ns, &wrong, &u->def_r, err);
  if (st) return st;
  u->info->default_ns = u->info->best_ns = ns;
  seen(u, nest_hash(u->k, -1, NULL));
  const kiln_tuning_record *rec =
      kiln_tuning_log_best(log, u->info->hash, u->k->nstages, target, KILN_VERSION, NULL);
  if (!rec || !kiln_kernel_apply_recipes(u->k, rec->recipes, rec->nstages)) return KILN_OK;
  if (seen(u, nest_hash(u->k, -1, NULL))) { /* the default's nests again */
    install(u, u->best);
    return KILN_OK;
  }
  kiln_error e = {0};
  kiln_kernel_runner *r = NULL;
  if (!measure(T, u, M_CHECK, 2 * ns, &ns, &wrong, &r, &e) && !wrong && ns < u->info->best_ns) {
    u->best_r = r;
    r = NULL;
    u->info->best_ns = ns;
    u->info->from_log = true;
    for (int s = 0; s < u->k->nstages; s++) u->best[s] = u->k->stages[s].recipe;
  }
  kiln_kernel_runner_free(r);
  install(u, u->best);
  return KILN_OK;
}

/* The default and the best found timed again, in turns: one fast run by chance (or a slow
 * default run) is no win. The best stays only if it is still 2% faster (less is within
 * the noise of a busy machine); the new medians are what the table and the log say. */
static void confirm(tuner *T, unique *u) {
  if (!u->def_r || !u->best_r) return;
  kiln_rt_set_num_threads(T->opts.num_threads);
  double d[3], b[3];
  kiln_error e = {0};
  for (int i = 0; i < 3; i++) {
    if (time_runs(u->def_r, u->info->default_ns, &d[i], &e) ||
        time_runs(u->best_r, u->info->default_ns, &b[i], &e))
      return;
  }
  u->info->default_ns = kiln_median(d, 3);
  u->info->best_ns = kiln_median(b, 3);
  if (u->info->best_ns >= 0.98 * u->info->default_ns) { /* no clear win after all */
    u->info->best_ns = u->info->default_ns;
    u->info->from_log = false;
    for (int s = 0; s < u->k->nstages; s++) u->best[s] = u->def[s];
    install(u, u->best);
  }
}

/* A candidate: a stage's recipe, compiling (kiln_kernel_compile_start). */
typedef struct candidate {
  int stage;
  kiln_recipe recipe;           /* as kiln_schedule_apply left it */
  kiln_kernel_compile *compile;
  int64_t hidden_from, hidden_to; /* the measurement it compiled behind (0, 0: none) */
} candidate;

/* Draws u's next candidate and starts compiling it: u's kernel (left at its best) copied
 * with the candidate's schedule, on a thread kept off this one's CPU when overlapping. */
static bool launch(tuner *T, unique *u, candidate *c) {
  kiln_recipe r;
  while (next_candidate(T, u, &c->stage, &r)) {
    kiln_stage *st = &u->k->stages[c->stage], saved = *st; /* apply changes sched and recipe */
    kiln_error e = {0};
    if (kiln_schedule_apply(st, &r, &e)) { /* cannot happen: checked */
      *st = saved;
      continue;
    }
    c->recipe = st->recipe;
    c->compile = kiln_kernel_compile_start(T->p, u->k, &T->opts, T->t->seed,
                                           T->overlap ? sched_getcpu() : -1);
    c->hidden_from = c->hidden_to = 0;
    *st = saved;
    return true;
  }
  return false;
}

/* Would a candidate of u started now run past the search's end, at its slowest? */
static bool past_search_end(const tuner *T, const unique *u) {
  return elapsed(T) + fmax(u->compile_s, T->slowest_compile_s) + u->measure_s >= T->search_end;
}

/* Candidates for u until end (seconds since t0), each only when its estimated cost fits.
 * Overlapping, candidate i+1 is launched before candidate i is measured, when both its
 * compile (alongside) and its measurement (after) fit; otherwise each is compiled, joined
 * and then measured. */
static void search(tuner *T, unique *u, double end) {
  double t_start = elapsed(T);
  candidate cur, next;
  bool have_next = false;
  for (;;) {
    if (!have_next && (elapsed(T) + u->compile_s + u->measure_s >= end ||
                       past_search_end(T, u) || !launch(T, u, &next)))
      break;
    cur = next;
    have_next = false;
    kiln_kernel_runner *r = NULL;
    kiln_error e = {0};
    int64_t c0, c1;
    kiln_status st = kiln_kernel_compile_join(cur.compile, &r, &c0, &c1, &e);
    estimate(&u->compile_s, (double)(c1 - c0) / 1e9);
    T->slowest_compile_s = fmax(T->slowest_compile_s, (double)(c1 - c0) / 1e9);
    T->res->compile_s += (double)(c1 - c0) / 1e9;
    int64_t h0 = c0 > cur.hidden_from ? c0 : cur.hidden_from;
    int64_t h1 = c1 < cur.hidden_to ? c1 : cur.hidden_to;
    if (h1 > h0) T->res->hidden_s += (double)(h1 - h0) / 1e9;
    if (elapsed(T) >= end) { /* compiled past the end (slower than estimated): not measured */
      kiln_kernel_runner_free(r);
      break;
    }
    double now = elapsed(T);
    if (T->overlap && now + fmax(u->compile_s, u->measure_s) + u->measure_s < end &&
        !past_search_end(T, u))
      have_next = launch(T, u, &next);
    int64_t m0 = kiln_rt_clock_ns();
    double ns;
    bool wrong = false;
    kiln_kernel_runner *kept = NULL;
    if (!st) {
      st = check(T, u, r, M_CHECK, 1.5 * u->info->best_ns, &ns, &wrong, &kept, &e);
      int64_t m1 = kiln_rt_clock_ns();
      estimate(&u->measure_s, (double)(m1 - m0) / 1e9);
      T->res->measure_s += (double)(m1 - m0) / 1e9;
      if (have_next) {
        next.hidden_from = m0;
        next.hidden_to = m1;
      }
    }
    u->info->candidates++;
    T->res->candidates++;
    if (!st && wrong) {
      u->info->wrong++;
      T->res->wrong++;
    }
    if (!st && !wrong && ns < 0.99 * u->info->best_ns) {
      u->info->best_ns = ns;
      u->info->from_log = false;
      u->best[cur.stage] = cur.recipe;
      kiln_kernel_runner_free(u->best_r);
      u->best_r = kept;
      kept = NULL;
      install(u, u->best);
    }
    kiln_kernel_runner_free(kept);
    progress(T);
  }
  confirm(T, u);
  kiln_kernel_runner_free(u->def_r);
  kiln_kernel_runner_free(u->best_r);
  u->def_r = u->best_r = NULL;
  u->info->search_s += elapsed(T) - t_start;
}

/* Do a and b run the same kernels with the same schedules (a log that changed nothing)? */
static bool same_code(const kiln_program *a, const kiln_program *b) {
  int n = kiln_steps_kernels(&a->main, NULL, 0);
  if (n != kiln_steps_kernels(&b->main, NULL, 0)) return false;
  const kiln_kernel **ka = kiln_xcalloc((size_t)n + 1, sizeof *ka), **kb = kiln_xcalloc((size_t)n + 1, sizeof *kb);
  kiln_steps_kernels(&a->main, ka, n);
  kiln_steps_kernels(&b->main, kb, n);
  bool same = true;
  for (int i = 0; i < n && same; i++) {
    char ha[KILN_KERNEL_HASH_LEN + 1], hb[KILN_KERNEL_HASH_LEN + 1];
    same = ka[i]->nstages == kb[i]->nstages && kiln_kernel_hash(ka[i], ha) &&
           kiln_kernel_hash(kb[i], hb) && !strcmp(ha, hb);
    for (int s = 0; s < ka[i]->nstages && same; s++) {
      char *ra = kiln_recipe_text(&ka[i]->stages[s].recipe), *rb = kiln_recipe_text(&kb[i]->stages[s].recipe);
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
static kiln_status write_log(tuner *T, const char *old, size_t oldlen,
                             const kiln_tuning_target *target, bool defaults, kiln_error *err) {
  kiln_tune_result *res = T->res;
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  if (!f) return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "tuning log: out of memory");
  res->records_written = 0;
  if (oldlen && old[oldlen - 1] != '\n') fputc('\n', f);
  for (int i = 0; defaults && i < res->nchoices; i++) {
    res->choices[i].best = res->choices[i].def;
    res->choices[i].best_ns = res->choices[i].default_ns;
  }
  res->records_written += kiln_tune_choices_write(res, target, f);
  for (int i = 0; i < T->nunique; i++) {
    unique *u = &T->u[i];
    if (!u->info->default_ns) continue;
    if (defaults) install(u, u->def);
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
    return kiln_fail(err, KILN_ERR_IO, "tuning log '%s' is not a regular file of at most 1 GiB", path);
  }
  *text = kiln_xmalloc((size_t)sb.st_size + 1);
  *len = fread(*text, 1, (size_t)sb.st_size, f);
  bool bad = ferror(f) || *len != (size_t)sb.st_size;
  fclose(f);
  if (bad) return kiln_fail(err, KILN_ERR_IO, "cannot read tuning log '%s'", path);
  return KILN_OK;
}

/* ---- kiln_tune ------------------------------------------------------------------------- */

static int by_share(const void *a, const void *b) {
  const unique *x = a, *y = b;
  double sx = x->info->model_ns, sy = y->info->model_ns;
  return sx > sy ? -1 : sx < sy ? 1 : strcmp(x->info->hash, y->info->hash);
}

static void group_kernels(tuner *T, const double *kernel_ns, int nprofiled) {
  int nk = kiln_steps_kernels(&T->p->main, NULL, 0);
  const kiln_kernel **ks = kiln_xcalloc((size_t)nk + 1, sizeof *ks);
  kiln_steps_kernels(&T->p->main, ks, nk);
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
    unique *u = &T->u[T->nunique];
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
static kiln_status tuner_init(tuner *T, const kiln_options *opts, kiln_tune_result *res,
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
  tuner T = {0};
  kiln_status st = tuner_init(&T, opts, res, err);
  T.t = t;
  T.t0 = kiln_rt_clock_ns();
  T.rng = t->seed * 2654435761u + 1;
  kiln_tuning_log log = {0};
  kiln_tuning_target target = {0};
  kiln_model *m0 = NULL, *m1 = NULL;
  kiln_tune_io b0 = {0}, b1 = {0};
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
  double compile_s = elapsed(&T);
  int nk = m0 ? kiln_steps_kernels(&kiln_model_program(m0)->main, NULL, 0) : 0;
  double *kernel_ns = kiln_xcalloc((size_t)nk + 1, sizeof *kernel_ns);
  if (!st) {
    kiln_tune_io_make(m0, t->seed, &b0);
    kiln_tune_io *bs = &b0;
    st = kiln_tune_time_profiled((const kiln_model *const *)&m0, &bs, 1, 10, 0.02 * t->budget_s,
                                 &nk, &kernel_ns, &res->untuned_ms, err);
  }
  double e2e_s = elapsed(&T) - compile_s;
  T.search_end = t->budget_s - (1.3 * compile_s + 2 * e2e_s + 0.02 * t->budget_s + 0.05);
  /* the graph passes' choices first (not per shard: the kernels all shards measure must be
   * those of the model the merged log makes), with half the time their kernels' share of
   * the model would get; the kernels searched next are then those of the model as the
   * choices found make it, profiled again */
  kiln_temp chosen = {0};
  kiln_options ko = T.opts; /* the kernels' compile: with the choices found */
  if (!st && t->log_path && t->nshards == 0 && kiln_model_program(m0)->choices.n) {
    char *scratch = kiln_fmt("%s.choices", t->log_path);
    int nvariants = 0; /* for corrupt_every */
    double share = kiln_tune_choices_share(m0, kernel_ns, nk), now = elapsed(&T);
    kiln_choice_tuner c = {path, &prof, m0, &b0, &target, scratch,
                           (double)T.t0 / 1e9 + now + 0.5 * share * (T.search_end - now),
                           compile_s, res->untuned_ms, t->corrupt_every, &nvariants};
    double *ns = NULL;
    int n = 0;
    st = kiln_tune_choices(&c, res, &chosen, &ns, &n, err);
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
  if (!st) progress(&T);
  /* by share, largest first: each kernel's default measured alone (its reference
   * outputs), a record of the log tried, then candidates, until its part of the time left */
  if (!st) {
    qsort(T.u, (size_t)T.nunique, sizeof *T.u, by_share);
    double left = 0, start_s = 0.1; /* what starting a kernel takes, as seen so far */
    for (int i = 0; i < T.nunique; i++) left += T.u[i].info->model_ns;
    for (int i = 0; i < T.nunique && left > 0 && !st; i++) {
      unique *u = &T.u[i];
      double share = u->info->model_ns, now = elapsed(&T);
      if (now >= T.search_end) break;
      if (share <= 0) continue;
      /* the kernels after this one will need starting too: their time is kept aside */
      double free_s = T.search_end - now - start_s * (T.nunique - i - 1);
      st = start(&T, u, &log, &target, err);
      start_s = 0.5 * start_s + 0.5 * (elapsed(&T) - now);
      if (!st && free_s > 0) search(&T, u, now + free_s * share / left);
      left -= share;
      T.done = i + 1;
      progress(&T);
    }
  }
  /* the log: its old lines, then a record per measured kernel (its best, which may be the
   * default: a resumed search then knows it) */
  if (!st && t->log_path) st = write_log(&T, old, oldlen, &target, false, err);
  /* the model as the log makes it, checked against the untuned one and timed, planned to
   * end within the budget: the 10% the command may take over is for a compile slower than
   * estimated, which is not interrupted */
  if (!st && t->log_path && elapsed(&T) + compile_s < t->budget_s) {
    kiln_options o = prof; /* timed like the untuned one */
    o.tuning_log = t->log_path;
    st = kiln_compile_file(path, &o, &m1, err);
    /* the same code (nothing beat a default): nothing to time; the test hook tuned_scale
     * times it all the same */
    res->unchanged = !st && !(t->tuned_scale > 0) &&
                     same_code(kiln_model_program(m0), kiln_model_program(m1));
    if (!st && !res->unchanged) {
      kiln_tune_io_make(m1, t->seed, &b1);
      double left = t->budget_s - elapsed(&T);
      st = kiln_tune_time_pair(m0, &b0, m1, &b1, 30, left > 0 ? left : 0,
                     &res->untuned_ms, &res->tuned_ms, err);
    }
    if (!st && !res->unchanged) res->max_error = kiln_tune_max_error(&b1, &b0);
    /* kernels faster alone but the model slower with them (their neighbours' caches, the
     * thread pool's hand-offs): the log records the defaults, as measured best */
    double scale = t->tuned_scale > 0 ? t->tuned_scale : 1;
    if (!st && !res->unchanged && res->tuned_ms * scale > E2E_SLOWER * res->untuned_ms) {
      res->kept_defaults = true;
      st = write_log(&T, old, oldlen, &target, true, err);
    }
  }
  for (int i = 0; i < T.nunique; i++) {
    for (int b = 0; b < KILN_MAX_BUFS; b++) free(T.u[i].ref[b]);
    free(T.u[i].def);
    free(T.u[i].best);
    free(T.u[i].seen);
    kiln_kernel_runner_free(T.u[i].def_r);
    kiln_kernel_runner_free(T.u[i].best_r);
  }
  free(T.u);
  if (res->nkernels) qsort(res->kernels, (size_t)res->nkernels, sizeof *res->kernels, by_kernel_share);
  kiln_program_free(T.p);
  kiln_model_free(m0);
  kiln_model_free(m1);
  kiln_tune_io_free(&b0);
  kiln_tune_io_free(&b1);
  free(old);
  kiln_tuning_log_free(&log);
  kiln_tuning_target_clear(&target);
  kiln_rt_set_num_threads(0);
  res->elapsed_s = elapsed(&T);
  return st;
}

kiln_status kiln_tune_list(const char *path, const kiln_options *opts, int nshards,
                           kiln_tune_result *res, kiln_error *err) {
  tuner T = {0};
  kiln_status st = tuner_init(&T, opts, res, err);
  if (!st) st = kiln_program_from_file(path, &T.opts, "schedule", &T.p, err);
  if (!st) st = check_tunable(T.p, err);
  if (!st) {
    group_kernels(&T, NULL, 0);
    kiln_tune_choices_list(T.p, res);
    assign_shards(res->kernels, T.nunique, nshards > 0 ? nshards : 1);
    qsort(res->kernels, (size_t)res->nkernels, sizeof *res->kernels, by_kernel_cost);
  }
  for (int i = 0; i < T.nunique; i++) {
    free(T.u[i].def);
    free(T.u[i].best);
  }
  free(T.u);
  kiln_program_free(T.p);
  return st;
}

void kiln_tune_result_free(kiln_tune_result *res) {
  for (int i = 0; i < res->nchoices; i++) {
    free(res->choices[i].node);
    free(res->choices[i].op);
  }
  free(res->choices);
  for (int i = 0; i < res->nkernels; i++) {
    free(res->kernels[i].name);
    free(res->kernels[i].op);
  }
  free(res->kernels);
  memset(res, 0, sizeof *res);
}
