/* A compiled model is safe to run from many threads at once: 8 threads x 100 runs, each
 * with its own input, must match a serial run of the same inputs bit for bit, through the
 * JIT (kiln_run) and through an AOT shared library (<name>_run). Several models compiled
 * at once from several threads, as the process's first compiles, must each work too. The
 * model is examples/demo.onnx (conv, pooling, gemm, softmax: arena intermediates), and
 * for the JIT also a MatMul large enough that its loops run in parallel (the demo's stages
 * are too small to be worth splitting), so runs contend for the thread pool. */
#include "kiln.h"
#include "runtime/profile.h"
#include "tests/check.h"
#include "tests/fuzz/pb_write.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MODEL "../examples/demo.onnx"
#define THREADS 8
#define RUNS 100

typedef int (*aot_run_fn)(const void *input, void *output, void *workspace);

typedef struct job {
  const kiln_model *jit; /* one of jit / aot */
  aot_run_fn aot;
  int thread;
  float *inputs, *want;  /* RUNS inputs and serial outputs of this thread */
  size_t in_n, out_n;
  int mismatches, errors;
} job;

static void fill(float *x, size_t n, unsigned seed) {
  for (size_t i = 0; i < n; i++) {
    seed = seed * 1103515245u + 12345u;
    x[i] = (float)((seed >> 8) & 0xffff) / 65536.0f - 0.5f;
  }
}

static int run_once(const job *j, const float *in, float *out) {
  if (j->aot) return j->aot(in, out, NULL);
  const void *ins[1] = {in};
  void *outs[1] = {out};
  kiln_error err;
  return kiln_run(j->jit, ins, outs, &err) != KILN_OK;
}

static void *worker(void *arg) {
  job *j = arg;
  float *out = malloc(j->out_n * sizeof(float));
  for (int r = 0; r < RUNS; r++) {
    if (run_once(j, j->inputs + (size_t)r * j->in_n, out)) j->errors++;
    else if (memcmp(out, j->want + (size_t)r * j->out_n, j->out_n * sizeof(float)) != 0)
      j->mismatches++;
  }
  free(out);
  return NULL;
}

/* Serial reference first, then all threads at once. */
static void hammer(const kiln_model *jit, aot_run_fn aot, size_t in_n, size_t out_n,
                   const char *what) {
  job jobs[THREADS];
  for (int t = 0; t < THREADS; t++) {
    job *j = &jobs[t];
    *j = (job){jit, aot, t, malloc(RUNS * in_n * sizeof(float)),
               malloc(RUNS * out_n * sizeof(float)), in_n, out_n, 0, 0};
    for (int r = 0; r < RUNS; r++) {
      fill(j->inputs + (size_t)r * in_n, in_n, (unsigned)(t * RUNS + r + 1));
      CHECK(run_once(j, j->inputs + (size_t)r * in_n, j->want + (size_t)r * out_n) == 0);
    }
  }
  /* distinct inputs give distinct outputs, so a mixed-up buffer cannot pass */
  CHECK(memcmp(jobs[0].want, jobs[1].want, out_n * sizeof(float)) != 0);
  pthread_t th[THREADS];
  for (int t = 0; t < THREADS; t++) CHECK(pthread_create(&th[t], NULL, worker, &jobs[t]) == 0);
  int bad = 0, errors = 0;
  for (int t = 0; t < THREADS; t++) {
    pthread_join(th[t], NULL);
    bad += jobs[t].mismatches;
    errors += jobs[t].errors;
    free(jobs[t].inputs);
    free(jobs[t].want);
  }
  printf("%s: %d threads x %d runs: %d errors, %d results differing from the serial run\n",
         what, THREADS, RUNS, errors, bad);
  CHECK(errors == 0);
  CHECK(bad == 0);
}

static void jit_runs(void) {
  kiln_model *m = NULL;
  kiln_error err;
  CHECK(kiln_compile_file(MODEL, NULL, &m, &err) == KILN_OK);
  if (!m) return;
  kiln_tensor_info in, out;
  CHECK(kiln_input_info(m, 0, &in) == KILN_OK && kiln_output_info(m, 0, &out) == KILN_OK);
  hammer(m, NULL, in.bytes / 4, out.bytes / 4, "JIT");
  kiln_model_free(m);
}

static void jit_parallel_runs(void) {
  const char *text = "model m(a: f32[128, 128]) { return c = Relu(MatMul(a, a)) }";
  kiln_model *m = NULL;
  kiln_error err;
  CHECK(kiln_compile_buffer(text, strlen(text), NULL, &m, &err) == KILN_OK);
  if (!m) return;
  const kiln_kernel *k = kiln_model_program(m)->main.steps[0].kernel;
  CHECK(k->stages[0].sched.loops[0].kind == KILN_LOOP_PARALLEL);
  hammer(m, NULL, 128 * 128, 128 * 128, "JIT, parallel loops");
  kiln_model_free(m);
}

static void aot_runs(const char *dir) {
  char so[512];
  snprintf(so, sizeof so, "%s/demo.so", dir);
  kiln_error err;
  CHECK(kiln_compile_aot(MODEL, NULL, so, "demo", &err) == KILN_OK);
  void *h = dlopen(so, RTLD_NOW | RTLD_LOCAL);
  CHECK(h != NULL);
  if (!h) return;
  aot_run_fn run = (aot_run_fn)dlsym(h, "demo_run");
  CHECK(run != NULL);
  if (run) hammer(NULL, run, 1 * 1 * 28 * 28, 10, "AOT");
  dlclose(h);
}

/* ---- several compiles at once ------------------------------------------------------------ */

typedef struct compile_job {
  int depth;       /* Relu chain length: each thread compiles a different model */
  float out[64];
  int failures;
} compile_job;

static kiln_status compile_and_run(int depth, float *out) {
  pb_buf b = onnx_relu_chain(64, depth);
  kiln_model *m = NULL;
  kiln_error err;
  kiln_status st = kiln_compile_buffer(b.d, b.n, NULL, &m, &err);
  free(b.d);
  if (!st) {
    float x[64];
    fill(x, 64, (unsigned)depth);
    const void *ins[1] = {x};
    void *outs[1] = {out};
    st = kiln_run(m, ins, outs, &err);
  }
  kiln_model_free(m);
  return st;
}

static void *compile_worker(void *arg) {
  compile_job *j = arg;
  for (int rep = 0; rep < 3; rep++) { /* and the demo model, from a file, alongside */
    kiln_model *m = NULL;
    kiln_error err;
    if (kiln_compile_file(MODEL, NULL, &m, &err) != KILN_OK) j->failures++;
    kiln_model_free(m);
    if (compile_and_run(j->depth, j->out) != KILN_OK) j->failures++;
  }
  return NULL;
}

static void concurrent_compiles(void) {
  enum { N = 4 };
  compile_job jobs[N];
  pthread_t th[N];
  for (int i = 0; i < N; i++) {
    jobs[i] = (compile_job){.depth = 3 + i};
    CHECK(pthread_create(&th[i], NULL, compile_worker, &jobs[i]) == 0);
  }
  int failures = 0;
  for (int i = 0; i < N; i++) {
    pthread_join(th[i], NULL);
    failures += jobs[i].failures;
    float want[64];
    CHECK(compile_and_run(jobs[i].depth, want) == KILN_OK);
    CHECK(memcmp(want, jobs[i].out, sizeof want) == 0);
  }
  printf("concurrent compiles: %d threads x 3 x 2 models, %d failures\n", N, failures);
  CHECK(failures == 0);
}

int main(void) {
  char dir[] = "/tmp/kiln_conc_XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  /* First, so that these are the process's first compiles: one-time initialisation (the
   * op table, LLVM's targets) then happens in several threads at once, which is what
   * ThreadSanitizer (tools/ci_hostile.sh) checks. */
  concurrent_compiles();
  jit_runs();
  jit_parallel_runs();
  aot_runs(dir);
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  CHECK(system(cmd) == 0);
  return check_report();
}
