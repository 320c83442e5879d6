/* In-memory compilation with ORC LLJIT. Each compiled model gets its own LLJIT (and so
 * its own symbol namespace and memory), which makes concurrent compiles independent:
 * the only process-wide state is LLVM's once-initialised target registry. A program's
 * kernels are spread over two modules, built at once (llvm_build.c); the JIT links their
 * objects. */
#include "codegen/codegen.h"
#include "codegen/plumbing.h"
#include "rt/parallel.h"

#include <llvm-c/LLJIT.h>
#include <llvm-c/Orc.h>

#include <stdlib.h>
#include <string.h>

struct kiln_jit {
  LLVMOrcLLJITRef lljit;
};

#define ENTRY_NAME "kiln_entry"
#define JIT_MODULES 2 /* modules a program is split into: optimized and compiled at once */

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
  LLVMOrcCSymbolMapPair syms[2 + KF_COUNT] = {
      runtime_symbol(j, "kiln_rt_parallel_for", (uintptr_t)&kiln_rt_parallel_for),
      runtime_symbol(j, "kiln_rt_clock_ns", (uintptr_t)&kiln_rt_clock_ns)};
  for (int i = 0; i < KF_COUNT; i++) { /* the string functions kernels call (ir/kernel_call.c) */
    const kiln_rt_fn_def *d = kiln_rt_fn_def_of((kiln_rt_fn)i); /* the table has every f */
    syms[2 + i] = runtime_symbol(j, d ? d->name : "kiln_rt_missing", d ? d->addr : 0);
  }
  LLVMOrcMaterializationUnitRef mu = LLVMOrcAbsoluteSymbols(syms, 2 + KF_COUNT);
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

/* Is ",feature" (as "+name") in the host's feature list? */
static bool host_has(const char *host, const char *f, size_t n) {
  for (const char *h = host; h && *h;) {
    size_t m = strcspn(h, ",");
    if (m == n && strncmp(h, f, n) == 0) return true;
    h += m + (h[m] == ',');
  }
  return false;
}

/* JIT code runs here, so a CPU or feature this host lacks would die of an illegal
 * instruction: the JIT takes the host's own CPU name, "generic", or x86-64 levels the host
 * reaches, and features the host has (a named CPU's own features are not listed by LLVM's
 * C API; other CPUs are for ahead-of-time compiles). */
static kiln_status check_host_target(const kiln_options *opts, kiln_error *err) {
  if (!opts || (!opts->cpu && !opts->features)) return KILN_OK;
  char *host = LLVMGetHostCPUFeatures(), *host_cpu = LLVMGetHostCPUName();
  static const struct { const char *cpu, *needs; } levels[] = {
      {"generic", ""}, {"x86-64", ""}, {"x86-64-v2", "+sse4.2,+popcnt,+ssse3,+cx16"},
      {"x86-64-v3", "+avx2,+fma,+bmi,+bmi2,+f16c,+lzcnt,+movbe"},
      {"x86-64-v4", "+avx512f,+avx512bw,+avx512cd,+avx512dq,+avx512vl"}};
  const char *needs = NULL;
  if (opts->cpu) {
    if (strcmp(opts->cpu, host_cpu) == 0) needs = "";
    for (size_t i = 0; !needs && i < sizeof levels / sizeof levels[0]; i++)
      if (strcmp(opts->cpu, levels[i].cpu) == 0) needs = levels[i].needs;
  }
  kiln_status st = KILN_OK;
  if (opts->cpu && !needs)
    st = kiln_fail(err, KILN_ERR_INVALID_ARGUMENT,
                   "cpu '%s': JIT code runs on this machine ('%s'); name it, 'generic' or an "
                   "x86-64 level it reaches, or compile for '%s' ahead of time",
                   opts->cpu, host_cpu, opts->cpu);
  const char *lists[2] = {needs, opts->features};
  for (int l = 0; l < 2 && !st; l++)
    for (const char *f = lists[l]; f && *f && !st;) {
      size_t n = strcspn(f, ",");
      if (n > 1 && *f == '+' && !host_has(host, f, n))
        st = kiln_fail(err, KILN_ERR_INVALID_ARGUMENT,
                       "%s '%s': this machine lacks '%.*s', which JIT code would use",
                       l ? "features" : "cpu", l ? opts->features : opts->cpu, (int)n - 1, f + 1);
      f += n + (f[n] == ',');
    }
  LLVMDisposeMessage(host);
  LLVMDisposeMessage(host_cpu);
  return st;
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
  if (check_host_target(opts, err)) return err->code;
  /* one target machine and one context a module: each is used by one thread at a time */
  kiln_llvm_part parts[JIT_MODULES];
  kiln_status st = kiln_llvm_parts_new(parts, JIT_MODULES, opts, err);
  if (st) return st;
  LLVMContextRef ctxs[JIT_MODULES];
  LLVMModuleRef mods[JIT_MODULES];
  for (int i = 0; i < JIT_MODULES; i++) ctxs[i] = parts[i].ctx;
  st = kiln_llvm_program_modules(ctxs, JIT_MODULES, p, ENTRY_NAME, parts[0].tm, mods, err);
  for (int i = 0; i < JIT_MODULES && !st; i++) parts[i].m = mods[i];
  int64_t t0 = kiln_rt_clock_ns();
  if (!st) st = kiln_llvm_parts_optimize(parts, JIT_MODULES, err);
  if (p->times) p->times->optimize_ms = (double)(kiln_rt_clock_ns() - t0) / 1e6;
  /* for kiln developers: KILN_DUMP_LLVM=file.ll writes the optimized modules */
  if (!st && getenv("KILN_DUMP_LLVM")) kiln_llvm_parts_dump(parts, JIT_MODULES, getenv("KILN_DUMP_LLVM"));
  t0 = kiln_rt_clock_ns();
  if (!st) st = kiln_llvm_parts_emit(parts, JIT_MODULES, err);
  if (st) {
    kiln_llvm_parts_free(parts, JIT_MODULES);
    return st;
  }

  /* The JIT's target machine builder takes over part 0's target machine, so the JIT links
   * for the same CPU and features the objects were compiled for. */
  LLVMOrcLLJITBuilderRef builder = LLVMOrcCreateLLJITBuilder();
  LLVMOrcLLJITBuilderSetJITTargetMachineBuilder(
      builder, LLVMOrcJITTargetMachineBuilderCreateFromTargetMachine(parts[0].tm));
  parts[0].tm = NULL;
  LLVMOrcLLJITRef j;
  LLVMErrorRef e = LLVMOrcCreateLLJIT(&j, builder); /* consumes builder */
  if (e) {
    kiln_llvm_parts_free(parts, JIT_MODULES);
    return kiln_llvm_fail_error(err, e, "creating the JIT");
  }
  LLVMOrcJITDylibRef jd = LLVMOrcLLJITGetMainJITDylib(j);
  e = define_runtime(j, jd);
  if (e) st = kiln_llvm_fail_error(err, e, "defining runtime symbols for the JIT");
  for (int i = 0; i < JIT_MODULES && !st; i++) {
    e = LLVMOrcLLJITAddObjectFile(j, jd, parts[i].obj); /* takes the buffer */
    parts[i].obj = NULL;
    if (e) st = kiln_llvm_fail_error(err, e, "adding an object to the JIT");
  }
  kiln_llvm_parts_free(parts, JIT_MODULES);
  LLVMOrcExecutorAddress addr = 0;
  if (!st) {
    e = LLVMOrcLLJITLookup(j, &addr, ENTRY_NAME); /* links the objects */
    if (e) st = kiln_llvm_fail_error(err, e, "JIT compilation");
  }
  if (p->times) p->times->machine_ms = (double)(kiln_rt_clock_ns() - t0) / 1e6;
  if (st) {
    LLVMErrorRef de = LLVMOrcDisposeLLJIT(j);
    if (de) LLVMConsumeError(de);
    return st;
  }
  kiln_jit *jit = kiln_xmalloc(sizeof *jit);
  jit->lljit = j;
  *out = jit;
  *entry = (kiln_entry_fn)(uintptr_t)addr;
  return KILN_OK;
}

void kiln_jit_free(kiln_jit *jit) {
  if (!jit) return;
  LLVMErrorRef e = LLVMOrcDisposeLLJIT(jit->lljit);
  if (e) LLVMConsumeError(e); /* nothing useful to do with a teardown error */
  free(jit);
}
