/* Helpers of the CUDA backend's unit tests (cuda_test.h). */
#include "cuda_test.h"

#include "node_test.h"

#include "codegen/cuda_emit.h"
#include "codegen/nvrtc.h"
#include "frontend/dsl.h"
#include "passes/passes.h"
#include "runtime/check.h"
#include "runtime/kernel_run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

kiln_program *cuda_test_compile(const char *text, const kiln_options *opts) {
  kiln_graph *g = NULL;
  kiln_program *p = NULL;
  kiln_error err = {0};
  if (!kiln_dsl_import(text, strlen(text), "m.kiln", opts, &g, &err) &&
      !kiln_passes_run(g, opts, &p, &err))
    kiln_check_instrument(p, false);
  if (err.code) fprintf(stderr, "%s\n%s\n", text, err.message);
  kiln_graph_free(g);
  return p;
}

char *cuda_test_source(const kiln_program *p) {
  char *text = NULL;
  size_t len = 0;
  kiln_error err = {0};
  FILE *mem = open_memstream(&text, &len);
  if (!mem) return NULL;
  kiln_status st = kiln_cuda_emit_program(p, mem, &err);
  fclose(mem);
  if (!st) return text;
  fprintf(stderr, "%s\n", err.message);
  free(text);
  return NULL;
}

bool cuda_test_nvrtc(const char *text) {
  kiln_nvrtc_output out;
  kiln_error err = {0};
  if (kiln_nvrtc_compile(text, "sm_90", &out, &err)) {
    fprintf(stderr, "nvrtc: %s\n", err.message);
    return false;
  }
  kiln_nvrtc_output_free(&out);
  return true;
}

bool cuda_test_kernel(const kiln_program *p, kiln_kernel *k, uint32_t seed) {
  kiln_options opts = {.struct_size = sizeof opts, .target = "cuda-host"};
  kiln_kernel_runner *r = NULL;
  kiln_error err = {0};
  if (kiln_kernel_runner_new(p, k, &opts, seed, &r, &err) || kiln_kernel_runner_run(r, &err)) {
    fprintf(stderr, "kernel '%s': %s\n", k->name, err.message);
    kiln_kernel_runner_free(r);
    return false;
  }
  bool ok = node_test_vs_interp(p, k, r);
  kiln_kernel_runner_free(r);
  return ok;
}
