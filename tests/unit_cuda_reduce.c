/* GPU schedules that use the GPU (issue 9): 32-bit index arithmetic, decided per kernel
 * (codegen/cuda_index.c), and reductions shared by the threads of a block
 * (codegen/cuda_reduce.c: warp shuffles, a barrier and shared memory), chosen by the
 * default GPU scheduler for few long rows (passes/schedule_gpu.c) and accepted or refused
 * by the one legality check (ir/kernel.c). Kernels run through the cuda-host backend (the
 * CUDA C on the CPU, one phase of the block's threads after another) and must compute
 * what the interpreter computes from the same inputs; with libnvrtc, NVRTC compiles the
 * source for sm_90 too. */
#include "check.h"
#include "cuda_test.h"
#include "node_test.h"

#include "codegen/cuda_emit.h"
#include "codegen/nvrtc.h"
#include "frontend/dsl.h"
#include "ir/dtype.h"
#include "ir/interp.h"
#include "ir/schedule.h"
#include "passes/passes.h"
#include "runtime/check.h"
#include "runtime/kernel_run.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static bool have_nvrtc;

static kiln_program *compile_text(const char *text, const kiln_options *opts) {
  kiln_program *p = cuda_test_compile(text, opts);
  CHECK(p != NULL);
  return p;
}

static char *source(const kiln_program *p) {
  char *text = cuda_test_source(p);
  CHECK(text != NULL);
  return text;
}

/* NVRTC compiles the source for sm_90 (when it can be loaded). */
static void nvrtc_compiles(const char *text) {
  if (have_nvrtc && text) CHECK(cuda_test_nvrtc(text));
}

static int shared_stages(const kiln_program *p) {
  const kiln_kernel *ks[64];
  int n = kiln_steps_kernels(&p->main, ks, 64), shared = 0;
  for (int i = 0; i < n && i < 64; i++)
    for (int j = 0; j < ks[i]->nstages; j++) shared += kiln_cuda_cross_thread(&ks[i]->stages[j]);
  return shared;
}

/* ---- 32-bit indices ------------------------------------------------------------------ */

static void index32(void) {
  kiln_kernel *k = kiln_kernel_new("k");
  int64_t small[2] = {46341, 46340}, big[2] = {46341, 46341}; /* 2^31 - 1 lies between */
  int in = kiln_kernel_add_buffer(k, "x", KILN_BUF_INPUT, 0, KILN_F32, 2, small);
  int out = kiln_kernel_add_buffer(k, "y", KILN_BUF_OUTPUT, 1, KILN_F32, 1, small);
  kiln_stage *s = kiln_kernel_add_stage(k, "sum", out);
  int i = kiln_stage_axis(s, small[0], false), j = kiln_stage_axis(s, small[1], true);
  s->reduce = KR_SUM;
  kiln_expr *idx[2] = {kx_var(k, i), kx_var(k, j)};
  kiln_stage_store(k, s, idx, kx_load(k, in, idx));
  kiln_schedule_default(s);
  CHECK(kiln_cuda_index32(k));
  /* a loop whose variable reaches past int32 though the buffers fit (split by 2^31) */
  kiln_schedule_split(&s->sched, 1, INT64_C(1) << 31);
  CHECK(kiln_schedule_check(s, &(kiln_error){0}) == KILN_OK && !kiln_cuda_index32(k));
  kiln_schedule_default(s);
  k->bufs[in].dims[1] = big[1]; /* x now has 2^31 + 46340 elements */
  CHECK(!kiln_cuda_index32(k));
  kiln_kernel_free(k);

  /* the decision in the source `kiln dump --cuda` prints: an mlp over 2.35e9 inputs
   * (compiled only: too big to run) is 64-bit, a small one 32-bit */
  kiln_options opts = {.struct_size = sizeof opts, .target = "cuda-host"};
  const char *mlp = "model m(x: f32[N, 784]) {\n  param w: f32[784, 16] = he\n"
                    "  return y = Relu(MatMul(x, w))\n}\n";
  kiln_shape_binding n = {"N", 0, {0}};
  opts.shapes = &n;
  opts.nshapes = 1;
  for (int large = 0; large < 2; large++) {
    kiln_shape_binding x = {"x", 2, {large ? 3000000 : 64, 784}};
    opts.shapes = &x;
    kiln_program *p = compile_text(mlp, &opts);
    char *text = p ? source(p) : NULL;
    CHECK(text && strstr(text, large ? "64-bit indices" : "32-bit indices"));
    CHECK(text && !strstr(text, large ? "32-bit indices" : "64-bit indices"));
    CHECK(text && strstr(text, large ? "int64_t l0 = " : "int32_t l0 = "));
    if (large) nvrtc_compiles(text);
    free(text);
    kiln_program_free(p);
  }
}

/* ---- shared reductions ------------------------------------------------------------------ */

/* Every kernel of a model through cuda-host; *shared counts the stages whose threads share
 * reductions. */
static void check_model(const char *text, int *shared, int *checked) {
  kiln_options opts = {.struct_size = sizeof opts, .target = "cuda-host"};
  kiln_program *p = compile_text(text, &opts);
  if (!p) return;
  const kiln_kernel *ks[64];
  int n = kiln_steps_kernels(&p->main, ks, 64);
  for (int i = 0; i < n && i < 64; i++) {
    int ok = cuda_test_kernel(p, (kiln_kernel *)ks[i], 11u + (uint32_t)i);
    if (!ok) fprintf(stderr, "in:\n%s", text);
    CHECK(ok);
    ++*checked;
  }
  *shared += shared_stages(p);
  char *src = source(p);
  nvrtc_compiles(src);
  free(src);
  kiln_program_free(p);
}

static void default_schedules(void) {
  static const int64_t shapes[][2] = {{1, 1}, {1, 31}, {3, 32}, {2, 33}, {5, 1000}, {1, 4097},
                                      {70, 128}, {1, 64}};
  int shared = 0, checked = 0;
  char text[512];
  for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) {
    long long r = shapes[i][0], l = shapes[i][1];
    snprintf(text, sizeof text, "model m(x: f32[%lld, %lld]) {\n"
             "  return y = Softmax(x, axis=1)\n}\n", r, l);
    check_model(text, &shared, &checked);
    snprintf(text, sizeof text, "model m(x: f32[%lld, %lld]) {\n"
             "  param g: f32[%lld] = normal(1, 0.1)\n"
             "  return y = LayerNormalization(x, g, axis=1)\n}\n", r, l, l);
    check_model(text, &shared, &checked);
    snprintf(text, sizeof text, "model m(x: f32[%lld, %lld]) {\n"
             "  return y = ReduceSum(x, [1])\n}\n", r, l);
    check_model(text, &shared, &checked);
    snprintf(text, sizeof text, "model m(x: i32[%lld, %lld]) {\n"
             "  return y = ReduceMax(x, [1])\n}\n", r, l);
    check_model(text, &shared, &checked);
    /* a matrix (stored by rows) times a vector */
    snprintf(text, sizeof text, "model m(x: f32[1, %lld]) {\n  param w: f32[%lld, %lld] = he\n"
             "  return y = Gemm(x, w, transB=1)\n}\n", l, r, l);
    check_model(text, &shared, &checked);
  }
  check_model("model m(x: f32[2, 8, 64, 64]) {\n  return y = GlobalAveragePool(x)\n}\n",
              &shared, &checked);
  check_model("model m(x: f64[3, 2000]) {\n  return y = ReduceMin(x, [1])\n}\n", &shared, &checked);
  check_model("model m(x: f32[1, 4000]) {\n  return y = ReduceProd(x / x, [1])\n}\n", &shared,
              &checked);
  CHECK(checked > 40);
  printf("%d kernels checked, %d stages share reductions\n", checked, shared);
  CHECK(shared >= 15); /* the long rows share: softmax, layer norm, sums, GEMV, pooling */
}

/* A sum over rows of length l with the reduction shared by `share` threads (split l by
 * share, the inner part on threads, the rows on blocks), rpb rows a block (a thread loop
 * over rows; its last block may hold rows past the end, whose threads only join in). */
static void forced(int64_t rows, int64_t l, int64_t share, int rpb, int *checked) {
  char text[256];
  snprintf(text, sizeof text, "model m(x: f32[%lld, %lld]) {\n  return y = ReduceSum(x, [1])\n}\n",
           (long long)rows, (long long)l);
  kiln_options opts = {.struct_size = sizeof opts, .target = "cuda-host"};
  kiln_program *p = compile_text(text, &opts);
  if (!p) return;
  kiln_kernel *k = NULL;
  kiln_steps_kernels(&p->main, (const kiln_kernel **)&k, 1);
  kiln_stage *s = k ? &k->stages[0] : NULL;
  CHECK(s && s->naxes == 2 && s->axes[1].reduce);
  if (!s) return;
  /* loops: rows, l -> rows(block) [rows(thread)] l(threads) l(outer) */
  char recipe[128];
  int n = 0;
  if (rpb > 1) n += snprintf(recipe + n, sizeof recipe - (size_t)n, "split(0,%d) ", rpb);
  int rl = rpb > 1 ? 2 : 1; /* position of the reduction loop */
  if (share < l)
    n += snprintf(recipe + n, sizeof recipe - (size_t)n, "split(%d,%lld) move(%d,%d) ", rl,
                  (long long)share, rl + 1, rl);
  snprintf(recipe + n, sizeof recipe - (size_t)n, "block(0) %sthread(%d)",
           rpb > 1 ? "thread(1) " : "", rl);
  kiln_recipe r;
  kiln_error err = {0};
  CHECK(kiln_recipe_parse(recipe, &r, &err) == KILN_OK);
  if (kiln_schedule_apply(s, &r, &err)) {
    fprintf(stderr, "%s on %lld x %lld: %s\n", recipe, (long long)rows, (long long)l, err.message);
    CHECK(0);
  } else {
    CHECK(kiln_cuda_cross_thread(s));
    int64_t grid, threads;
    kiln_cuda_launch_size(s, &grid, &threads);
    CHECK(threads == share * rpb && grid == (rows + rpb - 1) / rpb);
    int ok = cuda_test_kernel(p, k, 5);
    if (!ok) fprintf(stderr, "%s on %lld x %lld\n", recipe, (long long)rows, (long long)l);
    CHECK(ok);
    ++*checked;
    char *src = source(p);
    /* the shuffles, and past a warp the barrier and shared memory */
    CHECK(src && strstr(src, "#define KILN_SHFL_DOWN(mask, name, off, width) __shfl_down_sync("));
    CHECK(src && strstr(src, "#define KILN_SYNC __syncthreads()"));
    CHECK(src && (share == 1 || strstr(src, "KILN_SHFL_DOWN(")));
    CHECK(src && (share <= 32) == !strstr(src, "KILN_SYNC;"));
    CHECK(src && (share <= 32) == !strstr(src, "KILN_SHARED float kiln_red["));
    /* a short last warp shuffles among its own lanes only */
    CHECK(src && (threads % 32 == 0 || threads < 32 || strstr(src, "(kiln_t | 31) < ")));
    nvrtc_compiles(src);
    free(src);
  }
  kiln_program_free(p);
}

static void forced_schedules(void) {
  int checked = 0;
  static const int64_t shapes[][2] = {{1, 1}, {3, 31}, {1, 32}, {4, 33}, {5, 1000}, {1, 4097}};
  for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++)
    for (int64_t share = shapes[i][1] > 1 ? 2 : 1; share <= 1024 && share <= shapes[i][1];
         share *= 2)
      for (int rpb = 1; rpb <= 3; rpb++)
        if (rpb == 1 || (rpb <= shapes[i][0] && share * rpb <= 1024))
          forced(shapes[i][0], shapes[i][1], share, rpb, &checked);
  CHECK(checked > 60);
}

/* ---- legality ------------------------------------------------------------------------------ */

static void legality(void) {
  kiln_kernel *k = kiln_kernel_new("k");
  int64_t dims[2] = {6, 100};
  int in = kiln_kernel_add_buffer(k, "x", KILN_BUF_INPUT, 0, KILN_F32, 2, dims);
  int out = kiln_kernel_add_buffer(k, "y", KILN_BUF_OUTPUT, 1, KILN_F32, 1, dims);
  kiln_stage *s = kiln_kernel_add_stage(k, "rows", out);
  int i = kiln_stage_axis(s, 6, false), j = kiln_stage_axis(s, 100, true);
  s->reduce = KR_SUM;
  kiln_expr *ld[2] = {kx_var(k, i), kx_var(k, j)}, *st[1] = {kx_var(k, i)};
  kiln_stage_store(k, s, st, kx_load(k, in, ld));
  kiln_error err = {0};
  kiln_recipe r;
  CHECK(kiln_recipe_parse("split(1,64) move(2,1) block(0) thread(1)", &r, &err) == KILN_OK);
  CHECK(kiln_schedule_apply(s, &r, &err) == KILN_OK && kiln_cuda_cross_thread(s));
  static const struct { const char *recipe, *why; } bad[] = {
      /* rows on a serial loop: each group must compute one point */
      {"split(1,64) move(2,1) split(0,2) move(1,3) block(0) thread(1)",
       "spatial loop 3 is no block or thread loop"},
      /* 100 threads share a point: not a power of two */
      {"block(0) thread(1)", "among 100 threads, not a power of two"},
      /* a reduction on blocks */
      {"move(1,0) block(0)", "or is a reduction bound to blocks"},
  };
  for (size_t b = 0; b < sizeof bad / sizeof *bad; b++) {
    kiln_error e = {0};
    CHECK(kiln_recipe_parse(bad[b].recipe, &r, &e) == KILN_OK);
    CHECK(kiln_schedule_apply(s, &r, &e) == KILN_ERR_INVALID_ARGUMENT);
    if (!strstr(e.message, bad[b].why) || !strstr(e.message, "stage 'rows'")) {
      fprintf(stderr, "%s: %s\n", bad[b].recipe, e.message);
      CHECK(0);
    }
  }
  /* the rows' threads after the reduction's, set by hand (no step makes both at once) */
  s->sched.nloops = 4;
  s->sched.loops[0] = (kiln_loop){i, 2, 3, KILN_LOOP_BLOCK};
  s->sched.loops[1] = (kiln_loop){j, 1, 32, KILN_LOOP_THREAD};
  s->sched.loops[2] = (kiln_loop){i, 1, 2, KILN_LOOP_THREAD};
  s->sched.loops[3] = (kiln_loop){j, 32, 4, KILN_LOOP_SERIAL};
  CHECK(kiln_schedule_check(s, &err) == KILN_ERR_INTERNAL);
  CHECK(strstr(err.message, "thread loop 2 over a spatial axis follows thread loops over "
                            "reductions") != NULL);
  kiln_kernel_free(k);
}

int main(void) {
  kiln_error err = {0};
  have_nvrtc = kiln_nvrtc_load(&err) == KILN_OK;
  printf("NVRTC %s\n", have_nvrtc ? "compiles the sources for sm_90" : "not loaded: not compiled");
  legality();
  index32();
  forced_schedules();
  default_schedules();
  return check_report();
}
