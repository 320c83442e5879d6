/* The target's SIMD width, for the schedules' tile sizes. Passes do not build an LLVM
 * target machine, so this reads the same options codegen will: a named CPU or feature
 * string, else the host (the compiler's CPU probe). Only tuning depends on the answer;
 * a wrong guess costs speed, never correctness. Also whether the target is a GPU. */
#include "passes/passes.h"

#include <string.h>

bool kiln_target_gpu(const kiln_options *opts) {
  return opts && opts->target && (!strcmp(opts->target, "cuda") || !strcmp(opts->target, "cuda-host"));
}

/* CPU names (LLVM's) whose feature sets include AVX-512F. */
static bool cpu_has_avx512(const char *cpu) {
  static const char *const names[] = {
      "x86-64-v4", "skylake-avx512", "cascadelake", "cooperlake", "cannonlake",
      "icelake", "tigerlake", "rocketlake", "sapphirerapids", "emeraldrapids",
      "graniterapids", "diamondrapids", "znver4", "znver5", "knl", "knm"};
  for (size_t i = 0; i < sizeof names / sizeof *names; i++)
    if (!strncmp(cpu, names[i], strlen(names[i]))) return true;
  return false;
}

/* Does the comma-separated feature list name exactly f ("+avx512f", not "+avx512fp16")? */
static bool has_feature(const char *features, const char *f) {
  size_t n = strlen(f);
  for (const char *p = features; (p = strstr(p, f)); p += n)
    if ((p == features || p[-1] == ',') && (p[n] == ',' || p[n] == '\0')) return true;
  return false;
}

int kiln_target_vector_floats(const kiln_options *opts) {
  const char *cpu = opts ? opts->cpu : NULL, *features = opts ? opts->features : NULL;
  if (opts && opts->triple && strncmp(opts->triple, "x86_64", 6)) return 4; /* NEON-like */
  if (features && has_feature(features, "-avx512f")) return 8;
  if (features && has_feature(features, "+avx512f")) return 16;
  if (cpu) return cpu_has_avx512(cpu) ? 16 : 8;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") ? 16 : 8;
#else
  return 4;
#endif
}
