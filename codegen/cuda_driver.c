/* The "cuda" backend: kernels on an NVIDIA GPU through the CUDA driver API, which is
 * loaded at run time (dlopen of libcuda.so.1: kiln links against no CUDA library). AOT
 * libraries are cuda_aot.c's. Running in memory (JIT) is not implemented yet: it fails
 * with KILN_ERR_UNSUPPORTED, naming the driver when it is missing; `kiln dump --cuda` and
 * the "cuda-host" target (cuda_host.c) give the code it would run. */
#include "codegen/cuda.h"

#include <dlfcn.h>

/* Compiling needs no GPU (AOT libraries are made anywhere NVRTC is); running does. */
static kiln_status driver_check(const kiln_options *opts, kiln_error *err) {
  (void)opts, (void)err;
  return KILN_OK;
}

static kiln_status driver_jit(const kiln_program *p, const kiln_options *opts, void **code,
                              kiln_entry_fn *entry, kiln_error *err) {
  (void)p, (void)opts;
  *code = NULL;
  *entry = NULL;
  void *h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char *why = dlerror();
    return kiln_fail(err, KILN_ERR_UNSUPPORTED, "target 'cuda': the CUDA driver (libcuda.so.1) "
                     "cannot be loaded: %s", why ? why : "not found");
  }
  dlclose(h);
  return kiln_fail(err, KILN_ERR_UNSUPPORTED, "target 'cuda': running in memory (JIT) on the "
                   "GPU is not implemented yet: compile a library (kiln compile --target cuda), "
                   "or run the same CUDA C on the CPU with target 'cuda-host'");
}

static void driver_free(void *code) { (void)code; }

const kiln_backend kiln_cuda_backend = {
    .name = "cuda",
    .check = driver_check,
    .jit = driver_jit,
    .free_code = driver_free,
    .aot_check = kiln_cuda_aot_check,
    .aot_write = kiln_cuda_aot_write,
};
