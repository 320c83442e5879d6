/* The "cuda" backend: kernels on an NVIDIA GPU through the CUDA driver API, which kiln
 * loads at run time (dlopen of libcuda.so.1: kiln links against no CUDA library). Running
 * on the GPU is not implemented yet, so every use fails before any work with
 * KILN_ERR_UNSUPPORTED, naming the driver when it is missing; `kiln dump --cuda` and the
 * "cuda-host" target (cuda_host.c) give the code it would run. */
#include "codegen/cuda.h"

#include <dlfcn.h>

static kiln_status driver_check(const kiln_options *opts, kiln_error *err) {
  (void)opts;
  void *h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char *why = dlerror();
    return kiln_fail(err, KILN_ERR_UNSUPPORTED, "target 'cuda': the CUDA driver (libcuda.so.1) "
                     "cannot be loaded: %s", why ? why : "not found");
  }
  dlclose(h);
  return kiln_fail(err, KILN_ERR_UNSUPPORTED, "target 'cuda': running on the GPU is not "
                   "implemented yet (target 'cuda-host' runs the same CUDA C on the CPU)");
}

static kiln_status driver_jit(const kiln_program *p, const kiln_options *opts, void **code,
                              kiln_entry_fn *entry, kiln_error *err) {
  (void)p;
  *code = NULL;
  *entry = NULL;
  return driver_check(opts, err);
}

static void driver_free(void *code) { (void)code; }

static kiln_status driver_aot_check(const kiln_options *opts, const char *out_path,
                                    const char *name, kiln_error *err) {
  (void)opts, (void)out_path, (void)name;
  return kiln_fail(err, KILN_ERR_UNSUPPORTED, "target 'cuda': AOT libraries for the GPU are "
                   "not implemented yet");
}

static kiln_status driver_aot_write(const kiln_program *p, const kiln_options *opts,
                                    const char *out_path, const char *name, kiln_error *err) {
  (void)p;
  return driver_aot_check(opts, out_path, name, err);
}

const kiln_backend kiln_cuda_backend = {
    .name = "cuda",
    .check = driver_check,
    .jit = driver_jit,
    .free_code = driver_free,
    .aot_check = driver_aot_check,
    .aot_write = driver_aot_write,
};
