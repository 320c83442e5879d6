/* CPU code generation through the LLVM C API: a kiln_program becomes one LLVM module
 * whose entry function has the ABI of docs/architecture.md, then either machine code in
 * memory (ORC LLJIT) or an object file / shared library plus a C header (AOT). The rest of
 * kiln calls it through the backend interface (codegen/backend.h). */
#ifndef KILN_CODEGEN_H
#define KILN_CODEGEN_H

#include "codegen/backend.h"
#include "ir/program.h"

#include <llvm-c/Core.h>
#include <llvm-c/TargetMachine.h>

/* llvm_emit*.c: adds function `entry_name` (external linkage, the entry ABI) computing
 * program p to mods[0], and the functions its kernels need over the nmods modules (each in a
 * context of its own): each distinct kernel in the module with the fewest instructions so
 * far (external and hidden outside mods[0]), so that the modules can be optimized and
 * compiled at once. Declares (does not define) kiln_rt_parallel_for and the libm functions
 * they call. masked_tails: the target masks the tail of a vector cheaply (AVX-512), which
 * some loop hints count on. */
kiln_status kiln_llvm_emit_modules(LLVMModuleRef *mods, int nmods, const kiln_program *p,
                                   const char *entry_name, bool masked_tails, kiln_error *err);

/* llvm_target.c: a target machine for opts (host CPU, features and triple by default),
 * and the new pass manager's default<O3> pipeline over a module. */
/* Checks opts' target options (triple, cpu, features) without building anything, so a
 * compile can fail on them before doing any work: KILN_ERR_INVALID_ARGUMENT. */
kiln_status kiln_llvm_check_target(const kiln_options *opts, kiln_error *err);
kiln_status kiln_llvm_target_machine(const kiln_options *opts, LLVMTargetMachineRef *tm,
                                     kiln_error *err);
kiln_status kiln_llvm_optimize(LLVMModuleRef m, LLVMTargetMachineRef tm, kiln_error *err);
/* The function attribute of functions holding a register tile (llvm_stage.c): with
 * AVX-512 they use 512-bit vectors, which the tile's sizes assume. */
#define KILN_TILE_ATTR "kiln-register-tile"

/* jit.c: compiles p in memory with ORC LLJIT. */
typedef struct kiln_jit kiln_jit;
kiln_status kiln_jit_compile(const kiln_program *p, const kiln_options *opts, kiln_jit **out,
                             kiln_entry_fn *entry, kiln_error *err);
void kiln_jit_free(kiln_jit *jit);

/* aot.c: writes out_path (a shared library if it ends in .so, else an object file) and
 * the header <dir of out_path>/<name>.h, atomically: on failure neither file exists. */
kiln_status kiln_aot_write(const kiln_program *p, const kiln_options *opts,
                           const char *out_path, const char *name, kiln_error *err);
/* The checks kiln_aot_write makes before any work (name, path, target options, a linker
 * for a shared library of another architecture), for callers to make before compiling. */
kiln_status kiln_aot_check(const kiln_options *opts, const char *out_path, const char *name,
                           kiln_error *err);

#endif
