/* Targets and portability: AOT objects for another architecture (told by their ELF
 * header), a shared library for one through a given linker or refused before any work,
 * the runtime an object carries (its parallel loops run on an OpenMP team), the linker
 * option, target options the JIT cannot honour, CPU and feature names checked (an error,
 * nothing printed), and a named CPU's code using that CPU's features only. The model is
 * examples/demo.onnx. */
#include "kiln.h"
#include "passes/passes.h"
#include "tests/check.h"

#include <llvm-c/Core.h>
#include <llvm-c/TargetMachine.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MODEL "../examples/demo.onnx"
enum { ET_REL = 1, ET_DYN = 3, EM_X86_64 = 62, EM_AARCH64 = 183 };

static char dir[] = "/tmp/kiln_target_XXXXXX";

static char *path_in_dir(const char *name) {
  static char buf[4][512];
  static int next;
  char *p = buf[next++ % 4];
  snprintf(p, sizeof buf[0], "%s/%s", dir, name);
  return p;
}

static void clear_dir(void) {
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'/* '%s'/.[!.]*", dir, dir);
  CHECK(system(cmd) == 0);
}

/* e_type and e_machine of a little-endian ELF64 file; 0 if it is not one. */
static int elf_field(const char *path, int offset) {
  unsigned char h[20];
  FILE *f = fopen(path, "rb");
  if (!f) return 0;
  size_t n = fread(h, 1, sizeof h, f);
  fclose(f);
  if (n != sizeof h || memcmp(h, "\177ELF", 4) != 0 || h[4] != 2 || h[5] != 1) return 0;
  return h[offset] | h[offset + 1] << 8;
}
static int elf_type(const char *path) { return elf_field(path, 16); }
static int elf_machine(const char *path) { return elf_field(path, 18); }

static int sh(const char *cmd) {
  int rc = system(cmd);
  return rc == -1 ? -1 : WEXITSTATUS(rc);
}

/* kiln compile --triple T -o m.o: an object of T's machine, whose only global symbols are
 * its entry points m_run and m_run_arrays and the m_manifest and m_tuning strings (the
 * runtime it carries stays internal), and its header. */
static void cross_objects(void) {
  const struct { const char *triple; int machine; } cases[] = {
      {"aarch64-linux-gnu", EM_AARCH64}, {"x86_64-linux-gnu", EM_X86_64}};
  for (int i = 0; i < 2; i++) {
    kiln_options o = {.struct_size = sizeof o, .triple = cases[i].triple};
    kiln_error err = {0};
    CHECK(kiln_compile_aot(MODEL, &o, path_in_dir("m.o"), "m", &err) == KILN_OK);
    if (err.code) fprintf(stderr, "%s: %s\n", cases[i].triple, err.message);
    CHECK(elf_type(path_in_dir("m.o")) == ET_REL);
    CHECK(elf_machine(path_in_dir("m.o")) == cases[i].machine);
    CHECK(access(path_in_dir("m.h"), R_OK) == 0);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "test \"$(nm -g --defined-only '%s' | awk '{print $3}' | sort | "
             "tr '\\n' ' ')\" = 'm_manifest m_run m_run_arrays m_tuning '",
             path_in_dir("m.o"));
    CHECK(sh(cmd) == 0);
    clear_dir();
  }
}

/* A .so for another architecture without a linker: one clear error before any work (the
 * model is not even read: it does not exist), and no files. */
static void cross_shared_needs_linker(void) {
  kiln_options o = {.struct_size = sizeof o, .triple = "aarch64-linux-gnu"};
  kiln_error err = {0};
  CHECK(kiln_compile_aot("no/such/model.onnx", &o, path_in_dir("m.so"), "m", &err) ==
        KILN_ERR_INVALID_ARGUMENT);
  CHECK(strstr(err.message, "linker") && strstr(err.message, "aarch64-linux-gnu"));
  CHECK(check_count_files(dir) == 0);
}

/* With a linker for the target (here ld.lld behind a cc-like script), a .so of that
 * machine. */
static void cross_shared_linked(void) {
  if (sh("command -v ld.lld >/dev/null") != 0) {
    printf("cross .so: skipped (no ld.lld)\n");
    return;
  }
  kiln_options o = {.struct_size = sizeof o, .triple = "aarch64-linux-gnu", .linker = "data/cross_cc.sh"};
  kiln_error err = {0};
  CHECK(kiln_compile_aot(MODEL, &o, path_in_dir("m.so"), "m", &err) == KILN_OK);
  if (err.code) fprintf(stderr, "cross .so: %s\n", err.message);
  CHECK(elf_type(path_in_dir("m.so")) == ET_DYN);
  CHECK(elf_machine(path_in_dir("m.so")) == EM_AARCH64);
  clear_dir();
}

/* The linker option: its words are split at blanks; an empty one is refused up front, a
 * failing one fails the compile naming it, leaving no files. */
static void linker_option(void) {
  kiln_error err = {0};
  kiln_options o = {.struct_size = sizeof o, .linker = "  "};
  CHECK(kiln_compile_aot(MODEL, &o, path_in_dir("m.so"), "m", &err) == KILN_ERR_INVALID_ARGUMENT);
  o.linker = "false --ignored";
  err = (kiln_error){0};
  CHECK(kiln_compile_aot(MODEL, &o, path_in_dir("m.so"), "m", &err) == KILN_ERR_CODEGEN);
  CHECK(strstr(err.message, "'false'") != NULL);
  CHECK(check_count_files(dir) == 0);
  o.linker = "cc -O2 -Wl,-z,now";
  err = (kiln_error){0};
  CHECK(kiln_compile_aot(MODEL, &o, path_in_dir("m.so"), "m", &err) == KILN_OK);
  CHECK(elf_type(path_in_dir("m.so")) == ET_DYN);
  clear_dir();
}

/* The object's own kiln_rt_parallel_for: with 4 OpenMP threads its loops go through
 * GOMP_parallel with teams of up to 4 (the host wraps it to count), with 1 thread they
 * run serially, and both give the same outputs bit for bit. The model is a MatMul large
 * enough that its default schedule runs in parallel (the demo's stages are too small). */
static void object_runtime_team(void) {
  kiln_error err = {0};
  FILE *f = fopen(path_in_dir("big.kiln"), "w");
  CHECK(f != NULL);
  if (!f) return;
  fputs("model m(a: f32[128, 128]) { return c = Relu(MatMul(a, a)) }\n", f);
  fclose(f);
  CHECK(kiln_compile_aot(path_in_dir("big.kiln"), NULL, path_in_dir("demo.o"), "demo", &err) ==
        KILN_OK);
  f = fopen(path_in_dir("host.c"), "w");
  CHECK(f != NULL);
  if (!f) return;
  fputs("#include \"demo.h\"\n#include <omp.h>\n#include <stdio.h>\n#include <string.h>\n"
        "void __real_GOMP_parallel(void (*)(void *), void *, unsigned, unsigned);\n"
        "static unsigned calls, widest;\n"
        "void __wrap_GOMP_parallel(void (*fn)(void *), void *d, unsigned n, unsigned fl) {\n"
        "  calls++;\n  if (n > widest) widest = n;\n  __real_GOMP_parallel(fn, d, n, fl);\n}\n"
        "static float x[DEMO_INPUT_0_SIZE], team[DEMO_OUTPUT_0_SIZE], one[DEMO_OUTPUT_0_SIZE];\n"
        "int main(void) {\n"
        "  for (int i = 0; i < DEMO_INPUT_0_SIZE; i++) x[i] = (float)(i % 13) * 0.1f;\n"
        "  if (demo_run(x, team, NULL)) return 2;\n"
        "  unsigned team_calls = calls;\n"
        "  omp_set_num_threads(1);\n"
        "  if (demo_run(x, one, NULL)) return 3;\n"
        "  printf(\"GOMP_parallel: %u calls, widest team %u; serial: %u calls\\n\",\n"
        "         team_calls, widest, calls - team_calls);\n"
        "  if (team_calls == 0 || widest < 2 || widest > 4 || calls != team_calls) return 4;\n"
        "  return memcmp(team, one, sizeof one) != 0;\n}\n",
        f);
  fclose(f);
  char cmd[1200];
  snprintf(cmd, sizeof cmd,
           "cd '%s' && cc -std=c11 -Wall -I. host.c demo.o -fopenmp -lm "
           "-Wl,--wrap=GOMP_parallel -o host && OMP_NUM_THREADS=4 ./host",
           dir);
  CHECK(sh(cmd) == 0);
  clear_dir();
}

/* Target options the JIT cannot use, and triples LLVM does not know. */
static void bad_targets(void) {
  kiln_model *m = NULL;
  kiln_error err = {0};
  kiln_options o = {.struct_size = sizeof o, .triple = "aarch64-linux-gnu"};
  CHECK(kiln_compile_file(MODEL, &o, &m, &err) == KILN_ERR_INVALID_ARGUMENT && !m);
  CHECK(strstr(err.message, "aarch64-linux-gnu") != NULL);
  o.triple = "nonsense";
  err = (kiln_error){0};
  CHECK(kiln_compile_aot(MODEL, &o, path_in_dir("m.o"), "m", &err) == KILN_ERR_INVALID_ARGUMENT);
  CHECK(strstr(err.message, "nonsense") != NULL);
  CHECK(check_count_files(dir) == 0);
}

/* Runs f with this process's stderr going to a file; the number of bytes written there. */
static long stderr_bytes(void (*f)(void *), void *arg) {
  fflush(stderr);
  int saved = dup(2);
  char *log = path_in_dir("stderr.log");
  int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  dup2(fd, 2);
  close(fd);
  f(arg);
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  FILE *in = fopen(log, "rb");
  long n = -1;
  if (in) {
    fseek(in, 0, SEEK_END);
    n = ftell(in);
    fclose(in);
  }
  unlink(log);
  return n;
}

typedef struct target_case {
  const char *triple, *cpu, *features;
  const char *option, *value; /* what the message must name; NULL: the options are valid */
  kiln_status aot, jit;
  bool named;
} target_case;

/* Each case through AOT (the model does not exist: the options fail first) and the JIT. */
static void compile_case(void *arg) {
  target_case *c = arg;
  kiln_options o = {.struct_size = sizeof o, .triple = c->triple, .cpu = c->cpu, .features = c->features};
  kiln_error err = {0};
  c->aot = kiln_compile_aot("no/such/model.onnx", &o, path_in_dir("m.o"), "m", &err);
  c->named = !c->option || (strstr(err.message, c->option) && strstr(err.message, c->value));
  if (!c->named) printf("no %s '%s' in: %s\n", c->option, c->value, err.message);
  kiln_model *m = NULL;
  err = (kiln_error){0};
  c->jit = c->triple ? KILN_ERR_INVALID_ARGUMENT : kiln_compile_file(MODEL, &o, &m, &err);
  kiln_model_free(m);
}

/* --cpu and --features names LLVM does not know fail with KILN_ERR_INVALID_ARGUMENT naming
 * them, before any work, and nothing reaches stderr (LLVM used to warn there up to six
 * times per compile, or abort). */
static void target_names_checked(void) {
  target_case cases[] = {
      {NULL, "notacpu", NULL, "cpu", "notacpu", 0, 0, 0},
      {NULL, NULL, "+nosuchfeature", "features", "nosuchfeature", 0, 0, 0},
      {NULL, "x86-64", "+avx2,-nosuchfeature", "features", "nosuchfeature", 0, 0, 0},
      {NULL, NULL, "avx2", "features", "avx2", 0, 0, 0},
      {"aarch64-linux-gnu", "skylake", NULL, "cpu", "skylake", 0, 0, 0},
      {"aarch64-linux-gnu", "cortex-a76", "+sve,-bf16", NULL, NULL, 0, 0, 0},
      {"x86_64-linux-gnu", "x86-64-v3", "+avx512f,,", NULL, NULL, 0, 0, 0},
      /* CPUs and features without 64-bit mode: LLVM knows them, then aborts */
      {"x86_64-linux-gnu", "i686", NULL, "cpu", "i686", 0, 0, 0},
      {NULL, "pentium4", NULL, "cpu", "pentium4", 0, 0, 0},
      {"x86_64-linux-gnu", NULL, "+sse2,-64bit-mode", "features", "64bit-mode", 0, 0, 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    target_case *c = &cases[i];
    long printed = stderr_bytes(compile_case, c);
    if (printed != 0) printf("case %zu printed %ld bytes to stderr\n", i, printed);
    CHECK(printed == 0);
    CHECK(c->named);
    if (c->option) {
      CHECK(c->aot == KILN_ERR_INVALID_ARGUMENT);
      CHECK(c->jit == KILN_ERR_INVALID_ARGUMENT);
    } else {
      CHECK(c->aot == KILN_ERR_NO_SUCH_FILE); /* the options passed: the model is read */
    }
  }
  CHECK(check_count_files(dir) == 0);
}

/* JIT code runs here: a CPU other than the host's own (or an x86-64 level it reaches), or a
 * feature it lacks, is refused rather than left to die of an illegal instruction; AOT
 * compiles for any of them. */
static void jit_host_only(void) {
  char *host_cpu = LLVMGetHostCPUName(), *host = LLVMGetHostCPUFeatures();
  const char *other = strcmp(host_cpu, "znver5") ? "znver5" : "skylake-avx512";
  char missing[64] = ""; /* a feature this host lacks, as "+name" */
  for (const char *f = strstr(host, "-"); f && !missing[0]; f = strstr(f + 1, ",-")) {
    if (*f == ',') f++;
    size_t n = strcspn(f, ",");
    if (n > 1 && n < sizeof missing - 1) snprintf(missing, sizeof missing, "+%.*s", (int)n - 1, f + 1);
  }
  struct { const char *cpu, *features; kiln_status want; } cases[] = {
      {other, NULL, KILN_ERR_INVALID_ARGUMENT}, {host_cpu, NULL, KILN_OK},
      {"x86-64", NULL, KILN_OK}, {"generic", NULL, KILN_OK},
      {NULL, missing[0] ? missing : NULL, missing[0] ? KILN_ERR_INVALID_ARGUMENT : KILN_OK}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    kiln_options o = {.struct_size = sizeof o, .cpu = cases[i].cpu, .features = cases[i].features};
    kiln_model *m = NULL;
    kiln_error err = {0};
    kiln_status st = kiln_compile_file(MODEL, &o, &m, &err);
    if (st != cases[i].want)
      printf("JIT cpu %s features %s: %s\n", o.cpu ? o.cpu : "-", o.features ? o.features : "-", err.message);
    CHECK(st == cases[i].want);
    kiln_model_free(m);
  }
  kiln_options o = {.struct_size = sizeof o, .cpu = other};
  kiln_error err = {0};
  CHECK(kiln_compile_aot(MODEL, &o, path_in_dir("other.o"), "other", &err) == KILN_OK);
  clear_dir();
  LLVMDisposeMessage(host_cpu);
  LLVMDisposeMessage(host);
}

/* How many instructions of an x86-64 object use ymm or zmm registers. */
static int wide_registers(const char *obj, const char *which) {
  char cmd[700];
  snprintf(cmd, sizeof cmd, "'%s' -d '%s' | grep -cE '%%(%s)[0-9]'", LLVM_OBJDUMP, obj, which);
  FILE *p = popen(cmd, "r");
  int n = -1;
  if (p && fscanf(p, "%d", &n) != 1) n = -1;
  if (p) pclose(p);
  return n;
}

/* A named CPU brings its own features, not the host's: x86-64 has no AVX (the baseline
 * of portable builds), x86-64-v3 has AVX2 (ymm), and --features still adds to it. */
static void named_cpu_features(void) {
  const struct { const char *cpu, *features; bool ymm, zmm; } cases[] = {
      {"x86-64", NULL, false, false},
      {"x86-64-v2", NULL, false, false},
      {"x86-64-v3", NULL, true, false},
      {"x86-64", "+avx2", true, false},
  };
  for (int i = 0; i < 4; i++) {
    kiln_options o = {.struct_size = sizeof o, .triple = "x86_64-linux-gnu", .cpu = cases[i].cpu,
                      .features = cases[i].features};
    kiln_error err = {0};
    CHECK(kiln_compile_aot(MODEL, &o, path_in_dir("m.o"), "m", &err) == KILN_OK);
    int ymm = wide_registers(path_in_dir("m.o"), "ymm");
    int zmm = wide_registers(path_in_dir("m.o"), "zmm");
    printf("--cpu %s%s%s: %d ymm, %d zmm instructions\n", cases[i].cpu,
           cases[i].features ? " --features " : "", cases[i].features ? cases[i].features : "",
           ymm, zmm);
    CHECK(ymm >= 0 && zmm >= 0);
    CHECK((ymm > 0) == cases[i].ymm);
    CHECK((zmm > 0) == cases[i].zmm);
    clear_dir();
  }
}

/* The SIMD width schedules and codegen plan for: a feature is matched whole ("-avx512fp16"
 * does not turn AVX-512F off), else the named CPU's. */
static void vector_floats(void) {
  kiln_options o = {.struct_size = sizeof o, .features = "+avx2,+avx512f,-avx512fp16"};
  CHECK(kiln_target_vector_floats(&o) == 16);
  o.features = "+avx2,-avx512f,+fma";
  CHECK(kiln_target_vector_floats(&o) == 8);
  o.features = NULL, o.cpu = "x86-64-v4";
  CHECK(kiln_target_vector_floats(&o) == 16);
  o.cpu = "x86-64-v3";
  CHECK(kiln_target_vector_floats(&o) == 8);
  o.cpu = "znver5";
  CHECK(kiln_target_vector_floats(&o) == 16);
}

int main(void) {
  vector_floats();
  CHECK(mkdtemp(dir) != NULL);
  cross_objects();
  cross_shared_needs_linker();
  cross_shared_linked();
  linker_option();
  object_runtime_team();
  bad_targets();
  target_names_checked();
  jit_host_only();
  named_cpu_features();
  CHECK(check_count_files(dir) == 0);
  rmdir(dir);
  return check_report();
}
