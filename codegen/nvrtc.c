/* NVRTC through dlopen (codegen/nvrtc.h): the few entry points kiln calls, looked up once
 * per process, with NVRTC's types declared here rather than taken from its header. */
#include "codegen/nvrtc.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct nvrtc_prog *nvrtc_prog; /* nvrtcProgram */
typedef int nvrtc_result;              /* nvrtcResult: 0 = NVRTC_SUCCESS */

static struct {
  void *lib;
  char why[512];
  const char *(*error_string)(nvrtc_result);
  nvrtc_result (*create)(nvrtc_prog *, const char *, const char *, int, const char *const *,
                         const char *const *);
  nvrtc_result (*compile)(nvrtc_prog, int, const char *const *);
  nvrtc_result (*log_size)(nvrtc_prog, size_t *);
  nvrtc_result (*log)(nvrtc_prog, char *);
  nvrtc_result (*cubin_size)(nvrtc_prog, size_t *);
  nvrtc_result (*cubin)(nvrtc_prog, char *);
  nvrtc_result (*ptx_size)(nvrtc_prog, size_t *);
  nvrtc_result (*ptx)(nvrtc_prog, char *);
  nvrtc_result (*destroy)(nvrtc_prog *);
} N;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void *sym(const char *name) { return N.lib ? dlsym(N.lib, name) : NULL; }

static void load(void) {
  static const char *const names[] = {"libnvrtc.so", "libnvrtc.so.13", "libnvrtc.so.12",
                                      "/usr/local/cuda/lib64/libnvrtc.so"};
  for (size_t i = 0; i < sizeof names / sizeof *names && !N.lib; i++) {
    N.lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (!N.lib && i == 0) {
      const char *why = dlerror();
      snprintf(N.why, sizeof N.why, "%s", why ? why : "not found");
    }
  }
  *(void **)&N.error_string = sym("nvrtcGetErrorString");
  *(void **)&N.create = sym("nvrtcCreateProgram");
  *(void **)&N.compile = sym("nvrtcCompileProgram");
  *(void **)&N.log_size = sym("nvrtcGetProgramLogSize");
  *(void **)&N.log = sym("nvrtcGetProgramLog");
  *(void **)&N.cubin_size = sym("nvrtcGetCUBINSize");
  *(void **)&N.cubin = sym("nvrtcGetCUBIN");
  *(void **)&N.ptx_size = sym("nvrtcGetPTXSize");
  *(void **)&N.ptx = sym("nvrtcGetPTX");
  *(void **)&N.destroy = sym("nvrtcDestroyProgram");
  if (N.lib && !(N.error_string && N.create && N.compile && N.log_size && N.log && N.cubin_size &&
                 N.cubin && N.ptx_size && N.ptx && N.destroy)) {
    dlclose(N.lib);
    N.lib = NULL;
    snprintf(N.why, sizeof N.why, "it lacks the entry points kiln calls");
  }
}

kiln_status kiln_nvrtc_load(kiln_error *err) {
  pthread_once(&once, load);
  if (N.lib) return KILN_OK;
  return kiln_fail(err, KILN_ERR_UNSUPPORTED, "NVRTC (libnvrtc.so) cannot be loaded: %s", N.why);
}

bool kiln_nvrtc_arch_ok(const char *a) {
  const char *d = !strncmp(a, "sm_", 3) ? a + 3 : !strncmp(a, "compute_", 8) ? a + 8 : NULL;
  size_t n = d ? strspn(d, "0123456789") : 0;
  return d && n >= 2 && n <= 3 && (!d[n] || ((d[n] == 'a' || d[n] == 'f') && !d[n + 1]));
}

static char *take(nvrtc_prog p, nvrtc_result (*size)(nvrtc_prog, size_t *),
                  nvrtc_result (*get)(nvrtc_prog, char *), size_t *n) {
  if (size(p, n) || !*n) return NULL;
  char *b = kiln_xmalloc(*n + 1);
  if (get(p, b)) {
    free(b);
    return NULL;
  }
  b[*n] = 0;
  return b;
}

kiln_status kiln_nvrtc_compile(const char *source, const char *arch, kiln_nvrtc_output *out,
                               kiln_error *err) {
  memset(out, 0, sizeof *out);
  if (!arch) arch = KILN_DEFAULT_GPU_ARCH;
  if (!kiln_nvrtc_arch_ok(arch))
    return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "GPU architecture '%s': not a name such as "
                     "sm_90", arch);
  kiln_status st = kiln_nvrtc_load(err);
  if (st) return st;
  nvrtc_prog p = NULL;
  nvrtc_result r = N.create(&p, source, "kiln.cu", 0, NULL, NULL);
  if (r) return kiln_fail(err, KILN_ERR_CODEGEN, "NVRTC: %s", N.error_string(r));
  char opt[64];
  snprintf(opt, sizeof opt, "--gpu-architecture=%s", arch);
  const char *opts[] = {opt, "--std=c++17"};
  r = N.compile(p, 2, opts);
  if (r) {
    size_t n = 0;
    char *log = take(p, N.log_size, N.log, &n);
    st = kiln_fail(err, r == 5 /* NVRTC_ERROR_INVALID_OPTION */ ? KILN_ERR_INVALID_ARGUMENT
                                                                 : KILN_ERR_CODEGEN,
                   "NVRTC for %s: %s: %.3000s", arch, N.error_string(r), log ? log : "");
    free(log);
  } else {
    out->ptx = take(p, N.ptx_size, N.ptx, &out->ptx_size);
    if (!strncmp(arch, "sm_", 3)) out->cubin = take(p, N.cubin_size, N.cubin, &out->cubin_size);
    if (!out->ptx || (!strncmp(arch, "sm_", 3) && !out->cubin))
      st = kiln_fail(err, KILN_ERR_CODEGEN, "NVRTC for %s: no %s in its output", arch,
                     out->ptx ? "cubin" : "PTX");
  }
  N.destroy(&p);
  if (st) kiln_nvrtc_output_free(out);
  return st;
}

void kiln_nvrtc_output_free(kiln_nvrtc_output *out) {
  free(out->cubin);
  free(out->ptx);
  memset(out, 0, sizeof *out);
}
