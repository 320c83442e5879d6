/* The LLVM CPU backend behind the backend interface (codegen/backend.h): the JIT of jit.c
 * and the AOT writer of aot.c; and the choice of a backend by kiln_options.target. */
#include "codegen/backend.h"

#include "codegen/codegen.h"
#include "codegen/cuda.h"

#include <string.h>

static kiln_status cpu_jit(const kiln_program *p, const kiln_options *opts, void **code,
                           kiln_entry_fn *entry, kiln_error *err) {
  kiln_jit *jit = NULL;
  kiln_status st = kiln_jit_compile(p, opts, &jit, entry, err);
  *code = jit;
  return st;
}

static void cpu_free(void *code) { kiln_jit_free(code); }

static kiln_status bad_target(const kiln_options *opts, kiln_error *err) {
  return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "target '%s': unknown (cpu, cuda, cuda-host)",
                   opts->target);
}

static kiln_status cpu_check(const kiln_options *opts, kiln_error *err) {
  if (opts->target && strcmp(opts->target, "cpu")) return bad_target(opts, err);
  return kiln_llvm_check_target(opts, err);
}

static const kiln_backend cpu = {
    .name = "cpu",
    .check = cpu_check,
    .jit = cpu_jit,
    .free_code = cpu_free,
    .aot_check = kiln_aot_check,
    .aot_write = kiln_aot_write,
};

const kiln_backend *kiln_backend_for(const kiln_options *opts) {
  const char *t = opts ? opts->target : NULL;
  if (t && !strcmp(t, "cuda-host")) return &kiln_cuda_host_backend;
  if (t && !strcmp(t, "cuda")) return &kiln_cuda_backend;
  return &cpu; /* whose check refuses an unknown target */
}
