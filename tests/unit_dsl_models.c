/* The DSL examples compute what their equivalent ONNX models compute (within 1e-5),
 * through the JIT (kiln_compile_file) and through AOT (kiln_compile_aot to a shared
 * library, dlopen, <name>_run). demo.kiln's equivalent is examples/demo.onnx; the others'
 * are written independently by tests/dsl/equivalent_models.py (with the venv's onnx) from
 * the weights the DSL model drew, which this test hands over as TensorProto files.
 * Run from tests/; `unit_dsl_models NAME...` runs only those examples. */
#include "check.h"

#include "frontend/dsl.h"
#include "frontend/onnx.h"

#include <dlfcn.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct example {
  const char *name, *input;
  int rank;
  int64_t dims[4];
} example;

static const example examples[] = {
    {"demo", "image", 4, {1, 1, 28, 28}},
    {"mlp", "x", 2, {3, 784}},
    {"resnet18", "image", 4, {1, 3, 64, 64}},
    {"encoder", "tokens", 3, {1, 16, 64}},
};

/* Writes every constant of the DSL model as DIR/<i>.pb, named as the DSL names it. */
static bool export_weights(const char *kiln_path, const char *dir) {
  void *text;
  size_t size;
  kiln_error err = {0};
  kiln_graph *g = NULL;
  if (kiln_read_file(kiln_path, &text, &size, &err)) return false;
  kiln_status st = kiln_dsl_import(text, size, kiln_path, NULL, &g, &err);
  free(text);
  for (int i = 0; !st && i < g->nvalues; i++) {
    const kiln_value *v = &g->values[i];
    if (!v->data) continue;
    char path[512];
    snprintf(path, sizeof path, "%s/%d.pb", dir, i);
    kiln_tensor t = {v->dtype, v->rank, {0}, v->data};
    memcpy(t.dims, v->dims, sizeof t.dims);
    st = kiln_onnx_write_tensor(path, v->name, &t, &err);
  }
  if (st) fprintf(stderr, "%s: %s\n", kiln_path, err.message);
  kiln_graph_free(g);
  return st == KILN_OK;
}

/* Compiles path (JIT) with the example's input shape and runs it on x. */
static float *run_jit(const char *path, const example *ex, const float *x, size_t *n) {
  kiln_shape_binding b = {ex->input, ex->rank, {0}};
  memcpy(b.dims, ex->dims, sizeof ex->dims);
  kiln_options o = {.struct_size = sizeof o, .shapes = &b, .nshapes = 1};
  kiln_model *m = NULL;
  kiln_error err = {0};
  if (kiln_compile_file(path, &o, &m, &err)) {
    fprintf(stderr, "%s: %s\n", path, err.message);
    return NULL;
  }
  kiln_tensor_info info;
  kiln_output_info(m, 0, &info);
  *n = info.bytes / sizeof(float);
  float *y = calloc(*n, sizeof(float));
  const void *in[1] = {x};
  void *out[1] = {y};
  CHECK(kiln_run(m, in, out, &err) == KILN_OK);
  kiln_model_free(m);
  return y;
}

static float *run_aot(const char *path, const example *ex, const char *dir, const float *x, size_t n) {
  kiln_shape_binding b = {ex->input, ex->rank, {0}};
  memcpy(b.dims, ex->dims, sizeof ex->dims);
  kiln_options o = {.struct_size = sizeof o, .shapes = &b, .nshapes = 1};
  char lib[512], sym[128];
  snprintf(lib, sizeof lib, "%s/%s.so", dir, ex->name);
  snprintf(sym, sizeof sym, "%s_run", ex->name);
  kiln_error err = {0};
  if (kiln_compile_aot(path, &o, lib, ex->name, &err)) {
    fprintf(stderr, "%s (AOT): %s\n", path, err.message);
    return NULL;
  }
  void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
  int (*run)(const float *, float *, void *) = h ? (int (*)(const float *, float *, void *))dlsym(h, sym) : NULL;
  float *y = calloc(n, sizeof(float));
  CHECK(run && run(x, y, NULL) == 0);
  if (h) dlclose(h);
  return y;
}

static bool close_enough(const char *what, const float *a, const float *b, size_t n) {
  double worst = 0;
  for (size_t i = 0; i < n; i++) {
    double d = fabs((double)a[i] - b[i]) / fmax(1.0, fabs((double)b[i]));
    if (!(d <= worst)) worst = d; /* NaN counts as worst */
  }
  printf("  %s: max relative difference %.3g over %zu values\n", what, worst, n);
  return worst <= 1e-5;
}

static void check_example(const example *ex) {
  char dir[] = "/tmp/kiln_dsl_XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  char kiln_path[256], onnx_path[512], cmd[1024];
  snprintf(kiln_path, sizeof kiln_path, "../examples/%s.kiln", ex->name);
  if (strcmp(ex->name, "demo") == 0) {
    snprintf(onnx_path, sizeof onnx_path, "../examples/demo.onnx");
  } else {
    snprintf(onnx_path, sizeof onnx_path, "%s/%s.onnx", dir, ex->name);
    CHECK(export_weights(kiln_path, dir));
    const char *py = access("../.venv/bin/python", X_OK) == 0 ? "../.venv/bin/python" : "python3";
    snprintf(cmd, sizeof cmd, "%s dsl/equivalent_models.py %s %s", py, ex->name, dir);
    CHECK(system(cmd) == 0);
  }
  size_t n = 1;
  for (int d = 0; d < ex->rank; d++) n *= (size_t)ex->dims[d];
  float *x = malloc(n * sizeof(float));
  for (size_t i = 0; i < n; i++) x[i] = (float)sin(0.37 * (double)i + 0.1);
  printf("%s\n", ex->name);
  size_t ny = 0, nk = 0;
  float *ref = run_jit(onnx_path, ex, x, &ny);
  float *jit = run_jit(kiln_path, ex, x, &nk);
  float *aot = jit ? run_aot(kiln_path, ex, dir, x, nk) : NULL;
  CHECK(ref && jit && aot && ny == nk);
  if (ref && jit && aot && ny == nk) {
    CHECK(close_enough("JIT", jit, ref, ny));
    CHECK(close_enough("AOT", aot, ref, ny));
  }
  free(ref);
  free(jit);
  free(aot);
  free(x);
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  CHECK(system(cmd) == 0);
}

int main(int argc, char **argv) {
  for (size_t i = 0; i < sizeof examples / sizeof examples[0]; i++) {
    bool wanted = argc == 1;
    for (int a = 1; a < argc; a++) wanted |= strcmp(argv[a], examples[i].name) == 0;
    if (wanted) check_example(&examples[i]);
  }
  return check_report();
}
