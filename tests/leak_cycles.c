/* Compile -> run -> free, over and over, must not grow memory:
 *   leak_cycles [JIT_CYCLES [AOT_CYCLES]]   (defaults 1000 and 1000)
 * JIT cycles compile an in-memory model and run it with kiln_run; AOT cycles write a
 * shared library with kiln_compile_aot, dlopen it, run <name>_run and dlclose it. Resident
 * memory is sampled after the first tenth of the cycles (allocator pools and LLVM's
 * one-time state have settled) and at the end; growth beyond a small allowance fails.
 * Under AddressSanitizer RSS says nothing (quarantine): LeakSanitizer checks at exit. */
#include "kiln.h"
#include "tests/check.h"
#include "tests/fuzz/pb_write.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

#define N 256
#define ALLOWED_GROWTH_KB 4096 /* malloc arenas and page-granular noise */

static long rss_kb(void) {
  long pages = 0, resident = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (!f) return -1;
  if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = -1;
  fclose(f);
  return resident < 0 ? -1 : resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* y = relu(x + c) * c: a constant, an arena intermediate and two kernels */
static pb_buf model_bytes(void) {
  pb_buf g = {0};
  int64_t n = N;
  float c[N];
  for (int i = 0; i < N; i++) c[i] = (float)(i % 7) - 3.0f;
  onnx_input(&g, "x", 1, &n);
  onnx_initializer(&g, "c", 1, 1, &n, c, sizeof c);
  onnx_node(&g, "Add", "x", "c", "s");
  onnx_node(&g, "Relu", "s", NULL, "r");
  onnx_node(&g, "Mul", "r", "c", "y");
  onnx_output(&g, "y", 1, &n);
  return onnx_model(&g);
}

static int check_output(const float *x, const float *y) {
  for (int i = 0; i < N; i++) {
    float c = (float)(i % 7) - 3.0f, s = x[i] + c;
    if (y[i] != (s > 0 ? s : 0) * c) return 0;
  }
  return 1;
}

typedef int (*cycle_fn)(void *ctx, const float *x, float *y);

static int jit_cycle(void *ctx, const float *x, float *y) {
  const pb_buf *b = ctx;
  kiln_model *m = NULL;
  kiln_error err;
  const void *ins[1] = {x};
  void *outs[1] = {y};
  int ok = kiln_compile_buffer(b->d, b->n, NULL, &m, &err) == KILN_OK &&
           kiln_run(m, ins, outs, &err) == KILN_OK;
  kiln_model_free(m);
  return ok;
}

typedef struct aot_ctx {
  const char *model, *so;
} aot_ctx;

static int aot_cycle(void *ctx, const float *x, float *y) {
  const aot_ctx *a = ctx;
  kiln_error err;
  if (kiln_compile_aot(a->model, NULL, a->so, "leak", &err) != KILN_OK) return 0;
  void *h = dlopen(a->so, RTLD_NOW | RTLD_LOCAL);
  if (!h) return 0;
  int (*run)(const float *, float *, void *) =
      (int (*)(const float *, float *, void *))dlsym(h, "leak_run");
  int ok = run && run(x, y, NULL) == 0;
  return dlclose(h) == 0 && ok;
}

static void cycles(const char *what, cycle_fn fn, void *ctx, int n) {
  float x[N], y[N];
  long base = -1;
  int failures = 0;
  for (int i = 0; i < n; i++) {
    for (int j = 0; j < N; j++) x[j] = (float)((i + j) % 11) - 5.0f;
    if (!fn(ctx, x, y) || !check_output(x, y)) failures++;
    if (i + 1 == (n + 9) / 10) base = rss_kb();
  }
  long end = rss_kb();
  printf("%s: %d cycles, %d failures, RSS %ld kB after %d cycles, %ld kB at the end (%+ld kB)\n",
         what, n, failures, base, (n + 9) / 10, end, end - base);
  CHECK(failures == 0);
#ifndef UNDER_ASAN
  CHECK(base > 0 && end - base <= ALLOWED_GROWTH_KB);
#endif
}

int main(int argc, char **argv) {
  int jit_n = argc > 1 ? atoi(argv[1]) : 1000, aot_n = argc > 2 ? atoi(argv[2]) : jit_n;
  pb_buf model = model_bytes();
  cycles("JIT", jit_cycle, &model, jit_n);

  char dir[] = "/tmp/kiln_leak_XXXXXX", path[600], so[600];
  CHECK(mkdtemp(dir) != NULL);
  snprintf(path, sizeof path, "%s/leak.onnx", dir);
  snprintf(so, sizeof so, "%s/leak.so", dir);
  FILE *f = fopen(path, "wb");
  CHECK(f && fwrite(model.d, 1, model.n, f) == model.n);
  if (f) fclose(f);
  aot_ctx a = {path, so};
  cycles("AOT", aot_cycle, &a, aot_n);
  unlink(path);
  unlink(so);
  snprintf(path, sizeof path, "%s/leak.h", dir);
  unlink(path);
  rmdir(dir);
  free(model.d);
  return check_report();
}
