/* A whole model (from tests/models/gen_models.py) against onnxruntime's outputs.
 *
 *   model_test DIR                      JIT: kiln_compile_file(DIR/model.onnx), kiln_run
 *   model_test DIR --aot [--name NAME]  AOT: `kiln compile` to a temporary .so, dlopen it,
 *                                       call NAME_run (default "model")
 *   model_test DIR --target T           JIT through kiln_options.target T (cuda-host); with
 *                                       --aot, the library `kiln compile --target T` writes
 *                                       (--gpu-arch A given to it)
 *   model_test DIR --nvrtc ARCH         compile only: the GPU backend's CUDA C compiled by
 *                                       NVRTC for ARCH (exit 77 without libnvrtc)
 *
 * Passes when every output element has |got - want| <= 1e-4 + 1e-3 |want|; prints the
 * largest absolute and relative errors and the compile and run times either way.
 */
#include "codegen/cuda.h"
#include "codegen/nvrtc.h"
#include "ir/dtype.h"
#include "node_test.h"
#include "runtime/profile.h"

#include <ctype.h>
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef KILN_CLI
#error "KILN_CLI (path of the kiln command) must be defined"
#endif

#define RTOL 1e-3
#define ATOL 1e-4

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

/* Compares one output; 1 when within tolerance (integers and bools: equal). */
static int compare(const char *name, const kiln_tensor *want, const void *got) {
  int64_t n = kiln_shape_numel(want->rank, want->dims), worst = -1;
  bool exact = !kiln_dtype_is_float(want->dtype);
  double max_abs = 0, max_rel = 0;
  int64_t bad = 0;
  for (int64_t i = 0; i < n; i++) {
    double a = kiln_load_f64(want->dtype, got, i), b = kiln_load_f64(want->dtype, want->data, i);
    double diff = fabs(a - b);
    if (!(diff <= (exact ? 0 : ATOL + RTOL * fabs(b)))) {
      if (!bad++) worst = i;
    }
    if (!(diff <= max_abs)) max_abs = diff;  /* NaN propagates */
    if (fabs(b) > ATOL && !(diff / fabs(b) <= max_rel)) max_rel = diff / fabs(b);
  }
  printf("output '%s': %lld elements, max abs error %.3g, max rel error %.3g (|want| > %g)\n",
         name, (long long)n, max_abs, max_rel, ATOL);
  if (bad)
    printf("  %lld elements out of tolerance; first at %lld: got %.9g, want %.9g\n",
           (long long)bad, (long long)worst, kiln_load_f64(want->dtype, got, worst),
           kiln_load_f64(want->dtype, want->data, worst));
  return !bad;
}

static size_t tensor_bytes(const kiln_tensor *t) {
  return (size_t)kiln_shape_numel(t->rank, t->dims) * kiln_dtype_size(t->dtype);
}

static int run_jit(const node_test *t, const char *dir, const char *target, void **out) {
  char path[1200];
  snprintf(path, sizeof path, "%s/model.onnx", dir);
  kiln_model *m;
  kiln_error err;
  double t0 = now();
  kiln_options opts;
  kiln_options_init(&opts);
  opts.target = target;
  if (kiln_compile_file(path, &opts, &m, &err)) {
    printf("compile: %s: %s\n", kiln_status_name(err.code), err.message);
    return 0;
  }
  double t1 = now();
  int ok = kiln_num_inputs(m) == t->ninputs && kiln_num_outputs(m) == t->noutputs;
  const void *in[NODE_TEST_MAX_IO];
  for (int i = 0; i < t->ninputs && ok; i++) {
    kiln_tensor_info info;
    kiln_input_info(m, i, &info);
    in[i] = t->inputs[i].data;
    ok = info.bytes == tensor_bytes(&t->inputs[i]);
  }
  for (int i = 0; i < t->noutputs && ok; i++) {
    kiln_tensor_info info;
    kiln_output_info(m, i, &info);
    ok = info.bytes == tensor_bytes(&t->outputs[i]);
  }
  if (!ok) printf("the compiled model's inputs/outputs do not match the test data\n");
  else if (kiln_run(m, in, out, &err)) {
    printf("run: %s: %s\n", kiln_status_name(err.code), err.message);
    ok = 0;
  }
  printf("jit: compile %.2f s, first run %.1f ms\n", t1 - t0, 1e3 * (now() - t1));
  kiln_model_free(m);
  return ok;
}

/* The generated entry takes the inputs, the outputs and a workspace (NULL: allocated
 * inside), all pointers: called through a prototype of the right arity. */
typedef int (*entry3)(void *, void *, void *);
typedef int (*entry4)(void *, void *, void *, void *);
typedef int (*entry5)(void *, void *, void *, void *, void *);
typedef int (*entry6)(void *, void *, void *, void *, void *, void *);
typedef int (*entry7)(void *, void *, void *, void *, void *, void *, void *);
typedef int (*entry8)(void *, void *, void *, void *, void *, void *, void *, void *);

static int call_entry(void *fn, void **args, int nargs) {
  switch (nargs) {
  case 3: return ((entry3)fn)(args[0], args[1], args[2]);
  case 4: return ((entry4)fn)(args[0], args[1], args[2], args[3]);
  case 5: return ((entry5)fn)(args[0], args[1], args[2], args[3], args[4]);
  case 6: return ((entry6)fn)(args[0], args[1], args[2], args[3], args[4], args[5]);
  case 7: return ((entry7)fn)(args[0], args[1], args[2], args[3], args[4], args[5], args[6]);
  case 8: return ((entry8)fn)(args[0], args[1], args[2], args[3], args[4], args[5], args[6], args[7]);
  }
  printf("entry with %d arguments is beyond this test\n", nargs);
  return -1;
}

/* The value of `#define <NAME>_<key> <number>` in the generated header, or -1. */
static long long header_macro(const char *text, const char *name, const char *key) {
  char pattern[300];
  int n = snprintf(pattern, sizeof pattern, "#define ");
  for (const char *c = name; *c && n < 200; c++) pattern[n++] = (char)toupper((unsigned char)*c);
  snprintf(pattern + n, sizeof pattern - n, "_%s ", key);
  const char *at = strstr(text, pattern);
  return at ? strtoll(at + strlen(pattern), NULL, 10) : -1;
}

/* The header's counts and sizes must describe the test data. */
static int check_header(const node_test *t, const char *path, const char *name,
                        long long *workspace) {
  void *text;
  size_t size;
  kiln_error err;
  if (kiln_read_file(path, &text, &size, &err)) return printf("%s\n", err.message), 0;
  char *s = realloc(text, size + 1);
  s[size] = 0;
  int ok = header_macro(s, name, "NUM_INPUTS") == t->ninputs &&
           header_macro(s, name, "NUM_OUTPUTS") == t->noutputs;
  for (int io = 0; io < 2 && ok; io++)
    for (int i = 0; i < (io ? t->noutputs : t->ninputs) && ok; i++) {
      char key[64];
      snprintf(key, sizeof key, "%s_%d_BYTES", io ? "OUTPUT" : "INPUT", i);
      ok = header_macro(s, name, key) == (long long)tensor_bytes(io ? &t->outputs[i] : &t->inputs[i]);
    }
  *workspace = header_macro(s, name, "WORKSPACE_BYTES");
  free(s);
  if (!ok || *workspace < 0) printf("%s: counts or sizes do not match the test data\n", path);
  return ok && *workspace >= 0;
}

static const char *gpu_arch; /* --gpu-arch: given to `kiln compile` */

static int run_aot(const node_test *t, const char *dir, const char *name, const char *target,
                   void **out) {
  char tmp[] = "/tmp/kiln_model_test_XXXXXX", so[1200], model[1200], header[1200];
  if (!mkdtemp(tmp)) return printf("mkdtemp failed\n"), 0;
  snprintf(so, sizeof so, "%s/%s.so", tmp, name);
  snprintf(header, sizeof header, "%s/%s.h", tmp, name);
  snprintf(model, sizeof model, "%s/model.onnx", dir);
  double t0 = now();
  int ok = 0;
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    if (target && gpu_arch)
      execl(KILN_CLI, KILN_CLI, "compile", model, "-o", so, "--name", name, "--target", target,
            "--gpu-arch", gpu_arch, (char *)NULL);
    else if (target)
      execl(KILN_CLI, KILN_CLI, "compile", model, "-o", so, "--name", name, "--target", target,
            (char *)NULL);
    else
      execl(KILN_CLI, KILN_CLI, "compile", model, "-o", so, "--name", name, (char *)NULL);
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  double t1 = now();
  void *lib = NULL;
  if (!WIFEXITED(status) || WEXITSTATUS(status)) {
    printf("`%s compile` failed (status %d)\n", KILN_CLI, status);
    goto done;
  }
  long long ws_bytes;
  if (!check_header(t, header, name, &ws_bytes)) goto done;
  lib = dlopen(so, RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    printf("dlopen: %s\n", dlerror());
    goto done;
  }
  char sym[256];
  snprintf(sym, sizeof sym, "%s_run", name);
  void *fn = dlsym(lib, sym);
  if (!fn) {
    printf("dlsym %s: %s\n", sym, dlerror());
    goto done;
  }
  void *args[2 * NODE_TEST_MAX_IO + 1];
  int nargs = 0;
  for (int i = 0; i < t->ninputs; i++) args[nargs++] = t->inputs[i].data;
  for (int i = 0; i < t->noutputs; i++) args[nargs++] = out[i];
  args[nargs++] = NULL;
  double t2 = now();
  int rc = call_entry(fn, args, nargs);
  printf("aot: kiln compile %.2f s, first run %.1f ms\n", t1 - t0, 1e3 * (now() - t2));
  if (rc) printf("%s returned %d\n", sym, rc);
  ok = rc == 0;
  /* Again into a caller's workspace: the outputs must not change. */
  void *first[NODE_TEST_MAX_IO] = {0}, *ws = aligned_alloc(64, ((size_t)ws_bytes + 127) / 64 * 64);
  for (int i = 0; i < t->noutputs && ok; i++) {
    size_t bytes = tensor_bytes(&t->outputs[i]);
    first[i] = malloc(bytes ? bytes : 1);
    memcpy(first[i], out[i], bytes);
    memset(out[i], 0xff, bytes);
  }
  args[nargs - 1] = ws;
  if (ok && (rc = call_entry(fn, args, nargs))) printf("%s with a workspace returned %d\n", sym, rc);
  ok &= rc == 0;
  for (int i = 0; i < t->noutputs && ok; i++)
    if (memcmp(first[i], out[i], tensor_bytes(&t->outputs[i]))) {
      printf("output %d differs when run with a caller's workspace\n", i);
      ok = 0;
    }
  for (int i = 0; i < t->noutputs; i++) free(first[i]);
  free(ws);
done:
  if (lib) dlclose(lib);
  unlink(so);
  unlink(header);
  rmdir(tmp);
  return ok;
}

/* The program as the GPU targets compile it, its CUDA C through NVRTC for arch. */
static int nvrtc_only(const char *dir, const char *arch) {
  kiln_error err;
  if (kiln_nvrtc_load(&err)) return printf("SKIPPED: %s\n", err.message), 77;
  char path[1200];
  snprintf(path, sizeof path, "%s/model.onnx", dir);
  kiln_options opts;
  kiln_options_init(&opts);
  opts.target = "cuda-host"; /* the schedules of "cuda", without its need of a driver */
  kiln_program *p = NULL;
  char *text = NULL;
  size_t len = 0;
  double t0 = now();
  kiln_status st = kiln_program_from_file(path, &opts, NULL, &p, &err);
  FILE *mem = st ? NULL : open_memstream(&text, &len);
  if (mem) {
    st = kiln_cuda_emit_program(p, mem, &err);
    fclose(mem);
  }
  double t1 = now();
  kiln_nvrtc_output out = {0};
  if (!st) st = kiln_nvrtc_compile(text, arch, &out, &err);
  if (!st)
    printf("NVRTC %s: %zu bytes of CUDA C -> %zu bytes of cubin, %zu of PTX; emit %.2f s, "
           "NVRTC %.2f s\n", arch, len, out.cubin_size, out.ptx_size, t1 - t0, now() - t1);
  else
    printf("%s: %s\n", kiln_status_name(st), err.message);
  kiln_nvrtc_output_free(&out);
  free(text);
  kiln_program_free(p);
  printf("%s %s (nvrtc)\n", st ? "FAIL" : "PASS", dir);
  return st ? 1 : 0;
}

int main(int argc, char **argv) {
  const char *dir = NULL, *name = "model", *target = NULL, *arch = NULL;
  int aot = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--aot")) aot = 1;
    else if (!strcmp(argv[i], "--name") && i + 1 < argc) name = argv[++i];
    else if (!strcmp(argv[i], "--target") && i + 1 < argc) target = argv[++i];
    else if (!strcmp(argv[i], "--nvrtc") && i + 1 < argc) arch = argv[++i];
    else if (!strcmp(argv[i], "--gpu-arch") && i + 1 < argc) gpu_arch = argv[++i];
    else if (!dir && argv[i][0] != '-') dir = argv[i];
    else dir = NULL, i = argc;
  }
  if (!dir) {
    fprintf(stderr, "usage: model_test DIR [--aot] [--name NAME] [--target T] [--gpu-arch A] "
                    "[--nvrtc ARCH]\n");
    return 2;
  }
  if (arch) return nvrtc_only(dir, arch);
  node_test t;
  kiln_error err;
  if (node_test_load(&t, dir, &err)) {
    printf("loading %s: %s\n", dir, err.message);
    return 1;
  }
  void *out[NODE_TEST_MAX_IO] = {0};
  for (int i = 0; i < t.noutputs; i++) {
    size_t bytes = tensor_bytes(&t.outputs[i]);
    out[i] = malloc(bytes ? bytes : 1);
    memset(out[i], 0xff, bytes);  /* NaN: an output never written cannot pass */
  }
  int ok = aot ? run_aot(&t, dir, name, target, out) : run_jit(&t, dir, target, out);
  int match = ok;
  for (int i = 0; i < t.noutputs && ok; i++)
    match &= compare(t.output_names[i], &t.outputs[i], out[i]);
  for (int i = 0; i < t.noutputs; i++) free(out[i]);
  node_test_free(&t);
  printf("%s %s (%s)\n", match ? "PASS" : "FAIL", dir, aot ? "aot" : target ? target : "jit");
  return match ? 0 : 1;
}
