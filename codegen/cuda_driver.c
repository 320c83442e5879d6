/* The "cuda" backend: kernels on an NVIDIA GPU through the CUDA driver API, which is
 * loaded at run time (dlopen of libcuda.so.1: kiln links against no CUDA library). AOT
 * libraries are cuda_aot.c's; the JIT is the same library, built in TMPDIR (NVRTC, then
 * `cc`), loaded with dlopen and its file removed at once, so that there is one runtime
 * (cuda_driver_rt.c) and each model has its own device state; it is made for
 * kiln_options.gpu_arch, else for the GPU of this machine, else for sm_90. Compiling needs
 * no GPU: the driver is opened at the first run, which without one fails with
 * KILN_ERR_UNSUPPORTED naming libcuda.so.1 (the library's <name>_error says why). */
#include "codegen/cuda.h"
#include "ir/util.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* the library's prefix: its exports are dlsym'd from its own handle (RTLD_LOCAL) */
#define JIT_NAME "kiln_cuda_jit"

typedef struct driver_code {
  void *lib;
  int (*run_arrays)(const void *const *in, void *const *out, void *workspace);
  int (*run_device)(const void *const *in, void *const *out, void *stream);
  void (*release)(void);
  const char *(*error)(void);
} driver_code;

static kiln_status driver_check(const kiln_options *opts, kiln_error *err) {
  if (opts->profile)
    return kiln_fail(err, KILN_ERR_UNSUPPORTED, "target '%s': profiling is not implemented by "
                     "the GPU backend", opts->target);
  return KILN_OK;
}

/* the library's function JIT_NAME_<what> into *fn (a function pointer's address) */
static bool bind(void *lib, const char *what, void *fn) {
  char *name = kiln_fmt(JIT_NAME "_%s", what);
  void *f = dlsym(lib, name);
  free(name);
  memcpy(fn, &f, sizeof f);
  return f != NULL;
}

/* Device 0's architecture ("sm_86", malloc'd), or NULL without a driver or device. The
 * driver stays loaded: cuInit may have started its threads. */
static char *device_arch(void) {
  void *lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  int (*init)(unsigned) = NULL, (*get)(int *, int) = NULL, (*attr)(int *, int, int) = NULL;
  if (!lib) return NULL;
  void *f[3] = {dlsym(lib, "cuInit"), dlsym(lib, "cuDeviceGet"), dlsym(lib, "cuDeviceGetAttribute")};
  memcpy(&init, &f[0], sizeof init);
  memcpy(&get, &f[1], sizeof get);
  memcpy(&attr, &f[2], sizeof attr);
  int dev, major, minor; /* CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, _MINOR: 75, 76 */
  if (!init || !get || !attr || init(0) || get(&dev, 0) || attr(&major, 75, dev) ||
      attr(&minor, 76, dev))
    return NULL;
  return kiln_fmt("sm_%d%d", major, minor);
}

static kiln_status driver_jit(const kiln_program *p, const kiln_options *opts, void **code,
                              kiln_entry_fn *entry, kiln_error *err) {
  *code = NULL;
  *entry = NULL; /* runs go through driver_run */
  const char *dir = getenv("TMPDIR");
  if (!dir || !*dir) dir = "/tmp";
  kiln_options o = *opts;
  char *arch = o.gpu_arch ? NULL : device_arch(); /* none given: this machine's GPU's */
  if (arch) o.gpu_arch = arch;
  kiln_temp t = {0};
  kiln_status st = kiln_cuda_library(p, &o, dir, JIT_NAME, &t, err);
  free(arch);
  if (st) return st;
  void *lib = dlopen(t.path, RTLD_NOW | RTLD_LOCAL);
  const char *why = lib ? NULL : dlerror();
  if (!lib) st = kiln_fail(err, KILN_ERR_CODEGEN, "target 'cuda': cannot load '%s': %s", t.path,
                           why ? why : "?");
  unlink(t.path);
  kiln_temp_forget(&t);
  if (st) return st;
  driver_code *c = kiln_xcalloc(1, sizeof *c);
  c->lib = lib;
  if (!(bind(lib, "run_arrays", &c->run_arrays) && bind(lib, "run_device", &c->run_device) &&
        bind(lib, "release", &c->release) && bind(lib, "error", &c->error))) {
    dlclose(lib);
    free(c);
    return kiln_fail(err, KILN_ERR_INTERNAL, "target 'cuda': the library lacks its entry points");
  }
  *code = c;
  return KILN_OK;
}

static kiln_status driver_run(void *code, const void *const *inputs, void *const *outputs,
                              bool device, void *stream, kiln_error *err) {
  driver_code *c = code;
  int rc = device ? c->run_device(inputs, outputs, stream)
                  : c->run_arrays(inputs, outputs, NULL);
  if (!rc) return KILN_OK;
  const char *why = c->error();
  if (!why || !*why) why = "the run failed";
  if (rc == KILN_ERR_INVALID_INPUT || rc == KILN_ERR_INTERNAL) /* the check record's message */
    return kiln_fail(err, (kiln_status)rc, "%s", why);
  return kiln_fail(err, (kiln_status)rc, "target 'cuda': %s", why);
}

static void driver_free(void *code) {
  driver_code *c = code;
  if (!c) return;
  c->release(); /* the device memory and module, before the code that holds them goes */
  dlclose(c->lib);
  free(c);
}

const kiln_backend kiln_cuda_backend = {
    .name = "cuda",
    .check = driver_check,
    .jit = driver_jit,
    .free_code = driver_free,
    .run = driver_run,
    .aot_check = kiln_cuda_aot_check,
    .aot_write = kiln_cuda_aot_write,
};
