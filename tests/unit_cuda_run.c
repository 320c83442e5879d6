/* The run side of target "cuda" where there is no GPU: kiln_run_device's argument checks
 * and its refusal of models of other targets; the JIT (NVRTC, the library `cc` builds in
 * TMPDIR, loaded) leaving no file behind, whose runs without a CUDA driver fail with
 * KILN_ERR_UNSUPPORTED naming libcuda.so.1; then, run again over a stand-in driver
 * (mock_libcuda.c), what the library's runtime asks of the driver: one load and upload,
 * launches on the default stream for host buffers and on the caller's stream with the
 * caller's pointers for device ones, outputs copied back, the device's architecture by
 * default, the PTX when the cubin is refused, driver failures as messages, and everything freed with the model. With a real
 * GPU, kiln_run is compared with the CPU backend instead. */
#include "check.h"

#include "include/kiln.h"

#include <dlfcn.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MLP "../examples/mlp.kiln"

static kiln_shape_binding x_shape = {"x", 2, {2, 784}};
static float x[2 * 784], y[20];
static const void *in[1] = {x};
static void *out[1] = {y};

static kiln_status compile(const char *target, kiln_model **m, kiln_error *err) {
  kiln_options o;
  kiln_options_init(&o);
  o.shapes = &x_shape;
  o.nshapes = 1;
  o.target = target;
  return kiln_compile_file(MLP, &o, m, err);
}

static void device_api(void) {
  kiln_error err;
  kiln_model *m = NULL;
  CHECK(kiln_run_device(NULL, in, out, NULL, &err) == KILN_ERR_INVALID_ARGUMENT);
  CHECK(strstr(err.message, "model is NULL") != NULL);
  CHECK(compile(NULL, &m, &err) == KILN_OK);
  CHECK(kiln_run_device(m, in, out, NULL, &err) == KILN_ERR_INVALID_ARGUMENT);
  CHECK(strstr(err.message, "compiled for target 'cpu'") != NULL);
  CHECK(kiln_run_device(m, in, out, NULL, NULL) == KILN_ERR_INVALID_ARGUMENT);
  CHECK(kiln_run_device(m, NULL, out, NULL, &err) == KILN_ERR_INVALID_ARGUMENT);
  CHECK(strstr(err.message, "input 0 ('x') is NULL") != NULL);
  kiln_model_free(m);
  CHECK(compile("cuda-host", &m, &err) == KILN_OK);
  CHECK(kiln_run_device(m, in, out, NULL, &err) == KILN_ERR_INVALID_ARGUMENT);
  CHECK(strstr(err.message, "compiled for target 'cuda-host'") != NULL);
  kiln_model_free(m);
}

/* Whether NVRTC is there (else the JIT cannot be built here: said, and skipped). */
static bool jit(bool *driver) {
  char dir[] = "/tmp/kiln-unit-cuda-run.XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  char *old = getenv("TMPDIR") ? strdup(getenv("TMPDIR")) : NULL;
  setenv("TMPDIR", dir, 1);
  kiln_error err;
  kiln_model *m = NULL;
  kiln_status st = compile("cuda", &m, &err);
  if (old) setenv("TMPDIR", old, 1);
  else unsetenv("TMPDIR");
  free(old);
  CHECK(check_count_files(dir) == 0); /* the library's sources and file are gone */
  rmdir(dir);
  if (st == KILN_ERR_UNSUPPORTED && strstr(err.message, "libnvrtc")) {
    printf("no NVRTC here: the JIT of target cuda is not built (%s)\n", err.message);
    return false;
  }
  CHECK(st == KILN_OK);
  void *cuda = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  *driver = cuda != NULL;
  if (!cuda) {
    for (int i = 0; i < 2; i++) { /* the first run finds no driver, the next says so again */
      CHECK(kiln_run(m, in, out, &err) == KILN_ERR_UNSUPPORTED);
      CHECK(strstr(err.message, "target 'cuda': the CUDA driver (libcuda.so.1) cannot be loaded"));
    }
    CHECK(kiln_run_device(m, in, out, NULL, &err) == KILN_ERR_UNSUPPORTED);
    CHECK(strstr(err.message, "libcuda.so.1") != NULL);
  } else { /* a GPU: the same outputs as the CPU backend's */
    kiln_model *cpu = NULL;
    float want[20];
    void *wout[1] = {want};
    for (int i = 0; i < 2 * 784; i++) x[i] = (float)((i * 37) % 101) / 50.0f - 1.0f;
    CHECK(compile(NULL, &cpu, &err) == KILN_OK && kiln_run(cpu, in, wout, &err) == KILN_OK);
    CHECK(kiln_run(m, in, out, &err) == KILN_OK);
    for (int i = 0; i < 20; i++) CHECK(fabsf(y[i] - want[i]) <= 1e-4f + 1e-3f * fabsf(want[i]));
    kiln_model_free(cpu);
    dlclose(cuda);
  }
  kiln_model_free(m);
  return true;
}

/* ---- over mock_libcuda.c ---- */

typedef struct mock_stats {
  int inits, retains, releases, loads, unloads, allocs, frees, launches, events, destroys;
  int pushes, pops, ptx_loads;
  void *last_stream;
  void *args[256];
  int nargs;
} mock_stats;

static bool launched_with(const mock_stats *s, const void *p) {
  for (int i = 0; i < s->nargs; i++)
    if (s->args[i] == p) return true;
  return false;
}

static void balanced(const mock_stats *s) {
  CHECK(s->allocs == s->frees && s->loads == s->unloads && s->retains == s->releases);
  CHECK(s->events == s->destroys && s->pushes == s->pops);
}

/* A model compiled and run with the driver's call `fail` failing: its status and message. */
static kiln_status failing(const char *fail, const mock_stats *s, kiln_error *err) {
  kiln_model *m = NULL;
  setenv("MOCK_CUDA_FAIL", fail, 1);
  kiln_status st = compile("cuda", &m, err);
  CHECK(st == KILN_OK);
  if (!st) st = kiln_run(m, in, out, err);
  kiln_model_free(m);
  unsetenv("MOCK_CUDA_FAIL");
  balanced(s);
  return st;
}

static void mock(void) {
  void *cuda = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL); /* the one the models open */
  mock_stats *(*stats)(void) = NULL;
  CHECK(cuda && (*(void **)&stats = dlsym(cuda, "mock_cuda_stats")));
  if (!stats) return;
  mock_stats *s = stats();
  kiln_error err;
  kiln_model *m = NULL;
  CHECK(compile("cuda", &m, &err) == KILN_OK);
  CHECK(s->loads == 0 && s->allocs == 0); /* compiling needs no GPU */
  memset(y, 0, sizeof y);
  CHECK(kiln_run(m, in, out, &err) == KILN_OK);
  CHECK(s->loads == 1 && s->ptx_loads == 0 && s->launches > 0);
  CHECK(s->last_stream == NULL && s->pushes > 0 && s->pushes == s->pops); /* context restored */
  bool copied = true; /* the output came back from its device buffer (0x3f bytes) */
  for (size_t i = 0; i < sizeof y; i++) copied &= ((uint8_t *)y)[i] == 0x3f;
  CHECK(copied);
  int allocs = s->allocs, launches = s->launches;
  CHECK(kiln_run(m, in, out, &err) == KILN_OK);
  CHECK(s->loads == 1 && s->allocs == allocs && s->launches == 2 * launches);
  float dx[2 * 784], dy[20]; /* "device" pointers: the stand-in's memory is the host's */
  const void *din[1] = {dx};
  void *dout[1] = {dy};
  s->nargs = 0;
  CHECK(kiln_run_device(m, din, dout, (void *)0x5eed, &err) == KILN_OK);
  CHECK(s->last_stream == (void *)0x5eed && launched_with(s, dx) && launched_with(s, dy));
  CHECK(!launched_with(s, x) && !launched_with(s, y)); /* host buffers never reach a kernel */
  kiln_model_free(m);
  balanced(s);

  CHECK(failing("cubin", s, &err) == KILN_OK && s->ptx_loads == 1); /* the PTX instead */
  CHECK(failing("module", s, &err) == KILN_ERR_UNSUPPORTED);
  /* made for the device's architecture, the stand-in's sm_86 */
  CHECK(strstr(err.message, "the GPU cannot load the model's code: the cubin for sm_86") != NULL);
  CHECK(failing("init", s, &err) == KILN_ERR_UNSUPPORTED);
  CHECK(strstr(err.message, "the CUDA driver cannot start (cuInit") != NULL);
  CHECK(failing("alloc", s, &err) == KILN_ERR_OUT_OF_MEMORY);
  CHECK(strstr(err.message, "bytes of GPU memory") != NULL);
  CHECK(failing("launch", s, &err) == KILN_ERR_UNSUPPORTED);
  CHECK(strstr(err.message, "cuLaunchKernel kiln_k0_s0: CUDA error 700 (CUDA_ERROR_ILLEGAL_ADDRESS)"));
}

/* This test again with the stand-in driver first on the library path. */
static void with_mock(const char *self) {
  char dir[] = "/tmp/kiln-unit-mock-cuda.XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  char cmd[512], lib[128];
  snprintf(lib, sizeof lib, "%s/libcuda.so.1", dir);
  snprintf(cmd, sizeof cmd, "cc -shared -fPIC -O1 -o %s mock_libcuda.c", lib);
  CHECK(system(cmd) == 0);
  pid_t pid = fork();
  if (pid == 0) {
    setenv("LD_LIBRARY_PATH", dir, 1);
    execl(self, self, "--mock", (char *)NULL);
    _exit(127);
  }
  int status = 0;
  CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  unlink(lib);
  rmdir(dir);
}

int main(int argc, char **argv) {
  if (argc > 1 && !strcmp(argv[1], "--mock")) {
    mock();
    return check_report();
  }
  device_api();
  bool driver = false;
  if (jit(&driver) && !driver) with_mock(argv[0]);
  return check_report();
}
