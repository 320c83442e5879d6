/* The GPU backend: a kiln_program as CUDA C (one `extern "C" __global__` function per
 * stage of each kernel, over the same kernel IR and schedules the LLVM backend reads),
 * run on the host through a header that gives the CUDA macros a sequential meaning
 * (target "cuda-host", for testing without a GPU), or compiled by NVRTC for a GPU
 * architecture (codegen/nvrtc.c). */
#ifndef KILN_CODEGEN_CUDA_H
#define KILN_CODEGEN_CUDA_H

#include "codegen/backend.h"
#include "ir/tempfile.h"

#include <stdio.h>

/* cuda_emit.c: writes p's CUDA C source to out: the prelude, one kernel function per
 * stage, and (compiled only with the host header, `#ifdef KILN_CUDA_HOST`) the entry
 * function KILN_CUDA_ENTRY with the ABI of docs/architecture.md that launches them in
 * order. Fails with KILN_ERR_INTERNAL on kernel IR it cannot emit. */
kiln_status kiln_cuda_emit_program(const kiln_program *p, FILE *out, kiln_error *err);
#define KILN_CUDA_ENTRY "kiln_entry"

/* cuda_prelude.c: what every source starts with (the CUDA macros under NVRTC, then the
 * helpers), and the header that goes before it for the host compiler. */
extern const char kiln_cuda_prelude[];
extern const char kiln_cuda_host_header[];

/* cuda_driver_rt.c: the runtime of AOT libraries for target "cuda" (over the CUDA driver
 * API, loaded with dlopen), as C text; cuda_aot.c writes those libraries. */
extern const char kiln_cuda_driver_runtime[];
kiln_status kiln_cuda_aot_check(const kiln_options *opts, const char *out_path, const char *name,
                                kiln_error *err);
kiln_status kiln_cuda_aot_write(const kiln_program *p, const kiln_options *opts,
                                const char *out_path, const char *name, kiln_error *err);
/* The library alone, a new temporary file in dir (*lib; removed on failure) whose exports
 * are named `<name>_*`: what both the AOT writer and the JIT (cuda_driver.c) build. */
kiln_status kiln_cuda_library(const kiln_program *p, const kiln_options *opts, const char *dir,
                              const char *name, kiln_temp *lib, kiln_error *err);

/* cuda_host.c: the "cuda-host" backend; cuda_driver.c: the "cuda" backend. */
extern const kiln_backend kiln_cuda_host_backend;
extern const kiln_backend kiln_cuda_backend;

#endif
