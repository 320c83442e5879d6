/* The tuner's graph-level choices (runtime/tune_choice.h). A choice such as a GEMM's panel
 * width changes the kernel holding the node, not only its schedule: another value makes
 * another kernel, whose hash no schedule record shares. So each value is measured in a
 * model compiled with it: one compile per choice and value, every point of that choice
 * that allows the value taking it at once (their kernels are separate, so one model
 * measures them all), run in turns with the untuned model, each run profiled. A point's
 * time is that of the kernels named after its nodes (a fused kernel takes its first
 * node's name), so the value is judged where it lands: with the kernel's fused epilogue,
 * its real weights and the caches as the model leaves them. A whole-model point (the
 * layout's block) is judged on all the kernels but those of other points. */
#include "runtime/tune_choice.h"

#include "ir/dtype.h"
#include "ir/tempfile.h"
#include "rt/parallel.h"
#include "runtime/profile.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BETTER 0.97     /* a value must run its kernels 3% faster than the default's */
#define MAX_ERROR 1e-4  /* outputs, relative to each output's largest magnitude */
#define RUNS 15

typedef struct kiln_choice_try { /* a model to measure: choice what with value */
  const char *what;
  int value;
} kiln_choice_try;

static double now_s(void) { return (double)kiln_rt_clock_ns() / 1e9; }

/* Does a kernel named name hold a choice point of p: a node's, or (with whole) any
 * whole-model point, which holds every kernel? */
static bool holds_point(const kiln_program *p, const char *name, bool whole) {
  for (int i = 0; i < p->choices.n; i++) {
    const kiln_choice *c = &p->choices.items[i];
    if (c->whole ? whole : (name && !strcmp(name, c->node))) return true;
  }
  return false;
}

/* The summed profiled time (kernel_ns, in kiln_steps_kernels order) of the kernels of
 * choice point ch's nodes in m, -1 if one has no kernel. A whole-model point's: that of
 * all m's kernels but those of other points' nodes (which the confirmation changes at the
 * same time). */
static double point_time(const kiln_program *p0, const kiln_tune_choice *ch, const kiln_model *m,
                         const double *kernel_ns, int nk) {
  int n;
  const kiln_kernel **ks = kiln_steps_kernel_list(&kiln_model_program(m)->main, &n);
  if (n < nk) nk = n;
  double sum = 0;
  for (int i = 0; ch->point.whole && i < nk; i++)
    if (!holds_point(p0, ks[i]->name, false)) sum += kernel_ns[i];
  for (int i = 0; !ch->point.whole && i < p0->choices.n && sum >= 0; i++) {
    const kiln_choice *c = &p0->choices.items[i];
    if (strcmp(c->key, ch->point.key) || strcmp(c->what, ch->point.what)) continue;
    int j = 0;
    while (j < nk && !(ks[j]->name && !strcmp(ks[j]->name, c->node))) j++;
    sum = j < nk ? sum + kernel_ns[j] : -1;
  }
  free(ks);
  return sum;
}

void kiln_tune_choices_list(const kiln_program *p, kiln_tune_result *res) {
  res->choices = kiln_xcalloc((size_t)p->choices.n + 1, sizeof *res->choices);
  for (int i = 0; i < p->choices.n; i++) {
    const kiln_choice *c = &p->choices.items[i];
    int j = 0;
    while (j < res->nchoices &&
           (strcmp(res->choices[j].point.key, c->key) ||
            strcmp(res->choices[j].point.what, c->what)))
      j++;
    kiln_tune_choice *ch = &res->choices[j];
    if (j == res->nchoices) { /* a key not seen before */
      res->nchoices++;
      ch->point = *c;
      ch->point.node = kiln_xstrdup(c->node);
      ch->point.op = kiln_xstrdup(c->op);
      ch->best = c->def;
    }
    ch->count++;
  }
}

/* Is choice point ch tried with value (of choice what) in the model measured now (what
 * NULL: each point's best value)? Only where the value is not its default. */
static bool tried_with(const kiln_tune_choice *ch, const char *what, int value) {
  int v = what ? value : ch->best;
  return ch->point.def != v && kiln_choice_allows(ch->point.values, ch->point.nvalues, v) &&
         (!what || !strcmp(ch->point.what, what));
}

/* Writes a temporary log giving `value` to every point of choice `what` that allows it and
 * has another default (what NULL: each point its best value, where that is not its
 * default); false when there is no such point, or on an I/O error (then nothing is left
 * behind). */
static bool temp_log(const kiln_tune_result *res, const char *what, int value,
                     const kiln_tuning_target *target, const char *scratch, kiln_temp *tmp) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  if (!f) return false;
  int n = 0;
  for (int i = 0; i < res->nchoices; i++) {
    const kiln_tune_choice *ch = &res->choices[i];
    if (!tried_with(ch, what, value)) continue;
    kiln_tuning_record r;
    kiln_tuning_choice_init(&r, ch->point.key, ch->point.what, ch->point.op,
                            what ? value : ch->best, ch->point.def, target, 1, 1);
    kiln_tuning_record_write(&r, f);
    kiln_tuning_record_clear(&r);
    n++;
  }
  fclose(f);
  bool ok = n > 0;
  int fd = ok ? kiln_temp_open(scratch, ".jsonl", tmp) : -1;
  if (ok) ok = fd >= 0 && write(fd, text, len) == (ssize_t)len;
  if (fd >= 0 && close(fd) != 0) ok = false;
  if (!ok && tmp->path) {
    unlink(tmp->path);
    kiln_temp_forget(tmp);
  }
  free(text);
  return ok;
}

double kiln_tune_choices_share(const kiln_model *m0, const double *kernel_ns, int nk) {
  const kiln_program *p = kiln_model_program(m0);
  int n;
  const kiln_kernel **ks = kiln_steps_kernel_list(&p->main, &n);
  if (n < nk) nk = n;
  double all = 0, some = 0;
  for (int i = 0; i < nk; i++) {
    all += kernel_ns[i];
    if (holds_point(p, ks[i]->name, true)) some += kernel_ns[i];
  }
  free(ks);
  return all > 0 ? some / all : 0;
}

/* The model compiled with `value` where choice `what` may take it (what NULL: with each
 * point's best), run in turns with m0, profiled. A value: each point's best is updated
 * (one kind of choice at a time, so that a whole-model point's time is its own). The best values
 * (a confirmation, after all values were tried): a point whose kernels are no longer 3%
 * faster goes back to its default (*reverted counts them); with none reverted, the log
 * is kept in *keep, the model's profiled kernel times in *kernel_ns (kernels *nk). */
static kiln_status measure(const kiln_choice_tuner *c, const kiln_program *p0, const char *what,
                           int value, kiln_tune_result *res, kiln_temp *keep, double **kernel_ns,
                           int *nk_out, int *reverted, kiln_error *err) {
  kiln_temp tmp = {0};
  if (!what) value = -1;
  if (!temp_log(res, what, value, c->target, c->scratch, &tmp)) return KILN_OK;
  kiln_options o = *c->opts;
  o.tuning_log = tmp.path;
  kiln_model *mv = NULL;
  kiln_tune_io bv = {0};
  kiln_status st = kiln_compile_file(c->path, &o, &mv, err);
  if (st || value >= 0) {
    unlink(tmp.path);
    kiln_temp_forget(&tmp);
  }
  if (st) return st;
  if (value >= 0) res->variants++;
  kiln_tune_io_make(mv, 0, &bv); /* the same inputs as m0's */
  for (int i = 0; i < bv.nin; i++) {
    kiln_tensor_info info;
    kiln_input_info(mv, i, &info);
    memcpy(bv.in[i], c->b0->in[i], info.bytes);
  }
  int nk[2] = {kiln_steps_kernels(&p0->main, NULL, 0),
               kiln_steps_kernels(&kiln_model_program(mv)->main, NULL, 0)};
  double *ns[2] = {kiln_xcalloc((size_t)nk[0] + 1, sizeof(double)),
                   kiln_xcalloc((size_t)nk[1] + 1, sizeof(double))};
  const kiln_model *ms[2] = {c->m0, mv};
  kiln_tune_io *bs[2] = {c->b0, &bv};
  double left = c->end_s - now_s();
  st = kiln_tune_time_profiled(ms, bs, 2, RUNS, left > 0 ? left : 0, nk, ns, NULL, err);
  if (!st && value >= 0 && c->corrupt_every > 0 && ++*c->ncandidates % c->corrupt_every == 0 &&
      bv.nout && bv.oinfo[0].bytes)
    /* tests: as a wrong variant's would be, a high bit of the first element's top byte */
    ((unsigned char *)bv.out[0])[kiln_dtype_size(bv.oinfo[0].dtype) - 1] ^= 0x40;
  bool wrong = !st && !(kiln_tune_max_error(&bv, c->b0) <= MAX_ERROR);
  if (wrong && value >= 0) res->variants_wrong++;
  for (int i = 0; i < res->nchoices && !st; i++) {
    kiln_tune_choice *ch = &res->choices[i];
    if (!tried_with(ch, what, value) || (wrong && value >= 0)) continue;
    double t0 = point_time(p0, ch, c->m0, ns[0], nk[0]);
    double t1 = point_time(p0, ch, mv, ns[1], nk[1]);
    bool ok = !wrong && t0 > 0 && t1 >= 0;
    if (value < 0) { /* confirming */
      if (ok && t1 / t0 < BETTER) {
        ch->best_ns = ch->default_ns * t1 / t0;
      } else {
        ch->best = ch->point.def;
        ch->best_ns = ch->default_ns;
        (*reverted)++;
      }
      continue;
    }
    if (!ok) continue;
    ch->tried++;
    if (!ch->default_ns) ch->default_ns = ch->best_ns = t0;
    if (t1 / t0 < ch->best_ns / ch->default_ns && t1 / t0 < BETTER) {
      ch->best = value;
      ch->best_ns = ch->default_ns * t1 / t0;
    }
  }
  if (value < 0 && !st && !*reverted) {
    *keep = tmp;
    *kernel_ns = ns[1];
    *nk_out = nk[1];
    ns[1] = NULL;
  } else if (value < 0) {
    unlink(tmp.path);
    kiln_temp_forget(&tmp);
  }
  free(ns[0]);
  free(ns[1]);
  kiln_tune_io_free(&bv);
  kiln_model_free(mv);
  return st;
}

kiln_status kiln_tune_choices(const kiln_choice_tuner *c, kiln_tune_result *res, kiln_temp *chosen,
                              double **kernel_ns, int *nk, kiln_error *err) {
  const kiln_program *p0 = kiln_model_program(c->m0);
  kiln_tune_choices_list(p0, res);
  /* each choice's values, each tried once (a model without a point it would change is not
   * compiled), smallest first */
  kiln_choice_try tries[64], t;
  int nv = 0;
  for (int i = 0; i < p0->choices.n; i++) {
    const kiln_choice *pt = &p0->choices.items[i];
    for (int v = 0; v < pt->nvalues; v++) {
      int x = pt->values[v], j = 0;
      while (j < nv && (tries[j].value != x || strcmp(tries[j].what, pt->what))) j++;
      if (j == nv && nv < 64) tries[nv++] = (kiln_choice_try){pt->what, x};
    }
  }
  for (int i = 1; i < nv; i++)
    for (int j = i; j > 0 && tries[j].value < tries[j - 1].value; j--) {
      t = tries[j];
      tries[j] = tries[j - 1];
      tries[j - 1] = t;
    }
  /* a model: a compile, then RUNS runs of it and of m0; one is kept for the confirmation */
  double cost = 1.3 * c->compile_s + 2 * RUNS * c->run_ms / 1e3;
  kiln_status st = KILN_OK;
  for (int i = 0; i < nv && !st && now_s() + 2 * cost < c->end_s; i++)
    st = measure(c, p0, tries[i].what, tries[i].value, res, NULL, NULL, NULL, NULL, err);
  /* the best values together, measured again: a point that is no longer faster (a lucky
   * first measurement) goes back to its default, and the rest are measured again */
  int reverted = 1;
  while (!st && reverted) {
    reverted = 0;
    st = measure(c, p0, NULL, -1, res, chosen, kernel_ns, nk, &reverted, err);
  }
  return st;
}

int kiln_tune_choices_write(const kiln_tune_result *res, const kiln_tuning_target *target,
                            FILE *out) {
  int n = 0;
  for (int i = 0; i < res->nchoices; i++) {
    const kiln_tune_choice *ch = &res->choices[i];
    if (!ch->tried) continue;
    n++;
    kiln_tuning_record r;
    kiln_tuning_choice_init(&r, ch->point.key, ch->point.what, ch->point.op, ch->best,
                            ch->point.def, target, ch->best_ns, ch->default_ns);
    kiln_tuning_record_write(&r, out);
    kiln_tuning_record_clear(&r);
  }
  return n;
}
