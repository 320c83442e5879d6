/* The autotuner's compiles overlapping its measurements (runtime/tune_search.c): with one
 * tuning thread and a CPU to spare, the next candidate compiles while one is measured
 * (some compile time ran hidden), and the search stays correct: every third candidate's
 * output altered before it is compared is dropped and counted, nothing else is, and the
 * tuned model computes what the untuned one does (the log applied here, whatever the
 * budget left for the tuner's own end-to-end check). With as many threads as CPUs nothing
 * overlaps. No timing is asserted; on a one-CPU machine only the second part can hold, and
 * the first asserts that nothing overlapped there either. Also in the TSan job of
 * tools/ci_hostile.sh (two threads share kernels, the program and LLVM). */
#define _GNU_SOURCE /* sched_getaffinity */
#include "check.h"

#include "runtime/tune.h"

#include <math.h>
#include <sched.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static const char *MODEL = "../examples/mlp.kiln";
static kiln_shape_binding shape = {"x", 2, {512, 784}}; /* its first layer runs for ms */

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* 4 s, or more where compiling the model once takes long (TSan): room for candidates */
static double budget(void) {
  kiln_options opts = {.struct_size = sizeof opts, .shapes = &shape, .nshapes = 1};
  kiln_model *m = NULL;
  kiln_error err = {0};
  double t0 = now_s();
  CHECK(!kiln_compile_file(MODEL, &opts, &m, &err));
  kiln_model_free(m);
  double b = 10 * (now_s() - t0);
  return b > 4 ? b : 4;
}

/* The MLP's output (512 x 10 probabilities) compiled with log (NULL: none), on the same
 * inputs every time; false when it does not compile and run. */
static bool outputs(int threads, const char *log, float *probs) {
  kiln_options opts = {.struct_size = sizeof opts, .shapes = &shape, .nshapes = 1,
                       .num_threads = threads, .tuning_log = log};
  static float x[512 * 784];
  for (int i = 0; i < 512 * 784; i++) x[i] = (float)(i % 1000 * 7919 % 1000) / 500.0f - 1.0f;
  kiln_model *m = NULL;
  kiln_error err = {0};
  const void *in[1] = {x};
  void *out[1] = {probs};
  bool ok = !kiln_compile_file(MODEL, &opts, &m, &err) && !kiln_run(m, in, out, &err);
  if (!ok) fprintf(stderr, "%s\n", err.message);
  kiln_model_free(m);
  return ok;
}

static void tune(double budget_s, int threads, int corrupt_every, bool overlap, const char *path) {
  kiln_options opts = {.struct_size = sizeof opts, .shapes = &shape, .nshapes = 1,
                       .num_threads = threads};
  unlink(path);
  kiln_tune_options t = {budget_s, path, 1, NULL, NULL, corrupt_every, 0, 0, 0, 0, 0};
  kiln_tune_result r;
  kiln_error err = {0};
  kiln_status st = kiln_tune(MODEL, &opts, &t, &r, &err);
  if (st) fprintf(stderr, "kiln_tune: %s\n", err.message);
  CHECK(st == KILN_OK);
  CHECK(r.overlap == overlap);
  CHECK(r.candidates > 0 && r.compile_s > 0 && r.measure_s > 0);
  if (overlap) CHECK(r.hidden_s > 0 && r.hidden_s <= r.compile_s);
  else CHECK(r.hidden_s == 0);
  CHECK(r.wrong == (corrupt_every ? r.candidates / corrupt_every : 0));
  int candidates = 0, wrong = 0, measured = 0;
  for (int i = 0; i < r.nkernels; i++) {
    const kiln_tune_kernel *k = &r.kernels[i];
    candidates += k->candidates;
    wrong += k->wrong;
    if (!k->default_ns) continue;
    measured++;
    CHECK(k->best_ns > 0 && k->best_ns <= k->default_ns);
  }
  CHECK(candidates == r.candidates && wrong == r.wrong);
  int tried = 0; /* choice points measured (the MatMuls' panel widths) */
  for (int i = 0; i < r.nchoices; i++) tried += r.choices[i].tried > 0;
  CHECK(measured >= 1 && r.records_written == measured + tried);
  CHECK(r.max_error < 1e-4); /* tuned vs untuned, end to end (0: not measured, out of time) */
  static float want[512 * 10], got[512 * 10]; /* so the log is checked here in any case */
  CHECK(outputs(threads, NULL, want) && outputs(threads, path, got));
  for (int i = 0; i < 512 * 10; i++)
    if (!(fabsf(got[i] - want[i]) <= 1e-4f * fabsf(want[i]) + 1e-5f)) {
      CHECK(!"the tuned model's outputs are the untuned one's");
      break;
    }
  printf("threads %d: %d candidates (%d wrong), compile %.2f s, measure %.2f s, hidden %.2f s\n",
         threads, r.candidates, r.wrong, r.compile_s, r.measure_s, r.hidden_s);
  kiln_tune_result_free(&r);
}

int main(void) {
  cpu_set_t mask;
  int cpus = sched_getaffinity(0, sizeof mask, &mask) == 0 ? CPU_COUNT(&mask) : 1;
  char *path = kiln_fmt("/tmp/kiln_unit_tune_overlap_%d.log", (int)getpid());
  double b = budget();
  tune(b, 1, 3, cpus > 1, path);
  tune(b, cpus, 0, false, path);
  unlink(path);
  free(path);
  return check_report();
}
