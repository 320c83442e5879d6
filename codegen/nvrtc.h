/* NVRTC, the CUDA runtime compiler, loaded with dlopen when first needed (libnvrtc.so from
 * the default search path, else from /usr/local/cuda/lib64), so that kiln neither links
 * against CUDA nor needs it to build and run CPU models. */
#ifndef KILN_CODEGEN_NVRTC_H
#define KILN_CODEGEN_NVRTC_H

#include "ir/util.h"

#include <stddef.h>

/* The GPU architecture a cubin is made for when none is given (an H100/H200's). */
#define KILN_DEFAULT_GPU_ARCH "sm_90"

typedef struct kiln_nvrtc_output {
  char *cubin; /* machine code for the architecture */
  size_t cubin_size;
  char *ptx;   /* the same as PTX, which newer GPUs compile (NUL-terminated) */
  size_t ptx_size;
} kiln_nvrtc_output;

/* A GPU architecture name: sm_ or compute_, two or three digits, maybe a or f after. */
bool kiln_nvrtc_arch_ok(const char *arch);
/* Whether libnvrtc could be loaded (a message in err when not: KILN_ERR_UNSUPPORTED). */
kiln_status kiln_nvrtc_load(kiln_error *err);
/* Compiles CUDA C source (codegen/cuda.h) for arch ("sm_90"; NULL = the default) into out
 * (free with kiln_nvrtc_output_free). A compile error is KILN_ERR_CODEGEN with the head of
 * NVRTC's log; a bad arch KILN_ERR_INVALID_ARGUMENT. */
kiln_status kiln_nvrtc_compile(const char *source, const char *arch, kiln_nvrtc_output *out,
                               kiln_error *err);
void kiln_nvrtc_output_free(kiln_nvrtc_output *out);

#endif
