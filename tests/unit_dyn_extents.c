/* Run-time extents in the kernel IR (ir/kernel_dyn.c): hand-built kernels with symbolic
 * axes and buffer dims (elementwise over [N, 37], row reductions over a symbolic row, a
 * broadcast add, a MatMul-like stage with a symbolic M or K) are compiled ONCE each, by the
 * CPU backend and by the GPU backend's CUDA C built for the host, and run at several values
 * of their dims (1, one below the vector width, a prime that no split divides, the
 * allocated maximum), under their default nest, the default and GPU schedulers' schedules,
 * blocks over a run-time extent and random legal recipes; every run must compute what the
 * interpreter computes at the same dims (integers exactly, floats within rounding). The
 * legality check must refuse vector, unrolled and thread loops over a run-time extent; the
 * printer shows the syms, the signature tells a symbolic kernel from a static one, the
 * CUDA C reads the dims, check_bounds code tests run-time sizes, and the runner refuses
 * dims its buffers cannot hold. */
#include "check.h"

#include "codegen/cuda.h"
#include "ir/dtype.h"
#include "ir/interp.h"
#include "ir/kernel_sig.h"
#include "ir/program.h"
#include "ir/schedule.h"
#include "passes/instrument.h"
#include "passes/passes.h"
#include "runtime/kernel_run.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAXD 64 /* every sym's largest value, what the runner allocates for */

static uint32_t rng = 20261202;
static int64_t rnd(int64_t lo, int64_t hi) { /* in [lo, hi] */
  rng = rng * 1664525u + 1013904223u;
  return lo + (int64_t)((rng >> 8) % (uint32_t)(hi - lo + 1));
}

static int runs, kept, rejected; /* not vacuous: runs compared, recipe steps kept / refused */

/* Buffer b's dims at the syms' values dims, and its element count. */
static int64_t numel_at(const kiln_buffer *b, const int64_t *dims) {
  int64_t n = 1;
  for (int d = 0; d < b->rank; d++) n *= b->dyn_dims[d] ? kiln_dim_eval(b->dyn_dims[d], dims) : b->dims[d];
  return n;
}

/* Compiles k once (with its current schedules) for target (NULL: the CPU) and runs it at
 * each of nvals dims values (vals[i][0..nsyms)), comparing every output with the
 * interpreter's. */
static void compare_on(kiln_kernel *k, const char *target, const int64_t (*vals)[2], int nvals,
                       const char *what) {
  kiln_program *p = kiln_program_new(); /* no constants: the runner reads none */
  int64_t max[2] = {MAXD, MAXD};
  kiln_kernel_runner *r = NULL;
  kiln_error err = {0};
  kiln_options opts = {.struct_size = sizeof opts, .target = target};
  if (kiln_kernel_runner_new_dims(p, k, &opts, 7, max, &r, &err)) {
    fprintf(stderr, "%s: %s\n", what, err.message);
    CHECK(!"compiles");
    kiln_program_free(p);
    return;
  }
  for (int b = 0; b < k->nbufs; b++) { /* random inputs at the largest dims */
    const kiln_buffer *buf = &k->bufs[b];
    if (buf->role != KILN_BUF_INPUT || b == k->dims_buf) continue;
    void *m = kiln_kernel_runner_buffer(r, b);
    for (int64_t i = 0, n = numel_at(buf, max); i < n; i++) {
      if (kiln_dtype_is_float(buf->dtype)) kiln_store_f64(buf->dtype, m, i, (double)rnd(-1000, 999) / 1000);
      else kiln_store_i64(buf->dtype, m, i, rnd(-50, 50));
    }
  }
  for (int v = 0; v < nvals; v++) {
    CHECK(kiln_kernel_runner_set_dims(r, vals[v], &err) == KILN_OK);
    void *bufs[KILN_MAX_BUFS] = {0}, *mine[KILN_MAX_BUFS] = {0};
    for (int b = 0; b < k->nbufs; b++) {
      const kiln_buffer *buf = &k->bufs[b];
      int64_t bytes = numel_at(buf, max) * (int64_t)kiln_dtype_size(buf->dtype);
      if (buf->role == KILN_BUF_INPUT) {
        bufs[b] = kiln_kernel_runner_buffer(r, b);
      } else {
        /* a point the code leaves out shows: all bits set is NaN or -1 */
        memset(kiln_kernel_runner_buffer(r, b), 0xff, (size_t)bytes);
        if (buf->role == KILN_BUF_OUTPUT) bufs[b] = mine[b] = calloc(1, (size_t)bytes + 8);
      }
    }
    kiln_status rs = kiln_kernel_runner_run(r, &err);
    kiln_status is = kiln_interp_run(k, bufs, &err);
    if (rs || is) fprintf(stderr, "%s: %s\n", what, err.message);
    CHECK(rs == KILN_OK && is == KILN_OK);
    for (int b = 0; b < k->nbufs; b++) {
      if (!mine[b]) continue;
      const kiln_buffer *buf = &k->bufs[b];
      const void *got = kiln_kernel_runner_buffer(r, b);
      int64_t n = numel_at(buf, vals[v]), bad = -1;
      for (int64_t i = 0; i < n && bad < 0; i++) {
        if (kiln_dtype_is_float(buf->dtype)) {
          double x = kiln_load_f64(buf->dtype, got, i), y = kiln_load_f64(buf->dtype, mine[b], i);
          if (!(fabs(x - y) <= 1e-5 + 1e-4 * fabs(y))) bad = i;
        } else if (kiln_load_i64(buf->dtype, got, i) != kiln_load_i64(buf->dtype, mine[b], i)) {
          bad = i;
        }
      }
      if (bad >= 0) {
        fprintf(stderr, "%s on %s at dims %lld,%lld: '%s'[%lld] differs\n", what,
                target ? target : "cpu", (long long)vals[v][0], (long long)vals[v][1], buf->name,
                (long long)bad);
        kiln_kernel_print(k, stderr);
      }
      CHECK(bad < 0);
      free(mine[b]);
    }
    runs++;
  }
  kiln_kernel_runner_free(r);
  kiln_program_free(p);
}

/* On the CPU, and as the GPU backend's CUDA C compiled for the host (codegen/cuda_host.c). */
static void compare_runs(kiln_kernel *k, const int64_t (*vals)[2], int nvals, const char *what) {
  compare_on(k, NULL, vals, nvals, what);
  compare_on(k, "cuda-host", vals, nvals, what);
}

/* 1, below the vector width, a prime no split divides, the maximum; pairs for two syms */
static const int64_t VALS[][2] = {{1, 1}, {3, 61}, {61, 3}, {MAXD, MAXD}, {17, 1}};
#define NVALS (int)(sizeof VALS / sizeof VALS[0])

/* A random recipe for s: steps kept only where kiln_schedule_apply accepts them. */
static void randomize_stage(kiln_stage *s) {
  kiln_recipe r = s->recipe;
  for (int e = (int)rnd(2, 9); e > 0; e--) {
    int nloops = s->sched.nloops;
    kiln_sched_op op = (kiln_sched_op)rnd(0, KS_PREFETCH);
    int loop = (int)rnd(0, nloops - 1);
    int64_t arg = op == KS_SPLIT ? rnd(2, s->sched.loops[loop].extent < 17 ? s->sched.loops[loop].extent + 1 : 17)
                  : op == KS_MOVE ? rnd(0, nloops - 1)
                  : op == KS_PREFETCH ? rnd(1, 4) : 0;
    if (op == KS_VECTOR) loop = nloops - 1;
    kiln_recipe_add(&r, op, loop, arg);
    kiln_error err = {0};
    if (kiln_schedule_apply(s, &r, &err)) {
      r.nsteps--;
      rejected++;
    } else {
      kept++;
    }
  }
}

/* Runs k under its default nest, the default scheduler's schedule, GPU schedules (blocks
 * and threads, run by both backends: the GPU scheduler's where gpu_sched, and each stage's
 * first axis split by 3 into blocks and threads) and `trials` random recipes. */
static void compare_schedules(kiln_kernel *k, bool gpu_sched, int trials, const char *what) {
  char name[96];
  snprintf(name, sizeof name, "%s (default nest)", what);
  compare_runs(k, VALS, NVALS, name);
  kiln_steps steps = {0};
  kiln_steps_add(&steps, KILN_STEP_KERNEL)->kernel = k;
  kiln_error err = {0};
  CHECK(kiln_pass_schedule(&steps, 8, &err) == KILN_OK);
  if (err.code) fprintf(stderr, "%s: %s\n", what, err.message);
  free(steps.steps);
  snprintf(name, sizeof name, "%s (default schedule)", what);
  if (getenv("DYN_DEBUG")) kiln_kernel_print(k, stderr);
  compare_runs(k, VALS, NVALS, name);
  if (gpu_sched) {
    steps = (kiln_steps){0};
    kiln_steps_add(&steps, KILN_STEP_KERNEL)->kernel = k;
    CHECK(kiln_pass_schedule_gpu(&steps, &err) == KILN_OK);
    if (err.code) fprintf(stderr, "%s: %s\n", what, err.message);
    free(steps.steps);
    snprintf(name, sizeof name, "%s (GPU schedule)", what);
    if (getenv("DYN_DEBUG")) kiln_kernel_print(k, stderr);
    compare_runs(k, VALS, NVALS, name);
  }
  kiln_recipe gpu = {0};
  CHECK(kiln_recipe_parse("split(0,3) block(0) thread(1)", &gpu, &err) == KILN_OK);
  for (int i = 0; i < k->nstages; i++) CHECK(kiln_schedule_apply(&k->stages[i], &gpu, &err) == KILN_OK);
  snprintf(name, sizeof name, "%s (blocks of 3 threads)", what);
  compare_runs(k, VALS, NVALS, name);
  for (int t = 0; t < trials; t++) {
    for (int i = 0; i < k->nstages; i++) {
      kiln_schedule_default(&k->stages[i]);
      k->stages[i].recipe.nsteps = 0;
      randomize_stage(&k->stages[i]);
    }
    snprintf(name, sizeof name, "%s (recipe trial %d)", what, t);
    compare_runs(k, VALS, NVALS, name);
  }
}

static kiln_expr *ix(kiln_kernel *k, int a) { return kx_var(k, a); }

/* y[n, j] = x[n, j]^2 + (n - j) and an i32 z[n, j] = 3 xi[n, j] + n * j over [N, 37] */
static kiln_kernel *elementwise(void) {
  kiln_kernel *k = kiln_kernel_new("elementwise");
  int n = kiln_kernel_sym(k, "N", 48);
  int64_t dims[2] = {1, 37};
  int x = kiln_kernel_add_buffer(k, "x", KILN_BUF_INPUT, -1, KILN_F32, 2, dims);
  int xi = kiln_kernel_add_buffer(k, "xi", KILN_BUF_INPUT, -1, KILN_I32, 2, dims);
  int y = kiln_kernel_add_buffer(k, "y", KILN_BUF_OUTPUT, -1, KILN_F32, 2, dims);
  int z = kiln_kernel_add_buffer(k, "z", KILN_BUF_OUTPUT, -1, KILN_I32, 2, dims);
  for (int b = x; b <= z; b++) kiln_buffer_dyn_dim(k, b, 0, kx_dim(k, n));
  kiln_stage *s = kiln_kernel_add_stage(k, "y", y);
  kiln_stage_axis_dyn(k, s, kx_dim(k, n), false);
  kiln_stage_axis(s, 37, false);
  kiln_expr *idx[2] = {ix(k, 0), ix(k, 1)};
  kiln_expr *v = kx_load(k, x, idx);
  kiln_expr *d = kx_cast(k, kx_binary(k, KB_SUB, ix(k, 0), ix(k, 1)), KILN_F32);
  kiln_stage_store(k, s, idx, kx_binary(k, KB_ADD, kx_binary(k, KB_MUL, v, v), d));
  s = kiln_kernel_add_stage(k, "z", z);
  kiln_stage_axis_dyn(k, s, kx_dim(k, n), false);
  kiln_stage_axis(s, 37, false);
  kiln_expr *three = kx_const_i(k, KILN_I32, 3);
  kiln_expr *nj = kx_cast(k, kx_mul(k, ix(k, 0), ix(k, 1)), KILN_I32);
  kiln_stage_store(k, s, idx, kx_binary(k, KB_ADD, kx_binary(k, KB_MUL, kx_load(k, xi, idx), three), nj));
  return k;
}

/* over x [M, L] (both symbolic): sum[m] = sum_l x[m, l], mx[m] = max_l x[m, l] (i32) * 2 */
static kiln_kernel *row_reduce(void) {
  kiln_kernel *k = kiln_kernel_new("rows");
  int m = kiln_kernel_sym(k, "M", 32), l = kiln_kernel_sym(k, "L", 40);
  int64_t dims[2] = {1, 1};
  int x = kiln_kernel_add_buffer(k, "x", KILN_BUF_INPUT, -1, KILN_F32, 2, dims);
  int xi = kiln_kernel_add_buffer(k, "xi", KILN_BUF_INPUT, -1, KILN_I32, 2, dims);
  int sum = kiln_kernel_add_buffer(k, "sum", KILN_BUF_OUTPUT, -1, KILN_F32, 1, dims);
  int mx = kiln_kernel_add_buffer(k, "mx", KILN_BUF_OUTPUT, -1, KILN_I32, 1, dims);
  for (int b = x; b <= mx; b++) kiln_buffer_dyn_dim(k, b, 0, kx_dim(k, m));
  kiln_buffer_dyn_dim(k, x, 1, kx_dim(k, l));
  kiln_buffer_dyn_dim(k, xi, 1, kx_dim(k, l));
  kiln_expr *idx[2] = {ix(k, 0), ix(k, 1)};
  kiln_stage *s = kiln_kernel_add_stage(k, "sum", sum);
  kiln_stage_axis_dyn(k, s, kx_dim(k, m), false);
  kiln_stage_axis_dyn(k, s, kx_dim(k, l), true);
  s->reduce = KR_SUM;
  kiln_stage_store(k, s, idx, kx_load(k, x, idx));
  s = kiln_kernel_add_stage(k, "max", mx);
  kiln_stage_axis_dyn(k, s, kx_dim(k, m), false);
  kiln_stage_axis_dyn(k, s, kx_dim(k, l), true);
  s->reduce = KR_MAX;
  s->post = kx_binary(k, KB_MUL, kx_acc(k, KILN_I32), kx_const_i(k, KILN_I32, 2));
  kiln_stage_store(k, s, idx, kx_load(k, xi, idx));
  return k;
}

/* y[n, j] = x[n, j] + b[j] + c[n, 0] over [N, 16]: b broadcast along N, c along j */
static kiln_kernel *broadcast(void) {
  kiln_kernel *k = kiln_kernel_new("bcast");
  int n = kiln_kernel_sym(k, "N", 24);
  int64_t d2[2] = {1, 16}, d1[1] = {16}, dc[2] = {1, 1};
  int x = kiln_kernel_add_buffer(k, "x", KILN_BUF_INPUT, -1, KILN_F32, 2, d2);
  int b = kiln_kernel_add_buffer(k, "b", KILN_BUF_INPUT, -1, KILN_F32, 1, d1);
  int c = kiln_kernel_add_buffer(k, "c", KILN_BUF_INPUT, -1, KILN_F32, 2, dc);
  int y = kiln_kernel_add_buffer(k, "y", KILN_BUF_OUTPUT, -1, KILN_F32, 2, d2);
  kiln_buffer_dyn_dim(k, x, 0, kx_dim(k, n));
  kiln_buffer_dyn_dim(k, c, 0, kx_dim(k, n));
  kiln_buffer_dyn_dim(k, y, 0, kx_dim(k, n));
  kiln_stage *s = kiln_kernel_add_stage(k, "add", y);
  kiln_stage_axis_dyn(k, s, kx_dim(k, n), false);
  kiln_stage_axis(s, 16, false);
  kiln_expr *idx[2] = {ix(k, 0), ix(k, 1)}, *bi[1] = {ix(k, 1)}, *ci[2] = {ix(k, 0), kx_idx(k, 0)};
  kiln_expr *v = kx_binary(k, KB_ADD, kx_load(k, x, idx), kx_load(k, b, bi));
  kiln_stage_store(k, s, idx, kx_binary(k, KB_ADD, v, kx_load(k, c, ci)));
  return k;
}

/* C[m, n] = sum_k A[m, k] B[k, n], [M, K] x [K, 40] with M symbolic (sym_k false: K = 24)
 * or K symbolic (sym_k: M = 20) */
static kiln_kernel *matmul(bool sym_k) {
  kiln_kernel *k = kiln_kernel_new(sym_k ? "matmul_k" : "matmul_m");
  int s0 = kiln_kernel_sym(k, sym_k ? "K" : "M", 32);
  int64_t da[2] = {20, 24}, db[2] = {24, 40}, dc[2] = {20, 40};
  int a = kiln_kernel_add_buffer(k, "A", KILN_BUF_INPUT, -1, KILN_F32, 2, da);
  int b = kiln_kernel_add_buffer(k, "B", KILN_BUF_INPUT, -1, KILN_F32, 2, db);
  int c = kiln_kernel_add_buffer(k, "C", KILN_BUF_OUTPUT, -1, KILN_F32, 2, dc);
  if (sym_k) {
    kiln_buffer_dyn_dim(k, a, 1, kx_dim(k, s0));
    kiln_buffer_dyn_dim(k, b, 0, kx_dim(k, s0));
  } else {
    kiln_buffer_dyn_dim(k, a, 0, kx_dim(k, s0));
    kiln_buffer_dyn_dim(k, c, 0, kx_dim(k, s0));
  }
  kiln_stage *s = kiln_kernel_add_stage(k, "gemm", c);
  if (sym_k) kiln_stage_axis(s, 20, false);
  else kiln_stage_axis_dyn(k, s, kx_dim(k, s0), false);
  kiln_stage_axis(s, 40, false);
  if (sym_k) kiln_stage_axis_dyn(k, s, kx_dim(k, s0), true);
  else kiln_stage_axis(s, 24, true);
  s->reduce = KR_SUM;
  kiln_expr *ai[2] = {ix(k, 0), ix(k, 2)}, *bi[2] = {ix(k, 2), ix(k, 1)}, *ci[2] = {ix(k, 0), ix(k, 1)};
  kiln_stage_store(k, s, ci, kx_binary(k, KB_MUL, kx_load(k, a, ai), kx_load(k, b, bi)));
  return k;
}

/* A fixed schedule of the [N, 37] kernel: N split by 5 (parallel outer, run-time trip),
 * 37 split by 8 and vectorized. */
static void fixed_schedules(void) {
  kiln_kernel *k = elementwise();
  kiln_recipe r = {0};
  kiln_error err = {0};
  CHECK(kiln_recipe_parse("split(0,5) split(2,8) parallel(0) vector(3)", &r, &err) == KILN_OK);
  for (int i = 0; i < k->nstages; i++) CHECK(kiln_schedule_apply(&k->stages[i], &r, &err) == KILN_OK);
  compare_runs(k, VALS, NVALS, "elementwise split/parallel/vector");
  kiln_kernel_free(k);
  /* a register tile on the symbolic M: M split by 4 unrolled, N by 8 vectorized, both
   * inside the reduction */
  k = matmul(false);
  CHECK(kiln_recipe_parse("split(0,4) split(2,8) move(4,2) move(1,2) parallel(0) unroll(3) vector(4)",
                          &r, &err) == KILN_OK);
  if (kiln_schedule_apply(&k->stages[0], &r, &err)) fprintf(stderr, "tile: %s\n", err.message);
  CHECK(err.code == KILN_OK);
  compare_runs(k, VALS, NVALS, "matmul register tile on a symbolic axis");
  kiln_kernel_free(k);
  /* the same tile with the reduction in blocks of 8 outside it (partial sums in C between
   * blocks): a last tile moved back to end at M must not add a block twice to the rows
   * the tile before it computed (M = 17, 61: not multiples of 4) */
  k = matmul(false);
  kiln_schedule t = {.nloops = 6,
                     .loops = {{2, 8, 3, KILN_LOOP_SERIAL},
                               {0, 4, 8, KILN_LOOP_SERIAL},
                               {1, 8, 5, KILN_LOOP_SERIAL},
                               {2, 1, 8, KILN_LOOP_SERIAL},
                               {0, 1, 4, KILN_LOOP_UNROLL},
                               {1, 1, 8, KILN_LOOP_VECTOR}}};
  CHECK(kiln_recipe_for(&k->stages[0], &t, &r));
  CHECK(kiln_schedule_apply(&k->stages[0], &r, &err) == KILN_OK);
  compare_runs(k, VALS, NVALS, "matmul register tile on a symbolic axis, partial sums");
  kiln_kernel_free(k);
}

/* The legality check: no vector, unrolled or thread loop over a run-time extent. */
static void legality(void) {
  kiln_kernel *k = elementwise();
  kiln_stage *s = &k->stages[0];
  static const char *const bad[] = {"move(0,1) vector(1)", "unroll(0)", "move(0,1) block(0) thread(1)",
                                    "move(0,1) split(1,4) move(1,2) vector(2)"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    kiln_recipe r = {0};
    kiln_error err = {0};
    CHECK(kiln_recipe_parse(bad[i], &r, &err) == KILN_OK);
    kiln_schedule before = s->sched;
    CHECK(kiln_schedule_apply(s, &r, &err) == KILN_ERR_INVALID_ARGUMENT);
    CHECK(strstr(err.message, "run-time number of times") != NULL);
    CHECK(memcmp(&before, &s->sched, sizeof before) == 0);
  }
  /* the inner loop of a split symbolic axis has a constant extent: it may be unrolled */
  kiln_recipe r = {0};
  kiln_error err = {0};
  CHECK(kiln_recipe_parse("split(0,4) unroll(1)", &r, &err) == KILN_OK);
  CHECK(kiln_schedule_apply(s, &r, &err) == KILN_OK);
  CHECK(kiln_loop_is_dyn(s, &s->sched, 0) && !kiln_loop_is_dyn(s, &s->sched, 1));
  /* a symbolic axis needs a loop, however small its hint */
  s->axes[0].extent = 1;
  kiln_schedule_default(s);
  s->sched.nloops = 1;
  s->sched.loops[0] = (kiln_loop){1, 1, 37, KILN_LOOP_SERIAL};
  CHECK(kiln_schedule_check(s, &err) != KILN_OK && strstr(err.message, "run-time extent"));
  kiln_kernel_free(k);
}

/* Printer, signature, GPU backend, runner and interpreter on bad dims. */
static void tools_and_errors(void) {
  kiln_kernel *k = elementwise();
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  kiln_kernel_print(k, f);
  fclose(f);
  CHECK(text && strstr(text, "syms N(48) in dims") && strstr(text, "a0:N(48)") &&
        strstr(text, "x : f32[N(48),37]") && strstr(text, "loops a0:48[N] a1:37"));
  if (text && !strstr(text, "syms N(48)")) fputs(text, stderr);
  free(text);

  kiln_kernel *st = elementwise();
  for (int i = 0; i < st->nstages; i++) st->stages[i].axes[0].dyn = NULL;
  size_t l1, l2;
  char *s1 = kiln_kernel_signature(k, &l1), *s2 = kiln_kernel_signature(st, &l2);
  CHECK(s1 && s2 && (l1 != l2 || memcmp(s1, s2, l1)));
  free(s1);
  free(s2);
  kiln_kernel_free(st);

  kiln_program *p = kiln_program_new();
  kiln_steps_add(&p->main, KILN_STEP_KERNEL)->kernel = k;
  p->inputs = calloc((size_t)k->nbufs, sizeof(kiln_io)); /* where the host entry finds them */
  p->outputs = calloc((size_t)k->nbufs, sizeof(kiln_io));
  for (int b = 0; b < k->nbufs; b++)
    k->bufs[b].storage = k->bufs[b].role == KILN_BUF_INPUT
                             ? (kiln_storage){KILN_STORE_INPUT, p->ninputs++, 0}
                             : (kiln_storage){KILN_STORE_OUTPUT, p->noutputs++, 0};
  kiln_error err = {0};
  f = open_memstream(&text, &len); /* the GPU backend reads the dims in each stage function */
  CHECK(kiln_cuda_emit_program(p, f, &err) == KILN_OK);
  fclose(f);
  if (err.code) fprintf(stderr, "cuda: %s\n", err.message);
  CHECK(text && strstr(text, "const int64_t kiln_d0 = b0[0]; /* N */") &&
        strstr(text, "const int64_t kiln_e0 = kiln_d0;") && strstr(text, "const int64_t kiln_n1 = (int64_t)37 * kiln_d0;"));
  free(text);

  kiln_kernel_runner *r = NULL;
  int64_t max[1] = {10}, more[1] = {11}, neg[1] = {-1};
  memset(&err, 0, sizeof err);
  CHECK(kiln_kernel_runner_new_dims(p, k, NULL, 1, max, &r, &err) == KILN_OK);
  CHECK(r && kiln_kernel_runner_set_dims(r, more, &err) == KILN_ERR_INVALID_ARGUMENT &&
        strstr(err.message, "buffer 'x'"));
  memset(&err, 0, sizeof err);
  CHECK(r && kiln_kernel_runner_set_dims(r, neg, &err) == KILN_ERR_INVALID_ARGUMENT &&
        strstr(err.message, "'N'"));
  if (r) {
    void *bufs[KILN_MAX_BUFS] = {0};
    for (int b = 0; b < k->nbufs; b++) bufs[b] = kiln_kernel_runner_buffer(r, b);
    *(int64_t *)bufs[k->dims_buf] = -3;
    memset(&err, 0, sizeof err);
    CHECK(kiln_interp_run(k, bufs, &err) == KILN_ERR_INVALID_ARGUMENT && strstr(err.message, "'N'"));
    bufs[k->dims_buf] = NULL;
    memset(&err, 0, sizeof err);
    CHECK(kiln_interp_run(k, bufs, &err) == KILN_ERR_INVALID_ARGUMENT);
  }
  kiln_kernel_runner_free(r);
  kiln_program_free(p); /* frees k */
}

/* check_bounds code tests an address against its buffer's size at the run's dims: y[n, j]
 * = x[n + 1, j] over [N, 4] reads past x's last row, inside the memory allocated for 64
 * rows, and must fail naming x at any N. */
static void checked(void) {
  kiln_kernel *k = kiln_kernel_new("shift");
  int n = kiln_kernel_sym(k, "N", 48);
  int64_t dims[2] = {1, 4};
  int x = kiln_kernel_add_buffer(k, "x", KILN_BUF_INPUT, -1, KILN_F32, 2, dims);
  int y = kiln_kernel_add_buffer(k, "y", KILN_BUF_OUTPUT, -1, KILN_F32, 2, dims);
  kiln_buffer_dyn_dim(k, x, 0, kx_dim(k, n));
  kiln_buffer_dyn_dim(k, y, 0, kx_dim(k, n));
  kiln_stage *s = kiln_kernel_add_stage(k, "shift", y);
  kiln_stage_axis_dyn(k, s, kx_dim(k, n), false);
  kiln_stage_axis(s, 4, false);
  kiln_expr *idx[2] = {ix(k, 0), ix(k, 1)}, *next[2] = {kx_addi(k, ix(k, 0), 1), ix(k, 1)};
  kiln_stage_store(k, s, idx, kx_load(k, x, next));
  kiln_program *p = kiln_program_new();
  kiln_steps_add(&p->main, KILN_STEP_KERNEL)->kernel = k;
  kiln_check_instrument(p, true);
  kiln_kernel_runner *r = NULL;
  kiln_error err = {0};
  int64_t max[1] = {MAXD};
  CHECK(kiln_kernel_runner_new_dims(p, k, NULL, 3, max, &r, &err) == KILN_OK);
  static const int64_t at[] = {1, 3, 61};
  for (int i = 0; r && i < 3; i++) {
    memset(&err, 0, sizeof err);
    CHECK(kiln_kernel_runner_set_dims(r, &at[i], &err) == KILN_OK);
    CHECK(kiln_kernel_runner_run(r, &err) == KILN_ERR_INTERNAL && strstr(err.message, "'x'"));
  }
  kiln_kernel_runner_free(r);
  kiln_program_free(p);
}

int main(void) {
  checked();
  legality();
  tools_and_errors();
  fixed_schedules();
  kiln_kernel *k = elementwise();
  compare_schedules(k, true, 6, "elementwise [N, 37]");
  kiln_kernel_free(k);
  k = row_reduce();
  /* the GPU scheduler binds all of M to threads, which a run-time M cannot be */
  compare_schedules(k, false, 6, "row reductions [M, L]");
  kiln_kernel_free(k);
  k = broadcast();
  compare_schedules(k, true, 4, "broadcast add [N, 16]");
  kiln_kernel_free(k);
  k = matmul(false);
  compare_schedules(k, true, 8, "matmul, symbolic M");
  kiln_kernel_free(k);
  k = matmul(true);
  compare_schedules(k, true, 8, "matmul, symbolic K");
  kiln_kernel_free(k);
  printf("%d runs compared, %d recipe steps kept, %d refused\n", runs, kept, rejected);
  CHECK(runs > 100 && kept > 50 && rejected > 0);
  return check_report();
}
