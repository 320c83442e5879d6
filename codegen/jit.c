/* In-memory compilation with ORC LLJIT. Each compiled model gets its own LLJIT (and so
 * its own symbol namespace and memory), which makes concurrent compiles independent:
 * the only process-wide state is LLVM's once-initialised target registry. */
#include "codegen/codegen.h"
#include "codegen/plumbing.h"
#include "runtime/parallel.h"
#include "runtime/profile.h"

#include <llvm-c/LLJIT.h>
#include <llvm-c/Orc.h>

#include <stdlib.h>

struct kiln_jit {
  LLVMOrcLLJITRef lljit;
};

#define ENTRY_NAME "kiln_entry"

static LLVMOrcCSymbolMapPair runtime_symbol(LLVMOrcLLJITRef j, const char *name, uintptr_t addr) {
  return (LLVMOrcCSymbolMapPair){
      .Name = LLVMOrcLLJITMangleAndIntern(j, name),
      .Sym = {.Address = (LLVMOrcExecutorAddress)addr,
              .Flags = {.GenericFlags = LLVMJITSymbolGenericFlagsExported |
                                        LLVMJITSymbolGenericFlagsCallable,
                        .TargetFlags = 0}}};
}

/* Generated code calls kiln_rt_parallel_for (and, profiled, kiln_rt_clock_ns), which live
 * in kiln's static libraries and need not be exported from the executable, so they are
 * defined by address. */
static LLVMErrorRef define_runtime(LLVMOrcLLJITRef j, LLVMOrcJITDylibRef jd) {
  LLVMOrcCSymbolMapPair syms[2] = {
      runtime_symbol(j, "kiln_rt_parallel_for", (uintptr_t)&kiln_rt_parallel_for),
      runtime_symbol(j, "kiln_rt_clock_ns", (uintptr_t)&kiln_rt_clock_ns)};
  LLVMOrcMaterializationUnitRef mu = LLVMOrcAbsoluteSymbols(syms, 2);
  LLVMErrorRef e = LLVMOrcJITDylibDefine(jd, mu);
  if (e) {
    LLVMOrcDisposeMaterializationUnit(mu);
    return e;
  }
  /* libm (expf, tanhf, erff...) and libc (memset, memcpy) come from the process. */
  LLVMOrcDefinitionGeneratorRef gen;
  e = LLVMOrcCreateDynamicLibrarySearchGeneratorForProcess(&gen, LLVMOrcLLJITGetGlobalPrefix(j),
                                                          NULL, NULL);
  if (e) return e;
  LLVMOrcJITDylibAddGenerator(jd, gen);
  return NULL;
}

kiln_status kiln_jit_compile(const kiln_program *p, const kiln_options *opts, kiln_jit **out,
                             kiln_entry_fn *entry, kiln_error *err) {
  *out = NULL;
  *entry = NULL;
  /* JIT code runs here: another architecture's would die of an illegal instruction. */
  if (opts && opts->triple && !kiln_llvm_triple_is_host(opts->triple))
    return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT,
                     "triple '%s' is not this machine's: JIT code runs here (compile it "
                     "ahead of time instead)", opts->triple);
  LLVMTargetMachineRef tm;
  kiln_status st = kiln_llvm_target_machine(opts, &tm, err);
  if (st) return st;

  LLVMOrcThreadSafeContextRef tsc = LLVMOrcCreateNewThreadSafeContext();
  LLVMModuleRef m;
  st = kiln_llvm_program_module(LLVMOrcThreadSafeContextGetContext(tsc), p, ENTRY_NAME, tm,
                                &m, err);
  if (st) goto fail_tm;
  st = kiln_llvm_optimize(m, tm, err);
  /* for kiln developers: KILN_DUMP_LLVM=file.ll writes the optimized module */
  if (getenv("KILN_DUMP_LLVM")) LLVMPrintModuleToFile(m, getenv("KILN_DUMP_LLVM"), NULL);
  if (st) {
    LLVMDisposeModule(m); /* before its context */
    goto fail_tm;
  }
  /* The module now belongs to the thread-safe module, which shares the context. */
  LLVMOrcThreadSafeModuleRef tsm = LLVMOrcCreateNewThreadSafeModule(m, tsc);
  LLVMOrcDisposeThreadSafeContext(tsc);
  tsc = NULL;

  /* The JIT's target machine builder takes over tm, so the JIT generates code for the
   * same CPU and features the module was optimised for. */
  LLVMOrcLLJITBuilderRef builder = LLVMOrcCreateLLJITBuilder();
  LLVMOrcLLJITBuilderSetJITTargetMachineBuilder(
      builder, LLVMOrcJITTargetMachineBuilderCreateFromTargetMachine(tm));
  LLVMOrcLLJITRef j;
  LLVMErrorRef e = LLVMOrcCreateLLJIT(&j, builder); /* consumes builder */
  if (e) {
    LLVMOrcDisposeThreadSafeModule(tsm);
    return kiln_llvm_fail_error(err, e, "creating the JIT");
  }
  LLVMOrcJITDylibRef jd = LLVMOrcLLJITGetMainJITDylib(j);
  e = define_runtime(j, jd);
  if (e) {
    LLVMOrcDisposeThreadSafeModule(tsm);
    st = kiln_llvm_fail_error(err, e, "defining runtime symbols for the JIT");
    goto fail_jit;
  }
  e = LLVMOrcLLJITAddLLVMIRModule(j, jd, tsm); /* consumes tsm, even on failure */
  if (e) {
    st = kiln_llvm_fail_error(err, e, "adding the module to the JIT");
    goto fail_jit;
  }
  LLVMOrcExecutorAddress addr = 0;
  e = LLVMOrcLLJITLookup(j, &addr, ENTRY_NAME); /* materialises (compiles) the module */
  if (e) {
    st = kiln_llvm_fail_error(err, e, "JIT compilation");
    goto fail_jit;
  }
  kiln_jit *jit = kiln_xmalloc(sizeof *jit);
  jit->lljit = j;
  *out = jit;
  *entry = (kiln_entry_fn)(uintptr_t)addr;
  return KILN_OK;

fail_jit: {
  LLVMErrorRef de = LLVMOrcDisposeLLJIT(j);
  if (de) LLVMConsumeError(de);
  return st;
}
fail_tm:
  LLVMOrcDisposeThreadSafeContext(tsc);
  LLVMDisposeTargetMachine(tm);
  return st;
}

void kiln_jit_free(kiln_jit *jit) {
  if (!jit) return;
  LLVMErrorRef e = LLVMOrcDisposeLLJIT(jit->lljit);
  if (e) LLVMConsumeError(e); /* nothing useful to do with a teardown error */
  free(jit);
}
