/* Out of memory inside the library (ir/util.h): with fault injection making the n-th
 * allocation fail, for n spread over every allocation a JIT compile and an AOT compile make, the public call returns KILN_ERR_OUT_OF_MEMORY (no model, no file left in the
 * output folder), nothing is written to stderr, and the library works normally afterwards
 * (a run allocates nothing of this kind: its arena's failure is an ordinary error).
 * What a failed call had allocated stays allocated (kiln.h says so): LeakSanitizer is told
 * to ignore those calls' allocations when the suite runs under ASan. */
#include "check.h"

#include "ir/util.h"
#include "kiln.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void __lsan_disable(void) __attribute__((weak));
void __lsan_enable(void) __attribute__((weak));

static const char *text = "model m(x: f32[2, 8]) {\n"
                          "  param w: f32[8, 4] = normal(0, 0.5)\n"
                          "  return y = Relu(MatMul(x, w))\n}\n";

static kiln_status compile(kiln_model **m, kiln_error *err) {
  return kiln_compile_buffer(text, strlen(text), NULL, m, err);
}

/* How many allocations f makes, and then f with the n-th failing for n at `samples`
 * points spread over them (every one when there are fewer; the first and the last
 * included); each must fail as out of memory and pass check. */
typedef kiln_status (*call_fn)(kiln_model **m, kiln_error *err);
static void sweep(const char *what, call_fn f, int samples, void (*check)(kiln_model *m)) {
  kiln_model *m = NULL;
  kiln_error err;
  kiln_alloc_countdown(LONG_MAX);
  CHECK(f(&m, &err) == KILN_OK);
  long used = LONG_MAX - kiln_alloc_countdown(0);
  kiln_model_free(m);
  printf("%s: %ld allocations\n", what, used);
  if (samples > used) samples = (int)used;
  for (int i = 0; i < samples; i++) {
    long n = 1 + (long)((double)(used - 1) * i / (samples > 1 ? samples - 1 : 1));
    m = NULL;
    if (__lsan_disable) __lsan_disable();
    kiln_alloc_countdown(n);
    kiln_status st = f(&m, &err);
    kiln_alloc_countdown(0);
    if (__lsan_enable) __lsan_enable();
    if (st != KILN_ERR_OUT_OF_MEMORY) printf("%s: allocation %ld of %ld: status %d\n", what, n, used, st);
    CHECK(st == KILN_ERR_OUT_OF_MEMORY && err.code == KILN_ERR_OUT_OF_MEMORY);
    CHECK(strstr(err.message, "out of memory") != NULL);
    check(m);
  }
}

static void no_model(kiln_model *m) { CHECK(m == NULL); }

static char aot_dir[] = "/tmp/kiln_unit_oom_XXXXXX";

static kiln_status compile_aot(kiln_model **m, kiln_error *err) {
  *m = NULL;
  char path[sizeof aot_dir + 16];
  snprintf(path, sizeof path, "%s/libm.so", aot_dir);
  kiln_status st = kiln_compile_aot("../examples/demo.onnx", NULL, path, "m", err);
  if (!st) { /* the counting run: leave the folder empty again */
    unlink(path);
    snprintf(path, sizeof path, "%s/m.h", aot_dir);
    unlink(path);
  }
  return st;
}

static void nothing_written(kiln_model *m) {
  (void)m;
  CHECK(check_count_files(aot_dir) == 0);
}

int main(void) {
  kiln_model *m = NULL;
  kiln_error err;
  CHECK(compile(&m, &err) == KILN_OK); /* once-per-process setup out of the way */
  kiln_model_free(m);
  CHECK(mkdtemp(aot_dir) != NULL);

  fflush(stderr);
  char log[] = "/tmp/kiln_unit_oom_stderr_XXXXXX";
  int fd = mkstemp(log), saved = dup(2);
  CHECK(fd >= 0 && saved >= 0 && dup2(fd, 2) == 2);

  sweep("compile", compile, 1000, no_model);
  sweep("compile_aot", compile_aot, 40, nothing_written);

  fflush(stderr);
  dup2(saved, 2);
  struct stat st;
  CHECK(fstat(fd, &st) == 0 && st.st_size == 0); /* the library printed nothing */
  close(fd);
  unlink(log);
  rmdir(aot_dir);

  /* afterwards everything works as before */
  CHECK(compile(&m, &err) == KILN_OK);
  float x[16], y[8];
  for (int i = 0; i < 16; i++) x[i] = (float)i / 8 - 1;
  const void *in[] = {x};
  void *out[] = {y};
  CHECK(m && kiln_run(m, in, out, &err) == KILN_OK);
  for (int i = 0; i < 8; i++) CHECK(y[i] >= 0);
  kiln_model_free(m);
  return check_report();
}
