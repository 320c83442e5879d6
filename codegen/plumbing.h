/* Private helpers of the codegen plumbing (llvm_target.c, jit.c, aot*.c, cuda_host.c). */
#ifndef KILN_CODEGEN_PLUMBING_H
#define KILN_CODEGEN_PLUMBING_H

#include "codegen/codegen.h"

#include <llvm-c/Error.h>

/* Turns an LLVMErrorRef (consumed) into err: "<what>: <LLVM's message>". */
kiln_status kiln_llvm_fail_error(kiln_error *err, LLVMErrorRef e, const char *what);

/* A new module in ctx with tm's triple and data layout, holding program p's entry function
 * `entry_name` (kiln_llvm_emit_modules). Not optimised yet. */
kiln_status kiln_llvm_program_module(LLVMContextRef ctx, const kiln_program *p,
                                     const char *entry_name, LLVMTargetMachineRef tm,
                                     LLVMModuleRef *out, kiln_error *err);
/* The same as n modules out[0 .. n), one in each context (kiln_llvm_emit_modules). */
kiln_status kiln_llvm_program_modules(LLVMContextRef *ctxs, int n, const kiln_program *p,
                                      const char *entry_name, LLVMTargetMachineRef tm,
                                      LLVMModuleRef *out, kiln_error *err);

/* llvm_build.c: a program's modules, each built (optimized, then compiled to an object) on
 * a thread of its own. A part owns its context, module, target machine and object. */
#define KILN_LLVM_MAX_PARTS 4
typedef struct kiln_llvm_part {
  LLVMContextRef ctx;
  LLVMModuleRef m;          /* set by the caller, in ctx */
  LLVMTargetMachineRef tm;
  const char *path;         /* the object goes to this file; else into obj */
  LLVMMemoryBufferRef obj;
  bool emit;                /* the phase running */
  kiln_status st;
  kiln_error err;
} kiln_llvm_part;
/* n parts, each with a new context and a target machine for opts. */
kiln_status kiln_llvm_parts_new(kiln_llvm_part *parts, int n, const kiln_options *opts,
                                kiln_error *err);
/* Optimizes every part's module; then compiles each to its object. */
kiln_status kiln_llvm_parts_optimize(kiln_llvm_part *parts, int n, kiln_error *err);
kiln_status kiln_llvm_parts_emit(kiln_llvm_part *parts, int n, kiln_error *err);
/* Writes the parts' modules to the file at path, one after the other. */
void kiln_llvm_parts_dump(const kiln_llvm_part *parts, int n, const char *path);
void kiln_llvm_parts_free(kiln_llvm_part *parts, int n);

/* llvm_target.c: whether triple (NULL = the default) is for the host's architecture. */
bool kiln_llvm_triple_is_host(const char *triple);

/* llvm_target_names.c: KILN_ERR_INVALID_ARGUMENT unless cpu (if not NULL) and every name
 * in features ("+a,-b", if not NULL) are ones LLVM knows for target. */
kiln_status kiln_llvm_check_names(LLVMTargetRef target, const char *triple, const char *cpu,
                                  const char *features, kiln_error *err);

/* aot_runtime.c: gives module m's kiln_rt_parallel_for, if it calls one, an internal
 * definition in IR (over libgomp's GOMP_parallel), so an object needs no kiln runtime. */
void kiln_aot_define_runtime(LLVMModuleRef m);

/* aot.c: runs argv (argv[0] looked up in PATH) without a shell, in its own process group
 * (registered for kiln_remove_temporaries); its output is captured so the library prints
 * nothing, and its last lines go into the error message (KILN_ERR_CODEGEN). */
kiln_status kiln_run_tool(char *const argv[], kiln_error *err);

/* aot_header.c: writes the C header of an AOT library for p to `path`; gpu: the library
 * runs on a GPU (its run can also return <NAME>_ERR_UNSUPPORTED); threads: it exports
 * <name>_set_num_threads. */
kiln_status kiln_aot_write_header(const kiln_program *p, const char *name, const char *path,
                                  bool gpu, bool threads, kiln_error *err);
/* aot_dyn.c: a module with free dims (p->nsyms) gets <name>_run_dims, _output_shapes,
 * _workspace_size, _check_inputs and _run_variant, calling rt/dyn_aot.c with a table of p's
 * shapes, run-time memory plan and buckets; entries and consts: the entry functions and
 * constant tables of p (0) and of its buckets (1 + b). */
kiln_status kiln_aot_add_dyn_wrappers(LLVMModuleRef m, const kiln_program *p, const char *name,
                                      const LLVMValueRef *entries, const LLVMValueRef *consts,
                                      kiln_error *err);
/* aot_manifest.c: `<name>_manifest`'s text (malloc'd): KILN_MANIFEST_MARK and the JSON
 * describing p's library; gpu: target cuda; threads: it exports <name>_set_num_threads. */
char *kiln_aot_manifest(const kiln_program *p, const kiln_options *opts, const char *name,
                        bool gpu, bool threads);
/* The C type of a tensor of dtype t in an AOT library's interface. */
const char *kiln_aot_c_type(kiln_dtype t);
/* aot.c: whether s is a C identifier (an AOT library's name). */
bool kiln_aot_name_ok(const char *s);

#endif
