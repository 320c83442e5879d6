/* The search of one distinct kernel's schedules, within the time kiln_tune
 * (runtime/tune.c) gives it. Candidates are edits of the best recipes so far (a split
 * factor changed or added, a loop moved, unroll/vector/parallel toggled, a prefetch
 * distance set, a step removed), each checked by kiln_schedule_apply before anything is
 * compiled, deduplicated by the loop nests they give, compiled, run once, compared with
 * the default outputs (a tolerance for floats, exact otherwise; a mismatch is dropped and
 * counted), and timed (a warm-up, then the median of enough runs) only when that first
 * run is not already much slower. One candidate is measured at a time; with a CPU the
 * measurement leaves free (fewer tuning threads than CPUs kiln may use), the next
 * candidate, drawn from the best known before this one is measured, compiles meanwhile
 * on a thread of its own, off the measuring thread's CPU. The best replaces the default
 * only when faster, alone and again when the two are timed in turns, so the result is
 * never slower than the default as measured. */
#define _GNU_SOURCE /* sched_getcpu */
#include "runtime/tune_search.h"

#include "ir/dtype.h"
#include "ir/graph.h"
#include "passes/tune.h"
#include "rt/parallel.h"

#include <math.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TRIES 300 /* edits tried for one new candidate */

static const int64_t FACTORS[] = {2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128};
#define NFACTORS (int)(sizeof FACTORS / sizeof FACTORS[0])

double kiln_tuner_elapsed(const kiln_tuner *T) {
  return (double)(kiln_rt_clock_ns() - T->t0) / 1e9;
}

static uint32_t rnd(kiln_tuner *T) {
  T->rng = T->rng * 1664525u + 1013904223u;
  return T->rng >> 8;
}

void kiln_tuner_progress(kiln_tuner *T) {
  if (!T->t->progress) return;
  kiln_tune_progress pr = {kiln_tuner_elapsed(T), T->t->budget_s, T->done, T->nunique, 0, 0};
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
static kiln_status check(kiln_tuner *T, kiln_tune_unique *u, kiln_kernel_runner *r, mode m,
                         double limit_ns, double *ns, bool *wrong, kiln_kernel_runner **keep,
                         kiln_error *err) {
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
    int64_t n = bytes / (int64_t)kiln_dtype_size(buf->dtype);
    if (!u->ref[b] || !same_values(buf->dtype, mem, u->ref[b], n))
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
static kiln_status measure(kiln_tuner *T, kiln_tune_unique *u, mode m, double limit_ns, double *ns,
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

static bool seen(kiln_tune_unique *u, uint64_t h) {
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
static bool edit(kiln_tuner *T, kiln_recipe *r, const kiln_schedule *sc) {
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
static bool next_candidate(kiln_tuner *T, kiln_tune_unique *u, int *stage, kiln_recipe *out) {
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

void kiln_tune_install(kiln_tune_unique *u, const kiln_recipe *r) {
  kiln_kernel_apply_recipes(u->k, r, u->k->nstages);
}

kiln_status kiln_tune_start(kiln_tuner *T, kiln_tune_unique *u, const kiln_tuning_log *log,
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
    kiln_tune_install(u, u->best);
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
  kiln_tune_install(u, u->best);
  return KILN_OK;
}

/* The test hook kiln_tune_options.alone_scale: 1 unless set. */
static double alone_scale(const kiln_tuner *T) {
  return T->t->alone_scale > 0 ? T->t->alone_scale : 1;
}

/* The default and the best found timed again, in turns: one fast run by chance (or a slow
 * default run) is no win. The best stays only if it is still 2% faster (less is within
 * the noise of a busy machine); the new medians are what the table and the log say. */
static void confirm(kiln_tuner *T, kiln_tune_unique *u) {
  if (!u->def_r || !u->best_r) return;
  kiln_rt_set_num_threads(T->opts.num_threads);
  double d[3], b[3];
  kiln_error e = {0};
  for (int i = 0; i < 3; i++) {
    if (time_runs(u->def_r, u->info->default_ns, &d[i], &e) ||
        time_runs(u->best_r, u->info->default_ns, &b[i], &e))
      return;
    b[i] *= alone_scale(T);
  }
  u->info->default_ns = kiln_median(d, 3);
  u->info->best_ns = kiln_median(b, 3);
  if (u->info->best_ns >= 0.98 * u->info->default_ns) { /* no clear win after all */
    u->info->best_ns = u->info->default_ns;
    u->info->from_log = false;
    for (int s = 0; s < u->k->nstages; s++) u->best[s] = u->def[s];
    kiln_tune_install(u, u->best);
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
static bool launch(kiln_tuner *T, kiln_tune_unique *u, candidate *c) {
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
static bool past_search_end(const kiln_tuner *T, const kiln_tune_unique *u) {
  return kiln_tuner_elapsed(T) + fmax(u->compile_s, T->slowest_compile_s) + u->measure_s >=
         T->search_end;
}

/* Candidates for u until end (seconds since t0), each only when its estimated cost fits.
 * Overlapping, candidate i+1 is launched before candidate i is measured, when both its
 * compile (alongside) and its measurement (after) fit; otherwise each is compiled, joined
 * and then measured. */
void kiln_tune_search(kiln_tuner *T, kiln_tune_unique *u, double end) {
  double t_start = kiln_tuner_elapsed(T);
  candidate cur, next;
  bool have_next = false;
  for (;;) {
    if (!have_next && (kiln_tuner_elapsed(T) + u->compile_s + u->measure_s >= end ||
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
    /* compiled past the end (slower than estimated): not measured */
    if (kiln_tuner_elapsed(T) >= end) {
      kiln_kernel_runner_free(r);
      break;
    }
    double now = kiln_tuner_elapsed(T);
    if (T->overlap && now + fmax(u->compile_s, u->measure_s) + u->measure_s < end &&
        !past_search_end(T, u))
      have_next = launch(T, u, &next);
    int64_t m0 = kiln_rt_clock_ns();
    double ns;
    bool wrong = false;
    kiln_kernel_runner *kept = NULL;
    if (!st) {
      st = check(T, u, r, M_CHECK, 1.5 * u->info->best_ns, &ns, &wrong, &kept, &e);
      ns *= alone_scale(T);
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
      kiln_tune_install(u, u->best);
    }
    kiln_kernel_runner_free(kept);
    kiln_tuner_progress(T);
  }
  confirm(T, u);
  kiln_kernel_runner_free(u->def_r);
  kiln_kernel_runner_free(u->best_r);
  u->def_r = u->best_r = NULL;
  u->info->search_s += kiln_tuner_elapsed(T) - t_start;
}

void kiln_tune_unique_free(kiln_tune_unique *u) {
  for (int b = 0; b < KILN_MAX_BUFS; b++) free(u->ref[b]);
  free(u->def);
  free(u->best);
  free(u->seen);
  kiln_kernel_runner_free(u->def_r);
  kiln_kernel_runner_free(u->best_r);
}
