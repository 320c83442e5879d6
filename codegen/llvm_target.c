/* Target machines and the optimisation pipeline shared by the JIT and AOT paths.
 * LLVM's target registry is initialised once per process (pthread_once), so several
 * threads may compile models at the same time; everything else here is per call. */
#include "codegen/codegen.h"
#include "codegen/plumbing.h"
#include "passes/passes.h" /* kiln_target_vector_floats */

#include <llvm-c/Analysis.h>
#include <llvm-c/Error.h>
#include <llvm-c/Target.h>
#include <llvm-c/Transforms/PassBuilder.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static pthread_once_t native_once = PTHREAD_ONCE_INIT;
static pthread_once_t all_once = PTHREAD_ONCE_INIT;
static int native_failed;

static void init_native(void) {
  native_failed = LLVMInitializeNativeTarget() || LLVMInitializeNativeAsmPrinter();
}

static void init_all(void) {
  LLVMInitializeAllTargetInfos();
  LLVMInitializeAllTargets();
  LLVMInitializeAllTargetMCs();
  LLVMInitializeAllAsmPrinters();
}

/* The arch part of a triple ("x86_64" of "x86_64-pc-linux-gnu"), compared by length. */
static size_t arch_len(const char *triple) {
  const char *dash = strchr(triple, '-');
  return dash ? (size_t)(dash - triple) : strlen(triple);
}

static bool same_arch(const char *a, const char *b) {
  size_t n = arch_len(a);
  return n == arch_len(b) && strncmp(a, b, n) == 0;
}

bool kiln_llvm_triple_is_host(const char *triple) {
  if (!triple) return true;
  char *host = LLVMGetDefaultTargetTriple();
  bool same = same_arch(triple, host);
  LLVMDisposeMessage(host);
  return same;
}

/* LLVM's target for triple, with the registry initialised for it. */
static kiln_status find_target(const char *triple, bool native, LLVMTargetRef *target,
                               kiln_error *err) {
  pthread_once(&native_once, init_native);
  if (native_failed) return kiln_fail(err, KILN_ERR_CODEGEN, "LLVM has no native target");
  if (!native) pthread_once(&all_once, init_all);
  char *msg = NULL;
  kiln_status st = KILN_OK;
  if (LLVMGetTargetFromTriple(triple, target, &msg))
    st = kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "target triple '%s': %s", triple,
                   msg ? msg : "unknown");
  if (msg) LLVMDisposeMessage(msg);
  return st;
}

kiln_status kiln_llvm_check_target(const kiln_options *opts, kiln_error *err) {
  if (!opts || (!opts->triple && !opts->cpu && !opts->features)) return KILN_OK;
  char *host = LLVMGetDefaultTargetTriple();
  const char *triple = opts->triple ? opts->triple : host;
  LLVMTargetRef target;
  kiln_status st = find_target(triple, kiln_llvm_triple_is_host(triple), &target, err);
  if (!st) st = kiln_llvm_check_names(target, triple, opts->cpu, opts->features, err);
  LLVMDisposeMessage(host);
  return st;
}

kiln_status kiln_llvm_target_machine(const kiln_options *opts, LLVMTargetMachineRef *tm,
                                     kiln_error *err) {
  *tm = NULL;
  char *host = LLVMGetDefaultTargetTriple();
  const char *triple = opts && opts->triple ? opts->triple : host;
  bool native = same_arch(triple, host);
  LLVMTargetRef target;
  kiln_status st = find_target(triple, native, &target, err);
  if (!st && opts) st = kiln_llvm_check_names(target, triple, opts->cpu, opts->features, err);
  if (st) {
    LLVMDisposeMessage(host);
    return st;
  }

  /* Host CPU and features only make sense when generating code for the host's arch, and
   * a named CPU brings its own features (--cpu x86-64: no AVX though the host has it). */
  const char *given_cpu = opts ? opts->cpu : NULL, *given_features = opts ? opts->features : NULL;
  char *host_cpu = native && !given_cpu ? LLVMGetHostCPUName() : NULL;
  char *host_features = native && !given_cpu && !given_features ? LLVMGetHostCPUFeatures() : NULL;
  const char *cpu = given_cpu ? given_cpu : host_cpu ? host_cpu : "generic";
  const char *features = given_features ? given_features : host_features ? host_features : "";

  *tm = LLVMCreateTargetMachine(target, triple, cpu, features, LLVMCodeGenLevelAggressive,
                                LLVMRelocPIC, LLVMCodeModelDefault);
  if (!*tm)
    st = kiln_fail(err, KILN_ERR_CODEGEN, "cannot create a target machine for '%s' (cpu '%s')",
                   triple, cpu);
  if (host_cpu) LLVMDisposeMessage(host_cpu);
  if (host_features) LLVMDisposeMessage(host_features);
  LLVMDisposeMessage(host);
  return st;
}

/* Zen 4/5 run 512-bit vectors at full width; LLVM's cost model may otherwise cap loop
 * vectorisation at 256 bits. Other AVX-512 CPUs keep LLVM's choice (frequency penalties). */
static bool prefers_512(const char *cpu, const char *features) {
  return strncmp(cpu, "znver", 5) == 0 && strstr(features, "+avx512f") != NULL;
}

kiln_status kiln_llvm_optimize(LLVMModuleRef m, LLVMTargetMachineRef tm, kiln_error *err) {
  char *msg = NULL;
  if (LLVMVerifyModule(m, LLVMReturnStatusAction, &msg)) {
    kiln_status st = kiln_fail(err, KILN_ERR_INTERNAL, "generated LLVM IR is invalid: %.900s",
                               msg ? msg : "");
    LLVMDisposeMessage(msg);
    return st;
  }
  LLVMDisposeMessage(msg);

  /* Per-function attributes, so the vectoriser sees the target's features whatever
   * context or module the functions were created in. */
  char *cpu = LLVMGetTargetMachineCPU(tm);
  char *features = LLVMGetTargetMachineFeatureString(tm);
  bool wide = prefers_512(cpu, features), avx512 = strstr(features, "+avx512f") != NULL;
  for (LLVMValueRef f = LLVMGetFirstFunction(m); f; f = LLVMGetNextFunction(f)) {
    if (LLVMIsDeclaration(f)) continue;
    LLVMAddTargetDependentFunctionAttr(f, "target-cpu", cpu);
    LLVMAddTargetDependentFunctionAttr(f, "target-features", features);
    /* a register tile is FMA-bound: full-width vectors double its throughput */
    bool tile = LLVMGetStringAttributeAtIndex(f, LLVMAttributeFunctionIndex, KILN_TILE_ATTR,
                                              (unsigned)strlen(KILN_TILE_ATTR)) != NULL;
    if (wide || (avx512 && tile)) {
      LLVMAddTargetDependentFunctionAttr(f, "prefer-vector-width", "512");
      LLVMAddTargetDependentFunctionAttr(f, "min-legal-vector-width", "0");
    }
  }
  LLVMDisposeMessage(cpu);
  LLVMDisposeMessage(features);

  LLVMPassBuilderOptionsRef po = LLVMCreatePassBuilderOptions();
  LLVMPassBuilderOptionsSetLoopVectorization(po, 1);
  LLVMPassBuilderOptionsSetSLPVectorization(po, 1);
  LLVMPassBuilderOptionsSetLoopInterleaving(po, 1);
  LLVMPassBuilderOptionsSetLoopUnrolling(po, 1);
  LLVMErrorRef e = LLVMRunPasses(m, "default<O3>", tm, po);
  LLVMDisposePassBuilderOptions(po);
  if (e) return kiln_llvm_fail_error(err, e, "LLVM optimisation");
  return KILN_OK;
}

kiln_status kiln_llvm_fail_error(kiln_error *err, LLVMErrorRef e, const char *what) {
  char *msg = LLVMGetErrorMessage(e); /* consumes e */
  kiln_status st = kiln_fail(err, KILN_ERR_CODEGEN, "%s: %s", what, msg ? msg : "unknown error");
  LLVMDisposeErrorMessage(msg);
  return st;
}

/* LLVM's diagnostics (an optimizer's "loop not unrolled" warning for a schedule whose
 * unrolled loop it would not unroll) would go to stderr: the library never prints, and
 * the code is correct either way. Failures reach kiln through return codes. */
static void quiet(LLVMDiagnosticInfoRef info, void *ctx) {
  (void)info;
  (void)ctx;
}

kiln_status kiln_llvm_program_module(LLVMContextRef ctx, const kiln_program *p,
                                     const char *entry_name, LLVMTargetMachineRef tm,
                                     LLVMModuleRef *out, kiln_error *err) {
  return kiln_llvm_program_modules(&ctx, 1, p, entry_name, tm, out, err);
}

kiln_status kiln_llvm_program_modules(LLVMContextRef *ctxs, int n, const kiln_program *p,
                                      const char *entry_name, LLVMTargetMachineRef tm,
                                      LLVMModuleRef *out, kiln_error *err) {
  char *triple = LLVMGetTargetMachineTriple(tm);
  LLVMTargetDataRef dl = LLVMCreateTargetDataLayout(tm);
  for (int i = 0; i < n; i++) {
    LLVMContextSetDiagnosticHandler(ctxs[i], quiet, NULL);
    out[i] = LLVMModuleCreateWithNameInContext(i ? "kiln.kernels" : "kiln", ctxs[i]);
    LLVMSetTarget(out[i], triple);
    LLVMSetModuleDataLayout(out[i], dl);
  }
  LLVMDisposeTargetData(dl);
  LLVMDisposeMessage(triple);
  /* AVX-512 by the machine's features, or its CPU's name when the features are implied */
  char *cpu = LLVMGetTargetMachineCPU(tm), *features = LLVMGetTargetMachineFeatureString(tm);
  triple = LLVMGetTargetMachineTriple(tm);
  kiln_options o = {.struct_size = sizeof o, .triple = triple, .cpu = cpu,
                    .features = *features ? features : NULL};
  bool avx512 = kiln_target_vector_floats(&o) >= 16;
  LLVMDisposeMessage(cpu);
  LLVMDisposeMessage(features);
  LLVMDisposeMessage(triple);
  kiln_status st = kiln_llvm_emit_modules(out, n, p, entry_name, avx512, err);
  if (st)
    for (int i = 0; i < n; i++) {
      LLVMDisposeModule(out[i]);
      out[i] = NULL;
    }
  return st;
}
