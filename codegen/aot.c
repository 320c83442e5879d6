/* Ahead-of-time output: the program's module plus its embedded constants, the runtime it
 * calls (aot_runtime.c) and an exported `int <name>_run(inputs..., outputs..., void
 * *workspace)` wrapper, compiled by LLVM to one relocatable object (.o) for any target
 * triple; a shared library (.so) is that object linked by a C compiler driver, `cc` or
 * the caller's (kiln_options.linker, needed when the triple is another architecture's).
 * Every file is first written under a temporary name in the target directory and renamed
 * at the end, so a failure leaves nothing; the temporaries and the compiler processes are
 * registered for kiln_remove_temporaries, so a signal need not leave anything either. */
#include "codegen/codegen.h"
#include "codegen/plumbing.h"
#include "ir/tempfile.h"
#include "rt/parallel.h"

#include <llvm-c/Linker.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* modules of a library that is linked (a shared library, a host object with free dims):
 * the entry and its wrappers, and the kernels in turn, built at once (llvm_build.c) */
#define AOT_MODULES 2

/* libkiln_rt_aot.a, the thread pool a .so for this host links, as bytes (generated from the
 * build's archive, cmake/embed.cmake): libkiln needs no file of its own at run time, so an
 * installed or moved copy links like the build tree's. */
extern const unsigned char kiln_rt_aot_archive[];
extern const size_t kiln_rt_aot_archive_size;

extern char **environ;

bool kiln_aot_name_ok(const char *s) {
  if (!*s || !(isalpha((unsigned char)*s) || *s == '_')) return false;
  for (; *s; s++)
    if (!(isalnum((unsigned char)*s) || *s == '_')) return false;
  return true;
}

static bool ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), k = strlen(suffix);
  return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* ---- the module: constants, wrapper ------------------------------------------------ */

/* A private constant table of pointers to one private global per program constant. */
static LLVMValueRef const_table(LLVMModuleRef m, const kiln_program *p, const char *name) {
  LLVMContextRef ctx = LLVMGetModuleContext(m);
  LLVMTypeRef ptr = LLVMPointerTypeInContext(ctx, 0);
  if (p->nconsts == 0) return LLVMConstPointerNull(ptr);
  LLVMValueRef *elems = kiln_xcalloc((size_t)p->nconsts, sizeof *elems);
  for (int i = 0; i < p->nconsts; i++) {
    const kiln_const *c = &p->consts[i];
    LLVMValueRef init = LLVMConstStringInContext2(ctx, c->data ? c->data : "",
                                                  c->data ? (size_t)c->bytes : 0, 1);
    char gname[32];
    snprintf(gname, sizeof gname, "kiln_const_%d", i);
    LLVMValueRef g = LLVMAddGlobal(m, LLVMTypeOf(init), gname);
    LLVMSetInitializer(g, init);
    LLVMSetGlobalConstant(g, 1);
    LLVMSetLinkage(g, LLVMPrivateLinkage);
    LLVMSetAlignment(g, 64);
    elems[i] = g;
  }
  LLVMValueRef arr = LLVMConstArray2(ptr, elems, (uint64_t)p->nconsts);
  free(elems);
  LLVMValueRef table = LLVMAddGlobal(m, LLVMTypeOf(arr), name);
  LLVMSetInitializer(table, arr);
  LLVMSetGlobalConstant(table, 1);
  LLVMSetLinkage(table, LLVMPrivateLinkage);
  return table;
}

/* An array of n pointers on the stack holding the wrapper's parameters first..first+n-1. */
static LLVMValueRef pointer_array(LLVMBuilderRef b, LLVMValueRef fn, int first, int n,
                                  LLVMTypeRef ptr, LLVMTypeRef i64, const char *what) {
  if (n == 0) return LLVMConstPointerNull(ptr);
  LLVMValueRef a = LLVMBuildAlloca(b, LLVMArrayType2(ptr, (uint64_t)n), what);
  for (int i = 0; i < n; i++) {
    LLVMValueRef idx = LLVMConstInt(i64, (uint64_t)i, 0);
    LLVMValueRef slot = LLVMBuildGEP2(b, ptr, a, &idx, 1, "");
    LLVMBuildStore(b, LLVMGetParam(fn, (unsigned)(first + i)), slot);
  }
  return a;
}

/* A call of the entry on ins, outs and arena: its status, or, for a program with strings,
 * kiln_rt_strings_end's after it (the string outputs copied for the caller, the heap
 * freed). */
static LLVMValueRef call_entry(LLVMBuilderRef b, LLVMModuleRef m, const kiln_program *p,
                               LLVMValueRef entry, LLVMValueRef ins, LLVMValueRef outs,
                               LLVMValueRef arena, LLVMValueRef consts) {
  LLVMContextRef ctx = LLVMGetModuleContext(m);
  LLVMTypeRef ptr = LLVMPointerTypeInContext(ctx, 0);
  LLVMTypeRef i32 = LLVMInt32TypeInContext(ctx), i64 = LLVMInt64TypeInContext(ctx);
  LLVMTypeRef entry_ty = LLVMFunctionType(i32, (LLVMTypeRef[]){ptr, ptr, ptr, ptr}, 4, 0);
  LLVMValueRef st = LLVMBuildCall2(b, entry_ty, entry, (LLVMValueRef[]){ins, outs, arena, consts}, 4, "");
  if (!p->strings) return st;
  /* the strings the run made: the outputs' copied for the caller, the heap freed */
  LLVMValueRef counts = LLVMGetNamedGlobal(m, "kiln_string_counts");
  if (!counts) {
    LLVMValueRef *n = kiln_xcalloc((size_t)p->noutputs + 1, sizeof *n);
    for (int i = 0; i < p->noutputs; i++)
      n[i] = LLVMConstInt(i64, p->outputs[i].dtype == KILN_STRING ? (uint64_t)p->outputs[i].bytes / sizeof(char *) : 0, 0);
    LLVMTypeRef ty = LLVMArrayType(i64, (unsigned)p->noutputs);
    counts = LLVMAddGlobal(m, ty, "kiln_string_counts");
    LLVMSetInitializer(counts, LLVMConstArray(i64, n, (unsigned)p->noutputs));
    LLVMSetGlobalConstant(counts, 1);
    LLVMSetLinkage(counts, LLVMInternalLinkage);
    free(n);
  }
  LLVMTypeRef end_ty = LLVMFunctionType(i32, (LLVMTypeRef[]){ptr, i32, ptr, ptr, i64, ptr}, 6, 0);
  LLVMValueRef end = LLVMGetNamedFunction(m, "kiln_rt_strings_end");
  if (!end) end = LLVMAddFunction(m, "kiln_rt_strings_end", end_ty);
  LLVMValueRef off = LLVMConstInt(i64, (uint64_t)p->strings_offset, 0);
  LLVMValueRef heap = LLVMBuildInBoundsGEP2(b, LLVMInt8TypeInContext(ctx), arena, &off, 1, "heap");
  LLVMValueRef which = LLVMBuildAlloca(b, i64, "which");
  return LLVMBuildCall2(b, end_ty, end, (LLVMValueRef[]){heap, st, outs, counts,
                        LLVMConstInt(i64, (uint64_t)p->noutputs, 0), which}, 6, "");
}

/* The body of a run function whose inputs and outputs are the pointer arrays ins and outs:
 * calls the entry, allocating the arena with aligned_alloc when the caller passes no
 * workspace ws; returns the entry's status (a kiln_status code), or KILN_ERR_OUT_OF_MEMORY
 * when that allocation fails. */
static void build_run(LLVMBuilderRef b, LLVMModuleRef m, const kiln_program *p, LLVMValueRef fn,
                      LLVMValueRef entry, LLVMValueRef ins, LLVMValueRef outs, LLVMValueRef ws,
                      LLVMValueRef consts) {
  LLVMContextRef ctx = LLVMGetModuleContext(m);
  LLVMTypeRef ptr = LLVMPointerTypeInContext(ctx, 0);
  LLVMTypeRef i32 = LLVMInt32TypeInContext(ctx), i64 = LLVMInt64TypeInContext(ctx);
  LLVMTypeRef vd = LLVMVoidTypeInContext(ctx);
  if (p->arena_bytes <= 0) {
    LLVMBuildRet(b, call_entry(b, m, p, entry, ins, outs, ws, consts));
    return;
  }
  LLVMBasicBlockRef given = LLVMAppendBasicBlockInContext(ctx, fn, "given");
  LLVMBasicBlockRef alloc = LLVMAppendBasicBlockInContext(ctx, fn, "alloc");
  LLVMBasicBlockRef run = LLVMAppendBasicBlockInContext(ctx, fn, "run");
  LLVMBasicBlockRef oom = LLVMAppendBasicBlockInContext(ctx, fn, "oom");
  LLVMBuildCondBr(b, LLVMBuildIsNull(b, ws, ""), alloc, given);

  LLVMPositionBuilderAtEnd(b, given);
  LLVMBuildRet(b, call_entry(b, m, p, entry, ins, outs, ws, consts));

  LLVMPositionBuilderAtEnd(b, alloc);
  LLVMTypeRef aa_ty = LLVMFunctionType(ptr, (LLVMTypeRef[]){i64, i64}, 2, 0);
  LLVMValueRef aa = LLVMGetNamedFunction(m, "aligned_alloc");
  if (!aa) aa = LLVMAddFunction(m, "aligned_alloc", aa_ty);
  uint64_t size = ((uint64_t)p->arena_bytes + 63) & ~(uint64_t)63; /* a multiple of 64 */
  LLVMValueRef mem = LLVMBuildCall2(
      b, aa_ty, aa, (LLVMValueRef[]){LLVMConstInt(i64, 64, 0), LLVMConstInt(i64, size, 0)},
      2, "arena");
  LLVMBuildCondBr(b, LLVMBuildIsNull(b, mem, ""), oom, run);

  LLVMPositionBuilderAtEnd(b, run);
  LLVMValueRef st = call_entry(b, m, p, entry, ins, outs, mem, consts);
  LLVMTypeRef free_ty = LLVMFunctionType(vd, (LLVMTypeRef[]){ptr}, 1, 0);
  LLVMValueRef fr = LLVMGetNamedFunction(m, "free");
  if (!fr) fr = LLVMAddFunction(m, "free", free_ty);
  LLVMBuildCall2(b, free_ty, fr, (LLVMValueRef[]){mem}, 1, "");
  LLVMBuildRet(b, st);

  LLVMPositionBuilderAtEnd(b, oom);
  LLVMBuildRet(b, LLVMConstInt(i32, KILN_ERR_OUT_OF_MEMORY, 0));
}

/* With free dims: each bucket's program as its own module, every symbol internal but its
 * entry `<name>_bucket<b>_entry` and constant table `kiln_consts_bucket<b>`, linked into m
 * (clashing internal names are renamed); then aot_dyn.c's entry points over them all. */
static kiln_status add_dyn(LLVMModuleRef m, const kiln_program *p, const char *name,
                           LLVMValueRef entry, LLVMTargetMachineRef tm, kiln_error *err) {
  int n = p->nbuckets + 1;
  LLVMValueRef *entries = kiln_xcalloc((size_t)n, sizeof *entries);
  LLVMValueRef *consts = kiln_xcalloc((size_t)n, sizeof *consts);
  entries[0] = entry;
  consts[0] = const_table(m, p, "kiln_consts");
  kiln_status st = KILN_OK;
  for (int b = 0; b < p->nbuckets && !st; b++) {
    char *ename = kiln_fmt("%s_bucket%d_entry", name, b), *cname = kiln_fmt("kiln_consts_bucket%d", b);
    LLVMModuleRef bm = NULL;
    st = kiln_llvm_program_module(LLVMGetModuleContext(m), p->buckets[b], ename, tm, &bm, err);
    if (!st) {
      LLVMValueRef table = const_table(bm, p->buckets[b], cname);
      if (p->buckets[b]->nconsts) /* kept by the link (export_only internalizes it) */
        LLVMSetLinkage(table, LLVMExternalLinkage);
      for (LLVMValueRef f = LLVMGetFirstFunction(bm); f; f = LLVMGetNextFunction(f))
        if (!LLVMIsDeclaration(f) && strcmp(LLVMGetValueName(f), ename))
          LLVMSetLinkage(f, LLVMInternalLinkage);
      for (LLVMValueRef g = LLVMGetFirstGlobal(bm); g; g = LLVMGetNextGlobal(g))
        if (!LLVMIsDeclaration(g) && strcmp(LLVMGetValueName(g), cname))
          LLVMSetLinkage(g, LLVMInternalLinkage);
      if (LLVMLinkModules2(m, bm)) /* bm is gone either way */
        st = kiln_fail(err, KILN_ERR_CODEGEN, "AOT: linking bucket %d's module", b);
    }
    if (!st) entries[b + 1] = LLVMGetNamedFunction(m, ename);
    if (!st) /* a program without constants passes NULL (const_table) */
      consts[b + 1] = p->buckets[b]->nconsts ? LLVMGetNamedGlobal(m, cname) : consts[0];
    if (!st && (!entries[b + 1] || !consts[b + 1]))
      st = kiln_fail(err, KILN_ERR_INTERNAL, "AOT: bucket %d's entry or constants lost", b);
    if (!st && !p->buckets[b]->nconsts) consts[b + 1] = LLVMConstPointerNull(LLVMTypeOf(entry));
    free(ename);
    free(cname);
  }
  if (!st) st = kiln_aot_add_dyn_wrappers(m, p, name, entries, consts, err);
  free(entries);
  free(consts);
  return st;
}

/* int <name>_run(ptr in..., ptr out..., ptr workspace), the header's typed entry, and
 * int <name>_run_arrays(ptr inputs, ptr outputs, ptr workspace), the same taking arrays of
 * pointers, which a caller that knows the model from its manifest alone can call. With free
 * dims, aot_dyn.c's entry points instead, which take the shapes. */
static kiln_status add_wrappers(LLVMModuleRef m, const kiln_program *p, const char *name,
                                LLVMValueRef entry, LLVMTargetMachineRef tm, kiln_error *err) {
  if (p->nsyms) return add_dyn(m, p, name, entry, tm, err);
  LLVMContextRef ctx = LLVMGetModuleContext(m);
  LLVMTypeRef ptr = LLVMPointerTypeInContext(ctx, 0);
  LLVMTypeRef i32 = LLVMInt32TypeInContext(ctx), i64 = LLVMInt64TypeInContext(ctx);
  int nparams = p->ninputs + p->noutputs + 1;
  /* room for _run_arrays' 3 too: a model with no inputs has 2 (one output, the workspace) */
  LLVMTypeRef *params = kiln_xcalloc((size_t)(nparams > 3 ? nparams : 3), sizeof *params);
  for (int i = 0; i < (nparams > 3 ? nparams : 3); i++) params[i] = ptr;
  char *run_name = kiln_fmt("%s_run", name), *arrays_name = kiln_fmt("%s_run_arrays", name);
  LLVMValueRef fn = LLVMAddFunction(m, run_name, LLVMFunctionType(i32, params, (unsigned)nparams, 0));
  LLVMValueRef fa = LLVMAddFunction(m, arrays_name, LLVMFunctionType(i32, params, 3, 0));
  free(params);
  free(run_name);
  free(arrays_name);
  LLVMValueRef consts = const_table(m, p, "kiln_consts");

  LLVMBuilderRef b = LLVMCreateBuilderInContext(ctx);
  LLVMPositionBuilderAtEnd(b, LLVMAppendBasicBlockInContext(ctx, fn, "entry"));
  LLVMValueRef ins = pointer_array(b, fn, 0, p->ninputs, ptr, i64, "inputs");
  LLVMValueRef outs = pointer_array(b, fn, p->ninputs, p->noutputs, ptr, i64, "outputs");
  build_run(b, m, p, fn, entry, ins, outs, LLVMGetParam(fn, (unsigned)nparams - 1), consts);

  LLVMPositionBuilderAtEnd(b, LLVMAppendBasicBlockInContext(ctx, fa, "entry"));
  build_run(b, m, p, fa, entry, LLVMGetParam(fa, 0), LLVMGetParam(fa, 1), LLVMGetParam(fa, 2),
            consts);
  LLVMDisposeBuilder(b);
  return KILN_OK;
}

/* ---- files and the system compiler -------------------------------------------------- */

/* A new empty file "<dir>/.<stem>.XXXXXX<suffix>", registered for
 * kiln_remove_temporaries; false (errno set) when it cannot be made. */
static bool temp_file(const char *dir, const char *stem, const char *suffix, kiln_temp *t) {
  char *prefix = kiln_fmt("%s/.%s.", dir, stem);
  int fd = kiln_temp_open(prefix, suffix, t);
  free(prefix);
  if (fd < 0) return false;
  close(fd);
  return true;
}

kiln_status kiln_run_tool(char *const argv[], kiln_error *err) {
  FILE *log = tmpfile();
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  if (log) {
    posix_spawn_file_actions_adddup2(&fa, fileno(log), 1);
    posix_spawn_file_actions_adddup2(&fa, fileno(log), 2);
  }
  /* Its own process group: kiln_remove_temporaries stops it and the linker it starts. */
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);
  pid_t pid;
  int rc = posix_spawnp(&pid, argv[0], &fa, &attr, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    if (log) fclose(log);
    return kiln_fail(err, KILN_ERR_CODEGEN, "cannot run '%s': %s", argv[0], strerror(rc));
  }
  kiln_child_started(pid);
  int status = 0;
  pid_t waited;
  while ((waited = waitpid(pid, &status, 0)) < 0 && errno == EINTR) {
  }
  kiln_child_ended(pid);
  kiln_status st = KILN_OK;
  if (waited < 0) { /* reaped by kiln_remove_temporaries */
    st = kiln_fail(err, KILN_ERR_CODEGEN, "'%s' was stopped", argv[0]);
  } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    char tail[700] = "";
    if (log) {
      long end = (fseek(log, 0, SEEK_END), ftell(log));
      long start = end > (long)sizeof tail - 1 ? end - (long)sizeof tail + 1 : 0;
      fseek(log, start, SEEK_SET);
      size_t n = fread(tail, 1, sizeof tail - 1, log);
      tail[n] = 0;
      while (n && isspace((unsigned char)tail[n - 1])) tail[--n] = 0;
    }
    st = kiln_fail(err, KILN_ERR_CODEGEN, "'%s' failed building the model library: %s", argv[0], tail);
  }
  if (log) fclose(log);
  return st;
}

/* The linker command's words (split at blanks: no shell, no quoting), NULL-terminated
 * with room for `extra` more; NULL if there are none. */
static char **linker_argv(const char *cmd, char **copy, int extra) {
  *copy = kiln_xstrdup(cmd);
  int n = 0;
  char **argv = kiln_xcalloc(strlen(cmd) / 2 + 2 + (size_t)extra, sizeof *argv);
  char *save = NULL;
  for (char *w = strtok_r(*copy, " \t\n", &save); w; w = strtok_r(NULL, " \t\n", &save))
    argv[n++] = w;
  if (n == 0) {
    free(argv);
    free(*copy);
    *copy = NULL;
    return NULL;
  }
  return argv;
}

/* What an AOT library exports, each <name>_<suffix>: its entry points, and its strings;
 * NULL-ended. Everything else is local (export_only, link_object). */
static const char *const EXPORT_FNS[] = {"run", "run_arrays", "set_num_threads", "run_dims",
                                         "output_shapes", "workspace_size", "check_inputs",
                                         "run_variant", NULL};
static const char *const EXPORT_GLOBALS[] = {"tuning", "manifest", NULL};
#define NEXPORT_FNS (int)(sizeof EXPORT_FNS / sizeof *EXPORT_FNS - 1)
#define NEXPORT_GLOBALS (int)(sizeof EXPORT_GLOBALS / sizeof *EXPORT_GLOBALS - 1)

/* Writes the embedded libkiln_rt_aot.a to the temporary t in dir. */
static bool write_rt_archive(const char *dir, const char *stem, kiln_temp *t) {
  if (!temp_file(dir, stem, ".a", t)) return false;
  FILE *f = fopen(t->path, "wb");
  if (!f) return false;
  bool ok = fwrite(kiln_rt_aot_archive, 1, kiln_rt_aot_archive_size, f) ==
            kiln_rt_aot_archive_size;
  return fclose(f) == 0 && ok;
}

/* Runs the linker (kiln_options.linker, else cc) with the arguments extra[0..n). */
static kiln_status run_linker(const kiln_options *opts, const char *const *extra, int n,
                              kiln_error *err) {
  char *copy;
  char **argv = linker_argv(opts && opts->linker ? opts->linker : "cc", &copy, n);
  if (!argv) return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "linker: the command is empty");
  int at = 0;
  while (argv[at]) at++;
  for (int i = 0; i < n; i++) argv[at++] = (char *)extra[i];
  kiln_status st = kiln_run_tool(argv, err);
  free(argv);
  free(copy);
  return st;
}

/* Links obj into the shared library out. For this host: `<linker> -shared -o out obj
 * rt -pthread -lm`, rt being libkiln_rt_aot.a: kiln's own thread pool (its symbols kept
 * private); for another architecture, whose objects carry a parallel-for on OpenMP:
 * `<linker> -shared -o out obj -fopenmp -lm`. */
static kiln_status link_shared(const char *const *obj, const char *rt, const char *out,
                               const kiln_options *opts, bool host, kiln_error *err) {
  const char *pool[] = {"-shared", "-o", out, obj[0], obj[1], rt, "-Wl,--exclude-libs,ALL",
                        "-pthread", "-lm"};
  const char *omp[] = {"-shared", "-o", out, obj[0], obj[1], "-fopenmp", "-lm"};
  return host ? run_linker(opts, pool, (int)(sizeof pool / sizeof *pool), err)
              : run_linker(opts, omp, (int)(sizeof omp / sizeof *omp), err);
}

/* An object file for this host with free dims: obj and libkiln_rt_aot.a (the pool and the
 * run-time planner its wrappers call) joined into one relocatable object out (`<linker>
 * -r`), then every symbol but the model's entry points made local (`objcopy
 * --keep-global-symbol`), so a host links several such objects without clashes, as it
 * does shared libraries. The host links it with -pthread -lm. */
static kiln_status link_object(const char *const *obj, const char *rt, const char *out,
                               const kiln_options *opts, const char *name, kiln_error *err) {
  const char *join[] = {"-r", "-nostdlib", "-o", out, obj[0], obj[1], "-Wl,--whole-archive", rt,
                        "-Wl,--no-whole-archive"};
  kiln_status st = run_linker(opts, join, (int)(sizeof join / sizeof *join), err);
  char *objcopy[NEXPORT_FNS + NEXPORT_GLOBALS + 3];
  int k = 0;
  objcopy[k++] = "objcopy";
  for (int i = 0; i < NEXPORT_FNS + NEXPORT_GLOBALS; i++)
    objcopy[k++] = kiln_fmt("--keep-global-symbol=%s_%s", name,
                            i < NEXPORT_FNS ? EXPORT_FNS[i] : EXPORT_GLOBALS[i - NEXPORT_FNS]);
  objcopy[k++] = (char *)out;
  objcopy[k] = NULL;
  if (!st) st = kiln_run_tool(objcopy, err);
  for (int i = 1; i < k - 1; i++) free(objcopy[i]);
  return st;
}

/* ---- kiln_aot_write ---------------------------------------------------------------- */

/* `const char <name>_<what>[]` holding text (with its terminating NUL). */
static void add_const_string(LLVMModuleRef m, const char *name, const char *what,
                             const char *text) {
  LLVMContextRef ctx = LLVMGetModuleContext(m);
  LLVMValueRef init = LLVMConstStringInContext2(ctx, text, strlen(text), 0);
  char *gname = kiln_fmt("%s_%s", name, what);
  LLVMValueRef g = LLVMAddGlobal(m, LLVMTypeOf(init), gname);
  LLVMSetInitializer(g, init);
  LLVMSetGlobalConstant(g, 1);
  free(gname);
}

/* `const char <name>_tuning[]`: KILN_TUNING_MARK, then what the tune pass applied from a
 * tuning log (kiln_program.tuning) or "no tuning log", then the same for each shape bucket,
 * so an artifact says how it was tuned (`kiln dump --tuning LIB` finds the mark in the file
 * and prints the text). */
static void add_tuning_string(LLVMModuleRef m, const kiln_program *p, const char *name) {
  char *text = kiln_fmt("%s%s", KILN_TUNING_MARK, p->tuning ? p->tuning : "no tuning log\n");
  for (int b = 0; b < p->nbuckets; b++) {
    const char *t = p->buckets[b]->tuning;
    char *more = kiln_fmt("%sbucket %d: %s", text, b, t ? t : "no tuning log\n");
    free(text);
    text = more;
  }
  add_const_string(m, name, "tuning", text);
  free(text);
}

/* `const char <name>_manifest[]` (aot_manifest.c), what `kiln run LIB` reads. */
static void add_manifest_string(LLVMModuleRef m, const kiln_program *p, const kiln_options *opts,
                                const char *name, bool threads) {
  char *text = kiln_aot_manifest(p, opts, name, false, threads);
  add_const_string(m, name, "manifest", text);
  free(text);
}

/* void <name>_set_num_threads(int n): the threads the library's parallel loops use from
 * then on, for the whole process (0 = the default: KILN_NUM_THREADS, else one per CPU of the
 * affinity mask); it sets the count of the pool a host .so links (rt/parallel.c). */
static void add_thread_setter(LLVMModuleRef m, const char *name) {
  LLVMContextRef ctx = LLVMGetModuleContext(m);
  LLVMTypeRef i32 = LLVMInt32TypeInContext(ctx);
  LLVMTypeRef ty = LLVMFunctionType(LLVMVoidTypeInContext(ctx), &i32, 1, 0);
  LLVMValueRef rt = LLVMGetNamedFunction(m, "kiln_rt_set_num_threads");
  if (!rt) rt = LLVMAddFunction(m, "kiln_rt_set_num_threads", ty);
  char *fname = kiln_fmt("%s_set_num_threads", name);
  LLVMValueRef fn = LLVMAddFunction(m, fname, ty);
  free(fname);
  LLVMBuilderRef b = LLVMCreateBuilderInContext(ctx);
  LLVMPositionBuilderAtEnd(b, LLVMAppendBasicBlockInContext(ctx, fn, "entry"));
  LLVMBuildCall2(b, ty, rt, (LLVMValueRef[]){LLVMGetParam(fn, 0)}, 1, "");
  LLVMBuildRetVoid(b);
  LLVMDisposeBuilder(b);
}

/* Whether sym is <name>_<one of suffixes>. */
static bool is_export(const char *sym, const char *name, const char *const *suffixes) {
  size_t n = strlen(name);
  if (strncmp(sym, name, n) || sym[n] != '_') return false;
  for (int i = 0; suffixes[i]; i++)
    if (!strcmp(sym + n + 1, suffixes[i])) return true;
  return false;
}

/* Only the entry points (<name>_run, <name>_run_arrays, <name>_set_num_threads) and the
 * <name>_tuning and <name>_manifest strings stay global, so a host can link several models
 * (each with its own runtime) without clashing symbols. */
static void export_only(LLVMModuleRef m, const char *name) {
  for (LLVMValueRef f = LLVMGetFirstFunction(m); f; f = LLVMGetNextFunction(f))
    if (!LLVMIsDeclaration(f) && !is_export(LLVMGetValueName(f), name, EXPORT_FNS) &&
        LLVMGetLinkage(f) != LLVMPrivateLinkage)
      LLVMSetLinkage(f, LLVMInternalLinkage);
  for (LLVMValueRef g = LLVMGetFirstGlobal(m); g; g = LLVMGetNextGlobal(g))
    if (!LLVMIsDeclaration(g) && LLVMGetLinkage(g) != LLVMPrivateLinkage &&
        !is_export(LLVMGetValueName(g), name, EXPORT_GLOBALS))
      LLVMSetLinkage(g, LLVMInternalLinkage);
}

/* The objects obj_paths[0 .. n) of p: the entry and its wrappers in the first, the kernels
 * spread over all (n = 1 for an object that is the output itself). own_runtime: each
 * object defines its parallel-for (on OpenMP, aot_runtime.c); else they leave
 * kiln_rt_parallel_for to be linked from libkiln_rt_aot.a (link_shared), whose thread count
 * <name>_set_num_threads sets. */
static kiln_status emit_objects(const kiln_program *p, const kiln_options *opts,
                                const char *name, const char *const *obj_paths, int n,
                                bool own_runtime, kiln_error *err) {
  kiln_llvm_part parts[AOT_MODULES];
  kiln_status st = kiln_llvm_parts_new(parts, n, opts, err);
  if (st) return st;
  char *entry_name = kiln_fmt("%s_entry", name);
  char *run_name = kiln_fmt("%s_run", name);
  LLVMContextRef ctxs[AOT_MODULES];
  LLVMModuleRef mods[AOT_MODULES];
  for (int i = 0; i < n; i++) ctxs[i] = parts[i].ctx, parts[i].path = obj_paths[i];
  st = kiln_llvm_program_modules(ctxs, n, p, entry_name, parts[0].tm, mods, err);
  for (int i = 0; i < n && !st; i++) parts[i].m = mods[i];
  if (!st) {
    LLVMModuleRef m = mods[0];
    LLVMValueRef entry = LLVMGetNamedFunction(m, entry_name);
    if (!entry || LLVMGetNamedFunction(m, run_name) || LLVMGetNamedGlobal(m, run_name))
      st = kiln_fail(err, KILN_ERR_INTERNAL, "AOT: no entry '%s', or '%s' already taken",
                     entry_name, run_name);
    if (!st) st = add_wrappers(m, p, name, entry, parts[0].tm, err);
    if (!st) {
      add_tuning_string(m, p, name);
      add_manifest_string(m, p, opts, name, !own_runtime);
      for (int i = 0; i < n && own_runtime; i++) kiln_aot_define_runtime(mods[i]);
      if (!own_runtime) add_thread_setter(m, name);
      export_only(m, name);
    }
  }
  int64_t t0 = kiln_rt_clock_ns();
  if (!st) st = kiln_llvm_parts_optimize(parts, n, err);
  if (p->times) p->times->optimize_ms = (double)(kiln_rt_clock_ns() - t0) / 1e6;
  t0 = kiln_rt_clock_ns();
  if (!st) st = kiln_llvm_parts_emit(parts, n, err);
  if (p->times) p->times->machine_ms = (double)(kiln_rt_clock_ns() - t0) / 1e6;
  kiln_llvm_parts_free(parts, n);
  free(entry_name);
  free(run_name);
  return st;
}

kiln_status kiln_aot_check(const kiln_options *opts, const char *out_path, const char *name,
                           kiln_error *err) {
  if (!name) name = "model";
  if (!kiln_aot_name_ok(name))
    return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "AOT name '%s' is not a C identifier", name);
  if (!out_path || !*out_path)
    return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "AOT: no output path");
  kiln_status st = kiln_llvm_check_target(opts, err);
  if (st) return st;
  const char *triple = opts ? opts->triple : NULL;
  if (ends_with(out_path, ".so") && !(opts && opts->linker) && !kiln_llvm_triple_is_host(triple))
    return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT,
                     "a shared library for triple '%s' needs a linker for that target (option "
                     "linker, e.g. 'aarch64-linux-gnu-gcc'); or write an object file (.o)",
                     triple);
  if (opts && opts->linker) {
    char *copy, **argv = linker_argv(opts->linker, &copy, 0);
    if (!argv) return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "linker: the command is empty");
    free(argv);
    free(copy);
  }
  return KILN_OK;
}

/* obj, lib, hdr, rt, obj2 of kiln_aot_write */
#define NTEMPS 5

/* Removes the temporaries that are never outputs (obj, rt, obj2), the outputs too when failed
 * (lib, hdr; after their renames their names are gone anyway), and frees temps. */
static void discard(kiln_temp *temps, bool failed) {
  for (int i = 0; i < NTEMPS; i++) {
    if (temps[i].path && (failed || i == 0 || i >= 3)) unlink(temps[i].path);
    kiln_temp_forget(&temps[i]);
  }
  free(temps);
}

static void discard_failed(void *temps) { discard(temps, true); }

kiln_status kiln_aot_write(const kiln_program *p, const kiln_options *opts,
                           const char *out_path, const char *name, kiln_error *err) {
  if (!name) name = "model";
  kiln_status st = kiln_aot_check(opts, out_path, name, err);
  if (st) return st;
  bool shared = ends_with(out_path, ".so");

  char *dir = kiln_dir_of(out_path);
  char *header = kiln_fmt("%s/%s.h", dir, name);
  /* Temporaries: a shared library is linked from an object; an object is the output
   * itself. */
  kiln_temp *temps = kiln_xcalloc(NTEMPS, sizeof *temps);
  kiln_temp *obj = &temps[0], *lib = &temps[1], *hdr = &temps[2], *rt = &temps[3];
  kiln_temp *obj2 = &temps[4]; /* a linked output's second module: kernels, built at once */
  kiln_recovery undo = {.undo = discard_failed, .arg = temps}; /* when out of memory */
  kiln_recovery_push(&undo);
  /* a .so for this host runs on kiln's pool, and so does an object for this host with
   * free dims or strings (its run-time plan or string functions are libkiln_rt_aot.a's,
   * joined into it); other objects and foreign libraries on OpenMP */
  bool host = kiln_llvm_triple_is_host(opts ? opts->triple : NULL);
  bool host_so = shared && host, host_obj = !shared && host && (p->nsyms || p->strings);
  bool pooled = host_so || host_obj, linked = shared || host_obj;
  if (p->nsyms && !pooled)
    st = kiln_fail(err, KILN_ERR_UNSUPPORTED, "symbolic_dims: an AOT library with free dims "
                   "is for this host (a shared library or an object file), not for another "
                   "architecture");
  if (!st && p->strings && !pooled) /* the string functions are libkiln_rt_aot.a's */
    st = kiln_fail(err, KILN_ERR_UNSUPPORTED, "the model has string tensors: an AOT library of "
                   "it is for this host (a shared library or an object file), not for another "
                   "architecture");
  if (!st && ((linked && (!temp_file(dir, name, ".o", obj) ||
                          !temp_file(dir, name, ".k.o", obj2))) ||
      !temp_file(dir, name, shared ? ".so" : ".o", lib) || !temp_file(dir, name, ".h", hdr) ||
      (pooled && !write_rt_archive(dir, name, rt))))
    st = kiln_fail(err, KILN_ERR_IO, "cannot create files in directory '%s': %s", dir,
                   strerror(errno));
  const char *objs[AOT_MODULES] = {linked ? obj->path : lib->path, obj2->path};
  if (!st) st = emit_objects(p, opts, name, objs, linked ? AOT_MODULES : 1, !pooled, err);
  int64_t t0 = kiln_rt_clock_ns();
  if (!st && shared) st = link_shared(objs, rt->path, lib->path, opts, host_so, err);
  if (!st && host_obj) st = link_object(objs, rt->path, lib->path, opts, name, err);
  if (p->times) p->times->machine_ms += (double)(kiln_rt_clock_ns() - t0) / 1e6;
  /* The temporaries are 0600; give them the usual modes of a build output. */
  if (!st && (chmod(lib->path, shared ? 0755 : 0644) != 0 || chmod(hdr->path, 0644) != 0))
    st = kiln_fail(err, KILN_ERR_IO, "cannot set the mode of files in '%s': %s", dir,
                   strerror(errno));
  if (!st) st = kiln_aot_write_header(p, name, hdr->path, false, pooled, err);
  kiln_recovery_pop(&undo);
  if (!st && rename(hdr->path, header) != 0)
    st = kiln_fail(err, KILN_ERR_IO, "cannot write '%s': %s", header, strerror(errno));
  if (!st && rename(lib->path, out_path) != 0) {
    st = kiln_fail(err, KILN_ERR_IO, "cannot write '%s': %s", out_path, strerror(errno));
    unlink(header);
  }
  discard(temps, st != KILN_OK);
  free(header);
  free(dir);
  return st;
}
