/* A program built outside kiln's tree against an installed kiln (tests/install_host.sh):
 *   host MODEL WORKDIR
 * compiles MODEL (one f32 input, one f32 output) just in time with 2 threads and runs it,
 * compiles it ahead of time to WORKDIR/libhostmodel.so, dlopens and runs that, and prints
 * the JIT output (one value a line) for the script to compare with onnxruntime's. It
 * fails unless both outputs agree, the version macros match kiln_version(), and the
 * host's own OpenMP setting (omp_set_num_threads(3)) is the same after each step. */
#include <kiln.h>

#include <dlfcn.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

static void expect(int ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "host: FAIL: %s\n", what);
    failures++;
  }
}

/* The host's OpenMP state: the ICV omp_set_num_threads set, and a parallel region's team. */
static void expect_omp_untouched(const char *after) {
  char what[128];
  snprintf(what, sizeof what, "omp_get_max_threads() is still 3 after %s", after);
  expect(omp_get_max_threads() == 3, what);
  int team = 0;
#pragma omp parallel
  {
#pragma omp single
    team = omp_get_num_threads();
  }
  snprintf(what, sizeof what, "a parallel region still has 3 threads after %s", after);
  expect(team == 3, what);
}

int main(int argc, char **argv) {
  if (argc != 3) return fprintf(stderr, "usage: host MODEL WORKDIR\n"), 2;
  omp_set_num_threads(3);
  char version[64];
  snprintf(version, sizeof version, "%d.%d.%d", KILN_VERSION_MAJOR, KILN_VERSION_MINOR,
           KILN_VERSION_PATCH);
  expect(strcmp(kiln_version(), KILN_VERSION) == 0 && strcmp(version, KILN_VERSION) == 0,
         "kiln_version() == KILN_VERSION == MAJOR.MINOR.PATCH");

  kiln_options opts;
  kiln_options_init(&opts);
  opts.num_threads = 2;
  kiln_model *m = NULL;
  kiln_error err;
  if (kiln_compile_file(argv[1], &opts, &m, &err) != KILN_OK)
    return fprintf(stderr, "host: compile: %s\n", err.message), 1;
  kiln_tensor_info in, out;
  if (kiln_num_inputs(m) != 1 || kiln_num_outputs(m) != 1 || kiln_input_info(m, 0, &in) ||
      kiln_output_info(m, 0, &out) || in.dtype != KILN_F32 || out.dtype != KILN_F32)
    return fprintf(stderr, "host: not a one-input, one-output float model\n"), 1;
  size_t nin = in.bytes / sizeof(float), nout = out.bytes / sizeof(float);
  float *x = malloc(in.bytes), *jit = malloc(out.bytes), *aot = malloc(out.bytes);
  for (size_t i = 0; i < nin; i++) x[i] = (float)(i % 7) / 7.0f;
  const void *inputs[] = {x};
  void *outputs[] = {jit};
  expect(kiln_run(m, inputs, outputs, &err) == KILN_OK, "kiln_run");
  kiln_model_free(m);
  expect_omp_untouched("a JIT compile and run");

  char lib[4096];
  snprintf(lib, sizeof lib, "%s/libhostmodel.so", argv[2]);
  if (kiln_compile_aot(argv[1], &opts, lib, "hostmodel", &err) != KILN_OK)
    return fprintf(stderr, "host: compile_aot: %s\n", err.message), 1;
  void *so = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
  if (!so) return fprintf(stderr, "host: dlopen: %s\n", dlerror()), 1;
  int (*run)(const float *, float *, void *);
  *(void **)&run = dlsym(so, "hostmodel_run");
  expect(run != NULL, "hostmodel_run is exported");
  if (run) expect(run(x, aot, NULL) == 0, "hostmodel_run returns 0");
  expect_omp_untouched("an AOT compile and run");
  for (size_t i = 0; run && i < nout; i++)
    expect(fabsf(jit[i] - aot[i]) <= 1e-5f, "JIT and AOT outputs agree");
  dlclose(so);

  for (size_t i = 0; i < nout; i++) printf("%.8g\n", jit[i]);
  free(x);
  free(jit);
  free(aot);
  return failures ? 1 : 0;
}
