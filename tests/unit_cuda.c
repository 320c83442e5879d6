/* The GPU backend's pieces that the conformance and model suites do not reach: the
 * legality of block and thread loops (ir/kernel.c) and their recipe steps, the default GPU
 * schedules' use of them, the targets' errors (unknown, AOT of cuda-host; the "cuda" JIT is
 * unit_cuda_run's), the
 * CUDA C source as `kiln dump --cuda` prints it (a function per stage, stopping after a
 * failed check), and NVRTC's
 * answers to bad source and bad architectures (when libnvrtc can be loaded). */
#include "check.h"

#include "codegen/cuda_emit.h"
#include "codegen/nvrtc.h"
#include "include/kiln.h"
#include "ir/schedule.h"
#include "runtime/profile.h"

#include <stdlib.h>
#include <string.h>

#define MLP "../examples/mlp.kiln"

static void legality(void) {
  kiln_kernel *k = kiln_kernel_new("k");
  int64_t dims[2] = {8, 300};
  int out = kiln_kernel_add_buffer(k, "y", KILN_BUF_OUTPUT, 0, KILN_F32, 2, dims);
  kiln_stage *s = kiln_kernel_add_stage(k, "s", out);
  int i = kiln_stage_axis(s, 8, false), j = kiln_stage_axis(s, 300, false);
  kiln_stage_axis(s, 5, true);
  s->reduce = KR_SUM;
  kiln_expr *idx[2] = {kx_var(k, i), kx_var(k, j)};
  kiln_stage_store(k, s, idx, kx_const_f(k, KILN_F32, 1));
  kiln_error err = {0};
  kiln_recipe r;
  /* blocks over rows and column tiles, 100 threads along the columns */
  CHECK(kiln_recipe_parse("split(1,100) move(1,0) block(1) thread(2)", &r, &err) == KILN_OK);
  CHECK(kiln_schedule_apply(s, &r, &err) == KILN_OK);
  int64_t grid = 0, threads = 0;
  kiln_cuda_launch_size(s, &grid, &threads);
  CHECK(grid == 24 && threads == 100);
  CHECK(s->sched.loops[2].kind == KILN_LOOP_THREAD && s->sched.loops[3].kind == KILN_LOOP_SERIAL);
  /* print and parse agree on the new steps */
  char *text = kiln_recipe_text(&s->recipe);
  CHECK(text && !strcmp(text, "split(1,100) move(1,0) block(1) thread(2)"));
  free(text);
  /* refused: a reduction on threads, threads before blocks, blocks after a serial loop,
   * more than 1024 threads */
  static const char *const bad[] = {"thread(2)", "thread(0) block(1) thread(0)",
                                    "block(0) thread(2)", "thread(0) thread(1)"};
  for (size_t b = 0; b < sizeof bad / sizeof *bad; b++) {
    kiln_error e = {0};
    CHECK(kiln_recipe_parse(bad[b], &r, &e) == KILN_OK);
    CHECK(kiln_schedule_apply(s, &r, &e) == KILN_ERR_INVALID_ARGUMENT);
    CHECK(strstr(e.message, "stage 's'") != NULL);
  }
  kiln_schedule sc = s->sched; /* a block loop after a serial one, set by hand */
  s->sched.nloops = 3;
  s->sched.loops[0] = (kiln_loop){i, 1, 8, KILN_LOOP_SERIAL};
  s->sched.loops[1] = (kiln_loop){j, 1, 300, KILN_LOOP_BLOCK};
  s->sched.loops[2] = (kiln_loop){2, 1, 5, KILN_LOOP_SERIAL};
  CHECK(kiln_schedule_check(s, &err) == KILN_ERR_INTERNAL);
  s->sched = sc;
  kiln_kernel_free(k);
}

/* The CUDA C of a program, as `kiln dump --cuda` prints it. */
static char *source(const kiln_program *p) {
  char *text = NULL;
  size_t len = 0;
  kiln_error err = {0};
  FILE *mem = open_memstream(&text, &len);
  CHECK(kiln_cuda_emit_program(p, mem, &err) == KILN_OK);
  fclose(mem);
  return text;
}

/* Every stage of the mlp gets blocks and threads; its source has one function per stage. */
static void default_schedules(void) {
  kiln_options opts;
  kiln_options_init(&opts);
  opts.target = "cuda-host";
  kiln_shape_binding x = {"x", 2, {64, 784}};
  opts.shapes = &x;
  opts.nshapes = 1;
  kiln_program *p = NULL;
  kiln_error err = {0};
  CHECK(kiln_program_from_file(MLP, &opts, NULL, &p, &err) == KILN_OK);
  if (!p) return;
  const kiln_kernel *ks[64];
  int n = kiln_steps_kernels(&p->main, ks, 64), stages = 0;
  for (int i = 0; i < n && i < 64; i++)
    for (int j = 0; j < ks[i]->nstages; j++, stages++) {
      int64_t grid, threads;
      kiln_cuda_launch_size(&ks[i]->stages[j], &grid, &threads);
      CHECK(threads >= 32 && threads <= KILN_MAX_BLOCK_THREADS && grid >= 1);
    }
  char *text = source(p);
  int fns = 0;
  for (const char *q = text; (q = strstr(q, "KILN_GLOBAL(")); q++) fns++;
  for (const char *q = text; (q = strstr(q, "KILN_GLOBAL_OCC(")); q++) fns++;
  CHECK(stages > 0 && fns == stages + 2); /* + the macros' definitions in the prelude */
  CHECK(strstr(text, "extern \"C\" __global__") != NULL);
  CHECK(strstr(text, "#if defined(KILN_CUDA_HOST) || defined(KILN_CUDA_DRIVER)\n"
                     "KILN_ENTRY int " KILN_CUDA_ENTRY) != NULL);
  free(text);
  kiln_program_free(p);
}

/* Nothing runs after a failed index check: every function of a kernel that checks returns at
 * its start when an earlier launch failed one, as the CPU backend's kernels do. */
static void check_stop(void) {
  const char *path = "/tmp/kiln-unit-cuda-check.kiln";
  FILE *f = fopen(path, "w");
  CHECK(f != NULL);
  if (!f) return;
  fputs("model g(x: f32[64, 32], i: i64[16]) {\n"
        "  return y = Exp(Gather(x, i, axis=0))\n"
        "}\n", f);
  fclose(f);
  kiln_options opts;
  kiln_options_init(&opts);
  opts.target = "cuda-host";
  kiln_program *p = NULL;
  kiln_error err = {0};
  CHECK(kiln_program_from_file(path, &opts, NULL, &p, &err) == KILN_OK);
  remove(path);
  if (!p) return;
  char *text = source(p);
  int fns = 0, checked = 0;
  for (const char *q = text; (q = strstr(q, ") kiln_k")); q++) {
    const char *body = strstr(q, ") {\n"), *next = strstr(q + 1, ") kiln_k");
    const char *fail = strstr(q, "kiln_check_fail(b");
    fns++;
    if (!body || !fail || (next && fail > next)) continue;
    checked++;
    CHECK(!strncmp(body + 4, "  KILN_CHECK_STOP(b", 19));
  }
  CHECK(fns > 0 && checked > 0);
  free(text);
  kiln_program_free(p);
}

static void targets(void) {
  kiln_options opts;
  kiln_options_init(&opts);
  kiln_shape_binding x = {"x", 2, {1, 784}};
  opts.shapes = &x;
  opts.nshapes = 1;
  kiln_model *m = NULL;
  kiln_error err = {0};
  opts.target = "tpu";
  CHECK(kiln_compile_file(MLP, &opts, &m, &err) == KILN_ERR_INVALID_ARGUMENT && !m);
  CHECK(strstr(err.message, "'tpu'") != NULL);
  opts.target = "cuda-host";
  CHECK(kiln_compile_aot(MLP, &opts, "/tmp/kiln-unit-cuda.so", "m", &err) == KILN_ERR_UNSUPPORTED);
  opts.profile = 1;
  CHECK(kiln_compile_file(MLP, &opts, &m, &err) == KILN_ERR_UNSUPPORTED && !m);
}

static void nvrtc(void) {
  kiln_error err = {0};
  kiln_nvrtc_output out;
  if (kiln_nvrtc_load(&err)) { /* no CUDA toolkit: the error says so */
    CHECK(err.code == KILN_ERR_UNSUPPORTED && strstr(err.message, "libnvrtc") != NULL);
    CHECK(kiln_nvrtc_compile("", "sm_90", &out, &err) == KILN_ERR_UNSUPPORTED);
    return;
  }
  const char *good = "extern \"C\" __global__ void f(float *x) { x[threadIdx.x] *= 2.0f; }\n";
  CHECK(kiln_nvrtc_compile(good, "sm_90", &out, &err) == KILN_OK);
  CHECK(out.cubin && out.cubin_size > 0 && out.ptx && strstr(out.ptx, ".visible .entry f"));
  kiln_nvrtc_output_free(&out);
  CHECK(kiln_nvrtc_compile("__global__ void f() { undeclared(); }", NULL, &out, &err) ==
        KILN_ERR_CODEGEN);
  CHECK(strstr(err.message, "undeclared") != NULL && !out.cubin);
  CHECK(kiln_nvrtc_compile(good, "sm9", &out, &err) == KILN_ERR_INVALID_ARGUMENT);
}

int main(void) {
  legality();
  default_schedules();
  check_stop();
  targets();
  nvrtc();
  return check_report();
}
