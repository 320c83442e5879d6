/* CPU and feature names checked against the ones LLVM knows for the target, so that a
 * typo fails the compile: LLVM itself only warns on stderr (the library must not print)
 * and carries on without it, or aborts later. LLVM's C API can neither list nor check
 * them (MCSubtargetInfo is C++), so the build copies LLVM's own lists from the llc of the
 * same release (cmake/llvm_target_names.cmake). */
#include "codegen/plumbing.h"

#include <stdlib.h>
#include <string.h>

#include "llvm_target_names.inc"

static const struct target_names *find(const char *target) {
  for (size_t i = 0; i < sizeof target_names / sizeof target_names[0]; i++)
    if (strcmp(target_names[i].target, target) == 0) return &target_names[i];
  return NULL;
}

static bool listed(const char *const *names, const char *s, size_t n) {
  for (; *names; names++)
    if (strlen(*names) == n && strncmp(*names, s, n) == 0) return true;
  return false;
}

/* x86 CPUs without 64-bit mode: LLVM knows them for an x86-64 triple too, then aborts
 * ("64-bit code requested on a subtarget that doesn't support it"). The list is every
 * name in LLVM 19's x86 list for which that happens (found by compiling with each). */
static const char *const x86_32bit_only[] = {
    "athlon", "athlon-4", "athlon-mp", "athlon-tbird", "athlon-xp", "c3", "c3-2", "geode",
    "i386", "i486", "i586", "i686", "k6", "k6-2", "k6-3", "lakemont", "pentium", "pentium-m",
    "pentium-mmx", "pentium2", "pentium3", "pentium3m", "pentium4", "pentium4m", "pentium_4",
    "pentium_4_sse3", "pentium_ii", "pentium_iii", "pentium_iii_no_xmm_regs", "pentium_m",
    "pentium_mmx", "pentium_pro", "pentiumpro", "prescott", "winchip-c6", "winchip2", "yonah",
    NULL};

/* A 64-bit x86 triple with a CPU or features that lack 64-bit mode. */
static kiln_status check_x86_64(const char *triple, const char *cpu, const char *features,
                                kiln_error *err) {
  if (cpu && listed(x86_32bit_only, cpu, strlen(cpu)))
    return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT,
                     "cpu '%s' has no 64-bit mode, so it cannot run code for triple '%s' "
                     "(name a 64-bit CPU, or an i686 triple)", cpu, triple);
  for (const char *f = features; f && (f = strstr(f, "-64bit-mode")); f++)
    if ((f == features || f[-1] == ',') && (f[11] == 0 || f[11] == ','))
      return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT,
                       "features '%s': triple '%s' needs 64-bit mode", features, triple);
  return KILN_OK;
}

kiln_status kiln_llvm_check_names(LLVMTargetRef target, const char *triple, const char *cpu,
                                  const char *features, kiln_error *err) {
  const char *name = LLVMGetTargetName(target);
  if (strcmp(name, "x86-64") == 0 && check_x86_64(triple, cpu, features, err)) return err->code;
  const struct target_names *t = find(name);
  if (!t) return KILN_OK; /* a target the build's llc did not list: LLVM checks alone */
  if (cpu && t->cpus[0] && !listed(t->cpus, cpu, strlen(cpu)))
    return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT,
                     "cpu '%s' is not a processor LLVM knows for triple '%s' (`llc-19 "
                     "-mtriple=%s -mcpu=help` lists them)", cpu, triple, triple);
  /* "+a,-b": LLVM ignores empty entries and wants a sign on every other one. */
  for (const char *f = features; f && *f;) {
    size_t n = strcspn(f, ",");
    if (n > 0 && *f != '+' && *f != '-')
      return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT,
                       "features '%s': '%.*s' needs '+' (enable) or '-' (disable) in front",
                       features, (int)n, f);
    if (n > 0 && t->features[0] && !listed(t->features, f + 1, n - 1))
      return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT,
                       "features '%s': '%.*s' is not a feature LLVM knows for triple '%s' "
                       "(`llc-19 -mtriple=%s -mattr=help` lists them)",
                       features, (int)n - 1, f + 1, triple, triple);
    f += n + (f[n] == ',');
  }
  return KILN_OK;
}
