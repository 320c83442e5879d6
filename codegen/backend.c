/* The LLVM CPU backend behind the backend interface (codegen/backend.h): the JIT of jit.c
 * and the AOT writer of aot.c. */
#include "codegen/backend.h"

#include "codegen/codegen.h"

static kiln_status cpu_jit(const kiln_program *p, const kiln_options *opts, void **code,
                           kiln_entry_fn *entry, kiln_error *err) {
  kiln_jit *jit = NULL;
  kiln_status st = kiln_jit_compile(p, opts, &jit, entry, err);
  *code = jit;
  return st;
}

static void cpu_free(void *code) { kiln_jit_free(code); }

static const kiln_backend cpu = {
    .name = "cpu",
    .check = kiln_llvm_check_target,
    .jit = cpu_jit,
    .free_code = cpu_free,
    .aot_check = kiln_aot_check,
    .aot_write = kiln_aot_write,
};

const kiln_backend *kiln_backend_for(const kiln_options *opts) {
  (void)opts;
  return &cpu;
}
