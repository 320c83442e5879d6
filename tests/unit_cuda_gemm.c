/* GPU GEMM schedules (issue 9): tiles of the operands staged in shared memory (the
 * share step, ir/staging.c), a register tile per thread, and the default schedule that
 * chooses them for MatMul, batched MatMul, Gemm and convolutions (implicit GEMM;
 * passes/schedule_gpu_gemm.c). Kernels run through the cuda-host backend (the CUDA C on the
 * CPU, each barrier between two phases of the block's threads) and must compute what the
 * interpreter computes from the same inputs; with libnvrtc, NVRTC compiles every source
 * for sm_90 too. Shapes have tails (1, 7, 33, 129: no multiple of a tile); random recipes
 * with share steps are run when legal and must fail with one message when not. */
#include "check.h"
#include "cuda_test.h"
#include "node_test.h"

#include "codegen/cuda_emit.h"
#include "codegen/nvrtc.h"
#include "frontend/dsl.h"
#include "ir/schedule.h"
#include "ir/staging.h"
#include "passes/passes.h"
#include "runtime/check.h"
#include "runtime/kernel_run.h"

#include <stdlib.h>
#include <string.h>

static bool have_nvrtc;

static kiln_program *compile_text(const char *text) {
  kiln_options opts = {.struct_size = sizeof opts, .target = "cuda-host"};
  kiln_program *p = cuda_test_compile(text, &opts);
  CHECK(p != NULL);
  return p;
}

static char *source(const kiln_program *p) {
  char *text = cuda_test_source(p);
  CHECK(text != NULL);
  return text;
}

static void nvrtc_compiles(const char *text) {
  if (have_nvrtc && text) CHECK(cuda_test_nvrtc(text));
}

/* Every kernel of a model through cuda-host against the interpreter, and its source
 * through NVRTC; the number of stages that stage tiles in shared memory. */
static int check_model(const char *text, int *checked) {
  kiln_program *p = compile_text(text);
  if (!p) return 0;
  const kiln_kernel *ks[64];
  int n = kiln_steps_kernels(&p->main, ks, 64), staged = 0;
  for (int i = 0; i < n && i < 64; i++) {
    int ok = cuda_test_kernel(p, (kiln_kernel *)ks[i], 7u + (uint32_t)i);
    if (!ok) fprintf(stderr, "in:\n%s", text);
    CHECK(ok);
    ++*checked;
    for (int j = 0; j < ks[i]->nstages; j++) staged += kiln_staging_loop(&ks[i]->stages[j].sched) >= 0;
  }
  char *src = source(p);
  CHECK(src && (!staged || (strstr(src, "KILN_SYNC;") && strstr(src, "KILN_SHARED "))));
  nvrtc_compiles(src);
  free(src);
  kiln_program_free(p);
  return staged;
}

/* ---- default schedules ------------------------------------------------------------------ */

static void default_schedules(void) {
  static const long long sizes[] = {1, 7, 33, 129};
  char text[1024];
  int checked = 0, staged = 0, models = 0;
  for (int a = 0; a < 4; a++)
    for (int b = 0; b < 4; b++)
      for (int c = 0; c < 4; c++) {
        long long M = sizes[a], N = sizes[b], K = sizes[c];
        snprintf(text, sizeof text, "model m(x: f32[%lld, %lld]) {\n  param w: f32[%lld, %lld] = he\n"
                 "  return y = MatMul(x, w)\n}\n", M, K, K, N);
        int st = check_model(text, &checked);
        staged += st;
        models++;
        /* every GEMM with enough threads (not a matrix times a vector) is staged */
        if (M >= 7 && N >= 7 && K > 1) CHECK(st == 1);
      }
  /* epilogues, Gemm's transposes and C, batches, other types */
  static const long long shapes[][3] = {{7, 33, 129}, {129, 129, 33}, {33, 7, 7}, {64, 64, 64}};
  for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) {
    long long M = shapes[i][0], N = shapes[i][1], K = shapes[i][2];
    snprintf(text, sizeof text, "model m(x: f32[%lld, %lld]) {\n  param w: f32[%lld, %lld] = he\n"
             "  param b: f32[%lld] = normal(0, 1)\n  return y = Relu(MatMul(x, w) + b)\n}\n",
             M, K, K, N, N);
    staged += check_model(text, &checked);
    snprintf(text, sizeof text, "model m(a: f32[%lld, %lld], w: f32[%lld, %lld], c: f32[%lld]) {\n"
             "  return y = Gemm(a, w, c, transA=1, transB=1, alpha=0.5, beta=2.0)\n}\n",
             K, M, N, K, N);
    staged += check_model(text, &checked);
    snprintf(text, sizeof text, "model m(a: f32[%lld, %lld], w: f32[%lld, %lld], c: f32[%lld, %lld]) {\n"
             "  return y = Clip(Gemm(a, w, c), 0.0, 0.5)\n}\n", M, K, K, N, M, N);
    staged += check_model(text, &checked);
    snprintf(text, sizeof text, "model m(x: f32[3, %lld, %lld], w: f32[3, %lld, %lld]) {\n"
             "  return y = MatMul(x, w)\n}\n", M, K, K, N);
    staged += check_model(text, &checked);
    snprintf(text, sizeof text, "model m(x: f32[3, 2, %lld, %lld]) {\n  param w: f32[%lld, %lld] = he\n"
             "  return y = Sigmoid(MatMul(x, w))\n}\n", M, K, K, N);
    staged += check_model(text, &checked);
    snprintf(text, sizeof text, "model m(x: f64[%lld, %lld], w: f64[%lld, %lld]) {\n"
             "  return y = MatMul(x, w)\n}\n", M, K, K, N);
    staged += check_model(text, &checked);
    snprintf(text, sizeof text, "model m(x: f16[%lld, %lld], w: f16[%lld, %lld]) {\n"
             "  return y = MatMul(x, w)\n}\n", M, K, K, N);
    staged += check_model(text, &checked);
    models += 7;
  }
  /* convolutions as implicit GEMM: the im2col indices computed in the copies */
  static const char *const convs[] = {
      "model m(x: f32[2, 8, 12, 12]) {\n  param w: f32[16, 8, 3, 3] = he\n"
      "  param b: f32[16] = normal(0, 1)\n  return y = Relu(Conv(x, w, b, pads=[1,1,1,1]))\n}\n",
      "model m(x: f32[1, 3, 17, 17]) {\n  param w: f32[33, 3, 3, 3] = he\n"
      "  return y = Conv(x, w, strides=[2,2])\n}\n",
      "model m(x: f32[1, 20, 9, 9]) {\n  param w: f32[24, 20, 1, 1] = he\n"
      "  return y = Conv(x, w)\n}\n",
      /* rows of 38 (4-D, not flattened): a thread's 4 columns lie 10 threads apart (its
       * reads of the input's tile start at every tap's offset: no vectors), one channel
       * and its 9 taps a slice */
      "model m(x: f32[8, 8, 67, 38]) {\n  param w: f32[64, 8, 3, 3] = he\n"
      "  return y = Conv(x, w, pads=[1,1,1,1])\n}\n",
      /* rows of 15: a thread's points span 4 rows (a tail) as well as 8 x 4 channels */
      "model m(x: f32[32, 16, 30, 30]) {\n  param w: f32[64, 16, 1, 1] = he\n"
      "  return y = Conv(x, w, strides=[2,2])\n}\n",
  };
  /* h placed in Concat's output (rows of 36 floats, 60 apart), read by a staged MatMul */
  CHECK(check_model("model m(x: f32[33, 40], z: f32[33, 24]) {\n  param w: f32[40, 36] = he\n"
                    "  param v: f32[36, 20] = he\n  param u: f32[60, 8] = he\n  h = MatMul(x, w)\n"
                    "  c = Concat(z, h, axis=1)\n  return o = MatMul(c, u), y = MatMul(h, v)\n}\n",
                    &checked) == 3);
  /* a grid large enough for whole 8 x 8 register tiles: four tile loops a thread (runs of
   * 4 points below the threads and 2 above, along both axes) */
  CHECK(check_model("model m(x: f32[2112, 16]) {\n  param w: f32[16, 2048] = he\n"
                    "  return y = MatMul(x, w)\n}\n", &checked) == 1);
  int conv_staged = 0;
  for (size_t i = 0; i < sizeof convs / sizeof *convs; i++) conv_staged += check_model(convs[i], &checked);
  /* the last two convolutions' loops, as their comments say */
  size_t nconv = sizeof convs / sizeof *convs;
  static const struct { size_t from_end; const char *a, *b; } conv_loops[] = {
      {2, "a1*4:8(thread) a3:10(thread) a4:8[share b3,b1] a5:3(unroll) a6:3(unroll)",
       "a1*32:2(unroll) a1:4(unroll) a3*10:4(unroll)"},
      /* its padded copy's threads walk the rows (written at columns + 1): coalesced */
      {2, "a2:6(thread) a3:38(thread)", "a2:6(thread) a3:38(thread)"},
      {1, "a2*4:4(block) a1*4:8(thread) a3:15(thread)", "a1:4(unroll) a2:4(unroll)"},
  };
  for (size_t i = 0; i < sizeof conv_loops / sizeof *conv_loops; i++) {
    kiln_program *p = compile_text(convs[nconv - conv_loops[i].from_end]);
    const kiln_kernel *k = NULL;
    if (p) kiln_steps_kernels(&p->main, &k, 1);
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    for (int j = 0; k && j < k->nstages; j++) kiln_schedule_print(&k->stages[j].sched, mem);
    fclose(mem);
    bool found = text && strstr(text, conv_loops[i].a) && strstr(text, conv_loops[i].b);
    CHECK(found);
    if (!found && text) fprintf(stderr, "%s", text);
    free(text);
    kiln_program_free(p);
  }
  printf("%d models, %d kernels checked, %d GEMM stages staged, %d convolutions\n", models,
         checked, staged, conv_staged);
  CHECK(staged >= 60 && conv_staged >= 4);
}

/* ---- random recipes ------------------------------------------------------------------ */

static void add(kiln_schedule *t, int axis, int64_t stride, int64_t extent, kiln_loop_kind kind) {
  t->loops[t->nloops++] = (kiln_loop){axis, stride, extent, kind};
}

static int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

static uint32_t rnd(uint32_t *state) { /* xorshift32 */
  *state ^= *state << 13;
  *state ^= *state >> 17;
  *state ^= *state << 5;
  return *state;
}

/* Axis a of extent e as a run of v points, threads (t), a tile (r) and blocks; pieces of
 * one iteration are left out, the outermost piece covers the rest. */
static void axis_pieces(int a, int64_t e, int64_t v, int64_t t, int64_t r, kiln_loop *thr, int *nt,
                        kiln_loop *tile, int *ntile, kiln_loop *blk, int *nb) {
  int64_t stride = 1;
  if (v > 1 && e > 1) {
    stride = v < e ? v : e;
    tile[(*ntile)++] = (kiln_loop){a, 1, stride, KILN_LOOP_UNROLL};
  }
  if (t > 1 && e > stride) {
    int64_t x = t < cdiv(e, stride) ? t : cdiv(e, stride);
    thr[(*nt)++] = (kiln_loop){a, stride, x, KILN_LOOP_THREAD};
    stride *= x;
  }
  if (r > 1 && e > stride) {
    int64_t x = r < cdiv(e, stride) ? r : cdiv(e, stride);
    tile[(*ntile)++] = (kiln_loop){a, stride, x, KILN_LOOP_UNROLL};
    stride *= x;
  }
  if (e > stride || stride == 1) blk[(*nb)++] = (kiln_loop){a, stride, cdiv(e, stride), KILN_LOOP_BLOCK};
}

static void random_recipes(void) {
  kiln_program *p = compile_text("model m(x: f32[2, 33, 19]) {\n  param w: f32[19, 20] = he\n"
                                 "  param b: f32[20] = normal(0, 1)\n"
                                 "  return y = MatMul(x, w) + b\n}\n");
  if (!p) return;
  kiln_kernel *k = NULL;
  kiln_steps_kernels(&p->main, (const kiln_kernel **)&k, 1);
  kiln_stage *s = k ? &k->stages[0] : NULL;
  CHECK(s && s->naxes == 4 && s->axes[3].reduce && s->value->kind == KX_BINARY);
  if (!s || s->value->kind != KX_BINARY) {
    kiln_program_free(p);
    return;
  }
  int A = s->value->a->buf, B = s->value->b->buf; /* x[b, i, k] * w[k, j] */
  uint32_t rng = 2024;
  int legal = 0, refused = 0;
  static const int64_t threads[] = {1, 2, 4, 8, 16, 32}, points[] = {1, 2, 3, 4}, slices[] = {1, 2, 3, 8, 19},
                       runs[] = {1, 1, 2, 4};
  for (int trial = 0; trial < 64; trial++) {
    kiln_loop thr[4], tile[4], blk[6];
    int nt = 0, ntile = 0, nb = 0;
    blk[nb++] = (kiln_loop){0, 1, 2, KILN_LOOP_BLOCK};
    axis_pieces(1, 33, runs[rnd(&rng) % 4], threads[rnd(&rng) % 6], points[rnd(&rng) % 4], thr, &nt,
                tile, &ntile, blk, &nb);
    axis_pieces(2, 20, runs[rnd(&rng) % 4], threads[rnd(&rng) % 6], points[rnd(&rng) % 4], thr, &nt,
                tile, &ntile, blk, &nb);
    int64_t slice = slices[rnd(&rng) % 5];
    kiln_schedule t = {0};
    for (int i = 0; i < nb; i++) t.loops[t.nloops++] = blk[i];
    for (int i = 0; i < nt; i++) t.loops[t.nloops++] = thr[i];
    int at = t.nloops;
    /* inside the staging loop: the rest of the slice and the tile, in a random order; now
     * and then the slice's loop outside it instead (a tile of one column then) */
    kiln_loop inner[5];
    int ni = 0;
    if (slice > 1 && rnd(&rng) % 4 == 0) {
      add(&t, 3, 1, slice, KILN_LOOP_SERIAL);
      add(&t, 3, slice, cdiv(19, slice), KILN_LOOP_SERIAL);
      at++;
    } else if (slice > 1) {
      add(&t, 3, slice, cdiv(19, slice), KILN_LOOP_SERIAL);
      inner[ni++] = (kiln_loop){3, 1, slice, rnd(&rng) % 2 ? KILN_LOOP_UNROLL : KILN_LOOP_SERIAL};
    } else {
      add(&t, 3, 1, 19, KILN_LOOP_SERIAL);
    }
    for (int i = 0; i < ntile; i++) inner[ni++] = tile[i];
    for (int i = ni - 1; i > 0; i--) {
      int j = (int)(rnd(&rng) % (uint32_t)(i + 1));
      kiln_loop x = inner[i];
      inner[i] = inner[j];
      inner[j] = x;
    }
    for (int i = 0; i < ni; i++) t.loops[t.nloops++] = inner[i];
    uint32_t which = rnd(&rng) % 3;
    if (which != 1) t.share[t.nshare++] = A;
    if (which != 0) t.share[t.nshare++] = B;
    /* now and then at a place the check refuses: a thread loop, a tile loop */
    uint32_t place = rnd(&rng) % 6;
    t.share_loop = place == 0 && nt ? nb : place == 1 && ni > 1 ? at + 1 : at;
    kiln_recipe r;
    kiln_error err = {0};
    if (!kiln_recipe_for(s, &t, &r)) { /* refused by the check inside: apply says why */
      refused++;
      continue;
    }
    if (kiln_schedule_apply(s, &r, &err)) {
      CHECK(strstr(err.message, "cannot stage") || strstr(err.message, "thread loops over"));
      refused++;
      continue;
    }
    legal++;
    CHECK(kiln_staging_loop(&s->sched) == t.share_loop);
    int ok = cuda_test_kernel(p, k, (uint32_t)trial);
    if (!ok) {
      fprintf(stderr, "recipe: ");
      kiln_recipe_print(&r, stderr);
      fputc('\n', stderr);
    }
    CHECK(ok);
    if (legal % 4 == 0) {
      char *src = source(p);
      nvrtc_compiles(src);
      free(src);
    }
  }
  printf("random recipes: %d legal and run, %d refused\n", legal, refused);
  CHECK(legal >= 20 && refused >= 3);
  kiln_program_free(p);
}

/* ---- legality and the recipe's text --------------------------------------------------- */

static void legality(void) {
  kiln_program *p = compile_text("model m(x: f32[64, 4096]) {\n  param w: f32[4096, 64] = he\n"
                                 "  return y = MatMul(x, w)\n}\n");
  kiln_kernel *k = NULL;
  if (p) kiln_steps_kernels(&p->main, (const kiln_kernel **)&k, 1);
  kiln_stage *s = k ? &k->stages[0] : NULL;
  CHECK(s && kiln_staging_loop(&s->sched) >= 0);
  if (!s) {
    kiln_program_free(p);
    return;
  }
  /* the default recipe prints and parses back to itself, shares included */
  char *text = kiln_recipe_text(&s->recipe);
  kiln_recipe r;
  kiln_error err = {0};
  CHECK(text && strstr(text, " share(") && kiln_recipe_parse(text, &r, &err) == KILN_OK);
  CHECK(r.nsteps == s->recipe.nsteps && !memcmp(r.steps, s->recipe.steps, sizeof r.steps[0] * (size_t)r.nsteps));
  free(text);
  size_t len = 0;
  FILE *mem = open_memstream(&text, &len);
  kiln_schedule_print(&s->sched, mem);
  fclose(mem);
  CHECK(text && strstr(text, "[share b0,b1]"));
  free(text);
  /* rows of 8 and 64 floats: copied 4 at a time (float4) where the buffers are aligned,
   * through the prefetch registers (software pipelined: the next slices load while this
   * one computes) */
  text = source(p);
  CHECK(text && strstr(text, "KILN_COPY16((KILN_P(kiln_pf0) + kiln_j * 4), b0 + ") &&
        strstr(text, "KILN_COPY16((KILN_P(kiln_pf1) + kiln_j * 4), b1 + "));
  /* x[m, k]'s tile is stored k-major (the prefetch registers' stores scatter), so
   * that a thread reads its run of 4 points along m as one vector; w[k, n]'s as it is */
  CHECK(text && strstr(text, "kiln_sh0[kiln_s + 0] = KILN_P(kiln_pf0)[kiln_j * 4 + 0];") &&
        strstr(text, "KILN_COPY16((kiln_sh1 + kiln_e), KILN_P(kiln_pf1) + kiln_j * 4);"));
  /* both tiles lie inside their buffers (no tails in this shape): copies check nothing */
  CHECK(text && !strstr(text, "kiln_g0 >= 0"));
  /* 8 x 16 threads of 8 x 4 points (M is 64), asked for four blocks an SM: at most 128
   * registers a thread */
  CHECK(text && strstr(text, "KILN_GLOBAL_OCC(128, 4)"));
  CHECK(text && strstr(text, "KILN_PRIVATE_A(float, kiln_pf0, "));
  CHECK(text && strstr(text, "#define KILN_COPY16(dst, src) (*(float4 *)(dst) = *(const float4 *)(src))"));
  free(text);
  /* loops: a0 a1 a2r (the default nest, then each recipe); "split(0,16) block(0) thread(1)
   * thread(2)" gives blocks of 16 rows, 16 x 64 threads, then the reduction a2 (loop 3) */
  static const struct { const char *recipe, *why; } bad[] = {
      /* no thread loop: nobody to copy */
      {"split(2,8) share(2,0)", "no thread loop"},
      /* the share on the spatial loop a1 */
      {"split(0,16) block(0) thread(1) share(2,0)", "is no serial reduction"},
      /* a thread loop stages */
      {"split(0,16) block(0) thread(1) thread(2) share(1,0)", "block or thread loop"},
      /* slices of 1024: 16 x 1024 floats */
      {"split(0,16) block(0) thread(1) thread(2) split(3,1024) share(3,0)", "take 65536 bytes"},
      /* two tiles of 16 x 512 and 512 x 64 floats */
      {"split(0,16) block(0) thread(1) thread(2) split(3,512) share(3,0) share(3,1)",
       "bytes of shared memory, more than 49152"},
      /* the output is no input */
      {"split(0,16) block(0) thread(1) thread(2) split(3,8) share(3,2)", "stages the stage's output"},
      /* stages at two loops */
      {"split(0,16) block(0) thread(1) thread(2) split(3,8) share(3,0) share(4,1)", "all at one loop"},
      /* a spatial serial loop inside: no register tile */
      {"split(0,16) block(0) thread(1) split(3,8) move(2,4) share(2,0)", "no unrolled or vector tile"},
  };
  for (size_t b = 0; b < sizeof bad / sizeof *bad; b++) {
    kiln_error e = {0};
    kiln_recipe saved = s->recipe;
    CHECK(kiln_recipe_parse(bad[b].recipe, &r, &e) == KILN_OK);
    CHECK(kiln_schedule_apply(s, &r, &e) == KILN_ERR_INVALID_ARGUMENT);
    if (!strstr(e.message, bad[b].why) || !strstr(e.message, "stage 'matmul'")) {
      fprintf(stderr, "%s: %s\n", bad[b].recipe, e.message);
      CHECK(0);
    }
    CHECK(!memcmp(&saved, &s->recipe, sizeof saved)); /* s is left as it was */
  }
  /* a split of the staging loop drops its shares; a move keeps them on it */
  CHECK(kiln_recipe_parse("split(0,16) block(0) thread(1) thread(2) split(3,8) share(3,0) move(4,3)",
                          &r, &err) == KILN_OK);
  CHECK(kiln_schedule_apply(s, &r, &err) == KILN_OK && kiln_staging_loop(&s->sched) == 4);
  CHECK(kiln_recipe_parse("split(0,16) block(0) thread(1) thread(2) split(3,8) share(3,0) split(3,2)",
                          &r, &err) == KILN_OK);
  CHECK(kiln_schedule_apply(s, &r, &err) == KILN_OK && kiln_staging_loop(&s->sched) < 0);
  kiln_program_free(p);
}

int main(void) {
  kiln_error err = {0};
  have_nvrtc = kiln_nvrtc_load(&err) == KILN_OK;
  printf("NVRTC %s\n", have_nvrtc ? "compiles the sources for sm_90" : "not loaded: not compiled");
  legality();
  random_recipes();
  default_schedules();
  return check_report();
}
