/* The autotuner (runtime/tune.h) on the example MLP, with short budgets and no timing
 * asserted: with every candidate's output altered before it is compared (an injected
 * wrong schedule), every measured candidate is dropped and counted, and the log keeps the
 * default schedules; without, the log has a record per distinct kernel, and compiling
 * with it gives each kernel exactly the recipes of its record (the tuned schedules come
 * back), whose outputs match the untuned model's. The same for the MatMuls' panel widths
 * (ir/choice.h), measured in models compiled with each. A tuned model slower end to end
 * than the untuned one leaves a log of the defaults, and a kernel whose best is no faster
 * inside the tuned model goes back to its default. A convolution network's layout block,
 * a choice of the whole model, is measured and applied too. */
#include "check.h"

#include "ir/schedule.h"
#include "ir/tuning_log.h"
#include "passes/passes.h"
#include "passes/tune.h"
#include "runtime/profile.h"
#include "runtime/tune.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *MODEL = "../examples/mlp.kiln";

/* Every kernel of the program compiled with log has the recipes of its best record, and
 * (with defaults) those are the default scheduler's. With `none`, the log may have no
 * kernel record (the defaults kept after a choice point took another value). */
static void check_applied(const kiln_options *opts, const char *log_path, bool defaults,
                          bool none) {
  kiln_options o = *opts;
  o.tuning_log = log_path;
  kiln_program *p = NULL, *d = NULL;
  kiln_error err = {0};
  kiln_tuning_log log = {0};
  kiln_tuning_target t;
  kiln_tuning_target_of(&o, &t);
  CHECK(!kiln_tuning_log_read(&log, log_path, &err));
  CHECK(!kiln_program_from_file(MODEL, &o, NULL, &p, &err));
  CHECK(!kiln_program_from_file(MODEL, opts, NULL, &d, &err));
  int matched = 0, kernel_records = 0;
  for (int i = 0; i < log.n; i++) kernel_records += !log.records[i].choice;
  /* each choice point takes its record's value */
  for (int i = 0; p && i < p->choices.n; i++) {
    const kiln_choice *c = &p->choices.items[i];
    const kiln_tuning_record *r = kiln_tuning_log_choice(&log, c->key, c->what, &t, KILN_VERSION, c->def);
    CHECK(c->from_log == (r != NULL));
    if (r) CHECK(c->value == r->value && (!defaults || c->value == c->def));
  }
  for (int i = 0; p && d && i < p->main.n; i++) {
    const kiln_kernel *k = p->main.steps[i].kernel, *dk = d->main.steps[i].kernel;
    char hash[17];
    CHECK(kiln_kernel_hash(k, hash));
    const kiln_tuning_record *r = kiln_tuning_log_best(&log, hash, k->nstages, &t, KILN_VERSION, NULL);
    if (!r) continue;
    matched++;
    for (int s = 0; s < k->nstages; s++) {
      char *got = kiln_recipe_text(&k->stages[s].recipe), *def = kiln_recipe_text(&dk->stages[s].recipe);
      CHECK(!strcmp(got, r->stages[s]));
      if (defaults) CHECK(!strcmp(got, def));
      free(got);
      free(def);
    }
  }
  CHECK(matched == kernel_records && (matched > 0 || none));
  kiln_program_free(p);
  kiln_program_free(d);
  kiln_tuning_log_free(&log);
  kiln_tuning_target_clear(&t);
}

static void run(const kiln_options *opts, int corrupt_every, double tuned_scale,
                double alone_scale, double model_scale, const char *path) {
  unlink(path);
  /* 5 s: a margin for a busy machine */
  kiln_tune_options t = {5.0,         path,    1,           NULL,       NULL, corrupt_every,
                         0,           0,       tuned_scale, alone_scale, model_scale};
  kiln_tune_result r;
  kiln_error err = {0};
  kiln_status st = kiln_tune(MODEL, opts, &t, &r, &err);
  if (st) fprintf(stderr, "kiln_tune: %s\n", err.message);
  CHECK(st == KILN_OK);
  CHECK(r.nkernels == 4 && r.records_read == 0);
  CHECK(r.candidates > 0);
  int candidates = 0, wrong = 0, measured = 0;
  for (int i = 0; i < r.nkernels; i++) {
    const kiln_tune_kernel *k = &r.kernels[i];
    candidates += k->candidates;
    wrong += k->wrong;
    CHECK(k->model_ns > 0);
    if (i > 0) CHECK(k->model_ns <= r.kernels[i - 1].model_ns); /* by share */
    if (!k->default_ns) continue; /* the budget did not reach it */
    measured++;
    CHECK(k->best_ns > 0 && k->best_ns <= k->default_ns);
    if (corrupt_every) CHECK(k->best_ns == k->default_ns && k->wrong == k->candidates);
  }
  /* the two MatMuls' panel widths: other widths measured in whole models, wrong ones
   * (all, when every output is altered) dropped, leaving the default */
  int tried = 0;
  CHECK(r.nchoices == 2 && r.variants >= 1);
  for (int i = 0; i < r.nchoices; i++) {
    const kiln_tune_choice *c = &r.choices[i];
    CHECK(!strcmp(c->point.what, "panels") &&
          c->point.def == 2 * kiln_target_vector_floats(opts) && c->count == 1);
    if (corrupt_every) CHECK(c->best == c->point.def && !c->tried);
    if (c->tried) CHECK(c->best_ns > 0 && c->best_ns <= c->default_ns);
    tried += c->tried > 0;
  }
  CHECK(corrupt_every ? r.variants_wrong == r.variants : r.variants_wrong == 0);
  CHECK(measured >= 1 && r.records_written == measured + tried);
  CHECK(candidates == r.candidates && wrong == r.wrong);
  if (corrupt_every) CHECK(r.wrong == r.candidates);
  else CHECK(r.wrong == 0);
  CHECK(r.max_error < 1e-4); /* tuned vs untuned, end to end */
  /* a tuned model taken as 10x slower end to end: the log records the defaults (when the
   * budget left time to compile and time it) */
  bool kept = r.kept_defaults;
  if (tuned_scale > 1) CHECK(r.tuned_ms == 0 || kept);
  /* a log that changes no kernel (every candidate wrong) leaves the untuned model, not
   * timed again (when the budget reached the end-to-end check) */
  if (r.unchanged) CHECK(r.tuned_ms == 0 && !kept && tuned_scale == 0);
  if (corrupt_every) CHECK(r.unchanged || r.untuned_ms == 0 || r.tuned_ms == 0);
  if (kept)
    for (int i = 0; i < r.nchoices; i++) CHECK(r.choices[i].best == r.choices[i].point.def);
  /* each tuned kernel taken as 10x slower inside the tuned model: every one goes back to
   * its default (when the budget reached the end-to-end check, and no choice point took
   * another value: then the kernels of the two models differ, and none is compared) */
  int slower = 0;
  bool choice = false, ended = r.unchanged || r.tuned_ms > 0 || r.model_slower > 0;
  for (int i = 0; i < r.nkernels; i++) {
    slower += r.kernels[i].model_slower;
    if (r.kernels[i].model_slower) CHECK(r.kernels[i].best_ns == r.kernels[i].default_ns);
  }
  for (int i = 0; i < r.nchoices; i++) choice |= r.choices[i].best != r.choices[i].point.def;
  CHECK(slower == r.model_slower);
  bool back = model_scale > 1 && ended && !choice;
  for (int i = 0; back && i < r.nkernels; i++)
    CHECK(r.kernels[i].best_ns == r.kernels[i].default_ns);
  kiln_tune_result_free(&r);
  check_applied(opts, path, corrupt_every != 0 || kept || back, kept);
}

/* A kernel whose stage has no loops (a scalar): nothing to edit, and the tune goes on
 * (an edit drew a loop among none: a division by zero, SIGFPE, on the quantized model). */
static void scalar_stage(const char *path) {
  char *model = kiln_fmt("%s.kiln", path);
  FILE *f = fopen(model, "w");
  CHECK(f != NULL);
  if (!f) return;
  fputs("model s(x: f32[], z: f32[64, 64]) {\n  return y = Relu(x * 2.0), w = Sigmoid(z)\n}\n", f);
  fclose(f);
  unlink(path);
  kiln_options opts = {.struct_size = sizeof opts, .num_threads = 1};
  kiln_tune_options t = {2.0, path, 1, NULL, NULL, 0, 0, 0, 0, 0, 0};
  kiln_tune_result r;
  kiln_error err = {0};
  CHECK(kiln_tune(model, &opts, &t, &r, &err) == KILN_OK);
  CHECK(r.nkernels == 2 && r.wrong == 0);
  kiln_tune_result_free(&r);
  unlink(model);
  unlink(path);
  free(model);
}

/* A convolution network's layout block, a choice of the whole model: its other values
 * (8 below AVX-512's 16, no blocked layout) are measured on all the model's kernels, and
 * a compile with the log takes the record's value. */
static void layout_choice(const char *path) {
  const char *model = "../examples/demo.onnx";
  unlink(path);
  kiln_options opts = {.struct_size = sizeof opts, .num_threads = 1};
  kiln_tune_options t = {4.0, path, 1, NULL, NULL, 0, 0, 0, 0, 0, 0};
  kiln_tune_result r;
  kiln_error err = {0};
  CHECK(kiln_tune(model, &opts, &t, &r, &err) == KILN_OK);
  const kiln_tune_choice *c = NULL;
  for (int i = 0; i < r.nchoices; i++)
    if (!strcmp(r.choices[i].point.what, "layout")) c = &r.choices[i];
  int vf = kiln_target_vector_floats(&opts);
  CHECK(vf < 8 || c != NULL);
  if (c) {
    CHECK(c->point.whole && c->count == 1 && c->point.def == vf && c->tried >= 1);
    CHECK(c->best_ns > 0 && c->best_ns <= c->default_ns);
    CHECK(kiln_choice_allows(c->point.values, c->point.nvalues, 0) &&
          kiln_choice_allows(c->point.values, c->point.nvalues, c->best));
    kiln_options o = opts;
    o.tuning_log = path;
    kiln_program *p = NULL;
    CHECK(!kiln_program_from_file(model, &o, NULL, &p, &err));
    bool found = false;
    for (int i = 0; p && i < p->choices.n; i++)
      if (!strcmp(p->choices.items[i].what, "layout"))
        found = p->choices.items[i].from_log && p->choices.items[i].value == c->best;
    CHECK(found);
    kiln_program_free(p);
  }
  kiln_tune_result_free(&r);
  unlink(path);
}

int main(void) {
  kiln_shape_binding shape = {"x", 2, {8, 784}};
  kiln_options opts = {.struct_size = sizeof opts, .shapes = &shape, .nshapes = 1, .num_threads = 1};
  char *path = kiln_fmt("/tmp/kiln_unit_tune_%d.log", (int)getpid());
  run(&opts, 1, 0, 0, 0, path); /* every candidate wrong */
  run(&opts, 0, 0, 0, 0, path);
  run(&opts, 0, 10, 0, 0, path); /* the tuned model slower end to end */
  /* every candidate 10x faster alone, then each tuned kernel 10x slower inside the model */
  run(&opts, 0, 0, 0.1, 10, path);
  scalar_stage(path);
  layout_choice(path);
  unlink(path);
  free(path);
  return check_report();
}
