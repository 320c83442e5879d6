/* Helpers of the CUDA backend's unit tests (unit_cuda_gemm, unit_cuda_reduce): DSL text
 * through every pass, the program's CUDA C, NVRTC on it, and a kernel through cuda-host
 * against the interpreter. Each returns what its test CHECKs (check.h counts per test
 * file) and prints why not. */
#ifndef KILN_TESTS_CUDA_TEST_H
#define KILN_TESTS_CUDA_TEST_H

#include "ir/program.h"

#include <stdbool.h>
#include <stdint.h>

/* The program of DSL text with opts, its check record added as kiln_compile would; NULL. */
kiln_program *cuda_test_compile(const char *text, const kiln_options *opts);
/* p's CUDA C (malloc'd), or NULL. */
char *cuda_test_source(const kiln_program *p);
/* Does NVRTC compile text for sm_90? (NVRTC must be loaded) */
bool cuda_test_nvrtc(const char *text);
/* Kernel k through cuda-host against the interpreter, on the same random inputs. */
bool cuda_test_kernel(const kiln_program *p, kiln_kernel *k, uint32_t seed);

#endif
