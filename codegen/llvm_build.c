/* A program's LLVM modules built at once: each optimized, then compiled to an object, on a
 * thread of its own (part 0 on the calling thread). LLVM's optimizer, nearly all of a
 * compile's time, runs one module on one thread; kiln_llvm_emit_modules spreads a
 * program's kernels over several so that the JIT (jit.c) and shared libraries (aot.c)
 * use every core. Each part has its own context and target machine: LLVM allows
 * concurrent work on distinct contexts, not on one. */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include "codegen/plumbing.h"

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>

static void *run_part(void *arg) {
  kiln_llvm_part *q = arg;
  if (q->st) return NULL;
  if (!q->emit) {
    q->st = kiln_llvm_optimize(q->m, q->tm, &q->err);
    return NULL;
  }
  char *msg = NULL;
  if (q->path ? LLVMTargetMachineEmitToFile(q->tm, q->m, q->path, LLVMObjectFile, &msg)
              : LLVMTargetMachineEmitToMemoryBuffer(q->tm, q->m, LLVMObjectFile, &msg, &q->obj))
    q->st = kiln_fail(&q->err, KILN_ERR_CODEGEN, "generating machine code%s%s: %s",
                      q->path ? " into " : "", q->path ? q->path : "", msg ? msg : "");
  LLVMDisposeMessage(msg);
  return NULL;
}

/* The parts' phase, on a thread each while the calling thread may use more than one CPU
 * (a thread kept to one CPU, as the tuner's background compiles are, runs them in turn) */
static kiln_status run_parts(kiln_llvm_part *parts, int n, bool emit, kiln_error *err) {
  cpu_set_t cpus;
  bool threads = sched_getaffinity(0, sizeof cpus, &cpus) == 0 && CPU_COUNT(&cpus) > 1;
  pthread_t tid[KILN_LLVM_MAX_PARTS];
  bool started[KILN_LLVM_MAX_PARTS] = {false};
  for (int i = 0; i < n; i++) parts[i].emit = emit;
  for (int i = 1; i < n && threads; i++)
    started[i] = pthread_create(&tid[i], NULL, run_part, &parts[i]) == 0;
  run_part(&parts[0]);
  for (int i = 1; i < n; i++) {
    if (started[i]) pthread_join(tid[i], NULL);
    else run_part(&parts[i]);
  }
  for (int i = 0; i < n; i++)
    if (parts[i].st) {
      *err = parts[i].err;
      return parts[i].st;
    }
  return KILN_OK;
}

kiln_status kiln_llvm_parts_new(kiln_llvm_part *parts, int n, const kiln_options *opts,
                                kiln_error *err) {
  kiln_status st = KILN_OK;
  for (int i = 0; i < n; i++) {
    parts[i] = (kiln_llvm_part){0};
    if (!st) st = kiln_llvm_target_machine(opts, &parts[i].tm, err);
    parts[i].ctx = LLVMContextCreate();
  }
  if (st) kiln_llvm_parts_free(parts, n);
  return st;
}

kiln_status kiln_llvm_parts_optimize(kiln_llvm_part *parts, int n, kiln_error *err) {
  return run_parts(parts, n, false, err);
}

kiln_status kiln_llvm_parts_emit(kiln_llvm_part *parts, int n, kiln_error *err) {
  return run_parts(parts, n, true, err);
}

void kiln_llvm_parts_dump(const kiln_llvm_part *parts, int n, const char *path) {
  FILE *f = fopen(path, "w");
  for (int i = 0; f && i < n; i++) {
    char *text = LLVMPrintModuleToString(parts[i].m);
    fputs(text, f);
    LLVMDisposeMessage(text);
  }
  if (f) fclose(f);
}

void kiln_llvm_parts_free(kiln_llvm_part *parts, int n) {
  for (int i = 0; i < n; i++) {
    if (parts[i].m) LLVMDisposeModule(parts[i].m); /* before its context */
    if (parts[i].ctx) LLVMContextDispose(parts[i].ctx);
    if (parts[i].tm) LLVMDisposeTargetMachine(parts[i].tm);
    if (parts[i].obj) LLVMDisposeMemoryBuffer(parts[i].obj);
    parts[i] = (kiln_llvm_part){0};
  }
}
