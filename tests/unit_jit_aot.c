/* Codegen plumbing: JIT compile and run (also from several threads at once), AOT shared
 * library (dlopen, header, dependencies), AOT object linked into a host, and failed AOT
 * writes that must leave no files. The program: t = exp(x) in the arena, y = t + c with a
 * constant c, both stages parallel. */
#include "codegen/codegen.h"
#include "tests/check.h"

#include <dirent.h>
#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static kiln_program *make_program(int64_t n, float scale) {
  kiln_program *p = kiln_program_new();
  p->ninputs = p->noutputs = 1;
  p->inputs = kiln_xcalloc(1, sizeof(kiln_io));
  p->outputs = kiln_xcalloc(1, sizeof(kiln_io));
  p->inputs[0] = (kiln_io){kiln_xstrdup("x:0"), KILN_F32, 1, {n}, n * 4, NULL};
  p->outputs[0] = (kiln_io){kiln_xstrdup("y"), KILN_F32, 1, {n}, n * 4, NULL};
  p->nconsts = 1;
  p->consts = kiln_xcalloc(1, sizeof(kiln_const));
  p->consts[0].dtype = KILN_F32;
  p->consts[0].bytes = n * 4;
  p->consts[0].data = aligned_alloc(64, (size_t)(n * 4 + 63) / 64 * 64);
  for (int64_t i = 0; i < n; i++) ((float *)p->consts[0].data)[i] = scale * (float)i;
  p->arena_bytes = (n * 4 + 63) / 64 * 64;

  kiln_kernel *k = kiln_kernel_new("exp_add");
  int x = kiln_kernel_add_buffer(k, "x:0", KILN_BUF_INPUT, 0, KILN_F32, 1, &n);
  int c = kiln_kernel_add_buffer(k, "c", KILN_BUF_INPUT, 1, KILN_F32, 1, &n);
  int t = kiln_kernel_add_buffer(k, "t", KILN_BUF_TEMP, -1, KILN_F32, 1, &n);
  int y = kiln_kernel_add_buffer(k, "y", KILN_BUF_OUTPUT, 2, KILN_F32, 1, &n);
  k->bufs[x].storage = (kiln_storage){KILN_STORE_INPUT, 0, 0};
  k->bufs[c].storage = (kiln_storage){KILN_STORE_CONST, 0, 0};
  k->bufs[t].storage = (kiln_storage){KILN_STORE_ARENA, 0, 0};
  k->bufs[y].storage = (kiln_storage){KILN_STORE_OUTPUT, 0, 0};

  kiln_stage *s = kiln_kernel_add_stage(k, "exp", t);
  kiln_expr *i = kx_var(k, kiln_stage_axis(s, n, false));
  kiln_stage_store(k, s, &i, kx_unary(k, KU_EXP, kx_load(k, x, &i)));
  s->sched.loops[0].kind = KILN_LOOP_PARALLEL;

  s = kiln_kernel_add_stage(k, "add", y);
  i = kx_var(k, kiln_stage_axis(s, n, false));
  kiln_stage_store(k, s, &i, kx_binary(k, KB_ADD, kx_load(k, t, &i), kx_load(k, c, &i)));
  s->sched.loops[0].kind = KILN_LOOP_PARALLEL;

  kiln_steps_add(&p->main, KILN_STEP_KERNEL)->kernel = k;
  return p;
}

static void fill_input(float *x, int64_t n) {
  for (int64_t i = 0; i < n; i++) x[i] = (float)(i % 97) * 0.01f - 0.5f;
}

/* Number of elements of y that differ from exp(x) + scale * i. */
static int64_t count_bad(const float *x, const float *y, int64_t n, float scale) {
  int64_t bad = 0;
  for (int64_t i = 0; i < n; i++) {
    float want = expf(x[i]) + scale * (float)i;
    if (!(fabsf(y[i] - want) <= 1e-4f * fmaxf(1.0f, fabsf(want)))) bad++;
  }
  return bad;
}

static int64_t jit_run_check(int64_t n, float scale) {
  kiln_program *p = make_program(n, scale);
  kiln_jit *jit = NULL;
  kiln_entry_fn entry = NULL;
  kiln_error err = {0};
  if (kiln_jit_compile(p, NULL, &jit, &entry, &err)) {
    fprintf(stderr, "JIT compile failed: %s\n", err.message);
    kiln_program_free(p);
    return -1;
  }
  float *x = malloc((size_t)n * 4), *y = calloc((size_t)n, 4);
  uint8_t *arena = aligned_alloc(64, (size_t)p->arena_bytes);
  fill_input(x, n);
  void *ins[] = {x}, *outs[] = {y};
  const void *consts[] = {p->consts[0].data};
  entry(ins, outs, arena, consts);
  int64_t bad = count_bad(x, y, n, scale);
  free(x), free(y), free(arena);
  kiln_jit_free(jit);
  kiln_program_free(p);
  return bad;
}

static void *thread_main(void *arg) {
  intptr_t id = (intptr_t)arg;
  int64_t bad = 0;
  for (int rep = 0; rep < 3; rep++) bad += jit_run_check(1000 + 37 * id + rep, (float)id);
  return (void *)(intptr_t)bad;
}

/* An emitter failure (here an invalid schedule) comes back as an error, nothing leaked. */
static void test_jit_error(void) {
  kiln_program *p = make_program(100, 1.0f);
  p->main.steps[0].kernel->stages[0].sched.nloops = 0;
  kiln_jit *jit = (kiln_jit *)p;
  kiln_entry_fn entry = (kiln_entry_fn)1;
  kiln_error err = {0};
  CHECK(kiln_jit_compile(p, NULL, &jit, &entry, &err) != KILN_OK);
  CHECK(jit == NULL && entry == NULL && err.message[0]);
  kiln_jit_free(NULL);
  kiln_program_free(p);
}

static void test_jit(void) {
  test_jit_error();
  CHECK(jit_run_check(3, 1.0f) == 0); /* (extent 1 hangs kiln_schedule_check: reported) */
  CHECK(jit_run_check(100003, 0.5f) == 0);
  pthread_t th[4];
  for (intptr_t t = 0; t < 4; t++) pthread_create(&th[t], NULL, thread_main, (void *)t);
  for (int t = 0; t < 4; t++) {
    void *r;
    pthread_join(th[t], &r);
    CHECK((intptr_t)r == 0);
  }
}

/* ---- AOT ---------------------------------------------------------------------------- */

static int shell(const char *fmt, const char *a, const char *b) {
  char cmd[2048];
  snprintf(cmd, sizeof cmd, fmt, a, b, a, b);
  return system(cmd);
}

/* Every NEEDED entry of the library is part of the C library: libc, libm, the dynamic
 * loader (thread-local storage) or, with an older libc, libpthread. No libgomp: a host
 * library runs on kiln's pool, which dlclose stops before unmapping. */
static bool only_basic_deps(const char *lib) {
  char cmd[1024], line[512];
  snprintf(cmd, sizeof cmd, "readelf -d '%s'", lib);
  FILE *f = popen(cmd, "r");
  if (!f) return false;
  int needed = 0, ok = 1;
  while (fgets(line, sizeof line, f)) {
    if (!strstr(line, "(NEEDED)")) continue;
    needed++;
    if (!strstr(line, "[libc.so.") && !strstr(line, "[libm.so.") && !strstr(line, "[libpthread.so.") &&
        !strstr(line, "[ld-linux"))
      ok = 0, fprintf(stderr, "unexpected dependency: %s", line);
  }
  return pclose(f) == 0 && needed > 0 && ok;
}

static void test_aot_shared(const char *dir) {
  const int64_t n = 5000;
  kiln_program *p = make_program(n, 2.0f);
  char *lib = kiln_fmt("%s/net.so", dir), *hdr = kiln_fmt("%s/net.h", dir);
  kiln_error err = {0};
  CHECK(kiln_aot_write(p, NULL, lib, "net", &err) == KILN_OK);
  if (err.code) fprintf(stderr, "AOT failed: %s\n", err.message);
  CHECK(access(hdr, R_OK) == 0);
  CHECK(only_basic_deps(lib));

  void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
  CHECK(h != NULL);
  if (h) {
    int (*run)(const float *, float *, void *) = (int (*)(const float *, float *, void *))dlsym(h, "net_run");
    CHECK(run != NULL);
    CHECK(dlsym(h, "kiln_rt_parallel_for") == NULL); /* the runtime stays private */
    float *x = malloc(n * 4), *y = calloc(n, 4);
    fill_input(x, n);
    if (run) {
      CHECK(run(x, y, NULL) == 0); /* workspace allocated for the call */
      CHECK(count_bad(x, y, n, 2.0f) == 0);
      memset(y, 0, n * 4);
      void *ws = aligned_alloc(64, (size_t)p->arena_bytes);
      CHECK(run(x, y, ws) == 0);
      CHECK(count_bad(x, y, n, 2.0f) == 0);
      free(ws);
    }
    free(x), free(y);
    dlclose(h);
  }

  /* The header compiles, its macros are right, and the prototype matches the types. */
  char *src = kiln_fmt("%s/use_header.c", dir);
  FILE *f = fopen(src, "w");
  fprintf(f, "#include \"net.h\"\n"
             "_Static_assert(NET_NUM_INPUTS == 1 && NET_NUM_OUTPUTS == 1, \"io\");\n"
             "_Static_assert(NET_INPUT_0_SIZE == 5000 && NET_OUTPUT_0_BYTES == 20000, \"sz\");\n"
             "_Static_assert(NET_INPUT_0_RANK == 1 && NET_WORKSPACE_BYTES >= 20000, \"ws\");\n"
             "static const int64_t shape[] = NET_INPUT_0_SHAPE;\n"
             "static const char *name = NET_INPUT_0_NAME;\n"
             "int (*fp)(const float *, float *, void *) = net_run;\n"
             "const void *use(void) { return shape[0] == 5000 ? name : 0; }\n");
  fclose(f);
  CHECK(shell("cc -std=c11 -Wall -Wextra -Werror -c -I'%s' '%s/use_header.c' -o /dev/null", dir,
              dir) == 0);
  unlink(src);
  free(src);
  unlink(lib);
  unlink(hdr);
  free(lib), free(hdr);
  kiln_program_free(p);
}

/* The .o variant links with a host using only `cc host.c model.o -fopenmp -lm`; two models
 * in one host do not clash. */
static void test_aot_object(const char *dir) {
  const int64_t n = 3000;
  kiln_program *p = make_program(n, 3.0f);
  kiln_error err = {0};
  char *o1 = kiln_fmt("%s/m1.o", dir), *o2 = kiln_fmt("%s/m2.o", dir);
  CHECK(kiln_aot_write(p, NULL, o1, "m1", &err) == KILN_OK);
  CHECK(kiln_aot_write(p, NULL, o2, "m2", &err) == KILN_OK);
  if (err.code) fprintf(stderr, "AOT failed: %s\n", err.message);
  char *src = kiln_fmt("%s/host.c", dir);
  FILE *f = fopen(src, "w");
  fprintf(f, "#include \"m1.h\"\n#include \"m2.h\"\n#include <math.h>\n#include <stdlib.h>\n"
             "int main(void) {\n"
             "  float *x = malloc(M1_INPUT_0_BYTES), *y = malloc(M1_OUTPUT_0_BYTES),\n"
             "        *z = malloc(M2_OUTPUT_0_BYTES);\n"
             "  for (int i = 0; i < M1_INPUT_0_SIZE; i++) x[i] = (float)(i %% 97) * 0.01f - 0.5f;\n"
             "  if (m1_run(x, y, NULL) || m2_run(x, z, NULL)) return 2;\n"
             "  for (int i = 0; i < M1_OUTPUT_0_SIZE; i++) {\n"
             "    float want = expf(x[i]) + 3.0f * (float)i;\n"
             "    if (fabsf(y[i] - want) > 1e-4f * fmaxf(1.0f, want) || y[i] != z[i]) return 1;\n"
             "  }\n  return 0;\n}\n");
  fclose(f);
  CHECK(shell("cd '%s' && cc -std=c11 -Wall -I. host.c m1.o m2.o -fopenmp -lm -o host && ./host",
              dir, "") == 0);
  const char *junk[] = {"m1.o", "m1.h", "m2.o", "m2.h", "host.c", "host"};
  for (int i = 0; i < 6; i++) {
    char *j = kiln_fmt("%s/%s", dir, junk[i]);
    unlink(j);
    free(j);
  }
  free(src), free(o1), free(o2);
  kiln_program_free(p);
}

/* Failures leave neither the library nor the header (nor temporaries) behind. */
static void test_aot_failures(const char *dir) {
  kiln_program *p = make_program(16, 1.0f);
  kiln_error err = {0};
  char *path = kiln_fmt("%s/bad.so", dir);
  CHECK(kiln_aot_write(p, NULL, path, "1bad", &err) == KILN_ERR_INVALID_ARGUMENT);
  err = (kiln_error){0};
  CHECK(kiln_aot_write(p, NULL, path, "a-b", &err) == KILN_ERR_INVALID_ARGUMENT);
  err = (kiln_error){0};
  char *missing = kiln_fmt("%s/no/such/dir/m.so", dir);
  CHECK(kiln_aot_write(p, NULL, missing, "m", &err) != KILN_OK);
  CHECK(strstr(err.message, "no/such/dir") != NULL);
  /* A linker that cannot be found: the object was already written, then cleaned up. */
  char *old_path = kiln_xstrdup(getenv("PATH") ? getenv("PATH") : "");
  setenv("PATH", "/nonexistent", 1);
  err = (kiln_error){0};
  CHECK(kiln_aot_write(p, NULL, path, "m", &err) == KILN_ERR_CODEGEN);
  setenv("PATH", old_path, 1);
  CHECK(check_count_files(dir) == 0);
  /* An emitter failure after the temporaries exist. */
  p->main.steps[0].kernel->stages[0].sched.nloops = 0;
  err = (kiln_error){0};
  CHECK(kiln_aot_write(p, NULL, path, "m", &err) != KILN_OK);
  CHECK(check_count_files(dir) == 0);
  free(old_path), free(missing), free(path);
  kiln_program_free(p);
}

int main(void) {
  test_jit();
  char tmpl[] = "/tmp/kiln_aot_XXXXXX";
  char *dir = mkdtemp(tmpl);
  CHECK(dir != NULL);
  if (dir) {
    test_aot_shared(dir);
    test_aot_object(dir);
    CHECK(check_count_files(dir) == 0);
    test_aot_failures(dir);
    rmdir(dir);
  }
  return check_report();
}
