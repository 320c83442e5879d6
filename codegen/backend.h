/* The interface a code generator implements. The API (runtime/api.c) and the one-kernel
 * runner (runtime/kernel_run.c) reach code generation only through it, so a second backend
 * (CUDA C through NVRTC) plugs in beside the LLVM CPU backend without them changing. A
 * backend takes a finished program (kernels scheduled, memory planned) and makes either
 * code in memory, run through an entry function with the ABI of docs/architecture.md, or
 * files (an AOT library and its header). */
#ifndef KILN_CODEGEN_BACKEND_H
#define KILN_CODEGEN_BACKEND_H

#include "ir/program.h"

/* Returns KILN_OK, or the kiln_status of a failure its checks recorded in the arena's
 * check record (runtime/check.h): KILN_ERR_INVALID_INPUT for an index out of range. */
typedef int (*kiln_entry_fn)(void *const *inputs, void *const *outputs, uint8_t *arena,
                             const void *const *consts);

typedef struct kiln_backend {
  const char *name;
  /* Target options (triple, CPU, features) checked before any work is done. */
  kiln_status (*check)(const kiln_options *opts, kiln_error *err);
  /* Code for p in memory: *code owns it (free_code releases it), *entry runs it. */
  kiln_status (*jit)(const kiln_program *p, const kiln_options *opts, void **code,
                     kiln_entry_fn *entry, kiln_error *err);
  void (*free_code)(void *code);
  /* Optional, for code that runs on a device (NULL: runs go through entry, on host memory):
   * one run of code on host buffers (copied to the device and back), or with device on the
   * caller's device buffers, queued on stream (NULL: the default stream). */
  kiln_status (*run)(void *code, const void *const *inputs, void *const *outputs, bool device,
                     void *stream, kiln_error *err);
  /* What aot_write would refuse before any work (name, path, target, linker). */
  kiln_status (*aot_check)(const kiln_options *opts, const char *out_path, const char *name,
                           kiln_error *err);
  /* out_path (a shared library or an object file) and <name>.h beside it, atomically. */
  kiln_status (*aot_write)(const kiln_program *p, const kiln_options *opts,
                           const char *out_path, const char *name, kiln_error *err);
} kiln_backend;

/* The backend for opts->target: the LLVM CPU backend (codegen/backend.c) for NULL or
 * "cpu", the GPU backend's (codegen/cuda.h) for "cuda-host" and "cuda". */
const kiln_backend *kiln_backend_for(const kiln_options *opts);

#endif
