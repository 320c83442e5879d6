/* The target a tuning record is measured on and matched against (passes/tune.h): the same
 * triple, CPU and features codegen/llvm_target.c builds its target machine with, read from
 * LLVM's host queries (a library call, not a call into codegen/), and a thread count. */
#include "passes/tune.h"

#include "rt/parallel.h"

#include <llvm-c/Core.h>
#include <llvm-c/TargetMachine.h>
#include <stdlib.h>
#include <string.h>

static size_t arch_len(const char *triple) {
  const char *dash = strchr(triple, '-');
  return dash ? (size_t)(dash - triple) : strlen(triple);
}

void kiln_tuning_target_of(const kiln_options *opts, kiln_tuning_target *t) {
  kiln_options none = {0};
  if (!opts) opts = &none;
  char *host = LLVMGetDefaultTargetTriple();
  const char *triple = opts->triple ? opts->triple : host;
  bool native = arch_len(triple) == arch_len(host) && !strncmp(triple, host, arch_len(host));
  t->triple = kiln_xstrdup(triple);
  if (opts->cpu) {
    t->cpu = kiln_xstrdup(opts->cpu);
  } else if (native) {
    char *c = LLVMGetHostCPUName();
    t->cpu = kiln_xstrdup(c);
    LLVMDisposeMessage(c);
  } else {
    t->cpu = kiln_xstrdup("generic");
  }
  if (opts->features) {
    t->features = kiln_xstrdup(opts->features);
  } else if (native && !opts->cpu) {
    char *f = LLVMGetHostCPUFeatures();
    t->features = kiln_xstrdup(f);
    LLVMDisposeMessage(f);
  } else {
    t->features = kiln_xstrdup("");
  }
  t->threads = opts->num_threads > 0 ? opts->num_threads : kiln_rt_num_threads();
  LLVMDisposeMessage(host);
}
