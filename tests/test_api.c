/* The public C API (include/kiln.h) on the models tests/data/make_bad_models.py writes:
 * compile from file and buffer, queries, runs into caller buffers, error codes and messages,
 * and concurrent kiln_run from 8 threads checked bit for bit against serial runs.
 *
 *   test_api DIR     (DIR holds good.onnx, unknown_op.onnx, ...)
 */
#include "check.h"

#include "kiln.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IN 16
#define HID 32
#define OUT 8
#define THREADS 8
#define RUNS 50
#define BATCH 32

static const char *dir;

static const char *path_of(const char *name) {
  static char path[1024];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  return path;
}

/* good.onnx, recomputed from the formulas in make_bad_models.py (in double). */
static void reference(const float *x, int n, double *y) {
  for (int r = 0; r < n; r++) {
    double h[HID], z[OUT], max = -INFINITY, sum = 0;
    for (int j = 0; j < HID; j++) {
      double acc = ((j % 5) - 2) / 4.0;
      for (int i = 0; i < IN; i++) acc += x[r * IN + i] * (((7 * i + 3 * j) % 11 - 5) / 8.0);
      h[j] = acc > 0 ? acc : 0;
    }
    for (int k = 0; k < OUT; k++) {
      z[k] = 0;
      for (int j = 0; j < HID; j++) z[k] += h[j] * (((5 * j + 2 * k) % 13 - 6) / 16.0);
      if (z[k] > max) max = z[k];
    }
    for (int k = 0; k < OUT; k++) sum += exp(z[k] - max);
    for (int k = 0; k < OUT; k++) y[r * OUT + k] = exp(z[k] - max) / sum;
  }
}

static void fill(float *x, int n, unsigned seed) {
  for (int i = 0; i < n; i++) {
    seed = seed * 1664525u + 1013904223u;
    x[i] = (float)((seed >> 8) / 16777216.0 * 4.0 - 2.0);
  }
}

static kiln_model *compile_good(int batch) {
  kiln_shape_binding bind = {"x", 2, {batch, IN}};
  kiln_options opts = {.struct_size = sizeof opts};
  opts.shapes = &bind;
  opts.nshapes = 1;
  kiln_model *m = NULL;
  kiln_error err = {0};
  if (kiln_compile_file(path_of("good.onnx"), &opts, &m, &err))
    fprintf(stderr, "compile good.onnx: %s: %s\n", kiln_status_name(err.code), err.message);
  return m;
}

static int matches_reference(const kiln_model *m, int batch, unsigned seed) {
  float *x = malloc(sizeof(float) * batch * IN), *y = malloc(sizeof(float) * batch * OUT);
  double *want = malloc(sizeof(double) * batch * OUT);
  fill(x, batch * IN, seed);
  reference(x, batch, want);
  const void *in[] = {x};
  void *out[] = {y};
  kiln_error err = {0};
  int ok = kiln_run(m, in, out, &err) == KILN_OK;
  if (!ok) fprintf(stderr, "run: %s\n", err.message);
  for (int i = 0; ok && i < batch * OUT; i++)
    if (!(fabs(y[i] - want[i]) <= 1e-6 + 1e-5 * fabs(want[i]))) {
      fprintf(stderr, "element %d: got %.9g, want %.9g\n", i, y[i], want[i]);
      ok = 0;
    }
  free(x), free(y), free(want);
  return ok;
}

static void test_compile_and_query(void) {
  kiln_model *m = compile_good(3);
  CHECK(m != NULL);
  if (!m) return;
  CHECK(kiln_num_inputs(m) == 1 && kiln_num_outputs(m) == 1);
  kiln_tensor_info info;
  CHECK(kiln_input_info(m, 0, &info) == KILN_OK);
  CHECK(!strcmp(info.name, "x") && info.dtype == KILN_F32 && info.rank == 2);
  CHECK(info.dims[0] == 3 && info.dims[1] == IN && info.bytes == 3 * IN * sizeof(float));
  CHECK(kiln_output_info(m, 0, &info) == KILN_OK);
  CHECK(!strcmp(info.name, "y") && info.dtype == KILN_F32 && info.rank == 2);
  CHECK(info.dims[0] == 3 && info.dims[1] == OUT && info.bytes == 3 * OUT * sizeof(float));
  CHECK(kiln_input_info(m, 1, &info) == KILN_ERR_INVALID_ARGUMENT);
  CHECK(kiln_output_info(m, -1, &info) == KILN_ERR_INVALID_ARGUMENT);
  CHECK(kiln_input_index(m, "x") == 0 && kiln_output_index(m, "y") == 0);
  CHECK(kiln_input_index(m, "y") == -1 && kiln_output_index(m, "nope") == -1);
  CHECK(matches_reference(m, 3, 1));
  CHECK(matches_reference(m, 3, 2));
  kiln_model_free(m);

  /* The same model from a buffer. */
  FILE *f = fopen(path_of("good.onnx"), "rb");
  CHECK(f != NULL);
  if (!f) return;
  static char buf[1 << 16];
  size_t size = fread(buf, 1, sizeof buf, f);
  fclose(f);
  kiln_shape_binding bind = {"x", 2, {5, IN}};
  kiln_options opts = {.struct_size = sizeof opts};
  opts.shapes = &bind;
  opts.nshapes = 1;
  kiln_error err = {0};
  m = NULL;
  CHECK(kiln_compile_buffer(buf, size, &opts, &m, &err) == KILN_OK);
  if (m) {
    CHECK(kiln_output_info(m, 0, &info) == KILN_OK && info.dims[0] == 5);
    CHECK(matches_reference(m, 5, 3));
    kiln_model_free(m);
  }
}

/* Compiling `file` (NULL = from `data`) must fail with `code` and a message containing
 * `needle`. */
static void expect_error(const char *what, const char *file, const void *data, size_t size,
                         const kiln_options *opts, kiln_status code, const char *needle) {
  kiln_model *m = NULL;
  kiln_error err = {0};
  kiln_status st = file ? kiln_compile_file(path_of(file), opts, &m, &err)
                        : kiln_compile_buffer(data, size, opts, &m, &err);
  printf("%-22s -> %s: %s\n", what, kiln_status_name(st), st ? err.message : "");
  CHECK(st == code);
  CHECK(err.code == st);
  CHECK(m == NULL);
  CHECK(strstr(err.message, needle) != NULL);
  kiln_model_free(m);
}

static void test_errors(void) {
  kiln_shape_binding ab = {"a", 2, {2, 3}};
  kiln_options bind_a = {.struct_size = sizeof bind_a};
  bind_a.shapes = &ab;
  bind_a.nshapes = 1;
  expect_error("missing file", "no_such_model.onnx", NULL, 0, NULL, KILN_ERR_NO_SUCH_FILE,
               "no_such_model.onnx");
  static const char garbage[] = "\xff\xfe this is not a protobuf \x01\x02\x03\x04";
  expect_error("garbage bytes", NULL, garbage, sizeof garbage, NULL, KILN_ERR_INVALID_MODEL, "");
  expect_error("unknown op", "unknown_op.onnx", NULL, 0, NULL, KILN_ERR_UNSUPPORTED,
               "FrobnicateZ");
  expect_error("missing attribute", "missing_attr.onnx", NULL, 0, NULL, KILN_ERR_INVALID_MODEL,
               "axis");
  expect_error("shape mismatch", "shape_mismatch.onnx", NULL, 0, NULL, KILN_ERR_SHAPE, "");
  expect_error("unbound free dim", "good.onnx", NULL, 0, NULL, KILN_ERR_SHAPE, "x");
  kiln_shape_binding wrong = {"x", 3, {1, 2, IN}};
  kiln_options bind_wrong = {.struct_size = sizeof bind_wrong};
  bind_wrong.shapes = &wrong;
  bind_wrong.nshapes = 1;
  expect_error("binding of wrong rank", "good.onnx", NULL, 0, &bind_wrong, KILN_ERR_SHAPE, "x");
  expect_error("missing external data", "missing_external.onnx", NULL, 0, &bind_a,
               KILN_ERR_NO_SUCH_FILE, "missing_weights.bin");

  kiln_error err = {0};
  kiln_model *m = NULL;
  CHECK(kiln_compile_file(NULL, NULL, &m, &err) == KILN_ERR_INVALID_ARGUMENT);
  CHECK(kiln_compile_file(path_of("no_such_model.onnx"), NULL, &m, NULL) == KILN_ERR_NO_SUCH_FILE);
  CHECK(kiln_dtype_size(KILN_F32) == 4 && kiln_dtype_size(KILN_I64) == 8);
}

/* ---- concurrency: 8 threads x 50 runs, each on its own input ------------------------- */

typedef struct job {
  const kiln_model *model;
  int thread;
  float *x, *y;     /* [RUNS][BATCH*IN], [RUNS][BATCH*OUT] */
  int failures;
} job;

static void *worker(void *arg) {
  job *j = arg;
  for (int r = 0; r < RUNS; r++) {
    const void *in[] = {j->x + (size_t)r * BATCH * IN};
    void *out[] = {j->y + (size_t)r * BATCH * OUT};
    kiln_error err;
    if (kiln_run(j->model, in, out, &err)) j->failures++;
  }
  return NULL;
}

static void test_threads(void) {
  kiln_model *m = compile_good(BATCH);
  CHECK(m != NULL);
  if (!m) return;
  job jobs[THREADS];
  size_t nx = (size_t)RUNS * BATCH * IN, ny = (size_t)RUNS * BATCH * OUT;
  float *serial = malloc(sizeof(float) * ny);
  for (int t = 0; t < THREADS; t++) {
    jobs[t] = (job){m, t, malloc(sizeof(float) * nx), malloc(sizeof(float) * ny), 0};
    fill(jobs[t].x, (int)nx, 1000u + t);
    memset(jobs[t].y, 0, sizeof(float) * ny);
  }
  pthread_t tid[THREADS];
  for (int t = 0; t < THREADS; t++) CHECK(pthread_create(&tid[t], NULL, worker, &jobs[t]) == 0);
  for (int t = 0; t < THREADS; t++) pthread_join(tid[t], NULL);
  int mismatches = 0, failures = 0;
  for (int t = 0; t < THREADS; t++) {
    failures += jobs[t].failures;
    for (int r = 0; r < RUNS; r++) {
      const void *in[] = {jobs[t].x + (size_t)r * BATCH * IN};
      void *out[] = {serial + (size_t)r * BATCH * OUT};
      kiln_error err;
      if (kiln_run(m, in, out, &err)) failures++;
    }
    if (memcmp(serial, jobs[t].y, sizeof(float) * ny)) mismatches++;
  }
  printf("threads: %d x %d runs, %d failed runs, %d threads differ from serial\n", THREADS,
         RUNS, failures, mismatches);
  CHECK(failures == 0);
  CHECK(mismatches == 0);
  /* Serial runs are right too, so equal-to-serial means right. */
  CHECK(matches_reference(m, BATCH, 1000u));
  for (int t = 0; t < THREADS; t++) free(jobs[t].x), free(jobs[t].y);
  free(serial);
  kiln_model_free(m);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: test_api DIR\n");
    return 2;
  }
  dir = argv[1];
  test_compile_and_query();
  test_errors();
  test_threads();
  return check_report();
}
